//! Distinct messages: content addressing by SHA-256, the raw bytes, and the indexed header row.
//!
//! Owns: the `messages` table. Storing a message once per distinct content (find or insert by
//! SHA-256), deleting a message that no location refers to any more, and reading a message back
//! (`raw` byte for byte, or its indexed fields).
//!
//! Must never: alter raw bytes (no line-ending or charset conversion, no trimming); drop a message
//! because its headers cannot be parsed; delete a message that still has a location.

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::error::{Result, SqlContext, StoreError};
use crate::headers::{index_message, HeaderIndex};
use crate::ids::MessageId;
use crate::store::Store;

/// The content key of a message: SHA-256 of its raw bytes.
pub fn content_hash(raw: &[u8]) -> [u8; 32] {
    Sha256::digest(raw).into()
}

/// The indexed fields of a stored message (everything but the raw bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// The message.
    pub id: MessageId,
    /// SHA-256 of the raw bytes.
    pub sha256: [u8; 32],
    /// Length of the raw bytes.
    pub size: u64,
    /// The header fields indexed when it was stored.
    pub headers: HeaderIndex,
    /// When the message was first stored (unix seconds).
    pub created_at: i64,
}

impl MessageRow {
    /// The SHA-256 as lowercase hex, as `--json` output shows it.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// What [`find_or_insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// The bytes were already stored under this id.
    Existing(MessageId),
    /// The bytes are new and now stored under this id.
    Inserted(MessageId),
}

/// Finds the message with these bytes, or indexes and inserts it. Part of the caller's transaction,
/// which also gets the message's full-text index rows when `text_index` is on (it always is, except
/// in the insert benchmark that measures what the index costs).
/// A message made ready for the store away from the writer: its hash, header index and searchable text, from
/// one parse. The sync engine prepares messages on the network side, so that the single store writer only
/// does SQLite work while the next messages arrive.
#[derive(Debug, Clone)]
pub struct Prepared {
    hash: [u8; 32],
    len: usize,
    index: HeaderIndex,
    text: crate::index::IndexedText,
}

/// Two preparations are equal when they were made from the same bytes.
impl PartialEq for Prepared {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.len == other.len
    }
}
impl Eq for Prepared {}

impl Prepared {
    /// Hashes and analyses `raw` (never fails: what cannot be parsed is noted in the index).
    pub fn new(raw: &[u8]) -> Prepared {
        let (index, text) = crate::index::analyze(raw);
        Prepared { hash: content_hash(raw), len: raw.len(), index, text }
    }

    /// The SHA-256 of the bytes it was made from.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The header fields of the message it was made from.
    pub fn headers(&self) -> &HeaderIndex {
        &self.index
    }
}

pub(crate) fn find_or_insert(
    conn: &Connection,
    raw: &[u8],
    prepared: Option<&Prepared>,
    now: i64,
    text_index: bool,
) -> Result<Stored> {
    // A preparation made from other bytes (a caller's mistake) is ignored rather than trusted.
    let prepared = prepared.filter(|p| p.len == raw.len());
    let hash = prepared.map_or_else(|| content_hash(raw), |p| p.hash);
    let existing = conn
        .prepare_cached("SELECT id FROM messages WHERE sha256 = ?1")
        .and_then(|mut s| s.query_row([&hash[..]], |r| r.get::<_, MessageId>(0)).optional())
        .ctx(|| format!("looking up message sha256 {}", hex::encode(hash)))?;
    if let Some(id) = existing {
        return Ok(Stored::Existing(id));
    }
    // One parse gives the header index and, when the full-text index is on, the text to index.
    let (ix, text) = match (prepared, text_index) {
        (Some(p), true) => (p.index.clone(), Some(p.text.clone())),
        (Some(p), false) => (p.index.clone(), None),
        (None, true) => {
            let (ix, text) = crate::index::analyze(raw);
            (ix, Some(text))
        }
        (None, false) => (index_message(raw), None),
    };
    if let Some(why) = &ix.parse_error {
        tracing::debug!(sha256 = %hex::encode(hash), error = %why, "storing message with incomplete index");
    }
    let size = i64::try_from(raw.len()).unwrap_or(i64::MAX);
    // A plain INSERT, then the rowid: `INSERT ... RETURNING` runs under a statement journal, and every
    // statement journal makes FTS5 flush its pending terms to a new segment (its xSavepoint), so that
    // each message became a segment of its own, merged again and again (a sixth of the writer's time).
    let id = conn
        .prepare_cached(
            "INSERT INTO messages (sha256, size, message_id, date, date_header, from_addr, to_addrs, cc_addrs,
                 subject, in_reply_to, references_, has_attachments, parse_error, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .and_then(|mut s| {
            s.execute(
                params![
                    &hash[..],
                    size,
                    ix.message_id,
                    ix.date,
                    ix.date_header,
                    ix.from,
                    ix.to,
                    ix.cc,
                    ix.subject,
                    ix.in_reply_to,
                    ix.references,
                    ix.has_attachments,
                    ix.parse_error,
                    now,
                ],
            )
        })
        .map(|_| MessageId::new(conn.last_insert_rowid()))
        .ctx(|| format!("inserting message sha256 {} ({} bytes)", hex::encode(hash), raw.len()))?;
    // The bytes live in their own table, so that scans of message metadata never read them.
    conn.prepare_cached("INSERT INTO message_bodies (message_id, raw) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![id, raw]))
        .ctx(|| format!("storing the bytes of message {id} ({} bytes)", raw.len()))?;
    if let Some(text) = &text {
        crate::index::write_rows(conn, id, &ix, text).ctx(|| format!("indexing message {id}"))?;
    }
    Ok(Stored::Inserted(id))
}

/// Whether any location still refers to `id`.
pub(crate) fn has_location(conn: &Connection, id: MessageId) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM locations WHERE message_id = ?1)")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .ctx(|| format!("checking locations of message {id}"))
}

/// Deletes `id` if no location refers to it any more. Returns whether it was deleted.
pub(crate) fn delete_if_orphan(conn: &Connection, id: MessageId) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM locations WHERE message_id = ?1)",
        )
        .and_then(|mut s| s.execute([id]))
        .ctx(|| format!("deleting orphaned message {id}"))?;
    Ok(n > 0)
}

/// Deletes each message of `ids` (duplicates allowed) that no location refers to. Returns how many.
pub(crate) fn delete_orphans(conn: &Connection, ids: &mut Vec<MessageId>) -> Result<u64> {
    ids.sort_unstable();
    ids.dedup();
    let mut deleted = 0;
    for &id in ids.iter() {
        if delete_if_orphan(conn, id)? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

impl Store {
    /// The raw bytes of a message, exactly as stored.
    pub fn raw(&self, id: MessageId) -> Result<Vec<u8>> {
        self.conn
            .prepare_cached("SELECT raw FROM message_bodies WHERE message_id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get::<_, Vec<u8>>(0)).optional())
            .ctx(|| format!("reading raw message {id}"))?
            .ok_or(StoreError::UnknownMessage(id))
    }

    /// The indexed fields of a message.
    pub fn message(&self, id: MessageId) -> Result<MessageRow> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, sha256, size, message_id, date, date_header, from_addr, to_addrs, cc_addrs, subject,
                        in_reply_to, references_, has_attachments, parse_error, created_at
                 FROM messages WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        MessageRow {
                            id: r.get(0)?,
                            sha256: [0; 32],
                            size: 0,
                            headers: HeaderIndex {
                                message_id: r.get(3)?,
                                date: r.get(4)?,
                                date_header: r.get(5)?,
                                from: r.get(6)?,
                                to: r.get(7)?,
                                cc: r.get(8)?,
                                subject: r.get(9)?,
                                in_reply_to: r.get(10)?,
                                references: r.get(11)?,
                                has_attachments: r.get(12)?,
                                parse_error: r.get(13)?,
                            },
                            created_at: r.get(14)?,
                        },
                    ))
                })
                .optional()
            })
            .ctx(|| format!("reading message {id}"))?;
        let (hash, size, mut row) = row.ok_or(StoreError::UnknownMessage(id))?;
        let corrupt = |reason: String| StoreError::CorruptRow { table: "messages", id: id.get(), reason };
        row.sha256 = <[u8; 32]>::try_from(hash.as_slice())
            .map_err(|_| corrupt(format!("sha256 has {} bytes", hash.len())))?;
        row.size = u64::try_from(size).map_err(|_| corrupt(format!("negative size {size}")))?;
        Ok(row)
    }

    /// The message stored with exactly these bytes, if any.
    pub fn find_by_hash(&self, sha256: &[u8; 32]) -> Result<Option<MessageId>> {
        self.conn
            .prepare_cached("SELECT id FROM messages WHERE sha256 = ?1")
            .and_then(|mut s| s.query_row([&sha256[..]], |r| r.get(0)).optional())
            .ctx(|| format!("looking up message sha256 {}", hex::encode(sha256)))
    }

    /// Messages with this Message-ID (without angle brackets), oldest first; when `sha256` is given,
    /// only the one with exactly those bytes. For POP3 servers without UIDL: is this message (seen
    /// through TOP, or downloaded) already stored?
    pub fn find_by_message_id_and_hash(
        &self,
        message_id: &str,
        sha256: Option<&[u8; 32]>,
    ) -> Result<Vec<MessageId>> {
        let message_id = message_id.trim().trim_start_matches('<').trim_end_matches('>');
        let ctx = || format!("looking up message-id {message_id:?}");
        match sha256 {
            Some(hash) => self
                .conn
                .prepare_cached("SELECT id FROM messages WHERE message_id = ?1 AND sha256 = ?2")
                .and_then(|mut s| {
                    s.query_map(params![message_id, &hash[..]], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()
                })
                .ctx(ctx),
            None => self
                .conn
                .prepare_cached("SELECT id FROM messages WHERE message_id = ?1 ORDER BY id")
                .and_then(|mut s| s.query_map([message_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>())
                .ctx(ctx),
        }
    }

    /// Messages that no location refers to: kept after a UIDVALIDITY reset until a re-download
    /// reattaches them. Oldest first.
    pub fn detached_messages(&self) -> Result<Vec<MessageId>> {
        self.conn
            .prepare_cached(
                "SELECT id FROM messages m WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.message_id = m.id)
                 ORDER BY id",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>())
            .ctx(|| "listing detached messages")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_sha256() {
        assert_eq!(
            hex::encode(content_hash(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn insert_then_find_dedupes_by_content() {
        let store = Store::open_in_memory().unwrap();
        let a = find_or_insert(&store.conn, b"Subject: a\r\n\r\nx", None, 1, true).unwrap();
        let Stored::Inserted(id) = a else { panic!("{a:?}") };
        assert_eq!(
            find_or_insert(&store.conn, b"Subject: a\r\n\r\nx", None, 2, true).unwrap(),
            Stored::Existing(id)
        );
        assert!(matches!(
            find_or_insert(&store.conn, b"Subject: a\r\n\r\ny", None, 2, true).unwrap(),
            Stored::Inserted(_)
        ));
        assert_eq!(store.find_by_hash(&content_hash(b"Subject: a\r\n\r\nx")).unwrap(), Some(id));
        let row = store.message(id).unwrap();
        assert_eq!((row.size, row.headers.subject.as_deref(), row.created_at), (15, Some("a"), 1));
        assert_eq!(row.sha256, content_hash(b"Subject: a\r\n\r\nx"));
        assert!(delete_if_orphan(&store.conn, id).unwrap());
        assert!(matches!(store.raw(id), Err(StoreError::UnknownMessage(m)) if m == id));
    }
}
