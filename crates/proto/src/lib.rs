//! mailsync-proto: the IMAP4rev1 and POP3 client protocols, sans I/O.
//!
//! Owns: turning server bytes into typed responses and events, and typed commands into bytes, for IMAP
//! (RFC 3501 and the extensions the engine uses) and POP3 (RFC 1939, 2449, 2595, 5034), plus the SASL
//! encodings they share, and the SMTP submission steps that `mailsync check` tests (RFC 5321, 3207, 4954).
//!
//! Must never: touch a socket, a clock, a thread, a file or a database; panic on any input; allocate
//! more than the configured response cap on a server's say-so.

pub mod imap;
pub mod pop3;
pub mod sasl;
pub mod smtp;
pub mod trace;
pub mod types;

pub use types::{ModSeq, RangeError, Secret, SeqNum, Uid, UidValidity, Uidl};
