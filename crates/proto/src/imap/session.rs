//! The sans-I/O IMAP client session.
//!
//! Owns: the connection's receive buffer and framer, tag generation, matching each tagged
//! completion to its command, the connection state (not authenticated, authenticated, selected,
//! logout), the server's capabilities, the transmit queue with its rules (a synchronising literal's
//! later chunks wait for the server's `+`; nothing else is sent while AUTHENTICATE, IDLE or STARTTLS
//! owns the connection), the AUTHENTICATE exchange (the initial response sent after the first `+`
//! when the server lacks SASL-IR; challenges handed to the caller) and IDLE's `DONE`.
//!
//! Must never: do I/O, sleep or read a clock; show the caller a continuation request that is the
//! session's own business (literals, initial responses); trust bytes that arrived behind a STARTTLS
//! OK (response injection, RFC 3501 section 6.2.1); act on bytes after the connection is logged out.
//!
//! Usage: [`ImapSession::feed`] what the socket gave, drain [`ImapSession::poll_event`], queue
//! commands with [`ImapSession::send`], and write out everything [`ImapSession::poll_transmit`]
//! returns. After the STARTTLS completion, do the TLS handshake before calling `poll_transmit` again.
//!
//! RFC 3501 sections 2.2.1 and 5.5 (tags, pipelining), 3 (states), 6.2.1 (STARTTLS), 6.2.2
//! (AUTHENTICATE), 7.1.5 (BYE), 7.2.1 (CAPABILITY), 7.5 (continuations); RFC 4959 (SASL-IR);
//! RFC 7888 (LITERAL+); RFC 2177 (IDLE); RFC 5161 (ENABLED).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::command::{sasl_response, Command, EncodeOptions, IDLE_DONE};
use super::error::{excerpt, ImapError};
use super::frame::{Framer, DEFAULT_MAX_RESPONSE};
use super::parse::{parse_greeting, parse_response};
use super::response::{
    Capabilities, Code, Continuation, Greeting, GreetingKind, Response, Status, StatusKind, StatusResponse,
    Tagged, Untagged,
};
use crate::types::Secret;

/// How a session is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The cap on one server response, literal included.
    pub max_response_size: usize,
    /// The letters before each tag's number (`A` gives `A0001`, `A0002`, ...).
    pub tag_prefix: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { max_response_size: DEFAULT_MAX_RESPONSE, tag_prefix: "A".to_owned() }
    }
}

/// The connection state (RFC 3501 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Before the greeting, and after an OK greeting until LOGIN or AUTHENTICATE succeeds.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
    /// The server said BYE or LOGOUT completed.
    Logout,
}

/// Identifies a command given to [`ImapSession::send`]; its completion carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(u64);

impl CommandId {
    /// The command's sequence number in this session, from 1.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A command's tagged completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Which command.
    pub id: CommandId,
    /// Its tag.
    pub tag: String,
    /// Its name, e.g. `"UID FETCH"`.
    pub command: &'static str,
    /// OK, NO or BAD.
    pub status: Status,
    /// The response code, if any.
    pub code: Option<Code>,
    /// The server's text.
    pub text: String,
}

/// What the session tells its caller, in the order the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server greeting (the first response).
    Greeting(Greeting),
    /// Untagged data or status (except BYE), solicited or not.
    Untagged(Untagged),
    /// The server is closing the connection.
    Bye(StatusResponse),
    /// A server challenge during AUTHENTICATE; answer with [`ImapSession::authenticate_continue`].
    AuthChallenge {
        /// The AUTHENTICATE command.
        id: CommandId,
        /// The challenge decoded from base64, or `None` when it was not base64.
        challenge: Option<Vec<u8>>,
        /// The continuation as sent.
        raw: Continuation,
    },
    /// The server accepted IDLE; end it with [`ImapSession::idle_done`].
    Idling {
        /// The IDLE command.
        id: CommandId,
    },
    /// A command completed.
    Done(Completion),
}

/// What a command does to the session when it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auth,
    Select,
    Close,
    Logout,
    StartTls,
    Idle,
    Other,
}

impl Kind {
    fn of(cmd: &Command) -> Kind {
        match cmd {
            Command::Login { .. } | Command::Authenticate { .. } => Kind::Auth,
            Command::Select { .. } | Command::Examine { .. } => Kind::Select,
            Command::Close | Command::Unselect => Kind::Close,
            Command::Logout => Kind::Logout,
            Command::StartTls => Kind::StartTls,
            Command::Idle => Kind::Idle,
            _ => Kind::Other,
        }
    }
}

/// A command sent or queued, waiting for its completion.
#[derive(Debug, Clone)]
struct Pending {
    id: CommandId,
    tag: String,
    name: &'static str,
    kind: Kind,
    /// The capability generation when the command was queued (to tell whether new capabilities
    /// arrived while it ran).
    caps_generation: u64,
}

/// Who the next `+` from the server is for. At most one party waits at a time: a synchronising
/// literal blocks everything behind it, and AUTHENTICATE and IDLE block all other commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlusFor {
    Literal(CommandId),
    Auth(CommandId),
    Idle(CommandId),
}

/// One piece of outgoing bytes.
#[derive(Debug, Clone)]
struct TxItem {
    id: CommandId,
    bytes: Bytes,
    /// Must wait for a `+` (a synchronising literal's continuation).
    gated: bool,
    /// Once sent, the server's next `+` is for this party.
    then: Option<PlusFor>,
    /// Once sent, no other command's bytes go out until this command completes (or IDLE ends).
    blocks: bool,
    /// Once sent, lifts the block (IDLE's DONE).
    unblocks: bool,
}

/// AUTHENTICATE in progress.
#[derive(Debug, Clone)]
struct AuthState {
    id: CommandId,
    /// The initial response to send after the first `+` (the server lacks SASL-IR).
    pending_initial: Option<Secret<Vec<u8>>>,
    /// A challenge was handed to the caller and awaits an answer.
    challenge_open: bool,
}

/// IDLE in progress.
#[derive(Debug, Clone, Copy)]
struct IdleState {
    id: CommandId,
    started: bool,
    done_requested: bool,
}

/// The IMAP client session. See the module docs.
#[derive(Debug)]
pub struct ImapSession {
    config: SessionConfig,
    rx: BytesMut,
    framer: Framer,
    greeted: bool,
    state: SessionState,
    caps: Option<Capabilities>,
    caps_generation: u64,
    enabled: Vec<String>,
    next_id: u64,
    pending: VecDeque<Pending>,
    tx: VecDeque<TxItem>,
    awaiting_plus: Option<PlusFor>,
    blocked_by: Option<CommandId>,
    auth: Option<AuthState>,
    idle: Option<IdleState>,
    saw_bye: bool,
    closed: bool,
    fatal: Option<ImapError>,
}

impl Default for ImapSession {
    fn default() -> Self {
        ImapSession::new(SessionConfig::default())
    }
}

impl ImapSession {
    /// A session waiting for the server greeting.
    pub fn new(config: SessionConfig) -> Self {
        let framer = Framer::new(config.max_response_size);
        ImapSession {
            config,
            rx: BytesMut::new(),
            framer,
            greeted: false,
            state: SessionState::NotAuthenticated,
            caps: None,
            caps_generation: 0,
            enabled: Vec::new(),
            next_id: 0,
            pending: VecDeque::new(),
            tx: VecDeque::new(),
            awaiting_plus: None,
            blocked_by: None,
            auth: None,
            idle: None,
            saw_bye: false,
            closed: false,
            fatal: None,
        }
    }

    /// Bytes from the server. Ignored once the connection is logged out.
    pub fn feed(&mut self, data: &[u8]) {
        if !self.closed {
            self.rx.extend_from_slice(data);
        }
    }

    /// The receive buffer itself, for reading from the socket straight into it (append only; the
    /// framer notices if bytes are taken away). Use instead of [`ImapSession::feed`] to save a copy.
    pub fn recv_buffer(&mut self) -> &mut BytesMut {
        &mut self.rx
    }

    /// The next event, `Ok(None)` when more bytes are needed.
    ///
    /// A malformed response is returned as [`ImapError::Malformed`] once and the session goes on
    /// with the next response; framing errors, a bad greeting and STARTTLS response injection are
    /// fatal (every later call returns the error; drop the connection).
    pub fn poll_event(&mut self) -> Result<Option<Event>, ImapError> {
        loop {
            if let Some(e) = &self.fatal {
                return Err(e.clone());
            }
            if self.closed {
                return Ok(None);
            }
            let frame = match self.framer.decode(&mut self.rx) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            };
            if !self.greeted {
                return self.on_greeting(&frame).map(Some);
            }
            let response = match parse_response(&frame) {
                Ok(r) => r,
                Err(_) if self.saw_bye => continue,
                Err(e) => return Err(e),
            };
            if let Some(event) = self.on_response(response, &frame)? {
                return Ok(Some(event));
            }
        }
    }

    /// Queues `cmd` and returns its id; its bytes come out of [`ImapSession::poll_transmit`].
    pub fn send(&mut self, cmd: Command) -> Result<CommandId, ImapError> {
        if self.state == SessionState::Logout || self.saw_bye || self.closed {
            return Err(ImapError::LoggedOut { command: cmd.name() });
        }
        if matches!(cmd, Command::Login { .. }) && self.caps.as_ref().is_some_and(|c| c.has("LOGINDISABLED"))
        {
            return Err(ImapError::LoginDisabled);
        }
        self.next_id += 1;
        let id = CommandId(self.next_id);
        let tag = format!("{}{:04}", self.config.tag_prefix, self.next_id);
        let opts = EncodeOptions {
            literal_plus: self.has_capability("LITERAL+"),
            sasl_ir: self.has_capability("SASL-IR"),
        };
        let kind = Kind::of(&cmd);
        let name = cmd.name();
        let chunks = cmd.encode(&tag, opts).chunks;
        let last = chunks.len().saturating_sub(1);
        for (k, chunk) in chunks.into_iter().enumerate() {
            let then = if k < last {
                Some(PlusFor::Literal(id))
            } else {
                match kind {
                    Kind::Auth if matches!(cmd, Command::Authenticate { .. }) => Some(PlusFor::Auth(id)),
                    Kind::Idle => Some(PlusFor::Idle(id)),
                    _ => None,
                }
            };
            let blocks = k == last
                && (matches!(cmd, Command::Authenticate { .. })
                    || matches!(kind, Kind::Idle | Kind::StartTls));
            self.tx.push_back(TxItem {
                id,
                bytes: Bytes::from(chunk),
                gated: k > 0,
                then,
                blocks,
                unblocks: false,
            });
        }
        if let Command::Authenticate { initial_response, .. } = cmd {
            let pending_initial = if opts.sasl_ir { None } else { initial_response };
            self.auth = Some(AuthState { id, pending_initial, challenge_open: false });
        }
        if kind == Kind::Idle {
            self.idle = Some(IdleState { id, started: false, done_requested: false });
        }
        self.pending.push_back(Pending { id, tag, name, kind, caps_generation: self.caps_generation });
        Ok(id)
    }

    /// The next bytes to write to the server, if any may go out now.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let front = self.tx.front()?;
        if front.gated || self.blocked_by.is_some_and(|b| b != front.id) {
            return None;
        }
        let item = self.tx.pop_front()?;
        if let Some(p) = item.then {
            self.awaiting_plus = Some(p);
        }
        if item.blocks {
            self.blocked_by = Some(item.id);
        }
        if item.unblocks && self.blocked_by == Some(item.id) {
            self.blocked_by = None;
        }
        Some(item.bytes)
    }

    /// Answers the server's AUTHENTICATE challenge with `response` (base64-encoded here). An empty
    /// response acknowledges an error challenge (the server then completes the command with NO).
    pub fn authenticate_continue(&mut self, response: Secret<Vec<u8>>) -> Result<(), ImapError> {
        let Some(auth) = self.auth.as_mut().filter(|a| a.challenge_open) else {
            return Err(ImapError::NoChallenge);
        };
        auth.challenge_open = false;
        let id = auth.id;
        self.push_reply(id, sasl_response(response.expose()), false);
        Ok(())
    }

    /// Ends IDLE: sends `DONE` now, or as soon as the server has accepted IDLE.
    pub fn idle_done(&mut self) -> Result<(), ImapError> {
        let Some(idle) = self.idle.as_mut().filter(|i| !i.done_requested) else {
            return Err(ImapError::NotIdling);
        };
        idle.done_requested = true;
        if idle.started {
            let id = idle.id;
            self.push_reply(id, IDLE_DONE.to_vec(), true);
        }
        Ok(())
    }

    /// The server's capabilities, when known. `None` before the greeting, after STARTTLS, and after
    /// a successful login that did not report them: send CAPABILITY then.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// The extensions the server confirmed with ENABLED.
    pub fn enabled(&self) -> &[String] {
        &self.enabled
    }

    /// The connection state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// How many commands await their completion.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    fn has_capability(&self, name: &str) -> bool {
        self.caps.as_ref().is_some_and(|c| c.has(name))
    }

    fn fail(&mut self, e: ImapError) -> ImapError {
        self.fatal = Some(e.clone());
        e
    }

    /// Queues an answer to a `+` ahead of everything else (nothing else may go out meanwhile).
    fn push_reply(&mut self, id: CommandId, bytes: Vec<u8>, unblocks: bool) {
        self.tx.push_front(TxItem {
            id,
            bytes: Bytes::from(bytes),
            gated: false,
            then: None,
            blocks: false,
            unblocks,
        });
    }

    fn set_caps(&mut self, caps: Capabilities) {
        self.caps = Some(caps);
        self.caps_generation += 1;
    }

    fn on_greeting(&mut self, frame: &Bytes) -> Result<Event, ImapError> {
        let greeting = match parse_greeting(frame) {
            Ok(g) => g,
            Err(_) => return Err(self.fail(ImapError::BadGreeting { excerpt: excerpt(frame) })),
        };
        self.greeted = true;
        if let Some(Code::Capability(c)) = &greeting.code {
            self.set_caps(c.clone());
        }
        match greeting.kind {
            GreetingKind::Ok => {}
            GreetingKind::PreAuth => self.state = SessionState::Authenticated,
            GreetingKind::Bye => {
                self.state = SessionState::Logout;
                self.saw_bye = true;
            }
        }
        Ok(Event::Greeting(greeting))
    }

    fn on_response(&mut self, response: Response, frame: &Bytes) -> Result<Option<Event>, ImapError> {
        match response {
            Response::Tagged(t) => self.on_tagged(t),
            // After BYE only completions still matter.
            _ if self.saw_bye => Ok(None),
            Response::Continuation(c) => self.on_continuation(c, frame),
            Response::Untagged(u) => Ok(Some(self.on_untagged(u))),
        }
    }

    fn on_continuation(&mut self, c: Continuation, frame: &Bytes) -> Result<Option<Event>, ImapError> {
        match self.awaiting_plus {
            Some(PlusFor::Literal(id)) => {
                self.awaiting_plus = None;
                if let Some(item) = self.tx.iter_mut().find(|t| t.id == id && t.gated) {
                    item.gated = false;
                }
                Ok(None)
            }
            Some(PlusFor::Auth(id)) => {
                let Some(auth) = self.auth.as_mut().filter(|a| a.id == id) else {
                    return Err(ImapError::UnexpectedContinuation { excerpt: excerpt(frame) });
                };
                if let Some(initial) = auth.pending_initial.take() {
                    self.push_reply(id, sasl_response(initial.expose()), false);
                    return Ok(None);
                }
                auth.challenge_open = true;
                Ok(Some(Event::AuthChallenge { id, challenge: c.decode_base64(), raw: c }))
            }
            Some(PlusFor::Idle(id)) => {
                self.awaiting_plus = None;
                let Some(idle) = self.idle.as_mut().filter(|i| i.id == id) else {
                    return Err(ImapError::UnexpectedContinuation { excerpt: excerpt(frame) });
                };
                idle.started = true;
                if idle.done_requested {
                    self.push_reply(id, IDLE_DONE.to_vec(), true);
                }
                Ok(Some(Event::Idling { id }))
            }
            None => Err(ImapError::UnexpectedContinuation { excerpt: excerpt(frame) }),
        }
    }

    fn on_untagged(&mut self, u: Untagged) -> Event {
        match &u {
            Untagged::Capability(c) => self.set_caps(c.clone()),
            Untagged::Status(StatusResponse { code: Some(Code::Capability(c)), .. }) => {
                self.set_caps(c.clone())
            }
            Untagged::Enabled(list) => {
                for cap in list {
                    if !self.enabled.iter().any(|e| e.eq_ignore_ascii_case(cap)) {
                        self.enabled.push(cap.clone());
                    }
                }
            }
            _ => {}
        }
        match u {
            Untagged::Status(s) if s.kind == StatusKind::Bye => {
                self.saw_bye = true;
                self.state = SessionState::Logout;
                Event::Bye(s)
            }
            u => Event::Untagged(u),
        }
    }

    fn on_tagged(&mut self, t: Tagged) -> Result<Option<Event>, ImapError> {
        let Some(index) = self.pending.iter().position(|p| p.tag == t.tag) else {
            if self.saw_bye {
                return Ok(None);
            }
            return Err(ImapError::UnknownTag { tag: t.tag });
        };
        let Some(p) = self.pending.remove(index) else {
            return Err(ImapError::UnknownTag { tag: t.tag });
        };
        self.forget_command(p.id);
        if t.status == Status::Ok {
            if let Some(Code::Capability(c)) = &t.code {
                self.set_caps(c.clone());
            }
        }
        match (p.kind, t.status) {
            (Kind::Auth, Status::Ok) => {
                self.state = SessionState::Authenticated;
                if self.caps_generation == p.caps_generation {
                    // Capabilities may change at login (RFC 3501 section 7.2.1); nothing new came.
                    self.caps = None;
                }
            }
            (Kind::Select, Status::Ok) => self.state = SessionState::Selected,
            (Kind::Select, Status::No) if self.state == SessionState::Selected => {
                self.state = SessionState::Authenticated;
            }
            (Kind::Close, Status::Ok) => self.state = SessionState::Authenticated,
            (Kind::Logout, Status::Ok) => {
                self.state = SessionState::Logout;
                self.closed = true;
            }
            (Kind::StartTls, Status::Ok) => {
                self.caps = None;
                self.caps_generation += 1;
                if !self.rx.is_empty() {
                    return Err(self.fail(ImapError::StartTlsInjection { buffered: self.rx.len() }));
                }
            }
            _ => {}
        }
        Ok(Some(Event::Done(Completion {
            id: p.id,
            tag: t.tag,
            command: p.name,
            status: t.status,
            code: t.code,
            text: t.text,
        })))
    }

    /// Drops everything the session still holds for a completed command: unsent chunks (a NO or
    /// BAD instead of a literal's `+`), the wait for a `+`, a transmit block, AUTHENTICATE or IDLE.
    fn forget_command(&mut self, id: CommandId) {
        self.tx.retain(|t| t.id != id);
        if matches!(self.awaiting_plus, Some(PlusFor::Literal(x) | PlusFor::Auth(x) | PlusFor::Idle(x)) if x == id)
        {
            self.awaiting_plus = None;
        }
        if self.blocked_by == Some(id) {
            self.blocked_by = None;
        }
        if self.auth.as_ref().is_some_and(|a| a.id == id) {
            self.auth = None;
        }
        if self.idle.is_some_and(|i| i.id == id) {
            self.idle = None;
        }
    }
}

#[cfg(test)]
mod tests;
