//! `mailsync sync` with several accounts runs them at once, each on its own connection and store handle: every
//! account that can be synced is, whatever another account's trouble, and the exit code is the trouble's.

mod common;

use std::process::Command;

use common::{json_lines, World, PW_ENV};
use mailsync_testkit::Profile;

#[test]
fn every_account_that_can_be_synced_is_whatever_another_ones_trouble() {
    let a = World::new(Profile::Dovecot);
    let b = World::new(Profile::Outlook);
    for (w, tag) in [(&a, "a"), (&b, "b")] {
        let msgs: Vec<Vec<u8>> = (0..20)
            .map(|i| {
                format!("Subject: {tag} {i}\r\nMessage-ID: <{tag}{i}@x>\r\n\r\n{tag} body {i}\r\n")
                    .into_bytes()
            })
            .collect();
        let refs: Vec<(&[u8], &[mailsync_testkit::Flag])> =
            msgs.iter().map(|m| (m.as_slice(), &[][..])).collect();
        w.dovecot.seed("alice", "INBOX", &refs).unwrap();
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let account = |name: &str, var: &str, w: &World, port: u16| {
        format!(
            "[accounts.{name}]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{var}\"\nca_file = \"{}\"\n\
             [accounts.{name}.imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"tls\"\ntimeout = 5\n\n",
            w.dovecot.ca_file().display()
        )
    };
    let text = [
        account("a", PW_ENV, &a, a.dovecot.ports().imaps),
        account("down", PW_ENV, &a, closed),
        account("b", "MAILSYNC_TEST_PASSWORD_B", &b, b.dovecot.ports().imaps),
    ]
    .concat();
    std::fs::write(a.config(), text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .arg("--config")
        .arg(a.config())
        .arg("--db")
        .arg(a.db())
        .args(["--json", "sync"])
        .env(PW_ENV, a.dovecot.password("alice"))
        .env("MAILSYNC_TEST_PASSWORD_B", b.dovecot.password("alice"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "the unreachable account's network error: {stderr}");
    assert!(stderr.contains("down"), "the failing account is named: {stderr}");
    let lines = json_lines(&o.stdout);
    for name in ["a", "b"] {
        let inbox = lines
            .iter()
            .find(|v| v["account"] == name && v["folder"] == "INBOX")
            .unwrap_or_else(|| panic!("no INBOX summary for {name}: {lines:?}\n{stderr}"));
        assert_eq!(inbox["new"], 20, "{name}");
    }
    let per_account = |name: &str| {
        common::count(
            &a.db(),
            &format!(
                "SELECT count(*) FROM locations l JOIN accounts c ON c.id = l.account_id WHERE c.name = '{name}'"
            ),
        )
    };
    assert_eq!((per_account("a"), per_account("b"), per_account("down")), (20, 20, 0));
}
