//! Read-only views across an account's locations, for reports that put the server's view beside the
//! store's (`mailsync compare`).
//!
//! Owns: one query that lists every location of an account with the identity of its message (local id,
//! size, Message-ID). Must never: write.

use mailsync_proto::types::{Uid, UidValidity, Uidl};

use crate::error::{Result, SqlContext, StoreError};
use crate::ids::{AccountId, MessageId, Protocol};
use crate::store::Store;

/// One location of an account's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationView {
    /// The stored message.
    pub message: MessageId,
    /// Its size in bytes.
    pub size: u64,
    /// Its Message-ID (without angle brackets).
    pub message_id: Option<String>,
    /// IMAP or POP3.
    pub protocol: Protocol,
    /// IMAP: the folder.
    pub mailbox: Option<String>,
    /// IMAP: the folder's UIDVALIDITY when last synced.
    pub uidvalidity: Option<UidValidity>,
    /// IMAP: the UID.
    pub uid: Option<Uid>,
    /// POP3: the UIDL.
    pub uidl: Option<Uidl>,
    /// IMAP flags, sorted, space-separated.
    pub flags: String,
    /// POP3: when the download was committed.
    pub downloaded_at: Option<i64>,
    /// POP3: when the server copy was deleted (`None` while it is there).
    pub deleted_on_server_at: Option<i64>,
}

impl Store {
    /// Every location of `account`, IMAP and POP3.
    pub fn account_locations(&self, account: AccountId) -> Result<Vec<LocationView>> {
        let ctx = || format!("reading the locations of account {account}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.id, l.message_id, m.size, m.message_id, l.protocol, b.name, b.uidvalidity, l.uid, l.uidl,
                        l.flags, l.downloaded_at, l.deleted_on_server_at
                 FROM locations l
                 JOIN messages m ON m.id = l.message_id
                 LEFT JOIN mailboxes b ON b.id = l.mailbox_id
                 WHERE l.account_id = ?1
                 ORDER BY l.id",
            )
            .ctx(ctx)?;
        let mut rows = stmt.query([account]).ctx(ctx)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().ctx(ctx)? {
            let id: i64 = row.get(0).ctx(ctx)?;
            let corrupt = |reason: String| StoreError::CorruptRow { table: "locations", id, reason };
            let protocol: String = row.get(4).ctx(ctx)?;
            let protocol = match protocol.as_str() {
                "imap" => Protocol::Imap,
                "pop3" => Protocol::Pop3,
                other => return Err(corrupt(format!("unknown protocol {other:?}"))),
            };
            let size: i64 = row.get(2).ctx(ctx)?;
            let uidvalidity: Option<i64> = row.get(6).ctx(ctx)?;
            let uid: Option<i64> = row.get(7).ctx(ctx)?;
            let uidl: Option<String> = row.get(8).ctx(ctx)?;
            out.push(LocationView {
                message: row.get(1).ctx(ctx)?,
                size: u64::try_from(size).map_err(|e| corrupt(e.to_string()))?,
                message_id: row.get(3).ctx(ctx)?,
                protocol,
                mailbox: row.get(5).ctx(ctx)?,
                uidvalidity: uidvalidity
                    .map(UidValidity::try_from)
                    .transpose()
                    .map_err(|e| corrupt(e.to_string()))?,
                uid: uid.map(Uid::try_from).transpose().map_err(|e| corrupt(e.to_string()))?,
                uidl: uidl.map(Uidl::new).transpose().map_err(|e| corrupt(e.to_string()))?,
                flags: row.get(9).ctx(ctx)?,
                downloaded_at: row.get(10).ctx(ctx)?,
                deleted_on_server_at: row.get(11).ctx(ctx)?,
            });
        }
        Ok(out)
    }
}
