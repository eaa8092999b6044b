//! An SMTP submission connection, for `mailsync check` (and `--send-test`): the same transport, time limits,
//! rate floor and line caps as IMAP and POP3, with mailsync-proto's SMTP replies and commands.
//!
//! Owns: the greeting, EHLO, the STARTTLS upgrade (fatal when not offered or refused, and nothing may be
//! buffered behind its 220), the login (AUTH PLAIN or LOGIN with a password, AUTH XOAUTH2 with a token), and
//! sending one message. Must never: send a credential before the connection is encrypted, log one (commands
//! are logged in their redacted form), or send mail to anyone but the address the caller gives.
//!
//! RFC 5321 sections 3.1-3.3 and 4.1-4.2 (session, commands, replies), RFC 3207 (STARTTLS), RFC 4954 (AUTH),
//! RFC 6409 (submission), RFC 8314 (implicit TLS).

use std::time::Instant;

use bytes::BytesMut;
use mailsync_proto::sasl;
use mailsync_proto::smtp::{data_body, Extensions, Reply, ReplyReader, SmtpCommand};
use mailsync_proto::Secret;

use crate::auth::Credentials;
use crate::endpoint::{Endpoint, Security};
use crate::steps::{Step, Steps};
use crate::transport::{greeting_error, Pace, Transport};
use crate::EngineError;

/// A connected (and, when credentials were given, logged-in) SMTP session.
#[derive(Debug)]
pub struct SmtpClient {
    t: Transport,
    r: ReplyReader,
    buf: BytesMut,
    ext: Extensions,
    addr: String,
    pace: Pace,
}

impl SmtpClient {
    /// Connects, reads the greeting, says EHLO, upgrades with STARTTLS when configured (and says EHLO again),
    /// and logs in when `creds` are given, reporting each step to `steps`.
    pub async fn connect_with(
        ep: &Endpoint,
        creds: Option<&Credentials>,
        steps: &mut dyn Steps,
    ) -> Result<SmtpClient, EngineError> {
        let t = Transport::connect_with(ep, crate::trace::Protocol::Smtp, steps).await?;
        let pace = Pace::start(ep.timeouts.greeting, ep.timeouts.min_rate);
        let mut c = SmtpClient {
            t,
            r: ReplyReader::new(),
            buf: BytesMut::new(),
            ext: Extensions::default(),
            addr: ep.addr(),
            pace,
        };
        let started = Instant::now();
        let greeting = match c.reply("for the greeting").await {
            Ok(r) => r,
            Err(e) => return Err(greeting_error(ep, e)),
        };
        if greeting.code != 220 {
            return Err(c.protocol(&format!("the server refused the session: {}", greeting.text())));
        }
        c.ehlo().await?;
        steps.done(Step::Greeting, started, format!("greeting and EHLO from {}", c.ext.name));
        if ep.security == Security::StartTls {
            let started = Instant::now();
            c = c.starttls().await?;
            steps.done(Step::StartTls, started, format!("upgraded; certificate verified for {}", ep.host));
        }
        if let Some(creds) = creds {
            let started = Instant::now();
            c.login(creds).await?;
            steps.done(Step::Login, started, creds.accepted());
        }
        Ok(c)
    }

    /// What EHLO offered (after TLS, when there was an upgrade).
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// Whether the session is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.t.is_encrypted()
    }

    async fn ehlo(&mut self) -> Result<(), EngineError> {
        let domain = match self.t.local_ip() {
            Some(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
            Some(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            None => "[127.0.0.1]".to_owned(),
        };
        let r = self.command(SmtpCommand::Ehlo(domain)).await?;
        if !r.is_positive() {
            return Err(self.refused("EHLO", &r));
        }
        self.ext = Extensions::from_ehlo(&r);
        Ok(())
    }

    async fn starttls(mut self) -> Result<SmtpClient, EngineError> {
        if !self.ext.has("STARTTLS") {
            return Err(EngineError::StartTlsUnavailable {
                addr: self.addr,
                command: "STARTTLS",
                detail: String::new(),
            });
        }
        let r = self.command(SmtpCommand::StartTls).await?;
        if r.code != 220 {
            return Err(EngineError::StartTlsUnavailable {
                addr: self.addr.clone(),
                command: "STARTTLS",
                detail: format!(": server answered {}", r.text()),
            });
        }
        if self.r.pending() > 0 || !self.buf.is_empty() {
            return Err(self.protocol(&format!(
                "{} bytes arrived behind the STARTTLS 220 before the TLS handshake: possible injection",
                self.r.pending() + self.buf.len()
            )));
        }
        let SmtpClient { t, addr, pace, .. } = self;
        let t = t.start_tls().await?;
        let mut c = SmtpClient {
            t,
            r: ReplyReader::new(),
            buf: BytesMut::new(),
            ext: Extensions::default(),
            addr,
            pace,
        };
        c.ehlo().await?;
        Ok(c)
    }

    /// Logs in (AUTH PLAIN or LOGIN with a password, XOAUTH2 with a token), only on an encrypted session.
    pub async fn login(&mut self, creds: &Credentials) -> Result<(), EngineError> {
        if !self.t.is_encrypted() {
            return Err(EngineError::PlaintextRefused { addr: self.addr.clone() });
        }
        let sasl_err = |e: sasl::SaslError| EngineError::Config(e.to_string());
        let (first, answers) = match creds {
            Credentials::Password { user, password } if self.ext.has_auth("PLAIN") => {
                let ir = sasl::plain(user, password).map_err(sasl_err)?;
                (SmtpCommand::Auth { mechanism: "PLAIN", initial: Some(ir) }, Vec::new())
            }
            Credentials::Password { user, password } if self.ext.has_auth("LOGIN") => {
                let answers = vec![
                    Secret::new(user.as_bytes().to_vec()),
                    Secret::new(password.expose().as_bytes().to_vec()),
                ];
                (SmtpCommand::Auth { mechanism: "LOGIN", initial: None }, answers)
            }
            Credentials::OAuth2 { user, token } if self.ext.has_auth("XOAUTH2") => {
                let ir = sasl::xoauth2(user, token).map_err(sasl_err)?;
                (SmtpCommand::Auth { mechanism: "XOAUTH2", initial: Some(ir) }, Vec::new())
            }
            _ => {
                let wanted = match creds {
                    Credentials::Password { .. } => "PLAIN or LOGIN",
                    Credentials::OAuth2 { .. } => "XOAUTH2",
                };
                return Err(self.protocol(&format!(
                    "the server offers none of the AUTH mechanisms {wanted} (it offers: {})",
                    if self.ext.auth.is_empty() { "none".to_owned() } else { self.ext.auth.join(" ") }
                )));
            }
        };
        let mut r = self.command(first).await?;
        let mut answers = answers.into_iter();
        let mut failure = None;
        while r.code == 334 {
            let answer = match answers.next() {
                Some(a) => a,
                None => {
                    // With everything sent, a 334 is the server's error report (XOAUTH2: base64 JSON).
                    let text = r.lines.join(" ");
                    failure = Some(match sasl::decode_oauth_failure(&text) {
                        Ok(f) => f.sentence(),
                        Err(_) => text,
                    });
                    Secret::new(Vec::new())
                }
            };
            r = self.command(SmtpCommand::AuthAnswer(answer)).await?;
        }
        if r.is_positive() {
            return Ok(());
        }
        Err(EngineError::AuthRefused {
            protocol: "SMTP",
            user: creds.user().to_owned(),
            addr: self.addr.clone(),
            text: failure.unwrap_or_else(|| r.text()),
            hint: String::new(),
        })
    }

    /// Sends `message` from `from` to `to`: MAIL, RCPT, DATA; the server's final reply.
    pub async fn send(&mut self, from: &str, to: &str, message: &[u8]) -> Result<Reply, EngineError> {
        for (cmd, name) in
            [(SmtpCommand::MailFrom(from.to_owned()), "MAIL"), (SmtpCommand::RcptTo(to.to_owned()), "RCPT")]
        {
            let r = self.command(cmd).await?;
            if !r.is_positive() {
                return Err(self.refused(name, &r));
            }
        }
        let r = self.command(SmtpCommand::Data).await?;
        if r.code != 354 {
            return Err(self.refused("DATA", &r));
        }
        self.t.write_all(&data_body(message)).await?;
        self.restart_pace();
        let r = self.reply("to the message").await?;
        if !r.is_positive() {
            return Err(self.refused("the message", &r));
        }
        Ok(r)
    }

    /// QUIT, then closes; errors are ignored (the work is done).
    pub async fn quit(mut self) {
        let _ = self.command(SmtpCommand::Quit).await;
        self.t.shutdown().await;
    }

    async fn command(&mut self, cmd: SmtpCommand) -> Result<Reply, EngineError> {
        tracing::trace!(command = %cmd.redacted(), "smtp send");
        self.t.write_all(&cmd.to_bytes()).await?;
        self.restart_pace();
        let name = match &cmd {
            SmtpCommand::Ehlo(_) => "to EHLO",
            SmtpCommand::StartTls => "to STARTTLS",
            SmtpCommand::Auth { .. } | SmtpCommand::AuthAnswer(_) => "to AUTH",
            SmtpCommand::MailFrom(_) | SmtpCommand::RcptTo(_) => "to MAIL/RCPT",
            SmtpCommand::Data => "to DATA",
            SmtpCommand::Quit => "to QUIT",
        };
        self.reply(name).await
    }

    fn restart_pace(&mut self) {
        let ep = self.t.endpoint();
        self.pace = Pace::start(ep.timeouts.read, ep.timeouts.min_rate);
    }

    /// The next complete reply, reading as needed within the pace.
    async fn reply(&mut self, during: &str) -> Result<Reply, EngineError> {
        loop {
            match self.r.next_reply() {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(e) => return Err(self.protocol(&e.to_string())),
            }
            let silence = self.t.endpoint().timeouts.read;
            self.buf.clear();
            self.t.read_paced(&mut self.buf, 8 * 1024, &mut self.pace, silence, during).await?;
            self.r.feed(&self.buf);
            self.buf.clear();
        }
    }

    fn protocol(&self, detail: &str) -> EngineError {
        EngineError::Protocol { protocol: "SMTP", addr: self.addr.clone(), detail: detail.to_owned() }
    }

    fn refused(&self, command: &str, r: &Reply) -> EngineError {
        EngineError::Refused {
            protocol: "SMTP",
            addr: self.addr.clone(),
            command: command.to_owned(),
            status: if r.code >= 500 { "permanent failure" } else { "temporary failure" },
            text: r.text(),
        }
    }
}
