//! The [`Store`] handle: opening the database file safely and configuring SQLite.
//!
//! Owns: the two ways to open the store, [`Store::open`] (read-write: creates a missing store, migrates) and
//! [`Store::open_read_only`] (for commands that only read: never creates, chmods or migrates anything, and
//! works on a read-only directory or mount), the connection pragmas (WAL, `synchronous = FULL`, foreign
//! keys, busy timeout), running migrations, and starting write transactions. What may be opened at all, and
//! creating and tightening the files, is `file`'s.
//!
//! Must never: let SQLite create the database file itself (it would use the umask, typically 0644), touch a
//! path before `file` has accepted it, or loosen an existing mode; commit a write with `synchronous` below
//! FULL (POP3 deletes on the server once a commit returns, so the commit must survive a power cut).
//!
//! SQLite: <https://sqlite.org/wal.html> (section 5, read-only WAL databases), <https://sqlite.org/pragma.html>,
//! <https://sqlite.org/uri.html> (`mode=ro`, `immutable=1`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Result, SqlContext, StoreError};
use crate::file::{self, Found};
use crate::migrate;

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
    /// `path` must be nothing (then the parent directory is created with mode 0700 if missing and the file
    /// with mode 0600), an empty file as this creates it (this user's, 0600: a first run that died), or a
    /// SQLite file; anything else is refused before anything is changed. An existing SQLite file (and its
    /// `-wal`/`-shm` files) readable by others is tightened to 0600.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        file::prepare_for_writing(&path)?;
        let conn =
            Connection::open(&path).map_err(|source| StoreError::Open { path: path.clone(), source })?;
        Store::configure(conn, path, true)
    }

    /// Opens the existing database at `path` for reading only: nothing is created, migrated, chmod-ed or
    /// written, and a read-only directory or mount is fine. A missing file is [`StoreError::Missing`], an
    /// empty one (or one without tables) [`StoreError::NoSchema`], one of an older schema
    /// [`StoreError::OlderSchema`] (a sync upgrades it).
    ///
    /// SQLite reads a WAL database through its `-shm` index, which it creates when missing. Where it cannot
    /// (no write access to the directory, a read-only mount), the file is opened `immutable=1` instead, which
    /// needs no `-shm`. That is sound only when the `-wal` holds no frames (SQLite removes both files on the
    /// last clean close), which is checked first: a WAL with frames that cannot be indexed is an error.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        match file::inspect(&path)?.0 {
            Found::Nothing => return Err(StoreError::Missing { path }),
            Found::Empty => return Err(StoreError::NoSchema { path }),
            Found::Database => {}
        }
        let conn = match read_only_connection(&path, false).and_then(|c| check_readable(c, &path)) {
            Ok(c) => c,
            Err(StoreError::Open { source, .. }) if cannot_make_shm(&source) && !wal_has_frames(&path) => {
                tracing::debug!(path = %path.display(), "no -shm and no way to create one: reading immutable");
                read_only_connection(&path, true).and_then(|c| check_readable(c, &path))?
            }
            Err(e) => return Err(e),
        };
        let open_err = |source| StoreError::Open { path: path.clone(), source };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(open_err)?;
        let found = migrate::current_version(&conn)?;
        let supported = migrate::schema_version();
        match found {
            0 => Err(StoreError::NoSchema { path }),
            v if v < supported => Err(StoreError::OlderSchema { path, found, supported }),
            v if v > supported => Err(StoreError::NewerSchema { path, found, supported }),
            _ => Ok(Store { conn, path, text_index: true }),
        }
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
            file::tighten_companions(&path)?;
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

/// A read-only connection to `path` (`mode=ro`, or `immutable=1`): SQLite never creates the file.
fn read_only_connection(path: &Path, immutable: bool) -> Result<Connection> {
    let flags =
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // An absolute path gets an empty authority (`file:///x`), so that one starting `//` is not read as a host.
    let authority = if path.is_absolute() { "//" } else { "" };
    let uri =
        format!("file:{authority}{}?mode=ro{}", uri_path(path), if immutable { "&immutable=1" } else { "" });
    Connection::open_with_flags(uri, flags)
        .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })
}

/// Reads the schema version once: SQLite opens lazily, so this is where a missing `-shm` shows.
fn check_readable(conn: Connection, path: &Path) -> Result<Connection> {
    conn.pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))
        .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
    Ok(conn)
}

/// Whether SQLite failed because it could not open or create the `-shm` file of a read-only connection.
fn cannot_make_shm(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly))
}

/// Whether the `-wal` file beside `path` holds anything (then an immutable read would miss commits).
fn wal_has_frames(path: &Path) -> bool {
    let [wal, _] = file::companions(path);
    std::fs::symlink_metadata(wal).map(|m| m.len() > 0).unwrap_or(false)
}

/// `path` for a `file:` URI: percent-encoded except for unreserved characters and `/` (RFC 3986 section 2.3).
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
