//! What an SMTP submission may show: the client's commands with AUTH's secrets taken out, the message of
//! DATA left out per [`Content`], the server's replies as they are.
//!
//! Owns: the client side (AUTH's initial response and every line of an AUTH exchange but an empty answer or
//! `*` become `<redacted>`, as does any line that is not a command this client sends), knowing when an AUTH
//! exchange ends (the first reply that is not 334) and when the message starts (after 354) and ends (`.`).
//! Must never: show a client line sent while AUTH awaits its final reply, other than an empty one or `*`.
//!
//! RFC 5321 sections 4.1.1 (commands), 4.2 (replies, multi-line replies), 4.5.2 (the message and its `.`);
//! RFC 4954 section 4 (AUTH, 334 continuations, `*`); RFC 3207 (STARTTLS).

use super::content::Body;
use super::display::Display;
use super::secrets::{Secrets, REDACTED};
use super::split::Unit;
use super::{Content, Policy};

/// The SMTP policy of one connection.
#[derive(Debug)]
pub struct Smtp {
    content: Content,
    sasl: bool,
    data_asked: bool,
    message: Option<Body>,
    line_shown: bool,
}

impl Smtp {
    /// A connection's policy.
    pub fn new(content: Content) -> Smtp {
        Smtp { content, sasl: false, data_asked: false, message: None, line_shown: true }
    }

    fn command(&mut self, line: &[u8], out: &mut Display, secrets: &mut Secrets) -> bool {
        if self.sasl {
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
        let upper = line.to_ascii_uppercase();
        match verb.as_slice() {
            b"EHLO" | b"HELO" if words.len() == 2 => {}
            b"STARTTLS" | b"QUIT" | b"RSET" | b"NOOP" if words.len() == 1 => {}
            b"DATA" if words.len() == 1 => self.data_asked = true,
            b"MAIL" if upper.starts_with(b"MAIL FROM:") => {}
            b"RCPT" if upper.starts_with(b"RCPT TO:") => {}
            b"AUTH" if words.len() >= 2 => {
                self.sasl = true;
                out.show(&[words[0], b" ", words[1]].concat());
                if words.len() > 2 {
                    secrets.learn_sasl(&line[words[0].len() + words[1].len() + 2..]);
                    out.show(b" ");
                    out.mark(REDACTED);
                }
                return false;
            }
            _ => {
                out.mark(REDACTED);
                return false;
            }
        }
        out.show(line);
        true
    }
}

impl Policy for Smtp {
    fn client(&mut self, unit: Unit<'_>, out: &mut Display, secrets: &mut Secrets) -> u64 {
        let Unit::Line { bytes, first, end } = unit else { return 0 };
        if let Some(message) = &mut self.message {
            if first && end && bytes == b"." {
                if let Some(m) = self.message.take() {
                    m.finish(out);
                }
                out.show(b".\r\n");
            } else {
                message.feed(bytes, out);
                if end {
                    message.feed(b"\r\n", out);
                }
            }
            return 0;
        }
        if first {
            self.line_shown = self.command(bytes, out, secrets);
        } else if self.line_shown {
            out.show(bytes);
        }
        if end {
            out.show(b"\r\n");
        }
        0
    }

    fn server(&mut self, unit: Unit<'_>, out: &mut Display) -> u64 {
        let Unit::Line { bytes, first, end } = unit else { return 0 };
        // The last line of a reply: `NNN` alone or `NNN text`.
        let last = first && bytes.len() >= 3 && bytes.get(3).is_none_or(|b| *b == b' ');
        if last {
            let code = bytes.get(..3).unwrap_or_default();
            if self.sasl && code != b"334" {
                self.sasl = false;
            }
            if self.data_asked {
                self.data_asked = false;
                if code == b"354" {
                    self.message = Some(Body::new(self.content));
                }
            }
        }
        out.show(bytes);
        if end {
            out.show(b"\r\n");
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::Protocol;
    use super::*;

    fn trace(content: Content, steps: &[(char, &[u8])]) -> Vec<String> {
        super::super::testing::rendered(Protocol::Smtp, content, steps)
    }

    #[test]
    fn auth_login_plain_and_a_message() {
        let t = trace(
            Content::None,
            &[
                ('S', b"220 mx ESMTP\r\n"),
                ('C', b"EHLO [127.0.0.1]\r\n"),
                ('S', b"250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"),
                ('C', b"AUTH LOGIN\r\n"),
                ('S', b"334 VXNlcm5hbWU6\r\n"),
                ('C', b"YWxpY2U=\r\n"),
                ('S', b"334 UGFzc3dvcmQ6\r\n"),
                ('C', b"c210cC1sb2dpbi1wdw==\r\n"),
                ('S', b"535 5.7.8 Error: authentication failed: smtp-login-pw\r\n"),
                ('C', b"AUTH PLAIN AGFsaWNlAHNtdHAtcGxhaW4tcHc=\r\n"),
                ('S', b"235 2.7.0 Authentication successful\r\n"),
                ('C', b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"),
                ('S', b"354 End data with <CR><LF>.<CR><LF>\r\n"),
                ('C', b"Subject: test\r\n\r\nBODYMARK\r\n..\r\n.\r\n"),
                ('S', b"250 2.0.0 Ok: queued\r\n"),
                ('C', b"QUIT\r\n"),
            ],
        );
        assert_eq!(
            t,
            [
                "S: 220 mx ESMTP",
                "C: EHLO [127.0.0.1]",
                "S: 250-mx",
                "S: 250-AUTH PLAIN LOGIN",
                "S: 250 8BITMIME",
                "C: AUTH LOGIN",
                "S: 334 VXNlcm5hbWU6",
                "C: <redacted>",
                "S: 334 UGFzc3dvcmQ6",
                "C: <redacted>",
                "S: 535 5.7.8 Error: authentication failed: <redacted>",
                "C: AUTH PLAIN <redacted>",
                "S: 235 2.7.0 Authentication successful",
                // AUTH LOGIN's answers cannot be told apart, so the user name it sent counts as a secret too.
                "C: MAIL FROM:<<redacted>@example.test>",
                "C: RCPT TO:<<redacted>@example.test>",
                "C: DATA",
                "S: 354 End data with <CR><LF>.<CR><LF>",
                "C= <31 bytes> header names: Subject",
                "C: .",
                "S: 250 2.0.0 Ok: queued",
                "C: QUIT"
            ]
        );
        let all = t.join("\n");
        for s in ["smtp-plain-pw", "AGFsaWNlAHNtdHAtcGxhaW4tcHc=", "c210cC1sb2dpbi1wdw==", "BODYMARK"] {
            assert!(!all.contains(s), "{s}: {all}");
        }
    }

    #[test]
    fn unknown_lines_are_redacted() {
        let t = trace(Content::None, &[('C', b"XCLIENT ADDR=1.2.3.4\r\nMAIL x\r\n")]);
        assert_eq!(t, ["C: <redacted>", "C: <redacted>"]);
    }
}
