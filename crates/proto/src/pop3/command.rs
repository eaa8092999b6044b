//! POP3 commands and their wire form.
//!
//! Owns: [`Pop3Command`] (every command the client sends), its encoding to bytes, its one-line
//! [`Pop3Command::redacted`] form for logs, whether its success response is multi-line, and the APOP
//! digest.
//!
//! Must never: put CR, LF or NUL from an argument on the wire (that would let a user name or password
//! smuggle in a second command); show a password, token or SASL response in `Debug` or `redacted()`.
//!
//! RFC 1939 sections 4 to 7 (USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL);
//! RFC 2449 section 5 (CAPA); RFC 2595 section 4 (STLS); RFC 5034 section 4 (AUTH, initial response,
//! `=` for an empty one, `*` to cancel).

use bytes::{BufMut, Bytes, BytesMut};
use md5::{Digest, Md5};
use std::fmt::Write as _;

use super::error::Pop3Error;
use crate::sasl::{encode_base64, Mechanism};
use crate::types::{Secret, SeqNum};

/// How AUTH carries the client's first SASL response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialResponse {
    /// No initial response: the mechanism starts with a server challenge (LOGIN), or the caller
    /// answers the first `+` itself through `auth_continue`.
    None,
    /// On the AUTH line itself: `AUTH PLAIN <base64>` (RFC 5034 section 4).
    Inline(Secret<Vec<u8>>),
    /// After the server's first `+`: `AUTH XOAUTH2`, then the base64 line. Outlook accepts only this
    /// form for XOAUTH2. The session sends it without surfacing that first continuation.
    AfterContinuation(Secret<Vec<u8>>),
}

/// A POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop3Command {
    /// `CAPA` (multi-line).
    Capa,
    /// `STLS`.
    Stls,
    /// `USER name`.
    User(String),
    /// `PASS secret`.
    Pass(Secret<String>),
    /// `APOP name digest`; the digest is computed from the greeting's timestamp when sent.
    Apop {
        /// The mailbox name.
        user: String,
        /// The shared secret.
        secret: Secret<String>,
    },
    /// `AUTH mechanism [initial-response]`.
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// Where the first client response goes.
        initial: InitialResponse,
    },
    /// `STAT`.
    Stat,
    /// `LIST [msg]` (multi-line without an argument).
    List(Option<SeqNum>),
    /// `UIDL [msg]` (multi-line without an argument).
    Uidl(Option<SeqNum>),
    /// `RETR msg` (multi-line).
    Retr(SeqNum),
    /// `TOP msg n` (multi-line): the headers and the first `lines` lines of the body.
    Top {
        /// The message.
        msg: SeqNum,
        /// How many body lines.
        lines: u32,
    },
    /// `DELE msg`.
    Dele(SeqNum),
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

/// The APOP digest (RFC 1939 section 7): lower-case hex MD5 of the timestamp (brackets included)
/// followed by the secret.
pub fn apop_digest(timestamp: &str, secret: &Secret<String>) -> String {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_bytes());
    md5.update(secret.expose().as_bytes());
    let digest = md5.finalize();
    digest.iter().fold(String::with_capacity(32), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

fn forbid_controls(command: &'static str, value: &[u8]) -> Result<(), Pop3Error> {
    if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Pop3Error::InvalidArgument { command, reason: "contains CR, LF or NUL" });
    }
    Ok(())
}

fn forbid_empty(command: &'static str, value: &[u8]) -> Result<(), Pop3Error> {
    if value.is_empty() {
        return Err(Pop3Error::InvalidArgument { command, reason: "is empty" });
    }
    Ok(())
}

impl Pop3Command {
    /// The command keyword, e.g. `"RETR"`.
    pub fn name(&self) -> &'static str {
        match self {
            Pop3Command::Capa => "CAPA",
            Pop3Command::Stls => "STLS",
            Pop3Command::User(_) => "USER",
            Pop3Command::Pass(_) => "PASS",
            Pop3Command::Apop { .. } => "APOP",
            Pop3Command::Auth { .. } => "AUTH",
            Pop3Command::Stat => "STAT",
            Pop3Command::List(_) => "LIST",
            Pop3Command::Uidl(_) => "UIDL",
            Pop3Command::Retr(_) => "RETR",
            Pop3Command::Top { .. } => "TOP",
            Pop3Command::Dele(_) => "DELE",
            Pop3Command::Rset => "RSET",
            Pop3Command::Noop => "NOOP",
            Pop3Command::Quit => "QUIT",
        }
    }

    /// Whether a `+OK` to this command is followed by a multi-line body (an `-ERR` never is).
    pub fn multiline_ok(&self) -> bool {
        matches!(
            self,
            Pop3Command::Capa
                | Pop3Command::List(None)
                | Pop3Command::Uidl(None)
                | Pop3Command::Retr(_)
                | Pop3Command::Top { .. }
        )
    }

    /// Checks the arguments: no CR, LF or NUL anywhere; user names not empty; no space in an APOP
    /// name (it would shift the digest into a third argument).
    pub fn validate(&self) -> Result<(), Pop3Error> {
        match self {
            Pop3Command::User(user) => {
                forbid_empty("USER", user.as_bytes())?;
                forbid_controls("USER", user.as_bytes())
            }
            Pop3Command::Pass(secret) => forbid_controls("PASS", secret.expose().as_bytes()),
            Pop3Command::Apop { user, secret } => {
                forbid_empty("APOP", user.as_bytes())?;
                forbid_controls("APOP", user.as_bytes())?;
                forbid_controls("APOP", secret.expose().as_bytes())?;
                if user.contains(' ') {
                    return Err(Pop3Error::InvalidArgument {
                        command: "APOP",
                        reason: "name contains a space",
                    });
                }
                Ok(())
            }
            Pop3Command::Auth { mechanism, .. } => {
                // Mechanism::parse is the only way to build Other from a server's text, but a caller
                // can build one by hand: check it again.
                match Mechanism::parse(mechanism.as_str()) {
                    Ok(m) if &m == mechanism => Ok(()),
                    _ => {
                        Err(Pop3Error::InvalidArgument { command: "AUTH", reason: "invalid mechanism name" })
                    }
                }
            }
            _ => Ok(()),
        }
    }

    /// The command line, CRLF included. `apop_timestamp` is the greeting's `<...>`, needed by APOP
    /// only. The bytes may hold a credential: send them, never log them (use [`Self::redacted`]).
    pub fn encode(&self, apop_timestamp: Option<&str>) -> Result<Bytes, Pop3Error> {
        self.validate()?;
        let mut out = BytesMut::with_capacity(32);
        out.put_slice(self.name().as_bytes());
        let mut arg = |s: &[u8]| {
            out.put_u8(b' ');
            out.put_slice(s);
        };
        match self {
            Pop3Command::Capa
            | Pop3Command::Stls
            | Pop3Command::Stat
            | Pop3Command::Rset
            | Pop3Command::Noop
            | Pop3Command::Quit
            | Pop3Command::List(None)
            | Pop3Command::Uidl(None) => {}
            Pop3Command::User(user) => arg(user.as_bytes()),
            Pop3Command::Pass(secret) => arg(secret.expose().as_bytes()),
            Pop3Command::Apop { user, secret } => {
                let ts = apop_timestamp.ok_or(Pop3Error::ApopUnavailable)?;
                arg(user.as_bytes());
                arg(apop_digest(ts, secret).as_bytes());
            }
            Pop3Command::Auth { mechanism, initial } => {
                arg(mechanism.as_str().as_bytes());
                if let InitialResponse::Inline(ir) = initial {
                    // RFC 5034 section 4: a zero-length initial response is sent as "=".
                    let b64 = encode_base64(ir.expose());
                    arg(if b64.is_empty() { b"=" } else { b64.as_bytes() });
                }
            }
            Pop3Command::List(Some(n))
            | Pop3Command::Uidl(Some(n))
            | Pop3Command::Retr(n)
            | Pop3Command::Dele(n) => arg(n.to_string().as_bytes()),
            Pop3Command::Top { msg, lines } => {
                arg(msg.to_string().as_bytes());
                arg(lines.to_string().as_bytes());
            }
        }
        out.put_slice(b"\r\n");
        Ok(out.freeze())
    }

    /// A one-line description for logs, with every credential replaced by `<redacted>`.
    pub fn redacted(&self) -> String {
        match self {
            Pop3Command::User(user) => format!("USER {}", user.escape_debug()),
            Pop3Command::Pass(_) => "PASS <redacted>".to_owned(),
            Pop3Command::Apop { user, .. } => format!("APOP {} <redacted>", user.escape_debug()),
            Pop3Command::Auth { mechanism, initial } => match initial {
                InitialResponse::Inline(_) => {
                    format!("AUTH {} <redacted>", mechanism.as_str().escape_debug())
                }
                InitialResponse::None | InitialResponse::AfterContinuation(_) => {
                    format!("AUTH {}", mechanism.as_str().escape_debug())
                }
            },
            Pop3Command::List(Some(n)) => format!("LIST {n}"),
            Pop3Command::Uidl(Some(n)) => format!("UIDL {n}"),
            Pop3Command::Retr(n) => format!("RETR {n}"),
            Pop3Command::Dele(n) => format!("DELE {n}"),
            Pop3Command::Top { msg, lines } => format!("TOP {msg} {lines}"),
            other => other.name().to_owned(),
        }
    }
}

/// The line that answers a `+` continuation during AUTH: base64 of `response`, then CRLF.
pub(crate) fn continuation_line(response: &Secret<Vec<u8>>) -> Bytes {
    let b64 = encode_base64(response.expose());
    let mut out = BytesMut::with_capacity(b64.len() + 2);
    out.put_slice(b64.as_bytes());
    out.put_slice(b"\r\n");
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: u32) -> SeqNum {
        match SeqNum::try_from(n) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn wire(cmd: &Pop3Command) -> Vec<u8> {
        match cmd.encode(None) {
            Ok(b) => b.to_vec(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn simple_commands() {
        assert_eq!(wire(&Pop3Command::Capa), b"CAPA\r\n");
        assert_eq!(wire(&Pop3Command::Stls), b"STLS\r\n");
        assert_eq!(wire(&Pop3Command::Stat), b"STAT\r\n");
        assert_eq!(wire(&Pop3Command::List(None)), b"LIST\r\n");
        assert_eq!(wire(&Pop3Command::List(Some(seq(2)))), b"LIST 2\r\n");
        assert_eq!(wire(&Pop3Command::Uidl(None)), b"UIDL\r\n");
        assert_eq!(wire(&Pop3Command::Uidl(Some(seq(7)))), b"UIDL 7\r\n");
        assert_eq!(wire(&Pop3Command::Retr(seq(1))), b"RETR 1\r\n");
        assert_eq!(wire(&Pop3Command::Top { msg: seq(10), lines: 0 }), b"TOP 10 0\r\n");
        assert_eq!(wire(&Pop3Command::Dele(seq(4294967295))), b"DELE 4294967295\r\n");
        assert_eq!(wire(&Pop3Command::Rset), b"RSET\r\n");
        assert_eq!(wire(&Pop3Command::Noop), b"NOOP\r\n");
        assert_eq!(wire(&Pop3Command::Quit), b"QUIT\r\n");
        assert_eq!(wire(&Pop3Command::User("alice".into())), b"USER alice\r\n");
        assert_eq!(wire(&Pop3Command::Pass(Secret::from("pass word"))), b"PASS pass word\r\n");
    }

    #[test]
    fn apop_rfc1939_example() {
        let secret = Secret::from("tanstaaf");
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", &secret),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
        let cmd = Pop3Command::Apop { user: "mrose".into(), secret };
        assert_eq!(cmd.encode(None), Err(Pop3Error::ApopUnavailable));
        assert_eq!(
            cmd.encode(Some("<1896.697170952@dbc.mtview.ca.us>")).map(|b| b.to_vec()),
            Ok(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n".to_vec())
        );
        assert_eq!(cmd.redacted(), "APOP mrose <redacted>");
    }

    #[test]
    fn auth_forms() {
        let ir = Secret::new(b"\0alice\0s3cret".to_vec());
        let inline =
            Pop3Command::Auth { mechanism: Mechanism::Plain, initial: InitialResponse::Inline(ir.clone()) };
        assert_eq!(wire(&inline), b"AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n");
        assert_eq!(inline.redacted(), "AUTH PLAIN <redacted>");
        let two_step = Pop3Command::Auth {
            mechanism: Mechanism::XOAuth2,
            initial: InitialResponse::AfterContinuation(ir),
        };
        assert_eq!(wire(&two_step), b"AUTH XOAUTH2\r\n");
        assert_eq!(two_step.redacted(), "AUTH XOAUTH2");
        let empty = Pop3Command::Auth {
            mechanism: Mechanism::Other("EXTERNAL".into()),
            initial: InitialResponse::Inline(Secret::new(Vec::new())),
        };
        assert_eq!(wire(&empty), b"AUTH EXTERNAL =\r\n");
        let login = Pop3Command::Auth { mechanism: Mechanism::Login, initial: InitialResponse::None };
        assert_eq!(wire(&login), b"AUTH LOGIN\r\n");
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(&continuation_line(&Secret::new(b"alice".to_vec()))[..], b"YWxpY2U=\r\n");
        assert_eq!(&continuation_line(&Secret::new(Vec::new()))[..], b"\r\n");
    }

    #[test]
    fn injection_is_refused() {
        let bad = [
            Pop3Command::User("alice\r\nDELE 1".into()),
            Pop3Command::User("al\0ice".into()),
            Pop3Command::User(String::new()),
            Pop3Command::Pass(Secret::from("pw\nQUIT")),
            Pop3Command::Apop { user: "a b".into(), secret: Secret::from("x") },
            Pop3Command::Apop { user: "a".into(), secret: Secret::from("x\r") },
            Pop3Command::Auth {
                mechanism: Mechanism::Other("PLAIN\r\nDELE 1".into()),
                initial: InitialResponse::None,
            },
            Pop3Command::Auth { mechanism: Mechanism::Other("plain".into()), initial: InitialResponse::None },
        ];
        for cmd in bad {
            assert!(
                matches!(cmd.encode(Some("<1@x>")), Err(Pop3Error::InvalidArgument { .. })),
                "{}",
                cmd.redacted()
            );
        }
    }

    #[test]
    fn redaction_never_shows_credentials() {
        let pass = Pop3Command::Pass(Secret::from("hunter2"));
        assert_eq!(pass.redacted(), "PASS <redacted>");
        assert!(!format!("{pass:?}").contains("hunter2"));
        let auth = Pop3Command::Auth {
            mechanism: Mechanism::XOAuth2,
            initial: InitialResponse::AfterContinuation(Secret::new(b"token-xyz".to_vec())),
        };
        assert!(!format!("{auth:?}").contains("token-xyz"));
        assert_eq!(Pop3Command::User("a\nb".into()).redacted(), "USER a\\nb");
        assert_eq!(Pop3Command::Top { msg: seq(3), lines: 5 }.redacted(), "TOP 3 5");
    }

    #[test]
    fn multiline_rules() {
        assert!(Pop3Command::Capa.multiline_ok());
        assert!(Pop3Command::List(None).multiline_ok());
        assert!(!Pop3Command::List(Some(seq(1))).multiline_ok());
        assert!(Pop3Command::Uidl(None).multiline_ok());
        assert!(!Pop3Command::Uidl(Some(seq(1))).multiline_ok());
        assert!(Pop3Command::Retr(seq(1)).multiline_ok());
        assert!(Pop3Command::Top { msg: seq(1), lines: 0 }.multiline_ok());
        assert!(!Pop3Command::Stat.multiline_ok());
        assert!(!Pop3Command::Stls.multiline_ok());
    }
}
