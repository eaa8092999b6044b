//! POP3: downloading the INBOX into the store, keeping or deleting the server's copies.

pub mod client;
pub mod plan;
pub mod sync;

pub use client::{PasswordMethod, Pop3Client};
pub use plan::Pop3Mode;
pub use sync::{sync_pop3, Pop3Report, Pop3SyncConfig};
