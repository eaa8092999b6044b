//! mailsync-store: the SQLite store that IMAP and POP3 syncs write into and the CLI reads.
//!
//! Owns: the database file (created 0600, WAL, `synchronous = FULL`), the schema and its migrations
//! (/migrations/*.sql), raw messages stored byte for byte and deduplicated by SHA-256, their header
//! index and full-text index (`index`, written in the message's transaction), where each message
//! lives on each server (IMAP mailbox + UID, POP3 UIDL), the per-mailbox sync cursors, sync run
//! reports, the search query language (`query`, run by `Store::search`), and writing messages out
//! (`export`: mboxrd, Maildir, safe file names).
//!
//! Must never: lose or alter a message's bytes; drop a message because it cannot be parsed; panic on
//! anything read from a server or from the database file; commit a cursor separately from the data it
//! describes (every write method is one transaction); depend on anything but `mailsync_proto::types`
//! within the workspace.
//!
//! One writer (the sync engine's writer task) holds a [`Store`] with `&mut`; readers (the CLI) open
//! their own. WAL lets them read while the writer commits.

mod accounts;
mod counts;
mod descriptors;
mod error;
pub mod export;
mod file;
pub mod headers;
mod ids;
mod imap;
pub mod index;
mod lock;
mod mailboxes;
mod messages;
mod migrate;
mod outcome;
mod pop3;
pub mod query;
mod runs;
mod search;
mod store;
mod view;

pub use counts::{AccountStatus, Counts, ProtocolStatus};
pub use error::{Result, StoreError};
pub use headers::{index_message, HeaderIndex};
pub use ids::{AccountId, MailboxId, MessageId, Protocol, RunId};
pub use imap::{
    normalize_flags, retry_delay, ImapBatch, ImapGap, MailboxCursor, NewImapMessage, ResetOutcome,
};
pub use lock::SyncLock;
pub use mailboxes::{MailboxInfo, MailboxRow};
pub use messages::{content_hash, MessageRow, Prepared};
pub use migrate::schema_version;
pub use outcome::BatchOutcome;
pub use pop3::{NewPop3Message, Pop3Batch, Pop3Gap, Pop3LocationRow};
pub use runs::{RunRow, RunSummary};
pub use search::{Location, SearchHit, SearchOptions, Sort};
pub use store::Store;
pub use view::LocationView;
