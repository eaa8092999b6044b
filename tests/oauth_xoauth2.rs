//! XOAUTH2 against a real server: Dovecot's oauth2 passdb validates tokens signed with the harness's key.
//! `sync` over IMAP with `token_command` logs in with SASL-IR; a wrong or expired token is refused with
//! Dovecot's JSON error decoded into words and exit 3; `check` logs in over POP3 with the two-step AUTH
//! XOAUTH2 that Outlook requires.

mod oauth_support;

use std::time::Duration;

use mailsync_testkit::oauth2::sign_jwt;
use mailsync_testkit::{Flag, Profile};
use oauth_support::{code, json_lines, stderr, step, World};

fn imap_only(w: &World) -> String {
    format!(
        "[accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = 5\n",
        w.dovecot.ports().imaps
    )
}

fn with_token(w: &World, token: &str) {
    // A token file read by token_command keeps the token out of the config text.
    let file = w.dir.path().join("token.txt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    w.write(&format!("auth = \"xoauth2\"\ntoken_command = \"cat {}\"", file.display()), &imap_only(w));
}

#[test]
fn sync_over_imap_logs_in_with_a_valid_token() {
    let w = World::new(Profile::Outlook, false);
    w.dovecot
        .seed("alice", "INBOX", &[(b"Subject: oauth\r\n\r\nhello\r\n".as_slice(), &[Flag::Seen][..])])
        .unwrap();
    // The brief's own form: the token right in the command.
    w.write(&format!("auth = \"xoauth2\"\ntoken_command = \"echo {}\"", w.token()), &imap_only(&w));
    let o = w.run(&["--json", "sync"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    let inbox = lines.iter().find(|v| v["folder"] == "INBOX").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(inbox["new"], 1);
}

#[test]
fn a_token_signed_by_someone_else_is_refused_in_words_with_exit_3() {
    let w = World::new(Profile::Outlook, false);
    let forged = sign_jwt(
        b"a key that is not the server's !!",
        &serde_json::json!({"sub": "alice", "exp": 4102444800u64}),
    );
    with_token(&w, &forged);
    let o = w.run(&["sync"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("IMAP login refused for alice@example.test"), "{e}");
    assert!(e.contains("the server says the access token is invalid or expired (status 401)"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(!e.contains(&forged), "the token leaked into the error");
}

#[test]
fn an_expired_token_is_refused_in_words_with_exit_3() {
    let w = World::new(Profile::Outlook, false);
    let expired = w.dovecot.mint_expired_token("alice", Duration::from_secs(300));
    with_token(&w, &expired);
    let o = w.run(&["sync"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid or expired (status 401)"), "{}", stderr(&o));
}

#[test]
fn pop3_takes_xoauth2_in_two_steps_and_imap_in_one() {
    let w = World::new(Profile::Outlook, false);
    w.dovecot.seed("alice", "INBOX", &[(b"Subject: p\r\n\r\np\r\n".as_slice(), &[][..])]).unwrap();
    let file = w.dir.path().join("token.txt");
    std::fs::write(&file, format!("{}\n", w.token())).unwrap();
    w.write(&format!("auth = \"xoauth2\"\ntoken_command = \"cat {}\"", file.display()), &w.endpoints());
    let o = w.run(&["--json", "check", "t"]);
    assert_eq!(code(&o), 0, "{}\n{}", oauth_support::stdout(&o), stderr(&o));
    let lines = json_lines(&o);
    for p in ["imap", "pop3"] {
        let s = step(&lines, p, "authenticate");
        assert_eq!(s["result"], "ok", "{s}");
        assert_eq!(s["detail"], "OAuth2 token (XOAUTH2) accepted for alice@example.test", "{s}");
    }
    assert_eq!(step(&lines, "pop3", "mailbox")["detail"], "STAT: 1 messages, 17 bytes");
    // The Outlook profile's list, with AUTH=XOAUTH2 where Exchange has it.
    let caps = step(&lines, "imap", "capabilities")["detail"].as_str().unwrap_or_default().to_string();
    assert_eq!(caps, mailsync_testkit::EXCHANGE_CAPABILITIES_XOAUTH2);

    // And a refused token over POP3 is exit 3 with the decoded reason.
    std::fs::write(&file, format!("{}\n", w.dovecot.mint_expired_token("alice", Duration::from_secs(60))))
        .unwrap();
    let o = w.run(&["--json", "check", "t"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let lines = json_lines(&o);
    let pop = step(&lines, "pop3", "authenticate");
    assert_eq!(pop["result"], "failed", "{pop}");
    assert!(pop["detail"].as_str().unwrap_or_default().contains("POP3 login refused"), "{pop}");
}
