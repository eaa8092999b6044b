//! IMAP mailboxes of an account and their sync cursors.
//!
//! Owns: the `mailboxes` table: creating or updating a mailbox from LIST data, renaming, deleting
//! (with its IMAP locations and the messages left with no location), and reading mailboxes back with
//! their cursor (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, last sync).
//!
//! Must never: write the cursor outside the transaction of the data it describes (that is
//! `apply_imap_batch`'s job); remove POP3 locations; hand out a stored protocol number without checking
//! its range.
//!
//! RFC 3501 section 6.3.8 (LIST: name, delimiter, attributes), section 2.3.1.1 (UIDVALIDITY, UIDNEXT);
//! RFC 6154 (special-use attributes); RFC 7162 section 3.1.2.1 (HIGHESTMODSEQ).

use mailsync_proto::types::{ModSeq, Uid, UidValidity};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Result, SqlContext, StoreError};
use crate::ids::{AccountId, MailboxId, MessageId};
use crate::messages::delete_orphans;
use crate::store::Store;

/// A mailbox as LIST describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Decoded UTF-8 name (not modified UTF-7), e.g. "Archive/2024".
    pub name: String,
    /// Hierarchy delimiter; `None` for a flat namespace (LIST returned NIL).
    pub delimiter: Option<char>,
    /// LIST attributes, e.g. `\HasNoChildren`.
    pub attributes: Vec<String>,
    /// RFC 6154 special use, e.g. `\Sent`.
    pub special_use: Option<String>,
}

/// A stored mailbox with its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRow {
    /// The mailbox.
    pub id: MailboxId,
    /// Its account.
    pub account: AccountId,
    /// Decoded UTF-8 name.
    pub name: String,
    /// Hierarchy delimiter.
    pub delimiter: Option<char>,
    /// LIST attributes.
    pub attributes: Vec<String>,
    /// RFC 6154 special use.
    pub special_use: Option<String>,
    /// UIDVALIDITY the stored UIDs belong to; `None` before the first sync.
    pub uidvalidity: Option<UidValidity>,
    /// UIDNEXT as of the last committed batch.
    pub uidnext: Option<Uid>,
    /// HIGHESTMODSEQ as of the last committed batch (CONDSTORE servers only).
    pub highestmodseq: Option<ModSeq>,
    /// When the cursor last advanced (unix seconds).
    pub last_sync_at: Option<i64>,
}

/// Joins atoms with single spaces, after splitting any that contain whitespace.
pub(crate) fn join_atoms<'a>(atoms: impl IntoIterator<Item = &'a String>) -> String {
    atoms.into_iter().flat_map(|a| a.split_whitespace()).collect::<Vec<_>>().join(" ")
}

impl Store {
    /// Every mailbox of `account`, by name, with its cursor.
    pub fn mailboxes(&self, account: AccountId) -> Result<Vec<MailboxRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, delimiter, attributes, special_use, uidvalidity, uidnext, highestmodseq,
                        last_sync_at
                 FROM mailboxes WHERE account_id = ?1 ORDER BY name",
            )
            .ctx(|| format!("listing mailboxes of account {account}"))?;
        let rows = stmt
            .query_map([account], |r| {
                Ok(RawMailbox {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    delimiter: r.get(2)?,
                    attributes: r.get(3)?,
                    special_use: r.get(4)?,
                    uidvalidity: r.get(5)?,
                    uidnext: r.get(6)?,
                    highestmodseq: r.get(7)?,
                    last_sync_at: r.get(8)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .ctx(|| format!("listing mailboxes of account {account}"))?;
        rows.into_iter().map(|raw| raw.check(account)).collect()
    }

    /// The mailbox `id` with its cursor.
    pub fn mailbox(&self, id: MailboxId) -> Result<MailboxRow> {
        let account = mailbox_account(&self.conn, id)?;
        self.mailboxes(account)?.into_iter().find(|m| m.id == id).ok_or(StoreError::UnknownMailbox(id))
    }

    /// Creates the mailbox `info.name` of `account`, or updates its delimiter, attributes and special
    /// use. The cursor of an existing mailbox is kept.
    pub fn upsert_mailbox(&mut self, account: AccountId, info: &MailboxInfo) -> Result<MailboxId> {
        let tx = self.write_tx("upserting a mailbox")?;
        Store::check_account(&tx, account)?;
        let delimiter = info.delimiter.map(String::from);
        let id = tx
            .prepare_cached(
                "INSERT INTO mailboxes (account_id, name, delimiter, attributes, special_use)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id, name) DO UPDATE SET
                     delimiter = excluded.delimiter,
                     attributes = excluded.attributes,
                     special_use = excluded.special_use
                 RETURNING id",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![account, info.name, delimiter, join_atoms(&info.attributes), info.special_use],
                    |r| r.get(0),
                )
            })
            .ctx(|| format!("upserting mailbox {:?} of account {account}", info.name))?;
        tx.commit().ctx(|| format!("committing mailbox {:?}", info.name))?;
        Ok(id)
    }

    /// Renames a mailbox (after a server-side RENAME); its locations and cursor stay with it.
    pub fn rename_mailbox(&mut self, id: MailboxId, new_name: &str) -> Result<()> {
        let tx = self.write_tx("renaming a mailbox")?;
        let account = mailbox_account(&tx, id)?;
        let taken: Option<MailboxId> = tx
            .prepare_cached("SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2")
            .and_then(|mut s| s.query_row(params![account, new_name], |r| r.get(0)).optional())
            .ctx(|| format!("checking mailbox name {new_name:?}"))?;
        match taken {
            Some(other) if other == id => return Ok(()),
            Some(_) => return Err(StoreError::MailboxExists { account, name: new_name.to_owned() }),
            None => {}
        }
        tx.prepare_cached("UPDATE mailboxes SET name = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, new_name]))
            .ctx(|| format!("renaming mailbox {id} to {new_name:?}"))?;
        tx.commit().ctx(|| format!("committing rename of mailbox {id}"))?;
        Ok(())
    }

    /// Deletes a mailbox that is gone from the server: its IMAP locations, its unfetchable records, and
    /// every message left with no location at all (mirror semantics; POP3 copies keep theirs). Returns
    /// the number of locations removed.
    pub fn delete_mailbox(&mut self, id: MailboxId) -> Result<u64> {
        let tx = self.write_tx("deleting a mailbox")?;
        mailbox_account(&tx, id)?;
        let mut affected: Vec<MessageId> = tx
            .prepare_cached(
                "DELETE FROM locations WHERE protocol = 'imap' AND mailbox_id = ?1 RETURNING message_id",
            )
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
            .ctx(|| format!("deleting locations of mailbox {id}"))?;
        let removed = u64::try_from(affected.len()).unwrap_or(u64::MAX);
        let deleted = delete_orphans(&tx, &mut affected)?;
        tx.prepare_cached("DELETE FROM unfetchable WHERE mailbox_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .ctx(|| format!("deleting unfetchable records of mailbox {id}"))?;
        tx.prepare_cached("DELETE FROM mailboxes WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .ctx(|| format!("deleting mailbox {id}"))?;
        tx.commit().ctx(|| format!("committing deletion of mailbox {id}"))?;
        tracing::info!(mailbox = %id, locations = removed, messages = deleted, "deleted mailbox");
        Ok(removed)
    }
}

/// The account of mailbox `id`, or [`StoreError::UnknownMailbox`].
pub(crate) fn mailbox_account(conn: &Connection, id: MailboxId) -> Result<AccountId> {
    conn.prepare_cached("SELECT account_id FROM mailboxes WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .ctx(|| format!("reading mailbox {id}"))?
        .ok_or(StoreError::UnknownMailbox(id))
}

/// A mailbox row before its protocol numbers are range-checked.
struct RawMailbox {
    id: MailboxId,
    name: String,
    delimiter: Option<String>,
    attributes: String,
    special_use: Option<String>,
    uidvalidity: Option<i64>,
    uidnext: Option<i64>,
    highestmodseq: Option<i64>,
    last_sync_at: Option<i64>,
}

impl RawMailbox {
    fn check(self, account: AccountId) -> Result<MailboxRow> {
        let id = self.id;
        let corrupt = |reason: String| StoreError::CorruptRow { table: "mailboxes", id: id.get(), reason };
        let delimiter = match self.delimiter.as_deref() {
            None => None,
            Some(d) => {
                let mut chars = d.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => return Err(corrupt(format!("delimiter {d:?} is not one character"))),
                }
            }
        };
        Ok(MailboxRow {
            id,
            account,
            name: self.name,
            delimiter,
            attributes: self.attributes.split_whitespace().map(str::to_owned).collect(),
            special_use: self.special_use,
            uidvalidity: self
                .uidvalidity
                .map(UidValidity::try_from)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            uidnext: self.uidnext.map(Uid::try_from).transpose().map_err(|e| corrupt(e.to_string()))?,
            highestmodseq: self
                .highestmodseq
                .map(ModSeq::try_from)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            last_sync_at: self.last_sync_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> MailboxInfo {
        MailboxInfo {
            name: name.to_owned(),
            delimiter: Some('/'),
            attributes: vec!["\\HasNoChildren".to_owned(), "\\Sent".to_owned()],
            special_use: Some("\\Sent".to_owned()),
        }
    }

    #[test]
    fn upsert_keeps_id_and_updates_attributes() {
        let mut store = Store::open_in_memory().unwrap();
        let acct = store.account("a").unwrap();
        let id = store.upsert_mailbox(acct, &info("Envoyé")).unwrap();
        let again = store
            .upsert_mailbox(acct, &MailboxInfo { attributes: vec![], special_use: None, ..info("Envoyé") })
            .unwrap();
        assert_eq!(id, again);
        let rows = store.mailboxes(acct).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "Envoyé");
        assert_eq!(rows[0].delimiter, Some('/'));
        assert!(rows[0].attributes.is_empty());
        assert_eq!(rows[0].special_use, None);
        assert_eq!((rows[0].uidvalidity, rows[0].uidnext, rows[0].highestmodseq), (None, None, None));
    }

    #[test]
    fn attributes_round_trip_space_separated() {
        let mut store = Store::open_in_memory().unwrap();
        let acct = store.account("a").unwrap();
        let id = store.upsert_mailbox(acct, &info("Sent")).unwrap();
        let stored: String = store
            .conn
            .query_row("SELECT attributes FROM mailboxes WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, "\\HasNoChildren \\Sent");
        assert_eq!(store.mailbox(id).unwrap().attributes, vec!["\\HasNoChildren", "\\Sent"]);
    }

    #[test]
    fn unknown_account_and_mailbox_are_errors() {
        let mut store = Store::open_in_memory().unwrap();
        let err = store.upsert_mailbox(AccountId::new(42), &info("x")).unwrap_err();
        assert_eq!(err.to_string(), "unknown account 42");
        let err = store.rename_mailbox(MailboxId::new(7), "y").unwrap_err();
        assert_eq!(err.to_string(), "unknown mailbox 7");
    }

    #[test]
    fn rename_refuses_a_taken_name() {
        let mut store = Store::open_in_memory().unwrap();
        let acct = store.account("a").unwrap();
        let a = store.upsert_mailbox(acct, &info("A")).unwrap();
        store.upsert_mailbox(acct, &info("B")).unwrap();
        let err = store.rename_mailbox(a, "B").unwrap_err();
        assert_eq!(err.to_string(), format!("mailbox \"B\" already exists in account {acct}"));
        store.rename_mailbox(a, "A").unwrap();
        store.rename_mailbox(a, "C").unwrap();
        assert_eq!(store.mailbox(a).unwrap().name, "C");
    }

    #[test]
    fn corrupt_cursor_is_reported_not_wrapped() {
        let mut store = Store::open_in_memory().unwrap();
        let acct = store.account("a").unwrap();
        let id = store.upsert_mailbox(acct, &info("A")).unwrap();
        // Bypass the CHECK constraint the schema has, as a damaged file might.
        store.conn.execute_batch("PRAGMA ignore_check_constraints = ON").unwrap();
        store.conn.execute("UPDATE mailboxes SET uidnext = 0 WHERE id = ?1", [id]).unwrap();
        let err = store.mailboxes(acct).unwrap_err();
        assert_eq!(err.to_string(), format!("corrupt row in mailboxes (id {id}): uid out of range: 0"));
    }
}
