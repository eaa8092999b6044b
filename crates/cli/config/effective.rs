//! The effective settings of an account: its preset merged with the file's overrides, validated, with
//! every default filled in. This is what the commands and the engine work with.
//!
//! Owns the types and their conversion into `mailsync_engine::Endpoint`. Must never: hold a secret (the
//! fields say where a password or token comes from; `secrets` fetches it when a command needs it).
//! RFCs: none here; the SASL mechanism names (PLAIN/LOGIN vs XOAUTH2) are mailsync-proto's.

use std::path::PathBuf;

use mailsync_engine::{Endpoint, Security, Timeouts};
use serde::{Deserialize, Serialize};

/// How long a password or token command may take by default: long enough to answer a pinentry prompt.
pub const DEFAULT_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How the account logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// A password (or an app password) sent over TLS.
    Password,
    /// An OAuth2 access token, SASL XOAUTH2.
    #[value(name = "xoauth2")]
    XOAuth2,
}

impl AuthMethod {
    /// The word used in the config file and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::XOAuth2 => "xoauth2",
        }
    }

    /// The words a mail client's settings dialog uses.
    pub fn label(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::XOAuth2 => "OAuth2 (XOAUTH2)",
        }
    }
}

/// One protocol endpoint of an account, settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveEndpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port, 1 to 65535.
    pub port: u16,
    /// Transport security.
    pub security: Security,
    /// An extra trusted CA (PEM), `~` expanded.
    pub ca_file: Option<PathBuf>,
    /// Whether `Security::Plain` is permitted.
    pub allow_plaintext: bool,
    /// Seconds allowed for each wait; `None` keeps the engine's defaults.
    pub timeout: Option<u64>,
}

impl EffectiveEndpoint {
    /// The engine's view of this endpoint, with default time limits, writing to the run's protocol trace
    /// when `--trace` started one (`crate::trace`: every connection of the run is in it).
    pub fn to_endpoint(&self, account: &str) -> Endpoint {
        let mut ep = Endpoint::from(self);
        ep.trace = ep.trace.map(|t| t.for_account(account));
        ep
    }

    /// The encryption as a settings dialog names it.
    pub fn encryption_label(&self) -> &'static str {
        match self.security {
            Security::Tls => "SSL/TLS",
            Security::StartTls => "STARTTLS",
            Security::Plain => "none",
        }
    }
}

impl From<&EffectiveEndpoint> for Endpoint {
    fn from(e: &EffectiveEndpoint) -> Self {
        Endpoint {
            host: e.host.clone(),
            port: e.port,
            security: e.security,
            ca_file: e.ca_file.clone(),
            allow_plaintext: e.allow_plaintext,
            timeouts: match e.timeout {
                Some(secs) => Timeouts::uniform(std::time::Duration::from_secs(secs)),
                None => Timeouts::default(),
            },
            trace: crate::trace::current(),
        }
    }
}

/// IMAP settings beyond the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapOptions {
    /// Folder patterns to sync; `["*"]` by default.
    pub include: Vec<String>,
    /// Folder patterns to leave out; none by default.
    pub exclude: Vec<String>,
    /// Skip Exchange's Calendar, Contacts, Tasks... folders (default true).
    pub skip_non_mail_folders: bool,
    /// Folders `mailsync watch` keeps IDLE on (default INBOX).
    pub watch: Vec<String>,
    /// How often `mailsync watch` syncs every folder (default 15 minutes).
    pub sweep: std::time::Duration,
}

impl Default for ImapOptions {
    fn default() -> Self {
        ImapOptions {
            include: vec!["*".to_owned()],
            exclude: Vec::new(),
            skip_non_mail_folders: true,
            watch: vec!["INBOX".to_owned()],
            sweep: std::time::Duration::from_secs(15 * 60),
        }
    }
}

/// POP3 settings beyond the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pop3Options {
    /// Keep messages on the server after a durable local copy (default true).
    pub leave_on_server: bool,
    /// With `leave_on_server`: delete from the server once downloaded this many days ago.
    pub delete_after_days: Option<u32>,
    /// Log in with APOP (RFC 1939 section 7) instead of USER/PASS.
    pub apop: bool,
    /// How often `mailsync watch` syncs over POP3 (default 5 minutes).
    pub poll: std::time::Duration,
}

/// Where the password comes from, when the account uses one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// `password_command`, run with `sh -c`.
    Command(String),
    /// `password_env`, an environment variable name.
    Env(String),
    /// Asked on the terminal, without echo.
    Prompt,
}

/// An account with everything settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveAccount {
    /// The `NAME` of `[accounts.NAME]`.
    pub name: String,
    /// The login name.
    pub user: String,
    /// The preset it started from, if any.
    pub preset: Option<&'static str>,
    /// How it logs in.
    pub auth: AuthMethod,
    /// Where a password comes from (used when `auth` is `Password`).
    pub password: PasswordSource,
    /// An external access-token command (used when `auth` is `XOAuth2`).
    pub token_command: Option<String>,
    /// How long `password_command` or `token_command` may take.
    pub command_timeout: std::time::Duration,
    /// Reconnects in a row without progress before a sync gives up.
    pub reconnect_attempts: u32,
    /// How `mailsync watch` keeps it current, when the file says (else IMAP when configured, POP3 otherwise).
    pub watch_via: Option<super::schema::WatchVia>,
    /// The user's OAuth2 application (client) ID.
    pub client_id: Option<String>,
    /// The identity tenant for OAuth2 (default `common`).
    pub tenant: String,
    /// The OAuth2 scopes asked for by `mailsync auth login` (always including `offline_access`).
    pub scopes: Vec<String>,
    /// The OAuth2 authority's base URL, without a trailing slash.
    pub authority: String,
    /// IMAP, when the account has it (always with a preset).
    pub imap: Option<EffectiveEndpoint>,
    /// POP3, when the account has it.
    pub pop3: Option<EffectiveEndpoint>,
    /// SMTP, when the account has it.
    pub smtp: Option<EffectiveEndpoint>,
    /// Folder selection and parallelism for IMAP.
    pub imap_options: ImapOptions,
    /// Deletion policy for POP3.
    pub pop3_options: Pop3Options,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_conversion_keeps_every_field() {
        let e = EffectiveEndpoint {
            host: "127.0.0.1".into(),
            port: 10143,
            security: Security::Plain,
            ca_file: Some(PathBuf::from("/tmp/ca.pem")),
            allow_plaintext: true,
            timeout: None,
        };
        let engine = e.to_endpoint("a");
        assert_eq!(engine.host, "127.0.0.1");
        assert_eq!(engine.port, 10143);
        assert_eq!(engine.security, Security::Plain);
        assert_eq!(engine.ca_file.as_deref(), Some(std::path::Path::new("/tmp/ca.pem")));
        assert!(engine.allow_plaintext);
        assert_eq!(engine.timeouts, Timeouts::default());
        assert_eq!(e.encryption_label(), "none");
    }

    #[test]
    fn auth_words() {
        assert_eq!(AuthMethod::XOAuth2.as_str(), "xoauth2");
        assert_eq!(AuthMethod::Password.as_str(), "password");
        let parsed: Vec<AuthMethod> = serde_json::from_str(r#"["password","xoauth2"]"#).unwrap_or_default();
        assert_eq!(parsed, vec![AuthMethod::Password, AuthMethod::XOAuth2]);
    }
}
