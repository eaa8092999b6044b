//! Credentials as the engine receives them: who logs in, and with what secret. The CLI obtains the secret
//! (password command, environment, prompt, OAuth2 token); the engine only ever puts it on an encrypted wire.

use std::sync::Arc;

use mailsync_proto::Secret;

/// How to authenticate.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A password: IMAP LOGIN (or AUTHENTICATE PLAIN), POP3 USER/PASS (or AUTH PLAIN).
    Password {
        /// The login name.
        user: String,
        /// The password.
        password: Secret<String>,
    },
    /// An OAuth2 access token, sent with SASL XOAUTH2 (what Outlook requires).
    OAuth2 {
        /// The mailbox address.
        user: String,
        /// The bearer token.
        token: Secret<String>,
    },
}

impl Credentials {
    /// The login name.
    pub fn user(&self) -> &str {
        match self {
            Credentials::Password { user, .. } | Credentials::OAuth2 { user, .. } => user,
        }
    }
}

impl Credentials {
    /// What an accepted login proves, for a checklist: `password accepted for me@...` (never the secret).
    pub fn accepted(&self) -> String {
        match self {
            Credentials::Password { user, .. } => format!("password accepted for {user}"),
            Credentials::OAuth2 { user, .. } => format!("OAuth2 token (XOAUTH2) accepted for {user}"),
        }
    }
}

/// Gets fresh credentials for a reconnect (an OAuth2 access token lasts about an hour; a long run or a watch
/// outlives it). The CLI's source: the token command, or the stored sign-in, refreshed when close to expiry.
#[derive(Clone)]
pub struct Renew(pub Arc<dyn Fn() -> Result<Credentials, String> + Send + Sync>);

impl std::fmt::Debug for Renew {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renew(..)")
    }
}

impl Renew {
    /// Fresh credentials.
    pub fn get(&self) -> Result<Credentials, String> {
        (self.0)()
    }
}
