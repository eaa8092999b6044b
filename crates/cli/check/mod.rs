//! `mailsync check`'s machinery: a checklist of steps per protocol (resolve, connect, TLS, authenticate,
//! capabilities...), each with its result, time and, for a known failure, a hint in words, the way Outlook's
//! "Test Account Settings" reports them.
//!
//! Owns the checklist (`Checklist`, `Step`), its plain and JSON rendering, and the first failure that
//! decides the exit code. The protocol probes live in `imap`, `pop3` and `smtp`, the hints in `hints`.
//! Must never: print a credential (steps say where a secret came from, never what it is), change anything
//! on a server (IMAP opens INBOX with EXAMINE, POP3 ends with QUIT after no DELE), or stop at the first
//! failure of one protocol when the others can still be checked.

pub mod hints;
pub mod imap;
pub mod pop3;
pub mod smtp;

use std::time::{Duration, Instant};

use mailsync_engine::{EngineError, Security, Step as ConnectStep, StepLog};
use serde::Serialize;

use crate::output::{Output, StdoutError};
use hints::{hint, HintCtx};

/// A step's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It worked.
    Ok,
    /// It failed (see the detail and the hint).
    Failed,
    /// Not tried: an earlier step failed, or the settings do not ask for it.
    Skipped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The account checked.
    pub account: String,
    /// `account`, `imap`, `pop3` or `smtp`.
    pub protocol: &'static str,
    /// What was checked: `credentials`, `resolve`, `connect`, `tls`, `starttls`, `authenticate`, ...
    pub step: &'static str,
    /// How it went.
    pub result: Outcome,
    /// How long it took, when it was timed on its own.
    pub millis: Option<u64>,
    /// What was found, or what went wrong.
    pub detail: String,
    /// What to do about a known failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The checklist of one account, printed as it grows.
#[derive(Debug)]
pub struct Checklist {
    account: String,
    out: Output,
    steps: Vec<Step>,
    first_error: Option<anyhow::Error>,
    print_error: Option<StdoutError>,
}

impl Checklist {
    /// An empty checklist for `account`, printing to `out`.
    pub fn new(account: &str, out: Output) -> Checklist {
        Checklist {
            account: account.to_owned(),
            out,
            steps: Vec::new(),
            first_error: None,
            print_error: None,
        }
    }

    /// Records a step that worked.
    pub fn ok(
        &mut self,
        protocol: &'static str,
        step: &'static str,
        started: Option<Instant>,
        detail: impl Into<String>,
    ) {
        self.push(protocol, step, Outcome::Ok, started, detail.into(), None);
    }

    /// Records a failed step with its error (the first one decides the exit code) and a hint.
    pub fn fail(
        &mut self,
        protocol: &'static str,
        step: &'static str,
        started: Option<Instant>,
        error: anyhow::Error,
        hint: Option<String>,
    ) {
        let detail = crate::exit::message(&error);
        if self.first_error.is_none() {
            self.first_error = Some(error.context(format!("{} {step}", protocol_name(protocol))));
        }
        self.push(protocol, step, Outcome::Failed, started, detail, hint);
    }

    /// Records steps that were not tried, and why.
    pub fn skip(&mut self, protocol: &'static str, steps: &[&'static str], why: &str) {
        for step in steps {
            self.push(protocol, step, Outcome::Skipped, None, why.to_owned(), None);
        }
    }

    fn push(
        &mut self,
        protocol: &'static str,
        step: &'static str,
        result: Outcome,
        started: Option<Instant>,
        detail: String,
        hint: Option<String>,
    ) {
        let millis = started.map(|t| millis(t.elapsed()));
        let s = Step { account: self.account.clone(), protocol, step, result, millis, detail, hint };
        let printed = if self.out.is_json() { self.out.json(&s) } else { self.out.lines(&render(&s)) };
        if let Err(e) = printed {
            self.print_error.get_or_insert(e);
        }
        self.steps.push(s);
    }

    /// Prints the summary and returns the first failure (with how many failed) as the command's error.
    pub fn finish(mut self) -> anyhow::Result<()> {
        if let Some(e) = self.print_error.take() {
            return Err(e.into());
        }
        let count = |o: Outcome| self.steps.iter().filter(|s| s.result == o).count();
        let (passed, failed, skipped) = (count(Outcome::Ok), count(Outcome::Failed), count(Outcome::Skipped));
        if self.out.is_json() {
            #[derive(Serialize)]
            struct Summary<'a> {
                account: &'a str,
                ok: bool,
                passed: usize,
                failed: usize,
                skipped: usize,
            }
            self.out.json(&Summary { account: &self.account, ok: failed == 0, passed, failed, skipped })?;
        } else if failed == 0 {
            self.out.line(&format!("{}: all {passed} checks passed", self.account))?;
        } else {
            self.out.line(&format!(
                "{}: {failed} of {} checks failed ({skipped} skipped)",
                self.account,
                passed + failed
            ))?;
        }
        match self.first_error.take() {
            Some(e) if failed > 0 => Err(e.context(format!(
                "check of account {}: {failed} of {} checks failed; first",
                self.account,
                passed + failed
            ))),
            _ => Ok(()),
        }
    }
}

/// The connection steps a protocol's check expects, in order, with their checklist names: resolve,
/// connect, then TLS (implicit) or the greeting and STARTTLS, then the login when there are credentials.
/// `greeting` names the greeting step when the protocol lists it (SMTP's `ehlo`).
pub fn expected_steps(
    security: Security,
    greeting: Option<&'static str>,
    login: bool,
) -> Vec<(ConnectStep, &'static str)> {
    let mut v = vec![(ConnectStep::Resolve, "resolve"), (ConnectStep::Connect, "connect")];
    if security == Security::Tls {
        v.push((ConnectStep::Tls, "tls"));
    }
    if let Some(name) = greeting {
        v.push((ConnectStep::Greeting, name));
    }
    if security == Security::StartTls {
        v.push((ConnectStep::StartTls, "starttls"));
    }
    if login {
        v.push((ConnectStep::Login, "authenticate"));
    }
    v
}

/// Records a connection's steps: each one that succeeded, and, when `result` is an error, the first expected
/// step that did not succeed as failed (with its hint) and every later one (`later` too) as skipped. Returns
/// the connection when it was made.
pub fn record_connection<T>(
    list: &mut Checklist,
    h: &HintCtx<'_>,
    expected: &[(ConnectStep, &'static str)],
    log: &StepLog,
    result: Result<T, EngineError>,
    later: &[&'static str],
) -> Option<T> {
    let name_of = |s: ConnectStep| expected.iter().find(|(e, _)| *e == s).map(|(_, n)| *n);
    for (step, started, detail) in &log.done {
        if let Some(name) = name_of(*step) {
            list.ok(h.protocol, name, Some(*started), detail.clone());
        }
    }
    if h.ep.security == Security::Plain {
        list.skip(h.protocol, &["tls"], "security = \"plain\": no encryption (no password is sent)");
    }
    match result {
        Ok(c) => Some(c),
        Err(e) => {
            let pending: Vec<&(ConnectStep, &'static str)> =
                expected.iter().filter(|(s, _)| !log.has(*s)).collect();
            let (failed, rest) = match pending.split_first() {
                Some((first, rest)) => (first.1, rest.iter().map(|(_, n)| *n).collect::<Vec<_>>()),
                None => ("authenticate", Vec::new()),
            };
            let advice = hint(h, &e);
            list.fail(h.protocol, failed, None, e.into(), advice);
            let why = match failed {
                "resolve" => "the host did not resolve",
                "connect" => "no connection",
                "tls" | "starttls" => "no TLS",
                "authenticate" => "not logged in",
                _ => "no session",
            };
            list.skip(h.protocol, &[&rest[..], later].concat(), why);
            None
        }
    }
}

/// The protocol as people write it.
pub fn protocol_name(p: &str) -> &'static str {
    match p {
        "imap" => "IMAP",
        "pop3" => "POP3",
        "smtp" => "SMTP",
        _ => "account",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One step as plain lines: `  ok      IMAP  connect        3 ms  127.0.0.1:993`, and its hint below.
fn render(s: &Step) -> Vec<String> {
    let time = match s.millis {
        Some(ms) => format!("{ms} ms"),
        None => String::new(),
    };
    let mut lines = vec![format!(
        "{:<8}{:<9}{:<14}{:>8}  {}",
        s.result.label(),
        protocol_name(s.protocol),
        s.step,
        time,
        s.detail
    )];
    if let Some(h) = &s.hint {
        lines.push(format!("{:<8}hint: {h}", ""));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(result: Outcome, hint: Option<&str>) -> Step {
        Step {
            account: "w".into(),
            protocol: "imap",
            step: "connect",
            result,
            millis: Some(3),
            detail: "127.0.0.1:993".into(),
            hint: hint.map(str::to_owned),
        }
    }

    #[test]
    fn plain_rendering_lines_up_and_puts_the_hint_below() {
        assert_eq!(
            render(&step(Outcome::Ok, None)),
            vec!["ok      IMAP     connect           3 ms  127.0.0.1:993"]
        );
        assert_eq!(
            render(&step(Outcome::Failed, Some("do this"))),
            vec!["FAILED  IMAP     connect           3 ms  127.0.0.1:993", "        hint: do this"]
        );
    }

    #[test]
    fn json_rendering_names_every_field() {
        let v = serde_json::to_value(step(Outcome::Skipped, None)).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"account": "w", "protocol": "imap", "step": "connect", "result": "skipped",
                               "millis": 3, "detail": "127.0.0.1:993"})
        );
    }
}
