//! A man in the middle for tests: a TLS front on 127.0.0.1 that relays each client connection to one of the
//! harness Dovecot's plain listeners, and lets a test rewrite what the server answers, one whole response
//! at a time. A real server's state then meets a buggy server's answers: the test can check the store
//! against what the server really holds, and what the server holds after the client acted on a lie.
//!
//! Owns: framing the server's byte stream into responses (IMAP: a line with its literals, by
//! `mailsync_proto`'s framer; POP3: a status line, with its multi-line body when the command it answers has
//! one), knowing which client command each response answers, and calling the test's rewrite with both.
//!
//! Must never: listen beyond loopback, be the proof that sync works by itself (Dovecot holds the state), or
//! outlive its test (each connection's thread ends when either side closes; the listener when dropped).

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::BytesMut;
use mailsync_proto::imap::Framer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::{Dovecot, HarnessError};

/// How a test changes one server response: given the client command it answers (without its tag, as sent)
/// and the response's bytes (with its line ends and literals), the bytes to pass on instead. Return the
/// bytes unchanged to leave the response alone, nothing to drop it.
pub type Rewrite = dyn Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync;

/// How a test changes what the client says: given one command line (without its line end, tag included),
/// the line to send the server instead (`None`: unchanged). The response is still matched to the client's
/// original command, so a test can make a server answer `+OK` to a DELE it never saw.
pub type ClientRewrite = dyn Fn(&str) -> Option<String> + Send + Sync;

fn unchanged(_: &str) -> Option<String> {
    None
}

/// Which protocol the proxy frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// IMAP: responses are a line plus literals; tagged completions end a command.
    Imap,
    /// POP3: a status line, plus a dot-terminated body for the commands that have one.
    Pop3,
}

/// A running proxy.
pub struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("port", &self.port).finish()
    }
}

impl Proxy {
    /// A proxy in front of `d`'s plain IMAP listener, with TLS toward the client (the instance's certificate:
    /// a client trusting `d.ca_file()` trusts the proxy).
    pub fn imap(
        d: &Dovecot,
        rewrite: impl Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static,
    ) -> Result<Proxy, HarnessError> {
        Proxy::start(d, d.ports().imap, Dialect::Imap, Arc::new(rewrite), Arc::new(unchanged))
    }

    /// A proxy in front of `d`'s plain POP3 listener (see [`Proxy::imap`]).
    pub fn pop3(
        d: &Dovecot,
        rewrite: impl Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static,
    ) -> Result<Proxy, HarnessError> {
        Proxy::start(d, d.ports().pop3, Dialect::Pop3, Arc::new(rewrite), Arc::new(unchanged))
    }

    /// Like [`Proxy::pop3`], also rewriting the client's command lines.
    pub fn pop3_both(
        d: &Dovecot,
        rewrite: impl Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static,
        client: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Proxy, HarnessError> {
        Proxy::start(d, d.ports().pop3, Dialect::Pop3, Arc::new(rewrite), Arc::new(client))
    }

    fn start(
        d: &Dovecot,
        upstream: u16,
        dialect: Dialect,
        rewrite: Arc<Rewrite>,
        client: Arc<ClientRewrite>,
    ) -> Result<Proxy, HarnessError> {
        let config = tls_config(d)?;
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(HarnessError::io("binding", "127.0.0.1:0"))?;
        let port = listener.local_addr().map_err(HarnessError::io("binding", "127.0.0.1:0"))?.port();
        listener.set_nonblocking(true).map_err(HarnessError::io("configuring", "the proxy listener"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop2, count) = (stop.clone(), connections.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client_conn, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let (config, rewrite, stop) = (config.clone(), rewrite.clone(), stop2.clone());
                        let client_rewrite = client.clone();
                        std::thread::spawn(move || {
                            let hooks = Hooks { server: &*rewrite, client: &*client_rewrite };
                            let _ = relay(client_conn, upstream, config, dialect, hooks, &stop);
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(Proxy { port, stop, connections, thread: Some(thread) })
    }

    /// The port on 127.0.0.1 (TLS from the first byte).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many client connections it accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tls_config(d: &Dovecot) -> Result<Arc<ServerConfig>, HarnessError> {
    let e = |e: &dyn std::fmt::Display| HarnessError::Oracle(format!("proxy TLS: {e}"));
    let ca = d.ca();
    let certs = CertificateDer::pem_slice_iter(ca.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|x| e(&x))?;
    let key = PrivateKeyDer::from_pem_slice(ca.server_key_pem.as_bytes()).map_err(|x| e(&x))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|x| e(&x))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|x| e(&x))?;
    Ok(Arc::new(config))
}

/// How long one side is waited for before the other is looked at.
const POLL: Duration = Duration::from_millis(2);

/// The test's two rewrites.
#[derive(Clone, Copy)]
struct Hooks<'a> {
    server: &'a Rewrite,
    client: &'a ClientRewrite,
}

fn relay(
    client: TcpStream,
    upstream_port: u16,
    config: Arc<ServerConfig>,
    dialect: Dialect,
    hooks: Hooks<'_>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(POLL))?;
    let mut tls = StreamOwned::new(ServerConnection::new(config).map_err(std::io::Error::other)?, client);
    let mut up = TcpStream::connect(("127.0.0.1", upstream_port))?;
    up.set_read_timeout(Some(POLL))?;
    let mut commands = Commands::default();
    let mut from_server = BytesMut::new();
    let mut framer = Framer::new(usize::MAX >> 1);
    let mut buf = vec![0u8; 64 * 1024];
    let result = loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        match tls.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                let data = buf.get(..n).unwrap_or_default();
                let forward = commands.client_sent(data, dialect, hooks.client);
                up.write_all(&forward)?;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => break Err(e),
        }
        match up.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => from_server.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => break Err(e),
        }
        loop {
            let unit = match dialect {
                Dialect::Imap => framer.decode(&mut from_server).ok().flatten().map(|b| b.to_vec()),
                Dialect::Pop3 => pop3_unit(&mut from_server, commands.front()),
            };
            let Some(unit) = unit else { break };
            let command = commands.answered_by(&unit, dialect);
            let out = (hooks.server)(&command, unit);
            if !out.is_empty() {
                tls.write_all(&out)?;
                tls.flush()?;
            }
        }
    };
    let _ = up.shutdown(Shutdown::Both);
    tls.conn.send_close_notify();
    let _ = tls.flush();
    result
}

/// The client's commands still waiting for their answer, in order.
#[derive(Debug, Default)]
struct Commands {
    /// (tag, command without its tag) for IMAP; ("", command) for POP3.
    waiting: VecDeque<(String, String)>,
    /// Bytes of the client's current line.
    line: Vec<u8>,
    /// Literal bytes still to skip inside the client's current command.
    literal_left: usize,
    /// The command being written across literals (IMAP).
    partial: Option<(String, String)>,
    greeted: bool,
}

impl Commands {
    /// Notes what the client sent and returns the bytes to forward: whole command lines (rewritten by
    /// `rewrite` when it says so) and literal data as it is; a partial line waits for its end.
    fn client_sent(&mut self, mut data: &[u8], dialect: Dialect, rewrite: &ClientRewrite) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        while !data.is_empty() {
            if self.literal_left > 0 {
                let n = self.literal_left.min(data.len());
                self.literal_left -= n;
                out.extend_from_slice(data.get(..n).unwrap_or_default());
                data = data.get(n..).unwrap_or_default();
                continue;
            }
            let Some(pos) = data.iter().position(|&b| b == b'\n') else {
                self.line.extend_from_slice(data);
                return out;
            };
            self.line.extend_from_slice(data.get(..=pos).unwrap_or_default());
            data = data.get(pos + 1..).unwrap_or_default();
            let line = String::from_utf8_lossy(&self.line).trim_end().to_owned();
            match rewrite(&line) {
                Some(other) => {
                    out.extend_from_slice(other.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                None => out.extend_from_slice(&self.line),
            }
            self.line.clear();
            match dialect {
                Dialect::Pop3 => self.waiting.push_back((String::new(), line)),
                Dialect::Imap => {
                    let literal = literal_size(&line);
                    if self.partial.is_none() {
                        let (tag, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                        // IDLE's DONE and SASL answers are not commands.
                        if !tag.eq_ignore_ascii_case("DONE") && !rest.is_empty() {
                            self.partial = Some((tag.to_owned(), rest.to_owned()));
                        }
                    }
                    match literal {
                        Some(n) => self.literal_left = n,
                        None => {
                            if let Some(c) = self.partial.take() {
                                self.waiting.push_back(c);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn front(&self) -> Option<&str> {
        self.waiting.front().map(|(_, c)| c.as_str())
    }

    /// The command `unit` answers (empty for the greeting and unsolicited data); a completion retires it.
    fn answered_by(&mut self, unit: &[u8], dialect: Dialect) -> String {
        if !self.greeted {
            self.greeted = true;
            return String::new();
        }
        match dialect {
            Dialect::Pop3 => {
                if unit.starts_with(b"+ ") || unit == b"+\r\n" {
                    return self.front().unwrap_or_default().to_owned();
                }
                self.waiting.pop_front().map(|(_, c)| c).unwrap_or_default()
            }
            Dialect::Imap => {
                let first = unit.split(|&b| b == b' ').next().unwrap_or_default();
                if first == b"*" || first == b"+" || first.starts_with(b"+") {
                    return self.front().unwrap_or_default().to_owned();
                }
                let tag = String::from_utf8_lossy(first).into_owned();
                match self.waiting.iter().position(|(t, _)| *t == tag) {
                    Some(i) => self.waiting.remove(i).map(|(_, c)| c).unwrap_or_default(),
                    None => String::new(),
                }
            }
        }
    }
}

/// The size of the literal a client line ends with (`{12}` or `{12+}`), if any.
fn literal_size(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner.get(open + 1..)?.trim_end_matches('+').parse().ok()
}

/// Whether a `+OK` to `command` has a multi-line body (RFC 1939, RFC 2449).
fn pop3_multiline(command: &str) -> bool {
    let mut words = command.split_whitespace();
    let verb = words.next().unwrap_or_default().to_ascii_uppercase();
    let has_arg = words.next().is_some();
    match verb.as_str() {
        "CAPA" | "RETR" | "TOP" => true,
        "LIST" | "UIDL" => !has_arg,
        _ => false,
    }
}

/// One complete POP3 response from `buf`, if there is one.
fn pop3_unit(buf: &mut BytesMut, command: Option<&str>) -> Option<Vec<u8>> {
    let eol = buf.iter().position(|&b| b == b'\n')?;
    let multiline = buf.starts_with(b"+OK") && command.is_some_and(pop3_multiline);
    let end = if multiline {
        let body = buf.get(eol + 1..)?;
        if body.starts_with(b".\r\n") {
            eol + 1 + 3
        } else {
            let at = body.windows(5).position(|w| w == b"\r\n.\r\n")?;
            eol + 1 + at + 5
        }
    } else {
        eol + 1
    };
    Some(buf.split_to(end).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_commands_are_tracked_across_literals_and_pipelining() {
        let mut c = Commands::default();
        let first = b"A1 LOGIN {5+}\r\nalice {3+}\r\npw1\r\nA2 LIST \"\" *\r\nA3 UID FE";
        let sent = c.client_sent(first, Dialect::Imap, &unchanged);
        assert_eq!(sent, first.get(..first.len() - 9).unwrap_or_default(), "a partial line waits");
        assert_eq!(
            c.client_sent(b"TCH 1:* (UID)\r\n", Dialect::Imap, &unchanged),
            b"A3 UID FETCH 1:* (UID)\r\n"
        );
        assert_eq!(c.answered_by(b"* OK hi\r\n", Dialect::Imap), "", "the greeting");
        assert_eq!(c.answered_by(b"A1 OK in\r\n", Dialect::Imap), "LOGIN {5+}");
        assert_eq!(c.answered_by(b"* LIST () \"/\" INBOX\r\n", Dialect::Imap), "LIST \"\" *");
        assert_eq!(c.answered_by(b"A2 OK done\r\n", Dialect::Imap), "LIST \"\" *");
        assert_eq!(c.answered_by(b"* 1 FETCH (UID 1)\r\n", Dialect::Imap), "UID FETCH 1:* (UID)");
    }

    #[test]
    fn client_lines_can_be_replaced_and_still_answer_for_the_original() {
        let mut c = Commands::default();
        let swallow = |l: &str| (l == "DELE 1").then(|| "NOOP".to_owned());
        assert_eq!(c.client_sent(b"DELE 1\r\nDELE 2\r\n", Dialect::Pop3, &swallow), b"NOOP\r\nDELE 2\r\n");
        assert_eq!(c.answered_by(b"+OK ready\r\n", Dialect::Pop3), "");
        assert_eq!(c.answered_by(b"+OK\r\n", Dialect::Pop3), "DELE 1");
    }

    #[test]
    fn pop3_responses_are_framed_by_their_command() {
        let mut b = BytesMut::from(&b"+OK 2 messages\r\n1 a\r\n2 b\r\n.\r\n+OK bye\r\n"[..]);
        assert_eq!(
            pop3_unit(&mut b, Some("UIDL")).as_deref(),
            Some(&b"+OK 2 messages\r\n1 a\r\n2 b\r\n.\r\n"[..])
        );
        assert_eq!(pop3_unit(&mut b, Some("QUIT")).as_deref(), Some(&b"+OK bye\r\n"[..]));
        let mut partial = BytesMut::from(&b"+OK\r\n1 a\r\n"[..]);
        assert_eq!(pop3_unit(&mut partial, Some("UIDL")), None);
        let mut err = BytesMut::from(&b"-ERR no\r\n"[..]);
        assert_eq!(pop3_unit(&mut err, Some("RETR 9")).as_deref(), Some(&b"-ERR no\r\n"[..]));
        let mut one = BytesMut::from(&b"+OK 1 a\r\n"[..]);
        assert_eq!(pop3_unit(&mut one, Some("UIDL 1")).as_deref(), Some(&b"+OK 1 a\r\n"[..]));
        assert_eq!(literal_size("A1 LOGIN {12+}"), Some(12));
        assert_eq!(literal_size("A1 LOGIN x"), None);
    }
}
