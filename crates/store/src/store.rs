//! The [`Store`] handle: opening the database file safely and configuring SQLite.
//!
//! Owns: creating the parent directory (0700) and the database file (0600) before SQLite touches it,
//! tightening the mode of an existing file and of its WAL/SHM companions, the connection pragmas
//! (WAL, `synchronous = FULL`, foreign keys, busy timeout), running migrations, and starting write
//! transactions.
//!
//! Must never: let SQLite create the database file itself (it would use the umask, typically 0644), or
//! loosen an existing mode; commit a write with `synchronous` below FULL (POP3 deletes on the server
//! once a commit returns, so the commit must survive a power cut).
//!
//! SQLite: <https://sqlite.org/wal.html>, <https://sqlite.org/pragma.html>.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{Result, SqlContext, StoreError};
use crate::migrate;

/// Mode of the database file and its `-wal` / `-shm` companions.
const FILE_MODE: u32 = 0o600;
/// Mode of directories the store creates.
const DIR_MODE: u32 = 0o700;
/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);
/// Enough cached statements for every statement the store prepares.
const STATEMENT_CACHE: usize = 64;
/// The page cache, in KiB (SQLite's `cache_size` takes a negative number as KiB). SQLite's default of 2 MiB
/// holds about 60 of our 32 KiB pages: every batch of message bytes pushed the b-tree interior pages and
/// the full-text index out, to be read back for the next message (measured: initial sync of 5,000
/// messages 1.16 s -> 1.10 s median, peak RSS +6 MB). Bounded: it does not grow with the mailbox.
const CACHE_KIB: i64 = 8 * 1024;

/// The mail store: one SQLite connection. Writers take `&mut self`, and every write is one transaction.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Whether stored messages get full-text index rows (always, except in the insert benchmark).
    pub(crate) text_index: bool,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, then applies pending migrations.
    ///
    /// The parent directory is created with mode 0700 if missing; the file is created with mode 0600,
    /// and an existing file (and its `-wal`/`-shm` files) readable by others is tightened to 0600.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        prepare_file(&path)?;
        let conn =
            Connection::open(&path).map_err(|source| StoreError::Open { path: path.clone(), source })?;
        Store::configure(conn, path, true)
    }

    /// An in-memory store with the full schema, for tests. (WAL does not apply to memory databases.)
    pub fn open_in_memory() -> Result<Store> {
        let path = PathBuf::from(":memory:");
        let conn =
            Connection::open_in_memory().map_err(|source| StoreError::Open { path: path.clone(), source })?;
        Store::configure(conn, path, false)
    }

    fn configure(mut conn: Connection, path: PathBuf, wal: bool) -> Result<Store> {
        let open_err = |source| StoreError::Open { path: path.clone(), source };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Stored messages are mostly blobs of tens of kilobytes: 32 KiB pages write them with an eighth of the
        // system calls of the default 4 KiB (measured: initial sync of 200 MB 1.57 s -> 1.21 s; search
        // unchanged). Only a new database takes it; an existing one keeps its page size.
        conn.pragma_update(None, "page_size", PAGE_SIZE).map_err(open_err)?;
        if wal {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(open_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::NoWal { path, mode });
            }
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        // Statement journals and sorts in memory: a temporary file costs milliseconds on every run.
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(open_err)?;
        migrate::migrate(&mut conn, &path)?;
        if wal {
            // SQLite creates -wal/-shm with the database file's mode; tighten any left by an older run.
            tighten_companions(&path)?;
        }
        Ok(Store { conn, path, text_index: true })
    }

    /// The database file (":memory:" for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64> {
        migrate::current_version(&self.conn)
    }

    /// Starts a write transaction. IMMEDIATE takes the write lock up front, so a concurrent writer waits
    /// (busy timeout) instead of failing half-way through.
    /// Runs `f` with commits that are not fsynced (WAL with `synchronous = NORMAL`: still atomic and
    /// crash-consistent, but a power cut may lose the last ones). Only for bookkeeping whose loss costs nothing,
    /// such as sync run records; never for mail, whose commits stay `FULL` (POP3 deletes after them).
    pub(crate) fn relaxed<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let set = |s: &Store, mode: &str| {
            s.conn.pragma_update(None, "synchronous", mode).ctx(|| format!("setting synchronous = {mode}"))
        };
        set(self, "NORMAL")?;
        let r = f(self);
        set(self, "FULL")?;
        r
    }

    pub(crate) fn write_tx(&mut self, what: &str) -> Result<Transaction<'_>> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(|| format!("starting a transaction for {what}"))
    }
}

/// The page size of new databases.
const PAGE_SIZE: u32 = 32 * 1024;

/// Creates the parent directory and the file with restrictive modes, or tightens an existing file.
fn prepare_file(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        }
    }
    // O_CREAT with mode 0600: the file never exists with a looser mode, even for an instant.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|source| StoreError::CreateFile { path: path.to_path_buf(), source })?;
    tighten(path)
}

/// Removes group and other permission bits from `path` if any are set.
fn tighten(path: &Path) -> Result<()> {
    let perm_err = |source| StoreError::Permissions { path: path.to_path_buf(), source };
    let mode = std::fs::metadata(path).map_err(perm_err)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "tightening to 0600");
        std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE)).map_err(perm_err)?;
    }
    Ok(())
}

/// Tightens the `-wal` and `-shm` files next to the database, where they exist.
fn tighten_companions(path: &Path) -> Result<()> {
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let companion = PathBuf::from(name);
        if companion.exists() {
            tighten(&companion)?;
        }
    }
    Ok(())
}

/// Now, as unix seconds (0 if the clock is before 1970).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(store: &Store, name: &str) -> String {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
    }

    #[test]
    fn file_store_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("m.db")).unwrap();
        assert_eq!(pragma(&store, "journal_mode"), "wal");
        assert_eq!(pragma(&store, "synchronous"), "2", "2 is FULL");
        assert_eq!(pragma(&store, "foreign_keys"), "1");
        assert_eq!(pragma(&store, "busy_timeout"), "5000");
        assert_eq!(pragma(&store, "page_size"), "32768");
        assert_eq!(pragma(&store, "cache_size"), "-8192");
        assert_eq!(store.path(), dir.path().join("m.db"));
    }

    #[test]
    fn memory_store_has_schema_and_foreign_keys() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(pragma(&store, "foreign_keys"), "1");
        assert_eq!(store.schema_version().unwrap(), crate::schema_version());
        let err =
            store.conn.execute("INSERT INTO mailboxes (account_id, name) VALUES (999, 'x')", []).unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }

    #[test]
    fn now_is_after_2024() {
        assert!(now() > 1_704_067_200);
    }
}
