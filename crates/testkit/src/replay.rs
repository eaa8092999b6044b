//! A mailsync protocol trace (`--trace`) replayed through the protocol sessions, so that what a user's
//! server sent can become a regression test (crates/proto/README.md "A user's trace as a regression test").
//!
//! Owns: driving [`ImapSession`], [`Pop3Session`] and the SMTP [`ReplyReader`] with one conversation of a
//! trace: the server's bytes fed as they came, in the order they came relative to what mailsync sent, and each
//! command mailsync sent given to the session again, in a stand-in form of the same name and kind (the
//! trace keeps commands as text, with secrets redacted: the session only needs the name, the tag it will
//! choose is the same, and continuations it answered itself it answers again). Must never: need a server,
//! a socket or a clock; panic on a trace whose commands it does not know (those become `unknown command`
//! entries in the result).
//!
//! With `--trace-content full` the server's bytes are exactly those the live session saw, so the events are
//! the same. With the default content, an elided body is filler of its size: the framing and every other
//! event are the same, only message bytes differ.

use mailsync_proto::imap::command::{Command, FetchAttr, SearchKey, StatusItem};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{Event, ImapSession, SessionConfig};
use mailsync_proto::pop3::{InitialResponse, Pop3Command, Pop3Config, Pop3Event, Pop3Session};
use mailsync_proto::sasl::Mechanism;
use mailsync_proto::smtp::{Reply, ReplyReader};
use mailsync_proto::trace::{announced_literal, Conversation, Turn};
use mailsync_proto::{Secret, SeqNum};

/// What replaying a conversation gave, in order: the session's events, and its errors as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed<E> {
    /// An event.
    Event(E),
    /// An error the session reported (a malformed response, ...), or a command the replay did not know.
    Error(String),
}

/// The largest response or message a replay accepts (the engine's own limit).
const MAX: usize = 256 << 20;

/// An IMAP conversation through [`ImapSession`].
pub fn imap(conv: &Conversation) -> Vec<Replayed<Event>> {
    let mut s = ImapSession::new(SessionConfig { max_response_size: MAX, ..SessionConfig::default() });
    let mut out = Vec::new();
    let mut challenge_open = false;
    // Bytes of a client literal still to come (its lines are no commands), and the server's `+` lines that
    // answer a synchronising literal: the session's own business, which the stand-in did not ask for.
    let mut client_literal: u64 = 0;
    let mut skip_plus = SkipPlus::default();
    let mut server = Vec::new();
    for turn in &conv.turns {
        match turn {
            Turn::Server(bytes) => server.extend_from_slice(bytes),
            Turn::Client { bytes, end } => {
                feed_imap(&mut s, &mut server, &mut skip_plus, &mut challenge_open, &mut out);
                let line = len64(bytes) + if *end { 2 } else { 0 };
                if client_literal >= line {
                    client_literal -= line;
                    continue;
                }
                let continues = client_literal > 0;
                client_literal = 0;
                if let Some((size, plus)) = announced_literal(bytes) {
                    client_literal = size;
                    skip_plus.literals += usize::from(!plus);
                }
                if continues {
                    continue;
                }
                if challenge_open {
                    challenge_open = false;
                    // The answer was redacted; an empty one gets the same completion from the session.
                    if let Err(e) = s.authenticate_continue(Secret::new(Vec::new())) {
                        out.push(Replayed::Error(e.to_string()));
                    }
                } else if bytes.eq_ignore_ascii_case(b"DONE") {
                    if let Err(e) = s.idle_done() {
                        out.push(Replayed::Error(e.to_string()));
                    }
                } else if let Some(cmd) = imap_stand_in(bytes) {
                    // A redacted LOGIN hides its literals: any `+` before the next command is for them.
                    skip_plus.login = matches!(cmd, Command::Login { .. });
                    if let Err(e) = s.send(cmd) {
                        out.push(Replayed::Error(e.to_string()));
                    }
                }
                while s.poll_transmit().is_some() {}
            }
            Turn::ClientElided(_) | Turn::Note(_) => {}
        }
    }
    feed_imap(&mut s, &mut server, &mut skip_plus, &mut challenge_open, &mut out);
    out
}

/// Which server `+` lines are go-aheads for a client literal.
#[derive(Debug, Default)]
struct SkipPlus {
    /// Synchronising literals announced and not yet answered.
    literals: usize,
    /// The last command is a LOGIN (whose literals the trace does not show).
    login: bool,
}

/// Feeds the server bytes gathered so far and collects every event they complete.
fn feed_imap(
    s: &mut ImapSession,
    server: &mut Vec<u8>,
    skip_plus: &mut SkipPlus,
    challenge_open: &mut bool,
    out: &mut Vec<Replayed<Event>>,
) {
    let mut bytes = std::mem::take(server);
    while (skip_plus.literals > 0 || skip_plus.login) && bytes.starts_with(b"+") {
        let end = bytes.windows(2).position(|w| w == b"\r\n").map_or(bytes.len(), |i| i + 2);
        bytes.drain(..end);
        skip_plus.literals = skip_plus.literals.saturating_sub(1);
    }
    s.feed(&bytes);
    loop {
        match s.poll_event() {
            Ok(Some(e)) => {
                if matches!(e, Event::AuthChallenge { .. }) {
                    *challenge_open = true;
                }
                out.push(Replayed::Event(e));
            }
            Ok(None) => break,
            Err(e) => {
                let fatal = !matches!(e, mailsync_proto::imap::ImapError::Malformed { .. });
                out.push(Replayed::Error(e.to_string()));
                if fatal {
                    break;
                }
            }
        }
    }
    while s.poll_transmit().is_some() {}
}

/// A command of the same name and kind as the one on a trace line (`TAG NAME ...`); `None` for a line that
/// is no command.
fn imap_stand_in(line: &[u8]) -> Option<Command> {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split(' ');
    let (_tag, name) = (words.next()?, words.next()?.to_ascii_uppercase());
    let set = || SequenceSet::range_from(1);
    Some(match name.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "STARTTLS" => Command::StartTls,
        "NAMESPACE" => Command::Namespace,
        "IDLE" => Command::Idle,
        "UNSELECT" => Command::Unselect,
        "CLOSE" => Command::Close,
        "ID" => Command::Id(None),
        "ENABLE" => Command::Enable(words.map(str::to_owned).collect()),
        "LIST" => Command::List { reference: String::new(), pattern: "*".into(), return_special_use: false },
        "STATUS" => Command::Status { mailbox: "INBOX".into(), items: vec![StatusItem::Messages] },
        "SELECT" => Command::Select { mailbox: "INBOX".into(), condstore: false, qresync: None },
        "EXAMINE" => Command::Examine { mailbox: "INBOX".into(), condstore: false, qresync: None },
        "LOGIN" => Command::Login { user: "user".into(), password: Secret::from("password") },
        "AUTHENTICATE" => Command::Authenticate {
            mechanism: words.next().unwrap_or("PLAIN").to_owned(),
            initial_response: words.next().map(|_| Secret::new(b"redacted".to_vec())),
        },
        "UID" => match words.next()?.to_ascii_uppercase().as_str() {
            "FETCH" => Command::UidFetch {
                set: set(),
                items: vec![FetchAttr::Uid],
                changed_since: None,
                vanished: false,
            },
            "SEARCH" => Command::UidSearch { criteria: SearchKey::All },
            _ => return None,
        },
        _ => return None,
    })
}

/// A POP3 conversation through [`Pop3Session`].
pub fn pop3(conv: &Conversation) -> Vec<Replayed<Pop3Event>> {
    let config = Pop3Config { max_body: MAX, ..Pop3Config::default() };
    let mut s = Pop3Session::new(config);
    let mut out = Vec::new();
    let mut continuation_open = false;
    for turn in &conv.turns {
        match turn {
            Turn::Server(bytes) => {
                s.feed(bytes);
                loop {
                    match s.poll_event() {
                        Ok(Some(e)) => {
                            continuation_open |= matches!(e, Pop3Event::Continuation { .. });
                            out.push(Replayed::Event(e));
                        }
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Replayed::Error(e.to_string()));
                            break;
                        }
                    }
                }
            }
            Turn::Client { bytes, .. } => {
                if continuation_open {
                    continuation_open = false;
                    if let Err(e) = s.auth_continue(Secret::new(Vec::new())) {
                        out.push(Replayed::Error(e.to_string()));
                    }
                } else if let Some(cmd) = pop3_stand_in(bytes) {
                    if let Err(e) = s.send(cmd) {
                        out.push(Replayed::Error(e.to_string()));
                    }
                }
                // A line that is no command is an AUTH answer the session sent by itself.
            }
            Turn::ClientElided(_) | Turn::Note(_) => {}
        }
        while s.poll_transmit().is_some() {}
    }
    out
}

/// The command on a trace line; `None` for a line that is no command (a redacted AUTH answer).
fn pop3_stand_in(line: &[u8]) -> Option<Pop3Command> {
    let text = String::from_utf8_lossy(line);
    let w: Vec<&str> = text.split(' ').collect();
    let n = |i: usize| w.get(i).and_then(|x| x.parse::<u32>().ok()).and_then(|x| SeqNum::try_from(x).ok());
    Some(match (w[0].to_ascii_uppercase().as_str(), w.len()) {
        ("CAPA", 1) => Pop3Command::Capa,
        ("STLS", 1) => Pop3Command::Stls,
        ("STAT", 1) => Pop3Command::Stat,
        ("RSET", 1) => Pop3Command::Rset,
        ("NOOP", 1) => Pop3Command::Noop,
        ("QUIT", 1) => Pop3Command::Quit,
        ("LIST", 1) => Pop3Command::List(None),
        ("LIST", 2) => Pop3Command::List(Some(n(1)?)),
        ("UIDL", 1) => Pop3Command::Uidl(None),
        ("UIDL", 2) => Pop3Command::Uidl(Some(n(1)?)),
        ("RETR", 2) => Pop3Command::Retr(n(1)?),
        ("DELE", 2) => Pop3Command::Dele(n(1)?),
        ("TOP", 3) => Pop3Command::Top { msg: n(1)?, lines: w[2].parse().ok()? },
        ("USER", 2) => Pop3Command::User(w[1].to_owned()),
        ("PASS", _) => Pop3Command::Pass(Secret::from("password")),
        ("APOP", _) => Pop3Command::Apop { user: w.get(1)?.to_string(), secret: Secret::from("password") },
        ("AUTH", len) if len >= 2 => {
            let redacted = Secret::new(b"redacted".to_vec());
            Pop3Command::Auth {
                mechanism: Mechanism::parse(w[1]).ok()?,
                initial: if len > 2 {
                    InitialResponse::Inline(redacted)
                } else {
                    InitialResponse::AfterContinuation(redacted)
                },
            }
        }
        _ => return None,
    })
}

/// An SMTP conversation's replies through [`ReplyReader`].
pub fn smtp(conv: &Conversation) -> Vec<Replayed<Reply>> {
    let mut r = ReplyReader::new();
    r.feed(&conv.server_bytes());
    let mut out = Vec::new();
    loop {
        match r.next_reply() {
            Ok(Some(reply)) => out.push(Replayed::Event(reply)),
            Ok(None) => break,
            Err(e) => {
                out.push(Replayed::Error(e.to_string()));
                break;
            }
        }
    }
    out
}

fn len64(b: &[u8]) -> u64 {
    u64::try_from(b.len()).unwrap_or(u64::MAX)
}
