//! The trace file's line format, both ways: a protocol line's bytes to printable text and back, the kind
//! markers, and the `<N bytes>` of an elided body.
//!
//! Owns: [`escape`] / [`unescape`] (every byte outside printable ASCII as `\xHH`, and a backslash as `\x5c`
//! where it would otherwise read as the start of such an escape, so any bytes round-trip and nothing in a
//! trace can move a terminal's cursor), [`Kind`], and the text of a [`Record`]. Must never: lose or invent a
//! byte in the round trip; put a raw control or 8-bit byte into the text.

use std::fmt::Write as _;

use super::{Direction, Record};

/// What a trace line is, from its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `C:` / `S:`: a line as sent, its CRLF not shown.
    Line(Direction),
    /// `C~` / `S~`: bytes without a line end (a line's part cut at the length cap, or the end of a
    /// connection that stopped mid-line); the next `C:`/`S:` of the same side continues them.
    Part(Direction),
    /// `C=` / `S=`: message content left out: `<N bytes>`, and the header names it began with.
    Elided(Direction),
    /// `--`: what mailsync says about the connection (connected, TLS, closed, errors).
    Note,
}

impl Kind {
    /// The two characters of the marker.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Line(Direction::Client) => "C:",
            Kind::Line(Direction::Server) => "S:",
            Kind::Part(Direction::Client) => "C~",
            Kind::Part(Direction::Server) => "S~",
            Kind::Elided(Direction::Client) => "C=",
            Kind::Elided(Direction::Server) => "S=",
            Kind::Note => "--",
        }
    }

    /// The kind a marker names.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "C:" => Kind::Line(Direction::Client),
            "S:" => Kind::Line(Direction::Server),
            "C~" => Kind::Part(Direction::Client),
            "S~" => Kind::Part(Direction::Server),
            "C=" => Kind::Elided(Direction::Client),
            "S=" => Kind::Elided(Direction::Server),
            "--" => Kind::Note,
            _ => return None,
        })
    }
}

impl Record {
    /// The record's marker and text.
    pub fn render(&self) -> (Kind, String) {
        match self {
            Record::Data { dir, bytes, end: true } => (Kind::Line(*dir), escape(bytes)),
            Record::Data { dir, bytes, end: false } => (Kind::Part(*dir), escape(bytes)),
            Record::Elided { dir, bytes, headers } => (Kind::Elided(*dir), elided_text(*bytes, headers)),
        }
    }
}

/// `<N bytes>`, then ` header names: A B C` when there are some.
pub fn elided_text(bytes: u64, headers: &[String]) -> String {
    let mut s = format!("<{bytes} bytes>");
    if !headers.is_empty() {
        let _ = write!(s, " header names: {}", headers.join(" "));
    }
    s
}

/// The byte count of an elided record's text (`<N bytes>...`).
pub fn elided_bytes(text: &str) -> Option<u64> {
    text.strip_prefix('<')?.split_once(" bytes>")?.0.parse().ok()
}

/// Bytes as printable ASCII: `\xHH` for every byte outside 0x20..=0x7e, and for a backslash followed by `x`.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let printable = (0x20..=0x7e).contains(&b);
        let ambiguous = b == b'\\' && bytes.get(i + 1) == Some(&b'x');
        if printable && !ambiguous {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

/// The bytes an [`escape`]d text stands for: `\xHH` is that byte, everything else itself.
pub fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = b.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_rows() {
        // (bytes, text)
        let rows: &[(&[u8], &str)] = &[
            (b"* OK [CAPABILITY IMAP4rev1] ready", "* OK [CAPABILITY IMAP4rev1] ready"),
            (b"* FLAGS (\\Seen \\Answered)", "* FLAGS (\\Seen \\Answered)"),
            (b"tab\there", "tab\\x09here"),
            (b"\x1b[2Jclear", "\\x1b[2Jclear"),
            (b"caf\xc3\xa9 \x00 \x7f \xff", "caf\\xc3\\xa9 \\x00 \\x7f \\xff"),
            (b"a\\x41 b", "a\\x5cx41 b"),
            (b"\\\\x", "\\\\x5cx"),
            (b"ends in \\", "ends in \\"),
            (b"", ""),
        ];
        for (bytes, text) in rows {
            assert_eq!(escape(bytes), *text, "{bytes:?}");
            assert_eq!(unescape(text), bytes.to_vec(), "{text}");
        }
    }

    #[test]
    fn any_bytes_round_trip() {
        let all: Vec<u8> = (0..=255u8).chain(b"\\x\\x4\\xzz\\".iter().copied()).collect();
        let text = escape(&all);
        assert!(text.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{text}");
        assert_eq!(unescape(&text), all);
    }

    #[test]
    fn unescape_takes_bad_escapes_as_they_are() {
        assert_eq!(unescape("\\xZZ \\x4"), b"\\xZZ \\x4".to_vec());
    }

    #[test]
    fn elided_texts() {
        let names = vec!["From".to_owned(), "Subject".to_owned()];
        assert_eq!(elided_text(1234, &names), "<1234 bytes> header names: From Subject");
        assert_eq!(elided_text(0, &[]), "<0 bytes>");
        assert_eq!(elided_bytes("<1234 bytes> header names: From"), Some(1234));
        assert_eq!(elided_bytes("<x bytes>"), None);
        assert_eq!(elided_bytes("1234 bytes"), None);
    }

    #[test]
    fn markers_round_trip() {
        for k in [
            Kind::Line(Direction::Client),
            Kind::Line(Direction::Server),
            Kind::Part(Direction::Client),
            Kind::Part(Direction::Server),
            Kind::Elided(Direction::Client),
            Kind::Elided(Direction::Server),
            Kind::Note,
        ] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("X:"), None);
    }
}
