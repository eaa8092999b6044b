//! A throwaway Dovecot for the demo and the benchmarks: starts an instance on 127.0.0.1, optionally seeds it,
//! writes its connection settings as shell assignments to the file named by `--env`, and runs until its
//! standard input closes or it is signalled. The instance and every process of it stop when it exits.
//!
//! Usage: mailsync-testserver --env FILE [--profile dovecot|outlook] [--seed-demo] [--corpus N [--seed S]]
//!
//! With `--corpus N`, N generated messages (the benchmark's realistic mix) go into INBOX (70%), Archive (20%)
//! and Sent (10%) with assorted flags. Standard input then takes commands, one per line, each answered with
//! a line `ok ...` on standard output: `add N` (N more generated messages into INBOX), `trim` (expunge what
//! `add` put there), `quit`.

use std::io::{BufRead, Write};

use mailsync_testkit::corpus::{message, SizeMix};
use mailsync_testkit::{Dovecot, DovecotOptions, Flag, Profile};
use nix::sys::signal::{killpg, SigSet, Signal};
use nix::unistd::Pid;

fn main() {
    if let Err(e) = run() {
        eprintln!("mailsync-testserver: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let env_file = value("--env").ok_or("--env FILE is required")?;
    let profile = match value("--profile").as_deref() {
        None | Some("dovecot") => Profile::Dovecot,
        Some("outlook") => Profile::Outlook,
        Some(other) => return Err(format!("unknown profile {other}").into()),
    };
    let d = Dovecot::start(DovecotOptions::with_profile(profile))?;
    // Signals are taken by a thread of our own, so that an interrupted demo or benchmark (Ctrl-C, kill) stops
    // the instance's whole process group instead of leaving Dovecot running. Blocked only now: a child
    // inherits the mask, and Dovecot must keep its own signals.
    let signals = SigSet::from_iter([Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP]);
    signals.thread_block()?;
    if let Some(pgid) = d.pid().and_then(|p| i32::try_from(p).ok()) {
        std::thread::spawn(move || {
            let _ = signals.wait();
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            std::process::exit(130);
        });
    }
    if args.iter().any(|a| a == "--seed-demo") {
        mailsync_testkit::seed_demo(&d)?;
    }
    let seed: u64 = value("--seed").map(|s| s.parse()).transpose()?.unwrap_or(42);
    let corpus: u64 = value("--corpus").map(|s| s.parse()).transpose()?.unwrap_or(0);
    if corpus > 0 {
        seed_corpus(&d, seed, corpus)?;
    }
    let p = d.ports();
    let env = format!(
        "DOVECOT_DIR='{dir}'\nDOVECOT_CONF='{conf}'\nCA_FILE='{ca}'\nIMAPS_PORT={imaps}\nIMAP_PORT={imap}\n\
         POP3S_PORT={pop3s}\nPOP3_PORT={pop3}\nMAIL_USER=alice\nMAIL_PASSWORD='{pw}'\nDOVECOT_PID={pid}\n",
        dir = d.dir().display(),
        conf = d.config_path().display(),
        ca = d.ca_file().display(),
        imaps = p.imaps,
        imap = p.imap,
        pop3s = p.pop3s,
        pop3 = p.pop3,
        pw = d.password("alice"),
        pid = d.pid().unwrap_or(0),
    );
    std::fs::write(&env_file, env)?;
    // Serve until the parent closes our stdin (or kills us; the instance's process group dies with it then).
    let base = d.status("alice", "INBOX")?.uidnext;
    let mut added = 0u64;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let mut words = line.split_whitespace();
        match (words.next(), words.next().map(str::parse::<u64>)) {
            (Some("add"), Some(Ok(n))) => {
                let msgs: Vec<Vec<u8>> =
                    (0..n).map(|i| message(seed + 1, corpus + added + i, SizeMix::Realistic)).collect();
                let refs: Vec<(&[u8], &[Flag])> = msgs.iter().map(|m| (m.as_slice(), &[][..])).collect();
                d.seed("alice", "INBOX", &refs)?;
                added += n;
                writeln!(out, "ok added {n}")?;
            }
            (Some("trim"), _) => {
                let range = format!("{base}:*");
                d.doveadm(&["expunge", "-u", "alice", "mailbox", "INBOX", "uid", &range], None)?;
                writeln!(out, "ok trimmed")?;
            }
            (Some("quit"), _) => break,
            _ => writeln!(out, "error: unknown command {line:?}")?,
        }
        out.flush()?;
    }
    drop(d);
    Ok(())
}

/// `n` generated messages: 70% INBOX, 20% Archive, 10% Sent; a third read, some flagged or answered.
fn seed_corpus(d: &Dovecot, seed: u64, n: u64) -> Result<(), Box<dyn std::error::Error>> {
    const CHUNK: u64 = 500;
    let flags_for = |i: u64| -> &'static [Flag] {
        match i % 6 {
            0 | 1 => &[Flag::Seen],
            2 => &[Flag::Seen, Flag::Flagged],
            3 => &[Flag::Seen, Flag::Answered],
            _ => &[],
        }
    };
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let msgs: Vec<(u64, Vec<u8>)> =
            (start..end).map(|i| (i, message(seed, i, SizeMix::Realistic))).collect();
        for (folder, pick) in [("INBOX", 0..7u64), ("Archive", 7..9), ("Sent", 9..10)] {
            let refs: Vec<(&[u8], &[Flag])> = msgs
                .iter()
                .filter(|(i, _)| pick.contains(&(i % 10)))
                .map(|(i, m)| (m.as_slice(), flags_for(*i)))
                .collect();
            d.seed("alice", folder, &refs)?;
        }
        start = end;
    }
    Ok(())
}
