//! The store's one error type, [`StoreError`], and the helper that gives SQLite errors their context.
//!
//! Owns: every way a store operation can fail, grouped by whose fault it is (the local environment, the
//! database file, the caller), each with a lowercase message that names the path, mailbox or row.
//!
//! Must never: hide the underlying cause (every wrapped error is kept as `source`), or print message
//! contents (only identifiers and paths).

use std::path::PathBuf;

use crate::ids::{AccountId, MailboxId, MessageId, RunId};

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // --- the local environment: directories, files, permissions ---
    /// The parent directory of the database could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database file could not be created or opened with mode 0600.
    #[error("cannot create database file {path}: {source}")]
    CreateFile {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The mode of the database file (or its WAL/SHM companion) could not be read or tightened.
    #[error("cannot restrict permissions of {path} to 0600: {source}")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database path could not be examined or read (before SQLite opens it).
    #[error("cannot read {path}: {source}")]
    ReadFile {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database path is a directory, a device, a FIFO...: nothing is done to it.
    #[error("{path} is {what}, not a database file; refusing to use it")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "a directory".
        what: &'static str,
    },
    /// The database path is a non-empty file without the SQLite header: nothing is done to it.
    #[error(
        "{path} is not a SQLite database (it does not start with the SQLite header); refusing to use it"
    )]
    NotADatabase {
        /// The path.
        path: PathBuf,
    },
    /// The database path is an empty file that mailsync would not have created (another owner, or readable
    /// by others): it is somebody else's, and nothing is done to it.
    #[error(
        "{path} is an empty file that mailsync did not create (mode {mode:o}); refusing to use it: remove it \
         or choose another --db"
    )]
    ForeignEmptyFile {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A read-only open found no database file.
    #[error("no store at {path}")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// SQLite refused to open the file, or a pragma failed.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database file (":memory:" for an in-memory store).
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },

    /// Another process is syncing the account on this store (it holds the account's sync lock).
    #[error("another sync of account {account} is running on this store")]
    AccountBusy {
        /// The account's name.
        account: String,
    },
    /// Another process watches the account on this store (it holds the account's watch lock).
    #[error("another watch of account {account} is running on this store")]
    WatchBusy {
        /// The account's name.
        account: String,
    },
    /// The account's sync lock could not be taken or tested for another reason.
    #[error("cannot lock {path} for a sync: {source}")]
    Lock {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// SQLite would not switch the file to write-ahead logging (e.g. a file system without shared
    /// memory support).
    #[error("cannot enable write-ahead logging on {path}: journal mode stayed {mode:?}")]
    NoWal {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite reported.
        mode: String,
    },

    // --- the database file: schema and contents ---
    /// A migration script failed; nothing of it was applied.
    #[error("migration {file} failed: {source}")]
    Migration {
        /// The script, e.g. "0001_init.sql".
        file: &'static str,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database was written by a newer mailsync.
    #[error(
        "database {path} has schema version {found}, newer than this mailsync supports ({supported}); \
         upgrade mailsync"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this binary knows.
        supported: i64,
    },
    /// A read-only open found a database without the schema: an empty file, or one a first run left.
    #[error("the store {path} holds no mail yet (a first sync did not finish); run a sync first")]
    NoSchema {
        /// The database file.
        path: PathBuf,
    },
    /// A read-only open found a database written by an older mailsync: migrating it is a write.
    #[error(
        "database {path} has schema version {found}, older than this mailsync reads ({supported}); \
         run a sync once to upgrade it"
    )]
    OlderSchema {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The version this binary reads.
        supported: i64,
    },
    /// A stored value is out of range for its type (e.g. a UID of 0).
    #[error("corrupt row in {table} (id {id}): {reason}")]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// The row's id (or UID, for tables keyed by UID).
        id: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other SQLite failure, with what the store was doing.
    #[error("sqlite error while {context}: {source}")]
    Sqlite {
        /// What the store was doing, e.g. "inserting uid 42 into mailbox 3".
        context: String,
        /// The cause.
        source: rusqlite::Error,
    },

    // --- the caller: identifiers and state the store does not know ---
    /// No account with this id.
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    /// No mailbox with this id.
    #[error("unknown mailbox {0}")]
    UnknownMailbox(MailboxId),
    /// No message with this id.
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    /// No sync run with this id.
    #[error("unknown sync run {0}")]
    UnknownRun(RunId),
    /// A mailbox with this name already exists in the account.
    #[error("mailbox {name:?} already exists in account {account}")]
    MailboxExists {
        /// The account.
        account: AccountId,
        /// The name asked for.
        name: String,
    },
    /// A batch carries a UIDVALIDITY other than the stored one: its UIDs would be misattributed.
    #[error(
        "uidvalidity mismatch for mailbox {mailbox}: stored {stored}, batch has {batch}; \
         reset the mailbox before applying"
    )]
    UidValidityMismatch {
        /// The mailbox.
        mailbox: MailboxId,
        /// The stored UIDVALIDITY.
        stored: u32,
        /// The batch's UIDVALIDITY.
        batch: u32,
    },
}

/// Attaches a description of the operation to a SQLite error.
pub(crate) trait SqlContext<T> {
    /// Wraps the error in [`StoreError::Sqlite`] with the context built by `f` (only on failure).
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T> SqlContext<T> for std::result::Result<T, rusqlite::Error> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite { context: f().into(), source })
    }
}
