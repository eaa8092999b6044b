//! A secret never shows: not on stdout with `--json`, not in the logs at `-vv`, not in `account show`, not in
//! the database. Checked for a password (password_env) and for a stored OAuth2 sign-in (access token, refresh
//! token, device code) across `auth login`, `check --send-test`, `sync` over IMAP and POP3, and `account show`.

mod oauth_support;

use mailsync_testkit::{Flag, Profile};
use oauth_support::{code, device_code, granted, stderr, IdentityServer, World, PW_ENV};

fn seed(w: &World) {
    w.dovecot
        .seed("alice", "INBOX", &[(b"Subject: secret test\r\n\r\nbody\r\n".as_slice(), &[Flag::Seen][..])])
        .unwrap();
}

/// Everything the runs printed, and every byte of the database files.
fn exposure(w: &World, runs: &[std::process::Output]) -> (String, Vec<u8>) {
    let mut text = String::new();
    for o in runs {
        text.push_str(&String::from_utf8_lossy(&o.stdout));
        text.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    let mut db = Vec::new();
    let dir = w.db().parent().unwrap().to_path_buf();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("mail.db")) {
            db.extend(std::fs::read(&p).unwrap());
        }
    }
    assert!(!db.is_empty(), "no database was written");
    (text, db)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_password_stays_out_of_output_logs_account_show_and_the_database() {
    let w = World::new(Profile::Dovecot, true);
    seed(&w);
    w.write_password_account();
    let secret = w.password();
    let runs = vec![
        w.run(&["-vv", "--json", "check", "t", "--send-test"]),
        w.run(&["-vv", "--json", "sync"]),
        w.run(&["-vv", "--json", "sync", "--via", "pop3"]),
        w.run(&["-vv", "account", "show", "t"]),
        w.run(&["-vv", "--json", "account", "show", "t"]),
    ];
    for o in &runs {
        assert_eq!(code(o), 0, "{}", stderr(o));
    }
    let (text, db) = exposure(&w, &runs);
    assert!(text.contains("DEBUG"), "-vv must log at debug level");
    assert!(text.contains(PW_ENV), "account show names where the password comes from");
    assert!(!text.contains(&secret), "the password leaked into the output or logs");
    assert!(!contains(&db, &secret), "the password leaked into the database");
}

#[test]
fn tokens_stay_out_of_output_logs_account_show_and_the_database() {
    let w = World::new(Profile::Outlook, true);
    seed(&w);
    let access = w.token();
    let refresh = "REFRESH-SECRET-4f2a9c";
    let server = IdentityServer::start(vec![device_code(1, 900), granted(&access, refresh, 3600)]);
    w.write(
        &format!("auth = \"xoauth2\"\nclient_id = \"app-id-1\"\nauthority = \"{}\"", server.authority()),
        &w.endpoints(),
    );
    let runs = vec![
        w.run(&["-vv", "auth", "login", "t"]),
        w.run(&["-vv", "--json", "check", "t", "--send-test"]),
        w.run(&["-vv", "--json", "sync"]),
        w.run(&["-vv", "--json", "sync", "--via", "pop3"]),
        w.run(&["-vv", "account", "show", "t"]),
        w.run(&["-vv", "--json", "account", "show", "t"]),
    ];
    for o in &runs {
        assert_eq!(code(o), 0, "{}", stderr(o));
    }
    let (text, db) = exposure(&w, &runs);
    assert!(text.contains("DEBUG"), "-vv must log at debug level");
    for (what, secret) in [
        ("access token", access.as_str()),
        ("refresh token", refresh),
        ("device code", "DEVICE-CODE-never-shown"),
    ] {
        assert!(!text.contains(secret), "the {what} leaked into the output or logs");
        assert!(!contains(&db, secret), "the {what} leaked into the database");
    }
    // It is in the one place it belongs: the 0600 token file.
    let stored = std::fs::read_to_string(w.token_file("t")).unwrap();
    assert!(stored.contains(refresh));
}
