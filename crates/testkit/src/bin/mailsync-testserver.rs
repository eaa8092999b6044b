//! A throwaway Dovecot for the demo and the benchmarks: starts an instance on 127.0.0.1, optionally seeds it,
//! writes its connection settings as shell assignments to the file named by `--env`, and runs until its
//! standard input closes or it is signalled. The instance and every process of it stop when it exits.
//!
//! Usage: mailsync-testserver --env FILE [--profile dovecot|outlook] [--seed-demo] [--corpus N [--seed S]]
//!        [--folders F] [--rtt MS] [--mbps R]
//!
//! With `--corpus N`, N generated messages (the benchmark's realistic mix) go into INBOX (70%), Archive (20%)
//! and Sent (10%) with assorted flags; with `--folders F`, evenly into INBOX and F-1 more folders instead.
//! With `--rtt MS` (and `--mbps R`), the IMAPS and POP3S ports written to the env file lead through a link
//! simulator that adds that round-trip time (and caps each direction at R megabits per second); the direct
//! ports are written as `DIRECT_IMAPS_PORT` and `DIRECT_POP3S_PORT`. Standard input then takes commands, one
//! per line, each answered with a line `ok ...` on standard output: `add N` (N more generated messages into
//! INBOX), `trim` (expunge what `add` put there), `flag` (toggle \Flagged on one message in every folder),
//! `quit`.

use std::io::{BufRead, Write};

use mailsync_testkit::corpus::{message, SizeMix};
use mailsync_testkit::link::{Faults, Link, LinkSpec};
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
    let folders = match value("--folders").map(|s| s.parse::<u64>()).transpose()? {
        Some(f) if f >= 1 => {
            let names: Vec<String> =
                std::iter::once("INBOX".to_owned()).chain((1..f).map(|i| format!("Folder {i:03}"))).collect();
            for name in names.iter().skip(1) {
                d.create_folder("alice", name)?;
            }
            names
        }
        _ => Vec::new(),
    };
    if corpus > 0 {
        if folders.is_empty() {
            seed_corpus(&d, seed, corpus)?;
        } else {
            seed_spread(&d, seed, corpus, &folders)?;
        }
    }
    let all_folders: Vec<String> = if folders.is_empty() {
        ["INBOX", "Archive", "Sent"].map(str::to_owned).to_vec()
    } else {
        folders.clone()
    };
    let mut p = d.ports();
    let (direct_imaps, direct_pop3s) = (p.imaps, p.pop3s);
    let rtt: Option<u64> = value("--rtt").map(|s| s.parse()).transpose()?;
    let mbps: Option<f64> = value("--mbps").map(|s| s.parse()).transpose()?;
    let mut links = Vec::new();
    if rtt.is_some() || mbps.is_some() {
        let spec = LinkSpec {
            rtt: std::time::Duration::from_millis(rtt.unwrap_or(0)),
            rate: mbps.map(bytes_per_second).transpose()?,
            faults: Faults::None,
        };
        let imaps = Link::start(p.imaps, spec)?;
        let pop3s = Link::start(p.pop3s, spec)?;
        p.imaps = imaps.port();
        p.pop3s = pop3s.port();
        links.push(imaps);
        links.push(pop3s);
    }
    let env = format!(
        "DOVECOT_DIR='{dir}'\nDOVECOT_CONF='{conf}'\nCA_FILE='{ca}'\nIMAPS_PORT={imaps}\nIMAP_PORT={imap}\n\
         POP3S_PORT={pop3s}\nPOP3_PORT={pop3}\nMAIL_USER=alice\nMAIL_PASSWORD='{pw}'\nDOVECOT_PID={pid}\n\
         DIRECT_IMAPS_PORT={direct_imaps}\nDIRECT_POP3S_PORT={direct_pop3s}\nFOLDERS='{folders}'\n",
        dir = d.dir().display(),
        conf = d.config_path().display(),
        ca = d.ca_file().display(),
        imaps = p.imaps,
        imap = p.imap,
        pop3s = p.pop3s,
        pop3 = p.pop3,
        pw = d.password("alice"),
        pid = d.pid().unwrap_or(0),
        folders = all_folders.join(","),
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
            (Some("flag"), _) => {
                // One message of every folder changes a flag: the cheapest real change a sync must see.
                for folder in &all_folders {
                    let first = d.messages("alice", folder)?.into_iter().next();
                    if let Some(m) = first {
                        if m.flags.iter().any(|f| f == "\\Flagged") {
                            d.flags_remove("alice", folder, m.uid, &[Flag::Flagged])?;
                        } else {
                            d.flags_add("alice", folder, m.uid, &[Flag::Flagged])?;
                        }
                    }
                }
                writeln!(out, "ok flagged")?;
            }
            (Some("quit"), _) => break,
            _ => writeln!(out, "error: unknown command {line:?}")?,
        }
        out.flush()?;
    }
    drop(links);
    drop(d);
    Ok(())
}

/// `n` generated messages spread evenly over `folders`, with the same flags as [`seed_corpus`].
fn seed_spread(d: &Dovecot, seed: u64, n: u64, folders: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let k = u64::try_from(folders.len()).unwrap_or(1).max(1);
    for (j, folder) in folders.iter().enumerate() {
        let j = u64::try_from(j).unwrap_or(0);
        let msgs: Vec<(u64, Vec<u8>)> =
            (0..n).filter(|i| i % k == j).map(|i| (i, message(seed, i, SizeMix::Realistic))).collect();
        let refs: Vec<(&[u8], &[Flag])> = msgs.iter().map(|(i, m)| (m.as_slice(), flags_for(*i))).collect();
        d.seed("alice", folder, &refs)?;
    }
    Ok(())
}

/// A third read, some flagged or answered.
fn flags_for(i: u64) -> &'static [Flag] {
    match i % 6 {
        0 | 1 => &[Flag::Seen],
        2 => &[Flag::Seen, Flag::Flagged],
        3 => &[Flag::Seen, Flag::Answered],
        _ => &[],
    }
}

/// `n` generated messages: 70% INBOX, 20% Archive, 10% Sent; a third read, some flagged or answered.
fn seed_corpus(d: &Dovecot, seed: u64, n: u64) -> Result<(), Box<dyn std::error::Error>> {
    const CHUNK: u64 = 500;
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

/// Mbit/s (a positive number, fractions allowed) as bytes per second.
fn bytes_per_second(mbps: f64) -> Result<u64, String> {
    if !(mbps.is_finite() && mbps > 0.0 && mbps < 1e6) {
        return Err(format!("--mbps {mbps}: a rate between 0 and 1000000 Mbit/s"));
    }
    // In range, so the conversion neither truncates beyond the fraction nor loses the sign.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((mbps * 125_000.0).round() as u64)
}
