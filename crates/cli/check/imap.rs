//! The IMAP part of `mailsync check`: resolve, connect, TLS (implicit, certificate verified) or STARTTLS,
//! authenticate, the capabilities after login, and opening INBOX read-only (which is where Exchange says
//! "User is authenticated but not connected"). One connection, made by the engine's own client: every limit
//! of a sync applies.
//!
//! Owns the order of the IMAP steps. Must never: change the mailbox (EXAMINE only, then LOGOUT).
//! RFC 3501 sections 6.1-6.3 (CAPABILITY, STARTTLS, LOGIN/AUTHENTICATE, EXAMINE), RFC 8314 (implicit TLS).

use std::time::Instant;

use mailsync_engine::imap::ImapClient;
use mailsync_engine::{Credentials, Endpoint, StepLog};
use mailsync_proto::imap::command::Command;

use super::hints::{hint, HintCtx};
use super::{expected_steps, record_connection, Checklist};

/// The largest response the check accepts (it reads no message).
const MAX_RESPONSE: usize = 1024 * 1024;

/// Runs the IMAP steps. `creds` is `None` when the credentials could not be had (that step already failed).
pub async fn check(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint, creds: Option<&Credentials>) {
    const P: &str = "imap";
    let later: &[&'static str] = if creds.is_some() {
        &["capabilities", "mailbox"]
    } else {
        &["authenticate", "capabilities", "mailbox"]
    };
    let expected = expected_steps(ep.security, None, creds.is_some());
    let mut log = StepLog::default();
    let result = ImapClient::connect_with(ep, creds, MAX_RESPONSE, &mut log).await;
    let Some(mut client) = record_connection(list, h, &expected, &log, result, later) else { return };
    if creds.is_none() {
        list.skip(P, later, "no credentials");
        client.logout().await;
        return;
    }
    let started = Instant::now();
    match client.capabilities().await {
        Ok(caps) => list.ok(P, "capabilities", Some(started), caps.iter().collect::<Vec<_>>().join(" ")),
        Err(e) => {
            let advice = hint(h, &e);
            list.fail(P, "capabilities", Some(started), e.into(), advice);
        }
    }
    let started = Instant::now();
    let examine = Command::Examine { mailbox: "INBOX".into(), condstore: false, qresync: None };
    let opened = match client.run(examine).await {
        Ok((_, done)) => client.check(&done),
        Err(e) => Err(e),
    };
    match opened {
        Ok(()) => list.ok(P, "mailbox", Some(started), "INBOX opened read-only (EXAMINE)"),
        Err(e) => {
            let advice = hint(h, &e);
            list.fail(P, "mailbox", Some(started), e.into(), advice);
        }
    }
    client.logout().await;
}
