//! The sans-I/O POP3 client session.
//!
//! Owns: [`Pop3Session`], which frames the server's bytes into responses, matches each response to
//! the oldest command awaiting one (POP3 has no tags), knows for each command whether a `+OK` is
//! followed by a multi-line body, tracks the protocol state and the capabilities, decides when a
//! queued command may go out (one at a time, or pipelined when the server advertised PIPELINING),
//! and answers AUTH continuations.
//!
//! Must never: do I/O or read a clock; copy a body more than once (bytes go from the caller's slice
//! through [`DotDecoder`] into the body); re-scan a partial response from its start on the next read;
//! grow a line or a body past [`Pop3Config`]'s caps; send a second command before the first is
//! answered unless PIPELINING was advertised; send anything behind STLS or AUTH before they finish;
//! accept bytes that arrived in clear behind the `+OK` to STLS.
//!
//! RFC 1939 sections 3 to 6 (states, responses, multi-line framing); RFC 2449 section 6.6
//! (PIPELINING); RFC 2595 section 4 (STLS: capabilities are forgotten after it); RFC 5034 section 4
//! (AUTH exchange, `*` to cancel).

use std::collections::VecDeque;
use std::fmt;

use bytes::{Bytes, BytesMut};

use super::capability::{parse_capabilities, Capabilities};
use super::command::{continuation_line, InitialResponse, Pop3Command};
use super::error::{lossy, Pop3Error};
use super::multiline::{Decoded, DotDecoder};
use super::response::{
    parse_continuation, parse_greeting, parse_status_line, Greeting, ResponseCode, StatusLine,
};
use crate::types::Secret;

/// Limits that protect the client from a hostile or broken server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pop3Config {
    /// The longest status, greeting or continuation line accepted, line end included. RFC 2449
    /// allows 512 octets; the default is generous.
    pub max_line: usize,
    /// The largest message (RETR body) accepted, after unstuffing.
    pub max_body: usize,
    /// The largest other multi-line body (LIST, UIDL, TOP, CAPA) accepted: listings a server has no reason
    /// to make huge (a million UIDL lines fit in 32 MiB).
    pub max_listing: usize,
}

impl Pop3Config {
    /// The cap on the multi-line body of `command`: a message for RETR, a listing for the others.
    fn body_cap(&self, command: &str) -> usize {
        if command == "RETR" {
            self.max_body
        } else {
            self.max_listing
        }
    }
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config { max_line: 8 * 1024, max_body: 64 * 1024 * 1024, max_listing: 32 * 1024 * 1024 }
    }
}

/// Identifies a command given to [`Pop3Session::send`]; its response carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(u64);

impl CommandId {
    /// The id as a number (1 for the first command of a session).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where the session stands (RFC 1939 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pop3State {
    /// Connected; the greeting has not arrived. Nothing is transmitted yet.
    AwaitingGreeting,
    /// Greeted; not logged in.
    Authorization,
    /// Logged in (PASS, APOP or AUTH succeeded).
    Transaction,
    /// QUIT was answered (the server entered UPDATE), or the greeting was `-ERR`.
    Closed,
}

/// What the session tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pop3Event {
    /// The server greeting (check `ok`: a `-ERR` greeting closes the session).
    Greeting(Greeting),
    /// The complete response to a command.
    Response {
        /// The command it answers.
        id: CommandId,
        /// `+OK` or `-ERR`.
        ok: bool,
        /// The extended response code, if any.
        code: Option<ResponseCode>,
        /// The status line's text.
        text: String,
        /// The unstuffed multi-line body (without the terminating `.` line), for a `+OK` to CAPA,
        /// LIST, UIDL (without argument), RETR and TOP; `None` otherwise.
        body: Option<Bytes>,
    },
    /// A `+` continuation during AUTH: answer with [`Pop3Session::auth_continue`] (or cancel with
    /// [`Pop3Session::auth_cancel`]). `text` is the challenge as sent, usually base64 (see
    /// [`crate::sasl::decode_base64_challenge`] and [`crate::sasl::decode_oauth_failure`]).
    Continuation {
        /// The AUTH command.
        id: CommandId,
        /// The challenge text after `+ `.
        text: String,
    },
}

/// Bytes to write to the connection. `Debug` shows only the redacted form.
#[derive(Clone)]
pub struct Transmit {
    /// The command these bytes belong to.
    pub id: CommandId,
    /// The exact bytes, CRLF included. May contain a credential: write them, never log them.
    pub bytes: Bytes,
    /// A one-line description for logs, credentials replaced by `<redacted>`.
    pub redacted: String,
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("id", &self.id)
            .field("len", &self.bytes.len())
            .field("redacted", &self.redacted)
            .finish()
    }
}

/// What the session must do when a command's response completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Capa,
    Stls,
    Auth,
    /// PASS or APOP: success enters TRANSACTION.
    LogIn,
    Quit,
    Plain,
}

#[derive(Debug)]
struct Queued {
    id: CommandId,
    name: &'static str,
    kind: Kind,
    multiline: bool,
    bytes: Bytes,
    redacted: String,
    deferred: Option<Secret<Vec<u8>>>,
}

#[derive(Debug)]
struct InFlight {
    id: CommandId,
    name: &'static str,
    kind: Kind,
    multiline: bool,
    deferred: Option<Secret<Vec<u8>>>,
}

impl Kind {
    /// STLS and AUTH are followed by something other than commands (a TLS handshake, SASL lines):
    /// they go out alone and nothing follows them until they are answered.
    fn barrier(self) -> bool {
        matches!(self, Kind::Stls | Kind::Auth)
    }
}

#[derive(Debug)]
struct Body {
    decoder: DotDecoder,
    command: InFlight,
    status: StatusLine,
}

/// A POP3 client session without I/O. Feed it the server's bytes with [`feed`](Self::feed), take
/// events with [`poll_event`](Self::poll_event), give it commands with [`send`](Self::send) and write
/// what [`poll_transmit`](Self::poll_transmit) returns.
///
/// ```
/// use mailsync_proto::pop3::{Pop3Command, Pop3Config, Pop3Event, Pop3Session};
/// let mut s = Pop3Session::new(Pop3Config::default());
/// s.feed(b"+OK Dovecot (Debian) ready.\r\n");
/// assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Greeting(_)))));
/// let id = s.send(Pop3Command::Stat).unwrap();
/// assert_eq!(&s.poll_transmit().unwrap().bytes[..], b"STAT\r\n");
/// s.feed(b"+OK 2 320\r\n");
/// let Ok(Some(Pop3Event::Response { id: got, ok: true, text, .. })) = s.poll_event() else { panic!() };
/// assert_eq!((got, text.as_str()), (id, "2 320"));
/// ```
#[derive(Debug)]
pub struct Pop3Session {
    config: Pop3Config,
    state: Pop3State,
    greeting: Option<Greeting>,
    capabilities: Capabilities,
    /// A line that has not seen its LF yet.
    line: BytesMut,
    /// The multi-line body being received, if any.
    body: Option<Body>,
    queue: VecDeque<Queued>,
    in_flight: VecDeque<InFlight>,
    /// SASL answers, sent ahead of any command.
    answers: VecDeque<Transmit>,
    events: VecDeque<Pop3Event>,
    error: Option<Pop3Error>,
    awaiting_answer: Option<CommandId>,
    quit_queued: bool,
    next_id: u64,
}

impl Pop3Session {
    /// A session for a connection that has just been opened (after the TLS handshake, for implicit
    /// TLS on port 995).
    pub fn new(config: Pop3Config) -> Self {
        Pop3Session {
            config,
            state: Pop3State::AwaitingGreeting,
            greeting: None,
            capabilities: Capabilities::default(),
            line: BytesMut::new(),
            body: None,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            answers: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
            awaiting_answer: None,
            quit_queued: false,
            next_id: 1,
        }
    }

    /// The protocol state.
    pub fn state(&self) -> Pop3State {
        self.state
    }

    /// The greeting, once received.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// The capabilities from the last successful CAPA (empty before one, and again after STLS).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether no command is queued, in flight or being received, and no SASL answer waits to go out.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty() && self.body.is_none() && self.answers.is_empty()
    }

    /// Takes bytes read from the connection. Complete responses become events; a partial line or
    /// body is kept and continued by the next call. A protocol error is reported by
    /// [`poll_event`](Self::poll_event) after the events that preceded it, and ends the session.
    pub fn feed(&mut self, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.ingest(data) {
            self.error = Some(e);
        }
    }

    /// The next event, `Ok(None)` when more bytes are needed, or the error that ended the session
    /// (returned again on every later call).
    pub fn poll_event(&mut self) -> Result<Option<Pop3Event>, Pop3Error> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(None),
        }
    }

    /// Queues a command and returns the id its response will carry. Arguments are checked here
    /// (CR, LF, NUL); APOP needs the greeting's timestamp, so it must wait for the greeting.
    pub fn send(&mut self, command: Pop3Command) -> Result<CommandId, Pop3Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.state == Pop3State::Closed || self.quit_queued {
            return Err(Pop3Error::Closed { command: command.name() });
        }
        let timestamp = self.greeting.as_ref().and_then(|g| g.timestamp.as_deref());
        if matches!(command, Pop3Command::Apop { .. }) && timestamp.is_none() {
            return Err(Pop3Error::ApopUnavailable);
        }
        let bytes = command.encode(timestamp)?;
        let kind = match &command {
            Pop3Command::Capa => Kind::Capa,
            Pop3Command::Stls => Kind::Stls,
            Pop3Command::Auth { .. } => Kind::Auth,
            Pop3Command::Pass(_) | Pop3Command::Apop { .. } => Kind::LogIn,
            Pop3Command::Quit => Kind::Quit,
            _ => Kind::Plain,
        };
        let id = CommandId(self.next_id);
        self.next_id += 1;
        self.quit_queued |= kind == Kind::Quit;
        let deferred = match &command {
            Pop3Command::Auth { initial: InitialResponse::AfterContinuation(ir), .. } => Some(ir.clone()),
            _ => None,
        };
        self.queue.push_back(Queued {
            id,
            name: command.name(),
            kind,
            multiline: command.multiline_ok(),
            bytes,
            redacted: command.redacted(),
            deferred,
        });
        Ok(id)
    }

    /// The next bytes to write, if any may go now: SASL answers first, then the next queued command
    /// when nothing is in flight, or, with PIPELINING advertised, when neither it nor anything in
    /// flight is STLS or AUTH. After the `+OK` to STLS, do the TLS handshake before writing more.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(answer) = self.answers.pop_front() {
            return Some(answer);
        }
        if self.error.is_some() || matches!(self.state, Pop3State::AwaitingGreeting | Pop3State::Closed) {
            return None;
        }
        let next = self.queue.front()?;
        let idle = self.in_flight.is_empty() && self.body.is_none();
        let may_pipeline = self.capabilities.pipelining()
            && !next.kind.barrier()
            && !self.in_flight.iter().any(|c| c.kind.barrier());
        if !idle && !may_pipeline {
            return None;
        }
        let q = self.queue.pop_front()?;
        self.in_flight.push_back(InFlight {
            id: q.id,
            name: q.name,
            kind: q.kind,
            multiline: q.multiline,
            deferred: q.deferred,
        });
        Some(Transmit { id: q.id, bytes: q.bytes, redacted: q.redacted })
    }

    /// Answers the pending AUTH continuation with `response` (base64-encoded here). An empty
    /// response sends an empty line, which is how a client acknowledges an XOAUTH2 error challenge.
    pub fn auth_continue(&mut self, response: Secret<Vec<u8>>) -> Result<(), Pop3Error> {
        let id = self.awaiting_answer.take().ok_or(Pop3Error::NoContinuationPending)?;
        self.answers.push_back(Transmit {
            id,
            bytes: continuation_line(&response),
            redacted: "<sasl response redacted>".to_owned(),
        });
        Ok(())
    }

    /// Cancels the pending AUTH exchange (RFC 5034 section 4: a line `*`); the server answers `-ERR`.
    pub fn auth_cancel(&mut self) -> Result<(), Pop3Error> {
        let id = self.awaiting_answer.take().ok_or(Pop3Error::NoContinuationPending)?;
        self.answers.push_back(Transmit {
            id,
            bytes: Bytes::from_static(b"*\r\n"),
            redacted: "*".to_owned(),
        });
        Ok(())
    }

    fn ingest(&mut self, mut data: &[u8]) -> Result<(), Pop3Error> {
        while !data.is_empty() {
            if let Some(body) = self.body.as_mut() {
                match body.decoder.decode(data) {
                    Ok(Decoded::NeedMore) => return Ok(()),
                    Ok(Decoded::Done(n)) => {
                        data = data.get(n..).unwrap_or_default();
                        if let Some(body) = self.body.take() {
                            self.complete(body.command, body.status, Some(body.decoder.finish()));
                        }
                    }
                    Err(_) => {
                        return Err(Pop3Error::ResponseTooLarge {
                            command: body.command.name,
                            limit: self.config.body_cap(body.command.name),
                        })
                    }
                }
                continue;
            }
            let Some(lf) = memchr::memchr(b'\n', data) else {
                if self.line.len() + data.len() > self.config.max_line {
                    return Err(Pop3Error::LineTooLong { limit: self.config.max_line });
                }
                self.line.extend_from_slice(data);
                return Ok(());
            };
            let (head, rest) = data.split_at(lf + 1);
            if self.line.len() + head.len() > self.config.max_line {
                return Err(Pop3Error::LineTooLong { limit: self.config.max_line });
            }
            let joined;
            let full: &[u8] = if self.line.is_empty() {
                head
            } else {
                self.line.extend_from_slice(head);
                joined = self.line.split().freeze();
                &joined
            };
            let content = full.strip_suffix(b"\n").unwrap_or(full);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            self.on_line(content, rest.len())?;
            data = rest;
        }
        Ok(())
    }

    /// One complete line outside a body. `behind` is how many bytes of this read follow it.
    fn on_line(&mut self, line: &[u8], behind: usize) -> Result<(), Pop3Error> {
        if self.state == Pop3State::AwaitingGreeting {
            let greeting = parse_greeting(line)?;
            self.state = if greeting.ok { Pop3State::Authorization } else { Pop3State::Closed };
            self.greeting = Some(greeting.clone());
            self.events.push_back(Pop3Event::Greeting(greeting));
            return Ok(());
        }
        let Some(front) = self.in_flight.front_mut() else {
            return Err(Pop3Error::UnexpectedResponse { line: lossy(line) });
        };
        if let Some(text) = parse_continuation(line) {
            if front.kind != Kind::Auth {
                return Err(Pop3Error::UnexpectedContinuation { command: front.name, line: lossy(line) });
            }
            match front.deferred.take() {
                Some(response) => self.answers.push_back(Transmit {
                    id: front.id,
                    bytes: continuation_line(&response),
                    redacted: "<sasl response redacted>".to_owned(),
                }),
                None => {
                    self.awaiting_answer = Some(front.id);
                    self.events.push_back(Pop3Event::Continuation { id: front.id, text });
                }
            }
            return Ok(());
        }
        let status = parse_status_line(line)?;
        let Some(command) = self.in_flight.pop_front() else {
            return Err(Pop3Error::UnexpectedResponse { line: lossy(line) });
        };
        if status.ok && command.multiline {
            let cap = self.config.body_cap(command.name);
            self.body = Some(Body { decoder: DotDecoder::new(cap), command, status });
            return Ok(());
        }
        if status.ok && command.kind == Kind::Stls && behind > 0 {
            return Err(Pop3Error::DataAfterStls { bytes: behind });
        }
        self.complete(command, status, None);
        Ok(())
    }

    fn complete(&mut self, command: InFlight, status: StatusLine, body: Option<Bytes>) {
        match command.kind {
            Kind::Capa if status.ok => {
                self.capabilities = parse_capabilities(body.as_deref().unwrap_or_default());
            }
            Kind::Stls if status.ok => self.capabilities = Capabilities::default(),
            Kind::LogIn | Kind::Auth if status.ok => self.state = Pop3State::Transaction,
            Kind::Quit => self.state = Pop3State::Closed,
            _ => {}
        }
        if command.kind == Kind::Auth {
            self.awaiting_answer = None;
        }
        self.events.push_back(Pop3Event::Response {
            id: command.id,
            ok: status.ok,
            code: status.code,
            text: status.text,
            body,
        });
    }
}
