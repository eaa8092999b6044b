//! Output that cannot crash or lie. A closed or full stderr never turns a run into a panic (exit 101): the
//! command finishes its work, keeps what it committed, and exits with its own code. Control characters from a
//! server or a message (folder names decoding to ESC or BEL, headers, refusal texts) never reach the terminal
//! raw: summary lines, the error line, logs, the progress bar, `search`, `show`, `status` show them escaped,
//! while `--json` keeps the exact values. A scripted IMAP server plays the hostile server; Dovecot the honest
//! one for the stderr cases of a real sync.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{count, World};
use mailsync_testkit::scripted::{Conn, ScriptedServer};
use mailsync_testkit::{Flag, Profile};

const BIN: &str = env!("CARGO_BIN_EXE_mailsync");

/// Where stderr goes.
#[derive(Debug, Clone, Copy)]
enum Stderr {
    /// `/dev/full`: every write fails with ENOSPC.
    Full,
    /// A pipe whose reader is gone before the first write: EPIPE.
    Closed,
}

/// Runs `cmd` with stderr `to`; stdout is collected.
fn run_with_stderr(mut cmd: Command, to: Stderr) -> Output {
    match to {
        Stderr::Full => {
            let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
            cmd.stderr(full).output().unwrap()
        }
        Stderr::Closed => {
            let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            drop(child.stderr.take());
            let mut stdout = Vec::new();
            if let Some(mut out) = child.stdout.take() {
                out.read_to_end(&mut stdout).unwrap();
            }
            let status = child.wait().unwrap();
            Output { status, stdout, stderr: Vec::new() }
        }
    }
}

fn local(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(db.with_file_name("config.toml"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RUST_LOG");
    c
}

/// Every local failure and success keeps its exit code when stderr cannot be written.
#[test]
fn a_full_or_closed_stderr_never_panics_a_local_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_hostile_store(dir.path());
    let missing = dir.path().join("missing.db");
    let rows: [(&Path, &[&str], i32); 6] = [
        (&db, &["-vvv", "status"], 0),
        (&db, &["-vvv", "search", "hello"], 0),
        (&db, &["search", "(unclosed"], 1),
        (&db, &["show", "999"], 1),
        (&missing, &["-vv", "status"], 1),
        (&db, &["--no-such-option"], 1),
    ];
    for to in [Stderr::Full, Stderr::Closed] {
        for (path, args, code) in rows {
            let o = run_with_stderr(local(path, args), to);
            assert_eq!(o.status.code(), Some(code), "{to:?} {args:?}");
        }
    }
}

/// `mailsync -vv sync` with stderr on /dev/full or into a closed pipe stores every message and exits 0; a
/// refused login exits 3. Before, the first log line panicked (101) and nothing was stored.
#[test]
fn a_sync_with_a_full_or_closed_stderr_keeps_its_mail_and_its_exit_code() {
    let w = World::new(Profile::Dovecot);
    let msg = |n: u32| format!("Subject: m{n}\r\nMessage-ID: <m{n}@x>\r\n\r\nbody {n}\r\n").into_bytes();
    let batch: Vec<Vec<u8>> = (1..=3).map(msg).collect();
    let seeded: Vec<(&[u8], &[Flag])> = batch.iter().map(|m| (m.as_slice(), &[Flag::Seen][..])).collect();
    w.dovecot.seed("alice", "INBOX", &seeded).unwrap();
    let sync = |password: &str| {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(w.config())
            .arg("--db")
            .arg(w.db())
            .args(["-vv", "sync"])
            .env(common::PW_ENV, password)
            .env_remove("RUST_LOG");
        c
    };
    let password = w.dovecot.password("alice").to_owned();
    let o = run_with_stderr(sync(&password), Stderr::Full);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(count(&w.db(), "SELECT count(*) FROM messages"), 3);
    let extra = msg(4);
    w.dovecot.seed("alice", "INBOX", &[(extra.as_slice(), &[][..])]).unwrap();
    let o = run_with_stderr(sync(&password), Stderr::Closed);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(count(&w.db(), "SELECT count(*) FROM messages"), 4);
    for to in [Stderr::Full, Stderr::Closed] {
        let o = run_with_stderr(sync("wrong"), to);
        assert_eq!(o.status.code(), Some(3), "{to:?}");
    }
    assert_eq!(count(&w.db(), "SELECT count(*) FROM messages"), 4, "committed mail kept");
}

/// A folder whose name decodes (mUTF-7) to ESC ] 0 ; pwned BEL: an xterm title change.
const PWNED_WIRE: &str = "&ABs-]0;pwned&AAc-";
const PWNED: &str = "\u{1b}]0;pwned\u{7}";
/// A folder whose name holds a NUL, and whose EXAMINE is refused with a text that clears the screen.
const GONE_WIRE: &str = "gone&AAA-";
const REFUSAL: &str = "\u{1b}[2J\u{1b}[Hyour mail was deleted\u{7}";
/// The stored message's subject: ESC ] 2 ; evil BEL.
const SUBJECT: &str = "\u{1b}]2;evil\u{7}";

/// The bytes of message `n` in the folder `PWNED`.
fn hostile_message(n: u32) -> Vec<u8> {
    format!("Subject: {SUBJECT}\r\nMessage-ID: <evil{n}@x>\r\nFrom: a@x\r\n\r\nhi\r\n").into_bytes()
}

/// Plays a hostile IMAP server: INBOX is empty, the folder `PWNED` holds two messages with a hostile subject
/// (the second sent 700 ms after the first, so that a progress bar draws in between), and the folder
/// `gone\0` cannot be examined.
fn hostile_imap(mut c: Conn) {
    c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] scripted\r\n");
    let mut examined = String::new();
    while let Some(line) = c.line() {
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let cmd = rest.to_ascii_uppercase();
        let reply = if cmd.starts_with("LOGIN") {
            format!("{tag} OK [CAPABILITY IMAP4rev1] logged in\r\n").into_bytes()
        } else if cmd.starts_with("CAPABILITY") {
            format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n").into_bytes()
        } else if cmd.starts_with("LIST") {
            format!(
                "* LIST () \"/\" INBOX\r\n* LIST () \"/\" \"{PWNED_WIRE}\"\r\n* LIST () \"/\" \"{GONE_WIRE}\"\r\n\
                 {tag} OK done\r\n"
            )
            .into_bytes()
        } else if cmd.starts_with("EXAMINE") && rest.contains(GONE_WIRE) {
            format!("{tag} NO {REFUSAL}\r\n").into_bytes()
        } else if cmd.starts_with("EXAMINE") {
            examined = rest.to_owned();
            let exists = if rest.contains(PWNED_WIRE) { 2 } else { 0 };
            format!(
                "* {exists} EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 3] n\r\n{tag} OK [READ-ONLY] done\r\n"
            )
            .into_bytes()
        } else if cmd.starts_with("UID FETCH") && !examined.contains(PWNED_WIRE) {
            format!("{tag} OK nothing\r\n").into_bytes()
        } else if cmd.starts_with("UID FETCH") && !cmd.contains("BODY") {
            format!("* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 2 FETCH (UID 2 FLAGS ())\r\n{tag} OK done\r\n")
                .into_bytes()
        } else if cmd.starts_with("UID FETCH") {
            for n in 1..=2u32 {
                if n == 2 {
                    std::thread::sleep(Duration::from_millis(700));
                }
                let body = hostile_message(n);
                let mut r = format!("* {n} FETCH (UID {n} BODY[] {{{}}}\r\n", body.len()).into_bytes();
                r.extend_from_slice(&body);
                r.extend_from_slice(b")\r\n");
                c.send(&r);
            }
            format!("{tag} OK done\r\n").into_bytes()
        } else if cmd.starts_with("LOGOUT") {
            c.send(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes());
            return;
        } else {
            format!("{tag} BAD unexpected\r\n").into_bytes()
        };
        c.send(&reply);
    }
}

/// A config for the scripted server in `dir`.
fn scripted_config(dir: &Path, server: &ScriptedServer) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"MAILSYNC_TEST_PW\"\n\
             [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\ntimeout = 10\n",
            server.port(),
            server.ca_file().display()
        ),
    )
    .unwrap();
    p
}

fn sync_command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--db")
        .arg(dir.join("mail.db"))
        .args(args)
        .env("MAILSYNC_TEST_PW", "x")
        .env_remove("RUST_LOG");
    c
}

/// The raw control bytes of `text` (other than newline), for the assertion message.
fn raw_controls(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes).chars().filter(|c| c.is_control() && *c != '\n').map(|c| c as u8).collect()
}

/// The escaped form people see.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { format!("\\x{:02x}", u32::from(c)) } else { c.to_string() })
        .collect()
}

/// Sync summaries, the error line and `-vv` logs show the hostile folder names, the refusal text and the
/// subject escaped, with not one raw control byte on stdout or stderr; `--json` carries the exact name.
#[test]
fn server_strings_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let server = ScriptedServer::tls_many(2, hostile_imap).unwrap();
    scripted_config(dir.path(), &server);

    let o = sync_command(dir.path(), &["-vv", "sync"]).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(4), "one folder failed: {out}\n{err}");
    assert!(raw_controls(&o.stdout).is_empty(), "raw control bytes on stdout: {out:?}");
    assert!(raw_controls(&o.stderr).is_empty(), "raw control bytes on stderr: {err:?}");
    assert!(out.contains(&format!("t imap {}: 2 new", shown(PWNED))), "{out}");
    assert!(out.contains(&shown(REFUSAL)), "the folder's refusal, escaped: {out}");
    assert!(out.contains("gone\\x00"), "{out}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("mailsync: ") && last.contains("gone\\x00"), "{err}");

    let o = sync_command(dir.path(), &["--json", "sync"]).output().unwrap();
    let lines = common::json_lines(&o.stdout);
    assert!(lines.iter().any(|v| v["folder"] == PWNED), "exact name in JSON: {lines:?}");
    let json = String::from_utf8_lossy(&o.stdout);
    assert!(json.contains("\\u001b]0;pwned\\u0007"), "JSON escapes it the JSON way: {json}");
    server.join();

    // What the store now holds, read back by every command that prints it.
    let id = {
        let o = sync_command(dir.path(), &["--json", "search"]).output().unwrap();
        let hits = common::json_lines(&o.stdout);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!(hits[0]["subject"], SUBJECT, "exact subject in JSON");
        hits[0]["id"].to_string()
    };
    for args in [&["search"][..], &["show", &id]] {
        let o = sync_command(dir.path(), args).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(raw_controls(&o.stdout).is_empty(), "{args:?}: {out:?}");
        assert!(out.contains("\\x1b]"), "{args:?} shows the escape: {out}");
    }
}

/// The progress bar on a terminal (a pseudo-terminal from util-linux `script`) shows the hostile folder
/// name escaped, counts messages as messages and bytes as bytes.
#[test]
fn the_progress_bar_shows_names_escaped_and_bytes_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = ScriptedServer::tls_many(1, hostile_imap).unwrap();
    scripted_config(dir.path(), &server);
    let inner = format!(
        "stty cols 160 rows 40; MAILSYNC_TEST_PW=x exec '{BIN}' --config '{}' --db '{}' sync",
        dir.path().join("config.toml").display(),
        dir.path().join("mail.db").display()
    );
    let o =
        Command::new("script").args(["-q", "-e", "-c", &inner, "/dev/null"]).env_remove("RUST_LOG").output();
    let o = o.unwrap();
    let screen = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(4), "{screen:?}");
    assert!(!screen.contains(PWNED), "the raw title sequence reached the terminal: {screen:?}");
    assert!(!screen.contains("\u{1b}]2;evil"), "{screen:?}");
    // Frames are separated by carriage returns and line clears. While the second message is on its way,
    // the bar shows one of two messages and the first one's size in bytes (before: "1/2 1 B", the count).
    // (The rate joins once time has passed; its arithmetic is the unit test of `progress_message`.)
    let first = format!("] 1/2 {} B", hostile_message(1).len());
    let frames: Vec<&str> = screen.split(['\r', '\n']).filter(|l| l.contains(&shown(PWNED))).collect();
    assert!(frames.iter().any(|f| f.contains(&first)), "no frame with {first:?}: {frames:?}");
    assert!(!frames.iter().any(|f| f.contains("] 1/2 1 B")), "the count shown as bytes: {frames:?}");
    server.join();
}

/// A store for the local stderr cases: one message, a folder and a run error with control characters.
fn build_hostile_store(dir: &Path) -> PathBuf {
    use mailsync_proto::types::Uid;
    use mailsync_store::{ImapBatch, MailboxInfo, NewImapMessage, Protocol, RunSummary, Store};
    std::fs::write(dir.join("config.toml"), "").unwrap();
    let db = dir.join("mail.db");
    let mut store = Store::open(&db).unwrap();
    let work = store.account("work").unwrap();
    let info =
        MailboxInfo { name: PWNED.into(), delimiter: Some('/'), attributes: vec![], special_use: None };
    let mb = store.upsert_mailbox(work, &info).unwrap();
    let mut b = ImapBatch::new(mb);
    b.new.push(NewImapMessage {
        uid: Uid::try_from(1u32).unwrap(),
        flags: vec![],
        internaldate: None,
        modseq: None,
        raw: format!("Subject: hello {SUBJECT}\r\nFrom: a@x\r\n\r\nbody\u{1b}[2J\r\n").into_bytes(),
        prepared: None,
    });
    store.apply_imap_batch(b).unwrap();
    let run = store.begin_run(work, Protocol::Imap).unwrap();
    store
        .finish_run(run, &RunSummary { error: Some(format!("NO {REFUSAL}")), ..RunSummary::default() })
        .unwrap();
    db
}

/// Every command that prints stored text (folder names, headers, bodies, a run's error) shows its control
/// characters escaped, and `--json` keeps them exact.
#[test]
fn stored_text_is_shown_escaped_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let db = build_hostile_store(dir.path());
    for (args, expected) in [
        (&["search"][..], shown(PWNED).chars().take(8).collect()),
        (&["show", "1"], format!("Subject:    hello {}", shown(SUBJECT))),
        (&["show", "1"], "body\\x1b[2J".to_owned()),
        (&["status"], format!("failed: NO {}", shown(REFUSAL))),
    ] {
        let o = local(&db, args).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(raw_controls(&o.stdout).is_empty(), "{args:?}: {out:?}");
        assert!(out.contains(&expected), "{args:?}: {expected:?} in {out}");
    }
    let o = local(&db, &["--json", "search"]).output().unwrap();
    let hits = common::json_lines(&o.stdout);
    assert_eq!(hits[0]["folder"], PWNED);
    assert_eq!(hits[0]["subject"], format!("hello {SUBJECT}"));
    let o = local(&db, &["--json", "status"]).output().unwrap();
    let rows = common::json_lines(&o.stdout);
    assert_eq!(rows[0]["last_sync"]["error"], format!("NO {REFUSAL}"));
}
