//! The SMTP part of `mailsync check`, through `lettre`'s SMTP connection (rustls with ring): resolve,
//! connect, greeting and EHLO, TLS (implicit) or STARTTLS (certificate verified either way), the extensions
//! offered after TLS, AUTH (PLAIN/LOGIN with a password, XOAUTH2 with a token), and with `--send-test` a
//! test message to the account's own address.
//!
//! Owns the order of the SMTP steps and turning lettre's errors into the engine's classified errors, so that
//! every protocol gets the same hints. Must never: authenticate on an unencrypted connection, send mail
//! anywhere but to the account's own address, or enable lettre's wire logging (it would log AUTH).
//! RFC 5321 (SMTP), RFC 6409 (submission), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 8314 (implicit TLS).

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Instant;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials as SmtpCredentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::{ClientId, Extension};
use mailsync_engine::{Credentials, Endpoint, EngineError, Security};
use rustls::CertificateError;

use super::hints::{hint, HintCtx};
use super::imap::login_detail;
use super::Checklist;

const P: &str = "smtp";

/// Where the SMTP session stands when an error happens, for its classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting,
    Tls,
    Auth,
    Send,
}

/// Runs the SMTP steps; with `send_test`, also sends a test message to the account's own address.
pub fn check(
    list: &mut Checklist,
    h: &HintCtx<'_>,
    ep: &Endpoint,
    creds: Option<&Credentials>,
    send_test: bool,
) {
    let mut later: Vec<&'static str> = vec!["tls", "capabilities", "authenticate"];
    if send_test {
        later.push("send test");
    }
    let timeout = ep.timeouts.greeting;
    let started = Instant::now();
    let addrs: Vec<SocketAddr> = match (ep.host.as_str(), ep.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(source) => {
            let e = EngineError::Dns { host: ep.host.clone(), source };
            fail(list, h, "resolve", Some(started), e);
            list.skip(P, &[&["connect"], &later[..]].concat(), "the host did not resolve");
            return;
        }
    };
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    list.ok(P, "resolve", Some(started), format!("{} -> {}", ep.host, shown.join(", ")));

    let started = Instant::now();
    let mut last = None;
    let mut reached = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, ep.timeouts.connect) {
            Ok(_) => {
                reached = Some(*addr);
                break;
            }
            Err(e) => last = Some(EngineError::Connect { addr: addr.to_string(), source: e }),
        }
    }
    let Some(addr) = reached else {
        let e = last.unwrap_or_else(|| EngineError::Connect {
            addr: ep.addr(),
            source: io::Error::new(io::ErrorKind::NotFound, "no address to connect to"),
        });
        fail(list, h, "connect", Some(started), e);
        list.skip(P, &later, "no connection");
        return;
    };
    list.ok(P, "connect", Some(started), format!("TCP {addr}"));

    let params = match tls_parameters(ep) {
        Ok(p) => p,
        Err(e) => {
            fail(list, h, "tls", None, e);
            list.skip(P, &later[1..], "no TLS");
            return;
        }
    };
    let hello = ClientId::default();
    let started = Instant::now();
    let implicit = (ep.security == Security::Tls).then_some(&params);
    let mut conn = match SmtpConnection::connect(addr, Some(timeout), &hello, implicit, None) {
        Ok(c) => c,
        Err(e) => {
            let phase = if implicit.is_some() { Phase::Tls } else { Phase::Greeting };
            let step = if implicit.is_some() { "tls" } else { "ehlo" };
            fail(list, h, step, Some(started), classify(ep, &e, phase));
            list.skip(P, &later[usize::from(implicit.is_some())..], "no session");
            return;
        }
    };
    match ep.security {
        Security::Tls => list.ok(
            P,
            "tls",
            Some(started),
            format!(
                "certificate verified for {}; greeting and EHLO from {}",
                ep.host,
                conn.server_info().name()
            ),
        ),
        Security::StartTls | Security::Plain => {
            list.ok(P, "ehlo", Some(started), format!("greeting and EHLO from {}", conn.server_info().name()))
        }
    }
    if ep.security == Security::StartTls {
        let started = Instant::now();
        if !conn.server_info().supports_feature(Extension::StartTls) {
            let e = EngineError::StartTlsUnavailable {
                addr: ep.addr(),
                command: "STARTTLS",
                detail: String::new(),
            };
            fail(list, h, "starttls", Some(started), e);
            list.skip(P, &later[1..], "no TLS");
            conn.abort();
            return;
        }
        if let Err(e) = conn.starttls(&params, &hello) {
            fail(list, h, "starttls", Some(started), classify(ep, &e, Phase::Tls));
            list.skip(P, &later[1..], "no TLS");
            conn.abort();
            return;
        }
        list.ok(P, "starttls", Some(started), format!("upgraded; certificate verified for {}", ep.host));
    } else if ep.security == Security::Plain {
        list.skip(P, &["tls"], "security = \"plain\": no encryption (no password is sent)");
    }
    list.ok(P, "capabilities", None, features(&conn));

    let Some(creds) = creds else {
        list.skip(P, &later[2..], "no credentials");
        conn.abort();
        return;
    };
    let started = Instant::now();
    if let Err(e) = authenticate(&mut conn, ep, creds) {
        fail(list, h, "authenticate", Some(started), e);
        if send_test {
            list.skip(P, &["send test"], "not logged in");
        }
        conn.abort();
        return;
    }
    list.ok(P, "authenticate", Some(started), login_detail(creds));
    if send_test {
        let started = Instant::now();
        match send(&mut conn, ep, creds.user(), h.account) {
            Ok(detail) => list.ok(P, "send test", Some(started), detail),
            Err(e) => fail(list, h, "send test", Some(started), e),
        }
    }
    let _ = conn.quit();
}

fn fail(list: &mut Checklist, h: &HintCtx<'_>, step: &'static str, started: Option<Instant>, e: EngineError) {
    let advice = hint(h, &e);
    list.fail(P, step, started, e.into(), advice);
}

/// Public roots plus the account's CA file, TLS 1.2 or later.
fn tls_parameters(ep: &Endpoint) -> Result<TlsParameters, EngineError> {
    let mut builder = TlsParameters::builder(ep.host.clone());
    if let Some(path) = &ep.ca_file {
        let bad = |detail: String| EngineError::LocalFile {
            what: "cannot use CA file",
            path: path.clone(),
            detail,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| EngineError::Config(format!("TLS setup: {e}")))
}

/// The extensions that matter here, as EHLO listed them after TLS.
fn features(conn: &SmtpConnection) -> String {
    let info = conn.server_info();
    let mut out = Vec::new();
    for (ext, label) in [
        (Extension::StartTls, "STARTTLS"),
        (Extension::EightBitMime, "8BITMIME"),
        (Extension::SmtpUtfEight, "SMTPUTF8"),
    ] {
        if info.supports_feature(ext) {
            out.push(label.to_owned());
        }
    }
    let mechs: Vec<&str> =
        [(Mechanism::Plain, "PLAIN"), (Mechanism::Login, "LOGIN"), (Mechanism::Xoauth2, "XOAUTH2")]
            .into_iter()
            .filter(|(m, _)| info.supports_auth_mechanism(*m))
            .map(|(_, name)| name)
            .collect();
    if mechs.is_empty() {
        out.push("no AUTH".to_owned());
    } else {
        out.push(format!("AUTH {}", mechs.join(" ")));
    }
    out.join(", ")
}

fn authenticate(conn: &mut SmtpConnection, ep: &Endpoint, creds: &Credentials) -> Result<(), EngineError> {
    if !conn.is_encrypted() {
        return Err(EngineError::PlaintextRefused { addr: ep.addr() });
    }
    let (mechanisms, smtp_creds): (&[Mechanism], SmtpCredentials) = match creds {
        Credentials::Password { user, password } => (
            &[Mechanism::Plain, Mechanism::Login],
            SmtpCredentials::new(user.clone(), password.expose().clone()),
        ),
        Credentials::OAuth2 { user, token } => {
            (&[Mechanism::Xoauth2], SmtpCredentials::new(user.clone(), token.expose().clone()))
        }
    };
    if conn.server_info().get_auth_mechanism(mechanisms).is_none() {
        let wanted: Vec<String> = mechanisms.iter().map(ToString::to_string).collect();
        return Err(EngineError::Protocol {
            protocol: "SMTP",
            addr: ep.addr(),
            detail: format!(
                "the server offers none of the AUTH mechanisms {} ({})",
                wanted.join(", "),
                features(conn)
            ),
        });
    }
    match conn.auth(mechanisms, &smtp_creds) {
        Ok(r) if r.is_positive() => Ok(()),
        Ok(r) => Err(EngineError::AuthRefused {
            protocol: "SMTP",
            user: creds.user().to_owned(),
            addr: ep.addr(),
            text: format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")),
            hint: String::new(),
        }),
        Err(e) if e.status().is_some() => Err(EngineError::AuthRefused {
            protocol: "SMTP",
            user: creds.user().to_owned(),
            addr: ep.addr(),
            text: e.to_string(),
            hint: String::new(),
        }),
        Err(e) => Err(classify(ep, &e, Phase::Auth)),
    }
}

fn send(conn: &mut SmtpConnection, ep: &Endpoint, user: &str, account: &str) -> Result<String, EngineError> {
    let address: lettre::Address = user.parse().map_err(|e| {
        EngineError::Config(format!("user {user:?} is not an address a test message can be sent to: {e}"))
    })?;
    let when = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let message = lettre::Message::builder()
        .from(Mailbox::new(Some("mailsync check".to_owned()), address.clone()))
        .to(Mailbox::new(None, address))
        .subject(format!("mailsync check {account}: test message"))
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "This message was sent by `mailsync check {account} --send-test` (Unix time {when}).\r\n\
             It proves that the account's SMTP settings can send mail. You can delete it.\r\n"
        ))
        .map_err(|e| EngineError::Config(format!("cannot build the test message: {e}")))?;
    let response = conn.send(message.envelope(), &message.formatted()).map_err(|e| match e.status() {
        Some(_) => EngineError::Protocol {
            protocol: "SMTP",
            addr: ep.addr(),
            detail: format!("the test message was refused: {e}"),
        },
        None => classify(ep, &e, Phase::Send),
    })?;
    Ok(format!("sent to {user}: {} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
}

/// lettre's error as the engine's classified error: TLS certificate problems, timeouts, closed connections.
fn classify(ep: &Endpoint, e: &lettre::transport::smtp::Error, phase: Phase) -> EngineError {
    let addr = ep.addr();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        let tls = s.downcast_ref::<rustls::Error>().or_else(|| {
            s.downcast_ref::<io::Error>().and_then(|io| io.get_ref()?.downcast_ref::<rustls::Error>())
        });
        if let Some(t) = tls {
            return match t {
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                ) => EngineError::CertName { addr, host: ep.host.clone(), detail: t.to_string() },
                rustls::Error::InvalidCertificate(_) => {
                    EngineError::CertTrust { addr, detail: t.to_string() }
                }
                _ => EngineError::Tls { addr, detail: t.to_string(), hint: not_tls_hint(ep) },
            };
        }
        if let Some(io) = s.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    return EngineError::Timeout {
                        addr,
                        during: match phase {
                            Phase::Greeting => "waiting for the greeting",
                            Phase::Tls => "in the TLS handshake",
                            Phase::Auth => "waiting for the AUTH answer",
                            Phase::Send => "sending the test message",
                        },
                        secs: ep.timeouts.greeting.as_secs(),
                        hint: String::new(),
                    }
                }
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset if phase == Phase::Tls => {
                    return EngineError::Tls { addr, detail: io.to_string(), hint: not_tls_hint(ep) }
                }
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                    return EngineError::Closed { addr, during: format!("{phase:?}").to_lowercase() }
                }
                _ => {}
            }
        }
        source = s.source();
    }
    EngineError::Protocol { protocol: "SMTP", addr, detail: e.to_string() }
}

fn not_tls_hint(ep: &Endpoint) -> String {
    if ep.security == Security::Tls {
        format!("; the server did not answer with TLS: port {} may expect STARTTLS", ep.port)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How long a single SMTP wait may take in these tests.
    const TEST_TIMEOUT: Duration = Duration::from_secs(2);

    #[test]
    fn a_silent_implicit_tls_port_is_a_timeout_and_a_plain_greeting_is_not_tls() {
        // A listener that accepts and says nothing: STARTTLS settings wait for a greeting that never comes.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = silent.local_addr().map(|a| a.port()).unwrap_or_default();
        let mut ep = Endpoint::new("127.0.0.1", port, Security::StartTls);
        ep.timeouts.greeting = TEST_TIMEOUT;
        let hello = ClientId::Domain("client.test".into());
        let e = SmtpConnection::connect(("127.0.0.1", port), Some(TEST_TIMEOUT), &hello, None, None)
            .err()
            .map(|e| classify(&ep, &e, Phase::Greeting));
        assert!(matches!(e, Some(EngineError::Timeout { during: "waiting for the greeting", .. })), "{e:?}");

        // A server that greets in plain text: implicit TLS fails with a TLS error and the STARTTLS hint.
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = plain.local_addr().map(|a| a.port()).unwrap_or_default();
        let server = std::thread::spawn(move || {
            if let Ok((mut s, _)) = plain.accept() {
                let _ = io::Write::write_all(&mut s, b"220 plain.test ESMTP\r\n");
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        let ep = Endpoint::new("127.0.0.1", port, Security::Tls);
        let params = tls_parameters(&ep).unwrap_or_else(|e| panic!("{e}"));
        let e = SmtpConnection::connect(("127.0.0.1", port), Some(TEST_TIMEOUT), &hello, Some(&params), None)
            .err()
            .map(|e| classify(&ep, &e, Phase::Tls));
        let _ = server.join();
        match e {
            Some(EngineError::Tls { hint, .. }) => assert!(hint.contains("may expect STARTTLS"), "{hint}"),
            other => panic!("{other:?}"),
        }
    }
}
