//! The SMTP submission client protocol as `mailsync check` needs it, sans I/O: replies read from bytes,
//! commands written to bytes, the EHLO keywords that matter.
//!
//! Owns: the reply framer (`Reply code` lines, `code-` continuation lines, each line and each reply capped,
//! so a server whose greeting never ends costs a bounded buffer), the commands (EHLO, STARTTLS, AUTH PLAIN /
//! LOGIN / XOAUTH2, MAIL, RCPT, DATA, QUIT) with their redacted form for logs, dot-stuffing of a message, and
//! reading EHLO's extension keywords.
//!
//! Must never: touch a socket; keep more than its caps of a server's bytes; put a credential in the redacted
//! form of a command.
//!
//! RFC 5321 sections 4.1 (commands), 4.2 (replies, multi-line replies), 4.5.2 (dot-stuffing) and 4.5.3.1.5
//! (reply lines of 512 octets; accepted longer, up to the cap); RFC 3207 (STARTTLS); RFC 4954 (AUTH).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::types::Secret;

/// The longest reply line accepted (RFC 5321 says 512 octets; real servers send longer EHLO lines).
pub const MAX_LINE: usize = 8 * 1024;
/// The most lines one reply may have (an EHLO lists a few dozen extensions).
pub const MAX_LINES: usize = 256;

/// What can go wrong reading a server's replies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// A reply line longer than the cap.
    #[error("server sent a reply line longer than {limit} bytes")]
    LineTooLong {
        /// The cap.
        limit: usize,
    },
    /// A reply with more lines than the cap.
    #[error("server sent a reply of more than {limit} lines")]
    TooManyLines {
        /// The cap.
        limit: usize,
    },
    /// A line that is not `NNN`, `NNN text` or `NNN-text`, or a continuation with another code.
    #[error("server sent a malformed reply line: {line}")]
    Malformed {
        /// The line, escaped and shortened.
        line: String,
    },
}

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (DATA's body, an AUTH continuation).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// `code text text...` on one line, for messages.
    pub fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" ")).trim_end().to_owned()
    }
}

/// Splits replies off the bytes a server sends.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
    lines: Vec<String>,
    code: Option<u16>,
}

impl ReplyReader {
    /// A reader with nothing buffered.
    pub fn new() -> ReplyReader {
        ReplyReader::default()
    }

    /// Adds bytes from the server.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered that are not a complete reply yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete reply, `Ok(None)` when more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, SmtpError> {
        loop {
            let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > MAX_LINE {
                    return Err(SmtpError::LineTooLong { limit: MAX_LINE });
                }
                return Ok(None);
            };
            if nl > MAX_LINE {
                return Err(SmtpError::LineTooLong { limit: MAX_LINE });
            }
            let raw: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = raw.strip_suffix(b"\n").unwrap_or(&raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let (code, last, text) = reply_line(line)?;
            if self.code.is_some_and(|c| c != code) {
                return Err(SmtpError::Malformed { line: crate::imap::error::excerpt(line) });
            }
            self.code = Some(code);
            self.lines.push(text);
            if self.lines.len() > MAX_LINES {
                return Err(SmtpError::TooManyLines { limit: MAX_LINES });
            }
            if last {
                self.code = None;
                return Ok(Some(Reply { code, lines: std::mem::take(&mut self.lines) }));
            }
        }
    }
}

/// `Reply-code [ SP textstring ]` (last line) or `Reply-code "-" [ textstring ]` (more follow).
fn reply_line(line: &[u8]) -> Result<(u16, bool, String), SmtpError> {
    let bad = || SmtpError::Malformed { line: crate::imap::error::excerpt(line) };
    let digits = line.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit)).ok_or_else(bad)?;
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(200..600).contains(&code) {
        return Err(bad());
    }
    let (last, text) = match line.get(3) {
        None => (true, &b""[..]),
        Some(b' ') => (true, line.get(4..).unwrap_or_default()),
        Some(b'-') => (false, line.get(4..).unwrap_or_default()),
        Some(_) => return Err(bad()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// What EHLO said the server supports, of what the client uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// The server's name (the first line of the EHLO reply).
    pub name: String,
    /// Keywords as listed (upper-cased), arguments dropped.
    pub keywords: Vec<String>,
    /// The SASL mechanisms after `AUTH` (upper-cased).
    pub auth: Vec<String>,
}

impl Extensions {
    /// Reads an EHLO reply.
    pub fn from_ehlo(reply: &Reply) -> Extensions {
        let mut out = Extensions::default();
        let mut lines = reply.lines.iter();
        out.name = lines.next().and_then(|l| l.split_whitespace().next()).unwrap_or_default().to_owned();
        for line in lines {
            let mut words = line.split_whitespace();
            let Some(kw) = words.next() else { continue };
            let kw = kw.to_ascii_uppercase();
            if kw == "AUTH" {
                out.auth.extend(words.map(str::to_ascii_uppercase));
            }
            out.keywords.push(kw);
        }
        out
    }

    /// Whether `keyword` (e.g. `STARTTLS`) is listed.
    pub fn has(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|k| k.eq_ignore_ascii_case(keyword))
    }

    /// Whether SASL `mechanism` is offered.
    pub fn has_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

/// A client command.
#[derive(Debug, Clone)]
pub enum SmtpCommand {
    /// `EHLO domain`
    Ehlo(String),
    /// `STARTTLS`
    StartTls,
    /// `AUTH mechanism [initial-response]`: the response is raw (base64 on the wire).
    Auth {
        /// PLAIN, LOGIN or XOAUTH2.
        mechanism: &'static str,
        /// The initial response, if sent with the command.
        initial: Option<Secret<Vec<u8>>>,
    },
    /// A SASL answer line (base64 of the raw answer).
    AuthAnswer(Secret<Vec<u8>>),
    /// `MAIL FROM:<address>`
    MailFrom(String),
    /// `RCPT TO:<address>`
    RcptTo(String),
    /// `DATA`
    Data,
    /// `QUIT`
    Quit,
}

impl SmtpCommand {
    /// The bytes to send, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let line = match self {
            SmtpCommand::Ehlo(d) => format!("EHLO {d}"),
            SmtpCommand::StartTls => "STARTTLS".into(),
            SmtpCommand::Auth { mechanism, initial: None } => format!("AUTH {mechanism}"),
            SmtpCommand::Auth { mechanism, initial: Some(ir) } => {
                format!("AUTH {mechanism} {}", sasl_text(ir.expose()))
            }
            SmtpCommand::AuthAnswer(a) => STANDARD.encode(a.expose()),
            SmtpCommand::MailFrom(a) => format!("MAIL FROM:<{a}>"),
            SmtpCommand::RcptTo(a) => format!("RCPT TO:<{a}>"),
            SmtpCommand::Data => "DATA".into(),
            SmtpCommand::Quit => "QUIT".into(),
        };
        let mut v = line.into_bytes();
        v.extend_from_slice(b"\r\n");
        v
    }

    /// The command as a log may show it: SASL responses replaced by `<redacted>`.
    pub fn redacted(&self) -> String {
        match self {
            SmtpCommand::Auth { mechanism, initial: Some(_) } => format!("AUTH {mechanism} <redacted>"),
            SmtpCommand::AuthAnswer(_) => "<redacted>".into(),
            other => String::from_utf8_lossy(&other.to_bytes()).trim_end().to_owned(),
        }
    }
}

/// An initial response as RFC 4954 writes it: base64, or `=` when empty.
fn sasl_text(raw: &[u8]) -> String {
    if raw.is_empty() {
        "=".into()
    } else {
        STANDARD.encode(raw)
    }
}

/// A message as DATA sends it: CRLF line ends, lines starting with `.` doubled, ended by `.` CRLF
/// (RFC 5321 section 4.5.2).
pub fn data_body(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Result<Vec<Reply>, SmtpError> {
        let mut r = ReplyReader::new();
        let mut out = Vec::new();
        for b in bytes {
            r.feed(&[*b]);
            while let Some(reply) = r.next_reply()? {
                out.push(reply);
            }
        }
        Ok(out)
    }

    #[test]
    fn replies_single_and_multi_line_byte_by_byte() {
        let replies = read_all(
            b"220 mx.example ESMTP ready\r\n250-mx.example greets you\r\n250-STARTTLS\r\n250-AUTH PLAIN login XOAUTH2\r\n250 8BITMIME\r\n354\r\n",
        )
        .unwrap();
        assert_eq!(replies.len(), 3);
        assert_eq!((replies[0].code, replies[0].text()), (220, "220 mx.example ESMTP ready".to_owned()));
        let ext = Extensions::from_ehlo(&replies[1]);
        assert_eq!(ext.name, "mx.example");
        assert!(ext.has("starttls") && ext.has("8BITMIME") && !ext.has("SMTPUTF8"));
        assert!(ext.has_auth("LOGIN") && ext.has_auth("xoauth2") && !ext.has_auth("CRAM-MD5"));
        assert!(replies[2].is_intermediate());
    }

    #[test]
    fn bad_and_endless_replies_are_errors() {
        assert!(matches!(read_all(b"2x0 no\r\n"), Err(SmtpError::Malformed { .. })));
        assert!(matches!(read_all(b"250-a\r\n251 b\r\n"), Err(SmtpError::Malformed { .. })));
        assert!(matches!(read_all(b"999 what\r\n"), Err(SmtpError::Malformed { .. })));
        let endless = vec![b'2'; MAX_LINE + 10];
        assert_eq!(read_all(&endless), Err(SmtpError::LineTooLong { limit: MAX_LINE }));
        let many = b"250-x\r\n".repeat(MAX_LINES + 1);
        assert_eq!(read_all(&many), Err(SmtpError::TooManyLines { limit: MAX_LINES }));
    }

    #[test]
    fn commands_and_their_redacted_form() {
        let auth = SmtpCommand::Auth { mechanism: "PLAIN", initial: Some(Secret::new(b"\0u\0pw".to_vec())) };
        assert_eq!(auth.to_bytes(), b"AUTH PLAIN AHUAcHc=\r\n");
        assert_eq!(auth.redacted(), "AUTH PLAIN <redacted>");
        assert_eq!(SmtpCommand::AuthAnswer(Secret::new(b"pw".to_vec())).redacted(), "<redacted>");
        assert_eq!(SmtpCommand::MailFrom("a@b".into()).to_bytes(), b"MAIL FROM:<a@b>\r\n");
        assert_eq!(
            SmtpCommand::Auth { mechanism: "XOAUTH2", initial: Some(Secret::new(vec![])) }.to_bytes(),
            b"AUTH XOAUTH2 =\r\n"
        );
    }

    #[test]
    fn data_is_dot_stuffed_with_crlf() {
        assert_eq!(data_body(b"a\n.b\r\n..c"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(data_body(b""), b".\r\n");
    }
}
