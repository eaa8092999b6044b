//! Every way an IMAP sync can fail gets its own clear one-line error and exit code (CLI.md: 1 config,
//! 2 network/TLS, 3 auth, 4 protocol), never a panic or a hang, and the store stays consistent.
//! Real Dovecot for what it can do (passwords, certificates, ports, STARTTLS); a scripted server for faults.

mod common;

use std::time::{Duration, Instant};

use common::{stderr, World};
use mailsync_testkit::scripted::{Conn, ScriptedServer};
use mailsync_testkit::{Flag, Profile, TestCa};

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn seeded() -> World {
    let w = World::new(Profile::Dovecot);
    w.dovecot
        .seed("alice", "INBOX", &[(b"Subject: one\r\n\r\n1\r\n".as_slice(), &[Flag::Seen][..])])
        .unwrap();
    w
}

fn imap_table(w: &World, port: u16, security: &str, extra: &str) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"{security}\"\nca_file = \"{}\"\n{extra}",
        w.dovecot.ca_file().display()
    )
}

#[test]
fn wrong_password_exits_3_and_names_the_user() {
    let w = seeded();
    let o = w.mailsync_with_password(&["sync"], "not-the-password");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("login refused for alice") && e.lines().count() == 1, "{e}");
    assert!(!e.contains("not-the-password"), "the password leaked into the error");
}

#[test]
fn untrusted_ca_exits_2_and_says_so() {
    let w = seeded();
    let t = format!("host = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\n", w.dovecot.ports().imaps);
    w.write_raw_imap_config("", &t);
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("not trusted") && stderr(&o).contains("ca_file"), "{}", stderr(&o));
}

#[test]
fn starttls_port_works_with_security_starttls() {
    let w = seeded();
    w.write_raw_imap_config("", &imap_table(&w, w.dovecot.ports().imap, "starttls", ""));
    let lines = w.sync_json(&[]);
    assert_eq!(common::total(&lines, "new"), 1);
}

#[test]
fn tls_on_a_starttls_port_exits_2_with_a_hint() {
    let w = seeded();
    w.write_raw_imap_config("", &imap_table(&w, w.dovecot.ports().imap, "tls", "timeout = 5"));
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("try security = \"starttls\""), "{}", stderr(&o));
}

#[test]
fn starttls_on_a_tls_port_times_out_with_a_hint() {
    let w = seeded();
    w.write_raw_imap_config("", &imap_table(&w, w.dovecot.ports().imaps, "starttls", "timeout = 2"));
    let start = Instant::now();
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("try security = \"tls\""), "{}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[test]
fn plaintext_never_carries_a_password() {
    let w = seeded();
    w.write_raw_imap_config("", &imap_table(&w, w.dovecot.ports().imap, "plain", "allow_plaintext = true"));
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("refusing to send a password over an unencrypted connection"),
        "{}",
        stderr(&o)
    );
}

fn scripted_config(w: &World, server: &ScriptedServer, extra: &str) {
    scripted_config_with(w, server, "", extra);
}

fn scripted_config_with(w: &World, server: &ScriptedServer, account_extra: &str, extra: &str) {
    let t = format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\n{extra}",
        server.port(),
        server.ca_file().display()
    );
    w.write_raw_imap_config(account_extra, &t);
}

#[test]
fn certificate_for_another_name_exits_2_naming_the_mismatch() {
    let w = World::new(Profile::Dovecot);
    let ca = TestCa::generate_for("other CA", &["mail.example.test"], false).unwrap();
    let server = ScriptedServer::tls_with(ca, |mut c: Conn| {
        c.send(b"* OK ready\r\n");
        let _ = c.line();
    })
    .unwrap();
    scripted_config(&w, &server, "");
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("is not valid for 127.0.0.1"), "{}", stderr(&o));
}

/// Plays a minimal IMAP server with one message in INBOX, then does `fault` when the body is requested.
fn imap_until_body(mut c: Conn, fault: impl FnOnce(&mut Conn, &str)) {
    c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] scripted\r\n");
    while let Some(line) = c.line() {
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let cmd = rest.to_ascii_uppercase();
        if cmd.starts_with("LOGIN") {
            c.send(format!("{tag} OK [CAPABILITY IMAP4rev1] logged in\r\n").as_bytes());
        } else if cmd.starts_with("CAPABILITY") {
            c.send(format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n").as_bytes());
        } else if cmd.starts_with("LIST") {
            c.send(format!("* LIST () \"/\" INBOX\r\n{tag} OK done\r\n").as_bytes());
        } else if cmd.starts_with("EXAMINE") {
            c.send(
                format!("* 1 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 2] n\r\n{tag} OK [READ-ONLY] done\r\n")
                    .as_bytes(),
            );
        } else if cmd.starts_with("UID FETCH") && !cmd.contains("BODY") {
            c.send(format!("* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n{tag} OK done\r\n").as_bytes());
        } else if cmd.starts_with("UID FETCH") {
            fault(&mut c, tag);
            return;
        } else if cmd.starts_with("LOGOUT") {
            c.send(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes());
            return;
        } else {
            c.send(format!("{tag} BAD unexpected\r\n").as_bytes());
        }
    }
}

fn assert_store_consistent_and_empty(w: &World) {
    if w.db().exists() {
        let c = w.store();
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        let n: i64 = c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "a partial message was stored");
    }
}

#[test]
fn server_closing_mid_literal_exits_2_and_stores_nothing_partial() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::tls(|c| {
        imap_until_body(c, |c, _tag| {
            c.send(b"* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {1000}\r\nFrom: a@b\r\nSubject: cut");
        })
    })
    .unwrap();
    scripted_config(&w, &server, "timeout = 10");
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("closed the connection"), "{}", stderr(&o));
    assert_store_consistent_and_empty(&w);
}

#[test]
fn a_silent_server_times_out_with_exit_2() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::tls(|c| {
        imap_until_body(c, |c, _tag| {
            // Say nothing, but keep the connection open until the client gives up.
            let _ = c.line();
        })
    })
    .unwrap();
    // A silent server is tried again (resume.rs covers that); here, the timeout itself.
    scripted_config_with(&w, &server, "reconnect_attempts = 0", "timeout = 2");
    let start = Instant::now();
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
    assert_store_consistent_and_empty(&w);
}

#[test]
fn a_huge_literal_is_refused_without_allocating() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::tls(|c| {
        imap_until_body(c, |c, _tag| {
            c.send(b"* 1 FETCH (UID 1 BODY[] {99999999999999}\r\nxx");
            let _ = c.line();
        })
    })
    .unwrap();
    scripted_config(&w, &server, "timeout = 10");
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("literal"), "{}", stderr(&o));
    assert_store_consistent_and_empty(&w);
}

#[test]
fn a_missing_starttls_is_fatal() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::plain(|mut c, _| {
        c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] no tls here\r\n");
        while c.line().is_some() {}
    })
    .unwrap();
    let t = format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nca_file = \"{}\"\ntimeout = 5",
        server.port(),
        server.ca_file().display()
    );
    w.write_raw_imap_config("", &t);
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not offer STARTTLS; refusing to continue without TLS"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_refused_starttls_is_fatal() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::plain(|mut c, _| {
        c.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
        if let Some(line) = c.line() {
            let tag = line.split(' ').next().unwrap_or("*").to_string();
            c.send(format!("{tag} NO STARTTLS is broken today\r\n").as_bytes());
        }
        while c.line().is_some() {}
    })
    .unwrap();
    let t = format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nca_file = \"{}\"\ntimeout = 5",
        server.port(),
        server.ca_file().display()
    );
    w.write_raw_imap_config("", &t);
    let o = w.mailsync(&["sync"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("STARTTLS is broken today"), "{}", stderr(&o));
}

#[test]
fn throttling_is_honoured_and_the_sync_resumes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    // First connection: Exchange's throttling NO, then BYE. The client must wait, reconnect to the same
    // port and resume, so one listener serves two connections.
    let w = World::new(Profile::Dovecot);
    let served = Arc::new(AtomicUsize::new(0));
    let s2 = served.clone();
    let server = ScriptedServer::tls_many(2, move |c| {
        let n = s2.fetch_add(1, Ordering::SeqCst);
        imap_until_body(c, move |c, tag| {
            if n == 0 {
                c.send(format!("{tag} NO Request is throttled. Suggested Backoff Time: 300 milliseconds\r\n* BYE throttled\r\n").as_bytes());
            } else {
                let body = b"Subject: after backoff\r\n\r\nok\r\n";
                c.send(format!("* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {{{}}}\r\n", body.len()).as_bytes());
                c.send(body);
                c.send(format!(")\r\n{tag} OK done\r\n").as_bytes());
                while let Some(l) = c.line() {
                    let t = l.split(' ').next().unwrap_or("*").to_string();
                    if l.to_ascii_uppercase().contains("LOGOUT") {
                        c.send(format!("* BYE bye\r\n{t} OK done\r\n").as_bytes());
                        return;
                    }
                    c.send(format!("{t} OK done\r\n").as_bytes());
                }
            }
        })
    })
    .unwrap();
    scripted_config(&w, &server, "timeout = 10");
    let start = Instant::now();
    let lines = w.sync_json(&[]);
    assert!(start.elapsed() >= Duration::from_millis(300), "did not wait the suggested back-off");
    assert_eq!(served.load(Ordering::SeqCst), 2);
    assert_eq!(common::total(&lines, "new"), 1);
}

/// Exchange lists UIDs that `UID FETCH` then returns nothing for: the sync records them as gaps, stores the
/// rest, succeeds and says so; the next sync tries the gap once more, and after that it waits for its back-off
/// (reported, not asked for again on every run).
#[test]
fn a_uid_that_fetch_never_returns_is_a_gap_retried_with_a_back_off() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let w = World::new(Profile::Outlook);
    let body_requests = Arc::new(AtomicUsize::new(0));
    let seen = body_requests.clone();
    let server = ScriptedServer::tls_many(3, move |mut c: Conn| {
        c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] scripted Exchange\r\n");
        while let Some(line) = c.line() {
            let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let cmd = rest.to_ascii_uppercase();
            let reply = if cmd.starts_with("LOGIN") {
                format!("{tag} OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in\r\n")
            } else if cmd.starts_with("CAPABILITY") {
                format!("* CAPABILITY IMAP4rev1 UIDPLUS\r\n{tag} OK done\r\n")
            } else if cmd.starts_with("LIST") {
                format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n")
            } else if cmd.starts_with("EXAMINE") {
                format!("* 2 EXISTS\r\n* OK [UIDVALIDITY 9] v\r\n* OK [UIDNEXT 3] n\r\n{tag} OK [READ-ONLY] done\r\n")
            } else if cmd.starts_with("UID FETCH") && !cmd.contains("BODY") {
                format!("* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 2 FETCH (UID 2 FLAGS ())\r\n{tag} OK done\r\n")
            } else if cmd.starts_with("UID FETCH") {
                seen.fetch_add(1, Ordering::SeqCst);
                // Only UID 1 comes back; UID 2 is one of Exchange's ghosts.
                let body = b"Subject: real\r\n\r\nhere\r\n";
                let mut r = format!("* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {{{}}}\r\n", body.len()).into_bytes();
                r.extend_from_slice(body);
                r.extend_from_slice(format!(")\r\n{tag} OK FETCH completed\r\n").as_bytes());
                c.send(&r);
                continue;
            } else if cmd.starts_with("LOGOUT") {
                c.send(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes());
                break;
            } else {
                format!("{tag} OK done\r\n")
            };
            c.send(reply.as_bytes());
        }
    })
    .unwrap();
    scripted_config(&w, &server, "timeout = 10");
    let lines = w.sync_json(&[]);
    let inbox = common::summary(&lines, "INBOX");
    assert_eq!((inbox["new"].as_u64(), inbox["gaps"].as_u64()), (Some(1), Some(1)), "{inbox}");
    let recorded = |w: &World| -> (i64, i64) {
        w.store()
            .query_row("SELECT count(*), max(attempts) FROM unfetchable WHERE uid = 2", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
    };
    assert_eq!(recorded(&w), (1, 1));
    // The next sync tries it once more, and fails neither.
    let again = w.sync_json(&[]);
    assert_eq!((common::total(&again, "new"), common::total(&again, "gaps")), (0, 1));
    assert_eq!(body_requests.load(Ordering::SeqCst), 2, "the gap was not tried again");
    assert_eq!(recorded(&w), (1, 2));
    // Then it waits for its back-off: reported, not asked for.
    let third = w.sync_json(&[]);
    assert_eq!(common::total(&third, "gaps_waiting"), 1, "{third:?}");
    assert_eq!(body_requests.load(Ordering::SeqCst), 2, "the gap was asked for before its back-off ran out");
}
