//! `mailsync sync --via pop3` against a real Dovecot POP3: keep, delete and delete-after-days modes, byte-exact
//! downloads, a server left untouched in keep mode, crash safety of classic delete mode, and one copy per message
//! across IMAP and POP3.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{count, stored_pop3, World, PW_ENV};
use mailsync_testkit::corpus::{messages, Rng, SizeMix};
use mailsync_testkit::oracle::OraclePop3;
use mailsync_testkit::{fixture_messages, Flag, Profile};

fn pop3(w: &World, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--via", "pop3"];
    full.extend_from_slice(args);
    let lines = w.sync_json(&full);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.into_iter().next().unwrap()
}

fn seed_fixtures(w: &World) -> usize {
    let all = fixture_messages().unwrap();
    let flags: [&[Flag]; 3] = [&[Flag::Seen], &[], &[Flag::Flagged]];
    let v: Vec<(&[u8], &[Flag])> =
        all.iter().enumerate().map(|(i, (_, m))| (m.as_slice(), flags[i % 3])).collect();
    w.dovecot.seed("alice", "INBOX", &v).unwrap();
    v.len()
}

#[test]
fn keep_mode_downloads_byte_exact_and_leaves_the_server_unchanged() {
    let w = World::new(Profile::Dovecot);
    let n = seed_fixtures(&w);
    let flags_before = common::server_flags(&w.dovecot, "INBOX");
    let mut oracle = OraclePop3::login(&w.dovecot, "alice").unwrap();
    let server = oracle.retr_all().unwrap();
    oracle.quit().unwrap();

    let s = pop3(&w, &["--leave-on-server"]);
    assert_eq!(
        (s["listed"].as_u64(), s["new"].as_u64(), s["deleted_on_server"].as_u64()),
        (Some(n as u64), Some(n as u64), Some(0))
    );
    let stored = stored_pop3(&w.db());
    assert_eq!(stored.len(), server.len());
    for (uidl, bytes) in &server {
        assert!(stored[uidl] == *bytes, "uidl {uidl}: stored bytes differ from RETR");
    }
    assert_eq!(
        common::server_flags(&w.dovecot, "INBOX"),
        flags_before,
        "flags (\\Seen) changed on the server"
    );

    let again = pop3(&w, &[]);
    assert_eq!((again["new"].as_u64(), again["bytes"].as_u64()), (Some(0), Some(0)));

    w.dovecot.save("alice", "INBOX", b"From: late@example.org\r\nSubject: late\r\n\r\nlate\r\n").unwrap();
    let third = pop3(&w, &[]);
    assert_eq!(third["new"].as_u64(), Some(1));
    assert_eq!(stored_pop3(&w.db()).len(), n + 1);
}

#[test]
fn delete_mode_empties_the_server_and_keeps_everything_locally() {
    let w = World::new(Profile::Dovecot);
    let n = seed_fixtures(&w);
    let mut oracle = OraclePop3::login(&w.dovecot, "alice").unwrap();
    let server = oracle.retr_all().unwrap();
    oracle.quit().unwrap();
    let s = pop3(&w, &["--delete"]);
    assert_eq!((s["new"].as_u64(), s["deleted_on_server"].as_u64()), (Some(n as u64), Some(n as u64)));
    assert_eq!(w.dovecot.status("alice", "INBOX").unwrap().messages, 0);
    let stored = stored_pop3(&w.db());
    for (uidl, bytes) in &server {
        assert!(stored[uidl] == *bytes, "uidl {uidl} lost or changed");
    }
    let marked = count(
        &w.db(),
        "SELECT count(*) FROM locations WHERE protocol = 'pop3' AND deleted_on_server_at IS NOT NULL",
    );
    assert_eq!(marked, n as i64);
}

#[test]
fn delete_after_days_deletes_only_what_was_downloaded_long_enough_ago() {
    let w = World::new(Profile::Dovecot);
    let n = seed_fixtures(&w);
    // Day 0: downloaded, kept.
    let s = pop3(&w, &["--delete-after-days", "14"]);
    assert_eq!((s["new"].as_u64(), s["deleted_on_server"].as_u64()), (Some(n as u64), Some(0)));
    // Move the clock: the first ten downloads happened 20 days ago, the rest 3 days ago.
    let c = w.store();
    c.execute_batch(
        "UPDATE locations SET downloaded_at = downloaded_at - 3 * 86400 WHERE protocol = 'pop3';
         UPDATE locations SET downloaded_at = downloaded_at - 17 * 86400
           WHERE protocol = 'pop3' AND uidl IN (SELECT uidl FROM locations WHERE protocol = 'pop3' ORDER BY uidl LIMIT 10);",
    )
    .unwrap();
    drop(c);
    let s = pop3(&w, &["--delete-after-days", "14"]);
    assert_eq!((s["new"].as_u64(), s["deleted_on_server"].as_u64()), (Some(0), Some(10)));
    assert_eq!(w.dovecot.status("alice", "INBOX").unwrap().messages as usize, n - 10);
    let s = pop3(&w, &["--delete-after-days", "2"]);
    assert_eq!(s["deleted_on_server"].as_u64(), Some(n as u64 - 10));
    assert_eq!(w.dovecot.status("alice", "INBOX").unwrap().messages, 0);
    assert_eq!(stored_pop3(&w.db()).len(), n);
}

#[test]
fn dry_run_changes_neither_server_nor_store() {
    let w = World::new(Profile::Dovecot);
    let n = seed_fixtures(&w);
    let s = pop3(&w, &["--delete", "--dry-run"]);
    assert_eq!(
        (s["new"].as_u64(), s["deleted_on_server"].as_u64(), s["dry_run"].as_bool()),
        (Some(n as u64), Some(n as u64), Some(true))
    );
    assert_eq!(w.dovecot.status("alice", "INBOX").unwrap().messages as usize, n);
    assert!(!w.db().exists());
}

#[test]
fn edge_bytes_and_a_10_mb_message_survive_byte_exact() {
    let w = World::new(Profile::Dovecot);
    let mut big = b"From: big@example.org\r\nSubject: ten megabytes\r\n\r\n".to_vec();
    while big.len() < 10 * 1024 * 1024 {
        big.extend_from_slice(b".a line starting with a dot, and 8-bit bytes \xe9\xe8\xff in it\r\n");
    }
    let eight_bit = b"Subject: raw 8-bit\r\n\r\nGr\xfc\xdfe aus K\xf6ln\r\n.\r\n..\r\n".to_vec();
    let bare_lf = b"Subject: bare LF\n\nline one\n.line two\n".to_vec();
    w.dovecot.seed("alice", "INBOX", &[(&big, &[]), (&eight_bit, &[]), (&bare_lf, &[])]).unwrap();
    let mut oracle = OraclePop3::login(&w.dovecot, "alice").unwrap();
    let server = oracle.retr_all().unwrap();
    oracle.quit().unwrap();
    pop3(&w, &[]);
    let stored = stored_pop3(&w.db());
    assert_eq!(stored.len(), 3);
    for (uidl, bytes) in &server {
        assert!(stored[uidl] == *bytes, "{uidl} differs ({} vs {} bytes)", stored[uidl].len(), bytes.len());
    }
}

#[test]
fn imap_then_pop3_stores_each_message_once_with_two_locations() {
    let w = World::new(Profile::Dovecot);
    let n = seed_fixtures(&w) as i64;
    w.sync_json(&[]);
    let s = pop3(&w, &[]);
    assert_eq!(s["already_stored"].as_i64(), Some(n), "{s}");
    assert_eq!(count(&w.db(), "SELECT count(*) FROM messages"), n);
    assert_eq!(count(&w.db(), "SELECT count(*) FROM locations WHERE protocol = 'imap'"), n);
    assert_eq!(count(&w.db(), "SELECT count(*) FROM locations WHERE protocol = 'pop3'"), n);
    assert_eq!(
        count(
            &w.db(),
            "SELECT count(*) FROM (SELECT message_id FROM locations GROUP BY message_id HAVING count(*) = 2)"
        ),
        n
    );
}

#[test]
fn starttls_pop3_works_and_plaintext_is_refused() {
    let w = World::new(Profile::Dovecot);
    seed_fixtures(&w);
    let base = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\nca_file = \"{}\"\n\
         [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\n",
        w.dovecot.ca_file().display(),
        w.dovecot.ports().pop3
    );
    std::fs::write(w.config(), format!("{base}security = \"starttls\"\n")).unwrap();
    let s = pop3(&w, &[]);
    assert_eq!(s["new"].as_u64(), Some(24));
    std::fs::write(w.config(), format!("{base}security = \"plain\"\nallow_plaintext = true\n")).unwrap();
    let o = w.mailsync(&["sync", "--via", "pop3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(common::stderr(&o).contains("refusing to send a password"), "{}", common::stderr(&o));
}

#[test]
fn wrong_password_under_an_outlook_preset_explains_pop_is_off_by_default() {
    let w = World::new(Profile::Dovecot);
    let text = format!(
        "[accounts.t]\npreset = \"outlook\"\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\n\
         ca_file = \"{}\"\n[accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\n",
        w.dovecot.ca_file().display(),
        w.dovecot.ports().pop3s
    );
    std::fs::write(w.config(), text).unwrap();
    let o = w.mailsync_with_password(&["sync", "--via", "pop3"], "wrong");
    assert_eq!(o.status.code(), Some(3), "{}", common::stderr(&o));
    let e = common::stderr(&o);
    assert!(e.contains("POP access is off by default in Outlook.com") && e.contains("xoauth2"), "{e}");
    assert!(e.contains("[AUTH]") || e.contains("refused"), "{e}");
}

fn spawn_pop3_delete(w: &World) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .arg("--config")
        .arg(w.config())
        .arg("--db")
        .arg(w.db())
        .args(["--json", "sync", "--via", "pop3", "--delete"])
        .env(PW_ENV, w.dovecot.password("alice"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// UIDs (from Dovecot's UIDL format %08Xu%08Xv) of what the store holds over POP3.
fn stored_uids(w: &World) -> std::collections::BTreeSet<u32> {
    if !common::has_schema(&w.db()) {
        return Default::default();
    }
    stored_pop3(&w.db()).keys().map(|u| u32::from_str_radix(&u[..8], 16).unwrap()).collect()
}

#[test]
fn sigkill_during_delete_mode_never_loses_a_message() {
    const N: u64 = 1_000;
    let w = World::new(Profile::Dovecot);
    // Every UID ever put on the server; a run that gets to the end empties the server, and then a fresh
    // corpus goes in so that all 20 kills land inside a running delete-mode sync.
    let mut universe = std::collections::BTreeSet::new();
    let mut round = 0;
    let mut reseed = |w: &World, universe: &mut std::collections::BTreeSet<u32>| {
        let corpus = messages(7 + round, N, SizeMix::Small);
        round += 1;
        let next = w.dovecot.status("alice", "INBOX").unwrap().uidnext;
        w.dovecot
            .seed("alice", "INBOX", &corpus.iter().map(|m| (m.as_slice(), &[][..])).collect::<Vec<_>>())
            .unwrap();
        universe.extend(next..next + u32::try_from(N).unwrap());
    };
    reseed(&w, &mut universe);
    let mut rng = Rng::new(99);
    let (mut hits, mut attempts) = (0, 0);
    while hits < 20 {
        attempts += 1;
        assert!(attempts < 200, "could not land 20 kills inside a running sync");
        if w.dovecot.status("alice", "INBOX").unwrap().messages == 0 {
            reseed(&w, &mut universe);
        }
        let mut child = spawn_pop3_delete(&w);
        std::thread::sleep(Duration::from_millis(rng.range(0, 700)));
        if child.try_wait().unwrap().is_none() {
            hits += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // After every kill: nothing is missing from both the server and the store.
        let on_server: std::collections::BTreeSet<u32> =
            w.dovecot.messages("alice", "INBOX").unwrap().into_iter().map(|m| m.uid).collect();
        let local = stored_uids(&w);
        let missing: Vec<_> =
            universe.iter().filter(|u| !on_server.contains(u) && !local.contains(u)).collect();
        assert!(missing.is_empty(), "lost after a kill: {missing:?}");
    }
    let done = spawn_pop3_delete(&w).wait().unwrap();
    assert!(done.success());
    assert_eq!(w.dovecot.status("alice", "INBOX").unwrap().messages, 0);
    assert_eq!(stored_uids(&w), universe, "every message ever seeded is in the store");
    let n = i64::try_from(universe.len()).unwrap();
    assert_eq!(count(&w.db(), "SELECT count(*) FROM messages"), n);
    assert_eq!(count(&w.db(), "SELECT count(*) FROM locations WHERE protocol = 'pop3'"), n);
}

#[test]
fn apop_logs_in_without_sending_the_password() {
    let w = World::new(Profile::Dovecot);
    seed_fixtures(&w);
    let text = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\nca_file = \"{}\"\n\
         [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\napop = true\n",
        w.dovecot.ca_file().display(),
        w.dovecot.ports().pop3s
    );
    std::fs::write(w.config(), text).unwrap();
    let s = pop3(&w, &[]);
    assert_eq!(s["new"].as_u64(), Some(24));
    let o = w.mailsync_with_password(&["sync", "--via", "pop3"], "wrong");
    assert_eq!(o.status.code(), Some(3), "{}", common::stderr(&o));
    // The password never went over the wire, only its digest: Dovecot logged an APOP login.
    assert!(w.dovecot.log().contains("method=APOP"), "no APOP login in the server log");
}
