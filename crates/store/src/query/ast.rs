//! The parsed form of a search query: [`Expr`] trees of [`Term`]s.
//!
//! Owns: the meaning of each field as data (which text column, which location filter, which range),
//! independent of SQL.
//!
//! Must never: hold SQL text or anything not typed by the user.

use crate::ids::Protocol;

/// A query: terms combined with and, or, not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// The empty query: every message.
    All,
    /// Every child matches.
    And(Vec<Expr>),
    /// Some child matches.
    Or(Vec<Expr>),
    /// The child does not match.
    Not(Box<Expr>),
    /// One condition.
    Term(Term),
}

/// Which indexed text a text term searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// Subject, addresses, body and attachment names (free words).
    Any,
    /// `subject:`.
    Subject,
    /// `from:`.
    From,
    /// `to:`: every recipient (To and Cc).
    To,
    /// `cc:`.
    Cc,
    /// `body:`.
    Body,
    /// `attachment:`: attachment file names.
    Attachment,
}

/// One condition on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Words (a phrase when several) in indexed text.
    Text {
        /// Where to look.
        field: TextField,
        /// What to look for, as typed (without quotes or a trailing `*`).
        text: String,
        /// `word*`: words starting with `text`.
        prefix: bool,
    },
    /// `folder:NAME`: an IMAP location in a mailbox of this name (ASCII case-insensitive; `*` is a
    /// wildcard).
    Folder(String),
    /// `account:NAME`: a location in this account.
    Account(String),
    /// `via:imap|pop3`: a location seen through this protocol.
    Via(Protocol),
    /// `flag:...`: an IMAP location with (or, `set: false`, without) this flag, lowercase.
    Flag {
        /// The flag or keyword, lowercase (e.g. `\seen`, `$forwarded`).
        flag: String,
        /// Whether the location must have it (`flag:seen`) or lack it (`flag:unread`).
        set: bool,
    },
    /// `has:attachment`.
    HasAttachment,
    /// `id:MESSAGE-ID` (without angle brackets).
    MessageId(String),
    /// `date:`, `before:`, `after:`: the Date header in `[from, until)`, unix seconds (UTC days).
    Date {
        /// Inclusive lower bound.
        from: Option<i64>,
        /// Exclusive upper bound.
        until: Option<i64>,
    },
    /// `size:`: the raw size in `[min, max]` bytes.
    Size {
        /// Inclusive lower bound.
        min: Option<u64>,
        /// Inclusive upper bound.
        max: Option<u64>,
    },
}
