//! The per-account locks: at most one sync of an account on one store at a time, and at most one watch;
//! and a way for `status` to tell a run that is still going from one whose process died, and to say whether
//! a watch keeps the account current.
//!
//! Owns: [`SyncLock`], an exclusive open-file-description lock (Linux `F_OFD_SETLK`) on one byte of the
//! database file far beyond SQLite's own lock bytes (which sit at 1 GiB): byte `2^40 + account id` for a
//! sync, `2^41 + account id` for a watch (which takes the sync lock too, for each of its syncs). The kernel
//! drops it when the process exits, however it exits (SIGKILL included), so a stale lock cannot outlive its
//! holder, and no lock file is ever created beside the database. A lock is released by unlocking its byte,
//! never by closing its descriptor (closing one would drop SQLite's own locks: see `crate::descriptors`).
//!
//! Must never: touch SQLite's lock range or the file's contents (a lock beyond the end of a file changes
//! nothing in it); block (a held lock is an error that names the account, never a wait).
//!
//! Linux only (`F_OFD_*`, Linux 3.15): elsewhere the lock is a no-op and concurrent syncs of one account
//! rely on the store's transactions alone.

use std::path::Path;

use crate::descriptors::{self, Held, How};
use crate::error::{Result, StoreError};
use crate::ids::AccountId;
use crate::store::Store;

/// Where the sync lock bytes start: far beyond SQLite's lock bytes at 1 GiB (`sqlite3PendingByte`).
const LOCK_BASE: i64 = 1 << 40;

/// Where the watch lock bytes start.
const WATCH_BASE: i64 = 1 << 41;

/// Held while an account is being synced (or watched); dropping it releases the lock.
#[derive(Debug)]
pub struct SyncLock {
    /// The descriptor that owns the lock, and the byte (none for an in-memory store). The lock is released
    /// explicitly: the descriptor is never closed (see `crate::descriptors`).
    held: Option<(Held, i64)>,
}

impl Drop for SyncLock {
    fn drop(&mut self) {
        if let Some((file, at)) = self.held.take() {
            if let Err(e) = ofd::unset(&file, at) {
                tracing::warn!("releasing a lock: {e}");
                // Still locked: never lent to anyone else.
                file.retire();
            }
        }
    }
}

impl Store {
    /// Takes the sync lock of `account` (named `name` in the error), or fails at once with
    /// [`StoreError::AccountBusy`] when another process (or another handle in this one) holds it.
    pub fn lock_account(&self, account: AccountId, name: &str) -> Result<SyncLock> {
        self.take_lock(LOCK_BASE.saturating_add(account.get()))?
            .ok_or_else(|| StoreError::AccountBusy { account: name.to_owned() })
    }

    /// Whether some process holds the sync lock of `account` now.
    pub fn account_locked(&self, account: AccountId) -> Result<bool> {
        self.lock_held(LOCK_BASE.saturating_add(account.get()))
    }

    /// Takes the watch lock of `account` (named `name` in the error), held for as long as a watch keeps the
    /// account current, or fails at once with [`StoreError::WatchBusy`].
    pub fn lock_watch(&self, account: AccountId, name: &str) -> Result<SyncLock> {
        self.take_lock(WATCH_BASE.saturating_add(account.get()))?
            .ok_or_else(|| StoreError::WatchBusy { account: name.to_owned() })
    }

    /// Whether some process watches `account` now.
    pub fn watched(&self, account: AccountId) -> Result<bool> {
        self.lock_held(WATCH_BASE.saturating_add(account.get()))
    }

    /// The lock on byte `at`, or `None` when someone else holds it.
    fn take_lock(&self, at: i64) -> Result<Option<SyncLock>> {
        let Some(file) = self.lock_file(true)? else { return Ok(Some(SyncLock { held: None })) };
        match ofd::set(&file, at) {
            Ok(true) => Ok(Some(SyncLock { held: Some((file, at)) })),
            Ok(false) => Ok(None),
            Err(source) => Err(StoreError::Lock { path: self.path().to_path_buf(), source }),
        }
    }

    fn lock_held(&self, at: i64) -> Result<bool> {
        let Some(file) = self.lock_file(false)? else { return Ok(false) };
        ofd::held(&file, at).map_err(|source| StoreError::Lock { path: self.path().to_path_buf(), source })
    }

    /// A descriptor of its own on the database file (locks belong to the open file description), never
    /// closed (see `crate::descriptors`).
    fn lock_file(&self, write: bool) -> Result<Option<Held>> {
        let path: &Path = self.path();
        if path == Path::new(":memory:") {
            return Ok(None);
        }
        descriptors::open(path, if write { How::ReadWrite } else { How::Read })
            .map(Some)
            .map_err(|source| StoreError::Lock { path: path.to_path_buf(), source })
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod ofd {
    use std::fs::File;
    use std::io;

    use nix::errno::Errno;
    use nix::fcntl::{fcntl, FcntlArg};
    use nix::libc;

    fn range(kind: libc::c_int, at: i64) -> libc::flock {
        libc::flock {
            l_type: i16::try_from(kind).unwrap_or(0),
            l_whence: i16::try_from(libc::SEEK_SET).unwrap_or(0),
            l_start: at,
            l_len: 1,
            l_pid: 0,
        }
    }

    /// Takes the lock on byte `at`; `Ok(false)` when someone else holds it.
    pub(super) fn set(file: &File, at: i64) -> io::Result<bool> {
        match fcntl(file, FcntlArg::F_OFD_SETLK(&range(libc::F_WRLCK, at))) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Releases the lock on byte `at`.
    pub(super) fn unset(file: &File, at: i64) -> io::Result<()> {
        fcntl(file, FcntlArg::F_OFD_SETLK(&range(libc::F_UNLCK, at))).map(drop).map_err(io::Error::from)
    }

    /// Whether someone holds the lock on byte `at`.
    pub(super) fn held(file: &File, at: i64) -> io::Result<bool> {
        let mut probe = range(libc::F_WRLCK, at);
        fcntl(file, FcntlArg::F_OFD_GETLK(&mut probe)).map_err(io::Error::from)?;
        Ok(i32::from(probe.l_type) != libc::F_UNLCK)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod ofd {
    use std::fs::File;
    use std::io;

    pub(super) fn set(_: &File, _: i64) -> io::Result<bool> {
        Ok(true)
    }

    pub(super) fn unset(_: &File, _: i64) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn held(_: &File, _: i64) -> io::Result<bool> {
        Ok(false)
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_account_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mail.db");
        let mut a = Store::open(&path).unwrap();
        let b = Store::open(&path).unwrap();
        let (x, y) = (a.account("x").unwrap(), a.account("y").unwrap());
        assert!(!b.account_locked(x).unwrap());
        let held = a.lock_account(x, "x").unwrap();
        assert!(b.account_locked(x).unwrap());
        assert!(!b.account_locked(y).unwrap(), "locks are per account");
        let busy = b.lock_account(x, "x").unwrap_err();
        assert_eq!(busy.to_string(), "another sync of account x is running on this store");
        let other = b.lock_account(y, "y").unwrap();
        drop(held);
        assert!(!b.account_locked(x).unwrap());
        drop(other);
        // The lock bytes are beyond the end of the file: SQLite keeps working while they are held.
        let _again = b.lock_account(x, "x").unwrap();
        a.begin_run(x, crate::Protocol::Imap).unwrap();
        let mem = Store::open_in_memory().unwrap();
        assert!(mem.lock_account(AccountId::new(1), "m").is_ok());
    }

    use crate::file;

    /// The other process of the test below: opens the database read-write, reads, and closes it. SQLite then
    /// checkpoints and deletes the WAL if it believes no other process has the database open.
    #[test]
    fn peer_reads_and_closes() {
        let Some(path) = std::env::var_os(PEER) else { return };
        let c = rusqlite::Connection::open(path).unwrap();
        let n: i64 = c.query_row("SELECT count(*) FROM accounts", [], |r| r.get(0)).unwrap();
        assert!(n >= 1);
        c.close().unwrap();
    }

    const PEER: &str = "MAILSYNC_STORE_LOCK_PEER";

    fn run_peer(path: &Path) {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "lock::tests::peer_reads_and_closes", "--test-threads=1", "--quiet"])
            .env(PEER, path)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Closing any descriptor of the database file drops every POSIX lock this process holds on it, SQLite's
    /// own among them; another process closing its connection then takes the database for unused and deletes
    /// the WAL under ours, and every later commit of ours is lost. Taking, probing and releasing the account
    /// locks (and opening another store on the same file) must never do that.
    #[test]
    fn locks_taken_and_released_never_cost_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mail.db");
        let mut a = Store::open(&path).unwrap();
        let x = a.account("x").unwrap();
        for _ in 0..3 {
            drop(a.lock_account(x, "x").unwrap());
            drop(a.lock_watch(x, "x").unwrap());
            assert!(!a.account_locked(x).unwrap() && !a.watched(x).unwrap());
            drop(Store::open(&path).unwrap());
            drop(Store::open_read_only(&path).unwrap());
            run_peer(&path);
            a.account("later").unwrap();
        }
        // Seen by others while this store is still open (closing it would checkpoint even a deleted WAL).
        let fresh = Store::open_read_only(&path).unwrap();
        assert!(fresh.find_account("later").unwrap().is_some(), "a commit after a lock was released is lost");
        assert!(file::companions(&path)[0].exists(), "the WAL was deleted under an open store");
        drop(a);
    }
}
