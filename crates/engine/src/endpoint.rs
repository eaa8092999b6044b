//! Where and how to connect: host, port, transport security, extra trust, time limits.
//!
//! Owns the connection settings of one protocol endpoint as the engine receives them from the CLI (which
//! merges presets and the config file). Must never: hold a password (credentials live in `auth`).

use std::path::PathBuf;
use std::time::Duration;

/// Transport security of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// TLS from the first byte (IMAP 993, POP3 995): Outlook's "SSL".
    Tls,
    /// Plain TCP upgraded with STARTTLS (IMAP 143) or STLS (POP3 110); if that fails, the connection stops.
    StartTls,
    /// No encryption at all. Refused unless `allow_plaintext` is set, and even then no password is sent.
    Plain,
}

impl Security {
    /// The word used in config files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::StartTls => "starttls",
            Security::Plain => "plain",
        }
    }
}

/// Time limits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect and TLS handshake, each.
    pub connect: Duration,
    /// Waiting for the greeting. A plaintext client on an implicit-TLS port waits here forever otherwise.
    pub greeting: Duration,
    /// Silence allowed while a response is expected.
    pub read: Duration,
    /// The slowest a server may deliver what a command asked for, in bytes per second on average, once the
    /// silence allowed (`read`, or `greeting` for the greeting) has passed since the command went out: a
    /// server that trickles a byte now and then is cut off instead of holding the run for ever. 0: no floor.
    pub min_rate: u64,
}

impl Timeouts {
    /// The same limit for connecting, the greeting and silence, with the default rate floor.
    pub fn uniform(t: Duration) -> Timeouts {
        Timeouts { connect: t, greeting: t, read: t, ..Timeouts::default() }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(30),
            read: Duration::from_secs(120),
            // Far below any real link (a phone on EDGE delivers 10 KB/s), far above a trickle.
            min_rate: 1024,
        }
    }
}

/// One protocol endpoint of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub security: Security,
    /// An extra CA certificate file (PEM) to trust besides the public roots, for private servers.
    pub ca_file: Option<PathBuf>,
    /// Allows `Security::Plain` (a test server on loopback, say). Passwords are still never sent in the clear.
    pub allow_plaintext: bool,
    /// Time limits.
    pub timeouts: Timeouts,
}

impl Endpoint {
    /// An endpoint with default time limits and no extra CA.
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> Self {
        Endpoint {
            host: host.into(),
            port,
            security,
            ca_file: None,
            allow_plaintext: false,
            timeouts: Timeouts::default(),
        }
    }

    /// `host:port` for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
