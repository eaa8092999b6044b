//! `mailsync watch` against real Dovecots: new mail in a watched folder is stored within 2 s (IDLE), in any
//! other folder by the next sweep; a server restart, tokens that expire every few seconds and a config
//! reloaded on SIGHUP are got past without a failed sync; a sync run by hand meanwhile is waited for, not
//! failed; SIGTERM stops it within 2 s with the store consistent; two accounts on two servers are watched at
//! once; POP3 accounts are polled.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{stored, stored_pop3, World, PW_ENV};
use mailsync_testkit::oauth2::sign_jwt;
use mailsync_testkit::{Dovecot, DovecotOptions, Profile};
use serde_json::Value;

/// A running `mailsync --json watch`, its events collected as they come.
struct Watcher {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl Watcher {
    fn start(config: &Path, db: &Path, password: &str, args: &[&str]) -> Watcher {
        Watcher::start_with(config, db, &[(PW_ENV, password)], args)
    }

    fn start_with(config: &Path, db: &Path, env: &[(&str, &str)], args: &[&str]) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailsync"))
            .arg("--config")
            .arg(config)
            .arg("--db")
            .arg(db)
            .args(["--json", "watch"])
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let e = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                e.lock().unwrap().push(v);
            }
        });
        let s = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = s.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Watcher { child, events, stderr }
    }

    /// Waits until an event matches `pred`; panics (with what was seen) after `limit`.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(v) = self.events.lock().unwrap().iter().find(|v| pred(v)) {
                return v.clone();
            }
            assert!(
                start.elapsed() < limit,
                "no {what} within {limit:?}: {:#?}\n{}",
                self.events(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the events so far satisfy `pred`; panics (with what was seen) after `limit`.
    fn wait_until(&self, what: &str, limit: Duration, pred: impl Fn(&[Value]) -> bool) {
        let start = Instant::now();
        while !pred(&self.events()) {
            assert!(
                start.elapsed() < limit,
                "no {what} within {limit:?}: {:#?}\n{}",
                self.events(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `signal` (`"TERM"`, `"HUP"`).
    fn signal(&self, signal: &str) {
        let ok =
            Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(ok.success(), "kill -{signal} failed");
    }

    /// SIGTERM, then the exit code and how long the exit took.
    fn stop(mut self) -> (Option<i32>, Duration, Vec<Value>, String) {
        let start = Instant::now();
        self.signal("TERM");
        let deadline = start + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = start.elapsed();
        // Let the readers take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (status.code(), took, self.events(), self.stderr())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `check` holds (polled), returning how long that took; panics after `limit`.
fn within(what: &str, limit: Duration, check: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

fn message(tag: &str) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nSubject: {tag}\r\nMessage-ID: <{tag}@example.org>\r\n\r\nbody of {tag}\r\n"
    )
    .into_bytes()
}

fn deliver(d: &Dovecot, folder: &str, tag: &str) {
    d.seed("alice", folder, &[(message(tag).as_slice(), &[][..])]).unwrap();
}

fn holds(db: &Path, folder: &str, tag: &str) -> bool {
    db.exists() && stored(db, folder).values().any(|(_, raw)| *raw == message(tag))
}

/// `t` on `w`'s Dovecot watching `watch` (IMAP), every folder swept every `sweep_minutes`.
fn watch_config(w: &World, watch: &[&str], sweep_minutes: f64) {
    let p = w.dovecot.ports();
    let folders: Vec<String> = watch.iter().map(|f| format!("\"{f}\"")).collect();
    let text = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\nca_file = \"{}\"\n\n\
         [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = 5\nwatch = [{}]\n\
         sweep_minutes = {sweep_minutes}\n\n\
         [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = 5\npoll_minutes = 0.05\n",
        w.dovecot.ca_file().display(),
        p.imaps,
        folders.join(", "),
        p.pop3s
    );
    std::fs::write(w.config(), text).unwrap();
}

fn idle_on(v: &Value, folder: &str) -> bool {
    v["event"] == "idle" && v["folder"] == folder
}

fn idle_and_sweep(profile: Profile) {
    let w = World::new(profile);
    w.dovecot.create_folder("alice", "Archive").unwrap();
    deliver(&w.dovecot, "INBOX", "before");
    watch_config(&w, &["INBOX"], 0.1);
    let watcher = Watcher::start(&w.config(), &w.db(), w.dovecot.password("alice"), &[]);
    watcher.wait_for("IDLE on INBOX", Duration::from_secs(20), |v| idle_on(v, "INBOX"));
    within("the first sync", Duration::from_secs(20), || holds(&w.db(), "INBOX", "before"));

    deliver(&w.dovecot, "INBOX", "idle");
    let took =
        within("new mail in INBOX (IDLE)", Duration::from_secs(20), || holds(&w.db(), "INBOX", "idle"));
    eprintln!("{profile:?}: delivered to stored in {took:?}");
    assert!(took < Duration::from_secs(2), "IDLE brought the message in {took:?}");

    // Archive is not watched: the next sweep (every 6 s here) brings it.
    deliver(&w.dovecot, "Archive", "swept");
    within("new mail in Archive (sweep)", Duration::from_secs(20), || holds(&w.db(), "Archive", "swept"));

    let (code, took, events, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < Duration::from_secs(2), "SIGTERM took {took:?}");
    assert!(
        events.iter().all(|v| v["event"] != "error" && v["event"] != "failed"),
        "a sync failed: {events:#?}\n{stderr}"
    );
    assert!(events.iter().any(|v| v["event"] == "synced" && v["folder"] == "INBOX" && v["new"] == 1));
}

#[test]
fn new_mail_comes_by_idle_in_watched_folders_and_by_sweep_elsewhere() {
    idle_and_sweep(Profile::Dovecot);
}

#[test]
fn the_outlook_profile_is_watched_the_same_way() {
    idle_and_sweep(Profile::Outlook);
}

#[test]
fn a_restarted_server_is_caught_up_after_it_returns() {
    let mut w = World::new(Profile::Dovecot);
    watch_config(&w, &["INBOX"], 60.0);
    let watcher = Watcher::start(&w.config(), &w.db(), w.dovecot.password("alice"), &[]);
    watcher.wait_for("IDLE on INBOX", Duration::from_secs(20), |v| idle_on(v, "INBOX"));
    w.dovecot.restart().unwrap();
    // Mail that arrives while the watch has no connection, and is caught up once it has one again.
    deliver(&w.dovecot, "INBOX", "after-restart");
    within("the message after the restart", Duration::from_secs(30), || {
        holds(&w.db(), "INBOX", "after-restart")
    });
    // (The events come through a pipe: they may trail the store by a moment.)
    watcher.wait_until("the lost connection told", Duration::from_secs(5), |e| {
        e.iter().any(|v| v["event"] == "lost")
    });
    watcher.wait_until("IDLE back", Duration::from_secs(5), |e| {
        e.iter().filter(|v| idle_on(v, "INBOX")).count() >= 2
    });
    let (code, _, _, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn tokens_that_expire_every_few_seconds_are_renewed_without_a_failed_sync() {
    let d = Dovecot::start(DovecotOptions {
        profile: Profile::Outlook,
        oauth2: true,
        ..DovecotOptions::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token.txt");
    // A helper keeps a token that lives 4 s in the file, renewed every second, as a token service would.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let minted = Arc::new(Mutex::new(0u32));
    {
        let (file, stop, minted, key) =
            (token_file.clone(), stop.clone(), minted.clone(), d.oauth2_key().to_vec());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let now =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                let token = sign_jwt(&key, &serde_json::json!({"sub": "alice", "iat": now, "exp": now + 4}));
                std::fs::write(&file, format!("{token}\n")).unwrap();
                *minted.lock().unwrap() += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
    within("the first token", Duration::from_secs(5), || token_file.exists());
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[accounts.t]\nuser = \"alice\"\nauth = \"xoauth2\"\ntoken_command = \"cat {}\"\nca_file = \"{}\"\n\n\
             [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = 5\nsweep_minutes = 0.03\n",
            token_file.display(),
            d.ca_file().display(),
            d.ports().imaps
        ),
    )
    .unwrap();
    let db = dir.path().join("mail.db");
    let watcher = Watcher::start(&config, &db, "", &[]);
    watcher.wait_for("IDLE on INBOX", Duration::from_secs(20), |v| idle_on(v, "INBOX"));
    // Ten seconds: every sweep (about every 2 s) logs in anew, long after the first token expired.
    std::thread::sleep(Duration::from_secs(10));
    deliver(&d, "INBOX", "late");
    within("a message after many renewals", Duration::from_secs(20), || holds(&db, "INBOX", "late"));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (code, _, events, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        events.iter().all(|v| v["event"] != "error" && v["event"] != "failed"),
        "a sync failed: {events:#?}\n{stderr}"
    );
    let runs =
        common::count(&db, "SELECT count(*) FROM sync_runs WHERE error IS NULL AND finished_at IS NOT NULL");
    assert!(runs >= 4, "only {runs} syncs in 10 s of sweeps");
}

#[test]
fn sigterm_during_a_sync_stops_within_two_seconds_and_the_store_stays_consistent() {
    let w = World::new(Profile::Dovecot);
    let corpus = mailsync_testkit::corpus::messages(5, 1500, mailsync_testkit::corpus::SizeMix::Realistic);
    let refs: Vec<(&[u8], &[mailsync_testkit::Flag])> =
        corpus.iter().map(|m| (m.as_slice(), &[][..])).collect();
    w.dovecot.seed("alice", "INBOX", &refs).unwrap();
    watch_config(&w, &["INBOX"], 60.0);
    let watcher = Watcher::start(&w.config(), &w.db(), w.dovecot.password("alice"), &[]);
    // Stop while the first sync is storing messages.
    within("the first stored messages", Duration::from_secs(30), || {
        common::has_schema(&w.db()) && common::count(&w.db(), "SELECT count(*) FROM locations") > 0
    });
    let (code, took, _, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < Duration::from_secs(2), "SIGTERM took {took:?}");
    let partial = stored(&w.db(), "INBOX").len();
    // Whatever was committed is whole; a sync now completes the mirror exactly.
    let o = w.mailsync(&["sync"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let server: std::collections::BTreeSet<Vec<u8>> = corpus.into_iter().collect();
    let got: std::collections::BTreeSet<Vec<u8>> =
        stored(&w.db(), "INBOX").into_values().map(|(_, r)| r).collect();
    assert_eq!(got, server, "the store differs from the server after the stop (had {partial} then)");
}

#[test]
fn two_accounts_on_two_servers_are_watched_at_once() {
    let a = World::new(Profile::Dovecot);
    let b = World::new(Profile::Outlook);
    let pa = a.dovecot.ports();
    let pb = b.dovecot.ports();
    // Each server has its own alice with her own password: two variables.
    let text = format!(
        "[accounts.a]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\nca_file = \"{}\"\n\
         [accounts.a.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nsweep_minutes = 60\n\n\
         [accounts.b]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"MAILSYNC_TEST_PASSWORD_B\"\nca_file = \"{}\"\n\
         [accounts.b.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nsweep_minutes = 60\n",
        a.dovecot.ca_file().display(),
        pa.imaps,
        b.dovecot.ca_file().display(),
        pb.imaps
    );
    std::fs::write(a.config(), text).unwrap();
    let env =
        [(PW_ENV, a.dovecot.password("alice")), ("MAILSYNC_TEST_PASSWORD_B", b.dovecot.password("alice"))];
    let watcher = Watcher::start_with(&a.config(), &a.db(), &env, &[]);
    for account in ["a", "b"] {
        watcher
            .wait_for("IDLE", Duration::from_secs(20), |v| v["event"] == "idle" && v["account"] == account);
    }
    let status = a.mailsync(&["--json", "status"]);
    let lines = common::json_lines(&status.stdout);
    assert!(lines.iter().filter(|v| v["watched"] == true).count() >= 2, "status: {lines:?}");
    deliver(&a.dovecot, "INBOX", "for-a");
    deliver(&b.dovecot, "INBOX", "for-b");
    let both = || {
        let c = rusqlite::Connection::open(a.db()).unwrap();
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM message_bodies WHERE raw IN (?1, ?2)",
                [message("for-a"), message("for-b")],
                |r| r.get(0),
            )
            .unwrap();
        n == 2
    };
    within("both accounts' new mail", Duration::from_secs(10), both);
    // A second watch of the same accounts is refused while this one runs.
    let second = Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .arg("--config")
        .arg(a.config())
        .arg("--db")
        .arg(a.db())
        .args(["watch", "a"])
        .envs(env)
        .output()
        .unwrap();
    assert_ne!(second.status.code(), Some(0));
    assert!(
        common::stderr(&second).contains("another watch of account a is running"),
        "{}",
        common::stderr(&second)
    );
    let (code, _, _, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let status = a.mailsync(&["--json", "status"]);
    assert!(common::json_lines(&status.stdout).iter().all(|v| v["watched"] == false));
}

#[test]
fn pop3_accounts_are_polled() {
    let w = World::new(Profile::Dovecot);
    watch_config(&w, &["INBOX"], 60.0);
    let watcher = Watcher::start(&w.config(), &w.db(), w.dovecot.password("alice"), &["--via", "pop3"]);
    watcher.wait_for("watching", Duration::from_secs(20), |v| v["event"] == "watching" && v["via"] == "pop3");
    deliver(&w.dovecot, "INBOX", "polled");
    within("the polled message", Duration::from_secs(20), || {
        w.db().exists() && stored_pop3(&w.db()).values().any(|raw| *raw == message("polled"))
    });
    let (code, _, _, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Holds account `t`'s sync lock in this process, as a `mailsync sync` run by hand would, until dropped.
fn hold_sync_lock(db: &Path) -> (mailsync_store::Store, mailsync_store::SyncLock) {
    let store = mailsync_store::Store::open(db).unwrap();
    let account = store.find_account("t").unwrap().expect("account t is in the store");
    let lock = store.lock_account(account, "t").unwrap();
    (store, lock)
}

fn busy_then_synced(via: &[&str], stored_now: impl Fn(&Path) -> bool) {
    let w = World::new(Profile::Dovecot);
    watch_config(&w, &["INBOX"], 60.0);
    let mut first = vec!["t"];
    first.extend_from_slice(via);
    w.sync_json(&first);
    let (store, lock) = hold_sync_lock(&w.db());
    let watcher = Watcher::start(&w.config(), &w.db(), w.dovecot.password("alice"), via);
    watcher.wait_for("busy", Duration::from_secs(20), |v| v["event"] == "busy" && v["retry_seconds"] == 5.0);
    deliver(&w.dovecot, "INBOX", "meanwhile");
    // At least one more try while the lock is held (every 5 s): still busy, said once, and no failure.
    std::thread::sleep(Duration::from_secs(6));
    assert!(!stored_now(&w.db()), "synced while another process held the sync lock");
    drop(lock);
    drop(store);
    let took = within("the sync after the other one ended", Duration::from_secs(20), || stored_now(&w.db()));
    assert!(took <= Duration::from_secs(10), "the watch waited {took:?} after the other sync ended");
    let (code, _, events, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(events.iter().filter(|v| v["event"] == "busy").count(), 1, "{events:#?}");
    assert!(
        events.iter().all(|v| v["event"] != "error" && v["event"] != "failed"),
        "another sync is not a failure: {events:#?}\n{stderr}"
    );
}

#[test]
fn a_sync_run_by_hand_meanwhile_is_waited_for_not_failed() {
    busy_then_synced(&[], |db| holds(db, "INBOX", "meanwhile"));
}

#[test]
fn a_polling_watch_waits_for_a_sync_run_by_hand_too() {
    busy_then_synced(&["--via", "pop3"], |db| {
        db.exists() && stored_pop3(db).values().any(|raw| *raw == message("meanwhile"))
    });
}

#[test]
fn sighup_reads_the_config_again() {
    let w = World::new(Profile::Dovecot);
    w.dovecot.create_folder("alice", "Archive").unwrap();
    watch_config(&w, &["INBOX"], 60.0);
    let watcher = Watcher::start(&w.config(), &w.db(), w.dovecot.password("alice"), &[]);
    watcher.wait_for("IDLE on INBOX", Duration::from_secs(20), |v| idle_on(v, "INBOX"));
    watch_config(&w, &["INBOX", "Archive"], 60.0);
    watcher.signal("HUP");
    watcher.wait_for("IDLE on Archive", Duration::from_secs(20), |v| idle_on(v, "Archive"));
    // With sweeps an hour apart, only IDLE on Archive (from the new config) brings this in.
    deliver(&w.dovecot, "Archive", "reloaded");
    within("mail in the newly watched folder", Duration::from_secs(10), || {
        holds(&w.db(), "Archive", "reloaded")
    });
    let (code, _, _, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_watch_writes_its_trace_idle_and_all_and_no_password() {
    let w = World::new(Profile::Dovecot);
    watch_config(&w, &["INBOX"], 60.0);
    let trace = w.dir.path().join("watch.trace");
    let t = trace.to_string_lossy().into_owned();
    let watcher = Watcher::start(&w.config(), &w.db(), w.dovecot.password("alice"), &["--trace", &t]);
    watcher.wait_for("IDLE on INBOX", Duration::from_secs(20), |v| idle_on(v, "INBOX"));
    deliver(&w.dovecot, "INBOX", "traced");
    within("the traced message", Duration::from_secs(20), || holds(&w.db(), "INBOX", "traced"));
    let (code, _, _, stderr) = watcher.stop();
    assert_eq!(code, Some(0), "{stderr}");
    let text = std::fs::read_to_string(&trace).unwrap();
    for want in [" C: A0001 LOGIN alice <redacted>", " IDLE", " C: DONE", "* 1 EXISTS"] {
        assert!(text.contains(want), "the trace lacks {want:?}:\n{text}");
    }
    assert!(!text.contains(w.dovecot.password("alice")), "the password is in the trace");
    assert!(!text.contains("body of traced"), "message content is in the trace by default");
}
