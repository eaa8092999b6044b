//! A protocol trace users can attach to a bug report, sans I/O: both directions of an IMAP, POP3 or SMTP
//! connection as plain-text records, with every secret removed and message content left out unless asked
//! for; and reading such a trace back, so that it can be replayed through the sessions as a regression test.
//!
//! Owns: [`Recorder`] (bytes in, [`Record`]s out: a line each, `C:` sent and `S:` received, or what stands
//! for a body left out), the per-protocol rules of what a line may show (`imap`, `pop3`, `smtp`), the
//! secrets a connection sent and their removal from every line (`secrets`), message content per [`Content`]
//! (`content`), the text format (`format`) and reading it back (`read`).
//! Must never: let a password, an OAuth2 token or a SASL response (nor their base64 forms) into a record, in
//! either direction, whatever the server answers; show a client line it does not recognise as a command this
//! client sends (unknown lines are redacted, not guessed harmless); show message content beyond what
//! [`Content`] allows; hold more than a bounded buffer per connection; do I/O or read a clock (the engine
//! writes the records, with time stamps, to the file).
//!
//! RFC 3501 (IMAP), RFC 1939 and 5034 (POP3, AUTH), RFC 5321 and 4954 (SMTP, AUTH), RFC 4648 (base64); each
//! module names its sections.

mod content;
mod display;
pub mod format;
mod imap;
mod pop3;
pub mod read;
mod secrets;
mod smtp;
mod split;

pub use content::filler;
pub use format::{escape, unescape, Kind};
pub use read::{read, Conversation, ReadError, Turn};

use display::Display;
use secrets::Secrets;
use split::{Splitter, Unit};

/// The literal an IMAP line announces at its end (RFC 3501 section 4.3, RFC 7888): its size, and whether it
/// is non-synchronising (`{N+}`, sent without waiting for the server's `+`).
pub fn announced_literal(line: &[u8]) -> Option<(u64, bool)> {
    let size = split::literal_at_end(line)?;
    Some((size, line.ends_with(b"+}")))
}

/// Which protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// IMAP4rev1.
    Imap,
    /// POP3.
    Pop3,
    /// SMTP submission.
    Smtp,
}

impl Protocol {
    /// The lowercase name used in trace labels and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
        }
    }

    /// The protocol a lowercase name names.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "imap" => Some(Protocol::Imap),
            "pop3" => Some(Protocol::Pop3),
            "smtp" => Some(Protocol::Smtp),
            _ => None,
        }
    }
}

/// How much of a message a trace keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Content {
    /// Each body as `<N bytes>` with the names of its first header fields.
    #[default]
    None,
    /// The header section of each message as sent, the rest as `<N bytes>`.
    Headers,
    /// Everything (what a replay needs to reproduce the bodies).
    Full,
}

impl Content {
    /// The word used on the command line and in the trace's first line.
    pub fn as_str(self) -> &'static str {
        match self {
            Content::None => "none",
            Content::Headers => "headers",
            Content::Full => "full",
        }
    }
}

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From mailsync to the server (`C`).
    Client,
    /// From the server to mailsync (`S`).
    Server,
}

/// One line of a trace, before its time stamp and connection label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Bytes as sent or received, secrets replaced by `<redacted>`.
    Data {
        /// Which way.
        dir: Direction,
        /// The bytes, without the line's CRLF.
        bytes: Vec<u8>,
        /// Whether a CRLF ended them (`C:`/`S:`); otherwise a part (`C~`/`S~`).
        end: bool,
    },
    /// Message content left out (`C=`/`S=`).
    Elided {
        /// Which way.
        dir: Direction,
        /// How many bytes were left out.
        bytes: u64,
        /// The names of the header fields the message began with (`none` only).
        headers: Vec<String>,
    },
}

/// The rules of one protocol: which bytes of each side a trace shows.
trait Policy: std::fmt::Debug + Send {
    /// Client bytes; returns the size of a literal the line announced (IMAP).
    fn client(&mut self, unit: Unit<'_>, out: &mut Display, secrets: &mut Secrets) -> u64;
    /// Server bytes; returns the size of a literal the line announced (IMAP).
    fn server(&mut self, unit: Unit<'_>, out: &mut Display) -> u64;
}

/// One connection's trace in the making: feed it what was sent and received, in the order it happened.
#[derive(Debug)]
pub struct Recorder {
    policy: Box<dyn Policy>,
    secrets: Secrets,
    client: (Splitter, Display),
    server: (Splitter, Display),
}

impl Recorder {
    /// A connection speaking `protocol`, keeping `content` of its messages.
    pub fn new(protocol: Protocol, content: Content) -> Recorder {
        let policy: Box<dyn Policy> = match protocol {
            Protocol::Imap => Box::new(imap::Imap::new(content)),
            Protocol::Pop3 => Box::new(pop3::Pop3::new(content)),
            Protocol::Smtp => Box::new(smtp::Smtp::new(content)),
        };
        Recorder {
            policy,
            secrets: Secrets::default(),
            client: (Splitter::default(), Display::new(Direction::Client)),
            server: (Splitter::default(), Display::new(Direction::Server)),
        }
    }

    /// Bytes mailsync sent; the records they complete.
    pub fn client(&mut self, bytes: &[u8]) -> Vec<Record> {
        let (split, display) = &mut self.client;
        let (policy, secrets) = (&mut self.policy, &mut self.secrets);
        split.feed(bytes, &mut |u| policy.client(u, display, secrets));
        self.take()
    }

    /// Bytes the server sent; the records they complete.
    pub fn server(&mut self, bytes: &[u8]) -> Vec<Record> {
        let (split, display) = &mut self.server;
        let policy = &mut self.policy;
        split.feed(bytes, &mut |u| policy.server(u, display));
        self.take()
    }

    /// The connection ended: what is left of unfinished lines, as parts.
    pub fn finish(&mut self) -> Vec<Record> {
        let (policy, secrets) = (&mut self.policy, &mut self.secrets);
        let (split, display) = &mut self.client;
        split.finish(&mut |u| policy.client(u, display, secrets));
        display.flush_part();
        let (split, display) = &mut self.server;
        split.finish(&mut |u| policy.server(u, display));
        display.flush_part();
        self.take()
    }

    /// Both sides' records so far, each line cleaned of every secret learned (client records first: a
    /// call feeds one side only, so the order of events is kept).
    fn take(&mut self) -> Vec<Record> {
        let mut records = self.client.1.take();
        records.extend(self.server.1.take());
        for r in &mut records {
            match r {
                Record::Data { bytes, .. } => *bytes = self.secrets.scrub(bytes),
                Record::Elided { headers, .. } => {
                    for name in headers {
                        let clean = self.secrets.scrub(name.as_bytes());
                        if clean != name.as_bytes() {
                            *name = String::from_utf8_lossy(&clean).into_owned();
                        }
                    }
                }
            }
        }
        records
    }
}

/// What the protocol modules' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Content, Protocol, Recorder};

    /// Feeds a conversation (`C`/`S` steps, bytes as sent) to a recorder and renders what the trace shows,
    /// one `KIND TEXT` string per record.
    pub(crate) fn rendered(protocol: Protocol, content: Content, steps: &[(char, &[u8])]) -> Vec<String> {
        let mut r = Recorder::new(protocol, content);
        let mut out = Vec::new();
        for (side, bytes) in steps {
            out.extend(if *side == 'C' { r.client(bytes) } else { r.server(bytes) });
        }
        out.extend(r.finish());
        out.iter()
            .map(|rec| {
                let (kind, text) = rec.render();
                format!("{} {text}", kind.as_str())
            })
            .collect()
    }
}
