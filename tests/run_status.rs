//! What `status` says about a sync that is running, and about one whose process died; and a second sync of
//! the same account while one runs. The server is a real Dovecot behind a proxy that holds its answer to
//! EXAMINE for as long as the test wants.

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{World, PW_ENV};
use mailsync_testkit::proxy::Proxy;
use mailsync_testkit::Profile;

fn status(w: &World) -> serde_json::Value {
    let out = w.mailsync(&["--json", "status"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::json_lines(&out.stdout).into_iter().find(|v| v["via"] == "imap").expect("an imap status line")
}

#[test]
fn a_killed_sync_shows_as_interrupted_and_a_running_one_as_running() {
    let w = World::new(Profile::Dovecot);
    w.dovecot.seed("alice", "INBOX", &[(b"Subject: a\r\n\r\nx\r\n".as_slice(), &[])]).unwrap();
    assert!(w.mailsync(&["sync"]).status.success());
    let hold = Arc::new(AtomicBool::new(true));
    let held = hold.clone();
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        while cmd.starts_with("EXAMINE") && held.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        resp
    })
    .unwrap();
    // The account now points at the proxy, which trusts the same CA.
    let config = std::fs::read_to_string(w.config()).unwrap();
    let config =
        config.replace(&format!("port = {}", w.dovecot.ports().imaps), &format!("port = {}", proxy.port()));
    std::fs::write(w.config(), config).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .arg("--config")
        .arg(w.config())
        .arg("--db")
        .arg(w.db())
        .arg("sync")
        .env(PW_ENV, w.dovecot.password("alice"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(w.dir.path().join("sync.stderr")).unwrap())
        .spawn()
        .unwrap();
    let child_stderr = || std::fs::read_to_string(w.dir.path().join("sync.stderr")).unwrap_or_default();
    let start = Instant::now();
    loop {
        if status(&w)["last_sync"]["outcome"] == "running" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the sync never showed as running: {}\nits stderr: {}",
            status(&w),
            child_stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second sync of the account is refused while the first runs.
    let second = w.mailsync(&["sync"]);
    assert_eq!(second.status.code(), Some(5), "{}", common::stderr(&second));
    assert!(
        common::stderr(&second).contains("another sync of account t is running"),
        "{}",
        common::stderr(&second)
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let s = status(&w);
    assert_eq!(s["last_sync"]["outcome"], "interrupted", "{s}");
    let table = String::from_utf8_lossy(&w.mailsync(&["status"]).stdout).into_owned();
    assert!(table.contains("interrupted"), "{table}");
    hold.store(false, Ordering::SeqCst);
    // The next sync finishes and says so.
    assert!(w.mailsync(&["sync"]).status.success());
    assert_eq!(status(&w)["last_sync"]["outcome"], "ok");
}
