//! A POP3 connection: the transport plus the sans-I/O session, with STLS, login and command helpers.
//!
//! Owns: the greeting, the STLS upgrade (fatal if not offered or refused), the login (USER/PASS, APOP when
//! asked for, AUTH PLAIN when USER is not offered, AUTH XOAUTH2 in the two-step form Outlook requires), turning
//! `-ERR` and its response code into a clear error, asking CAPA again after login only when a caller needs
//! the capabilities (one round trip fewer for a run with nothing to download), sending a caller's first
//! commands behind USER and PASS where the server pipelines (one round trip fewer again), and running
//! commands one by one or pipelined.
//! Must never: send a credential before the connection is encrypted, or log one (transmits are logged in
//! their redacted form only).
//!
//! RFC 1939 sections 4-7, RFC 2449 (CAPA, PIPELINING, response codes), RFC 2595 section 4 (STLS), RFC 5034
//! (AUTH), RFC 3206 (SYS and AUTH codes).

use std::time::Instant;

use bytes::Bytes;
use mailsync_proto::pop3::{
    Capabilities, CommandId, InitialResponse, Pop3Command, Pop3Config, Pop3Error, Pop3Event, Pop3Session,
    ResponseCode,
};
use mailsync_proto::sasl::{self, Mechanism};
use mailsync_proto::Secret;

use crate::auth::Credentials;
use crate::endpoint::{Endpoint, Security};
use crate::steps::{NoSteps, Step, Steps};
use crate::transport::{greeting_error, Pace, Transport};
use crate::EngineError;

/// A complete answer to one command.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Which command.
    pub id: CommandId,
    /// `+OK`?
    pub ok: bool,
    /// Its response code.
    pub code: Option<ResponseCode>,
    /// Its text.
    pub text: String,
    /// The multi-line body, when there is one.
    pub body: Option<Bytes>,
}

/// A logged-in POP3 connection.
#[derive(Debug)]
pub struct Pop3Client {
    t: Transport,
    s: Pop3Session,
    addr: String,
    buf: Vec<u8>,
    /// Whether CAPA was asked since login (see [`Pop3Client::capabilities_after_login`]).
    caps_after_login: bool,
    /// The pace the server must keep: restarted with every command sent.
    pace: Pace,
}

/// How to log in with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordMethod {
    /// USER/PASS when offered, else AUTH PLAIN.
    #[default]
    Auto,
    /// APOP (needs a timestamp in the greeting).
    Apop,
}

impl Pop3Client {
    /// Connects, reads the greeting, upgrades with STLS when configured, and logs in.
    pub async fn connect(
        ep: &Endpoint,
        creds: &Credentials,
        max_message: usize,
    ) -> Result<Pop3Client, EngineError> {
        Pop3Client::connect_with(ep, creds, max_message, PasswordMethod::Auto).await
    }

    /// Like [`Pop3Client::connect`], choosing how a password is sent.
    pub async fn connect_with(
        ep: &Endpoint,
        creds: &Credentials,
        max_message: usize,
        method: PasswordMethod,
    ) -> Result<Pop3Client, EngineError> {
        Pop3Client::connect_steps(ep, Some(creds), max_message, method, &mut NoSteps).await
    }

    /// [`Pop3Client::connect_with`], reporting each step to `steps`; without `creds`, it stops before the
    /// login.
    pub async fn connect_steps(
        ep: &Endpoint,
        creds: Option<&Credentials>,
        max_message: usize,
        method: PasswordMethod,
        steps: &mut dyn Steps,
    ) -> Result<Pop3Client, EngineError> {
        let mut c = Pop3Client::open_steps(ep, max_message, steps).await?;
        if let Some(creds) = creds {
            let started = Instant::now();
            c.login(creds, method, Vec::new()).await?;
            steps.done(Step::Login, started, creds.accepted());
        }
        Ok(c)
    }

    /// Connects, reads the greeting and the capabilities, and upgrades with STLS when configured: a client
    /// ready for [`Pop3Client::login`].
    pub async fn open(ep: &Endpoint, max_message: usize) -> Result<Pop3Client, EngineError> {
        Pop3Client::open_steps(ep, max_message, &mut NoSteps).await
    }

    async fn open_steps(
        ep: &Endpoint,
        max_message: usize,
        steps: &mut dyn Steps,
    ) -> Result<Pop3Client, EngineError> {
        let t = Transport::connect_with(ep, crate::trace::Protocol::Pop3, steps).await?;
        let config = Pop3Config { max_body: max_message, ..Pop3Config::default() };
        let mut c = Pop3Client {
            t,
            s: Pop3Session::new(config),
            addr: ep.addr(),
            buf: vec![0; 256 * 1024],
            caps_after_login: false,
            pace: Pace::start(ep.timeouts.greeting, ep.timeouts.min_rate),
        };
        c.greeting(ep).await?;
        // CAPA is optional (RFC 2449); a server without it still works with USER/PASS.
        let _ = c.run(Pop3Command::Capa).await?;
        if ep.security == Security::StartTls {
            let started = Instant::now();
            c = c.stls().await?;
            steps.done(
                Step::StartTls,
                started,
                format!("upgraded with STLS; certificate verified for {}", ep.host),
            );
            let _ = c.run(Pop3Command::Capa).await?;
        }
        Ok(c)
    }

    async fn greeting(&mut self, ep: &Endpoint) -> Result<(), EngineError> {
        loop {
            match self.s.poll_event() {
                Ok(Some(Pop3Event::Greeting(g))) => {
                    if g.ok {
                        return Ok(());
                    }
                    return Err(self.protocol(&format!("server refused the connection: {}", g.text)));
                }
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => return Err(self.proto_err(e)),
            }
            if let Err(e) = self.read(ep.timeouts.greeting, "for the greeting").await {
                return Err(greeting_error(ep, e));
            }
        }
    }

    async fn stls(mut self) -> Result<Pop3Client, EngineError> {
        if !self.s.capabilities().stls() {
            return Err(EngineError::StartTlsUnavailable {
                addr: self.addr.clone(),
                command: "STLS",
                detail: String::new(),
            });
        }
        let r = self.run(Pop3Command::Stls).await?;
        if !r.ok {
            return Err(EngineError::StartTlsUnavailable {
                addr: self.addr.clone(),
                command: "STLS",
                detail: format!(": server answered -ERR {}", r.text),
            });
        }
        // Bytes queued behind the +OK would be an injection; the session refuses them.
        let Pop3Client { t, s, addr, buf, caps_after_login, pace } = self;
        let t = t.start_tls().await?;
        Ok(Pop3Client { t, s, addr, buf, caps_after_login, pace })
    }

    /// Logs in, and has `then` sent: behind USER and PASS in the same write where the server pipelines
    /// (RFC 2449 section 6.6; a refused login gets them `-ERR`, and the connection is dropped anyway), else
    /// once the login is accepted. Returns their ids: the caller reads their answers, in order.
    pub async fn login(
        &mut self,
        creds: &Credentials,
        method: PasswordMethod,
        mut then: Vec<Pop3Command>,
    ) -> Result<Vec<CommandId>, EngineError> {
        if !self.t.is_encrypted() {
            return Err(EngineError::PlaintextRefused { addr: self.addr.clone() });
        }
        let mut ids = self.log_in(creds, method, &mut then).await?;
        // Whatever did not go out behind the login goes now.
        for cmd in then {
            ids.push(self.send_then(cmd)?);
        }
        Ok(ids)
    }

    /// Queues one of the commands that follow the login (a CAPA among them tells the capabilities after login).
    fn send_then(&mut self, cmd: Pop3Command) -> Result<CommandId, EngineError> {
        self.caps_after_login |= matches!(cmd, Pop3Command::Capa);
        self.send(cmd)
    }

    /// The login itself; where it pipelines, it takes `then` along (leaving it empty) and returns their ids.
    async fn log_in(
        &mut self,
        creds: &Credentials,
        method: PasswordMethod,
        then: &mut Vec<Pop3Command>,
    ) -> Result<Vec<CommandId>, EngineError> {
        let caps = self.s.capabilities().clone();
        match creds {
            Credentials::Password { user, password } => {
                if method == PasswordMethod::Apop {
                    let cmd = Pop3Command::Apop { user: user.clone(), secret: password.clone() };
                    let r = self.run(cmd).await?;
                    return self.login_result(r, user, None).map(|()| Vec::new());
                }
                if caps.is_empty() || caps.user() {
                    if caps.pipelining() {
                        // One round trip: PASS goes out behind USER, and the caller's first commands behind
                        // PASS (RFC 2449 section 6.6).
                        self.send(Pop3Command::User(user.clone()))?;
                        self.send(Pop3Command::Pass(password.clone()))?;
                        let mut ids = Vec::new();
                        for cmd in std::mem::take(then) {
                            ids.push(self.send_then(cmd)?);
                        }
                        let to_user = self.next_reply("to USER").await?;
                        let to_pass = self.next_reply("to PASS").await?;
                        let r = if to_user.ok { to_pass } else { to_user };
                        return self.login_result(r, user, None).map(|()| ids);
                    }
                    let r = self.run(Pop3Command::User(user.clone())).await?;
                    if !r.ok {
                        return self.login_result(r, user, None).map(|()| Vec::new());
                    }
                    let r = self.run(Pop3Command::Pass(password.clone())).await?;
                    return self.login_result(r, user, None).map(|()| Vec::new());
                }
                if caps.supports_sasl(&Mechanism::Plain) {
                    let ir = sasl::plain(user, password).map_err(|e| EngineError::Config(e.to_string()))?;
                    let cmd = Pop3Command::Auth {
                        mechanism: Mechanism::Plain,
                        initial: InitialResponse::AfterContinuation(ir),
                    };
                    return self.auth(cmd, user).await.map(|()| Vec::new());
                }
                Err(self.protocol("server offers neither USER nor SASL PLAIN for a password login"))
            }
            Credentials::OAuth2 { user, token } => {
                let ir = sasl::xoauth2(user, token).map_err(|e| EngineError::Config(e.to_string()))?;
                // Outlook accepts only the two-step form: AUTH XOAUTH2, "+", then the response.
                let cmd = Pop3Command::Auth {
                    mechanism: Mechanism::XOAuth2,
                    initial: InitialResponse::AfterContinuation(ir),
                };
                self.auth(cmd, user).await.map(|()| Vec::new())
            }
        }
    }

    async fn auth(&mut self, cmd: Pop3Command, user: &str) -> Result<(), EngineError> {
        let id = self.send(cmd)?;
        let mut failure: Option<String> = None;
        loop {
            match self.next_event("to AUTH").await? {
                Pop3Event::Continuation { id: cid, text } if cid == id => {
                    // The initial response went out after the first "+"; a further "+" is the server's error
                    // report (XOAUTH2: base64 JSON). Acknowledge it with an empty line to get the -ERR.
                    failure = Some(match sasl::decode_oauth_failure(&text) {
                        Ok(f) => f.sentence(),
                        Err(_) => text,
                    });
                    self.s.auth_continue(Secret::new(Vec::new())).map_err(|e| self.proto_err(e))?;
                }
                Pop3Event::Response { id: rid, ok, code, text, body } if rid == id => {
                    let r = Reply { id, ok, code, text, body };
                    return self.login_result(r, user, failure);
                }
                _ => {}
            }
        }
    }

    fn login_result(&self, r: Reply, user: &str, failure: Option<String>) -> Result<(), EngineError> {
        if r.ok {
            return Ok(());
        }
        let text = failure.unwrap_or_else(|| r.text.clone());
        let (text, hint) = match &r.code {
            Some(ResponseCode::InUse) => (text, "; [IN-USE]: another session holds the mailbox lock (another client is downloading); try again later".to_string()),
            Some(ResponseCode::LoginDelay) => (text, "; [LOGIN-DELAY]: the server limits how often you may log in; wait and try again".to_string()),
            Some(ResponseCode::SysTemp) => (text, "; [SYS/TEMP]: a temporary server failure, not your credentials; try again later".to_string()),
            Some(ResponseCode::SysPerm) => (text, "; [SYS/PERM]: a permanent server failure; contact the provider".to_string()),
            Some(ResponseCode::Auth) => (text, "; [AUTH]: the credentials were refused".to_string()),
            _ => (text, String::new()),
        };
        Err(EngineError::AuthRefused {
            protocol: "POP3",
            user: user.to_string(),
            addr: self.addr.clone(),
            text,
            hint,
        })
    }

    /// The capabilities from the last CAPA (before login, until [`Pop3Client::capabilities_after_login`]).
    pub fn capabilities(&self) -> &Capabilities {
        self.s.capabilities()
    }

    /// The capabilities as the logged-in session has them (RFC 2449 section 5: they may differ from those
    /// before login). CAPA is asked once, when first needed: a run with nothing to download never needs it,
    /// and saves the round trip.
    pub async fn capabilities_after_login(&mut self) -> Result<&Capabilities, EngineError> {
        if !self.caps_after_login {
            // CAPA is optional (RFC 2449); without it, what was known before login stands.
            let _ = self.run(Pop3Command::Capa).await?;
            self.caps_after_login = true;
        }
        Ok(self.s.capabilities())
    }

    /// Queues a command.
    pub fn send(&mut self, cmd: Pop3Command) -> Result<CommandId, EngineError> {
        let ep = self.t.endpoint();
        self.pace = Pace::start(ep.timeouts.read, ep.timeouts.min_rate);
        self.s.send(cmd).map_err(|e| self.proto_err(e))
    }

    /// The next event, writing queued commands and reading as needed.
    pub async fn next_event(&mut self, during: &str) -> Result<Pop3Event, EngineError> {
        loop {
            self.flush().await?;
            match self.s.poll_event() {
                Ok(Some(ev)) => return Ok(ev),
                Ok(None) => {}
                Err(e) => return Err(self.proto_err(e)),
            }
            let limit = self.t.endpoint().timeouts.read;
            self.read(limit, during).await?;
        }
    }

    /// The next complete response.
    pub async fn next_reply(&mut self, during: &str) -> Result<Reply, EngineError> {
        loop {
            if let Pop3Event::Response { id, ok, code, text, body } = self.next_event(during).await? {
                return Ok(Reply { id, ok, code, text, body });
            }
        }
    }

    /// Runs one command to completion (`+OK` or `-ERR`).
    pub async fn run(&mut self, cmd: Pop3Command) -> Result<Reply, EngineError> {
        let name = cmd.name();
        let id = self.send(cmd)?;
        loop {
            let r = self.next_reply(name).await?;
            if r.id == id {
                return Ok(r);
            }
        }
    }

    /// Runs one command that must succeed.
    pub async fn run_ok(&mut self, cmd: Pop3Command) -> Result<Reply, EngineError> {
        let name = cmd.name();
        let r = self.run(cmd).await?;
        if !r.ok {
            return Err(self.protocol(&format!("{name} failed: -ERR {}", r.text)));
        }
        Ok(r)
    }

    /// Whether commands may be sent before earlier answers arrive (asks CAPA first if not yet since login).
    pub async fn pipelining(&mut self) -> Result<bool, EngineError> {
        Ok(self.capabilities_after_login().await?.pipelining())
    }

    /// QUIT when nothing waits on its answer (no deletion to prove): sent with whatever is queued before it,
    /// then the connection is closed without the round trip for the `+OK`.
    /// Without PIPELINING the commands before it are answered first, and so is QUIT.
    pub async fn quit_unanswered(mut self) {
        if !self.s.capabilities().pipelining() {
            let _ = self.run(Pop3Command::Quit).await;
        } else if self.send(Pop3Command::Quit).is_ok() {
            let _ = self.flush().await;
        }
        self.t.shutdown().await;
    }

    /// QUIT: the server enters its UPDATE state and applies DELEs (RFC 1939 section 6). Returns whether it
    /// answered `+OK`, which is the only proof that deletions were applied.
    pub async fn quit(mut self) -> Result<bool, EngineError> {
        let r = self.run(Pop3Command::Quit).await;
        self.t.shutdown().await;
        Ok(r?.ok)
    }

    /// Sends every command ready to go in one write (pipelined RETRs leave in one TLS record, not one each).
    async fn flush(&mut self) -> Result<(), EngineError> {
        let mut out = Vec::new();
        while let Some(tx) = self.s.poll_transmit() {
            tracing::trace!(command = %tx.redacted, "pop3 send");
            out.extend_from_slice(&tx.bytes);
        }
        if out.is_empty() {
            return Ok(());
        }
        self.t.write_all(&out).await
    }

    async fn read(&mut self, limit: std::time::Duration, during: &str) -> Result<(), EngineError> {
        let n = self.t.read_into_paced(&mut self.buf, &mut self.pace, limit, during).await?;
        self.s.feed(self.buf.get(..n).unwrap_or_default());
        Ok(())
    }

    /// A protocol violation by this server: the connection is unusable.
    pub fn protocol(&self, detail: &str) -> EngineError {
        EngineError::Protocol { protocol: "POP3", addr: self.addr.clone(), detail: detail.to_string() }
    }

    fn proto_err(&self, e: Pop3Error) -> EngineError {
        self.protocol(&e.to_string())
    }
}
