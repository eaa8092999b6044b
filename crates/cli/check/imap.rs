//! The IMAP part of `mailsync check`: resolve, connect, TLS (implicit, certificate verified) or STARTTLS,
//! authenticate, the capabilities after login, and opening INBOX read-only (which is where Exchange says
//! "User is authenticated but not connected").
//!
//! Owns the order of the IMAP steps. Must never: change the mailbox (EXAMINE only, then LOGOUT).
//! RFC 3501 sections 6.1-6.3 (CAPABILITY, STARTTLS, LOGIN/AUTHENTICATE, EXAMINE), RFC 8314 (implicit TLS).

use std::time::Instant;

use mailsync_engine::imap::ImapClient;
use mailsync_engine::{Credentials, Endpoint, EngineError, Security, Transport};
use mailsync_proto::imap::command::Command;

use super::hints::{hint, HintCtx};
use super::{net, Checklist};

/// The largest response the check accepts (it reads no message).
const MAX_RESPONSE: usize = 1024 * 1024;

/// Runs the IMAP steps. `creds` is `None` when the credentials could not be had (that step already failed).
pub async fn check(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint, creds: Option<&Credentials>) {
    const P: &str = "imap";
    let later = ["tls", "authenticate", "capabilities", "mailbox"];
    if !net::reach(list, h, ep, &later).await {
        return;
    }
    if !tls_step(list, h, ep).await {
        list.skip(P, &later[1..], "no TLS");
        return;
    }
    let Some(creds) = creds else {
        list.skip(P, &later[1..], "no credentials");
        return;
    };
    let started = Instant::now();
    let mut client = match ImapClient::connect(ep, creds, MAX_RESPONSE).await {
        Ok(c) => c,
        Err(e) => {
            let advice = hint(h, &e);
            if ep.security == Security::StartTls && !is_login_error(&e) {
                list.fail(P, "starttls", None, e.into(), advice);
                list.skip(P, &later[1..], "no TLS");
            } else {
                if ep.security == Security::StartTls {
                    list.ok(P, "starttls", None, format!("upgraded; certificate verified for {}", ep.host));
                }
                list.fail(P, "authenticate", Some(started), e.into(), advice);
                list.skip(P, &later[2..], "not logged in");
            }
            return;
        }
    };
    if ep.security == Security::StartTls {
        list.ok(P, "starttls", None, format!("upgraded; certificate verified for {}", ep.host));
    }
    list.ok(P, "authenticate", Some(started), login_detail(creds));
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

/// The implicit-TLS handshake on a connection of its own (nothing to do for STARTTLS or plain endpoints,
/// whose upgrade happens at login). Whether the next steps can go on.
async fn tls_step(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint) -> bool {
    if ep.security != Security::Tls {
        if ep.security == Security::Plain {
            list.skip(h.protocol, &["tls"], "security = \"plain\": no encryption (no password is sent)");
        }
        return true;
    }
    let started = Instant::now();
    match Transport::connect(ep).await {
        Ok(t) => {
            list.ok(h.protocol, "tls", Some(started), format!("certificate verified for {}", ep.host));
            t.shutdown().await;
            true
        }
        Err(e) => {
            let advice = hint(h, &e);
            list.fail(h.protocol, "tls", Some(started), e.into(), advice);
            false
        }
    }
}

/// Whether a failed connect-and-login failed at the login itself (rather than the greeting or STARTTLS).
pub fn is_login_error(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::AuthRefused { .. } | EngineError::PlaintextRefused { .. } | EngineError::Config(_)
    )
}

/// `XOAUTH2 as me@...` / `password as me@...`.
pub fn login_detail(creds: &Credentials) -> String {
    match creds {
        Credentials::Password { user, .. } => format!("password accepted for {user}"),
        Credentials::OAuth2 { user, .. } => format!("OAuth2 token (XOAUTH2) accepted for {user}"),
    }
}
