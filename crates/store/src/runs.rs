//! Sync runs: one row per sync of an account over a protocol, for `status` and troubleshooting.
//!
//! Owns: the `sync_runs` table (start, finish with counts or an error, read back).
//!
//! Must never: stand in for the mailbox cursor (a run row is a report; progress lives in the cursor,
//! committed with the data).

use rusqlite::params;

use crate::error::{Result, SqlContext, StoreError};
use crate::ids::{AccountId, Protocol, RunId};
use crate::store::{now, Store};

/// The totals of a finished run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Messages added.
    pub new: u64,
    /// Messages whose flags changed.
    pub updated: u64,
    /// Messages removed locally because they left the server.
    pub removed: u64,
    /// Messages deleted on the server (POP3).
    pub deleted_on_server: u64,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Messages the server lists that this run did not store, each recorded as a gap with its reason.
    pub gaps: u64,
    /// Server responses or items the run stepped over because they broke the protocol.
    pub warnings: u64,
    /// Why the run failed; `None` on success.
    pub error: Option<String>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// The run.
    pub id: RunId,
    /// Protocol it used.
    pub protocol: Protocol,
    /// Start (unix seconds).
    pub started_at: i64,
    /// End; `None` while running or if the process died.
    pub finished_at: Option<i64>,
    /// The process that ran it.
    pub pid: Option<u32>,
    /// Its totals (zero until finished).
    pub summary: RunSummary,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Records the start of a sync of `account` over `protocol`. Run records are bookkeeping: their commits
    /// are not fsynced (see `Store::relaxed`); mail commits are.
    pub fn begin_run(&mut self, account: AccountId, protocol: Protocol) -> Result<RunId> {
        self.relaxed(|s| s.begin_run_tx(account, protocol))
    }

    fn begin_run_tx(&mut self, account: AccountId, protocol: Protocol) -> Result<RunId> {
        let now = now();
        let tx = self.write_tx("starting a sync run")?;
        Store::check_account(&tx, account)?;
        let id = tx
            .prepare_cached(
                "INSERT INTO sync_runs (account_id, protocol, started_at, pid) VALUES (?1, ?2, ?3, ?4)
                 RETURNING id",
            )
            .and_then(|mut s| s.query_row(params![account, protocol, now, std::process::id()], |r| r.get(0)))
            .ctx(|| format!("starting a {protocol} run for account {account}"))?;
        tx.commit().ctx(|| format!("committing the start of a run for account {account}"))?;
        Ok(id)
    }

    /// Records the end of `run` with its totals (not fsynced, like [`Store::begin_run`]).
    pub fn finish_run(&mut self, run: RunId, summary: &RunSummary) -> Result<()> {
        self.relaxed(|s| s.finish_run_tx(run, summary))
    }

    fn finish_run_tx(&mut self, run: RunId, summary: &RunSummary) -> Result<()> {
        let now = now();
        let tx = self.write_tx("finishing a sync run")?;
        let n = tx
            .prepare_cached(
                "UPDATE sync_runs SET finished_at = ?2, new = ?3, updated = ?4, removed = ?5,
                     deleted_on_server = ?6, bytes = ?7, error = ?8, gaps = ?9, warnings = ?10
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run,
                    now,
                    to_i64(summary.new),
                    to_i64(summary.updated),
                    to_i64(summary.removed),
                    to_i64(summary.deleted_on_server),
                    to_i64(summary.bytes),
                    summary.error,
                    to_i64(summary.gaps),
                    to_i64(summary.warnings),
                ])
            })
            .ctx(|| format!("finishing run {run}"))?;
        if n == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        tx.commit().ctx(|| format!("committing the end of run {run}"))?;
        Ok(())
    }

    /// The latest `limit` runs of `account`, newest first.
    pub fn runs(&self, account: AccountId, limit: u32) -> Result<Vec<RunRow>> {
        self.runs_via(account, None, limit)
    }

    /// The latest `limit` runs of `account` over `protocol` (all protocols when `None`), newest first.
    pub fn runs_via(
        &self,
        account: AccountId,
        protocol: Option<Protocol>,
        limit: u32,
    ) -> Result<Vec<RunRow>> {
        let ctx = || format!("reading runs of account {account}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, protocol, started_at, finished_at, new, updated, removed, deleted_on_server, bytes, error,
                        gaps, warnings, pid
                 FROM sync_runs WHERE account_id = ?1 AND (?3 IS NULL OR protocol = ?3)
                 ORDER BY started_at DESC, id DESC LIMIT ?2",
            )
            .ctx(ctx)?;
        let mut rows = stmt.query(params![account, limit, protocol]).ctx(ctx)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx(ctx)? {
            let id: RunId = r.get(0).ctx(ctx)?;
            let protocol: String = r.get(1).ctx(ctx)?;
            let protocol = match protocol.as_str() {
                "imap" => Protocol::Imap,
                "pop3" => Protocol::Pop3,
                other => {
                    return Err(StoreError::CorruptRow {
                        table: "sync_runs",
                        id: id.get(),
                        reason: format!("unknown protocol {other:?}"),
                    })
                }
            };
            let count = |i: usize| r.get::<_, i64>(i).map(to_u64).ctx(ctx);
            out.push(RunRow {
                id,
                protocol,
                started_at: r.get(2).ctx(ctx)?,
                finished_at: r.get(3).ctx(ctx)?,
                pid: r.get(12).ctx(ctx)?,
                summary: RunSummary {
                    new: count(4)?,
                    updated: count(5)?,
                    removed: count(6)?,
                    deleted_on_server: count(7)?,
                    bytes: count(8)?,
                    error: r.get(9).ctx(ctx)?,
                    gaps: count(10)?,
                    warnings: count(11)?,
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_round_trip() {
        let mut store = Store::open_in_memory().unwrap();
        let acct = store.account("a").unwrap();
        let run = store.begin_run(acct, Protocol::Pop3).unwrap();
        let running = store.runs(acct, 10).unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!((running[0].protocol, running[0].finished_at), (Protocol::Pop3, None));
        assert_eq!(running[0].pid, Some(std::process::id()));
        let summary = RunSummary {
            new: 3,
            updated: 1,
            removed: 0,
            deleted_on_server: 2,
            bytes: 1234,
            gaps: 3,
            warnings: 4,
            error: Some("connection reset".into()),
        };
        store.finish_run(run, &summary).unwrap();
        let done = store.runs(acct, 10).unwrap();
        assert!(done[0].finished_at.is_some());
        assert_eq!(done[0].summary, summary);
        assert!(matches!(store.finish_run(RunId::new(99), &summary), Err(StoreError::UnknownRun(_))));
        assert!(matches!(
            store.begin_run(AccountId::new(99), Protocol::Imap),
            Err(StoreError::UnknownAccount(_))
        ));
    }
}
