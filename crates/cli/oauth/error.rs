//! The OAuth2 layer's one error type, grouped by whose fault it is, each naming what to do next.
//!
//! Owns the wording of OAuth2 failures and their exit codes (CLI.md: 1 config, 2 network, 3 refused, 4 server,
//! 5 local). Must never: quote a token, a refresh token or a device code (none of the variants carries one;
//! the server's `error_description` is shown, which never holds them).

use crate::exit;

/// Everything that can go wrong between the identity platform and an access token.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    // --- the user's settings or state ---
    /// No `client_id` for an account that signs in with `mailsync auth login`.
    #[error(
        "account {account} has no client_id: register an application with Microsoft (see the README, \
         \"Using it with a real Outlook account\") and add client_id = \"YOUR-APP-ID\" to [accounts.{account}]"
    )]
    NoClientId { account: String },
    /// `mailsync auth login` has not been run (or its file was removed).
    #[error("account {account} has no stored OAuth2 sign-in ({file}): run `mailsync auth login {account}`")]
    NotLoggedIn { account: String, file: String },
    /// The stored sign-in belongs to other settings (client_id, tenant, authority or scopes changed).
    #[error(
        "the stored OAuth2 sign-in of account {account} was made with another {what}: \
         run `mailsync auth login {account}` again"
    )]
    Mismatch { account: String, what: &'static str },
    /// An account name that would put its token file outside the token directory.
    #[error("the account name {account:?} cannot name a token file: use letters, digits, `-` and `_`")]
    BadAccountName { account: String },
    /// The token file is not what mailsync writes.
    #[error("cannot use the token file {file}: {detail}; run `mailsync auth login {account}` again")]
    BadStore { account: String, file: String, detail: String },

    // --- local ---
    /// Reading or writing the token file failed.
    #[error("cannot {action} the token file {file}: {source}")]
    Store { action: &'static str, file: String, source: std::io::Error },

    // --- the network ---
    /// The authority could not be reached.
    #[error("cannot reach {url}: {detail}")]
    Http { url: String, detail: String },

    // --- the identity platform ---
    /// The user declined, or the platform refused the request (RFC 8628 section 3.5 `access_denied`,
    /// Microsoft's `authorization_declined`, `bad_verification_code`, `invalid_client`...).
    #[error("sign-in refused by {url}: {error}{description}")]
    Refused { url: String, error: String, description: String },
    /// The device code expired before the user finished signing in (RFC 8628 `expired_token`).
    #[error(
        "the sign-in code expired after {secs} s before the sign-in was completed: \
         run `mailsync auth login {account}` again and finish within the time shown"
    )]
    Expired { account: String, secs: u64 },
    /// The refresh token was refused (revoked, expired, password changed: RFC 6749 `invalid_grant`).
    #[error(
        "the stored OAuth2 sign-in of account {account} was refused ({error}{description}): \
         run `mailsync auth login {account}` again"
    )]
    RefreshRefused { account: String, error: String, description: String },
    /// The platform answered something that is not an OAuth2 response.
    #[error("unexpected answer from {url} (HTTP {status}): {detail}")]
    Server { url: String, status: u16, detail: String },
}

impl OAuthError {
    /// The exit code (CLI.md "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            OAuthError::NoClientId { .. }
            | OAuthError::NotLoggedIn { .. }
            | OAuthError::Mismatch { .. }
            | OAuthError::BadStore { .. }
            | OAuthError::BadAccountName { .. } => exit::USAGE,
            OAuthError::Store { .. } => exit::LOCAL,
            OAuthError::Http { .. } => exit::NETWORK,
            OAuthError::Refused { .. } | OAuthError::Expired { .. } | OAuthError::RefreshRefused { .. } => {
                exit::AUTH
            }
            OAuthError::Server { .. } => exit::PROTOCOL,
        }
    }
}

/// `: description` when the server gave one, for the messages above (Microsoft's trace and correlation IDs
/// that follow the sentence are left out).
pub fn describe(description: Option<&str>) -> String {
    let first = description.map(|d| d.split("Trace ID:").next().unwrap_or_default());
    match first.map(|d| d.split_whitespace().collect::<Vec<_>>().join(" ")) {
        Some(d) if !d.is_empty() => format!(": {d}"),
        _ => String::new(),
    }
}

/// The path as messages show it.
pub fn file(path: &std::path::Path) -> String {
    crate::config::paths::display(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_microsofts_trace_lines() {
        let d = "AADSTS70000: The provided value for 'refresh_token' is not valid.\r\nTrace ID: 1\r\nCorrelation ID: 2";
        assert_eq!(describe(Some(d)), ": AADSTS70000: The provided value for 'refresh_token' is not valid.");
        assert_eq!(describe(Some("  ")), "");
        assert_eq!(describe(None), "");
    }

    #[test]
    fn exit_codes_follow_whose_fault_it_is() {
        let refused = OAuthError::Refused {
            url: "u".into(),
            error: "access_denied".into(),
            description: String::new(),
        };
        assert_eq!(refused.exit_code(), 3);
        assert_eq!(OAuthError::Http { url: "u".into(), detail: "d".into() }.exit_code(), 2);
        assert_eq!(OAuthError::NotLoggedIn { account: "a".into(), file: "f".into() }.exit_code(), 1);
        assert_eq!(refused.to_string(), "sign-in refused by u: access_denied");
    }
}
