//! The IMAP4rev1 client protocol, sans I/O.
//!
//! Owns: everything between the bytes a server sends and the typed events the engine consumes, and
//! between typed commands and the bytes the client sends: [`frame`] (complete responses out of a
//! receive buffer), [`parse`] (our own nom parsers), [`response`] (the typed responses), [`session`]
//! (tags, state, capabilities, literals and continuations), [`command`] (commands to bytes),
//! [`seqset`], [`mutf7`] and [`throttle`] (Outlook's suggested back-off).
//!
//! Must never: touch a socket, a clock or a thread; panic on any server input; allocate past the
//! response cap on a server's say-so.
//!
//! RFC 3501 (IMAP4rev1) with RFC 7162 (CONDSTORE/QRESYNC), RFC 4731 (ESEARCH), RFC 6154
//! (SPECIAL-USE), RFC 5161 (ENABLE), RFC 2971 (ID), RFC 2342 (NAMESPACE), RFC 4315 (UIDPLUS),
//! RFC 2177 (IDLE), RFC 4959 (SASL-IR), RFC 7888 (LITERAL+), RFC 5530 (response codes).

pub mod command;
pub mod error;
pub mod frame;
pub mod mutf7;
pub mod parse;
pub mod response;
pub mod seqset;
pub mod session;
pub mod throttle;

/// The buffer types of this module's API (receive buffer, frames, bodies), re-exported.
pub use bytes::{Bytes, BytesMut};
pub use error::ImapError;
pub use frame::Framer;
pub use parse::{parse_greeting, parse_response};
pub use response::{
    BodySection, Capabilities, Code, Continuation, ESearch, Fetch, Flag, Greeting, GreetingKind,
    InternalDate, ListItem, ListKind, MailboxAttr, MailboxStatus, NamespaceDesc, Namespaces, Response,
    Search, Section, Status, StatusKind, StatusResponse, Tagged, Untagged, Vanished,
};
pub use session::{CommandId, Completion, Event, ImapSession, SessionConfig, SessionState};
pub use throttle::suggested_backoff;
