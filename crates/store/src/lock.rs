//! The per-account sync lock: at most one sync (or watch) of an account on one store at a time, and a way
//! for `status` to tell a run that is still going from one whose process died.
//!
//! Owns: [`SyncLock`], an exclusive open-file-description lock (Linux `F_OFD_SETLK`) on one byte of the
//! database file far beyond SQLite's own lock bytes (which sit at 1 GiB): byte `2^40 + account id`. The
//! kernel drops it when the process exits, however it exits (SIGKILL included), so a stale lock cannot
//! outlive its holder, and no lock file is ever created beside the database.
//!
//! Must never: touch SQLite's lock range or the file's contents (a lock beyond the end of a file changes
//! nothing in it); block (a held lock is an error that names the account, never a wait).
//!
//! Linux only (`F_OFD_*`, Linux 3.15): elsewhere the lock is a no-op and concurrent syncs of one account
//! rely on the store's transactions alone.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{Result, StoreError};
use crate::ids::AccountId;
use crate::store::Store;

/// Where the lock bytes start: far beyond SQLite's lock bytes at 1 GiB (`sqlite3PendingByte`).
const LOCK_BASE: i64 = 1 << 40;

/// Held while an account is being synced; dropping it releases the lock.
#[derive(Debug)]
pub struct SyncLock {
    /// The descriptor that owns the lock (none for an in-memory store).
    _file: Option<File>,
}

impl Store {
    /// Takes the sync lock of `account` (named `name` in the error), or fails at once with
    /// [`StoreError::AccountBusy`] when another process (or another handle in this one) holds it.
    pub fn lock_account(&self, account: AccountId, name: &str) -> Result<SyncLock> {
        let Some(file) = self.lock_file(true)? else { return Ok(SyncLock { _file: None }) };
        match ofd::set(&file, account) {
            Ok(true) => Ok(SyncLock { _file: Some(file) }),
            Ok(false) => Err(StoreError::AccountBusy { account: name.to_owned() }),
            Err(source) => Err(StoreError::Lock { path: self.path().to_path_buf(), source }),
        }
    }

    /// Whether some process holds the sync lock of `account` now.
    pub fn account_locked(&self, account: AccountId) -> Result<bool> {
        let Some(file) = self.lock_file(false)? else { return Ok(false) };
        ofd::held(&file, account)
            .map_err(|source| StoreError::Lock { path: self.path().to_path_buf(), source })
    }

    /// A descriptor of its own on the database file (locks belong to the open file description).
    fn lock_file(&self, write: bool) -> Result<Option<File>> {
        let path: &Path = self.path();
        if path == Path::new(":memory:") {
            return Ok(None);
        }
        OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
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

    use super::LOCK_BASE;
    use crate::ids::AccountId;

    fn range(kind: libc::c_int, account: AccountId) -> libc::flock {
        libc::flock {
            l_type: i16::try_from(kind).unwrap_or(0),
            l_whence: i16::try_from(libc::SEEK_SET).unwrap_or(0),
            l_start: LOCK_BASE.saturating_add(account.get()),
            l_len: 1,
            l_pid: 0,
        }
    }

    /// Takes the lock; `Ok(false)` when someone else holds it.
    pub(super) fn set(file: &File, account: AccountId) -> io::Result<bool> {
        match fcntl(file, FcntlArg::F_OFD_SETLK(&range(libc::F_WRLCK, account))) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Whether someone holds the lock.
    pub(super) fn held(file: &File, account: AccountId) -> io::Result<bool> {
        let mut probe = range(libc::F_WRLCK, account);
        fcntl(file, FcntlArg::F_OFD_GETLK(&mut probe)).map_err(io::Error::from)?;
        Ok(i32::from(probe.l_type) != libc::F_UNLCK)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod ofd {
    use std::fs::File;
    use std::io;

    use crate::ids::AccountId;

    pub(super) fn set(_: &File, _: AccountId) -> io::Result<bool> {
        Ok(true)
    }

    pub(super) fn held(_: &File, _: AccountId) -> io::Result<bool> {
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
}
