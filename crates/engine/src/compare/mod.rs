//! `compare`: what IMAP and POP3 each see of one account, what each would do next, and where every message
//! lives (server only, local only, both), read-only toward both servers.

pub mod gather;
pub mod matching;

pub use matching::{compare, Comparison, ImapEntry, Pop3Entry, Snapshot};

#[cfg(test)]
mod tests;
