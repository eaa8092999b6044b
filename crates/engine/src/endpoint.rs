//! Where and how to connect: host, port, transport security, extra trust, time limits.
//!
//! Owns the connection settings of one protocol endpoint as the engine receives them from the CLI (which
//! merges presets and the config file), including the protocol trace its connections write to, if any.
//! Must never: hold a password (credentials live in `auth`).

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
    /// The protocol trace every connection to this endpoint writes to (`--trace`).
    pub trace: Option<crate::trace::Trace>,
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
            trace: None,
        }
    }

    /// `host:port` for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// How a run gets past a dropped link: reconnect after a growing, jittered wait, and give up only after
/// `attempts` tries in a row that made no progress (anything committed resets the count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Tries in a row without progress before the run gives up.
    pub attempts: u32,
    /// The first wait; each further try waits twice as long (with a random part), up to `cap`.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect { attempts: 5, base: Duration::from_secs(1), cap: Duration::from_secs(60) }
    }
}

impl Reconnect {
    /// The wait before try number `n` (1 for the first reconnect): `base * 2^(n-1)`, capped, and drawn
    /// between half of that and all of it so that many clients do not come back at once.
    pub fn wait(&self, n: u32) -> Duration {
        let full = self.base.saturating_mul(1u32 << n.saturating_sub(1).min(16)).min(self.cap);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = 0.5 + f64::from(nanos % 1000) / 2000.0;
        full.mul_f64(jitter)
    }
}

/// Whether a run reconnects after `e`. Only a run that got in once has something to resume: before the first
/// login of the run, a failure (an unreachable server, a port that does not speak TLS, a silent greeting) is
/// the user's to see at once, not after minutes of retries (the next scheduled run tries again). Throttling
/// is waited out either way; errors a new connection cannot fix (a refused login, a certificate) never
/// reconnect.
pub fn reconnects_after(e: &crate::EngineError, logged_in: bool) -> bool {
    e.is_transient() && (logged_in || matches!(e, crate::EngineError::Throttled { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_twice_as_long_up_to_the_cap_with_a_random_half() {
        let r = Reconnect { attempts: 5, base: Duration::from_millis(100), cap: Duration::from_millis(1000) };
        for (n, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
            let w = r.wait(n);
            assert!(w >= Duration::from_millis(full / 2) && w <= Duration::from_millis(full), "{n}: {w:?}");
        }
    }

    #[test]
    fn only_a_run_that_got_in_reconnects_except_to_wait_out_throttling() {
        use crate::EngineError;
        let timeout = EngineError::Timeout { addr: "a".into(), during: "x", secs: 1, hint: String::new() };
        let throttled = EngineError::Throttled { addr: "a".into(), millis: 10 };
        let refused = EngineError::AuthRefused {
            protocol: "IMAP",
            user: "u".into(),
            addr: "a".into(),
            text: "no".into(),
            hint: String::new(),
        };
        // (error, logged in before) -> reconnects
        for (e, logged_in, want) in [
            (&timeout, true, true),
            (&timeout, false, false),
            (&throttled, false, true),
            (&throttled, true, true),
            (&refused, true, false),
        ] {
            assert_eq!(reconnects_after(e, logged_in), want, "{e} (logged in before: {logged_in})");
        }
    }
}
