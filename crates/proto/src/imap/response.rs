//! Typed IMAP server responses, as the parsers in [`super::parse`] produce them.
//!
//! Owns: the data types for every response the engine relies on (greeting, tagged and untagged
//! status with response codes, CAPABILITY, LIST/LSUB/XLIST, STATUS, FLAGS, EXISTS, RECENT, EXPUNGE,
//! FETCH, SEARCH, ESEARCH, VANISHED, ENABLED, ID, NAMESPACE, continuation requests) and small
//! accessors on them.
//!
//! Must never: parse (that is [`super::parse`]), or decode mailbox names (they stay raw bytes; the
//! caller decodes modified UTF-7 with [`super::mutf7`]). Numbers are the newtypes of [`crate::types`].
//!
//! RFC 3501 section 7 (server responses), 7.1 (response codes); RFC 7162 sections 3.1 and 3.2
//! (HIGHESTMODSEQ, NOMODSEQ, MODIFIED, MODSEQ, VANISHED); RFC 4731 (ESEARCH); RFC 6154 (SPECIAL-USE
//! attributes); RFC 5161 (ENABLED); RFC 2971 (ID); RFC 2342 (NAMESPACE); RFC 4315 (APPENDUID,
//! COPYUID, UIDNOTSTICKY); RFC 5530 (the response codes from UNAVAILABLE to NONEXISTENT).

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use bytes::Bytes;

use super::seqset::SequenceSet;
use crate::types::{ModSeq, SeqNum, Uid, UidValidity};

/// Any one server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+ ...`: the server waits for more of a command.
    Continuation(Continuation),
    /// `tag OK|NO|BAD ...`: a command completed.
    Tagged(Tagged),
    /// `* ...`: data or status not tied to a tag.
    Untagged(Untagged),
}

/// A continuation request (RFC 3501 section 7.5): `+ text`, `+ base64`, a bare `+` or `+` without a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// What follows `+ ` up to the line end, as sent (may be empty).
    pub data: Bytes,
}

impl Continuation {
    /// The data as text (lossy UTF-8).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }

    /// The data decoded as a base64 SASL challenge; `None` when it is not base64. An empty
    /// continuation is an empty challenge.
    pub fn decode_base64(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(self.data.as_ref()).ok()
    }
}

/// The outcome of a tagged or untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The command succeeded.
    Ok,
    /// The command failed (operational error).
    No,
    /// The command was not understood (protocol error).
    Bad,
}

impl Status {
    /// The word on the wire: `OK`, `NO` or `BAD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tagged completion (RFC 3501 section 7.1): `tag SP (OK / NO / BAD) SP resp-text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// The tag of the command this completes.
    pub tag: String,
    /// OK, NO or BAD.
    pub status: Status,
    /// The bracketed response code, if any.
    pub code: Option<Code>,
    /// The human-readable text.
    pub text: String,
}

/// The keyword of an untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `* OK`
    Ok,
    /// `* NO`: a warning.
    No,
    /// `* BAD`: a protocol error not tied to a command.
    Bad,
    /// `* PREAUTH` (greeting only).
    PreAuth,
    /// `* BYE`: the server is closing the connection.
    Bye,
}

/// An untagged status response (RFC 3501 sections 7.1.1 to 7.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// OK, NO, BAD, PREAUTH or BYE.
    pub kind: StatusKind,
    /// The bracketed response code, if any.
    pub code: Option<Code>,
    /// The human-readable text.
    pub text: String,
}

/// What a server greeting says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GreetingKind {
    /// Ready; not authenticated.
    Ok,
    /// Already authenticated.
    PreAuth,
    /// Refused; the server closes the connection.
    Bye,
}

/// The server greeting (RFC 3501 section 7.1, `greeting`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// OK, PREAUTH or BYE.
    pub kind: GreetingKind,
    /// The bracketed response code, typically CAPABILITY.
    pub code: Option<Code>,
    /// The human-readable text.
    pub text: String,
}

/// A response code (RFC 3501 section 7.1 and the extensions listed in the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// ALERT: the text must be shown to the user.
    Alert,
    /// PARSE: the server could not parse a message's headers.
    Parse,
    /// READ-ONLY: the mailbox is selected read-only.
    ReadOnly,
    /// READ-WRITE: the mailbox is selected read-write.
    ReadWrite,
    /// TRYCREATE: the target mailbox does not exist but could be created.
    TryCreate,
    /// UIDNEXT n: the next UID the mailbox will assign.
    UidNext(Uid),
    /// UIDVALIDITY n.
    UidValidity(UidValidity),
    /// UNSEEN n: the first unseen message's sequence number.
    Unseen(SeqNum),
    /// PERMANENTFLAGS (...): the flags that can be stored; `\*` means new keywords are allowed.
    PermanentFlags(Vec<Flag>),
    /// HIGHESTMODSEQ n (RFC 7162).
    HighestModSeq(ModSeq),
    /// NOMODSEQ: the mailbox has no persistent mod-sequences (RFC 7162).
    NoModSeq,
    /// CAPABILITY ...: the capabilities, sent with a greeting or a completion.
    Capability(Capabilities),
    /// BADCHARSET, with the charsets the server supports.
    BadCharset(Vec<String>),
    /// AUTHENTICATIONFAILED (RFC 5530).
    AuthenticationFailed,
    /// AUTHORIZATIONFAILED (RFC 5530).
    AuthorizationFailed,
    /// UNAVAILABLE: a temporary server failure (RFC 5530).
    Unavailable,
    /// EXPIRED: the credentials expired (RFC 5530).
    Expired,
    /// PRIVACYREQUIRED: the operation needs TLS (RFC 5530).
    PrivacyRequired,
    /// CONTACTADMIN (RFC 5530).
    ContactAdmin,
    /// NOPERM: no access (RFC 5530).
    NoPerm,
    /// INUSE: the mailbox is in use (RFC 5530).
    InUse,
    /// EXPUNGEISSUED (RFC 5530).
    ExpungeIssued,
    /// CORRUPTION (RFC 5530).
    Corruption,
    /// SERVERBUG (RFC 5530).
    ServerBug,
    /// CLIENTBUG (RFC 5530).
    ClientBug,
    /// CANNOT (RFC 5530).
    Cannot,
    /// LIMIT (RFC 5530).
    Limit,
    /// OVERQUOTA (RFC 5530).
    OverQuota,
    /// ALREADYEXISTS (RFC 5530).
    AlreadyExists,
    /// NONEXISTENT (RFC 5530).
    NonExistent,
    /// CLOSED: the previously selected mailbox is now closed (RFC 7162).
    Closed,
    /// UIDNOTSTICKY (RFC 4315).
    UidNotSticky,
    /// APPENDUID uidvalidity uid-set (RFC 4315).
    AppendUid {
        /// The target mailbox's UIDVALIDITY.
        uid_validity: UidValidity,
        /// The UIDs given to the appended messages.
        uids: SequenceSet,
    },
    /// COPYUID uidvalidity source-set dest-set (RFC 4315).
    CopyUid {
        /// The target mailbox's UIDVALIDITY.
        uid_validity: UidValidity,
        /// The source UIDs.
        source: SequenceSet,
        /// The new UIDs, in the same order.
        dest: SequenceSet,
    },
    /// MODIFIED set: messages a conditional STORE did not change (RFC 7162).
    Modified(SequenceSet),
    /// Anything else, e.g. Exchange's `[Error=...]`, or a known code with arguments that do not parse.
    Other {
        /// The code's atom, as sent (e.g. `Error=...`, `MAILBOXID`).
        name: String,
        /// Whatever followed the atom and a space, up to `]`.
        args: Option<String>,
    },
}

/// A capability list (RFC 3501 section 7.2.1), as sent (case kept; lookups ignore case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(Vec<String>);

impl Capabilities {
    /// Wraps a list of capability atoms.
    pub fn new(caps: Vec<String>) -> Self {
        Capabilities(caps)
    }

    /// Whether `name` (e.g. `"IDLE"`, `"AUTH=PLAIN"`) is advertised, ignoring case.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Whether SASL mechanism `mechanism` is advertised as `AUTH=mechanism`.
    pub fn has_auth(&self, mechanism: &str) -> bool {
        self.auth_mechanisms().any(|m| m.eq_ignore_ascii_case(mechanism))
    }

    /// The advertised SASL mechanisms (the part after `AUTH=`).
    pub fn auth_mechanisms(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|c| {
            let (head, mech) = c.split_at_checked(5)?;
            head.eq_ignore_ascii_case("AUTH=").then_some(mech)
        })
    }

    /// Every capability atom, as sent.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// How many atoms there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A message flag (RFC 3501 section 2.3.2), matched as a whole atom ignoring case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// `\Recent`
    Recent,
    /// `\*` in PERMANENTFLAGS: new keywords may be created.
    Wildcard,
    /// A keyword such as `$Forwarded` or `NonJunk`, as sent.
    Keyword(String),
    /// Another system flag such as `\Unknown`, without its backslash.
    Extension(String),
}

impl Flag {
    /// The flag for one atom as sent (with its backslash for system flags).
    pub fn from_atom(atom: &str) -> Flag {
        let Some(name) = atom.strip_prefix('\\') else {
            return Flag::Keyword(atom.to_owned());
        };
        let known = [
            ("Seen", Flag::Seen),
            ("Answered", Flag::Answered),
            ("Flagged", Flag::Flagged),
            ("Deleted", Flag::Deleted),
            ("Draft", Flag::Draft),
            ("Recent", Flag::Recent),
            ("*", Flag::Wildcard),
        ];
        known
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, f)| f)
            .unwrap_or_else(|| Flag::Extension(name.to_owned()))
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Seen => f.write_str("\\Seen"),
            Flag::Answered => f.write_str("\\Answered"),
            Flag::Flagged => f.write_str("\\Flagged"),
            Flag::Deleted => f.write_str("\\Deleted"),
            Flag::Draft => f.write_str("\\Draft"),
            Flag::Recent => f.write_str("\\Recent"),
            Flag::Wildcard => f.write_str("\\*"),
            Flag::Keyword(k) => f.write_str(k),
            Flag::Extension(e) => write!(f, "\\{e}"),
        }
    }
}

/// A mailbox name attribute from LIST (RFC 3501 section 7.2.2, RFC 5258, RFC 6154), matched as a
/// whole atom ignoring case: `\AllMail` is `Other`, not `All`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MailboxAttr {
    /// `\Noinferiors`
    NoInferiors,
    /// `\Noselect`
    NoSelect,
    /// `\Marked`
    Marked,
    /// `\Unmarked`
    Unmarked,
    /// `\HasChildren`
    HasChildren,
    /// `\HasNoChildren`
    HasNoChildren,
    /// `\NonExistent`
    NonExistent,
    /// `\Subscribed`
    Subscribed,
    /// `\Remote`
    Remote,
    /// `\All` (SPECIAL-USE)
    All,
    /// `\Archive` (SPECIAL-USE)
    Archive,
    /// `\Drafts` (SPECIAL-USE)
    Drafts,
    /// `\Flagged` (SPECIAL-USE)
    Flagged,
    /// `\Junk` (SPECIAL-USE)
    Junk,
    /// `\Sent` (SPECIAL-USE)
    Sent,
    /// `\Trash` (SPECIAL-USE)
    Trash,
    /// `\Important` (RFC 8457)
    Important,
    /// Anything else, as sent (e.g. `\AllMail`, `\Spam` from XLIST).
    Other(String),
}

impl MailboxAttr {
    /// The attributes with a name of their own, and how they are written.
    const NAMED: [(MailboxAttr, &'static str); 17] = [
        (MailboxAttr::NoInferiors, "\\Noinferiors"),
        (MailboxAttr::NoSelect, "\\Noselect"),
        (MailboxAttr::Marked, "\\Marked"),
        (MailboxAttr::Unmarked, "\\Unmarked"),
        (MailboxAttr::HasChildren, "\\HasChildren"),
        (MailboxAttr::HasNoChildren, "\\HasNoChildren"),
        (MailboxAttr::NonExistent, "\\NonExistent"),
        (MailboxAttr::Subscribed, "\\Subscribed"),
        (MailboxAttr::Remote, "\\Remote"),
        (MailboxAttr::All, "\\All"),
        (MailboxAttr::Archive, "\\Archive"),
        (MailboxAttr::Drafts, "\\Drafts"),
        (MailboxAttr::Flagged, "\\Flagged"),
        (MailboxAttr::Junk, "\\Junk"),
        (MailboxAttr::Sent, "\\Sent"),
        (MailboxAttr::Trash, "\\Trash"),
        (MailboxAttr::Important, "\\Important"),
    ];

    /// The attribute for one atom as sent.
    pub fn from_atom(atom: &str) -> MailboxAttr {
        MailboxAttr::NAMED
            .into_iter()
            .find(|(_, k)| k.eq_ignore_ascii_case(atom))
            .map(|(a, _)| a)
            .unwrap_or_else(|| MailboxAttr::Other(atom.to_owned()))
    }

    /// Whether this is one of the RFC 6154 special-use attributes.
    pub fn is_special_use(&self) -> bool {
        matches!(
            self,
            MailboxAttr::All
                | MailboxAttr::Archive
                | MailboxAttr::Drafts
                | MailboxAttr::Flagged
                | MailboxAttr::Junk
                | MailboxAttr::Sent
                | MailboxAttr::Trash
        )
    }
}

/// The attribute as written on the wire (`\\Noselect`, `\\Sent`, or an unknown one as sent).
impl fmt::Display for MailboxAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let MailboxAttr::Other(s) = self {
            return f.write_str(s);
        }
        let name = MailboxAttr::NAMED.iter().find(|(a, _)| a == self).map_or("", |(_, n)| n);
        f.write_str(name)
    }
}

/// Which command's data a LIST-shaped response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// `* LIST`
    List,
    /// `* LSUB`
    Lsub,
    /// `* XLIST` (Gmail's pre-SPECIAL-USE form)
    Xlist,
}

/// One LIST, LSUB or XLIST response (RFC 3501 section 7.2.2, `mailbox-list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// LIST, LSUB or XLIST.
    pub kind: ListKind,
    /// The name attributes.
    pub attributes: Vec<MailboxAttr>,
    /// The hierarchy delimiter, or `None` for NIL (a flat namespace).
    pub delimiter: Option<char>,
    /// The mailbox name as sent (modified UTF-7 unless UTF8=ACCEPT is enabled).
    pub name: Vec<u8>,
}

impl ListItem {
    /// Whether the mailbox has attribute `attr`.
    pub fn has(&self, attr: &MailboxAttr) -> bool {
        self.attributes.contains(attr)
    }

    /// The first special-use attribute, if any.
    pub fn special_use(&self) -> Option<&MailboxAttr> {
        self.attributes.iter().find(|a| a.is_special_use())
    }

    /// Whether the name is INBOX (case-insensitive, RFC 3501 section 5.1).
    pub fn is_inbox(&self) -> bool {
        self.name.eq_ignore_ascii_case(b"INBOX")
    }
}

/// A STATUS response (RFC 3501 section 7.2.4; RFC 7162 HIGHESTMODSEQ; RFC 8438 SIZE; RFC 9051 DELETED).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    /// The mailbox name as sent.
    pub mailbox: Vec<u8>,
    /// MESSAGES
    pub messages: Option<u32>,
    /// RECENT
    pub recent: Option<u32>,
    /// UIDNEXT
    pub uid_next: Option<Uid>,
    /// UIDVALIDITY
    pub uid_validity: Option<UidValidity>,
    /// UNSEEN
    pub unseen: Option<u32>,
    /// HIGHESTMODSEQ; a server without persistent mod-sequences sends 0, kept as `None`.
    pub highest_modseq: Option<ModSeq>,
    /// SIZE, in octets.
    pub size: Option<u64>,
    /// DELETED
    pub deleted: Option<u32>,
}

/// The INTERNALDATE of a message (RFC 3501 section 9, `date-time`), kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalDate {
    /// The text between the quotes, e.g. `17-Jul-1996 02:44:25 -0700`.
    pub raw: String,
}

impl InternalDate {
    /// Seconds since the Unix epoch, or `None` when the text is not a valid `date-time`.
    pub fn timestamp(&self) -> Option<i64> {
        super::parse::date::date_time_timestamp(self.raw.as_bytes())
    }
}

/// Which part of a message a body section holds (RFC 3501 section 6.4.5, `section`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Section {
    /// `BODY[]` or `RFC822`: the whole message.
    Full,
    /// `BODY[HEADER]` or `RFC822.HEADER`.
    Header,
    /// `BODY[TEXT]` or `RFC822.TEXT`.
    Text,
    /// Any other section spec, as sent (e.g. `1.2`, `HEADER.FIELDS (FROM)`).
    Other(String),
}

/// One body section of a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySection {
    /// Which part.
    pub section: Section,
    /// The `<origin>` of a partial fetch.
    pub origin: Option<u32>,
    /// The bytes; a slice of the received frame, not a copy. `None` for NIL.
    pub data: Option<Bytes>,
}

/// A FETCH response (RFC 3501 section 7.4.2; RFC 7162 MODSEQ). Items not listed here are skipped and
/// their names kept in `skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The message's sequence number.
    pub seq: SeqNum,
    /// UID
    pub uid: Option<Uid>,
    /// FLAGS
    pub flags: Option<Vec<Flag>>,
    /// INTERNALDATE: `Some(None)` when the server sent NIL.
    pub internal_date: Option<Option<InternalDate>>,
    /// RFC822.SIZE
    pub rfc822_size: Option<u32>,
    /// MODSEQ
    pub modseq: Option<ModSeq>,
    /// BODY[...], RFC822, RFC822.HEADER, RFC822.TEXT, in the order sent.
    pub bodies: Vec<BodySection>,
    /// Names of the items that were skipped (e.g. `ENVELOPE`, `X-GM-LABELS`).
    pub skipped: Vec<String>,
    /// Items that did not follow the grammar and were stepped over, each named with what was wrong
    /// (e.g. `MODSEQ (mod-sequence must not be 0)`, `BODY[2] without a value`). The other items of the
    /// response are kept; a caller that relies on a malformed item must treat it as missing.
    pub malformed: Vec<String>,
    /// Whether a UID item was seen (a second one that disagrees voids `uid`).
    pub(crate) uid_seen: bool,
}

impl Fetch {
    /// An empty FETCH for message `seq`.
    pub fn new(seq: SeqNum) -> Self {
        Fetch {
            seq,
            uid: None,
            flags: None,
            internal_date: None,
            rfc822_size: None,
            modseq: None,
            bodies: Vec::new(),
            skipped: Vec::new(),
            malformed: Vec::new(),
            uid_seen: false,
        }
    }

    /// The first body section of kind `section` that is not NIL.
    pub fn body(&self, section: &Section) -> Option<&Bytes> {
        self.bodies.iter().filter(|b| &b.section == section).find_map(|b| b.data.as_ref())
    }
}

/// A SEARCH response (RFC 3501 section 7.2.5; RFC 7162 section 3.1.5 for the MODSEQ part).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// The numbers: UIDs after UID SEARCH, sequence numbers after SEARCH.
    pub numbers: Vec<NonZeroU32>,
    /// The highest mod-sequence of the matches, when the search used MODSEQ.
    pub modseq: Option<ModSeq>,
}

impl Search {
    /// The numbers as UIDs (after UID SEARCH).
    pub fn uids(&self) -> impl Iterator<Item = Uid> + '_ {
        self.numbers.iter().filter_map(|n| Uid::try_from(n.get()).ok())
    }

    /// The numbers as sequence numbers (after SEARCH).
    pub fn seqs(&self) -> impl Iterator<Item = SeqNum> + '_ {
        self.numbers.iter().filter_map(|n| SeqNum::try_from(n.get()).ok())
    }
}

/// An ESEARCH response (RFC 4731; RFC 7162 for MODSEQ).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ESearch {
    /// The tag of the command this answers (`(TAG "...")`).
    pub tag: Option<String>,
    /// Whether the numbers are UIDs.
    pub uid: bool,
    /// MIN
    pub min: Option<NonZeroU32>,
    /// MAX
    pub max: Option<NonZeroU32>,
    /// COUNT
    pub count: Option<u32>,
    /// ALL
    pub all: Option<SequenceSet>,
    /// MODSEQ
    pub modseq: Option<ModSeq>,
    /// Names of return items that were skipped.
    pub skipped: Vec<String>,
}

/// A VANISHED response (RFC 7162 section 3.2.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vanished {
    /// `(EARLIER)`: an answer to a FETCH or SELECT, not a fresh expunge.
    pub earlier: bool,
    /// The expunged UIDs.
    pub uids: SequenceSet,
}

/// One namespace (RFC 2342 section 5, `Namespace_Descr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDesc {
    /// The prefix as sent.
    pub prefix: Vec<u8>,
    /// The hierarchy delimiter, or `None` for NIL.
    pub delimiter: Option<char>,
}

/// A NAMESPACE response (RFC 2342 section 5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    /// The user's own namespaces.
    pub personal: Vec<NamespaceDesc>,
    /// Other users' namespaces.
    pub other_users: Vec<NamespaceDesc>,
    /// Shared namespaces.
    pub shared: Vec<NamespaceDesc>,
}

/// Untagged data or status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untagged {
    /// `* OK|NO|BAD|PREAUTH|BYE [code] text`
    Status(StatusResponse),
    /// `* CAPABILITY ...`
    Capability(Capabilities),
    /// `* LIST|LSUB|XLIST ...`
    List(ListItem),
    /// `* STATUS mailbox (...)`
    MailboxStatus(MailboxStatus),
    /// `* FLAGS (...)`
    Flags(Vec<Flag>),
    /// `* n EXISTS`
    Exists(u32),
    /// `* n RECENT`
    Recent(u32),
    /// `* n EXPUNGE`
    Expunge(SeqNum),
    /// `* n FETCH (...)`
    Fetch(Box<Fetch>),
    /// `* SEARCH ...`
    Search(Search),
    /// `* ESEARCH ...`
    ESearch(ESearch),
    /// `* VANISHED [(EARLIER)] uids`
    Vanished(Vanished),
    /// `* ENABLED ...`
    Enabled(Vec<String>),
    /// `* ID (...)` or `* ID NIL`: field/value pairs.
    Id(Option<Vec<(String, Option<String>)>>),
    /// `* NAMESPACE ...`
    Namespace(Namespaces),
    /// Any other untagged response, kept whole and not parsed further.
    Other {
        /// The response's keyword, upper-cased (`QUOTA`, `METADATA`, or `5 XYZ` style `XYZ`).
        name: String,
        /// The whole response as received.
        raw: Bytes,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_written_as_they_are_read() {
        for (attr, name) in MailboxAttr::NAMED {
            assert_eq!(attr.to_string(), name);
            assert_eq!(MailboxAttr::from_atom(&name.to_ascii_uppercase()), attr);
        }
        assert_eq!(MailboxAttr::from_atom("\\AllMail").to_string(), "\\AllMail");
    }
}
