//! mailsync-testkit: a real Dovecot for tests, started on 127.0.0.1 with its own config, certificate and Maildir.
//!
//! Owns: installing nothing, but finding Debian's `dovecot` and saying how to install it; generating a CA and a
//! server certificate per instance; rendering a private `dovecot.conf` (never reading `/etc/dovecot`); starting
//! the master in the foreground on free loopback ports (IMAPS, IMAP+STARTTLS, POP3S, POP3+STLS); seeding
//! Maildirs; acting as "another device" through `doveadm`; reading back what the server holds through an
//! independent, deliberately simple IMAP/POP3 client (the oracle that the sync engine's results are checked
//! against); and stopping every process of the instance when dropped.
//!
//! Must never: listen anywhere but 127.0.0.1, touch the system Dovecot's files, leave a process behind, or skip a
//! test silently when Dovecot is missing (the error names the install command).

mod certs;
mod config;
pub mod corpus;
mod device;
mod dovecot;
mod error;
mod fixtures;
mod maildir;
pub mod oracle;
pub mod scripted;
mod system;

pub use certs::TestCa;
pub use config::{Profile, EXCHANGE_CAPABILITIES};
pub use device::FolderStatus;
pub use device::ServerMessage;
pub use dovecot::{processes_in_group, Dovecot, DovecotOptions, Ports};
pub use error::HarnessError;
pub use fixtures::{fixture, fixture_messages, fixtures_dir};
pub use maildir::Flag;
