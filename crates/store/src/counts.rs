//! Counts over the whole store and per account, for `mailsync status` and for tests.
//!
//! Owns: read-only aggregate queries ([`Counts`], [`AccountStatus`]).
//!
//! Must never: write.

use rusqlite::params;

use crate::error::{Result, SqlContext};
use crate::ids::{AccountId, Protocol};
use crate::runs::RunRow;
use crate::store::Store;

/// Rows in the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Accounts.
    pub accounts: u64,
    /// Mailboxes.
    pub mailboxes: u64,
    /// Distinct messages.
    pub messages: u64,
    /// Sum of the sizes of the distinct messages.
    pub raw_bytes: u64,
    /// IMAP locations.
    pub imap_locations: u64,
    /// POP3 locations (including those deleted on the server).
    pub pop3_locations: u64,
    /// POP3 locations deleted on the server.
    pub pop3_deleted_on_server: u64,
    /// Messages with no location (detached by a UIDVALIDITY reset).
    pub detached_messages: u64,
    /// Unfetchable UIDs.
    pub unfetchable: u64,
}

/// One protocol's view of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolStatus {
    /// Locations (server copies) recorded.
    pub locations: u64,
    /// Distinct messages behind them.
    pub messages: u64,
    /// Bytes of those distinct messages.
    pub bytes: u64,
    /// Messages the server lists that are not stored (gaps, retried on later runs), by reason.
    pub gaps: Vec<(String, u64)>,
    /// The latest run, if any.
    pub last_run: Option<RunRow>,
    /// Whether a sync or watch of the account holds its sync lock now (so an unfinished last run is still
    /// going, not interrupted).
    pub running: bool,
}

/// What `mailsync status NAME` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountStatus {
    /// IMAP mailboxes known.
    pub folders: u64,
    /// A `mailsync watch` keeps the account current now (it holds the account's watch lock).
    pub watched: bool,
    /// IMAP side.
    pub imap: ProtocolStatus,
    /// POP3 side.
    pub pop3: ProtocolStatus,
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Row counts over the whole store.
    pub fn counts(&self) -> Result<Counts> {
        self.conn
            .prepare_cached(
                "SELECT
                    (SELECT count(*) FROM accounts),
                    (SELECT count(*) FROM mailboxes),
                    (SELECT count(*) FROM messages),
                    (SELECT coalesce(sum(size), 0) FROM messages),
                    (SELECT count(*) FROM locations WHERE protocol = 'imap'),
                    (SELECT count(*) FROM locations WHERE protocol = 'pop3'),
                    (SELECT count(*) FROM locations WHERE protocol = 'pop3' AND deleted_on_server_at IS NOT NULL),
                    (SELECT count(*) FROM messages m
                        WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.message_id = m.id)),
                    (SELECT count(*) FROM unfetchable)",
            )
            .and_then(|mut s| {
                s.query_row([], |r| {
                    Ok(Counts {
                        accounts: u(r.get(0)?),
                        mailboxes: u(r.get(1)?),
                        messages: u(r.get(2)?),
                        raw_bytes: u(r.get(3)?),
                        imap_locations: u(r.get(4)?),
                        pop3_locations: u(r.get(5)?),
                        pop3_deleted_on_server: u(r.get(6)?),
                        detached_messages: u(r.get(7)?),
                        unfetchable: u(r.get(8)?),
                    })
                })
            })
            .ctx(|| "counting rows")
    }

    /// Per-protocol counts and last runs of `account`.
    pub fn account_status(&self, account: AccountId) -> Result<AccountStatus> {
        let folders = self
            .conn
            .prepare_cached("SELECT count(*) FROM mailboxes WHERE account_id = ?1")
            .and_then(|mut s| s.query_row([account], |r| r.get(0)))
            .ctx(|| format!("counting mailboxes of account {account}"))?;
        let mut status = AccountStatus {
            folders: u(folders),
            watched: self.watched(account)?,
            ..AccountStatus::default()
        };
        let running = self.account_locked(account)?;
        for protocol in [Protocol::Imap, Protocol::Pop3] {
            let (locations, messages, bytes): (i64, i64, i64) = self
                .conn
                .prepare_cached(
                    "SELECT count(*), count(DISTINCT message_id),
                        (SELECT coalesce(sum(size), 0) FROM messages WHERE id IN
                            (SELECT message_id FROM locations WHERE account_id = ?1 AND protocol = ?2))
                     FROM locations WHERE account_id = ?1 AND protocol = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![account, protocol], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                })
                .ctx(|| format!("counting {protocol} locations of account {account}"))?;
            let gaps_sql = match protocol {
                Protocol::Imap => {
                    "SELECT reason, count(*) FROM unfetchable WHERE mailbox_id IN
                        (SELECT id FROM mailboxes WHERE account_id = ?1) GROUP BY reason ORDER BY 2 DESC, 1"
                }
                Protocol::Pop3 => {
                    "SELECT reason, count(*) FROM pop3_gaps WHERE account_id = ?1 GROUP BY reason ORDER BY 2 DESC, 1"
                }
            };
            let gaps: Vec<(String, i64)> = self
                .conn
                .prepare_cached(gaps_sql)
                .and_then(|mut s| s.query_map([account], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .ctx(|| format!("counting {protocol} gaps of account {account}"))?;
            let side = ProtocolStatus {
                locations: u(locations),
                messages: u(messages),
                bytes: u(bytes),
                gaps: gaps.into_iter().map(|(r, n)| (r, u(n))).collect(),
                last_run: self.runs_via(account, Some(protocol), 1)?.into_iter().next(),
                running,
            };
            match protocol {
                Protocol::Imap => status.imap = side,
                Protocol::Pop3 => status.pop3 = side,
            }
        }
        Ok(status)
    }
}
