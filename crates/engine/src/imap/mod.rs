//! IMAP: mirroring every folder of an account into the store, read-only toward the server.
//!
//! `plan` and `probe` decide (pure), `examine`, `folders` and `probe` read the server's answers into facts,
//! `fetch` judges bodies under the integrity rules, `pipeline` keeps commands in flight ahead of their answers,
//! `folder` settles one folder, `download` brings several folders' new messages back to back, `sync` runs it
//! all over a `client` connection, `idle` waits for a folder to change (for `watch`), `report` says what was
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
