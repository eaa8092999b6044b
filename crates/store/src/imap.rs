//! The IMAP mirror: applying a batch of server changes to a mailbox in one transaction.
//!
//! Owns: IMAP locations (`locations` rows with protocol 'imap'), the `unfetchable` table (IMAP gaps: UIDs
//! the server lists that are not stored, with the reason, the attempts and when to try again), advancing a
//! mailbox cursor together with its data, the planners' view of a mailbox (UID, flags, modseq), and the
//! UIDVALIDITY reset.
//!
//! Must never: commit a cursor without the data it describes, or data without its cursor; remove a POP3
//! location; delete a message that a location still refers to; lose a message that exists only
//! locally (a reset detaches messages instead of deleting them); accept a batch whose UIDVALIDITY
//! differs from the stored one.
//!
//! RFC 3501 sections 2.3.1.1 (UID, UIDVALIDITY), 2.3.2 (flags), 7.4.1 (EXPUNGE); RFC 7162 section 3.1
//! (MODSEQ, HIGHESTMODSEQ).

use std::collections::BTreeSet;

use mailsync_proto::types::{ModSeq, Uid, UidValidity};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Result, SqlContext, StoreError};
use crate::ids::{MailboxId, MessageId};
use crate::mailboxes::mailbox_account;
use crate::messages::{delete_orphans, find_or_insert, has_location, Stored};
use crate::outcome::BatchOutcome;
use crate::store::{now, Store};

/// One message fetched over IMAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImapMessage {
    /// Its UID in the batch's mailbox.
    pub uid: Uid,
    /// FLAGS as fetched.
    pub flags: Vec<String>,
    /// INTERNALDATE as unix seconds, when the server gave one.
    pub internaldate: Option<i64>,
    /// MODSEQ (CONDSTORE servers only).
    pub modseq: Option<ModSeq>,
    /// BODY[] exactly as the server sent it.
    pub raw: Vec<u8>,
    /// Its hash and index, computed off the writer thread ([`crate::Prepared::new`]); `None`: the store
    /// computes them.
    pub prepared: Option<crate::Prepared>,
}

/// Where a mailbox's sync stands once a batch is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxCursor {
    /// UIDVALIDITY of the UIDs in the batch.
    pub uidvalidity: UidValidity,
    /// UIDNEXT: every UID below it has been fetched, recorded unfetchable, or is gone.
    pub uidnext: Option<Uid>,
    /// HIGHESTMODSEQ: every flag change up to it has been applied (CONDSTORE servers only).
    pub highestmodseq: Option<ModSeq>,
}

/// Everything one step of an IMAP sync learned about one mailbox. Applied in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapBatch {
    /// The mailbox.
    pub mailbox: MailboxId,
    /// Newly fetched messages.
    pub new: Vec<NewImapMessage>,
    /// New flags (and modseq) for UIDs already stored.
    pub flag_updates: Vec<(Uid, Vec<String>, Option<ModSeq>)>,
    /// UIDs gone from the server.
    pub expunged: Vec<Uid>,
    /// The cursor to commit with the data, if it advances.
    pub cursor: Option<MailboxCursor>,
    /// UIDs the server lists whose message could not be stored this time, with why (gaps, retried later:
    /// see [`retry_delay`]).
    pub unfetchable: Vec<(Uid, String)>,
    /// UIDs stored earlier in this run whose copy turned out not to be the message (the server later sent
    /// a different body for the same UID): their locations go, and they should be recorded in
    /// `unfetchable` in the same batch.
    pub retracted: Vec<Uid>,
}

/// A UID the server lists whose message is not stored: why, how often it was tried, and from when it may be
/// tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapGap {
    /// The UID.
    pub uid: Uid,
    /// Why the last attempt did not store it.
    pub reason: String,
    /// Attempts so far (at least 1).
    pub attempts: u32,
    /// Unix seconds from which it is tried again (0: at the next run).
    pub retry_after: i64,
    /// When it was first found missing.
    pub seen_at: i64,
}

/// How long to wait before trying a gap again after `attempts` failed attempts: the next run after the
/// first (most gaps are transient: a message expunged meanwhile, a dropped answer, Exchange's stand-in),
/// then one hour, doubling up to a day. Shared by IMAP and POP3 gaps.
pub fn retry_delay(attempts: u32) -> i64 {
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    match attempts {
        0 | 1 => 0,
        n => HOUR.saturating_mul(1i64 << (n - 2).min(5)).min(DAY),
    }
}

impl ImapBatch {
    /// An empty batch for `mailbox`.
    pub fn new(mailbox: MailboxId) -> Self {
        ImapBatch {
            mailbox,
            new: Vec::new(),
            flag_updates: Vec::new(),
            expunged: Vec::new(),
            cursor: None,
            unfetchable: Vec::new(),
            retracted: Vec::new(),
        }
    }
}

/// What a UIDVALIDITY reset did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResetOutcome {
    /// IMAP locations dropped (all of the mailbox's).
    pub locations_dropped: u64,
    /// Messages now with no location, kept so that a re-download of the same bytes reattaches them.
    pub messages_detached: u64,
    /// Unfetchable records cleared (their UIDs are void).
    pub unfetchable_cleared: u64,
}

/// Flags as stored: split on whitespace, sorted, duplicates removed, space-separated.
pub fn normalize_flags<S: AsRef<str>>(flags: &[S]) -> String {
    let set: BTreeSet<&str> = flags.iter().flat_map(|f| f.as_ref().split_whitespace()).collect();
    set.into_iter().collect::<Vec<_>>().join(" ")
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Store {
    /// (UID, flags, modseq) of every IMAP location of `mailbox`, by UID: the planners' view of what is
    /// stored. One index range scan.
    pub fn imap_locations(&self, mailbox: MailboxId) -> Result<Vec<(Uid, String, Option<ModSeq>)>> {
        let ctx = || format!("reading imap locations of mailbox {mailbox}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT uid, flags, modseq FROM locations
                 WHERE protocol = 'imap' AND mailbox_id = ?1 ORDER BY uid",
            )
            .ctx(ctx)?;
        let mut rows = stmt.query([mailbox]).ctx(ctx)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().ctx(ctx)? {
            let uid: i64 = row.get(0).ctx(ctx)?;
            let flags: String = row.get(1).ctx(ctx)?;
            let modseq: Option<i64> = row.get(2).ctx(ctx)?;
            let corrupt = |reason: String| StoreError::CorruptRow { table: "locations", id: uid, reason };
            let uid_typed = Uid::try_from(uid).map_err(|e| corrupt(e.to_string()))?;
            let modseq = modseq.map(ModSeq::try_from).transpose().map_err(|e| corrupt(e.to_string()))?;
            out.push((uid_typed, flags, modseq));
        }
        Ok(out)
    }

    /// The message at `uid` in `mailbox`, if stored.
    pub fn imap_message(&self, mailbox: MailboxId, uid: Uid) -> Result<Option<MessageId>> {
        imap_location(&self.conn, mailbox, uid)
    }

    /// The gaps of `mailbox`: UIDs recorded as not stored, by UID.
    pub fn unfetchable(&self, mailbox: MailboxId) -> Result<Vec<ImapGap>> {
        let rows: Vec<(i64, String, i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT uid, reason, attempts, retry_after, seen_at FROM unfetchable WHERE mailbox_id = ?1
                 ORDER BY uid",
            )
            .and_then(|mut s| {
                s.query_map([mailbox], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect()
            })
            .ctx(|| format!("reading unfetchable uids of mailbox {mailbox}"))?;
        rows.into_iter()
            .map(|(uid, reason, attempts, retry_after, seen_at)| {
                let corrupt =
                    |reason: String| StoreError::CorruptRow { table: "unfetchable", id: uid, reason };
                Ok(ImapGap {
                    uid: Uid::try_from(uid).map_err(|e| corrupt(e.to_string()))?,
                    reason,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    retry_after,
                    seen_at,
                })
            })
            .collect()
    }

    /// Up to `limit` stored UIDs of `mailbox` spread over its range, with the SHA-256 of each message: the
    /// sample that tells a renamed folder (same UIDs, same messages) from a different one.
    pub fn imap_sample(&self, mailbox: MailboxId, limit: usize) -> Result<Vec<(Uid, [u8; 32])>> {
        let ctx = || format!("sampling mailbox {mailbox}");
        let all: Vec<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT l.uid, m.sha256 FROM locations l JOIN messages m ON m.id = l.message_id
                 WHERE l.protocol = 'imap' AND l.mailbox_id = ?1 ORDER BY l.uid",
            )
            .and_then(|mut s| s.query_map([mailbox], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .ctx(ctx)?;
        let step = all.len().div_ceil(limit.max(1)).max(1);
        all.into_iter()
            .step_by(step)
            .map(|(uid, hash)| {
                let corrupt = |reason: String| StoreError::CorruptRow { table: "locations", id: uid, reason };
                let uid = Uid::try_from(uid).map_err(|e| corrupt(e.to_string()))?;
                let hash: [u8; 32] = hash.try_into().map_err(|_| corrupt("sha256 is not 32 bytes".into()))?;
                Ok((uid, hash))
            })
            .collect()
    }

    /// Applies `batch` in ONE transaction: new messages (deduplicated by content; a UID already stored
    /// is left alone, so a batch re-sent after a crash changes nothing), flag updates, expunges
    /// (removing the location, and the message when no location is left), unfetchable UIDs, and the
    /// cursor. Either all of it is committed or none of it.
    pub fn apply_imap_batch(&mut self, batch: ImapBatch) -> Result<BatchOutcome> {
        let now = now();
        let mailbox = batch.mailbox;
        let text_index = self.text_index;
        let tx = self.write_tx("an imap batch")?;
        let account = mailbox_account(&tx, mailbox)?;
        if let Some(cursor) = &batch.cursor {
            let stored: Option<i64> = tx
                .prepare_cached("SELECT uidvalidity FROM mailboxes WHERE id = ?1")
                .and_then(|mut s| s.query_row([mailbox], |r| r.get(0)))
                .ctx(|| format!("reading uidvalidity of mailbox {mailbox}"))?;
            if let Some(stored) = stored {
                if stored != cursor.uidvalidity.to_i64() {
                    return Err(StoreError::UidValidityMismatch {
                        mailbox,
                        stored: u32::try_from(stored).unwrap_or(0),
                        batch: cursor.uidvalidity.get(),
                    });
                }
            }
        }

        let mut out = BatchOutcome::default();
        for msg in &batch.new {
            let uid = msg.uid;
            if imap_location(&tx, mailbox, uid)?.is_some() {
                out.unchanged += 1;
                continue;
            }
            let message = match find_or_insert(&tx, &msg.raw, msg.prepared.as_ref(), now, text_index)? {
                Stored::Inserted(id) => {
                    out.stored += 1;
                    out.bytes += count(msg.raw.len());
                    id
                }
                Stored::Existing(id) => {
                    out.deduplicated += 1;
                    if !has_location(&tx, id)? {
                        out.reattached += 1;
                    }
                    id
                }
            };
            tx.prepare_cached(
                "INSERT INTO locations (message_id, account_id, protocol, mailbox_id, uid, flags, internaldate,
                     modseq, first_seen_at)
                 VALUES (?1, ?2, 'imap', ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    message,
                    account,
                    mailbox,
                    uid.to_i64(),
                    normalize_flags(&msg.flags),
                    msg.internaldate,
                    msg.modseq.map(ModSeq::to_i64),
                    now,
                ])
            })
            .ctx(|| format!("inserting uid {uid} into mailbox {mailbox}"))?;
            // A UID that finally fetched is no longer unfetchable.
            delete_unfetchable(&tx, mailbox, uid)?;
            out.new += 1;
        }

        for (uid, flags, modseq) in &batch.flag_updates {
            let n = tx
                .prepare_cached(
                    "UPDATE locations SET flags = ?3, modseq = coalesce(?4, modseq)
                     WHERE protocol = 'imap' AND mailbox_id = ?1 AND uid = ?2
                       AND (flags IS NOT ?3 OR (?4 IS NOT NULL AND modseq IS NOT ?4))",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        mailbox,
                        uid.to_i64(),
                        normalize_flags(flags),
                        modseq.map(ModSeq::to_i64)
                    ])
                })
                .ctx(|| format!("updating flags of uid {uid} in mailbox {mailbox}"))?;
            out.updated += count(n);
        }

        let mut orphans = Vec::new();
        for uid in &batch.expunged {
            let gone: Option<MessageId> = tx
                .prepare_cached(
                    "DELETE FROM locations WHERE protocol = 'imap' AND mailbox_id = ?1 AND uid = ?2
                     RETURNING message_id",
                )
                .and_then(|mut s| s.query_row(params![mailbox, uid.to_i64()], |r| r.get(0)).optional())
                .ctx(|| format!("expunging uid {uid} from mailbox {mailbox}"))?;
            if let Some(message) = gone {
                out.removed += 1;
                orphans.push(message);
            }
            delete_unfetchable(&tx, mailbox, *uid)?;
        }
        out.messages_deleted = delete_orphans(&tx, &mut orphans)?;

        let mut orphans = Vec::new();
        for uid in &batch.retracted {
            let gone: Option<MessageId> = tx
                .prepare_cached(
                    "DELETE FROM locations WHERE protocol = 'imap' AND mailbox_id = ?1 AND uid = ?2
                     RETURNING message_id",
                )
                .and_then(|mut s| s.query_row(params![mailbox, uid.to_i64()], |r| r.get(0)).optional())
                .ctx(|| format!("retracting uid {uid} from mailbox {mailbox}"))?;
            if let Some(message) = gone {
                out.retracted += 1;
                orphans.push(message);
            }
        }
        out.messages_deleted += delete_orphans(&tx, &mut orphans)?;

        for (uid, reason) in &batch.unfetchable {
            let attempts: u32 = tx
                .prepare_cached(
                    "INSERT INTO unfetchable (mailbox_id, uid, reason, seen_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (mailbox_id, uid) DO UPDATE SET reason = excluded.reason, attempts = attempts + 1
                     RETURNING attempts",
                )
                .and_then(|mut s| s.query_row(params![mailbox, uid.to_i64(), reason, now], |r| r.get(0)))
                .ctx(|| format!("recording unfetchable uid {uid} in mailbox {mailbox}"))?;
            tx.prepare_cached("UPDATE unfetchable SET retry_after = ?3 WHERE mailbox_id = ?1 AND uid = ?2")
                .and_then(|mut s| {
                    s.execute(params![mailbox, uid.to_i64(), now.saturating_add(retry_delay(attempts))])
                })
                .ctx(|| format!("scheduling unfetchable uid {uid} in mailbox {mailbox}"))?;
            out.unfetchable += 1;
        }

        if let Some(cursor) = &batch.cursor {
            tx.prepare_cached(
                "UPDATE mailboxes SET uidvalidity = ?2, uidnext = ?3, highestmodseq = ?4, last_sync_at = ?5
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    mailbox,
                    cursor.uidvalidity.to_i64(),
                    cursor.uidnext.map(Uid::to_i64),
                    cursor.highestmodseq.map(ModSeq::to_i64),
                    now,
                ])
            })
            .ctx(|| format!("advancing the cursor of mailbox {mailbox}"))?;
        }
        tx.commit().ctx(|| format!("committing an imap batch for mailbox {mailbox}"))?;
        tracing::debug!(mailbox = %mailbox, ?out, "applied imap batch");
        Ok(out)
    }

    /// Starts `mailbox` over under a new UIDVALIDITY (RFC 3501 section 2.3.1.1: every stored UID is
    /// void). Drops the mailbox's IMAP locations and unfetchable records and sets the cursor to
    /// (`new`, no UIDNEXT, no HIGHESTMODSEQ), in one transaction. Messages left with no location are
    /// kept, still findable by SHA-256 and Message-ID, so re-downloading the same bytes reattaches them
    /// instead of storing duplicates, and nothing that exists only locally is lost.
    pub fn reset_mailbox_for_uidvalidity(
        &mut self,
        mailbox: MailboxId,
        new: UidValidity,
    ) -> Result<ResetOutcome> {
        let tx = self.write_tx("a uidvalidity reset")?;
        mailbox_account(&tx, mailbox)?;
        let mut affected: Vec<MessageId> = tx
            .prepare_cached(
                "DELETE FROM locations WHERE protocol = 'imap' AND mailbox_id = ?1 RETURNING message_id",
            )
            .and_then(|mut s| s.query_map([mailbox], |r| r.get(0))?.collect())
            .ctx(|| format!("dropping imap locations of mailbox {mailbox}"))?;
        let mut out = ResetOutcome { locations_dropped: count(affected.len()), ..ResetOutcome::default() };
        affected.sort_unstable();
        affected.dedup();
        for &message in &affected {
            if !has_location(&tx, message)? {
                out.messages_detached += 1;
            }
        }
        let cleared = tx
            .prepare_cached("DELETE FROM unfetchable WHERE mailbox_id = ?1")
            .and_then(|mut s| s.execute([mailbox]))
            .ctx(|| format!("clearing unfetchable uids of mailbox {mailbox}"))?;
        out.unfetchable_cleared = count(cleared);
        tx.prepare_cached(
            "UPDATE mailboxes SET uidvalidity = ?2, uidnext = NULL, highestmodseq = NULL WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![mailbox, new.to_i64()]))
        .ctx(|| format!("resetting the cursor of mailbox {mailbox}"))?;
        tx.commit().ctx(|| format!("committing the uidvalidity reset of mailbox {mailbox}"))?;
        tracing::info!(mailbox = %mailbox, uidvalidity = %new, ?out, "reset mailbox for new uidvalidity");
        Ok(out)
    }
}

/// The message at (`mailbox`, `uid`), if any.
fn imap_location(conn: &Connection, mailbox: MailboxId, uid: Uid) -> Result<Option<MessageId>> {
    conn.prepare_cached(
        "SELECT message_id FROM locations WHERE protocol = 'imap' AND mailbox_id = ?1 AND uid = ?2",
    )
    .and_then(|mut s| s.query_row(params![mailbox, uid.to_i64()], |r| r.get(0)).optional())
    .ctx(|| format!("looking up uid {uid} in mailbox {mailbox}"))
}

fn delete_unfetchable(conn: &Connection, mailbox: MailboxId, uid: Uid) -> Result<()> {
    conn.prepare_cached("DELETE FROM unfetchable WHERE mailbox_id = ?1 AND uid = ?2")
        .and_then(|mut s| s.execute(params![mailbox, uid.to_i64()]))
        .ctx(|| format!("clearing unfetchable uid {uid} in mailbox {mailbox}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_sorted_and_deduplicated() {
        assert_eq!(
            normalize_flags(&["\\Seen", "$Label1", "\\Answered", "\\Seen"]),
            "$Label1 \\Answered \\Seen"
        );
        assert_eq!(normalize_flags::<&str>(&[]), "");
        assert_eq!(normalize_flags(&["a b", " ", "c"]), "a b c");
    }

    #[test]
    fn planner_query_uses_the_partial_index() {
        let store = Store::open_in_memory().unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT uid, flags, modseq FROM locations
                 WHERE protocol = 'imap' AND mailbox_id = ?1 ORDER BY uid",
            )
            .unwrap()
            .query_map([1], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(plan, vec!["SEARCH locations USING INDEX locations_imap (mailbox_id=?)"]);
    }

    #[test]
    fn lookups_use_indexes() {
        let store = Store::open_in_memory().unwrap();
        let plan = |sql: &str| -> String {
            store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join("; ")
        };
        assert!(
            plan("SELECT id FROM messages WHERE sha256 = x'00'").contains("INDEX sqlite_autoindex_messages"),
            "{}",
            plan("SELECT id FROM messages WHERE sha256 = x'00'")
        );
        assert!(plan("SELECT id FROM messages WHERE message_id = 'a'").contains("messages_by_message_id"));
        assert!(plan("SELECT 1 FROM locations WHERE message_id = 1").contains("locations_by_message"));
        assert!(plan("SELECT 1 FROM locations WHERE protocol = 'pop3' AND account_id = 1 AND uidl = 'x'")
            .contains("locations_pop3"));
    }
}
