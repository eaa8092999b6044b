//! The IMAP layer's error type.
//!
//! Owns: [`ImapError`], the one error enum of the IMAP layer (framer, parsers and session), with
//! variants grouped by whose fault it is: the server's (malformed or oversized responses, protocol
//! violations) or the caller's (asking the session for something its state does not allow).
//!
//! Must never: carry a credential in a message. Server text is quoted in excerpts, bounded in size.
//!
//! RFC 3501 section 7 (what a response may be), section 6.2.1 (STARTTLS response injection).

/// Everything that can go wrong in the IMAP layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImapError {
    // ---- the server's fault -------------------------------------------------------------------
    /// One response grew past the configured cap without being complete.
    #[error("server response exceeds the {limit}-byte cap ({size} bytes without an end)")]
    ResponseTooLarge {
        /// The configured cap.
        limit: usize,
        /// How many bytes of the response had arrived.
        size: usize,
    },
    /// One line of a response (outside its literals) grew past the configured cap without ending.
    #[error("server sent a line longer than the {limit}-byte cap ({size} bytes without an end)")]
    LineTooLong {
        /// The configured cap.
        limit: usize,
        /// How many bytes of the line had arrived.
        size: usize,
    },
    /// A literal announced more bytes than the response cap allows (nothing was allocated).
    #[error("server announced a literal of {announced} bytes, over the {limit}-byte response cap")]
    LiteralTooLarge {
        /// The size in the `{n}` header, saturated at `u64::MAX`.
        announced: u64,
        /// The configured cap.
        limit: usize,
    },
    /// A complete response that does not follow the grammar.
    #[error("malformed server response at byte {offset} ({reason}): {excerpt}")]
    Malformed {
        /// What was being parsed or what was wrong.
        reason: &'static str,
        /// Where in the response the parser gave up.
        offset: usize,
        /// The start of the response, escaped and shortened.
        excerpt: String,
    },
    /// The first response was not `* OK`, `* PREAUTH` or `* BYE`.
    #[error("server greeting is not OK, PREAUTH or BYE: {excerpt}")]
    BadGreeting {
        /// The start of the response, escaped and shortened.
        excerpt: String,
    },
    /// A tagged response whose tag matches no outstanding command.
    #[error("server completed unknown tag {tag:?}")]
    UnknownTag {
        /// The tag the server sent.
        tag: String,
    },
    /// A `+` continuation request when no command was waiting for one.
    #[error("server sent a continuation request nobody asked for: {excerpt}")]
    UnexpectedContinuation {
        /// The continuation line, escaped and shortened.
        excerpt: String,
    },
    /// Bytes were already buffered behind the STARTTLS OK: a man in the middle may have injected
    /// responses that would be trusted after the TLS handshake (RFC 3501 section 6.2.1, CVE-2011-0411).
    #[error("{buffered} bytes arrived behind the STARTTLS OK before the TLS handshake: possible response injection")]
    StartTlsInjection {
        /// How many bytes were buffered.
        buffered: usize,
    },
    /// The framer hit an error earlier; the connection must be dropped.
    #[error("response stream is unusable after an earlier framing error")]
    FramerFailed,

    // ---- the caller's fault -------------------------------------------------------------------
    /// `authenticate_continue` with no AUTHENTICATE challenge pending.
    #[error("no AUTHENTICATE challenge is waiting for an answer")]
    NoChallenge,
    /// `idle_done` with no IDLE command in progress.
    #[error("no IDLE command is in progress")]
    NotIdling,
    /// A command after the connection was logged out (BYE or LOGOUT).
    #[error("connection is logged out; cannot send {command}")]
    LoggedOut {
        /// The command name.
        command: &'static str,
    },
    /// LOGIN while the server advertises LOGINDISABLED (RFC 3501 section 6.2.3).
    #[error("server advertises LOGINDISABLED; LOGIN is not allowed on this connection")]
    LoginDisabled,
    /// The receive buffer was shortened behind the framer's back.
    #[error("receive buffer shrank from {expected} to {actual} bytes between reads")]
    BufferShrank {
        /// What the framer had already scanned.
        expected: usize,
        /// What the buffer held.
        actual: usize,
    },
}

/// At most this many bytes of a response are quoted in an error message.
const EXCERPT_MAX: usize = 120;

/// Quotes the start of `bytes` for an error message: printable ASCII kept, the rest escaped, cut at
/// [`EXCERPT_MAX`] bytes.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.get(..EXCERPT_MAX).unwrap_or(bytes);
    let mut out = String::with_capacity(cut.len() + 8);
    for &b in cut {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if cut.len() < bytes.len() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_escapes_and_cuts() {
        assert_eq!(excerpt(b"* OK hi\r\n"), "* OK hi\\r\\n");
        assert_eq!(excerpt(b"\x00\xff\\"), "\\x00\\xff\\\\");
        let long = vec![b'a'; 200];
        let e = excerpt(&long);
        assert_eq!(e.len(), EXCERPT_MAX + 3);
        assert!(e.ends_with("..."));
    }

    #[test]
    fn messages_are_lowercase_with_context() {
        let e = ImapError::LiteralTooLarge { announced: 9_999_999_999, limit: 1024 };
        assert_eq!(
            e.to_string(),
            "server announced a literal of 9999999999 bytes, over the 1024-byte response cap"
        );
    }
}
