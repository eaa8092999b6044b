//! mailsync-testkit: a real Dovecot for tests, started on 127.0.0.1 with its own config, certificate and Maildir,
//! and on request a real Postfix in front of it for SMTP submission.
//!
//! Owns: installing nothing, but finding Debian's `dovecot` and saying how to install it; generating a CA and a
//! server certificate per instance; rendering a private `dovecot.conf` (never reading `/etc/dovecot`); starting
//! the master in the foreground on free loopback ports (IMAPS, IMAP+STARTTLS, POP3S, POP3+STLS); seeding
//! Maildirs; acting as "another device" through `doveadm`; reading back what the server holds through an
//! independent, deliberately simple IMAP/POP3 client (the oracle that the sync engine's results are checked
//! against); XOAUTH2 through Dovecot's oauth2 passdb with tokens signed by the instance's own key (`oauth2`); a
//! private Postfix (submission with STARTTLS and SASL, delivery by LMTP into the Dovecot: `postfix`); the
//! server's own record of each session after login (`rawlog`); replaying a mailsync protocol trace through
//! the protocol sessions (`replay`); a rewriting proxy in front of the Dovecot that turns its answers into a buggy server's (`proxy`); a link
//! simulator that adds delay, a rate cap and cuts between client and server (`link`); and
//! stopping every process of an instance when dropped.
//!
//! Must never: listen anywhere but 127.0.0.1, touch the system Dovecot's files, leave a process behind, or skip a
//! test silently when Dovecot is missing (the error names the install command).

mod certs;
mod config;
pub mod corpus;
mod demo;
mod device;
mod dovecot;
mod error;
mod fixtures;
pub mod link;
mod maildir;
pub mod oauth2;
pub mod oracle;
mod postfix;
pub mod proxy;
pub mod rawlog;
pub mod replay;
pub mod scripted;
mod system;

pub use certs::TestCa;
pub use config::{Profile, EXCHANGE_CAPABILITIES, EXCHANGE_CAPABILITIES_XOAUTH2};
pub use demo::seed_demo;
pub use device::FolderStatus;
pub use device::ServerMessage;
pub use dovecot::{processes_in_group, Dovecot, DovecotOptions, Ports};
pub use error::HarnessError;
pub use fixtures::{fixture, fixture_messages, fixtures_dir};
pub use maildir::Flag;
pub use postfix::Postfix;
