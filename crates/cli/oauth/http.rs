//! The one kind of HTTP request OAuth2 needs: a form POST (`application/x-www-form-urlencoded`) answered by a
//! JSON object, over rustls (ring) with the public web roots, via `ureq`.
//!
//! Owns the HTTP client settings (time limit, no redirects: a token endpoint never redirects, and a
//! redirect must not carry a refresh token elsewhere) and turning transport failures into `OAuthError::Http`.
//! Must never: log a form value (they hold device codes and refresh tokens; only the URL is logged), or
//! follow a redirect. RFC 6749 section 3.2 (token endpoint: POST, form-encoded, JSON answer).

use std::time::Duration;

use serde_json::Value;

use super::OAuthError;

/// The most an answer may be (Microsoft's token responses are a few KB).
const MAX_BODY: u64 = 1024 * 1024;

/// An HTTP client for OAuth2 endpoints.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    /// A client whose every request ends within `timeout`.
    pub fn new(timeout: Duration) -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .user_agent(concat!("mailsync/", env!("CARGO_PKG_VERSION")))
            .build();
        Http { agent: ureq::Agent::new_with_config(config) }
    }

    /// POSTs `form` to `url`; the HTTP status and the JSON object answered. A body that is not a JSON
    /// object is `OAuthError::Server` (an HTML error page, a proxy's answer...).
    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), OAuthError> {
        tracing::debug!(%url, fields = ?form.iter().map(|(k, _)| *k).collect::<Vec<_>>(), "oauth2 request");
        let mut response = self
            .agent
            .post(url)
            .header("Accept", "application/json")
            .send_form(form.iter().copied())
            .map_err(|e| OAuthError::Http { url: url.to_owned(), detail: e.to_string() })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| OAuthError::Http { url: url.to_owned(), detail: e.to_string() })?;
        tracing::debug!(%url, status, "oauth2 answer");
        match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => Ok((status, v)),
            _ => Err(OAuthError::Server {
                url: url.to_owned(),
                status,
                detail: format!("not a JSON object: {}", snippet(&text)),
            }),
        }
    }
}

/// The start of a body, on one line, for an error message.
fn snippet(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(120) {
        Some((cut, _)) => format!("{}...", one.get(..cut).unwrap_or_default()),
        None => one,
    }
}

/// A string field of a JSON answer.
pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A number field of a JSON answer, as Microsoft sends it (a number, or sometimes a numeric string).
pub fn u64_field(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_numbers_and_numeric_strings() {
        let v: Value = serde_json::from_str(r#"{"a":5,"b":"7","c":"x","d":-1,"s":"t"}"#).unwrap_or_default();
        assert_eq!(u64_field(&v, "a"), Some(5));
        assert_eq!(u64_field(&v, "b"), Some(7));
        assert_eq!(u64_field(&v, "c"), None);
        assert_eq!(u64_field(&v, "d"), None);
        assert_eq!(str_field(&v, "s"), Some("t"));
        assert_eq!(str_field(&v, "a"), None);
    }

    #[test]
    fn snippets_are_short_and_on_one_line() {
        assert_eq!(snippet("<html>\n <body>x</body>"), "<html> <body>x</body>");
        assert_eq!(snippet(&"y".repeat(500)).len(), 123);
    }

    #[test]
    fn an_unreachable_endpoint_is_a_network_error() {
        // A port on loopback that nothing listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let url = format!("http://127.0.0.1:{port}/t/oauth2/v2.0/token");
        let e = Http::new(Duration::from_secs(5)).post_form(&url, &[("a", "b")]);
        assert!(matches!(e, Err(OAuthError::Http { .. })), "{e:?}");
    }
}
