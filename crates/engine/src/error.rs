//! The engine's one error type, grouped by whose fault it is; each variant carries what a user needs to act.
//!
//! Three kinds of server trouble are kept apart, because the run treats them differently: a command the
//! server refused ([`EngineError::Refused`]: that folder fails, the run goes on with the connection), answers
//! that contradict each other ([`EngineError::Inconsistent`]: that folder fails, nothing of it is changed
//! locally, the run goes on), and a protocol violation ([`EngineError::Protocol`]: the connection cannot be
//! trusted any more, the run stops).

use std::path::PathBuf;

use mailsync_store::StoreError;

/// Everything a sync can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    // --- the network ---
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Dns { host: String, source: std::io::Error },
    /// TCP connect failed (refused, unreachable).
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    /// Something took longer than its time limit.
    #[error("timed out after {secs} s {during} ({addr}){hint}")]
    Timeout { addr: String, during: &'static str, secs: u64, hint: String },
    /// The server kept sending, but slower than the rate floor allows (`Timeouts::min_rate`): cut off.
    #[error("{addr} sent only {bytes} bytes in {secs} s {during}, slower than {min_rate} bytes/s: cut off (a server that trickles is not waited for)")]
    TooSlow { addr: String, during: String, bytes: u64, secs: u64, min_rate: u64 },
    /// The server closed the connection.
    #[error("{addr} closed the connection {during}")]
    Closed { addr: String, during: String },
    /// A read or write failed.
    #[error("network error with {addr}: {source}")]
    Io { addr: String, source: std::io::Error },

    // --- TLS ---
    /// The certificate does not match the host name.
    #[error("certificate of {addr} is not valid for {host}: {detail}")]
    CertName { addr: String, host: String, detail: String },
    /// The certificate chain is not trusted (unknown CA, expired, self-signed...).
    #[error("certificate of {addr} is not trusted: {detail} (for a private server, set ca_file)")]
    CertTrust { addr: String, detail: String },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake with {addr} failed: {detail}{hint}")]
    Tls { addr: String, detail: String, hint: String },
    /// The server does not offer STARTTLS/STLS, or refused it. Never falls back to plaintext.
    #[error("{addr} does not offer {command}; refusing to continue without TLS{detail}")]
    StartTlsUnavailable { addr: String, command: &'static str, detail: String },
    /// A password would travel in the clear.
    #[error("refusing to send a password over an unencrypted connection to {addr} (use security = \"tls\" or \"starttls\")")]
    PlaintextRefused { addr: String },

    // --- the server ---
    /// Login refused.
    #[error("{protocol} login refused for {user} at {addr}: {text}{hint}")]
    AuthRefused { protocol: &'static str, user: String, addr: String, text: String, hint: String },
    /// The server sent something we cannot accept: the connection is unusable.
    #[error("{protocol} server {addr}: {detail}")]
    Protocol { protocol: &'static str, addr: String, detail: String },
    /// The server answered a command with NO or BAD (IMAP) or -ERR (POP3).
    #[error("{protocol} server {addr} refused {command}: {status} {text}")]
    Refused { protocol: &'static str, addr: String, command: String, status: &'static str, text: String },
    /// The server's answers contradict each other (fewer messages listed than it says exist, no EXISTS at
    /// all...): what depends on them is not done.
    #[error("{protocol} server {addr}: {detail}")]
    Inconsistent { protocol: &'static str, addr: String, detail: String },
    /// The server said BYE and closed the connection (a restart, an idle timeout, too many connections).
    #[error("{protocol} server {addr} closed the connection: BYE {text}")]
    Bye { protocol: &'static str, addr: String, text: String },
    /// The server asked us to slow down (Exchange's "Request is throttled").
    #[error("{addr} throttled the connection; suggested back-off {millis} ms")]
    Throttled { addr: String, millis: u64 },

    // --- local ---
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A local file (CA file) could not be read or used.
    #[error("{what} {path}: {detail}")]
    LocalFile { what: &'static str, path: PathBuf, detail: String },
    /// The settings cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// The run was interrupted; what was committed stays.
    #[error("interrupted")]
    Interrupted,
    /// A fault of mailsync itself (the store writer thread stopped); what was committed stays.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What kind of failure this is, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Network or TLS (exit 2).
    Network,
    /// Authentication refused (exit 3).
    Auth,
    /// Server protocol error (exit 4).
    Protocol,
    /// Local store or file (exit 5).
    Local,
    /// Configuration or usage (exit 1).
    Config,
    /// Interrupted (exit 130).
    Interrupted,
    /// A fault of mailsync itself (exit 5, with the local failures: the store is where it shows).
    Internal,
}

impl EngineError {
    /// The category that decides the exit code.
    pub fn kind(&self) -> ErrorKind {
        use EngineError::*;
        match self {
            Dns { .. } | Connect { .. } | Timeout { .. } | TooSlow { .. } | Closed { .. } | Io { .. } => {
                ErrorKind::Network
            }
            CertName { .. } | CertTrust { .. } | Tls { .. } | StartTlsUnavailable { .. } => {
                ErrorKind::Network
            }
            PlaintextRefused { .. } | Config(_) => ErrorKind::Config,
            AuthRefused { .. } => ErrorKind::Auth,
            Protocol { .. } | Refused { .. } | Inconsistent { .. } | Throttled { .. } | Bye { .. } => {
                ErrorKind::Protocol
            }
            Store(_) | LocalFile { .. } => ErrorKind::Local,
            Interrupted => ErrorKind::Interrupted,
            Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether a new connection may get past the error: the network failed or was too slow, the server said
    /// BYE or asked to slow down. Not a refused login, a certificate, a setting, the store, or a server that
    /// broke the protocol (it would again).
    pub fn is_transient(&self) -> bool {
        use EngineError::*;
        matches!(
            self,
            Dns { .. }
                | Connect { .. }
                | Timeout { .. }
                | TooSlow { .. }
                | Closed { .. }
                | Io { .. }
                | Bye { .. }
                | Throttled { .. }
        )
    }

    /// Whether another process is syncing the account on the same store now (its sync lock is taken): nothing
    /// is wrong, and trying again once it is done will do.
    pub fn is_busy(&self) -> bool {
        matches!(self, EngineError::Store(mailsync_store::StoreError::AccountBusy { .. }))
    }

    /// Whether the error ends one folder's sync only: the connection is fine and the run goes on.
    pub fn is_folder_level(&self) -> bool {
        matches!(self, EngineError::Refused { .. } | EngineError::Inconsistent { .. })
    }
}
