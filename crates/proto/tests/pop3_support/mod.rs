//! Test support shared by the POP3 integration tests: the `.trace` transcript reader and a replayer
//! that drives a [`Pop3Session`] through a transcript. The format is documented in
//! `fixtures/pop3/README.md`.
//!
//! Must never: be used by library code; hide a mismatch (every difference is an `Err` naming the
//! transcript line).

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mailsync_proto::pop3::{
    parse_capabilities, InitialResponse, Pop3Command, Pop3Config, Pop3Event, Pop3Session, Pop3State,
};
use mailsync_proto::sasl::{self, Mechanism};
use mailsync_proto::{Secret, SeqNum};
use serde_json::{json, Map, Value};

/// One line of a transcript.
#[derive(Debug, Clone)]
pub enum Step {
    /// `S:` (CRLF appended) or `S~` (nothing appended): bytes the server sends.
    Server(Vec<u8>),
    /// `C:`: the exact bytes (CRLF appended) the client must write next.
    Client(Vec<u8>),
    /// `C-`: the client must have nothing to write now.
    NoClient,
    /// `>`: a call on the session.
    Call(String),
    /// `E:`: the next event, as JSON.
    Event(Value),
    /// `X:`: the session must fail with an error whose message contains this text.
    Fails(String),
    /// `=`: an assertion on the session's state or capabilities.
    Assert(String),
}

/// A parsed transcript.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The file name.
    pub name: String,
    /// `(line number, step)` in order.
    pub steps: Vec<(usize, Step)>,
    /// Session limits from `%` lines.
    pub config: Pop3Config,
    /// `% whole-reads-only`: the outcome depends on read boundaries by design (STLS injection).
    pub whole_reads_only: bool,
}

/// Decodes the escapes of `S:`/`C:` text: `\r \n \t \0 \\ \xNN`.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hi = bytes.next().ok_or("truncated \\x escape")?;
                let lo = bytes.next().ok_or("truncated \\x escape")?;
                let hex = [hi, lo];
                let s = std::str::from_utf8(&hex).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(s, 16).map_err(|e| format!("bad \\x escape: {e}"))?);
            }
            other => return Err(format!("unknown escape \\{:?}", other.map(char::from))),
        }
    }
    Ok(out)
}

/// Parses a transcript's text.
pub fn parse_trace(name: &str, text: &str) -> Result<Trace, String> {
    let mut trace = Trace {
        name: name.to_owned(),
        steps: Vec::new(),
        config: Pop3Config::default(),
        whole_reads_only: false,
    };
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let err = |msg: String| format!("{name}:{n}: {msg}");
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let (tag, rest) = raw.split_at(raw.char_indices().nth(2).map_or(raw.len(), |(i, _)| i));
        let body = rest.strip_prefix(' ').unwrap_or(rest);
        let step = match tag {
            "S:" => {
                let mut b = unescape(body).map_err(err)?;
                b.extend_from_slice(b"\r\n");
                Step::Server(b)
            }
            "S~" => Step::Server(unescape(body).map_err(err)?),
            "C:" => {
                let mut b = unescape(body).map_err(err)?;
                b.extend_from_slice(b"\r\n");
                Step::Client(b)
            }
            "C-" => Step::NoClient,
            "E:" => Step::Event(serde_json::from_str(body).map_err(|e| err(format!("bad json: {e}")))?),
            "X:" => Step::Fails(body.to_owned()),
            _ if raw.starts_with("> ") => Step::Call(raw[2..].to_owned()),
            _ if raw.starts_with("= ") => Step::Assert(raw[2..].to_owned()),
            _ if raw.starts_with("% ") => {
                let words: Vec<&str> = raw[2..].split_whitespace().collect();
                match words.as_slice() {
                    ["max_line", v] => trace.config.max_line = v.parse().map_err(|e| err(format!("{e}")))?,
                    ["max_body", v] => trace.config.max_body = v.parse().map_err(|e| err(format!("{e}")))?,
                    ["whole-reads-only", ..] => trace.whole_reads_only = true,
                    _ => return Err(err(format!("unknown setting {raw:?}"))),
                }
                continue;
            }
            _ => return Err(err(format!("unknown line {raw:?}"))),
        };
        trace.steps.push((n, step));
    }
    Ok(trace)
}

/// The directory of the POP3 transcripts.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pop3")
}

/// Every `*.trace` file, parsed, sorted by name.
pub fn load_all() -> Vec<Trace> {
    let dir = fixtures_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let text =
                std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            parse_trace(&name, &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Bytes as Latin-1 text: each byte one char, so JSON can hold any body.
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// An event as the JSON that `E:` lines hold.
pub fn event_json(event: &Pop3Event) -> Value {
    let mut m = Map::new();
    let key = match event {
        Pop3Event::Greeting(g) => {
            m.insert("ok".into(), json!(g.ok));
            m.insert("text".into(), json!(g.text));
            if let Some(c) = &g.code {
                m.insert("code".into(), json!(c.as_str()));
            }
            if let Some(t) = &g.timestamp {
                m.insert("timestamp".into(), json!(t));
            }
            "greeting"
        }
        Pop3Event::Response { id, ok, code, text, body } => {
            m.insert("id".into(), json!(id.get()));
            m.insert("ok".into(), json!(ok));
            m.insert("text".into(), json!(text));
            if let Some(c) = code {
                m.insert("code".into(), json!(c.as_str()));
            }
            if let Some(b) = body {
                m.insert("body".into(), json!(latin1(b)));
            }
            "response"
        }
        Pop3Event::Continuation { id, text } => {
            m.insert("id".into(), json!(id.get()));
            m.insert("text".into(), json!(text));
            "continuation"
        }
    };
    json!({ key: Value::Object(m) })
}

fn seq(s: &str) -> Result<SeqNum, String> {
    let n: u32 = s.parse().map_err(|e| format!("bad number {s:?}: {e}"))?;
    SeqNum::try_from(n).map_err(|e| e.to_string())
}

/// Builds the command of a `>` line.
pub fn command(line: &str) -> Result<Pop3Command, String> {
    let w: Vec<&str> = line.split(' ').collect();
    let sasl = |r: Result<Secret<Vec<u8>>, sasl::SaslError>| r.map_err(|e| e.to_string());
    Ok(match w.as_slice() {
        ["CAPA"] => Pop3Command::Capa,
        ["STLS"] => Pop3Command::Stls,
        ["STAT"] => Pop3Command::Stat,
        ["RSET"] => Pop3Command::Rset,
        ["NOOP"] => Pop3Command::Noop,
        ["QUIT"] => Pop3Command::Quit,
        ["LIST"] => Pop3Command::List(None),
        ["LIST", n] => Pop3Command::List(Some(seq(n)?)),
        ["UIDL"] => Pop3Command::Uidl(None),
        ["UIDL", n] => Pop3Command::Uidl(Some(seq(n)?)),
        ["RETR", n] => Pop3Command::Retr(seq(n)?),
        ["DELE", n] => Pop3Command::Dele(seq(n)?),
        ["TOP", n, l] => Pop3Command::Top { msg: seq(n)?, lines: l.parse().map_err(|e| format!("{e}"))? },
        ["USER", name] => Pop3Command::User((*name).to_owned()),
        ["PASS", rest @ ..] => Pop3Command::Pass(Secret::from(rest.join(" "))),
        ["APOP", user, secret] => {
            Pop3Command::Apop { user: (*user).to_owned(), secret: Secret::from(*secret) }
        }
        ["AUTH", "PLAIN", user, pass] => Pop3Command::Auth {
            mechanism: Mechanism::Plain,
            initial: InitialResponse::Inline(sasl(sasl::plain(user, &Secret::from(*pass)))?),
        },
        ["AUTH", "LOGIN"] => {
            Pop3Command::Auth { mechanism: Mechanism::Login, initial: InitialResponse::None }
        }
        ["AUTH", "XOAUTH2", user, token] => Pop3Command::Auth {
            mechanism: Mechanism::XOAuth2,
            initial: InitialResponse::AfterContinuation(sasl(sasl::xoauth2(user, &Secret::from(*token)))?),
        },
        ["AUTH", "XOAUTH2-INLINE", user, token] => Pop3Command::Auth {
            mechanism: Mechanism::XOAuth2,
            initial: InitialResponse::Inline(sasl(sasl::xoauth2(user, &Secret::from(*token)))?),
        },
        ["AUTH", "OAUTHBEARER", user, host, port, token] => Pop3Command::Auth {
            mechanism: Mechanism::OAuthBearer,
            initial: InitialResponse::Inline(sasl(sasl::oauthbearer(
                user,
                host,
                port.parse().map_err(|e| format!("{e}"))?,
                &Secret::from(*token),
            ))?),
        },
        _ => return Err(format!("unknown call {line:?}")),
    })
}

fn state_name(s: Pop3State) -> &'static str {
    match s {
        Pop3State::AwaitingGreeting => "awaiting-greeting",
        Pop3State::Authorization => "authorization",
        Pop3State::Transaction => "transaction",
        Pop3State::Closed => "closed",
    }
}

fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Replays a transcript, feeding each run of server bytes in the pieces `cut` chooses (it gets the
/// run and returns piece lengths; leftovers are fed last). Returns the log of everything observed,
/// so that two replays can be compared, or the first mismatch with its transcript line.
pub fn replay(trace: &Trace, cut: &mut dyn FnMut(&[u8]) -> Vec<usize>) -> Result<Vec<String>, String> {
    let mut s = Pop3Session::new(trace.config);
    let mut log = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut failed = false;
    let mut flush = |s: &mut Pop3Session, pending: &mut Vec<u8>| {
        let mut rest: &[u8] = pending;
        for len in cut(pending) {
            let (a, b) = rest.split_at(len.min(rest.len()));
            s.feed(a);
            rest = b;
        }
        s.feed(rest);
        pending.clear();
    };
    for (n, step) in &trace.steps {
        let at = |msg: String| format!("{}:{n}: {msg}", trace.name);
        if !matches!(step, Step::Server(_)) {
            flush(&mut s, &mut pending);
        }
        match step {
            Step::Server(bytes) => pending.extend_from_slice(bytes),
            Step::Call(line) => {
                let words: Vec<&str> = line.splitn(2, ' ').collect();
                let result = match words.as_slice() {
                    ["CONTINUE"] => s.auth_continue(Secret::new(Vec::new())).map(|()| "continue".to_owned()),
                    ["CONTINUE", text] => s
                        .auth_continue(Secret::new(unescape(text).map_err(at)?))
                        .map(|()| "continue".to_owned()),
                    ["CANCEL"] => s.auth_cancel().map(|()| "cancel".to_owned()),
                    _ => s.send(command(line).map_err(at)?).map(|id| format!("sent {id}")),
                };
                log.push(result.map_err(|e| at(format!("call {line:?} failed: {e}")))?);
            }
            Step::Client(expected) => match s.poll_transmit() {
                Some(t) if &t.bytes[..] == expected.as_slice() => {
                    log.push(format!("wrote {}", escape(&t.bytes)))
                }
                Some(t) => {
                    return Err(at(format!(
                        "client wrote {:?}, expected {:?}",
                        escape(&t.bytes),
                        escape(expected)
                    )))
                }
                None => return Err(at(format!("client wrote nothing, expected {:?}", escape(expected)))),
            },
            Step::NoClient => {
                if let Some(t) = s.poll_transmit() {
                    return Err(at(format!("client wrote {:?}, expected nothing", t.redacted)));
                }
            }
            Step::Event(expected) => match s.poll_event() {
                Ok(Some(ev)) => {
                    let got = event_json(&ev);
                    if &got != expected {
                        return Err(at(format!("event {got}, expected {expected}")));
                    }
                    log.push(format!("event {got}"));
                }
                Ok(None) => return Err(at(format!("no event, expected {expected}"))),
                Err(e) => return Err(at(format!("error {e:?} ({e}), expected {expected}"))),
            },
            Step::Fails(text) => match s.poll_event() {
                Err(e) if e.to_string().contains(text.as_str()) => {
                    failed = true;
                    log.push(format!("error {e}"));
                }
                other => return Err(at(format!("got {other:?}, expected an error containing {text:?}"))),
            },
            Step::Assert(what) => {
                let words: Vec<&str> = what.split_whitespace().collect();
                match words.as_slice() {
                    ["state", want] => {
                        let got = state_name(s.state());
                        if got != *want {
                            return Err(at(format!("state {got}, expected {want}")));
                        }
                    }
                    ["nocaps"] => {
                        if !s.capabilities().is_empty() {
                            return Err(at(format!("capabilities {:?}, expected none", s.capabilities())));
                        }
                    }
                    ["caps", names @ ..] => {
                        for name in names {
                            let want = parse_capabilities(name.replace('_', " ").as_bytes());
                            for cap in want.iter() {
                                if !s.capabilities().contains(cap) {
                                    return Err(at(format!(
                                        "capability {cap:?} missing: {:?}",
                                        s.capabilities()
                                    )));
                                }
                            }
                        }
                    }
                    ["idle"] => {
                        if !s.is_idle() {
                            return Err(at("session not idle".to_owned()));
                        }
                    }
                    _ => return Err(at(format!("unknown assertion {what:?}"))),
                }
                log.push(format!("assert {what}"));
            }
        }
    }
    flush(&mut s, &mut pending);
    let end = |msg: String| format!("{}: at the end: {msg}", trace.name);
    match s.poll_event() {
        Ok(None) => {}
        Ok(Some(ev)) => return Err(end(format!("unchecked event {}", event_json(&ev)))),
        Err(e) if failed => log.push(format!("still failed: {e}")),
        Err(e) => return Err(end(format!("unchecked error {e}"))),
    }
    if let Some(t) = s.poll_transmit() {
        return Err(end(format!("unchecked client write {:?}", t.redacted)));
    }
    let mut summary = String::new();
    let _ = write!(summary, "final state {}", state_name(s.state()));
    log.push(summary);
    Ok(log)
}

/// Feeds every server run whole.
pub fn whole(_: &[u8]) -> Vec<usize> {
    Vec::new()
}
