//! `--trace FILE` end to end, against the harness's real Dovecot (IMAPS, POP3 with STLS; its rawlog on) and a
//! private Postfix: a trace of a full sync holds every line Dovecot's own rawlog recorded after login (the
//! same bytes with `--trace-content full`, the same protocol lines with bodies left out by default), and no
//! password, token, base64 SASL form, header value or body text; the size limit holds; SMTP's AUTH is
//! redacted in `check`'s trace; a full trace replays into the very messages the sync stored; the file is
//! created 0600 and a symlink or a tiny limit is refused; a disk that fills stops the trace, not the run.

mod oauth_support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use mailsync_proto::imap::{Event, Untagged};
use mailsync_proto::pop3::Pop3Event;
use mailsync_proto::trace::{announced_literal, read, Conversation, Protocol};
use mailsync_testkit::oauth2::sign_jwt;
use mailsync_testkit::rawlog::Rawlog;
use mailsync_testkit::replay::{self, Replayed};
use mailsync_testkit::{DovecotOptions, Flag};
use oauth_support::{code, stderr, stdout, World, PW_ENV, USER};

/// In every body: never in a trace unless `--trace-content full`.
const MARK: &str = "BODYMARK-7c1e";
/// In every Subject: a header value, never in a trace unless `headers` or `full`.
const SUBJECT: &str = "quarterly-plans-51";

fn world(postfix: bool) -> World {
    World::with(DovecotOptions { rawlog: true, ..DovecotOptions::default() }, postfix)
}

/// 12 messages in INBOX (1 to 9 KB, one with a line that looks like a literal and a dot line) and 2 in
/// Archive.
fn seed(w: &World) {
    let inbox: Vec<Vec<u8>> = (0..12)
        .map(|i| {
            let body = format!("{MARK} line of message {i}\r\n").repeat(1 + i * 20);
            format!(
                "From: Ada <ada@example.test>\r\nTo: {USER}\r\nSubject: {SUBJECT} {i}\r\nMessage-ID: <m{i}@t>\r\n\
                 \r\n{body}* {i} FETCH (BODY[] {{5}}\r\n.\r\n"
            )
            .into_bytes()
        })
        .collect();
    let seeded: Vec<(&[u8], &[Flag])> = inbox.iter().map(|m| (m.as_slice(), &[Flag::Seen][..])).collect();
    w.dovecot.seed("alice", "INBOX", &seeded).unwrap();
    let archive = format!("Subject: {SUBJECT} old\r\n\r\n{MARK} archived\r\n");
    w.dovecot.seed("alice", "Archive", &[(archive.as_bytes(), &[][..])]).unwrap();
}

/// Runs mailsync with its own store `db` (each run of a test starts from nothing).
fn run(w: &World, db: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailsync"));
    c.arg("--config")
        .arg(w.config())
        .arg("--db")
        .arg(w.dir.path().join(db))
        .args(args)
        .env_remove("RUST_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run mailsync")
}

fn ok(o: &Output) {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
}

fn trace_path(w: &World, name: &str) -> PathBuf {
    w.dir.path().join(name)
}

fn read_trace(p: &Path) -> String {
    let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", p.display());
    std::fs::read_to_string(p).unwrap()
}

/// The secret forms a trace must never hold: each secret, its base64, and the base64 SASL responses sent.
fn forbidden(password: Option<&str>, token: Option<&str>) -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut v = Vec::new();
    if let Some(p) = password {
        v.extend([p.to_owned(), b64(p), b64(&format!("\0{USER}\0{p}")), b64(&format!("\0alice\0{p}"))]);
    }
    if let Some(t) = token {
        v.extend([t.to_owned(), b64(t), b64(&format!("user={USER}\x01auth=Bearer {t}\x01\x01"))]);
        // Any long piece of the token (a server could echo part of it).
        v.extend(
            t.as_bytes().chunks(24).filter(|c| c.len() == 24).map(|c| String::from_utf8_lossy(c).into()),
        );
    }
    v
}

fn assert_no(text: &str, needles: &[String]) {
    for n in needles {
        assert!(!text.contains(n.as_str()), "the trace holds {n:?}:\n{text}");
    }
}

/// The lines of an IMAP stream outside its literals.
fn imap_lines(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let end = rest.windows(2).position(|w| w == b"\r\n").map_or(rest.len(), |i| i + 2);
        let line = &rest[..end];
        out.push(line.to_vec());
        rest = &rest[end..];
        if let Some((n, _)) = announced_literal(line.strip_suffix(b"\r\n").unwrap_or(line)) {
            rest = &rest[usize::try_from(n).unwrap().min(rest.len())..];
        }
    }
    out
}

/// The lines of a POP3 stream outside message bodies (Dovecot answers RETR with `+OK N octets`).
fn pop3_lines(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut in_body = false;
    for line in stream.split_inclusive(|b| *b == b'\n') {
        if in_body {
            in_body = line != b".\r\n";
            if in_body {
                continue;
            }
        } else if line.starts_with(b"+OK ") && line.ends_with(b" octets\r\n") {
            in_body = true;
        }
        out.push(line.to_vec());
    }
    out
}

/// Where `line` starts a line of `stream`.
fn line_start(stream: &[u8], line: &[u8]) -> Option<usize> {
    let mut at = 0;
    for l in stream.split_inclusive(|b| *b == b'\n') {
        if l == line {
            return Some(at);
        }
        at += l.len();
    }
    None
}

/// Holds each post-login rawlog session of `protocol` against the traced conversation it belongs to: the
/// client's and the server's bytes after the login are Dovecot's exactly (`full`), or line for line outside
/// message bodies. Returns (sessions, client lines, server lines) compared.
fn against_rawlog(w: &World, text: &str, protocol: Protocol, full: bool) -> (usize, usize, usize) {
    let conversations: Vec<Conversation> =
        read(text).unwrap().into_iter().filter(|c| c.protocol == Some(protocol)).collect();
    let sessions: Vec<Rawlog> = w
        .dovecot
        .rawlogs("alice")
        .unwrap()
        .into_iter()
        .filter(|r| r.output.starts_with(b"+") == (protocol == Protocol::Pop3))
        .collect();
    assert!(!sessions.is_empty(), "no {protocol:?} rawlog");
    let lines = |s: &[u8]| if protocol == Protocol::Imap { imap_lines(s) } else { pop3_lines(s) };
    let (mut client_lines, mut server_lines) = (0, 0);
    for r in &sessions {
        // The trace's server bytes from the login's answer on, and what of the rawlog's the client never read:
        // nothing, or the answer to a QUIT it did not wait for (POP3 without deletions).
        let first = r.output.split_inclusive(|b| *b == b'\n').next().unwrap_or_default();
        let matched = conversations.iter().find_map(|c| {
            let server = c.server_bytes();
            let at = line_start(&server, first)?;
            let traced = &server[at..];
            let (traced, logged) = if full {
                (vec![traced.to_vec()], vec![r.output.get(..traced.len())?.to_vec()])
            } else {
                (lines(traced), lines(&r.output).into_iter().take(lines(traced).len()).collect())
            };
            (traced == logged).then(|| (c, traced.concat().len()))
        });
        let (c, read_len) = matched.unwrap_or_else(|| {
            panic!("no traced conversation holds rawlog {}:\n{}", r.name, String::from_utf8_lossy(&r.output))
        });
        let unread =
            if full { r.output.len() - read_len } else { lines(&r.output).concat().len() - read_len };
        let tail = &r.output[r.output.len() - unread..];
        assert!(
            tail.is_empty() || (tail.starts_with(b"+OK") && tail.ends_with(b"\r\n") && tail.len() < 64),
            "{}: the client left unread more than QUIT's answer: {}",
            r.name,
            String::from_utf8_lossy(tail)
        );
        let client = c.client_bytes();
        assert!(client.ends_with(&r.input), "{}: client bytes differ from the rawlog", r.name);
        // What precedes the rawlog's part is the login, its secret redacted: nothing after it is missing.
        let before = &client[..client.len() - r.input.len()];
        let last = before.strip_suffix(b"\r\n").unwrap_or(before);
        let last = last.rsplit(|b| *b == b'\n').next().unwrap_or_default();
        assert!(
            String::from_utf8_lossy(last).contains("<redacted>"),
            "{}: the line before the rawlog's part is not the login: {}",
            r.name,
            String::from_utf8_lossy(last)
        );
        client_lines += r.input.split(|b| *b == b'\n').count() - 1;
        server_lines += lines(&r.output).len();
    }
    // One traced, logged-in conversation per rawlog session.
    let logged_in =
        conversations.iter().filter(|c| c.client_bytes().windows(10).any(|w| w == b"<redacted>")).count();
    assert_eq!(logged_in, sessions.len(), "{text}");
    (sessions.len(), client_lines, server_lines)
}

/// A sync of every folder over IMAP, then of the INBOX over POP3, each traced twice (default content, then
/// full): every rawlog line is in the trace and no secret or content is.
fn sync_both_ways(w: &World, env: &[(&str, &str)], secrets: &[String]) {
    for (n, content) in ["none", "full"].iter().enumerate() {
        for (via, protocol) in [("imap", Protocol::Imap), ("pop3", Protocol::Pop3)] {
            let before = w.dovecot.rawlogs("alice").unwrap().len();
            let t = trace_path(w, &format!("{via}-{content}.trace"));
            let db = format!("{via}-{n}.db");
            let o = run(
                w,
                &db,
                &["sync", "--via", via, "--trace", t.to_str().unwrap(), "--trace-content", content],
                env,
            );
            ok(&o);
            let text = read_trace(&t);
            assert_no(&text, secrets);
            if *content == "none" {
                assert_no(&text, &[MARK.to_owned(), SUBJECT.to_owned(), "ada@example.test".to_owned()]);
                assert!(text.contains("header names: From To Subject Message-ID"), "{text}");
            } else {
                assert!(text.contains(MARK) && text.contains(SUBJECT), "full content is in");
            }
            let (sessions, c, s) = against_rawlog(w, &text, protocol, *content == "full");
            assert!(w.dovecot.rawlogs("alice").unwrap().len() > before);
            eprintln!(
                "{via} sync, content {content}: trace {} bytes, {} lines; {sessions} rawlog sessions, {c} client \
                 and {s} server lines matched",
                text.len(),
                text.lines().count()
            );
            // Start each run's rawlog comparison afresh.
            let dir = w.dovecot.dir().join("rawlog/alice");
            for e in std::fs::read_dir(&dir).unwrap() {
                std::fs::remove_file(e.unwrap().path()).unwrap();
            }
        }
    }
}

#[test]
fn a_password_sync_traces_every_line_dovecot_saw_and_no_secret_or_mail() {
    let w = world(false);
    seed(&w);
    w.write_password_account();
    let password = w.password();
    sync_both_ways(&w, &[(PW_ENV, &password)], &forbidden(Some(&password), None));
}

#[test]
fn an_xoauth2_sync_traces_every_line_dovecot_saw_and_no_token() {
    let w = world(false);
    seed(&w);
    let token = w.token();
    let file = w.dir.path().join("token.txt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    w.write(&format!("auth = \"xoauth2\"\ntoken_command = \"cat {}\"", file.display()), &w.endpoints());
    sync_both_ways(&w, &[], &forbidden(None, Some(&token)));
    let text = std::fs::read_to_string(trace_path(&w, "imap-none.trace")).unwrap();
    assert!(text.contains(" C: A0001 AUTHENTICATE XOAUTH2 <redacted>\n"), "{text}");
    let text = std::fs::read_to_string(trace_path(&w, "pop3-none.trace")).unwrap();
    assert!(text.contains(" C: AUTH XOAUTH2\n") && text.contains(" C: <redacted>\n"), "{text}");
}

#[test]
fn a_refused_token_shows_the_servers_challenge_and_the_empty_answer_not_the_token() {
    let w = world(false);
    let forged = sign_jwt(
        b"a key that is not the server's !!",
        &serde_json::json!({"sub": "alice", "exp": 4102444800u64}),
    );
    let file = w.dir.path().join("token.txt");
    std::fs::write(&file, format!("{forged}\n")).unwrap();
    w.write(&format!("auth = \"xoauth2\"\ntoken_command = \"cat {}\"", file.display()), &w.endpoints());
    let t = trace_path(&w, "check.trace");
    let o = run(&w, "c.db", &["check", "t", "--trace", t.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let text = read_trace(&t);
    assert_no(&text, &forbidden(None, Some(&forged)));
    // IMAP: the JSON error challenge, the empty acknowledgement, the NO. POP3 likewise.
    let challenge = base64::engine::general_purpose::STANDARD
        .encode(r#"{"status":"401","schemes":"bearer","scope":"mail"}"#);
    assert!(text.contains(&format!(" S: + {challenge}\n")), "{text}");
    assert!(
        text.contains(" imap#1 C: \n") && text.contains("imap#1 S: A0001 NO [AUTHENTICATIONFAILED]"),
        "{text}"
    );
    assert!(text.contains(" pop3#2 C: \n") && text.contains("pop3#2 S: -ERR [AUTH]"), "{text}");
}

#[test]
fn a_login_with_a_literal_password_keeps_it_out() {
    // A password with a quote and 8-bit bytes goes as a literal (LITERAL+: no go-ahead); the user name shows.
    let password = "pa\"ss\\w\u{f6}rd-77";
    let users = vec![("alice".to_owned(), password.to_owned())];
    let w = World::with(DovecotOptions { users, rawlog: true, ..DovecotOptions::default() }, false);
    seed(&w);
    w.write_password_account();
    let t = trace_path(&w, "t.trace");
    let o = run(&w, "d.db", &["sync", "--trace", t.to_str().unwrap()], &[(PW_ENV, password)]);
    ok(&o);
    let text = read_trace(&t);
    let escaped = mailsync_proto::trace::escape(password.as_bytes());
    assert_no(&text, &[password.to_owned(), escaped, "w\\xc3\\xb6rd-77".to_owned(), "rd-77".to_owned()]);
    assert!(text.contains(&format!(" C: A0001 LOGIN {USER} <redacted>\n")), "{text}");
    assert!(text.contains(" imap#1 C: <redacted>\n"), "the literal's line: {text}");
    against_rawlog(&w, &text, Protocol::Imap, false);
}

#[test]
fn a_full_trace_replays_into_the_messages_the_sync_stored() {
    let w = world(false);
    seed(&w);
    w.write_password_account();
    let password = w.password();
    let env = [(PW_ENV, password.as_str())];
    for via in ["imap", "pop3"] {
        let t = trace_path(&w, &format!("{via}.trace"));
        ok(&run(
            &w,
            &format!("{via}.db"),
            &["sync", "--via", via, "--trace", t.to_str().unwrap(), "--trace-content", "full"],
            &env,
        ));
        let conversations = read(&read_trace(&t)).unwrap();
        let mut replayed: BTreeSet<Vec<u8>> = BTreeSet::new();
        for c in &conversations {
            match c.protocol {
                Some(Protocol::Imap) => {
                    for r in replay::imap(c) {
                        match r {
                            Replayed::Event(Event::Untagged(Untagged::Fetch(f))) => {
                                replayed
                                    .extend(f.bodies.into_iter().filter_map(|b| b.data.map(|d| d.to_vec())));
                            }
                            Replayed::Error(e) => panic!("{}: {e}", c.label),
                            _ => {}
                        }
                    }
                }
                Some(Protocol::Pop3) => {
                    for r in replay::pop3(c) {
                        match r {
                            // RETR's answers (`N octets`), not the listings.
                            Replayed::Event(Pop3Event::Response { text, body: Some(b), .. })
                                if text.ends_with("octets") =>
                            {
                                replayed.insert(b.to_vec());
                            }
                            Replayed::Error(e) => panic!("{}: {e}", c.label),
                            _ => {}
                        }
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        let db = rusqlite::Connection::open(w.dir.path().join(format!("{via}.db"))).unwrap();
        let mut st = db.prepare("SELECT raw FROM message_bodies").unwrap();
        let stored: BTreeSet<Vec<u8>> =
            st.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap().map(Result::unwrap).collect();
        let want = if via == "imap" { 13 } else { 12 };
        assert_eq!(stored.len(), want, "{via}");
        assert_eq!(replayed, stored, "{via}: the replayed bodies are the stored messages");
    }
}

#[test]
fn the_size_limit_holds_with_a_last_line_that_says_so_and_the_sync_completes() {
    let w = world(false);
    seed(&w);
    w.write_password_account();
    let t = trace_path(&w, "small.trace");
    let o = run(
        &w,
        "s.db",
        &[
            "--json",
            "sync",
            "--trace",
            t.to_str().unwrap(),
            "--trace-content",
            "full",
            "--trace-limit",
            "16KiB",
        ],
        &[(PW_ENV, &w.password())],
    );
    ok(&o);
    let text = read_trace(&t);
    assert!(text.len() <= 16 * 1024, "{}", text.len());
    assert!(text.len() > 15 * 1024, "{}", text.len());
    assert!(text.ends_with("nothing after this was written\n"), "{}", &text[text.len() - 200..]);
    let stored = rusqlite::Connection::open(w.dir.path().join("s.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM message_bodies", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(stored, 13, "the sync went on past the trace's limit");
}

#[test]
fn check_traces_smtp_with_auth_redacted_and_the_test_message_left_out() {
    let w = world(true);
    w.write_password_account();
    let password = w.password();
    let t = trace_path(&w, "check.trace");
    let o = run(
        &w,
        "c.db",
        &["check", "t", "--send-test", "--trace", t.to_str().unwrap()],
        &[(PW_ENV, &password)],
    );
    ok(&o);
    let text = read_trace(&t);
    assert_no(&text, &forbidden(Some(&password), None));
    let smtp: Vec<&str> = text.lines().filter(|l| l.contains(" smtp#3 ")).collect();
    let has = |s: &str| smtp.iter().any(|l| l.ends_with(s));
    assert!(smtp.iter().any(|l| l.contains(" -- TLS established: TLSv1_")), "{text}");
    assert!(has(" C: AUTH PLAIN <redacted>") && has(" S: 235 2.7.0 Authentication successful"), "{text}");
    assert!(has(" C: DATA") && has(" C: .") && smtp.iter().any(|l| l.contains(" C= <")), "{text}");
    assert!(!text.contains("This is a test message"), "the test message's text is left out");
    // The SMTP conversation replays into as many replies as the server wrote final reply lines.
    let c = read(&text).unwrap().into_iter().find(|c| c.protocol == Some(Protocol::Smtp)).unwrap();
    let replies = replay::smtp(&c);
    assert!(replies.iter().all(|r| matches!(r, Replayed::Event(_))), "{replies:?}");
    let finals = smtp
        .iter()
        .filter(|l| {
            l.split(" S: ").nth(1).is_some_and(|r| r.len() >= 3 && r.as_bytes().get(3) != Some(&b'-'))
        })
        .count();
    assert_eq!(replies.len(), finals, "{text}");
    // Each protocol's conversation is labelled with its endpoint and the account it serves.
    for p in ["imap#1", "pop3#2", "smtp#3"] {
        let first = text.lines().find(|l| l.contains(&format!(" {p} "))).unwrap_or_default();
        assert!(first.contains(&format!(" {p} -- connecting to 127.0.0.1:")), "{p}: {text}");
        assert!(first.ends_with(") for account t"), "{p}: {first}");
    }
}

#[test]
fn a_disk_that_fills_stops_the_trace_with_a_warning_and_not_the_check() {
    let w = world(false);
    w.write_password_account();
    let t = trace_path(&w, "full-disk.trace");
    // The file size limit stands in for a full disk: writes past 4 KiB fail (EFBIG; SIGXFSZ is ignored).
    let script = format!(
        "trap '' XFSZ; ulimit -f 8; exec \"$0\" --config {} --db {} check t --trace {}",
        w.config().display(),
        w.dir.path().join("f.db").display(),
        t.display()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_mailsync"))
        .env(PW_ENV, w.password())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    ok(&o);
    let e = stderr(&o);
    assert!(
        e.contains("the protocol trace") && e.contains("stopped") && e.contains("the run goes on"),
        "{e}"
    );
    assert_eq!(e.matches("stopped").count(), 1, "one warning: {e}");
    assert!(std::fs::metadata(&t).unwrap().len() <= 4096);
}

#[test]
fn a_trace_path_that_is_a_symlink_or_a_tiny_limit_is_refused_before_any_connection() {
    let w = world(false);
    w.write_password_account();
    let target = w.dir.path().join("precious.txt");
    std::fs::write(&target, "keep").unwrap();
    let link = w.dir.path().join("link.trace");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = run(&w, "x.db", &["check", "t", "--trace", link.to_str().unwrap()], &[(PW_ENV, &w.password())]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(stdout(&o).is_empty(), "nothing was checked: {}", stdout(&o));
    // (arguments, words of the refusal)
    let rows: &[(&[&str], &str)] = &[
        (&["sync", "--trace", "/tmp/x.trace", "--trace-limit", "100"], "too small"),
        (&["sync", "--trace-content", "full"], "--trace"),
        (&["compare", "t", "--trace", "/tmp/x.trace", "--trace-content", "bodies"], "bodies"),
    ];
    for (args, words) in rows {
        let o = run(&w, "x.db", args, &[]);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{args:?}: {}", stderr(&o));
    }
}
