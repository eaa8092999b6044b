//! OAuth2 for mail accounts (Outlook first): the settings (`authority`, `tenant`, `scopes`), the device
//! authorization grant that `mailsync auth login` runs, the refresh of access tokens, and the token file that
//! keeps the refresh token between runs.
//!
//! Owns everything between the Microsoft identity platform and a ready access token. Must never: log or print
//! a token, a refresh token or a device code (they travel as `Secret`s and stay out of every message), send
//! anything to an authority over plain HTTP unless it is 127.0.0.1 (a local test endpoint), or ship a client
//! ID of its own (the user registers their application: OUTLOOK.md).
//!
//! RFC 8628 (device authorization grant), RFC 6749 sections 5.1-5.2 (token responses and errors) and 6
//! (refreshing an access token), as the Microsoft identity platform v2.0 endpoints implement them.

pub mod device;
mod error;
pub mod http;
pub mod refresh;
pub mod store;

pub use error::OAuthError;

/// The Microsoft identity platform.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The refresh-token scope (RFC 6749 section 6 needs it at Microsoft to return a refresh token).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// What `mailsync auth login` asks for unless `scopes` says otherwise: IMAP, POP and SMTP access to the
/// mailbox (OUTLOOK.md "Authentication"), and a refresh token.
pub const DEFAULT_SCOPES: [&str; 4] = [
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    OFFLINE_ACCESS,
];

/// The scopes of an account: the configured list (with `offline_access` added when missing, since nothing
/// works across runs without a refresh token) or the defaults.
pub fn scopes(configured: Option<&[String]>) -> Result<Vec<String>, String> {
    let Some(list) = configured else { return Ok(DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()) };
    if list.is_empty() {
        return Err("empty scope list".to_owned());
    }
    let mut out = Vec::with_capacity(list.len() + 1);
    for s in list {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("invalid scope {s:?}"));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    if !out.iter().any(|s| s == OFFLINE_ACCESS) {
        out.push(OFFLINE_ACCESS.to_owned());
    }
    Ok(out)
}

/// The authority base URL, without a trailing slash: `https://...`, or `http://127.0.0.1[:port]` for tests.
pub fn authority(configured: Option<&str>) -> Result<String, String> {
    let Some(a) = configured else { return Ok(DEFAULT_AUTHORITY.to_owned()) };
    let a = a.trim_end_matches('/');
    let host_part = if let Some(rest) = a.strip_prefix("https://") {
        rest
    } else if let Some(rest) = a.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if host != "127.0.0.1" {
            return Err(format!("plain http authority `{a}` is only allowed for 127.0.0.1"));
        }
        rest
    } else {
        return Err(format!("invalid authority `{a}`"));
    };
    let host = host_part.split(['/', ':']).next().unwrap_or_default();
    if host.is_empty() || a.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') {
        return Err(format!("invalid authority `{a}`"));
    }
    Ok(a.to_owned())
}

/// The two endpoints of a tenant under an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `{authority}/{tenant}/oauth2/v2.0/devicecode`
    pub device_code: String,
    /// `{authority}/{tenant}/oauth2/v2.0/token`
    pub token: String,
}

impl Endpoints {
    /// The Microsoft identity platform v2.0 endpoints of `tenant` under `authority`.
    pub fn new(authority: &str, tenant: &str) -> Endpoints {
        let base = format!("{authority}/{tenant}/oauth2/v2.0");
        Endpoints { device_code: format!("{base}/devicecode"), token: format!("{base}/token") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scopes_are_the_documented_four() {
        assert_eq!(
            scopes(None),
            Ok(vec![
                "https://outlook.office.com/IMAP.AccessAsUser.All".to_owned(),
                "https://outlook.office.com/POP.AccessAsUser.All".to_owned(),
                "https://outlook.office.com/SMTP.Send".to_owned(),
                "offline_access".to_owned(),
            ])
        );
    }

    #[test]
    fn configured_scopes_gain_offline_access_and_lose_duplicates() {
        let mine = vec!["a".to_owned(), "a".to_owned()];
        assert_eq!(scopes(Some(&mine)), Ok(vec!["a".to_owned(), "offline_access".to_owned()]));
        let with = vec!["offline_access".to_owned(), "b".to_owned()];
        assert_eq!(scopes(Some(&with)), Ok(with.clone()));
        assert!(scopes(Some(&[])).is_err());
        assert!(scopes(Some(&["two words".to_owned()])).is_err());
    }

    #[test]
    fn authority_is_https_or_loopback_http() {
        assert_eq!(authority(None).as_deref(), Ok("https://login.microsoftonline.com"));
        assert_eq!(authority(Some("https://login.example/")).as_deref(), Ok("https://login.example"));
        assert_eq!(authority(Some("http://127.0.0.1:8080")).as_deref(), Ok("http://127.0.0.1:8080"));
        assert_eq!(authority(Some("http://127.0.0.1/base")).as_deref(), Ok("http://127.0.0.1/base"));
        for bad in
            ["http://localhost:8080", "http://127.0.0.1.evil.example", "ftp://x", "https://", "login.example"]
        {
            assert!(authority(Some(bad)).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn endpoints_follow_the_v2_layout() {
        let e = Endpoints::new("https://login.microsoftonline.com", "consumers");
        assert_eq!(e.device_code, "https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode");
        assert_eq!(e.token, "https://login.microsoftonline.com/consumers/oauth2/v2.0/token");
    }
}
