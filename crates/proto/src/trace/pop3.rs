//! What a POP3 conversation may show: the client's commands with their secrets taken out, the server's
//! answers with message bodies (RETR, TOP) left out per [`Content`].
//!
//! Owns: matching each server answer to the oldest command awaiting one (POP3 has no tags; pipelined
//! commands are answered in order), knowing which `+OK` opens a multi-line body and which body is a message,
//! and the client side: `PASS`'s argument, `APOP`'s digest, `AUTH`'s initial response and every line of an
//! AUTH exchange but an empty answer or `*` become `<redacted>`, as does any line that is not one of the
//! commands this client sends, in the shape it sends them.
//! Must never: show a client line sent while an AUTH awaits its answer, other than an empty one or `*`.
//!
//! RFC 1939 sections 3 (multi-line responses, byte-stuffing), 5-7 (commands); RFC 2449 section 6.6
//! (PIPELINING); RFC 5034 section 4 (AUTH, continuations, `*`).

use std::collections::VecDeque;

use super::content::Body;
use super::display::Display;
use super::secrets::{Secrets, REDACTED};
use super::split::Unit;
use super::{Content, Policy};

/// What the answer to a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A status line.
    Single,
    /// A status line, and after `+OK` a multi-line body; `true` for a message (RETR, TOP).
    Multi(bool),
    /// AUTH: continuations until a status line.
    Auth,
}

/// The server's multi-line body in progress.
#[derive(Debug)]
enum InBody {
    /// A listing (CAPA, LIST, UIDL): shown.
    Listing,
    /// A message: per the content setting.
    Message(Body),
}

/// The POP3 policy of one connection.
#[derive(Debug)]
pub struct Pop3 {
    content: Content,
    awaiting: VecDeque<Answer>,
    greeted: bool,
    body: Option<InBody>,
    /// Whether the current client line (cut into parts) is shown.
    line_shown: bool,
}

impl Pop3 {
    /// A connection's policy.
    pub fn new(content: Content) -> Pop3 {
        Pop3 { content, awaiting: VecDeque::new(), greeted: false, body: None, line_shown: true }
    }

    /// Writes a new client line and notes the answer it awaits; returns whether later parts are shown.
    fn command(&mut self, line: &[u8], out: &mut Display, secrets: &mut Secrets) -> bool {
        if self.awaiting.contains(&Answer::Auth) {
            if line.is_empty() || line == b"*" {
                out.show(line);
                return true;
            }
            secrets.learn_sasl(line);
            out.mark(REDACTED);
            return false;
        }
        let words: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
        let verb = words[0].to_ascii_uppercase();
        let numbers = |n: usize| words.len() == n + 1 && words[1..].iter().all(|w| is_number(w));
        let answer = match (verb.as_slice(), words.len()) {
            (b"CAPA", 1) => Answer::Multi(false),
            (b"STLS" | b"STAT" | b"RSET" | b"NOOP" | b"QUIT", 1) => Answer::Single,
            (b"LIST" | b"UIDL", 1) => Answer::Multi(false),
            (b"LIST" | b"UIDL" | b"DELE", _) if numbers(1) => Answer::Single,
            (b"RETR", _) if numbers(1) => Answer::Multi(true),
            (b"TOP", _) if numbers(2) => Answer::Multi(true),
            (b"USER", 2) => Answer::Single,
            (b"PASS", n) if n > 1 => {
                secrets.learn(&line[5..]);
                out.show(&line[..5]);
                out.mark(REDACTED);
                self.awaiting.push_back(Answer::Single);
                return false;
            }
            (b"APOP", n) if n > 2 => {
                out.show(&[words[0], b" ", words[1], b" "].concat());
                out.mark(REDACTED);
                self.awaiting.push_back(Answer::Single);
                return false;
            }
            (b"AUTH", n) if n >= 2 => {
                out.show(&[words[0], b" ", words[1]].concat());
                if n > 2 {
                    secrets.learn_sasl(&line[words[0].len() + words[1].len() + 2..]);
                    out.show(b" ");
                    out.mark(REDACTED);
                }
                self.awaiting.push_back(Answer::Auth);
                return false;
            }
            _ => {
                // Not a command this client sends, or not in its shape: nothing of it is shown.
                out.mark(REDACTED);
                return false;
            }
        };
        out.show(line);
        self.awaiting.push_back(answer);
        true
    }

    /// A server line outside a body.
    fn status(&mut self, line: &[u8]) {
        if !self.greeted {
            self.greeted = true;
            return;
        }
        let ok = starts_with_ignore_case(line, b"+OK");
        let err = starts_with_ignore_case(line, b"-ERR");
        if !(ok || err) {
            // A continuation (`+ ...`) during AUTH, or a line nobody asked for.
            return;
        }
        if let Some(Answer::Multi(message)) = self.awaiting.pop_front() {
            if ok {
                self.body = Some(if message && self.content != Content::Full {
                    InBody::Message(Body::new(self.content))
                } else {
                    InBody::Listing
                });
            }
        }
    }
}

impl Policy for Pop3 {
    fn client(&mut self, unit: Unit<'_>, out: &mut Display, secrets: &mut Secrets) -> u64 {
        if let Unit::Line { bytes, first, end } = unit {
            if first {
                self.line_shown = self.command(bytes, out, secrets);
            } else if self.line_shown {
                out.show(bytes);
            }
            if end {
                out.show(b"\r\n");
            }
        }
        0
    }

    fn server(&mut self, unit: Unit<'_>, out: &mut Display) -> u64 {
        let Unit::Line { bytes, first, end } = unit else { return 0 };
        match &mut self.body {
            Some(_) if first && end && bytes == b"." => {
                if let Some(InBody::Message(b)) = self.body.take() {
                    b.finish(out);
                }
                self.body = None;
                out.show(b".\r\n");
            }
            Some(InBody::Message(b)) => {
                b.feed(bytes, out);
                if end {
                    b.feed(b"\r\n", out);
                }
            }
            Some(InBody::Listing) => {
                out.show(bytes);
                if end {
                    out.show(b"\r\n");
                }
            }
            None => {
                if first {
                    self.status(bytes);
                }
                out.show(bytes);
                if end {
                    out.show(b"\r\n");
                }
            }
        }
        0
    }
}

fn is_number(w: &[u8]) -> bool {
    !w.is_empty() && w.len() <= 10 && w.iter().all(u8::is_ascii_digit)
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len()).is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::super::Protocol;
    use super::*;

    fn trace(content: Content, steps: &[(char, &[u8])]) -> Vec<String> {
        super::super::testing::rendered(Protocol::Pop3, content, steps)
    }

    fn b64(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn pipelined_login_listing_and_bodies() {
        let msg = "Subject: plans\r\nFrom: x@y\r\n\r\nBODYMARK\r\n..stuffed\r\n";
        let t = trace(
            Content::None,
            &[
                ('S', b"+OK Dovecot ready. <1.2@h>\r\n"),
                ('C', b"CAPA\r\nUSER alice\r\nPASS p0p-pass word\r\n"),
                ('S', b"+OK\r\nUSER\r\nPIPELINING\r\n.\r\n+OK\r\n-ERR [AUTH] no p0p-pass word\r\n"),
                ('C', b"UIDL\r\nRETR 1\r\nTOP 2 0\r\nDELE 1\r\nQUIT\r\n"),
                ('S', b"+OK\r\n1 000000016b156266\r\n.\r\n"),
                (
                    'S',
                    format!(
                        "+OK {} octets\r\n{msg}.\r\n+OK\r\nSubject: t\r\n\r\n.\r\n+OK\r\n+OK bye\r\n",
                        msg.len()
                    )
                    .as_bytes(),
                ),
            ],
        );
        assert_eq!(
            t,
            [
                "S: +OK Dovecot ready. <1.2@h>",
                "C: CAPA",
                "C: USER alice",
                "C: PASS <redacted>",
                "S: +OK",
                "S: USER",
                "S: PIPELINING",
                "S: .",
                "S: +OK",
                "S: -ERR [AUTH] no <redacted>",
                "C: UIDL",
                "C: RETR 1",
                "C: TOP 2 0",
                "C: DELE 1",
                "C: QUIT",
                "S: +OK",
                "S: 1 000000016b156266",
                "S: .",
                &format!("S: +OK {} octets", msg.len()),
                &format!("S= <{}> header names: Subject From", format_bytes(msg.len())),
                "S: .",
                "S: +OK",
                "S= <14 bytes> header names: Subject",
                "S: .",
                "S: +OK",
                "S: +OK bye"
            ]
        );
    }

    fn format_bytes(n: usize) -> String {
        format!("{n} bytes")
    }

    #[test]
    fn auth_in_two_steps_with_an_error_challenge() {
        let token = "EwBwA8l6BAAU.token-part_2";
        let ir = b64(&format!("user=me@outlook.com\x01auth=Bearer {token}\x01\x01"));
        let t = trace(
            Content::None,
            &[
                ('S', b"+OK ready\r\n"),
                ('C', b"AUTH XOAUTH2\r\n"),
                ('S', b"+ \r\n"),
                ('C', format!("{ir}\r\n").as_bytes()),
                ('S', b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
                ('C', b"\r\n"),
                ('S', b"-ERR [AUTH] Authentication failed.\r\n"),
                ('C', format!("AUTH PLAIN {}\r\n", b64("\0alice\0inline-pw")).as_bytes()),
                ('S', b"+OK Logged in.\r\n"),
                ('C', b"STAT\r\n"),
            ],
        );
        assert_eq!(
            t,
            [
                "S: +OK ready",
                "C: AUTH XOAUTH2",
                "S: + ",
                "C: <redacted>",
                "S: + eyJzdGF0dXMiOiI0MDEifQ==",
                "C: ",
                "S: -ERR [AUTH] Authentication failed.",
                "C: AUTH PLAIN <redacted>",
                "S: +OK Logged in.",
                "C: STAT"
            ]
        );
        let all = t.join("\n");
        assert!(!all.contains(token) && !all.contains(&ir) && !all.contains("inline-pw"), "{all}");
    }

    #[test]
    fn apop_and_odd_lines_lose_their_secrets() {
        let t = trace(
            Content::None,
            &[('C', b"APOP alice c4c9334bac560ecc979e58001b3e22fb\r\nRETR one\r\nXTND x\r\n")],
        );
        assert_eq!(t, ["C: APOP alice <redacted>", "C: <redacted>", "C: <redacted>"]);
    }

    #[test]
    fn headers_and_full_show_more_of_a_message() {
        let steps: &[(char, &[u8])] =
            &[('S', b"+OK\r\n"), ('C', b"RETR 1\r\n"), ('S', b"+OK\r\nSubject: s\r\n\r\nBODYMARK\r\n.\r\n")];
        let h = trace(Content::Headers, steps);
        assert_eq!(h[2..], ["S: +OK", "S: Subject: s", "S: ", "S= <10 bytes>", "S: ."]);
        let f = trace(Content::Full, steps);
        assert_eq!(f[2..], ["S: +OK", "S: Subject: s", "S: ", "S: BODYMARK", "S: ."]);
    }

    #[test]
    fn an_err_to_retr_opens_no_body() {
        let t = trace(
            Content::None,
            &[('S', b"+OK\r\n"), ('C', b"RETR 9\r\n"), ('S', b"-ERR no such message\r\n.\r\n")],
        );
        assert_eq!(t[2..], ["S: -ERR no such message", "S: ."]);
    }
}
