//! POP3 single response lines: `+OK`/`-ERR` status lines with their extended response code, the
//! server greeting with its APOP timestamp, and the `+` continuation of AUTH.
//!
//! Owns: the nom parsers for one line that has already been cut at its LF (the framer in
//! `session` does that) and had its CRLF removed.
//!
//! Must never: look past the line it is given; allocate more than the line; panic on any bytes.
//!
//! RFC 1939 section 3 (status indicators) and 4 (greeting, APOP timestamp); RFC 2449 section 8
//! (extended response codes: `[IN-USE]`, `[LOGIN-DELAY]`); RFC 3206 (`[SYS/TEMP]`, `[SYS/PERM]`,
//! `[AUTH]`); RFC 5034 section 4 (`+ ` continuation, bare `+` accepted).

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while1};
use nom::combinator::{opt, rest, value};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use super::error::{lossy, Pop3Error};

/// An extended response code (RFC 2449 section 8, RFC 3206), compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session; try later.
    InUse,
    /// `[LOGIN-DELAY]`: logged in too soon after the last login.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary server-side failure; retrying may work.
    SysTemp,
    /// `[SYS/PERM]`: a permanent server-side failure; retrying will not help.
    SysPerm,
    /// `[AUTH]`: the credentials were wrong (not a system failure).
    Auth,
    /// Any other code, as sent (e.g. `UTF8`, or a vendor's `X-...`).
    Other(String),
}

impl ResponseCode {
    fn from_text(code: &str) -> Self {
        match code.to_ascii_uppercase().as_str() {
            "IN-USE" => ResponseCode::InUse,
            "LOGIN-DELAY" => ResponseCode::LoginDelay,
            "SYS/TEMP" => ResponseCode::SysTemp,
            "SYS/PERM" => ResponseCode::SysPerm,
            "AUTH" => ResponseCode::Auth,
            _ => ResponseCode::Other(code.to_owned()),
        }
    }

    /// The code as written between the brackets.
    pub fn as_str(&self) -> &str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
            ResponseCode::Other(s) => s,
        }
    }
}

/// One parsed `+OK` / `-ERR` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// `true` for `+OK`.
    pub ok: bool,
    /// The extended response code, if the text starts with one.
    pub code: Option<ResponseCode>,
    /// The human-readable text after the status (and code), lossily decoded; may be empty.
    pub text: String,
}

/// The server greeting (RFC 1939 section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// `false` when the server refuses the connection (`-ERR` greeting).
    pub ok: bool,
    /// The extended response code, if any (e.g. `[SYS/TEMP]` on a refusal).
    pub code: Option<ResponseCode>,
    /// The greeting text, including any timestamp.
    pub text: String,
    /// The APOP timestamp `<...>` including its angle brackets, if the greeting carries one.
    pub timestamp: Option<String>,
}

/// `status = "+OK" / "-ERR"` (case-insensitive, as some servers send `+ok`).
fn status(i: &[u8]) -> IResult<&[u8], bool> {
    alt((value(true, tag_no_case("+OK")), value(false, tag_no_case("-ERR")))).parse(i)
}

/// `rchar = %x21-2E / %x30-5C / %x5E-7F` plus `/` between levels:
/// `resp-code = "[" resp-level *("/" resp-level) "]"`.
fn resp_code(i: &[u8]) -> IResult<&[u8], &[u8]> {
    delimited(tag("["), take_while1(|b: u8| (0x21..=0x7e).contains(&b) && b != b']' && b != b'['), tag("]"))
        .parse(i)
}

/// The bracketed code (without brackets), if any, and the text after it.
type CodeAndText<'a> = (Option<&'a [u8]>, &'a [u8]);
/// `+OK` or not, the raw code and the raw text.
type RawStatus<'a> = (bool, Option<&'a [u8]>, &'a [u8]);

/// `text = [resp-code SP] *CHAR` after the status and its space. A bracket that does not close is
/// kept as text, as is a code with bytes outside RFC 2449's `rchar`.
fn text_with_code(i: &[u8]) -> IResult<&[u8], CodeAndText<'_>> {
    let (i, code) = opt(resp_code).parse(i)?;
    let (i, _) = opt(tag(" ")).parse(i)?;
    let (i, text) = rest(i)?;
    Ok((i, (code, text)))
}

/// `single-line = status [SP text]` (the CRLF already removed).
fn status_line_rule(i: &[u8]) -> IResult<&[u8], RawStatus<'_>> {
    let (i, ok) = status(i)?;
    if i.is_empty() {
        return Ok((i, (ok, None, i)));
    }
    let (i, (code, text)) = preceded(tag(" "), text_with_code).parse(i)?;
    Ok((i, (ok, code, text)))
}

/// Parses one status line (without its CRLF). Anything but `+OK`/`-ERR`, optionally followed by a
/// space and text, is [`Pop3Error::MalformedStatus`].
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine, Pop3Error> {
    match status_line_rule(line) {
        Ok((_, (ok, code, text))) => Ok(StatusLine {
            ok,
            code: code.map(|c| ResponseCode::from_text(&String::from_utf8_lossy(c))),
            text: lossy(text),
        }),
        Err(_) => Err(Pop3Error::MalformedStatus { line: lossy(line) }),
    }
}

/// `timestamp = "<" 1*(printable except "<" ">" SP) ">"` (RFC 1939 section 7: a msg-id).
fn timestamp(i: &[u8]) -> IResult<&[u8], &[u8]> {
    delimited(tag("<"), take_while1(|b: u8| (0x21..=0x7e).contains(&b) && b != b'<' && b != b'>'), tag(">"))
        .parse(i)
}

/// Finds the first well-formed `<...>` in a greeting's text, brackets included.
fn find_timestamp(text: &[u8]) -> Option<&[u8]> {
    memchr::memchr_iter(b'<', text).find_map(|at| {
        let candidate = text.get(at..)?;
        let (_, inner) = timestamp(candidate).ok()?;
        candidate.get(..inner.len() + 2)
    })
}

/// Parses the greeting line (without its CRLF).
pub fn parse_greeting(line: &[u8]) -> Result<Greeting, Pop3Error> {
    let (ok, code, text) = match status_line_rule(line) {
        Ok((_, parsed)) => parsed,
        Err(_) => return Err(Pop3Error::MalformedStatus { line: lossy(line) }),
    };
    Ok(Greeting {
        ok,
        code: code.map(|c| ResponseCode::from_text(&String::from_utf8_lossy(c))),
        text: lossy(text),
        timestamp: if ok { find_timestamp(text).map(lossy) } else { None },
    })
}

/// Recognises a continuation line (RFC 5034 section 4: `"+" SP [base64]`, and a bare `+`) and
/// returns the text after `+ `. `+OK` lines are not continuations.
pub fn parse_continuation(line: &[u8]) -> Option<String> {
    match line {
        [b'+'] => Some(String::new()),
        [b'+', b' ', text @ ..] => Some(lossy(text)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(line: &[u8]) -> StatusLine {
        match parse_status_line(line) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn dovecot_greeting() {
        let g = parse_greeting(b"+OK Dovecot (Debian) ready.");
        assert_eq!(
            g,
            Ok(Greeting { ok: true, code: None, text: "Dovecot (Debian) ready.".into(), timestamp: None })
        );
    }

    #[test]
    fn rfc1939_apop_greeting_timestamp() {
        let g = parse_greeting(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>").expect("valid");
        assert_eq!(g.timestamp.as_deref(), Some("<1896.697170952@dbc.mtview.ca.us>"));
    }

    #[test]
    fn greeting_skips_malformed_angle_brackets() {
        let g = parse_greeting(b"+OK <not a stamp> then <1.2@host> and <3@x>").expect("valid");
        assert_eq!(g.timestamp.as_deref(), Some("<1.2@host>"));
        let g = parse_greeting(b"+OK unterminated <1.2@host").expect("valid");
        assert_eq!(g.timestamp, None);
        let g = parse_greeting(b"+OK empty <> stamp").expect("valid");
        assert_eq!(g.timestamp, None);
    }

    #[test]
    fn refused_greeting_with_code() {
        let g = parse_greeting(b"-ERR [SYS/TEMP] Too many connections <1@x>").expect("valid");
        assert!(!g.ok);
        assert_eq!(g.code, Some(ResponseCode::SysTemp));
        assert_eq!(g.text, "Too many connections <1@x>");
        assert_eq!(g.timestamp, None);
    }

    #[test]
    fn err_in_use() {
        let s = status(b"-ERR [IN-USE] Mailbox is locked by another POP3 session.");
        assert!(!s.ok);
        assert_eq!(s.code, Some(ResponseCode::InUse));
        assert_eq!(s.text, "Mailbox is locked by another POP3 session.");
    }

    #[test]
    fn err_auth_dovecot() {
        let s = status(b"-ERR [AUTH] Authentication failed.");
        assert_eq!(
            (s.ok, s.code, s.text.as_str()),
            (false, Some(ResponseCode::Auth), "Authentication failed.")
        );
    }

    #[test]
    fn err_sys_temp_and_perm_and_login_delay() {
        assert_eq!(
            status(b"-ERR [SYS/TEMP] Temporary authentication failure.").code,
            Some(ResponseCode::SysTemp)
        );
        assert_eq!(status(b"-ERR [SYS/PERM] Mailbox is corrupt").code, Some(ResponseCode::SysPerm));
        assert_eq!(status(b"-ERR [login-delay] wait").code, Some(ResponseCode::LoginDelay));
        assert_eq!(status(b"-ERR [X-VENDOR/SUB] odd").code, Some(ResponseCode::Other("X-VENDOR/SUB".into())));
    }

    #[test]
    fn ok_without_text_and_lowercase() {
        assert_eq!(status(b"+OK"), StatusLine { ok: true, code: None, text: String::new() });
        assert_eq!(status(b"+ok fine").text, "fine");
        assert!(!status(b"-ERR").ok);
    }

    #[test]
    fn unclosed_bracket_stays_text() {
        let s = status(b"-ERR [IN-USE locked");
        assert_eq!((s.code, s.text.as_str()), (None, "[IN-USE locked"));
        let s = status(b"-ERR [] empty");
        assert_eq!((s.code, s.text.as_str()), (None, "[] empty"));
    }

    #[test]
    fn eight_bit_text_is_lossy_not_an_error() {
        let s = status(b"+OK caf\xe9");
        assert_eq!(s.text, "caf\u{fffd}");
    }

    #[test]
    fn malformed_status_lines() {
        for line in [&b""[..], b"OK", b"+OKAY", b"* OK imap", b"-ERRx", b"+", b"+ abc", b"\0+OK"] {
            assert!(
                matches!(parse_status_line(line), Err(Pop3Error::MalformedStatus { .. })),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn continuations() {
        assert_eq!(parse_continuation(b"+ VXNlcm5hbWU6"), Some("VXNlcm5hbWU6".into()));
        assert_eq!(parse_continuation(b"+ "), Some(String::new()));
        assert_eq!(parse_continuation(b"+"), Some(String::new()));
        assert_eq!(parse_continuation(b"+OK"), None);
        assert_eq!(parse_continuation(b"+OK done"), None);
        assert_eq!(parse_continuation(b"-ERR"), None);
    }
}
