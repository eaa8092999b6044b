//! The steps of reaching and entering a server, as `mailsync check` lists them: each client's connect
//! reports every step that succeeded, with when it started and what it found, so that a caller can show a
//! checklist (and, from the first step not reported, which one failed) over the very connection a sync would
//! use, with all its limits.
//!
//! Owns: [`Step`] and the [`Steps`] observer. Must never: carry a credential (a login step says who logged
//! in and how, never with what).

use std::time::Instant;

/// One step of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The host name resolved.
    Resolve,
    /// A TCP connection opened.
    Connect,
    /// The TLS handshake (implicit TLS) completed, certificate verified.
    Tls,
    /// The upgrade with STARTTLS (IMAP, SMTP) or STLS (POP3) completed, certificate verified.
    StartTls,
    /// The server greeted (SMTP: and answered EHLO).
    Greeting,
    /// The login was accepted.
    Login,
}

impl Step {
    /// The step as the checklist names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Connect => "connect",
            Step::Tls => "tls",
            Step::StartTls => "starttls",
            Step::Greeting => "greeting",
            Step::Login => "authenticate",
        }
    }
}

/// Told each step that succeeded.
pub trait Steps: Send {
    /// `step` worked; it started at `started`; `detail` says what was found.
    fn done(&mut self, step: Step, started: Instant, detail: String);
}

/// Steps nobody watches (a sync).
#[derive(Debug, Default)]
pub struct NoSteps;

impl Steps for NoSteps {
    fn done(&mut self, _: Step, _: Instant, _: String) {}
}

/// Steps kept in order, for a caller that reads them after the connect (a check, a test).
#[derive(Debug, Default, Clone)]
pub struct StepLog {
    /// Every step that succeeded, in order, with its start and detail.
    pub done: Vec<(Step, Instant, String)>,
}

impl Steps for StepLog {
    fn done(&mut self, step: Step, started: Instant, detail: String) {
        self.done.push((step, started, detail));
    }
}

impl StepLog {
    /// Whether `step` succeeded.
    pub fn has(&self, step: Step) -> bool {
        self.done.iter().any(|(s, _, _)| *s == step)
    }
}
