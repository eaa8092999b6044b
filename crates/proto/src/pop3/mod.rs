//! POP3 client protocol, sans I/O.
//!
//! Owns: everything between the bytes of a POP3 connection and typed values: status lines and
//! response codes ([`response`]), multi-line framing and dot-unstuffing ([`multiline`]), CAPA
//! ([`capability`]), STAT/LIST/UIDL listings ([`listing`]), commands ([`command`]) and the session
//! state machine that ties them together ([`session`]).
//!
//! Must never: touch a socket, a clock or a file; panic on any input from a server; allocate past the
//! caps of [`Pop3Config`]; log or `Debug`-print a credential.
//!
//! RFC 1939 (POP3), RFC 2449 (CAPA, extended response codes, PIPELINING), RFC 2595 section 4 (STLS),
//! RFC 3206 (SYS and AUTH response codes), RFC 5034 (SASL AUTH).
//!
//! A typical exchange, driven by the engine:
//! `feed(greeting)` -> `Greeting`; `send(Capa)`; `poll_transmit()`; `feed(..)` -> `Response` with
//! the CAPA body (also kept in [`Pop3Session::capabilities`]); `send(Auth{XOAUTH2, AfterContinuation})`;
//! ...; `send(Uidl(None))` -> body parsed with [`parse_uidl_listings`]; `send(Retr(n))` -> the message
//! bytes as the body; after the store commits, `send(Dele(n))`, `send(Quit)`.

pub mod capability;
pub mod command;
pub mod error;
pub mod listing;
pub mod multiline;
pub mod response;
pub mod session;

pub use capability::{parse_capabilities, Capabilities, Capability, Expire};
pub use command::{apop_digest, InitialResponse, Pop3Command};
pub use error::Pop3Error;
pub use listing::{
    parse_scan_listing, parse_scan_listings, parse_scan_listings_lenient, parse_stat, parse_uidl_listing,
    parse_uidl_listings, parse_uidl_listings_lenient, BadListing, Lenient, ScanListing, Stat, UidlListing,
};
pub use multiline::{dot_stuff, Decoded, DotDecoder, Overflow};
pub use response::{
    parse_continuation, parse_greeting, parse_status_line, Greeting, ResponseCode, StatusLine,
};
pub use session::{CommandId, Pop3Config, Pop3Event, Pop3Session, Pop3State, Transmit};
