//! Replays IMAP transcripts (`fixtures/imap/*.trace`, format in `fixtures/imap/README.md`) through
//! [`ImapSession`] and renders what it reports as one line per event.
//!
//! Included as a module by `imap_traces.rs` (fixtures against their `E:` lines), `imap_chunking.rs`
//! (any chunking gives the same events) and `imap_differential.rs` (the server frames of every
//! fixture); compiled alone it tests its own command reader and renderer.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use mailsync_proto::imap::command::{Command, FetchAttr, QresyncParams, SearchKey, StatusItem};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{
    BodySection, Code, Event, Fetch, ImapSession, MailboxStatus, Section, SessionConfig, Untagged,
};
use mailsync_proto::{ModSeq, Secret, UidValidity};

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `S: bytes` — server bytes; a CRLF is appended.
    Server(Vec<u8>),
    /// `C: line` — the client sends the command written on this line (tag included).
    Command(String),
    /// `C: DONE` — the client ends IDLE.
    Done,
    /// `A: base64` — the client answers an AUTHENTICATE challenge.
    Answer(String),
    /// `E: rendering` — the next event (or error) the session reports.
    Expect(String),
    /// `state: Name` — the session state at this point.
    State(String),
}

/// A transcript: its name and steps.
#[derive(Debug, Clone)]
pub struct Trace {
    pub name: String,
    pub steps: Vec<Step>,
}

/// The fixture directory.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/imap")
}

/// Every `*.trace` in the fixture directory, sorted by name.
pub fn load_all() -> Vec<Trace> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixtures/imap exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("readable trace");
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            parse_trace(&name, &text)
        })
        .collect()
}

/// Reads a transcript. Escapes in `S:` lines: `\r`, `\n`, `\\`, `\xHH`, and a line ending in `\` gets
/// no CRLF.
pub fn parse_trace(name: &str, text: &str) -> Trace {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let step = if let Some(rest) = line.strip_prefix("S:") {
            Step::Server(unescape(rest.strip_prefix(' ').unwrap_or(rest)))
        } else if let Some(rest) = line.strip_prefix("C: ") {
            if rest == "DONE" {
                Step::Done
            } else {
                Step::Command(rest.to_owned())
            }
        } else if let Some(rest) = line.strip_prefix("A:") {
            Step::Answer(rest.trim().to_owned())
        } else if let Some(rest) = line.strip_prefix("E: ") {
            Step::Expect(rest.to_owned())
        } else if let Some(rest) = line.strip_prefix("state: ") {
            Step::State(rest.trim().to_owned())
        } else {
            panic!("{name}:{}: unknown line {line:?}", n + 1);
        };
        steps.push(step);
    }
    Trace { name: name.to_owned(), steps }
}

fn unescape(s: &str) -> Vec<u8> {
    let (body, crlf) = match s.strip_suffix('\\') {
        Some(b) if !b.ends_with('\\') => (b, false),
        _ => (s, true),
    };
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 2);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("ascii hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                    i += 2;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if crlf {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// All server bytes of a trace, in order.
pub fn server_bytes(trace: &Trace) -> Vec<u8> {
    trace
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Server(b) => Some(b.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// What a replay observed: every event and error rendered, the bytes the client sent, and the
/// states asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub observed: Vec<String>,
    pub sent: Vec<u8>,
    pub expected_sent: Vec<u8>,
    pub states: Vec<(String, String)>,
}

/// Replays `trace`. Server bytes between two client actions are fed in the pieces `cut` makes of
/// them (`cut(len)` returns ascending cut offsets); after each piece every available event is
/// collected. Fatal errors end the replay.
pub fn replay(trace: &Trace, cut: &mut dyn FnMut(usize) -> Vec<usize>) -> Replay {
    let mut s = ImapSession::new(SessionConfig::default());
    let mut r =
        Replay { observed: Vec::new(), sent: Vec::new(), expected_sent: Vec::new(), states: Vec::new() };
    let mut pending: Vec<u8> = Vec::new();
    let mut fatal = false;
    for step in &trace.steps {
        if !matches!(step, Step::Server(_)) && !pending.is_empty() && !fatal {
            fatal = feed_in_pieces(&mut s, &std::mem::take(&mut pending), cut, &mut r.observed);
        }
        match step {
            Step::Server(b) => pending.extend_from_slice(b),
            Step::Command(line) => {
                r.expected_sent.extend_from_slice(line.as_bytes());
                r.expected_sent.extend_from_slice(b"\r\n");
                let (tag, cmd) = command_from_line(line);
                match s.send(cmd) {
                    Ok(id) => assert_eq!(format!("A{:04}", id.get()), tag, "{}: tag of {line:?}", trace.name),
                    Err(e) => r.observed.push(format!("error {e}")),
                }
            }
            Step::Done => {
                r.expected_sent.extend_from_slice(b"DONE\r\n");
                if let Err(e) = s.idle_done() {
                    r.observed.push(format!("error {e}"));
                }
            }
            Step::Answer(b64) => {
                r.expected_sent.extend_from_slice(b64.as_bytes());
                r.expected_sent.extend_from_slice(b"\r\n");
                let raw = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 answer");
                if let Err(e) = s.authenticate_continue(Secret::new(raw)) {
                    r.observed.push(format!("error {e}"));
                }
            }
            Step::Expect(_) => {}
            Step::State(want) => r.states.push((want.clone(), format!("{:?}", s.state()))),
        }
        while let Some(b) = s.poll_transmit() {
            r.sent.extend_from_slice(&b);
        }
    }
    if !pending.is_empty() && !fatal {
        feed_in_pieces(&mut s, &pending, cut, &mut r.observed);
    }
    while let Some(b) = s.poll_transmit() {
        r.sent.extend_from_slice(&b);
    }
    r
}

/// Feeds `bytes` in pieces, draining events after each; true when a fatal error ended the session.
fn feed_in_pieces(
    s: &mut ImapSession,
    bytes: &[u8],
    cut: &mut dyn FnMut(usize) -> Vec<usize>,
    observed: &mut Vec<String>,
) -> bool {
    let mut start = 0;
    let mut cuts = cut(bytes.len());
    cuts.push(bytes.len());
    for end in cuts {
        let end = end.clamp(start, bytes.len());
        s.feed(&bytes[start..end]);
        start = end;
        if drain(s, observed) {
            return true;
        }
    }
    false
}

/// Collects events until the session needs more bytes; true on a fatal error.
fn drain(s: &mut ImapSession, observed: &mut Vec<String>) -> bool {
    loop {
        match s.poll_event() {
            Ok(Some(e)) => observed.push(render(&e)),
            Ok(None) => return false,
            Err(e) => {
                let fatal = matches!(
                    e,
                    mailsync_proto::imap::ImapError::ResponseTooLarge { .. }
                        | mailsync_proto::imap::ImapError::LiteralTooLarge { .. }
                        | mailsync_proto::imap::ImapError::BadGreeting { .. }
                        | mailsync_proto::imap::ImapError::StartTlsInjection { .. }
                        | mailsync_proto::imap::ImapError::FramerFailed
                );
                observed.push(format!("error {e}"));
                if fatal {
                    return true;
                }
            }
        }
    }
}

/// The `E:` lines of a trace.
pub fn expected_events(trace: &Trace) -> Vec<String> {
    trace
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Expect(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

// ---- the command reader ----------------------------------------------------------------------

/// Splits a command line into words; quoted strings and parenthesised groups stay whole.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut in_quote = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_quote {
            cur.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_quote = true;
                cur.push(c);
            }
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ' ' if depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// An astring as text: quotes removed and unescaped.
fn unquote(w: &str) -> String {
    match w.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => w.to_owned(),
    }
}

/// The words inside a parenthesised group.
fn inner_words(group: &str) -> Vec<String> {
    let inner = group.strip_prefix('(').and_then(|g| g.strip_suffix(')')).unwrap_or(group);
    words(inner)
}

fn seqset(w: &str) -> SequenceSet {
    SequenceSet::parse(w.as_bytes()).expect("sequence set")
}

/// The tag and [`Command`] written on a `C:` line.
pub fn command_from_line(line: &str) -> (String, Command) {
    let w = words(line);
    let tag = w[0].clone();
    let name = w[1].to_ascii_uppercase();
    let args = &w[2..];
    let cmd = match name.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "STARTTLS" => Command::StartTls,
        "NAMESPACE" => Command::Namespace,
        "IDLE" => Command::Idle,
        "UNSELECT" => Command::Unselect,
        "CLOSE" => Command::Close,
        "LOGIN" => {
            Command::Login { user: unquote(&args[0]), password: Secret::from(unquote(&args[1]).as_str()) }
        }
        "AUTHENTICATE" => Command::Authenticate {
            mechanism: args[0].clone(),
            initial_response: args.get(1).map(|b64| {
                let raw = if b64 == "=" {
                    Vec::new()
                } else {
                    base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 initial response")
                };
                Secret::new(raw)
            }),
        },
        "ENABLE" => Command::Enable(args.to_vec()),
        "ID" => Command::Id(if args[0].eq_ignore_ascii_case("NIL") {
            None
        } else {
            let v = inner_words(&args[0]);
            Some(v.chunks(2).map(|p| (unquote(&p[0]), unquote(&p[1]))).collect())
        }),
        "LIST" => Command::List {
            reference: unquote(&args[0]),
            pattern: unquote(&args[1]),
            return_special_use: args.len() > 2,
        },
        "STATUS" => Command::Status {
            mailbox: unquote(&args[0]).into(),
            items: inner_words(&args[1])
                .iter()
                .map(|i| match i.to_ascii_uppercase().as_str() {
                    "MESSAGES" => StatusItem::Messages,
                    "RECENT" => StatusItem::Recent,
                    "UIDNEXT" => StatusItem::UidNext,
                    "UIDVALIDITY" => StatusItem::UidValidity,
                    "UNSEEN" => StatusItem::Unseen,
                    "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
                    "SIZE" => StatusItem::Size,
                    other => panic!("status item {other}"),
                })
                .collect(),
        },
        "SELECT" | "EXAMINE" => {
            let mailbox = unquote(&args[0]);
            let mut condstore = false;
            let mut qresync = None;
            if let Some(p) = args.get(1) {
                let p = inner_words(p);
                match p[0].to_ascii_uppercase().as_str() {
                    "CONDSTORE" => condstore = true,
                    "QRESYNC" => {
                        let q = inner_words(&p[1]);
                        let v: u32 = q[0].parse().expect("uidvalidity");
                        let m: u64 = q[1].parse().expect("modseq");
                        qresync = Some(QresyncParams {
                            uidvalidity: UidValidity::try_from(v).expect("nonzero"),
                            modseq: ModSeq::try_from(m).expect("nonzero"),
                            known_uids: q.get(2).map(|k| seqset(k)),
                        });
                    }
                    other => panic!("select parameter {other}"),
                }
            }
            if name == "SELECT" {
                Command::Select { mailbox: mailbox.into(), condstore, qresync }
            } else {
                Command::Examine { mailbox: mailbox.into(), condstore, qresync }
            }
        }
        "UID" => {
            let sub = args[0].to_ascii_uppercase();
            match sub.as_str() {
                "FETCH" => {
                    let set = seqset(&args[1]);
                    let items = inner_words(&args[2])
                        .iter()
                        .map(|i| match i.to_ascii_uppercase().as_str() {
                            "UID" => FetchAttr::Uid,
                            "FLAGS" => FetchAttr::Flags,
                            "INTERNALDATE" => FetchAttr::InternalDate,
                            "RFC822.SIZE" => FetchAttr::Rfc822Size,
                            "MODSEQ" => FetchAttr::ModSeq,
                            "BODY.PEEK[]" => FetchAttr::BodyPeek,
                            "BODY.PEEK[HEADER]" => FetchAttr::BodyPeekHeader,
                            other => panic!("fetch item {other}"),
                        })
                        .collect();
                    let (mut changed_since, mut vanished) = (None, false);
                    if let Some(m) = args.get(3) {
                        let m = inner_words(m);
                        let mut it = m.iter();
                        while let Some(x) = it.next() {
                            match x.to_ascii_uppercase().as_str() {
                                "CHANGEDSINCE" => {
                                    let n: u64 = it.next().expect("modseq").parse().expect("number");
                                    changed_since = ModSeq::try_from(n).ok();
                                }
                                "VANISHED" => vanished = true,
                                other => panic!("fetch modifier {other}"),
                            }
                        }
                    }
                    Command::UidFetch { set, items, changed_since, vanished }
                }
                "SEARCH" => Command::UidSearch { criteria: search_keys(&args[1..]) },
                other => panic!("UID {other}"),
            }
        }
        other => panic!("command {other} not supported by the trace reader"),
    };
    (tag, cmd)
}

fn search_keys(words: &[String]) -> SearchKey {
    let mut keys = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (key, used) = search_key(&words[i..]);
        keys.push(key);
        i += used;
    }
    if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    }
}

fn search_key(w: &[String]) -> (SearchKey, usize) {
    match w[0].to_ascii_uppercase().as_str() {
        "ALL" => (SearchKey::All, 1),
        "UID" => (SearchKey::Uid(seqset(&w[1])), 2),
        "MODSEQ" => {
            (SearchKey::ModSeqSince(ModSeq::try_from(w[1].parse::<u64>().expect("n")).expect("nz")), 2)
        }
        "NOT" => {
            let (k, used) = search_key(&w[1..]);
            (SearchKey::Not(Box::new(k)), used + 1)
        }
        g if g.starts_with('(') => (search_keys(&inner_words(&w[0])), 1),
        other => panic!("search key {other}"),
    }
}

// ---- the renderer ----------------------------------------------------------------------------

fn esc(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let dbg = format!("{s:?}");
    dbg
}

fn code_text(code: &Option<Code>, text: &str) -> String {
    match code {
        Some(c) if text.is_empty() => render_code(c),
        Some(c) => format!("{} {text}", render_code(c)),
        None => text.to_owned(),
    }
}

/// A response code as `[NAME args]`.
pub fn render_code(c: &Code) -> String {
    let inner = match c {
        Code::Alert => "ALERT".into(),
        Code::Parse => "PARSE".into(),
        Code::ReadOnly => "READ-ONLY".into(),
        Code::ReadWrite => "READ-WRITE".into(),
        Code::TryCreate => "TRYCREATE".into(),
        Code::UidNext(u) => format!("UIDNEXT {u}"),
        Code::UidValidity(u) => format!("UIDVALIDITY {u}"),
        Code::Unseen(n) => format!("UNSEEN {n}"),
        Code::PermanentFlags(f) => format!("PERMANENTFLAGS ({})", join(f)),
        Code::HighestModSeq(m) => format!("HIGHESTMODSEQ {m}"),
        Code::NoModSeq => "NOMODSEQ".into(),
        Code::Capability(c) => format!("CAPABILITY {}", c.iter().collect::<Vec<_>>().join(" ")),
        Code::BadCharset(v) => format!("BADCHARSET ({})", v.join(" ")),
        Code::AuthenticationFailed => "AUTHENTICATIONFAILED".into(),
        Code::AuthorizationFailed => "AUTHORIZATIONFAILED".into(),
        Code::Unavailable => "UNAVAILABLE".into(),
        Code::Expired => "EXPIRED".into(),
        Code::PrivacyRequired => "PRIVACYREQUIRED".into(),
        Code::ContactAdmin => "CONTACTADMIN".into(),
        Code::NoPerm => "NOPERM".into(),
        Code::InUse => "INUSE".into(),
        Code::ExpungeIssued => "EXPUNGEISSUED".into(),
        Code::Corruption => "CORRUPTION".into(),
        Code::ServerBug => "SERVERBUG".into(),
        Code::ClientBug => "CLIENTBUG".into(),
        Code::Cannot => "CANNOT".into(),
        Code::Limit => "LIMIT".into(),
        Code::OverQuota => "OVERQUOTA".into(),
        Code::AlreadyExists => "ALREADYEXISTS".into(),
        Code::NonExistent => "NONEXISTENT".into(),
        Code::Closed => "CLOSED".into(),
        Code::UidNotSticky => "UIDNOTSTICKY".into(),
        Code::AppendUid { uid_validity, uids } => format!("APPENDUID {uid_validity} {uids}"),
        Code::CopyUid { uid_validity, source, dest } => format!("COPYUID {uid_validity} {source} {dest}"),
        Code::Modified(s) => format!("MODIFIED {s}"),
        Code::Other { name, args: None } => format!("other:{name}"),
        Code::Other { name, args: Some(a) } => format!("other:{name} {a}"),
    };
    format!("[{inner}]")
}

fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

fn render_status(s: &MailboxStatus) -> String {
    let mut out = format!("status {}", esc(&s.mailbox));
    let mut item = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            let _ = write!(out, " {k}={v}");
        }
    };
    item("messages", s.messages.map(|x| x.to_string()));
    item("recent", s.recent.map(|x| x.to_string()));
    item("uidnext", s.uid_next.map(|x| x.to_string()));
    item("uidvalidity", s.uid_validity.map(|x| x.to_string()));
    item("unseen", s.unseen.map(|x| x.to_string()));
    item("highestmodseq", s.highest_modseq.map(|x| x.to_string()));
    item("size", s.size.map(|x| x.to_string()));
    item("deleted", s.deleted.map(|x| x.to_string()));
    out
}

fn render_section(b: &BodySection) -> String {
    let sec = match &b.section {
        Section::Full => String::new(),
        Section::Header => "HEADER".into(),
        Section::Text => "TEXT".into(),
        Section::Other(s) => s.clone(),
    };
    let origin = b.origin.map(|o| format!("<{o}>")).unwrap_or_default();
    let data = b.data.as_ref().map(|d| esc(d)).unwrap_or_else(|| "NIL".into());
    format!("body[{sec}]{origin}={data}")
}

fn render_fetch(f: &Fetch) -> String {
    let mut out = format!("fetch {}", f.seq);
    if let Some(u) = f.uid {
        let _ = write!(out, " uid={u}");
    }
    if let Some(fl) = &f.flags {
        let _ = write!(out, " flags=({})", join(fl));
    }
    if let Some(d) = &f.internal_date {
        match d {
            Some(d) => {
                let _ = write!(out, " internaldate={:?}", d.raw);
                if let Some(t) = d.timestamp() {
                    let _ = write!(out, "@{t}");
                }
            }
            None => out.push_str(" internaldate=NIL"),
        }
    }
    if let Some(s) = f.rfc822_size {
        let _ = write!(out, " size={s}");
    }
    if let Some(m) = f.modseq {
        let _ = write!(out, " modseq={m}");
    }
    for b in &f.bodies {
        let _ = write!(out, " {}", render_section(b));
    }
    if !f.skipped.is_empty() {
        let _ = write!(out, " skipped={}", f.skipped.join(","));
    }
    if !f.malformed.is_empty() {
        let _ = write!(out, " malformed={}", f.malformed.join(";"));
    }
    out
}

/// An untagged response as one line.
pub fn render_untagged(u: &Untagged) -> String {
    match u {
        Untagged::Status(s) => {
            format!("* {:?} {}", s.kind, code_text(&s.code, &s.text)).trim_end().to_owned()
        }
        Untagged::Capability(c) => format!("capability {}", c.iter().collect::<Vec<_>>().join(" ")),
        Untagged::List(l) => {
            let attrs = l
                .attributes
                .iter()
                .map(|a| match a {
                    mailsync_proto::imap::MailboxAttr::Other(o) => o.clone(),
                    a => format!("{a:?}"),
                })
                .collect::<Vec<_>>()
                .join(" ");
            let delim = l.delimiter.map(|d| format!("{d:?}")).unwrap_or_else(|| "NIL".into());
            format!("list {:?} ({attrs}) {delim} {}", l.kind, esc(&l.name))
        }
        Untagged::MailboxStatus(s) => render_status(s),
        Untagged::Flags(f) => format!("flags ({})", join(f)),
        Untagged::Exists(n) => format!("exists {n}"),
        Untagged::Recent(n) => format!("recent {n}"),
        Untagged::Expunge(n) => format!("expunge {n}"),
        Untagged::Fetch(f) => render_fetch(f),
        Untagged::Search(s) => {
            let mut out = "search".to_owned();
            for n in &s.numbers {
                let _ = write!(out, " {n}");
            }
            if let Some(m) = s.modseq {
                let _ = write!(out, " modseq={m}");
            }
            out
        }
        Untagged::ESearch(e) => {
            let mut out = "esearch".to_owned();
            if let Some(t) = &e.tag {
                let _ = write!(out, " tag={t}");
            }
            if e.uid {
                out.push_str(" uid");
            }
            if let Some(x) = e.min {
                let _ = write!(out, " min={x}");
            }
            if let Some(x) = e.max {
                let _ = write!(out, " max={x}");
            }
            if let Some(x) = e.count {
                let _ = write!(out, " count={x}");
            }
            if let Some(x) = &e.all {
                let _ = write!(out, " all={x}");
            }
            if let Some(x) = e.modseq {
                let _ = write!(out, " modseq={x}");
            }
            if !e.skipped.is_empty() {
                let _ = write!(out, " skipped={}", e.skipped.join(","));
            }
            out
        }
        Untagged::Vanished(v) => format!("vanished{} {}", if v.earlier { " earlier" } else { "" }, v.uids),
        Untagged::Enabled(v) => format!("enabled {}", v.join(" ")).trim_end().to_owned(),
        Untagged::Id(None) => "id NIL".into(),
        Untagged::Id(Some(p)) => format!(
            "id ({})",
            p.iter()
                .map(|(k, v)| format!(
                    "{k}={}",
                    v.as_deref().map(|v| format!("{v:?}")).unwrap_or_else(|| "NIL".into())
                ))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Untagged::Namespace(n) => {
            let side = |v: &[mailsync_proto::imap::NamespaceDesc]| {
                v.iter()
                    .map(|d| {
                        format!(
                            "{}:{}",
                            esc(&d.prefix),
                            d.delimiter.map(|c| c.to_string()).unwrap_or_else(|| "NIL".into())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!(
                "namespace personal=({}) other=({}) shared=({})",
                side(&n.personal),
                side(&n.other_users),
                side(&n.shared)
            )
        }
        Untagged::Other { name, .. } => format!("other {name}"),
    }
}

/// An event as one line.
pub fn render(e: &Event) -> String {
    match e {
        Event::Greeting(g) => {
            format!("greeting {:?} {}", g.kind, code_text(&g.code, &g.text)).trim_end().to_owned()
        }
        Event::Untagged(u) => render_untagged(u),
        Event::Bye(s) => format!("bye {}", code_text(&s.code, &s.text)).trim_end().to_owned(),
        Event::AuthChallenge { id, challenge, raw } => match challenge {
            Some(c) => format!("challenge A{:04} {}", id.get(), esc(c)),
            None => format!("challenge A{:04} raw {}", id.get(), esc(&raw.data)),
        },
        Event::Idling { id } => format!("idling A{:04}", id.get()),
        Event::Done(c) => {
            format!("done {} {} {} {}", c.tag, c.command, c.status, code_text(&c.code, &c.text))
                .trim_end()
                .to_owned()
        }
    }
}

#[cfg(test)]
mod harness_tests {
    use super::*;

    #[test]
    fn unescape_forms() {
        assert_eq!(unescape("a\\r\\nb"), b"a\r\nb\r\n");
        assert_eq!(unescape("no crlf\\"), b"no crlf");
        assert_eq!(unescape("\\x00\\xff"), b"\x00\xff\r\n");
        assert_eq!(unescape("back\\\\"), b"back\\\r\n");
    }

    #[test]
    fn command_lines_round_trip_through_the_encoder() {
        use mailsync_proto::imap::command::EncodeOptions;
        for line in [
            "A0001 LOGIN alice secret",
            "A0002 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))",
            "A0003 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 12345 VANISHED)",
            "A0004 STATUS \"Sent Items\" (MESSAGES UIDNEXT UIDVALIDITY)",
            "A0005 LIST \"\" * RETURN (SPECIAL-USE)",
            "A0006 UID SEARCH UID 1:* NOT MODSEQ 5",
            "A0007 ID (\"name\" \"mailsync\")",
            "A0008 ENABLE QRESYNC",
        ] {
            let (tag, cmd) = command_from_line(line);
            let wire = cmd.encode(&tag, EncodeOptions { literal_plus: true, sasl_ir: true }).chunks.concat();
            assert_eq!(String::from_utf8_lossy(&wire), format!("{line}\r\n"));
        }
    }
}
