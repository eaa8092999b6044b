//! Typed IMAP commands and their wire bytes.
//!
//! Owns [`Command`] and the types it carries, [`Command::encode`] (tag, arguments, quoting, literals,
//! mailbox names in modified UTF-7, the chunks to send around `+` continuations), [`Command::name`] and
//! [`Command::redacted`] (the command as one log line without credentials).
//!
//! Must never: put a credential in a log line; put CR, LF or 8-bit bytes anywhere but inside a literal;
//! send a `{n+}` literal unless the caller says the server advertised LITERAL+; send a SASL initial
//! response on the command line unless the caller says the server advertised SASL-IR. Tags come from
//! the session and are written as given (they must be `ASTRING-CHAR`s other than `+`).
//!
//! Implements the command syntax of RFC 3501 sections 6.1 to 6.4 and 9 (CAPABILITY, NOOP, LOGOUT,
//! STARTTLS, AUTHENTICATE, LOGIN, SELECT, EXAMINE, LIST, STATUS, CLOSE, UID FETCH, UID SEARCH) and
//! section 7.5 (continuations); RFC 2971 section 3.1 (ID); RFC 2342 section 5 (NAMESPACE); RFC 2177
//! section 3 (IDLE); RFC 3691 section 3 (UNSELECT); RFC 4959 section 3 (SASL-IR, `=` for an empty
//! initial response); RFC 5161 section 3.1 (ENABLE); RFC 6154 section 5.1 (LIST RETURN (SPECIAL-USE));
//! RFC 7162 sections 3.1.4 (CHANGEDSINCE), 3.1.5 (SEARCH MODSEQ), 3.1.8 (SELECT CONDSTORE), 3.2.5
//! (SELECT QRESYNC) and 3.2.6 (VANISHED fetch modifier); RFC 7888 (LITERAL+); RFC 8438 (STATUS SIZE).

mod writer;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use self::writer::{Target, Writer};
use super::mutf7;
use super::seqset::SequenceSet;
use crate::types::{ModSeq, Secret, UidValidity};

/// The line that ends IDLE (RFC 2177 section 3).
pub const IDLE_DONE: &[u8] = b"DONE\r\n";

/// A client command, before tagging and encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `CAPABILITY` (RFC 3501 section 6.1.1).
    Capability,
    /// `NOOP` (RFC 3501 section 6.1.2).
    Noop,
    /// `LOGOUT` (RFC 3501 section 6.1.3).
    Logout,
    /// `STARTTLS` (RFC 3501 section 6.2.1).
    StartTls,
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `IDLE` (RFC 2177); end it with [`IDLE_DONE`].
    Idle,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `CLOSE` (RFC 3501 section 6.4.2).
    Close,
    /// `ID NIL` or `ID ("name" "mailsync" ...)` (RFC 2971). An empty list is sent as `NIL`.
    Id(Option<Vec<(String, String)>>),
    /// `LOGIN user password` (RFC 3501 section 6.2.3).
    Login {
        /// The user name.
        user: String,
        /// The password; a literal whenever it holds `"`, `\`, CR, LF, a control or an 8-bit byte.
        password: Secret<String>,
    },
    /// `AUTHENTICATE mechanism [initial-response]` (RFC 3501 section 6.2.2, RFC 4959).
    Authenticate {
        /// The SASL mechanism, e.g. `PLAIN` or `XOAUTH2`.
        mechanism: String,
        /// The raw (not base64) initial response. It goes on the command line, base64-encoded (`=` when
        /// empty), only with [`EncodeOptions::sasl_ir`]; otherwise the session sends it after the
        /// server's `+`, using [`sasl_response`].
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// `ENABLE cap ...` (RFC 5161).
    Enable(Vec<String>),
    /// `LIST reference pattern [RETURN (SPECIAL-USE)]` (RFC 3501 section 6.3.8, RFC 6154).
    List {
        /// The reference name, usually empty; modified-UTF-7-encoded.
        reference: String,
        /// The mailbox pattern; `*` and `%` are wildcards; modified-UTF-7-encoded.
        pattern: String,
        /// Ask for special-use attributes (`\Sent`, `\Trash`, ...).
        return_special_use: bool,
    },
    /// `STATUS mailbox (items)` (RFC 3501 section 6.3.10).
    Status {
        /// The mailbox name.
        mailbox: MailboxName,
        /// The items to ask for.
        items: Vec<StatusItem>,
    },
    /// `SELECT mailbox [(CONDSTORE)|(QRESYNC (...))]` (RFC 3501 section 6.3.1, RFC 7162).
    Select {
        /// The mailbox name.
        mailbox: MailboxName,
        /// Send the CONDSTORE select parameter (omitted when `qresync` is given, which implies it).
        condstore: bool,
        /// Send the QRESYNC select parameter (QRESYNC must have been ENABLEd).
        qresync: Option<QresyncParams>,
    },
    /// `EXAMINE`: like [`Command::Select`], read-only (RFC 3501 section 6.3.2).
    Examine {
        /// The mailbox name.
        mailbox: MailboxName,
        /// Send the CONDSTORE select parameter (omitted when `qresync` is given, which implies it).
        condstore: bool,
        /// Send the QRESYNC select parameter (QRESYNC must have been ENABLEd).
        qresync: Option<QresyncParams>,
    },
    /// `UID FETCH set (items) [(CHANGEDSINCE n [VANISHED])]` (RFC 3501 section 6.4.8, RFC 7162).
    UidFetch {
        /// The UIDs to fetch.
        set: SequenceSet,
        /// The data items to fetch.
        items: Vec<FetchAttr>,
        /// Only messages whose mod-sequence is higher (RFC 7162 section 3.1.4).
        changed_since: Option<ModSeq>,
        /// Also report expunged UIDs as VANISHED (RFC 7162 section 3.2.6); servers require
        /// `changed_since` with it.
        vanished: bool,
    },
    /// `UID SEARCH criteria` (RFC 3501 section 6.4.4).
    UidSearch {
        /// What to search for.
        criteria: SearchKey,
    },
}

/// A mailbox name as a command names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MailboxName {
    /// A name in UTF-8, sent in modified UTF-7 (INBOX, in any case, as `INBOX`).
    Utf8(String),
    /// The name exactly as the server listed it: a name that is not valid modified UTF-7 cannot be rebuilt
    /// from its (lossy) decoding, so it is sent back as the server spelled it.
    Wire(Vec<u8>),
}

impl From<String> for MailboxName {
    fn from(name: String) -> Self {
        MailboxName::Utf8(name)
    }
}

impl From<&str> for MailboxName {
    fn from(name: &str) -> Self {
        MailboxName::Utf8(name.to_owned())
    }
}

/// The QRESYNC select parameter (RFC 7162 section 3.2.5): what the client knew of the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QresyncParams {
    /// The UIDVALIDITY the cache belongs to.
    pub uidvalidity: UidValidity,
    /// The HIGHESTMODSEQ the cache is up to date with.
    pub modseq: ModSeq,
    /// The UIDs the client knows; must not contain `*` (RFC 7162 `known-uids`).
    pub known_uids: Option<SequenceSet>,
}

/// A STATUS data item (RFC 3501 section 6.3.10, RFC 7162 section 3.1.6, RFC 8438).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES`
    Messages,
    /// `RECENT`
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `HIGHESTMODSEQ` (CONDSTORE)
    HighestModSeq,
    /// `SIZE` (STATUS=SIZE)
    Size,
}

impl StatusItem {
    fn wire(self) -> &'static [u8] {
        match self {
            StatusItem::Messages => b"MESSAGES",
            StatusItem::Recent => b"RECENT",
            StatusItem::UidNext => b"UIDNEXT",
            StatusItem::UidValidity => b"UIDVALIDITY",
            StatusItem::Unseen => b"UNSEEN",
            StatusItem::HighestModSeq => b"HIGHESTMODSEQ",
            StatusItem::Size => b"SIZE",
        }
    }
}

/// A FETCH data item (RFC 3501 section 6.4.5, RFC 7162 section 3.1.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchAttr {
    /// `UID`
    Uid,
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `MODSEQ` (CONDSTORE)
    ModSeq,
    /// `BODY.PEEK[]`: the whole message, without setting `\Seen`.
    BodyPeek,
    /// `BODY.PEEK[HEADER]`: the header, without setting `\Seen`.
    BodyPeekHeader,
}

impl FetchAttr {
    fn wire(self) -> &'static [u8] {
        match self {
            FetchAttr::Uid => b"UID",
            FetchAttr::Flags => b"FLAGS",
            FetchAttr::InternalDate => b"INTERNALDATE",
            FetchAttr::Rfc822Size => b"RFC822.SIZE",
            FetchAttr::ModSeq => b"MODSEQ",
            FetchAttr::BodyPeek => b"BODY.PEEK[]",
            FetchAttr::BodyPeekHeader => b"BODY.PEEK[HEADER]",
        }
    }
}

/// A SEARCH key (RFC 3501 section 6.4.4, RFC 7162 section 3.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`
    All,
    /// `UID set`
    Uid(SequenceSet),
    /// `MODSEQ n`: messages whose mod-sequence is at least `n`.
    ModSeqSince(ModSeq),
    /// `NOT key`
    Not(Box<SearchKey>),
    /// All of the keys: written side by side, in parentheses when nested; empty means `ALL`.
    And(Vec<SearchKey>),
}

/// What the server advertised that changes how commands are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// LITERAL+ (RFC 7888): literals are `{n+}` and need no continuation.
    pub literal_plus: bool,
    /// SASL-IR (RFC 4959): the AUTHENTICATE initial response goes on the command line.
    pub sasl_ir: bool,
}

/// A command's bytes, split where the server's continuation must be awaited.
///
/// `chunks[0]` may be sent at once; each later chunk only after the server's `+` continuation request
/// (a synchronising literal, RFC 3501 section 7.5). With LITERAL+ there is a single chunk. The last
/// chunk ends with CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The chunks, in order; never empty.
    pub chunks: Vec<Vec<u8>>,
}

/// A SASL response sent after the server's `+` (RFC 3501 section 6.2.2): base64 and CRLF (an empty
/// response is an empty line).
pub fn sasl_response(data: &[u8]) -> Vec<u8> {
    let mut line = STANDARD.encode(data).into_bytes();
    line.extend_from_slice(b"\r\n");
    line
}

impl Command {
    /// The command tagged with `tag`, as bytes for a server that advertised what `opts` says.
    pub fn encode(&self, tag: &str, opts: EncodeOptions) -> Encoded {
        let mut w = Writer::new(Target::Wire { literal_plus: opts.literal_plus });
        self.write(tag, opts.sasl_ir, &mut w);
        Encoded { chunks: w.finish_wire() }
    }

    /// The command name as written on the wire: `"UID FETCH"`, `"LOGIN"`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capability => "CAPABILITY",
            Command::Noop => "NOOP",
            Command::Logout => "LOGOUT",
            Command::StartTls => "STARTTLS",
            Command::Namespace => "NAMESPACE",
            Command::Idle => "IDLE",
            Command::Unselect => "UNSELECT",
            Command::Close => "CLOSE",
            Command::Id(_) => "ID",
            Command::Login { .. } => "LOGIN",
            Command::Authenticate { .. } => "AUTHENTICATE",
            Command::Enable(_) => "ENABLE",
            Command::List { .. } => "LIST",
            Command::Status { .. } => "STATUS",
            Command::Select { .. } => "SELECT",
            Command::Examine { .. } => "EXAMINE",
            Command::UidFetch { .. } => "UID FETCH",
            Command::UidSearch { .. } => "UID SEARCH",
        }
    }

    /// The command as one log line without CRLF: the password and any SASL initial response are
    /// `<redacted>`, and literals are `<literal n bytes>`. Everything else reads as on the wire.
    pub fn redacted(&self, tag: &str) -> String {
        let mut w = Writer::new(Target::Log);
        self.write(tag, true, &mut w);
        w.finish_log()
    }

    fn write(&self, tag: &str, sasl_ir: bool, w: &mut Writer) {
        w.raw(tag.as_bytes());
        w.sp();
        w.raw(self.name().as_bytes());
        match self {
            Command::Capability
            | Command::Noop
            | Command::Logout
            | Command::StartTls
            | Command::Namespace
            | Command::Idle
            | Command::Unselect
            | Command::Close => {}
            Command::Id(params) => write_id(w, params.as_deref()),
            Command::Login { user, password } => {
                w.sp();
                w.astring(user.as_bytes());
                w.sp();
                w.secret_astring(password.expose().as_bytes());
            }
            Command::Authenticate { mechanism, initial_response } => {
                w.sp();
                w.astring(mechanism.as_bytes());
                if let (true, Some(response)) = (sasl_ir, initial_response) {
                    w.sp();
                    let response = response.expose();
                    if response.is_empty() {
                        w.secret_raw(b"=");
                    } else {
                        w.secret_raw(STANDARD.encode(response).as_bytes());
                    }
                }
            }
            Command::Enable(capabilities) => {
                for capability in capabilities {
                    w.sp();
                    w.astring(capability.as_bytes());
                }
            }
            Command::List { reference, pattern, return_special_use } => {
                w.sp();
                write_mailbox(w, reference);
                w.sp();
                w.list_mailbox(mutf7::encode(pattern).as_bytes());
                if *return_special_use {
                    w.raw(b" RETURN (SPECIAL-USE)");
                }
            }
            Command::Status { mailbox, items } => {
                w.sp();
                write_mailbox_name(w, mailbox);
                w.raw(b" (");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        w.sp();
                    }
                    w.raw(item.wire());
                }
                w.raw(b")");
            }
            Command::Select { mailbox, condstore, qresync }
            | Command::Examine { mailbox, condstore, qresync } => {
                w.sp();
                write_mailbox_name(w, mailbox);
                write_select_params(w, *condstore, qresync.as_ref());
            }
            Command::UidFetch { set, items, changed_since, vanished } => {
                w.sp();
                w.display(set);
                w.raw(b" (");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        w.sp();
                    }
                    w.raw(item.wire());
                }
                w.raw(b")");
                write_fetch_modifiers(w, *changed_since, *vanished);
            }
            Command::UidSearch { criteria } => {
                w.sp();
                write_search_key(w, criteria, false);
            }
        }
    }
}

/// `mailbox = "INBOX" / astring`: INBOX in any case is sent as `INBOX`; other names are
/// modified-UTF-7-encoded first (RFC 3501 sections 5.1 and 5.1.3).
fn write_mailbox(w: &mut Writer, name: &str) {
    if name.eq_ignore_ascii_case("INBOX") {
        w.raw(b"INBOX");
    } else {
        w.astring(mutf7::encode(name).as_bytes());
    }
}

/// A [`MailboxName`]: UTF-8 as [`write_mailbox`] does, wire bytes as an astring of exactly those bytes.
fn write_mailbox_name(w: &mut Writer, name: &MailboxName) {
    match name {
        MailboxName::Utf8(name) => write_mailbox(w, name),
        MailboxName::Wire(bytes) => w.astring(bytes),
    }
}

/// `id_params_list = "(" #(string SPACE nstring) ")" / nil` (RFC 2971 section 4).
fn write_id(w: &mut Writer, params: Option<&[(String, String)]>) {
    match params {
        None | Some([]) => w.raw(b" NIL"),
        Some(params) => {
            w.raw(b" (");
            for (i, (field, value)) in params.iter().enumerate() {
                if i > 0 {
                    w.sp();
                }
                w.string(field.as_bytes());
                w.sp();
                w.string(value.as_bytes());
            }
            w.raw(b")");
        }
    }
}

/// `select-params`: `(CONDSTORE)` (RFC 7162 section 3.1.8) or
/// `(QRESYNC (uidvalidity mod-sequence [known-uids]))` (RFC 7162 section 3.2.5).
fn write_select_params(w: &mut Writer, condstore: bool, qresync: Option<&QresyncParams>) {
    match qresync {
        Some(q) => {
            w.raw(b" (QRESYNC (");
            w.display(q.uidvalidity);
            w.sp();
            w.display(q.modseq);
            if let Some(known) = &q.known_uids {
                w.sp();
                w.display(known);
            }
            w.raw(b"))");
        }
        None if condstore => w.raw(b" (CONDSTORE)"),
        None => {}
    }
}

/// `fetch-modifiers`: `(CHANGEDSINCE n [VANISHED])` (RFC 7162 sections 3.1.4 and 3.2.6).
fn write_fetch_modifiers(w: &mut Writer, changed_since: Option<ModSeq>, vanished: bool) {
    match (changed_since, vanished) {
        (None, false) => {}
        (Some(modseq), vanished) => {
            w.raw(b" (CHANGEDSINCE ");
            w.display(modseq);
            if vanished {
                w.raw(b" VANISHED");
            }
            w.raw(b")");
        }
        (None, true) => w.raw(b" (VANISHED)"),
    }
}

/// `search-key` (RFC 3501 section 9, RFC 7162 section 3.1.5). A conjunction is written side by side at
/// the top level and in parentheses when `nested` (under NOT or inside another conjunction).
fn write_search_key(w: &mut Writer, key: &SearchKey, nested: bool) {
    match key {
        SearchKey::All => w.raw(b"ALL"),
        SearchKey::Uid(set) => {
            w.raw(b"UID ");
            w.display(set);
        }
        SearchKey::ModSeqSince(modseq) => {
            w.raw(b"MODSEQ ");
            w.display(modseq);
        }
        SearchKey::Not(inner) => {
            w.raw(b"NOT ");
            write_search_key(w, inner, true);
        }
        SearchKey::And(keys) => match keys.as_slice() {
            [] => w.raw(b"ALL"),
            [only] => write_search_key(w, only, nested),
            keys => {
                if nested {
                    w.raw(b"(");
                }
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        w.sp();
                    }
                    write_search_key(w, key, true);
                }
                if nested {
                    w.raw(b")");
                }
            }
        },
    }
}

#[cfg(test)]
mod tests;
