//! IMAP: mirroring every folder of an account into the store, read-only toward the server.
//!
//! `plan` decides (pure), `examine` and `folders` read the server's answers into facts, `fetch` downloads
//! bodies under the integrity rules, `sync` runs it all over a `client` connection, `report` says what was
//! done.

pub mod client;
pub mod download;
pub mod examine;
pub mod fetch;
pub mod folder;
pub mod folders;
pub mod idle;
pub mod pipeline;
pub mod plan;
pub mod probe;
pub mod report;
pub mod sync;

pub use client::ImapClient;
pub use folders::FolderFilter;
pub use report::{AccountReport, FolderReport, NoObserver, Observer};
pub use sync::{sync_account, ImapSyncConfig, Limits};
