//! The POP3 layer's error type.
//!
//! Owns: [`Pop3Error`], every way the POP3 codec and session can fail, grouped by whose fault it is
//! (the server's bytes, or the caller's use of the session).
//!
//! Must never: hold a credential (commands are described by name, never by their bytes); grow with
//! the server's input beyond the configured line cap (lines quoted here are at most that long).

use crate::types::UidlError;

/// Every failure of the POP3 codec and session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pop3Error {
    // ---- the server's fault: bytes that break RFC 1939 / 2449 / 5034 ----
    /// A line that is neither `+OK`, `-ERR` nor (during AUTH) a `+` continuation.
    #[error("server sent a malformed status line {line:?}")]
    MalformedStatus {
        /// The line, lossily as text, without its line end.
        line: String,
    },
    /// A line longer than the configured cap, with or without its line end.
    #[error("server sent a line longer than {limit} bytes")]
    LineTooLong {
        /// The configured cap ([`crate::pop3::Pop3Config::max_line`]).
        limit: usize,
    },
    /// A multi-line response that grew past the configured cap before its terminating `.` line.
    #[error("server response to {command} exceeds the {limit}-byte cap")]
    ResponseTooLarge {
        /// The command whose response it is.
        command: &'static str,
        /// The configured cap ([`crate::pop3::Pop3Config::max_body`]).
        limit: usize,
    },
    /// A response arrived while no command was waiting for one.
    #[error("server sent {line:?} while no command was waiting for a response")]
    UnexpectedResponse {
        /// The line, lossily as text.
        line: String,
    },
    /// A `+` continuation arrived for a command other than AUTH.
    #[error("server sent a continuation {line:?} in reply to {command}, which is not AUTH")]
    UnexpectedContinuation {
        /// The command it answered.
        command: &'static str,
        /// The line, lossily as text.
        line: String,
    },
    /// Bytes followed the `+OK` to STLS in the same read: they were sent in clear before the TLS
    /// handshake and could be an injection (RFC 2595 section 4, CVE-2011-0411 class).
    #[error("server sent {bytes} bytes after +OK to STLS, before the tls handshake (possible injection)")]
    DataAfterStls {
        /// How many bytes followed.
        bytes: usize,
    },
    /// A STAT, scan listing or unique-id listing that does not follow RFC 1939's grammar.
    #[error("server sent a malformed {what} \"{line}\"")]
    MalformedListing {
        /// "stat", "scan listing" or "unique-id listing".
        what: &'static str,
        /// The line, control characters and 8-bit bytes escaped, shortened.
        line: String,
    },
    /// A unique-id listing whose UIDL breaks RFC 1939 section 7.
    #[error("server sent an invalid uidl in \"{line}\": {source}")]
    InvalidUidl {
        /// The listing line, control characters and 8-bit bytes escaped, shortened.
        line: String,
        /// What is wrong with the UIDL.
        source: UidlError,
    },

    // ---- the caller's fault: a command the session cannot send ----
    /// A command argument that is empty or holds CR, LF, NUL (or a space where one would split it).
    #[error("invalid argument for {command}: {reason}")]
    InvalidArgument {
        /// The command, e.g. "USER".
        command: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// APOP needs the timestamp of the server greeting, which has not arrived or has none.
    #[error("cannot send apop: the server greeting has not arrived or carries no <timestamp>")]
    ApopUnavailable,
    /// `auth_continue` or `auth_cancel` called while no AUTH exchange waits for an answer.
    #[error("no auth exchange is waiting for a continuation answer")]
    NoContinuationPending,
    /// A command sent after QUIT, or after the server refused the greeting.
    #[error("cannot send {command}: the session is closed")]
    Closed {
        /// The command refused.
        command: &'static str,
    },
}

/// Lossy text of a server line for error messages.
pub(crate) fn lossy(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}
