//! IMAP response parsers: one complete frame in, one typed [`Response`] out.
//!
//! Owns: the entry points [`parse_response`] and [`parse_greeting`], the parser error type, and the
//! dispatch from a response's first words to the rule that parses the rest. The rules live in the
//! submodules, one small function per ABNF rule, each with its rule in its doc comment.
//!
//! Must never: panic on any input; recurse without a depth limit; accept trailing bytes after a
//! response; copy a message body (bodies are [`Bytes`] slices of the frame). The rules use nom's
//! streaming combinators, so a truncated input is `Incomplete` and a wrong one is `Error`; the entry
//! points get complete frames from the framer and report both as malformed.
//!
//! RFC 3501 section 9 (formal syntax: `response`, `response-data`, `response-tagged`,
//! `continue-req`, `greeting`), and the extensions listed in [`super::response`].

pub(crate) mod code;
pub(crate) mod core;
pub(crate) mod date;
pub(crate) mod fetch;
pub(crate) mod flag;
pub(crate) mod id;
pub(crate) mod mailbox;
pub(crate) mod namespace;
pub(crate) mod search;
pub(crate) mod skip;
pub(crate) mod status;

use bytes::Bytes;
use nom::error::{ErrorKind, FromExternalError, ParseError};
use nom::IResult;

use super::error::{excerpt, ImapError};
use super::response::{Greeting, Response};

/// How deep parentheses may nest anywhere in a response (BODYSTRUCTURE of a deeply nested
/// multipart needs a handful; hostile input gets an error instead of a stack overflow).
pub const MAX_DEPTH: usize = 64;

/// The parsers' error: where it happened and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PError<'a> {
    /// The input at the point of failure.
    pub input: &'a [u8],
    /// What was expected or wrong.
    pub reason: &'static str,
}

impl<'a> ParseError<&'a [u8]> for PError<'a> {
    fn from_error_kind(input: &'a [u8], kind: ErrorKind) -> Self {
        let reason = match kind {
            ErrorKind::Tag => "unexpected word or character",
            ErrorKind::Char => "unexpected character",
            ErrorKind::TakeWhile1 => "expected a token",
            ErrorKind::Digit => "expected a number",
            _ => "syntax error",
        };
        PError { input, reason }
    }

    fn append(_: &'a [u8], _: ErrorKind, other: Self) -> Self {
        other
    }
}

impl<'a, E> FromExternalError<&'a [u8], E> for PError<'a> {
    fn from_external_error(input: &'a [u8], _: ErrorKind, _: E) -> Self {
        PError { input, reason: "invalid value" }
    }
}

/// The result type of every rule.
pub type PResult<'a, T> = IResult<&'a [u8], T, PError<'a>>;

/// Fails a rule at `input` with `reason` (a recoverable error: an enclosing `alt` may try another rule).
pub(crate) fn reject<'a, T>(input: &'a [u8], reason: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(PError { input, reason }))
}

/// Parses one complete response frame (as the framer returns it, final CRLF included).
///
/// ```text
/// response = continue-req / response-data / response-tagged   ; one frame at a time
/// ```
pub fn parse_response(frame: &Bytes) -> Result<Response, ImapError> {
    finish(frame, status::response(frame, frame))
}

/// Parses the server greeting (RFC 3501 section 7.1).
///
/// ```text
/// greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF
/// ```
pub fn parse_greeting(frame: &Bytes) -> Result<Greeting, ImapError> {
    finish(frame, status::greeting(frame))
}

/// Turns a rule's result over a whole frame into the frame's value, rejecting trailing bytes.
fn finish<T>(frame: &[u8], result: PResult<'_, T>) -> Result<T, ImapError> {
    let (offset, reason) = match result {
        Ok(([], value)) => return Ok(value),
        Ok((rest, _)) => (frame.len() - rest.len(), "trailing bytes after the response"),
        Err(nom::Err::Incomplete(_)) => (frame.len(), "response ends too early"),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => (offset_in(frame, e.input), e.reason),
    };
    Err(ImapError::Malformed { reason, offset, excerpt: excerpt(frame) })
}

/// Where `part` (a tail of `whole`) starts inside `whole`.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    whole.len().saturating_sub(part.len())
}

/// A [`Bytes`] for `part`, which the parsers cut out of `frame`: a shared slice when `part` lies
/// inside `frame` (always, for bytes taken straight from the input), else a copy.
pub(crate) fn share(frame: &Bytes, part: &[u8]) -> Bytes {
    let base = frame.as_ptr().addr();
    let start = part.as_ptr().addr().checked_sub(base);
    match start {
        Some(start) if start.checked_add(part.len()).is_some_and(|end| end <= frame.len()) => {
            frame.slice(start..start + part.len())
        }
        _ => Bytes::copy_from_slice(part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_slices_without_copy() {
        let frame = Bytes::from_static(b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n");
        let part = frame.get(23..26).unwrap_or_default();
        let shared = share(&frame, part);
        assert_eq!(&shared[..], b"abc");
        assert_eq!(shared.as_ptr(), part.as_ptr());
        let elsewhere = share(&frame, b"xyz");
        assert_eq!(&elsewhere[..], b"xyz");
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let frame = Bytes::from_static(b"* 3 EXISTS\r\nextra");
        match parse_response(&frame) {
            Err(ImapError::Malformed { offset, reason, .. }) => {
                assert_eq!(offset, 12);
                assert_eq!(reason, "trailing bytes after the response");
            }
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn truncated_frame_is_malformed_not_a_panic() {
        let frame = Bytes::from_static(b"* 3 EXIS");
        assert!(matches!(
            parse_response(&frame),
            Err(ImapError::Malformed { reason: "response ends too early", .. })
        ));
    }

    #[test]
    fn greeting_entry_point() {
        let frame = Bytes::from_static(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
        let g = parse_greeting(&frame).map(|g| g.text);
        assert_eq!(g, Ok("ready".to_owned()));
        let bad = Bytes::from_static(b"* NO go away\r\n");
        assert!(parse_greeting(&bad).is_err());
    }
}
