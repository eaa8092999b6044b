//! Attachments of a message: listing them (name, type, decoded size) and reading one back.
//!
//! Owns: which MIME parts are attachments (the same rule as the header index's `has_attachments`:
//! `Content-Disposition: attachment`, or a named non-text leaf), their position in a depth-first walk
//! of the part tree (the key `show --attachments` uses), their decoded file names (RFC 2231
//! `filename*` and RFC 2047 encoded words, through mailparse; `filename` first, then the
//! Content-Type `name`), and their decoded sizes.
//!
//! Must never: decode a base64 attachment just to measure it (its size follows from the number of
//! base64 characters), trust a file name (callers that write files use `export::safe_file_name`), or
//! fail (a part that cannot be decoded has its encoded size).
//!
//! RFC 2183 (Content-Disposition, `filename`), RFC 2231 sections 3-4 (continuations, charsets), RFC
//! 2045 section 6.8 (base64), RFC 2046 section 5.1 (multipart).

use mailparse::body::Body;
use mailparse::ParsedMail;

use crate::headers::is_attachment;

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// Position of the part in a depth-first, pre-order walk of the MIME tree (0 = the message).
    pub part: usize,
    /// The decoded file name, if the part has one (untrusted: may contain `/` or `..`).
    pub name: Option<String>,
    /// Lowercase MIME type, e.g. `application/pdf`.
    pub mime_type: String,
    /// Size of the decoded content in bytes.
    pub size: u64,
}

/// Every attachment of `mail`, in part order.
pub fn list(mail: &ParsedMail<'_>) -> Vec<AttachmentInfo> {
    mail.parts()
        .enumerate()
        .filter(|(_, p)| is_attachment(p))
        .map(|(i, p)| AttachmentInfo {
            part: i,
            name: file_name(p),
            mime_type: p.ctype.mimetype.clone(),
            size: decoded_size(p),
        })
        .collect()
}

/// The decoded content of the part at `part` (as numbered by [`list`]), if it is an attachment.
pub fn content(mail: &ParsedMail<'_>, part: usize) -> Option<Vec<u8>> {
    let p = mail.parts().nth(part).filter(|p| is_attachment(p))?;
    Some(decoded_or_raw(p))
}

/// The part's file name: the disposition's `filename`, else the content type's `name`.
fn file_name(part: &ParsedMail<'_>) -> Option<String> {
    let disposition = part.get_content_disposition();
    disposition
        .params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// The content with its transfer encoding undone; the encoded bytes when that fails.
fn decoded_or_raw(part: &ParsedMail<'_>) -> Vec<u8> {
    match part.get_body_raw() {
        Ok(bytes) => bytes,
        Err(_) => match part.get_body_encoded() {
            Body::Base64(b) | Body::QuotedPrintable(b) => b.get_raw().to_vec(),
            Body::SevenBit(b) | Body::EightBit(b) => b.get_raw().to_vec(),
            Body::Binary(b) => b.get_raw().to_vec(),
        },
    }
}

/// The decoded size without decoding base64: 3 bytes per 4 characters of the base64 alphabet, the
/// characters counted as the body's length less its line breaks and padding (memchr, not a byte
/// loop: this runs over every attachment stored).
fn decoded_size(part: &ParsedMail<'_>) -> u64 {
    let n = match part.get_body_encoded() {
        Body::Base64(b) => {
            let raw = b.get_raw();
            let spaces: usize =
                [b'\n', b'\r', b' ', b'\t'].iter().map(|&c| memchr::memchr_iter(c, raw).count()).sum();
            let padding =
                raw.iter().rev().filter(|c| !c.is_ascii_whitespace()).take_while(|&&c| c == b'=').count();
            let chars = raw.len().saturating_sub(spaces + padding);
            chars / 4 * 3 + (chars % 4 * 3) / 4
        }
        Body::QuotedPrintable(_) => decoded_or_raw(part).len(),
        Body::SevenBit(b) | Body::EightBit(b) => b.get_raw().len(),
        Body::Binary(b) => b.get_raw().len(),
    };
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_sizes_and_positions() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: application/pdf; name=\"ignored.pdf\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''M%C3%BCller%20report.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBE\r\nRi0x\r\nLg==\r\n\
--b\r\nContent-Type: image/png; name=\"=?UTF-8?B?w6ljaGFudGlsbG9uLnBuZw==?=\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
a=3Db\r\n--b--\r\n";
        let mail = mailparse::parse_mail(raw).unwrap();
        let list = list(&mail);
        let got: Vec<_> =
            list.iter().map(|a| (a.part, a.name.as_deref(), a.mime_type.as_str(), a.size)).collect();
        assert_eq!(
            got,
            vec![
                (2, Some("Müller report.pdf"), "application/pdf", 7),
                (3, Some("échantillon.png"), "image/png", 6),
                (4, None, "text/plain", 3),
            ]
        );
        assert_eq!(content(&mail, 2).unwrap(), b"%PDF-1.");
        assert_eq!(content(&mail, 4).unwrap(), b"a=b");
        assert_eq!(content(&mail, 1), None, "the body text is not an attachment");
        assert_eq!(content(&mail, 99), None);
    }
}
