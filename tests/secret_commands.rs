//! A password (or token) command that hangs never hangs mailsync: it is stopped after `command_timeout`,
//! and Ctrl-C (SIGINT to the whole process group, as a terminal sends it, or to mailsync alone) stops it and
//! mailsync at once with exit 130, leaving no process behind.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    // The server is never reached: the password comes first.
    let text = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_command = \"sleep 1000\"\n{extra}\n\
         [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"tls\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(dir: &std::path::Path, config: &std::path::Path, own_group: bool) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailsync"));
    cmd.arg("--config").arg(config).arg("--db").arg(dir.join("mail.db")).arg("sync");
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    if own_group {
        cmd.process_group(0);
    }
    cmd.spawn().unwrap()
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // pid (comm) state ppid ...
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        if after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

fn wait_for_child_process(child: &Child) -> u32 {
    let start = Instant::now();
    loop {
        if let Some(&c) = children_of(child.id()).first() {
            return c;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the password command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(mut child: Child, within: Duration) -> (i32, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("mailsync did not stop within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code().unwrap_or(-1), err)
}

fn gone(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Gone, or a zombie about to be reaped by init.
    stat.is_empty() || stat.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
}

#[test]
fn a_hanging_password_command_is_stopped_after_its_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "command_timeout = 1");
    let child = spawn(dir.path(), &config, false);
    let command = wait_for_child_process(&child);
    let (code, err) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did not finish within 1 s") && err.contains("command_timeout"), "{err}");
    assert!(gone(command), "the password command was left running");
}

#[test]
fn ctrl_c_to_the_process_group_stops_the_command_and_exits_130_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let child = spawn(dir.path(), &config, true);
    let command = wait_for_child_process(&child);
    let start = Instant::now();
    let group = format!("-{}", child.id());
    assert!(Command::new("kill").args(["-INT", "--", &group]).status().unwrap().success());
    let (code, err) = finish(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    assert!(gone(command), "the password command was left running");
}

#[test]
fn sigint_to_mailsync_alone_also_stops_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let child = spawn(dir.path(), &config, false);
    let command = wait_for_child_process(&child);
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let (code, err) = finish(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{err}");
    assert!(gone(command), "the password command was left running");
}
