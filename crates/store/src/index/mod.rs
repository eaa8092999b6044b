//! The full-text index: what of a message can be searched, extracted when the message is stored.
//!
//! Owns: extracting a message's searchable text ([`extract`]: body text from `text/plain` and
//! `text/html` parts in every charset mailparse decodes, attachment names, types and sizes) and writing
//! it, in the caller's transaction, to the `message_fts` (unicode61, diacritics and case folded),
//! `message_trigram` (substrings, only for text in scripts without spaces) and `attachments` tables;
//! re-indexing every stored message (the migration to schema 2); and the readable text and attachment
//! contents that `mailsync show` prints and saves.
//!
//! Must never: fail or panic on a message's content (what cannot be decoded is indexed as far as it
//! goes, or not at all; the message is stored either way); commit (the caller's transaction holds the
//! message and its index together); index more than [`MAX_BODY_TEXT`] bytes of body text per message;
//! walk a MIME tree the header index refuses (more than `headers::MAX_MULTIPARTS` multiparts).
//!
//! RFC 2045-2047 (MIME, encoded words), RFC 2231 (parameter values), RFC 6532 (UTF-8 headers, via
//! mailparse); SQLite FTS5 (<https://sqlite.org/fts5.html>: unicode61, trigram, contentless_delete).

mod attachments;
mod body;
mod html;
mod rows;
mod scripts;

use mailparse::ParsedMail;
use rusqlite::Connection;

pub use attachments::AttachmentInfo;
pub use html::html_to_text;
pub use scripts::{fold_accents, has_unspaced, is_unspaced};

use crate::headers::{count_multipart_mentions, from_headers, index_message, HeaderIndex, MAX_MULTIPARTS};
use crate::ids::MessageId;

/// At most this many bytes of body text are indexed per message (a 1 MB log attached inline is found
/// by its first megabyte).
pub const MAX_BODY_TEXT: usize = 1 << 20;

/// At most this many bytes of body text are shown by `mailsync show`.
pub const MAX_READABLE_TEXT: usize = 64 << 20;

/// The searchable text of a message beyond its header fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexedText {
    /// Readable body text (plain text, HTML turned into text, forwarded messages).
    pub body: String,
    /// Attachments, in part order.
    pub attachments: Vec<AttachmentInfo>,
}

/// The searchable text of `raw`, with at most [`MAX_BODY_TEXT`] bytes of body text. Never fails.
pub fn extract(raw: &[u8]) -> IndexedText {
    analyze(raw).1
}

/// The readable text and attachments of `raw`, for display (at most [`MAX_READABLE_TEXT`] bytes;
/// lines end in `\n`).
pub fn readable(raw: &[u8]) -> IndexedText {
    match parse_guarded(raw) {
        Some(mail) => IndexedText {
            body: body::body_text(&mail, MAX_READABLE_TEXT, true),
            attachments: attachments::list(&mail),
        },
        None => IndexedText { body: body::fallback_text(raw, MAX_READABLE_TEXT), attachments: Vec::new() },
    }
}

/// The decoded content of attachment `part` (an [`AttachmentInfo::part`]) of `raw`.
pub fn attachment_content(raw: &[u8], part: usize) -> Option<Vec<u8>> {
    parse_guarded(raw).and_then(|mail| attachments::content(&mail, part))
}

/// The header block of `raw` as stored, through the blank line that ends it (the whole message when
/// no header block can be read).
pub fn header_block(raw: &[u8]) -> &[u8] {
    let end = match mailparse::parse_headers(raw) {
        Ok((_, offset)) => offset,
        Err(_) => raw.len(),
    };
    raw.get(..end).unwrap_or(raw)
}

/// The parsed message, unless its MIME structure is too deep to walk or cannot be parsed.
fn parse_guarded(raw: &[u8]) -> Option<ParsedMail<'_>> {
    if count_multipart_mentions(raw, MAX_MULTIPARTS + 1) > MAX_MULTIPARTS {
        return None;
    }
    mailparse::parse_mail(raw).ok()
}

impl crate::store::Store {
    /// Turns full-text indexing of newly stored messages off (or back on). For the insert benchmark,
    /// which measures what the index costs; a store without the index finds nothing by text.
    #[doc(hidden)]
    pub fn set_text_index(&mut self, on: bool) {
        self.text_index = on;
    }
}

/// The header index and the searchable text of `raw` from ONE parse of the message (storing a message
/// parses it once). The header index is exactly what `headers::index_message` gives.
pub(crate) fn analyze(raw: &[u8]) -> (HeaderIndex, IndexedText) {
    match parse_guarded(raw) {
        Some(mail) => {
            let attachments = attachments::list(&mail);
            let mut headers = from_headers(&mail.headers);
            // The same rule, over the same parts, as index_message's has_attachments.
            headers.has_attachments = !attachments.is_empty();
            (headers, IndexedText { body: body::body_text(&mail, MAX_BODY_TEXT, false), attachments })
        }
        None => (
            index_message(raw),
            IndexedText { body: body::fallback_text(raw, MAX_BODY_TEXT), attachments: Vec::new() },
        ),
    }
}

/// Writes the index rows of the newly stored message `id`. Part of the caller's transaction.
pub(crate) fn write_rows(
    conn: &Connection,
    id: MessageId,
    headers: &HeaderIndex,
    text: &IndexedText,
) -> rusqlite::Result<()> {
    rows::write(conn, id, headers, text)
}

/// Rebuilds the index of every stored message, in the caller's transaction (the migration to schema
/// version 2 runs it for stores written before the index existed). It reads `messages.raw`, where the bytes
/// were at version 2; migration 3 moves them to `message_bodies` afterwards.
pub(crate) fn reindex_all(conn: &Connection) -> rusqlite::Result<()> {
    rows::clear(conn)?;
    let mut select = conn.prepare("SELECT id, raw FROM messages ORDER BY id")?;
    let mut rows = select.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        let id: MessageId = row.get(0)?;
        let raw = row.get_ref(1)?.as_blob()?;
        let (headers, text) = analyze(raw);
        rows::write(conn, id, &headers, &text)?;
        count += 1;
    }
    tracing::info!(messages = count, "re-indexed stored messages");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_ends_at_the_blank_line() {
        assert_eq!(header_block(b"A: 1\r\nB: 2\r\n\r\nbody"), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(header_block(b"A: 1\n\nbody"), b"A: 1\n\n");
        assert_eq!(header_block(b"A: 1"), b"A: 1");
    }

    #[test]
    fn analyze_agrees_with_the_header_index_on_every_fixture() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/messages");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                let raw = std::fs::read(&path).unwrap();
                let (headers, text) = analyze(&raw);
                assert_eq!(headers, index_message(&raw), "{}", path.display());
                assert_eq!(text.attachments, readable(&raw).attachments, "{}", path.display());
                if raw.len() < MAX_BODY_TEXT {
                    assert!(text.body.replace("\r\n", "\n") == readable(&raw).body, "{}", path.display());
                }
                seen += 1;
            }
        }
        assert_eq!(seen, 24);
    }

    #[test]
    fn extract_walks_parts_or_falls_back() {
        let t = readable(b"Subject: x\r\nContent-Type: text/html\r\n\r\n<p>Hi &amp; bye</p>");
        assert_eq!((t.body.as_str(), t.attachments.len()), ("Hi & bye", 0));
        let mut deep = b"Subject: deep\r\n".to_vec();
        for i in 0..300 {
            deep.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
            );
        }
        deep.extend_from_slice(b"Content-Type: text/plain\r\n\r\nburied words\r\n");
        assert_eq!(extract(&deep).body, "buried words", "the guard's fallback keeps the text lines");
        assert_eq!(readable(&deep).body, "buried words");
    }
}
