//! The TOML schema of the accounts file (CLI.md "Config file"), exactly as written by the user.
//!
//! Owns the serde shape of the file: every table denies unknown fields so a typo is an error that names
//! the key, and every field is optional here so that `merge` can report what is missing with context.
//! Must never: apply defaults or presets (that is `merge`), or hold a password value: the file names where
//! a secret comes from (`password_command`, `password_env`, `token_command`), never the secret itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::AuthMethod;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table of [accounts.NAME] tables")]
pub struct ConfigFile {
    /// `[accounts.NAME]` tables, by name.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountConfig>,
}

/// `[accounts.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct AccountConfig {
    /// A name from `presets::PRESETS`.
    pub preset: Option<String>,
    /// The login name, usually the address.
    pub user: Option<String>,
    /// `"password"` or `"xoauth2"`.
    pub auth: Option<AuthMethod>,
    /// A shell command whose first line of output is the password.
    pub password_command: Option<String>,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    /// A shell command whose first line of output is an OAuth2 access token.
    pub token_command: Option<String>,
    /// Seconds `password_command` or `token_command` may take before it is stopped (default 120: time to
    /// answer a pinentry prompt).
    pub command_timeout: Option<i64>,
    /// Reconnects in a row without progress before a sync gives up (default 5; 0: never reconnect).
    pub reconnect_attempts: Option<i64>,
    /// How `mailsync watch` keeps the account current: `"imap"` (IDLE and sweeps) or `"pop3"` (polling).
    pub watch_via: Option<WatchVia>,
    /// An extra trusted CA (PEM) for every endpoint of the account.
    pub ca_file: Option<PathBuf>,
    /// The OAuth2 application (client) ID the user registered, for `mailsync auth login`.
    pub client_id: Option<String>,
    /// The Microsoft identity tenant: `common`, `consumers`, `organizations` or a tenant ID.
    pub tenant: Option<String>,
    /// OAuth2 scopes `mailsync auth login` asks for (default: IMAP, POP and SMTP access, offline_access).
    pub scopes: Option<Vec<String>>,
    /// The OAuth2 authority (default `https://login.microsoftonline.com`); `http://` only for 127.0.0.1.
    pub authority: Option<String>,
    /// `[accounts.NAME.imap]`.
    pub imap: Option<ImapConfig>,
    /// `[accounts.NAME.pop3]`.
    pub pop3: Option<Pop3Config>,
    /// `[accounts.NAME.smtp]`.
    pub smtp: Option<SmtpConfig>,
}

/// The protocol `mailsync watch` uses for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchVia {
    /// IDLE on the watched folders, every folder swept.
    Imap,
    /// The INBOX polled.
    Pop3,
}

/// Transport security as the file spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityName {
    /// Implicit TLS.
    Tls,
    /// STARTTLS / STLS.
    Starttls,
    /// No encryption.
    Plain,
}

/// The fields every protocol table has.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EndpointOverride {
    /// Host name or address.
    pub host: Option<String>,
    /// Port as written; checked for 1..=65535 by `merge` so the message can say so.
    pub port: Option<i64>,
    /// Transport security.
    pub security: Option<SecurityName>,
    /// Permits `security = "plain"`.
    pub allow_plaintext: Option<bool>,
    /// An extra trusted CA for this endpoint only.
    pub ca_file: Option<PathBuf>,
    /// Seconds allowed for each wait (connect, greeting, every answer).
    pub timeout: Option<i64>,
}

/// `[accounts.NAME.imap]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct ImapConfig {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub security: Option<SecurityName>,
    pub allow_plaintext: Option<bool>,
    pub ca_file: Option<PathBuf>,
    /// Seconds allowed for connecting, the greeting, and each wait for the server.
    pub timeout: Option<i64>,
    /// Folder patterns to sync (default: all).
    pub include: Option<Vec<String>>,
    /// Folder patterns to leave out.
    pub exclude: Option<Vec<String>>,
    /// Skip Calendar, Contacts, Tasks... (default true).
    pub skip_non_mail_folders: Option<bool>,
    /// Folders `mailsync watch` keeps IDLE on (default `["INBOX"]`).
    pub watch: Option<Vec<String>>,
    /// Minutes between `mailsync watch`'s syncs of every folder (default 15).
    pub sweep_minutes: Option<f64>,
}

/// `[accounts.NAME.pop3]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct Pop3Config {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub security: Option<SecurityName>,
    pub allow_plaintext: Option<bool>,
    pub ca_file: Option<PathBuf>,
    /// Seconds allowed for connecting, the greeting, and each wait for the server.
    pub timeout: Option<i64>,
    /// false = delete from the server once the local copy is committed.
    pub leave_on_server: Option<bool>,
    /// With `leave_on_server`: delete once downloaded this many days ago.
    pub delete_after_days: Option<i64>,
    /// Log in with APOP instead of USER/PASS.
    pub apop: Option<bool>,
    /// Minutes between `mailsync watch`'s POP3 syncs (default 5).
    pub poll_minutes: Option<f64>,
}

/// `[accounts.NAME.smtp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct SmtpConfig {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub security: Option<SecurityName>,
    pub allow_plaintext: Option<bool>,
    pub ca_file: Option<PathBuf>,
    /// Seconds allowed for connecting, the greeting, and each wait for the server.
    pub timeout: Option<i64>,
}

macro_rules! endpoint_override {
    ($($t:ty),*) => {$(
        impl $t {
            /// The endpoint fields of this table.
            pub fn endpoint(&self) -> EndpointOverride {
                EndpointOverride {
                    host: self.host.clone(),
                    port: self.port,
                    security: self.security,
                    allow_plaintext: self.allow_plaintext,
                    ca_file: self.ca_file.clone(),
                    timeout: self.timeout,
                }
            }
        }
    )*};
}
endpoint_override!(ImapConfig, Pop3Config, SmtpConfig);
