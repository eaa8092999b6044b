//! The POP3 part of `mailsync check`: resolve, connect, TLS (implicit, certificate verified) or STLS,
//! authenticate (USER/PASS, or AUTH XOAUTH2 in the two-step form Outlook requires), the capabilities after
//! login, and STAT.
//!
//! Owns the order of the POP3 steps. Must never: delete or mark anything (no DELE, no RETR; QUIT after STAT
//! changes nothing). RFC 1939 sections 4-7, RFC 2449 (CAPA), RFC 2595 section 4 (STLS), RFC 5034 (AUTH).

use std::time::Instant;

use mailsync_engine::pop3::client::Pop3Client;
use mailsync_engine::{Credentials, Endpoint, Security, Transport};
use mailsync_proto::pop3::{Capability, Pop3Command};

use super::hints::{hint, HintCtx};
use super::imap::{is_login_error, login_detail};
use super::{net, Checklist};

/// The largest message the check would accept (it reads none).
const MAX_MESSAGE: usize = 1024 * 1024;

/// Runs the POP3 steps. `creds` is `None` when the credentials could not be had.
pub async fn check(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint, creds: Option<&Credentials>) {
    const P: &str = "pop3";
    let later = ["tls", "authenticate", "capabilities", "mailbox"];
    if !net::reach(list, h, ep, &later).await {
        return;
    }
    if ep.security == Security::Tls {
        let started = Instant::now();
        match Transport::connect(ep).await {
            Ok(t) => {
                list.ok(P, "tls", Some(started), format!("certificate verified for {}", ep.host));
                t.shutdown().await;
            }
            Err(e) => {
                let advice = hint(h, &e);
                list.fail(P, "tls", Some(started), e.into(), advice);
                list.skip(P, &later[1..], "no TLS");
                return;
            }
        }
    } else if ep.security == Security::Plain {
        list.skip(P, &["tls"], "security = \"plain\": no encryption (no password is sent)");
    }
    let Some(creds) = creds else {
        list.skip(P, &later[1..], "no credentials");
        return;
    };
    let started = Instant::now();
    let client = match Pop3Client::connect(ep, creds, MAX_MESSAGE).await {
        Ok(c) => c,
        Err(e) => {
            let advice = hint(h, &e);
            if ep.security == Security::StartTls && !is_login_error(&e) {
                list.fail(P, "starttls", None, e.into(), advice);
                list.skip(P, &later[1..], "no TLS");
            } else {
                if ep.security == Security::StartTls {
                    list.ok(
                        P,
                        "starttls",
                        None,
                        format!("upgraded with STLS; certificate verified for {}", ep.host),
                    );
                }
                list.fail(P, "authenticate", Some(started), e.into(), advice);
                list.skip(P, &later[2..], "not logged in");
            }
            return;
        }
    };
    if ep.security == Security::StartTls {
        list.ok(P, "starttls", None, format!("upgraded with STLS; certificate verified for {}", ep.host));
    }
    list.ok(P, "authenticate", Some(started), login_detail(creds));
    let mut client = client;
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
