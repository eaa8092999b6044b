//! Reading a trace back: each connection's conversation, with the server's bytes as the session saw them
//! (an elided body stands as filler of its size), for replaying a user's trace through the sessions.
//!
//! Owns: the line syntax `TIME LABEL KIND TEXT` (the engine writes it; `#` lines are comments), grouping
//! lines by connection label, and the protocol named by the label (`imap#3`). Must never: panic on any text
//! (a malformed line is an error naming its number).

use super::content::filler;
use super::format::{elided_bytes, unescape, Kind};
use super::{Direction, Protocol};

/// A trace text that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trace line {line}: {reason}")]
pub struct ReadError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// One step of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// A line mailsync sent, as written (secrets as `<redacted>`), without its CRLF; `end` is false for a part.
    Client {
        /// The bytes.
        bytes: Vec<u8>,
        /// Whether a CRLF followed.
        end: bool,
    },
    /// A client body left out, of this many bytes.
    ClientElided(u64),
    /// Bytes the server sent, line end included; an elided body is filler of its size.
    Server(Vec<u8>),
    /// A note of mailsync's (`--`).
    Note(String),
}

/// One connection's conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The connection's label, e.g. `imap#3`.
    pub label: String,
    /// The protocol its label names.
    pub protocol: Option<Protocol>,
    /// Its steps in order.
    pub turns: Vec<Turn>,
    /// Whether any server bytes were left out (the replay then sees filler, not the message).
    pub elided: bool,
}

/// Every connection of a trace text, in the order of their first line.
pub fn read(text: &str) -> Result<Vec<Conversation>, ReadError> {
    let mut out: Vec<Conversation> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| ReadError { line: n + 1, reason: reason.to_owned() };
        let mut parts = line.splitn(4, ' ');
        let (_time, label, kind) = (parts.next(), parts.next(), parts.next());
        let text = parts.next().unwrap_or_default();
        let label = label.filter(|l| !l.is_empty()).ok_or_else(|| bad("no connection label"))?;
        let kind = kind.and_then(Kind::parse).ok_or_else(|| bad("no C:, S:, C~, S~, C=, S= or -- marker"))?;
        let conv = match out.iter().position(|c| c.label == label) {
            Some(i) => &mut out[i],
            None => {
                let protocol = label.split('#').next().and_then(Protocol::parse);
                out.push(Conversation {
                    label: label.to_owned(),
                    protocol,
                    turns: Vec::new(),
                    elided: false,
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        let turn = match kind {
            Kind::Line(Direction::Client) => Turn::Client { bytes: unescape(text), end: true },
            Kind::Part(Direction::Client) => Turn::Client { bytes: unescape(text), end: false },
            Kind::Elided(Direction::Client) => {
                Turn::ClientElided(elided_bytes(text).ok_or_else(|| bad("no <N bytes>"))?)
            }
            Kind::Line(Direction::Server) => {
                let mut b = unescape(text);
                b.extend_from_slice(b"\r\n");
                Turn::Server(b)
            }
            Kind::Part(Direction::Server) => Turn::Server(unescape(text)),
            Kind::Elided(Direction::Server) => {
                conv.elided = true;
                Turn::Server(filler(elided_bytes(text).ok_or_else(|| bad("no <N bytes>"))?))
            }
            Kind::Note => Turn::Note(text.to_owned()),
        };
        conv.turns.push(turn);
    }
    Ok(out)
}

impl Conversation {
    /// All the server's bytes, in order.
    pub fn server_bytes(&self) -> Vec<u8> {
        self.turns
            .iter()
            .filter_map(|t| match t {
                Turn::Server(b) => Some(b.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// All the client's bytes as written (secrets as `<redacted>`, elided bodies as filler), in order.
    pub fn client_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for t in &self.turns {
            match t {
                Turn::Client { bytes, end } => {
                    out.extend_from_slice(bytes);
                    if *end {
                        out.extend_from_slice(b"\r\n");
                    }
                }
                Turn::ClientElided(n) => out.extend(filler(*n)),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "# mailsync trace 1\n\
        2026-12-06T10:15:02.101000Z imap#1 -- connected to 127.0.0.1:993 (tls)\n\
        2026-12-06T10:15:02.118000Z imap#1 S: * OK ready\n\
        2026-12-06T10:15:02.119000Z pop3#2 S: +OK\n\
        2026-12-06T10:15:02.119000Z imap#1 C: A0001 FETCH 1 BODY[]\n\
        2026-12-06T10:15:02.120000Z imap#1 S: * 1 FETCH (BODY[] {5}\n\
        2026-12-06T10:15:02.120000Z imap#1 S= <5 bytes> header names: From\n\
        2026-12-06T10:15:02.120000Z imap#1 S: )\n\
        2026-12-06T10:15:02.121000Z imap#1 S~ A0001 OK \\x5cx\n\
        2026-12-06T10:15:02.121000Z imap#1 C: \n";

    #[test]
    fn a_trace_reads_back_into_conversations() {
        let c = read(TRACE).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].label.as_str(), c[0].protocol), ("imap#1", Some(Protocol::Imap)));
        assert_eq!((c[1].label.as_str(), c[1].protocol), ("pop3#2", Some(Protocol::Pop3)));
        assert!(c[0].elided && !c[1].elided);
        assert_eq!(
            c[0].server_bytes(),
            b"* OK ready\r\n* 1 FETCH (BODY[] {5}\r\nxxx\r\n)\r\nA0001 OK \\x".to_vec()
        );
        assert_eq!(c[0].client_bytes(), b"A0001 FETCH 1 BODY[]\r\n\r\n".to_vec());
        assert_eq!(c[0].turns[0], Turn::Note("connected to 127.0.0.1:993 (tls)".into()));
    }

    #[test]
    fn malformed_lines_are_errors_with_their_number() {
        // (text, line number, reason)
        let rows = [
            ("t imap#1 X: what\n", 1, "marker"),
            ("# c\nt\n", 2, "label"),
            ("t imap#1 S= <many bytes>\n", 1, "<N bytes>"),
        ];
        for (text, line, reason) in rows {
            let e = read(text).unwrap_err();
            assert_eq!(e.line, line, "{text}");
            assert!(e.to_string().contains(reason), "{e}");
        }
    }
}
