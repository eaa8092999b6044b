//! The POP3 part of `mailsync check`: resolve, connect, TLS (implicit, certificate verified) or STLS,
//! authenticate (USER/PASS, or AUTH XOAUTH2 in the two-step form Outlook requires), the capabilities after
//! login, and STAT. One connection, made by the engine's own client: every limit of a sync applies.
//!
//! Owns the order of the POP3 steps. Must never: delete or mark anything (no DELE, no RETR; QUIT after STAT
//! changes nothing). RFC 1939 sections 4-7, RFC 2449 (CAPA), RFC 2595 section 4 (STLS), RFC 5034 (AUTH).

use std::time::Instant;

use mailsync_engine::pop3::client::{PasswordMethod, Pop3Client};
use mailsync_engine::{Credentials, Endpoint, StepLog};
use mailsync_proto::pop3::{Capability, Pop3Command};

use super::hints::{hint, HintCtx};
use super::{expected_steps, record_connection, Checklist};

/// The largest message the check would accept (it reads none).
const MAX_MESSAGE: usize = 1024 * 1024;

/// Runs the POP3 steps. `creds` is `None` when the credentials could not be had.
pub async fn check(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint, creds: Option<&Credentials>) {
    const P: &str = "pop3";
    let later: &[&'static str] = if creds.is_some() {
        &["capabilities", "mailbox"]
    } else {
        &["authenticate", "capabilities", "mailbox"]
    };
    let expected = expected_steps(ep.security, None, creds.is_some());
    let mut log = StepLog::default();
    let result = Pop3Client::connect_steps(ep, creds, MAX_MESSAGE, PasswordMethod::Auto, &mut log).await;
    let Some(mut client) = record_connection(list, h, &expected, &log, result, later) else { return };
    if creds.is_none() {
        list.skip(P, later, "no credentials");
        let _ = client.quit().await;
        return;
    }
    let caps: Vec<String> = match client.capabilities_after_login().await {
        Ok(caps) => caps.iter().map(name).collect(),
        Err(_) => client.capabilities().iter().map(name).collect(),
    };
    list.ok(P, "capabilities", None, caps.join(" "));
    let started = Instant::now();
    match client.run_ok(Pop3Command::Stat).await {
        Ok(r) => {
            let mut it = r.text.split_whitespace();
            let detail = match (it.next(), it.next()) {
                (Some(n), Some(size)) => format!("STAT: {n} messages, {size} bytes"),
                _ => format!("STAT: {}", r.text),
            };
            list.ok(P, "mailbox", Some(started), detail);
        }
        Err(e) => {
            let advice = hint(h, &e);
            list.fail(P, "mailbox", Some(started), e.into(), advice);
        }
    }
    let _ = client.quit().await;
}

/// A capability as CAPA names it.
fn name(c: &Capability) -> String {
    match c {
        Capability::Capa => "CAPA".into(),
        Capability::Top => "TOP".into(),
        Capability::User => "USER".into(),
        Capability::Sasl(m) => {
            let mut s = "SASL".to_owned();
            for mech in m {
                s.push(' ');
                s.push_str(mech.as_str());
            }
            s
        }
        Capability::RespCodes => "RESP-CODES".into(),
        Capability::AuthRespCode => "AUTH-RESP-CODE".into(),
        Capability::LoginDelay { .. } => "LOGIN-DELAY".into(),
        Capability::Pipelining => "PIPELINING".into(),
        Capability::Expire { .. } => "EXPIRE".into(),
        Capability::Uidl => "UIDL".into(),
        Capability::Implementation(_) => "IMPLEMENTATION".into(),
        Capability::Stls => "STLS".into(),
        Capability::Other { name, .. } => name.clone(),
    }
}
