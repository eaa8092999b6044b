//! POP3 downloads: which UIDLs of an account are stored, storing new ones, and recording deletions.
//!
//! Owns: POP3 locations (`locations` rows with protocol 'pop3'), keyed by (account, UIDL), and POP3 gaps
//! (`pop3_gaps`: listed messages that were not stored, with the reason, retried later).
//!
//! Must never: remove a POP3 location (the local copy is the point of POP3; a deletion on the server
//! only sets `deleted_on_server_at`); store a location before its message bytes are in the same
//! transaction; mark a message deleted on the server before the caller has committed its download.
//!
//! RFC 1939 section 7 (UIDL), section 6 (DELE takes effect at QUIT, in the UPDATE state).

use std::collections::HashMap;

use mailsync_proto::types::Uidl;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Result, SqlContext, StoreError};
use crate::ids::{AccountId, MessageId};
use crate::messages::{find_or_insert, has_location, Stored};
use crate::outcome::BatchOutcome;
use crate::store::{now, Store};

/// One message downloaded with RETR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPop3Message {
    /// Its UIDL (for servers without UIDL the engine derives one, e.g. from the content hash).
    pub uidl: Uidl,
    /// The message exactly as received, with dot-stuffing and the final "." line removed.
    pub raw: Vec<u8>,
    /// Its hash and index, computed off the writer thread ([`crate::Prepared::new`]); `None`: the store
    /// computes them.
    pub prepared: Option<crate::Prepared>,
}

/// Messages downloaded in one step of a POP3 sync. Applied in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pop3Batch {
    /// Newly downloaded messages.
    pub new: Vec<NewPop3Message>,
    /// Listed messages that were not stored this time, by the identity the download used, with why
    /// (retried later: see [`crate::retry_delay`]).
    pub gaps: Vec<(Uidl, String)>,
}

/// A listed POP3 message that is not stored: why, how often it was tried, and when it is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Gap {
    /// The identity the download used (the UIDL, or a content identity).
    pub uidl: Uidl,
    /// Why the last attempt did not store it.
    pub reason: String,
    /// Attempts so far (at least 1).
    pub attempts: u32,
    /// Unix seconds from which it is tried again (0: at the next run).
    pub retry_after: i64,
}

/// A stored POP3 location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pop3LocationRow {
    /// The stored message.
    pub message: MessageId,
    /// When the UIDL was first stored (unix seconds).
    pub first_seen_at: i64,
    /// When the download was committed.
    pub downloaded_at: Option<i64>,
    /// When the message was deleted on the server; `None` while it is still there.
    pub deleted_on_server_at: Option<i64>,
}

impl Store {
    /// Every UIDL of `account` that is stored, with its location.
    pub fn pop3_known_uidls(&self, account: AccountId) -> Result<HashMap<Uidl, Pop3LocationRow>> {
        let mut out = HashMap::new();
        self.for_each_pop3_location(account, |uidl, row| {
            out.insert(uidl, row);
        })?;
        Ok(out)
    }

    /// Hands every stored UIDL of `account`, with its location, to `f` (so that a caller builds the
    /// collection it needs without a copy of this one).
    pub fn for_each_pop3_location(
        &self,
        account: AccountId,
        mut f: impl FnMut(Uidl, Pop3LocationRow),
    ) -> Result<()> {
        let ctx = || format!("reading pop3 uidls of account {account}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, uidl, message_id, first_seen_at, downloaded_at, deleted_on_server_at
                 FROM locations WHERE protocol = 'pop3' AND account_id = ?1",
            )
            .ctx(ctx)?;
        let mut rows = stmt.query([account]).ctx(ctx)?;
        while let Some(row) = rows.next().ctx(ctx)? {
            let id: i64 = row.get(0).ctx(ctx)?;
            let uidl: String = row.get(1).ctx(ctx)?;
            let uidl = Uidl::new(uidl).map_err(|e| StoreError::CorruptRow {
                table: "locations",
                id,
                reason: e.to_string(),
            })?;
            let location = Pop3LocationRow {
                message: row.get(2).ctx(ctx)?,
                first_seen_at: row.get(3).ctx(ctx)?,
                downloaded_at: row.get(4).ctx(ctx)?,
                deleted_on_server_at: row.get(5).ctx(ctx)?,
            };
            f(uidl, location);
        }
        Ok(())
    }

    /// Stores newly downloaded messages of `account` in ONE transaction. Bytes already stored (over
    /// IMAP, or under another UIDL) only gain a location; a UIDL already stored is left alone.
    pub fn apply_pop3_batch(&mut self, account: AccountId, batch: Pop3Batch) -> Result<BatchOutcome> {
        let now = now();
        let text_index = self.text_index;
        let tx = self.write_tx("a pop3 batch")?;
        Store::check_account(&tx, account)?;
        let mut out = BatchOutcome::default();
        for msg in &batch.new {
            let uidl = &msg.uidl;
            if pop3_location(&tx, account, uidl)?.is_some() {
                out.unchanged += 1;
                continue;
            }
            let message = match find_or_insert(&tx, &msg.raw, msg.prepared.as_ref(), now, text_index)? {
                Stored::Inserted(id) => {
                    out.stored += 1;
                    out.bytes += u64::try_from(msg.raw.len()).unwrap_or(u64::MAX);
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
                "INSERT INTO locations (message_id, account_id, protocol, uidl, first_seen_at, downloaded_at)
                 VALUES (?1, ?2, 'pop3', ?3, ?4, ?4)",
            )
            .and_then(|mut s| s.execute(params![message, account, uidl.as_str(), now]))
            .ctx(|| format!("inserting pop3 uidl {uidl} for account {account}"))?;
            tx.prepare_cached("DELETE FROM pop3_gaps WHERE account_id = ?1 AND uidl = ?2")
                .and_then(|mut s| s.execute(params![account, uidl.as_str()]))
                .ctx(|| format!("clearing the gap of pop3 uidl {uidl} for account {account}"))?;
            out.new += 1;
        }
        for (uidl, reason) in &batch.gaps {
            let attempts: u32 = tx
                .prepare_cached(
                    "INSERT INTO pop3_gaps (account_id, uidl, reason, first_seen_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (account_id, uidl) DO UPDATE SET reason = excluded.reason, attempts = attempts + 1
                     RETURNING attempts",
                )
                .and_then(|mut s| s.query_row(params![account, uidl.as_str(), reason, now], |r| r.get(0)))
                .ctx(|| format!("recording the gap of pop3 uidl {uidl} for account {account}"))?;
            tx.prepare_cached("UPDATE pop3_gaps SET retry_after = ?3 WHERE account_id = ?1 AND uidl = ?2")
                .and_then(|mut s| {
                    s.execute(params![
                        account,
                        uidl.as_str(),
                        now.saturating_add(crate::retry_delay(attempts))
                    ])
                })
                .ctx(|| format!("scheduling the gap of pop3 uidl {uidl} for account {account}"))?;
            out.unfetchable += 1;
        }
        tx.commit().ctx(|| format!("committing a pop3 batch for account {account}"))?;
        tracing::debug!(account = %account, ?out, "applied pop3 batch");
        Ok(out)
    }

    /// The POP3 gaps of `account`.
    pub fn pop3_gaps(&self, account: AccountId) -> Result<Vec<Pop3Gap>> {
        let rows: Vec<(String, String, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT uidl, reason, attempts, retry_after FROM pop3_gaps WHERE account_id = ?1 ORDER BY uidl",
            )
            .and_then(|mut s| s.query_map([account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
            .ctx(|| format!("reading pop3 gaps of account {account}"))?;
        rows.into_iter()
            .map(|(uidl, reason, attempts, retry_after)| {
                let uidl = Uidl::new(uidl).map_err(|e| StoreError::CorruptRow {
                    table: "pop3_gaps",
                    id: account.get(),
                    reason: e.to_string(),
                })?;
                Ok(Pop3Gap {
                    uidl,
                    reason,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    retry_after,
                })
            })
            .collect()
    }

    /// Records that `uidls` of `account` were deleted on the server at `at` (after DELE and QUIT).
    /// UIDLs not stored, or already marked, are skipped. Returns how many were marked.
    pub fn mark_pop3_deleted(&mut self, account: AccountId, uidls: &[Uidl], at: i64) -> Result<u64> {
        let tx = self.write_tx("marking pop3 deletions")?;
        Store::check_account(&tx, account)?;
        let mut marked = 0;
        for uidl in uidls {
            let n = tx
                .prepare_cached(
                    "UPDATE locations SET deleted_on_server_at = ?3
                     WHERE protocol = 'pop3' AND account_id = ?1 AND uidl = ?2 AND deleted_on_server_at IS NULL",
                )
                .and_then(|mut s| s.execute(params![account, uidl.as_str(), at]))
                .ctx(|| format!("marking pop3 uidl {uidl} of account {account} deleted"))?;
            marked += u64::try_from(n).unwrap_or(0);
        }
        tx.commit().ctx(|| format!("committing pop3 deletions for account {account}"))?;
        Ok(marked)
    }
}

fn pop3_location(conn: &Connection, account: AccountId, uidl: &Uidl) -> Result<Option<MessageId>> {
    conn.prepare_cached(
        "SELECT message_id FROM locations WHERE protocol = 'pop3' AND account_id = ?1 AND uidl = ?2",
    )
    .and_then(|mut s| s.query_row(params![account, uidl.as_str()], |r| r.get(0)).optional())
    .ctx(|| format!("looking up pop3 uidl {uidl} of account {account}"))
}
