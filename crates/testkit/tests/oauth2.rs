//! The harness's oauth2 passdb proves itself: a token minted with the instance's key logs in over IMAP and POP3
//! with XOAUTH2; an expired token, a token signed with another key and a token for someone else are refused
//! the way Outlook refuses them (a base64 JSON challenge, then NO); the Outlook profile advertises AUTH=XOAUTH2
//! exactly where Exchange does; passwords keep working beside it.

use std::io::{BufRead, Write};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mailsync_testkit::oauth2::sign_jwt;
use mailsync_testkit::oracle::{connect_tls, OracleImap};
use mailsync_testkit::{Dovecot, DovecotOptions, Profile, EXCHANGE_CAPABILITIES_XOAUTH2};

fn oauth_dovecot(profile: Profile) -> Dovecot {
    Dovecot::start(DovecotOptions { profile, oauth2: true, ..DovecotOptions::default() })
        .expect("start dovecot")
}

fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

fn read_line(s: &mut impl BufRead) -> String {
    let mut l = String::new();
    s.read_line(&mut l).expect("read a line");
    l
}

/// `AUTHENTICATE XOAUTH2` with SASL-IR over IMAPS; every line the server sent up to the tagged answer.
fn imap_xoauth2(d: &Dovecot, user: &str, token: &str) -> Vec<String> {
    let mut s = connect_tls(&d.ca().ca_pem, d.ports().imaps).unwrap();
    let greeting = read_line(&mut s);
    assert!(greeting.starts_with("* OK"), "{greeting}");
    s.get_mut().write_all(format!("a AUTHENTICATE XOAUTH2 {}\r\n", xoauth2(user, token)).as_bytes()).unwrap();
    let mut lines = Vec::new();
    loop {
        let l = read_line(&mut s);
        if l.starts_with("+ ") {
            // The error challenge is answered with an empty line to get the final NO.
            s.get_mut().write_all(b"\r\n").unwrap();
        }
        let done = l.starts_with("a ");
        lines.push(l);
        if done {
            return lines;
        }
    }
}

#[test]
fn a_minted_token_logs_in_over_imap_with_xoauth2() {
    let d = oauth_dovecot(Profile::Dovecot);
    assert!(d.oauth2_enabled());
    let token = d.mint_token("alice", Duration::from_secs(3600));
    let lines = imap_xoauth2(&d, "alice", &token);
    assert!(lines.last().unwrap().starts_with("a OK"), "{lines:?}");
}

#[test]
fn refused_tokens_get_the_json_challenge_then_no() {
    let d = oauth_dovecot(Profile::Dovecot);
    let expired = d.mint_expired_token("alice", Duration::from_secs(120));
    let other_key = sign_jwt(
        b"not the instance key, 32 bytes!!",
        &serde_json::json!({"sub": "alice", "exp": 4102444800u64}),
    );
    let someone_else = d.mint_token("bob", Duration::from_secs(3600));
    for (what, token) in [("expired", expired), ("other key", other_key), ("other user", someone_else)] {
        let lines = imap_xoauth2(&d, "alice", &token);
        let challenge =
            lines.iter().find_map(|l| l.strip_prefix("+ ")).unwrap_or_else(|| panic!("{what}: {lines:?}"));
        let json = STANDARD.decode(challenge.trim()).unwrap();
        assert_eq!(json, br#"{"status":"401","schemes":"bearer","scope":"mail"}"#, "{what}");
        assert!(lines.last().unwrap().starts_with("a NO [AUTHENTICATIONFAILED]"), "{what}: {lines:?}");
    }
}

#[test]
fn pop3_takes_the_two_step_xoauth2() {
    let d = oauth_dovecot(Profile::Dovecot);
    let login = |token: &str| {
        let mut s = connect_tls(&d.ca().ca_pem, d.ports().pop3s).unwrap();
        assert!(read_line(&mut s).starts_with("+OK"));
        s.get_mut().write_all(b"AUTH XOAUTH2\r\n").unwrap();
        let go = read_line(&mut s);
        assert!(go.starts_with('+') && !go.starts_with("+OK"), "{go}");
        s.get_mut().write_all(format!("{}\r\n", xoauth2("alice", token)).as_bytes()).unwrap();
        let mut answer = read_line(&mut s);
        if answer.starts_with("+ ") {
            s.get_mut().write_all(b"\r\n").unwrap();
            answer = read_line(&mut s);
        }
        answer
    };
    let ok = login(&d.mint_token("alice", Duration::from_secs(600)));
    assert!(ok.starts_with("+OK"), "{ok}");
    let refused = login(&d.mint_expired_token("alice", Duration::from_secs(600)));
    assert!(refused.starts_with("-ERR [AUTH]"), "{refused}");
}

#[test]
fn outlook_profile_with_oauth2_advertises_xoauth2_after_plain_and_passwords_still_work() {
    let d = oauth_dovecot(Profile::Outlook);
    let mut imap = OracleImap::login(&d, "alice").expect("password login beside the oauth2 passdb");
    assert_eq!(imap.capability().unwrap(), EXCHANGE_CAPABILITIES_XOAUTH2);
    // doveadm's user lookups go through the password passdb's `none` mechanism.
    d.save("alice", "INBOX", b"Subject: x\r\n\r\nx\r\n").unwrap();
    assert_eq!(imap.examine("INBOX").unwrap(), 1);
}

#[test]
fn without_oauth2_the_mechanism_is_not_offered() {
    let d = Dovecot::start_default().unwrap();
    assert!(!d.oauth2_enabled());
    let token = d.mint_token("alice", Duration::from_secs(60));
    let lines = imap_xoauth2(&d, "alice", &token);
    assert!(lines.last().unwrap().starts_with("a NO"), "{lines:?}");
}
