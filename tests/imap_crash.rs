//! Crash safety of the IMAP mirror: an initial sync of 2,000 messages killed with SIGKILL at 20 moments, re-run
//! each time, ends with every message present exactly once, byte-exact.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{World, PW_ENV};
use mailsync_testkit::corpus::{messages, Rng, SizeMix};
use mailsync_testkit::oracle::OracleImap;
use mailsync_testkit::{Flag, Profile};

const N: u64 = 2_000;

fn spawn_sync(w: &World) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .arg("--config")
        .arg(w.config())
        .arg("--db")
        .arg(w.db())
        .args(["--json", "sync"])
        .env(PW_ENV, w.dovecot.password("alice"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn remove_db(w: &World) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = w.db().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

fn count(w: &World, sql: &str) -> i64 {
    w.store().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn killed_at_random_moments(profile: Profile) {
    let w = World::new(profile);
    let corpus = messages(42, N, SizeMix::Small);
    let (inbox, archive) = corpus.split_at(1_500);
    let seen: &[Flag] = &[Flag::Seen];
    w.dovecot
        .seed("alice", "INBOX", &inbox.iter().map(|m| (m.as_slice(), seen)).collect::<Vec<_>>())
        .unwrap();
    w.dovecot
        .seed("alice", "Archive", &archive.iter().map(|m| (m.as_slice(), &[][..])).collect::<Vec<_>>())
        .unwrap();

    // How long a whole sync takes here, measured on a scratch database.
    let start = Instant::now();
    let full = spawn_sync(&w).wait_with_output().unwrap();
    assert!(full.status.success());
    let whole = start.elapsed();
    // And what a run costs before it downloads anything (a no-op re-sync).
    let start = Instant::now();
    assert!(spawn_sync(&w).wait().unwrap().success());
    let startup = start.elapsed();
    remove_db(&w);

    // Kill at a random moment of what is left to do, until 20 kills have hit a running sync. When a run
    // gets to the end first, start over from an empty store: every kill lands in some initial sync.
    let mut rng = Rng::new(2026);
    let mut hits = 0;
    let mut attempts = 0;
    while hits < 20 {
        attempts += 1;
        assert!(attempts < 200, "could not land 20 kills inside a running sync");
        let stored =
            if common::has_schema(&w.db()) { count(&w, "SELECT count(*) FROM locations") } else { 0 };
        let left = u64::try_from(i64::try_from(N).unwrap() - stored).unwrap_or(0);
        if left == 0 {
            remove_db(&w);
            continue;
        }
        let work = u64::try_from(whole.saturating_sub(startup).as_millis()).unwrap_or(1000) * left / N;
        let delay = rng.range(0, u64::try_from(startup.as_millis()).unwrap_or(50) + work);
        let mut child = spawn_sync(&w);
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            hits += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // After every kill the store is consistent and holds no duplicate.
        if w.db().exists() {
            let ok: String = w.store().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(ok, "ok");
        }
        if common::has_schema(&w.db()) {
            assert_eq!(count(&w, "SELECT count(*) - count(DISTINCT sha256) FROM messages"), 0);
            assert_eq!(
                count(&w, "SELECT count(*) - count(DISTINCT mailbox_id || '/' || uid) FROM locations"),
                0
            );
        }
    }

    let done = spawn_sync(&w).wait_with_output().unwrap();
    assert!(done.status.success());
    assert_eq!(count(&w, "SELECT count(*) FROM messages"), i64::try_from(N).unwrap());
    assert_eq!(
        count(&w, "SELECT count(*) FROM locations WHERE protocol = 'imap'"),
        i64::try_from(N).unwrap()
    );
    let mut oracle = OracleImap::login(&w.dovecot, "alice").unwrap();
    for folder in ["INBOX", "Archive"] {
        let server = oracle.fetch_all(folder).unwrap();
        let stored = w.stored(folder);
        assert_eq!(stored.len(), server.len(), "{folder}");
        for (uid, bytes) in server {
            assert!(stored[&uid].1 == bytes, "{folder} uid {uid} differs");
        }
    }
}

#[test]
fn sigkill_at_20_moments_then_rerun_gives_every_message_once_dovecot_profile() {
    killed_at_random_moments(Profile::Dovecot);
}

#[test]
fn sigkill_at_20_moments_then_rerun_gives_every_message_once_outlook_profile() {
    killed_at_random_moments(Profile::Outlook);
}
