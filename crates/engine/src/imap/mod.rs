//! IMAP: mirroring every folder of an account into the store, read-only toward the server.

pub mod client;
pub mod folders;
pub mod plan;
pub mod sync;

pub use client::ImapClient;
pub use folders::FolderFilter;
pub use sync::{sync_account, AccountReport, FolderReport, ImapSyncConfig, Limits, Observer};
