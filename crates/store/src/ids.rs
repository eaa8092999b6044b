//! Row identifiers as types, and the protocol a location was seen through.
//!
//! Owns: [`AccountId`], [`MailboxId`], [`MessageId`], [`RunId`] (SQLite rowids wrapped so that a
//! mailbox id cannot be passed where a message id is expected) and [`Protocol`].
//!
//! Must never: carry protocol numbers (UIDs and friends are `mailsync_proto::types`).

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a rowid, e.g. one a user typed (`mailsync show ID`). The store checks it exists
            /// when it is used.
            pub fn new(id: i64) -> Self {
                $name(id)
            }
            /// The rowid.
            pub fn get(self) -> i64 {
                self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.0))
            }
        }
        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }
    };
}

row_id!(
    /// An account row (`accounts.id`).
    AccountId
);
row_id!(
    /// A mailbox row (`mailboxes.id`).
    MailboxId
);
row_id!(
    /// A distinct message (`messages.id`): one per SHA-256 of raw bytes.
    MessageId
);
row_id!(
    /// A sync run (`sync_runs.id`).
    RunId
);

/// The protocol a location or a sync run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// IMAP4rev1 (RFC 3501): a mirror of mailboxes.
    Imap,
    /// POP3 (RFC 1939): downloads of the maildrop.
    Pop3,
}

impl Protocol {
    /// The value stored in the `protocol` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for Protocol {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}
