//! An IMAP connection: the transport plus the sans-I/O session, with login, STARTTLS and command helpers.
//!
//! Owns: reading server bytes straight into the session's buffer, writing what the session releases, turning
//! completions into results (throttling, BYE, refused logins each become their own error) and the login
//! sequence (greeting, STARTTLS when configured, LOGIN / AUTHENTICATE PLAIN / XOAUTH2).
//! Must never: send a credential before the connection is encrypted, continue after a refused STARTTLS, or
//! log a command with its secret (commands are logged in their redacted form).
//!
//! RFC 3501 sections 6.1-6.2 (CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE), RFC 4959 (SASL-IR).

use std::time::{Duration, Instant};

use mailsync_proto::imap::command::Command;
use mailsync_proto::imap::{
    suggested_backoff, Capabilities, Completion, Event, GreetingKind, ImapError, ImapSession, SessionConfig,
    Status, StatusResponse, Untagged,
};
use mailsync_proto::sasl;
use mailsync_proto::Secret;

use crate::auth::Credentials;
use crate::endpoint::{Endpoint, Security};
use crate::steps::{NoSteps, Step, Steps};
use crate::transport::{greeting_error, Pace, Transport};
use crate::EngineError;

/// Room made in the receive buffer before each read.
const READ_CHUNK: usize = 256 * 1024;

/// Unreadable responses in a row after which the server is cut off: skipping one is leniency, an endless
/// stream of them would otherwise hold the run forever.
const MAX_UNREADABLE_IN_A_ROW: u32 = 10_000;

/// Unreadable responses logged as warnings per connection (the rest at debug level; all are counted).
const LOGGED_UNREADABLE: u64 = 20;

/// How much one command's answer may hold before the server is cut off: its untagged responses, and the
/// bytes received while it runs. The largest single response is bounded by the session's caps; this bounds
/// how many of them a command collects, so an endless LIST or FETCH stream ends with an error, not with the
/// machine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Untagged responses.
    pub responses: usize,
    /// Bytes received while the command runs.
    pub bytes: u64,
}

impl Budget {
    /// For commands whose answer does not grow with a folder (LIST of any real account, SEARCH, STATUS...).
    pub const DEFAULT: Budget = Budget { responses: 200_000, bytes: 64 << 20 };

    /// For a command answered with about one response per message of a folder of `messages` (a UID/FLAGS
    /// listing, the changes of a QRESYNC EXAMINE): twice that, and room for new mail arriving meanwhile.
    pub fn per_message(messages: usize) -> Budget {
        let n = messages.saturating_mul(2).saturating_add(10_000);
        Budget {
            responses: n,
            bytes: (64u64 << 20).saturating_add(u64::try_from(n).unwrap_or(u64::MAX) * 2048),
        }
    }
}

/// A logged-in (or logging-in) IMAP connection.
#[derive(Debug)]
pub struct ImapClient {
    t: Transport,
    s: ImapSession,
    addr: String,
    bye: Option<StatusResponse>,
    /// Responses skipped whole because they did not parse (each was logged).
    pub unreadable: u64,
    /// Responses kept with something stepped over: FETCH items that did not parse, untagged responses of a
    /// kind nobody asked for (each was logged).
    pub odd: u64,
    /// Bytes received on this connection.
    pub bytes_in: u64,
    /// The pace the server must keep: restarted with every command sent.
    pace: Pace,
}

impl ImapClient {
    /// Connects, reads the greeting, upgrades with STARTTLS when configured, and logs in.
    pub async fn connect(
        ep: &Endpoint,
        creds: &Credentials,
        max_response: usize,
    ) -> Result<ImapClient, EngineError> {
        ImapClient::connect_with(ep, Some(creds), max_response, &mut NoSteps).await
    }

    /// [`ImapClient::connect`], reporting each step to `steps`; without `creds`, it stops before the login.
    pub async fn connect_with(
        ep: &Endpoint,
        creds: Option<&Credentials>,
        max_response: usize,
        steps: &mut dyn Steps,
    ) -> Result<ImapClient, EngineError> {
        let t = Transport::connect_with(ep, crate::trace::Protocol::Imap, steps).await?;
        let config = SessionConfig { max_response_size: max_response, ..SessionConfig::default() };
        let pace = Pace::start(ep.timeouts.greeting, ep.timeouts.min_rate);
        let mut c = ImapClient {
            t,
            s: ImapSession::new(config),
            addr: ep.addr(),
            bye: None,
            unreadable: 0,
            odd: 0,
            bytes_in: 0,
            pace,
        };
        let preauth = c.greeting(ep).await?;
        if ep.security == Security::StartTls {
            let started = Instant::now();
            c = c.starttls().await?;
            steps.done(Step::StartTls, started, format!("upgraded; certificate verified for {}", ep.host));
        }
        if preauth {
            if !c.t.is_encrypted() {
                return Err(
                    c.protocol("server pre-authenticated an unencrypted connection; refusing to use it")
                );
            }
        } else if let Some(creds) = creds {
            let started = Instant::now();
            c.login(creds).await?;
            steps.done(Step::Login, started, creds.accepted());
        }
        Ok(c)
    }

    async fn greeting(&mut self, ep: &Endpoint) -> Result<bool, EngineError> {
        loop {
            match self.s.poll_event() {
                Ok(Some(Event::Greeting(g))) => {
                    return match g.kind {
                        GreetingKind::Ok => Ok(false),
                        GreetingKind::PreAuth => Ok(true),
                        GreetingKind::Bye => {
                            Err(self.protocol(&format!("server refused the connection: {}", g.text)))
                        }
                    };
                }
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => return Err(self.proto_err(e)),
            }
            let limit = ep.timeouts.greeting;
            match self
                .t
                .read_paced(self.s.recv_buffer(), READ_CHUNK, &mut self.pace, limit, "for the greeting")
                .await
            {
                Ok(n) => self.bytes_in += u64::try_from(n).unwrap_or(u64::MAX),
                Err(e) => return Err(greeting_error(ep, e)),
            }
        }
    }

    async fn starttls(mut self) -> Result<ImapClient, EngineError> {
        let caps = self.capabilities().await?;
        if !caps.has("STARTTLS") {
            return Err(EngineError::StartTlsUnavailable {
                addr: self.addr.clone(),
                command: "STARTTLS",
                detail: String::new(),
            });
        }
        let (_, done) = self.run(Command::StartTls).await?;
        if done.status != Status::Ok {
            return Err(EngineError::StartTlsUnavailable {
                addr: self.addr.clone(),
                command: "STARTTLS",
                detail: format!(": server answered {} {}", done.status, done.text),
            });
        }
        // Nothing may be buffered behind the OK: the session refuses such injected bytes.
        let ImapClient { t, s, addr, bye, unreadable, odd, bytes_in, pace } = self;
        let t = t.start_tls().await?;
        Ok(ImapClient { t, s, addr, bye, unreadable, odd, bytes_in, pace })
    }

    async fn login(&mut self, creds: &Credentials) -> Result<(), EngineError> {
        if !self.t.is_encrypted() {
            return Err(EngineError::PlaintextRefused { addr: self.addr.clone() });
        }
        let caps = self.capabilities().await?;
        let user = creds.user().to_string();
        let cmd = match creds {
            Credentials::Password { user, password } => {
                if caps.has("LOGINDISABLED") {
                    if !caps.has_auth("PLAIN") {
                        return Err(self.protocol("server disables LOGIN and offers no AUTH=PLAIN"));
                    }
                    let ir = sasl::plain(user, password).map_err(|e| EngineError::Config(e.to_string()))?;
                    Command::Authenticate { mechanism: "PLAIN".into(), initial_response: Some(ir) }
                } else {
                    Command::Login { user: user.clone(), password: password.clone() }
                }
            }
            Credentials::OAuth2 { user, token } => {
                if !caps.has_auth("XOAUTH2") {
                    return Err(self.protocol("server does not offer AUTH=XOAUTH2 (OAuth2 login)"));
                }
                let ir = sasl::xoauth2(user, token).map_err(|e| EngineError::Config(e.to_string()))?;
                Command::Authenticate { mechanism: "XOAUTH2".into(), initial_response: Some(ir) }
            }
        };
        tracing::debug!(command = %cmd.redacted("*"), "imap login");
        let id = self.s.send(cmd).map_err(|e| self.proto_err(e))?;
        let mut oauth_error: Option<String> = None;
        loop {
            match self.next_event("to the login").await? {
                Event::AuthChallenge { challenge, raw, .. } => {
                    // With the initial response already sent, a challenge is the server's error report
                    // (XOAUTH2: base64 JSON); acknowledge it with an empty answer to get the final NO.
                    let bytes = challenge.unwrap_or_else(|| raw.text().into_owned().into_bytes());
                    oauth_error = Some(match sasl::OAuthFailure::from_json(&bytes) {
                        Ok(f) => f.sentence(),
                        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
                    });
                    self.s.authenticate_continue(Secret::new(Vec::new())).map_err(|e| self.proto_err(e))?;
                }
                Event::Done(done) if done.id == id => {
                    if done.status == Status::Ok {
                        return Ok(());
                    }
                    let text = oauth_error.unwrap_or(done.text);
                    return Err(EngineError::AuthRefused {
                        protocol: "IMAP",
                        user,
                        addr: self.addr.clone(),
                        text,
                        hint: String::new(),
                    });
                }
                _ => {}
            }
        }
    }

    /// The server's capabilities, asking with CAPABILITY when the session does not know them.
    pub async fn capabilities(&mut self) -> Result<Capabilities, EngineError> {
        if let Some(c) = self.s.capabilities() {
            return Ok(c.clone());
        }
        self.run_ok(Command::Capability).await?;
        self.s
            .capabilities()
            .cloned()
            .ok_or_else(|| self.protocol("no CAPABILITY in the answer to CAPABILITY"))
    }

    /// Extensions confirmed by ENABLED.
    pub fn enabled(&self) -> &[String] {
        self.s.enabled()
    }

    /// Queues a command; its bytes go out with the next read or flush.
    pub fn send(&mut self, cmd: Command) -> Result<mailsync_proto::imap::CommandId, EngineError> {
        tracing::trace!(command = %cmd.redacted("*"), "imap send");
        let ep = self.t.endpoint();
        self.pace = Pace::start(ep.timeouts.read, ep.timeouts.min_rate);
        self.s.send(cmd).map_err(|e| self.proto_err(e))
    }

    /// The next event, writing queued commands and reading as needed. Responses that do not parse are
    /// logged, counted in `unreadable` and skipped; FETCH answers with items that did not parse and untagged
    /// responses nobody asked for are logged and counted in `odd`; a BYE is remembered for the error that
    /// follows it. Nothing the server sends is passed over without a count.
    pub async fn next_event(&mut self, during: &str) -> Result<Event, EngineError> {
        let mut skipped = 0u32;
        loop {
            self.flush().await?;
            if let Some(ev) = self.poll(&mut skipped)? {
                return Ok(ev);
            }
            let limit = self.t.endpoint().timeouts.read;
            match self.t.read_paced(self.s.recv_buffer(), READ_CHUNK, &mut self.pace, limit, during).await {
                Ok(n) => self.bytes_in += u64::try_from(n).unwrap_or(u64::MAX),
                Err(EngineError::Closed { .. }) if self.bye.is_some() => return Err(self.bye_error()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Like [`ImapClient::next_event`] for a connection that is meant to be quiet (IDLE): no silence limit
    /// and no pace, only the deadline `until`, at which it returns `None`.
    pub async fn next_event_until(
        &mut self,
        until: tokio::time::Instant,
        during: &str,
    ) -> Result<Option<Event>, EngineError> {
        let mut skipped = 0u32;
        loop {
            self.flush().await?;
            if let Some(ev) = self.poll(&mut skipped)? {
                return Ok(Some(ev));
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.t.read_buf(self.s.recv_buffer(), READ_CHUNK, left, during).await {
                Ok(n) => self.bytes_in += u64::try_from(n).unwrap_or(u64::MAX),
                Err(EngineError::Timeout { .. }) => return Ok(None),
                Err(EngineError::Closed { .. }) if self.bye.is_some() => return Err(self.bye_error()),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next event the session already holds, if any (`skipped`: unreadable responses in a row so far).
    fn poll(&mut self, skipped: &mut u32) -> Result<Option<Event>, EngineError> {
        loop {
            match self.s.poll_event() {
                Ok(Some(Event::Bye(b))) => self.bye = Some(b),
                Ok(Some(ev)) => {
                    self.note_odd(&ev);
                    return Ok(Some(ev));
                }
                Ok(None) => return Ok(None),
                Err(e @ ImapError::Malformed { .. }) => {
                    self.unreadable += 1;
                    *skipped += 1;
                    if *skipped > MAX_UNREADABLE_IN_A_ROW {
                        return Err(self.protocol(&format!(
                            "{MAX_UNREADABLE_IN_A_ROW} responses in a row could not be read: cut off"
                        )));
                    }
                    if self.unreadable <= LOGGED_UNREADABLE {
                        tracing::warn!(server = %self.addr, "skipped a response: {e}");
                    } else {
                        tracing::debug!(server = %self.addr, "skipped a response: {e}");
                    }
                    if self.unreadable == LOGGED_UNREADABLE {
                        tracing::warn!(server = %self.addr, "more unreadable responses are logged at debug level");
                    }
                }
                Err(e) => return Err(self.proto_err(e)),
            }
        }
    }

    /// Writes whatever commands are queued, now.
    pub async fn flush_now(&mut self) -> Result<(), EngineError> {
        self.flush().await
    }

    /// Ends IDLE: DONE goes out now, or as soon as the server has accepted IDLE.
    pub fn idle_done(&mut self) -> Result<(), EngineError> {
        self.s.idle_done().map_err(|e| self.proto_err(e))
    }

    /// The endpoint this connection was made to.
    pub fn endpoint(&self) -> &Endpoint {
        self.t.endpoint()
    }

    /// Counts and logs a response that was kept with something stepped over.
    fn note_odd(&mut self, ev: &Event) {
        match ev {
            Event::Untagged(Untagged::Fetch(f)) if !f.malformed.is_empty() => {
                self.odd += 1;
                tracing::warn!(server = %self.addr, uid = ?f.uid.map(|u| u.get()), "FETCH answer with items that \
                    did not parse, kept without them: {}", f.malformed.join("; "));
            }
            Event::Untagged(Untagged::Other { name, .. }) => {
                self.odd += 1;
                tracing::warn!(server = %self.addr, "ignored an untagged {name} response nobody asked for");
            }
            _ => {}
        }
    }

    /// Sends every command ready to go in one write: pipelined commands leave in one TLS record, not one
    /// each, and none waits behind an answer the client is not yet reading.
    async fn flush(&mut self) -> Result<(), EngineError> {
        let mut out = Vec::new();
        while let Some(bytes) = self.s.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        if out.is_empty() {
            return Ok(());
        }
        self.t.write_all(&out).await
    }

    /// Runs one command to completion, returning its untagged data (within [`Budget::DEFAULT`]) and its
    /// completion (OK or not).
    pub async fn run(&mut self, cmd: Command) -> Result<(Vec<Untagged>, Completion), EngineError> {
        let mut data = Vec::new();
        let done = self.run_each(cmd, Budget::DEFAULT, |u| data.push(u)).await?;
        Ok((data, done))
    }

    /// Runs one command to completion, handing each untagged response to `each` as it arrives (nothing is
    /// collected here), and returns its completion. More responses or bytes than `budget` allows end the
    /// connection with an error.
    pub async fn run_each(
        &mut self,
        cmd: Command,
        budget: Budget,
        mut each: impl FnMut(Untagged),
    ) -> Result<Completion, EngineError> {
        let name = cmd.name();
        let id = self.send(cmd)?;
        let (mut responses, bytes_at) = (0usize, self.bytes_in);
        loop {
            match self.next_event(name).await? {
                Event::Done(done) if done.id == id => return Ok(done),
                Event::Untagged(u) => {
                    responses += 1;
                    self.within(budget, responses, bytes_at, name)?;
                    each(u);
                }
                _ => {}
            }
        }
    }

    /// Fails when a command that started at `bytes_at` has brought more than `budget` allows.
    pub fn within(
        &self,
        budget: Budget,
        responses: usize,
        bytes_at: u64,
        name: &str,
    ) -> Result<(), EngineError> {
        let bytes = self.bytes_in.saturating_sub(bytes_at);
        if responses > budget.responses || bytes > budget.bytes {
            return Err(self.protocol(&format!(
                "the server sent more than its answer to {name} can hold ({responses} responses, {bytes} bytes; \
                 at most {} and {}): cut off",
                budget.responses, budget.bytes
            )));
        }
        Ok(())
    }

    /// Runs one command that must succeed; returns its untagged data.
    pub async fn run_ok(&mut self, cmd: Command) -> Result<Vec<Untagged>, EngineError> {
        let (data, done) = self.run(cmd).await?;
        self.check(&done)?;
        Ok(data)
    }

    /// Turns a completion that is not OK into the matching error.
    pub fn check(&self, done: &Completion) -> Result<(), EngineError> {
        if done.status == Status::Ok {
            return Ok(());
        }
        if let Some(wait) = suggested_backoff(&done.text) {
            return Err(EngineError::Throttled { addr: self.addr.clone(), millis: millis(wait) });
        }
        if done.text.contains("User is authenticated but not connected") {
            return Err(EngineError::AuthRefused {
                protocol: "IMAP",
                user: String::new(),
                addr: self.addr.clone(),
                text: done.text.clone(),
                hint: "; the login worked but the account has no mailbox access this way (Outlook: wrong OAuth2 \
                       scope, tenant or account; IMAP may be disabled for the mailbox)"
                    .into(),
            });
        }
        Err(EngineError::Refused {
            protocol: "IMAP",
            addr: self.addr.clone(),
            command: done.command.to_owned(),
            status: done.status.as_str(),
            text: done.text.clone(),
        })
    }

    /// Says LOGOUT and closes the connection; errors are ignored (the work is done).
    pub async fn logout(mut self) {
        if self.s.send(Command::Logout).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Ok(ev) = self.next_event("to LOGOUT").await {
                    if matches!(ev, Event::Done(_)) {
                        break;
                    }
                }
            })
            .await;
        }
        self.t.shutdown().await;
    }

    fn bye_error(&self) -> EngineError {
        let text = self.bye.as_ref().map(|b| b.text.clone()).unwrap_or_default();
        if let Some(wait) = suggested_backoff(&text) {
            return EngineError::Throttled { addr: self.addr.clone(), millis: millis(wait) };
        }
        EngineError::Bye { protocol: "IMAP", addr: self.addr.clone(), text }
    }

    /// A protocol violation by this server: the connection is unusable.
    pub fn protocol(&self, detail: &str) -> EngineError {
        EngineError::Protocol { protocol: "IMAP", addr: self.addr.clone(), detail: detail.to_string() }
    }

    /// Answers of this server that contradict each other (a folder-level failure).
    pub fn inconsistent(&self, detail: &str) -> EngineError {
        EngineError::Inconsistent { protocol: "IMAP", addr: self.addr.clone(), detail: detail.to_string() }
    }

    /// Every response stepped over so far (unreadable or odd).
    pub fn warnings(&self) -> u64 {
        self.unreadable + self.odd
    }

    fn proto_err(&self, e: ImapError) -> EngineError {
        self.protocol(&e.to_string())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
