//! The readable text of a message body: what gets indexed, and what `mailsync show` prints.
//!
//! Owns: walking the MIME tree for text a person reads: `text/plain` parts, `text/html` parts turned
//! into text, the preferred alternative of a `multipart/alternative` (plain text when there is one),
//! and forwarded `message/rfc822` parts (their From, Date and Subject, then their text); decoding each
//! part's transfer encoding and charset (mailparse, through the `charset` crate: every encoding_rs
//! label, e.g. ISO-2022-JP, Shift_JIS, EUC-KR / ks_c_5601-1987, GBK); and a fallback for messages
//! whose MIME structure cannot be parsed.
//!
//! Must never: fail (a part that cannot be decoded contributes its raw text, lossily); include
//! attachments (they are listed by name, see `attachments.rs`); follow forwarded messages deeper than
//! [`MAX_EMBEDDED`]; produce more than the caller's byte limit.
//!
//! RFC 2045 section 6 (transfer encodings), RFC 2046 sections 4.1.2 (charset), 5.1.4 (alternative)
//! and 5.2.1 (message/rfc822); RFC 2183 (disposition).

use mailparse::body::Body;
use mailparse::{MailHeaderMap, ParsedMail};

use super::html::html_to_text;
use crate::headers::is_attachment;

/// How many forwarded messages inside forwarded messages are followed.
pub const MAX_EMBEDDED: usize = 3;

/// The text of `mail`'s body, at most `limit` bytes (cut at a character boundary). With `for_reading`,
/// line endings become `\n` and trailing spaces go; for the index, the text is taken as decoded.
pub fn body_text(mail: &ParsedMail<'_>, limit: usize, for_reading: bool) -> String {
    let mut out = Collector { text: String::new(), limit, for_reading };
    out.part(mail, 0, true);
    out.text
}

/// The text after the header block of a message whose MIME structure could not be parsed: its lines,
/// lossily decoded as UTF-8, without the lines that look like MIME headers or boundaries.
pub fn fallback_text(raw: &[u8], limit: usize) -> String {
    let body_start = match mailparse::parse_headers(raw) {
        Ok((_, offset)) => offset,
        Err(_) => 0,
    };
    let body = String::from_utf8_lossy(raw.get(body_start..).unwrap_or_default());
    let mut out = Collector { text: String::new(), limit, for_reading: true };
    for line in body.lines() {
        let t = line.trim_end();
        if t.starts_with("--") || looks_like_header(t) {
            continue;
        }
        out.push(t);
        out.push("\n");
        if out.full() {
            break;
        }
    }
    out.text.trim().to_owned()
}

/// `Name: value` where Name is a header field name (RFC 5322 section 2.2).
fn looks_like_header(line: &str) -> bool {
    match line.split_once(':') {
        Some((name, _)) => !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        None => false,
    }
}

struct Collector {
    text: String,
    limit: usize,
    for_reading: bool,
}

impl Collector {
    fn full(&self) -> bool {
        self.text.len() >= self.limit
    }

    /// Appends as much of `s` as fits.
    fn push(&mut self, s: &str) {
        let room = self.limit.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
        } else {
            let mut cut = room;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(s.get(..cut).unwrap_or_default());
        }
    }

    /// Appends a block of text, separated from what came before by a blank line.
    fn block(&mut self, s: &str) {
        let s = s.trim_matches(['\r', '\n']);
        if s.trim().is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.push("\n\n");
        }
        if !self.for_reading {
            self.push(s);
            return;
        }
        // Line endings become '\n' for the reader; the index does not care.
        for (i, line) in s.lines().enumerate() {
            if i > 0 {
                self.push("\n");
            }
            self.push(line.trim_end_matches('\r'));
            if self.full() {
                break;
            }
        }
    }

    fn part(&mut self, part: &ParsedMail<'_>, embedded: usize, top: bool) {
        if self.full() || (!top && is_attachment(part)) {
            return;
        }
        let mimetype = part.ctype.mimetype.as_str();
        match mimetype {
            "multipart/alternative" => {
                let readable = || part.subparts.iter().filter(|p| !is_attachment(p));
                let choice =
                    readable().find(|p| p.ctype.mimetype == "text/plain").or_else(|| readable().next_back());
                if let Some(choice) = choice {
                    self.part(choice, embedded, false);
                }
            }
            m if m.starts_with("multipart/") => {
                for sub in &part.subparts {
                    self.part(sub, embedded, false);
                }
            }
            "text/html" => self.block(&html_to_text(&decoded_text(part))),
            "text/plain" | "" => self.block(&decoded_text(part)),
            "message/rfc822" | "message/global" if embedded < MAX_EMBEDDED => {
                let Ok(bytes) = part.get_body_raw() else { return };
                let Ok(inner) = mailparse::parse_mail(&bytes) else {
                    self.block(&fallback_text(&bytes, self.limit));
                    return;
                };
                let mut header = String::new();
                for name in ["From", "Date", "Subject"] {
                    if let Some(v) = inner.headers.get_first_value(name) {
                        header.push_str(&format!("{name}: {}\n", v.trim()));
                    }
                }
                self.block(&header);
                self.part(&inner, embedded + 1, true);
            }
            _ => {}
        }
    }
}

/// A text part's content as a string: transfer encoding undone, charset decoded. What cannot be
/// decoded (a broken base64 or quoted-printable body) is taken as it stands, lossily.
pub fn decoded_text(part: &ParsedMail<'_>) -> String {
    if let Body::QuotedPrintable(b) = part.get_body_encoded() {
        // Quoted-printable without a single '=' decodes to itself (no escapes, no soft breaks): skip
        // the decoder, the costliest step of indexing plain-text mail.
        if memchr::memchr(b'=', b.get_raw()).is_none() {
            return charset_decode(b.get_raw(), &part.ctype.charset);
        }
    }
    match part.get_body() {
        Ok(text) => text,
        Err(_) => {
            let raw = match part.get_body_encoded() {
                Body::Base64(b) | Body::QuotedPrintable(b) => b.get_raw().to_vec(),
                Body::SevenBit(b) | Body::EightBit(b) => b.get_raw().to_vec(),
                Body::Binary(b) => b.get_raw().to_vec(),
            };
            String::from_utf8_lossy(&raw).into_owned()
        }
    }
}

/// `bytes` in the charset labelled `label` (every encoding_rs label), as mailparse decodes a body:
/// an unknown label reads as ASCII, anything else replaced.
fn charset_decode(bytes: &[u8], label: &str) -> String {
    match charset::Charset::for_label(label.as_bytes()) {
        Some(cs) => cs.decode(bytes).0.into_owned(),
        None => charset::decode_ascii(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(raw: &[u8]) -> String {
        body_text(&mailparse::parse_mail(raw).unwrap(), 1 << 20, true)
    }

    #[test]
    fn alternative_prefers_plain_text() {
        let raw = b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 plain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b--\r\n";
        assert_eq!(text(raw), "café plain");
    }

    #[test]
    fn html_only_alternative_and_related() {
        let raw = b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
Content-Type: multipart/related; boundary=c\r\n\r\n--c\r\nContent-Type: text/html\r\n\r\n\
<p>rich &amp; related</p>\r\n--c\r\nContent-Type: image/png; name=a.png\r\n\r\nxx\r\n--c--\r\n--b--\r\n";
        assert_eq!(text(raw), "rich & related");
    }

    #[test]
    fn attachments_are_not_body_text() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
hello\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\n\
secret\r\n--b--\r\n";
        assert_eq!(text(raw), "hello");
    }

    #[test]
    fn forwarded_message_headers_and_text() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
see below\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: Bob <bob@example.net>\r\n\
Subject: trip\r\n\r\nHere they are.\r\n--b--\r\n";
        assert_eq!(text(raw), "see below\n\nFrom: Bob <bob@example.net>\nSubject: trip\n\nHere they are.");
    }

    #[test]
    fn limit_cuts_at_a_character_boundary() {
        let raw = "Content-Type: text/plain; charset=utf-8\r\n\r\néééé".as_bytes();
        let t = body_text(&mailparse::parse_mail(raw).unwrap(), 5, true);
        assert_eq!(t, "éé");
    }

    #[test]
    fn quoted_printable_without_escapes_skips_the_decoder() {
        let plain = "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
        let mut raw = plain.as_bytes().to_vec();
        raw.extend_from_slice(b"Gr\xfc\xdfe\r\nline two");
        assert_eq!(text(&raw), "Grüße\nline two");
        // (mailparse's own decoder would drop the 8-bit bytes: "Gre".)
        let escaped = format!("{plain}caf=E9 soft=\r\nbreak");
        assert_eq!(text(escaped.as_bytes()), "café softbreak");
        let unknown = b"Content-Type: text/plain; charset=x-nope\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nok";
        assert_eq!(text(unknown), "ok");
    }

    #[test]
    fn index_text_keeps_line_endings() {
        let raw = b"Content-Type: text/plain\r\n\r\na  \r\nb\r\n";
        assert_eq!(body_text(&mailparse::parse_mail(raw).unwrap(), 100, false), "a  \r\nb");
    }

    #[test]
    fn broken_base64_is_taken_as_written() {
        let raw = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nnot base64 @@@\r\n";
        assert_eq!(text(raw), "not base64 @@@");
    }

    #[test]
    fn fallback_skips_mime_scaffolding() {
        let raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n--b0\r\n\
Content-Type: text/plain\r\n\r\nbottom line\r\n--b0--\r\n";
        assert_eq!(fallback_text(raw, 100), "bottom line");
        assert_eq!(fallback_text(b"Subject: x\r\n\r\n\xff ok\r\n", 100), "\u{fffd} ok");
    }
}
