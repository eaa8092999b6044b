//! The SMTP part of `mailsync check`: resolve, connect, TLS (implicit) or greeting, EHLO and STARTTLS
//! (certificate verified either way), the extensions offered after TLS, AUTH (PLAIN/LOGIN with a password,
//! XOAUTH2 with a token), and with `--send-test` a test message to the account's own address. One connection,
//! made by the engine's SMTP client: the same time limits, rate floor and line caps as a sync.
//!
//! Owns the order of the SMTP steps and the test message. Must never: authenticate on an unencrypted
//! connection, or send mail anywhere but to the account's own address.
//! RFC 5321 (SMTP), RFC 5322 (the test message), RFC 6409 (submission), RFC 3207 (STARTTLS), RFC 4954 (AUTH),
//! RFC 8314 (implicit TLS).

use std::time::Instant;

use mailsync_engine::smtp::SmtpClient;
use mailsync_engine::{Credentials, Endpoint, EngineError, StepLog};
use mailsync_proto::smtp::Extensions;

use super::hints::{hint, HintCtx};
use super::{expected_steps, record_connection, Checklist};

const P: &str = "smtp";

/// Runs the SMTP steps; with `send_test`, also sends a test message to the account's own address.
pub async fn check(
    list: &mut Checklist,
    h: &HintCtx<'_>,
    ep: &Endpoint,
    creds: Option<&Credentials>,
    send_test: bool,
) {
    let mut later: Vec<&'static str> = vec!["capabilities", "authenticate"];
    if send_test {
        later.push("send test");
    }
    let expected = expected_steps(ep.security, Some("ehlo"), false);
    let mut log = StepLog::default();
    let result = SmtpClient::connect_with(ep, None, &mut log).await;
    let Some(mut conn) = record_connection(list, h, &expected, &log, result, &later) else { return };
    list.ok(P, "capabilities", None, features(conn.extensions()));
    let Some(creds) = creds else {
        list.skip(P, &later[1..], "no credentials");
        conn.quit().await;
        return;
    };
    let started = Instant::now();
    if let Err(e) = conn.login(creds).await {
        fail(list, h, "authenticate", Some(started), e);
        if send_test {
            list.skip(P, &["send test"], "not logged in");
        }
        conn.quit().await;
        return;
    }
    list.ok(P, "authenticate", Some(started), creds.accepted());
    if send_test {
        let started = Instant::now();
        match send(&mut conn, creds.user(), h.account).await {
            Ok(detail) => list.ok(P, "send test", Some(started), detail),
            Err(e) => fail(list, h, "send test", Some(started), e),
        }
    }
    conn.quit().await;
}

fn fail(list: &mut Checklist, h: &HintCtx<'_>, step: &'static str, started: Option<Instant>, e: EngineError) {
    let advice = hint(h, &e);
    list.fail(P, step, started, e.into(), advice);
}

/// The extensions that matter here, as EHLO listed them after TLS.
fn features(ext: &Extensions) -> String {
    let mut out: Vec<String> =
        ["STARTTLS", "8BITMIME", "SMTPUTF8"].into_iter().filter(|k| ext.has(k)).map(str::to_owned).collect();
    let mechs: Vec<&str> = ["PLAIN", "LOGIN", "XOAUTH2"].into_iter().filter(|m| ext.has_auth(m)).collect();
    if mechs.is_empty() {
        out.push("no AUTH".to_owned());
    } else {
        out.push(format!("AUTH {}", mechs.join(" ")));
    }
    out.join(", ")
}

async fn send(conn: &mut SmtpClient, user: &str, account: &str) -> Result<String, EngineError> {
    if !is_address(user) {
        return Err(EngineError::Config(format!(
            "user {user:?} is not an address a test message can be sent to"
        )));
    }
    let message = test_message(user, account, time::OffsetDateTime::now_utc());
    let reply = conn.send(user, user, message.as_bytes()).await?;
    Ok(format!("sent to {user}: {}", reply.text()))
}

/// A plain `local@domain` with nothing that would need quoting in a header or an envelope.
fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    let ok =
        |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(c));
    ok(local) && ok(domain)
}

/// The test message (RFC 5322): from and to the account's own address.
fn test_message(user: &str, account: &str, now: time::OffsetDateTime) -> String {
    let date = now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
    let stamp = now.unix_timestamp();
    format!(
        "From: \"mailsync check\" <{user}>\r\nTo: {user}\r\nSubject: mailsync check {account}: test message\r\n\
         Date: {date}\r\nMessage-ID: <mailsync-check.{stamp}.{}@mailsync.invalid>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
         This message was sent by `mailsync check {account} --send-test` (Unix time {stamp}).\r\n\
         It proves that the account's SMTP settings can send mail. You can delete it.\r\n",
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_message_has_the_headers_a_server_wants() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let m = test_message("me@example.org", "w", now);
        assert!(m.starts_with("From: \"mailsync check\" <me@example.org>\r\nTo: me@example.org\r\n"), "{m}");
        assert!(m.contains("\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), "{m}");
        assert!(m.contains("\r\nSubject: mailsync check w: test message\r\n"), "{m}");
        assert!(m.lines().all(|l| l.len() < 200));
        assert!(
            is_address("me@example.org") && !is_address("me") && !is_address("a b@c") && !is_address("<a@b>")
        );
    }
}
