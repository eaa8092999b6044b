//! Writing a message's index rows: `message_fts`, `message_trigram` and `attachments`.
//!
//! Owns: the INSERT statements of the index (removal is the `messages_unindex` trigger of
//! migrations/0002_search_index.sql, so that every way a message is deleted unindexes it).
//!
//! Must never: commit, or write a trigram row for a message without text in a script written without
//! spaces (that table is kept small on purpose).
//!
//! SQLite FTS5 sections 4.1 (contentless tables, contentless_delete) and 4.3.5 (trigram).

use rusqlite::{params, Connection};

use super::scripts::{fold_accents, has_unspaced};
use super::IndexedText;
use crate::headers::HeaderIndex;
use crate::ids::MessageId;

/// Writes the index rows of message `id`.
pub(super) fn write(
    conn: &Connection,
    id: MessageId,
    headers: &HeaderIndex,
    text: &IndexedText,
) -> rusqlite::Result<()> {
    let names: Vec<&str> = text.attachments.iter().filter_map(|a| a.name.as_deref()).collect();
    let names = names.join("\n");
    let columns = [
        headers.subject.as_deref().unwrap_or_default(),
        headers.from.as_deref().unwrap_or_default(),
        headers.to.as_deref().unwrap_or_default(),
        headers.cc.as_deref().unwrap_or_default(),
        text.body.as_str(),
        names.as_str(),
    ];
    let folded = columns.map(fold_accents);
    conn.prepare_cached(
        "INSERT INTO message_fts (rowid, subject, from_addr, to_addrs, cc_addrs, body, attachments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, folded[0], folded[1], folded[2], folded[3], folded[4], folded[5]])?;
    if columns.iter().any(|c| has_unspaced(c)) {
        conn.prepare_cached(
            "INSERT INTO message_trigram (rowid, subject, from_addr, to_addrs, cc_addrs, body, attachments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![id, columns[0], columns[1], columns[2], columns[3], columns[4], columns[5]])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO attachments (message_id, part, name, mime_type, size) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for a in &text.attachments {
        let part = i64::try_from(a.part).unwrap_or(i64::MAX);
        let size = i64::try_from(a.size).unwrap_or(i64::MAX);
        insert.execute(params![id, part, a.name, a.mime_type, size])?;
    }
    Ok(())
}

/// Empties the index tables (before a full re-index).
pub(super) fn clear(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "INSERT INTO message_fts (message_fts) VALUES ('delete-all');
         DELETE FROM message_trigram;
         DELETE FROM attachments;",
    )
}
