//! A scripted server for faults and quirks that a real Dovecot will not produce on demand: a connection
//! closed mid-literal, a server that goes silent, a hostile literal size, a refused STARTTLS. It accepts
//! one connection (or a few, one after the other) on 127.0.0.1 and hands it to a closure that plays the server's part.
//!
//! Must never: be the proof that sync works (that is Dovecot's job); listen beyond loopback; outlive its test
//! (the thread ends when the closure returns or the client goes away, and the listener is closed on drop).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::{HarnessError, TestCa};

/// The server's side of one connection.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP (for greetings before STARTTLS, or a server that never speaks TLS).
    Plain(BufReader<TcpStream>),
    /// TLS from the first byte.
    Tls(Box<BufReader<StreamOwned<ServerConnection, TcpStream>>>),
}

impl Conn {
    /// Sends bytes; a client that went away is not an error here.
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = match self {
            Conn::Plain(r) => r.get_mut().write_all(bytes).and_then(|_| r.get_mut().flush()),
            Conn::Tls(r) => r.get_mut().write_all(bytes).and_then(|_| r.get_mut().flush()),
        };
    }

    /// Sends bytes; `false` once the client has gone away (for scripts that stream until it does).
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        match self {
            Conn::Plain(r) => r.get_mut().write_all(bytes).and_then(|_| r.get_mut().flush()).is_ok(),
            Conn::Tls(r) => r.get_mut().write_all(bytes).and_then(|_| r.get_mut().flush()).is_ok(),
        }
    }

    /// The next line from the client (CRLF removed), or `None` when it closed the connection.
    pub fn line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        let n = match self {
            Conn::Plain(r) => r.read_until(b'\n', &mut buf),
            Conn::Tls(r) => r.read_until(b'\n', &mut buf),
        }
        .ok()?;
        if n == 0 {
            return None;
        }
        let s = String::from_utf8_lossy(&buf);
        Some(s.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Turns a plain connection into TLS (after the script answered STARTTLS with OK).
    pub fn start_tls(self, ca: &TestCa) -> Option<Conn> {
        match self {
            Conn::Plain(r) => {
                let conn = ServerConnection::new(server_config(ca).ok()?).ok()?;
                Some(Conn::Tls(Box::new(BufReader::new(StreamOwned::new(conn, r.into_inner())))))
            }
            tls => Some(tls),
        }
    }
}

/// A one-connection scripted server.
#[derive(Debug)]
pub struct ScriptedServer {
    port: u16,
    ca: TestCa,
    dir: tempfile::TempDir,
    thread: Option<JoinHandle<()>>,
}

fn server_config(ca: &TestCa) -> Result<Arc<ServerConfig>, HarnessError> {
    let e = |e: &dyn std::fmt::Display| HarnessError::Oracle(format!("scripted server TLS: {e}"));
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

impl ScriptedServer {
    /// Serves one connection with TLS from the first byte, certificate signed by a fresh CA.
    pub fn tls(script: impl FnOnce(Conn) + Send + 'static) -> Result<ScriptedServer, HarnessError> {
        ScriptedServer::start(TestCa::generate("scripted server CA")?, true, |c, _| script(c))
    }

    /// Serves `n` connections one after the other with TLS from the first byte, each with `script`.
    pub fn tls_many(
        n: usize,
        script: impl Fn(Conn) + Send + 'static,
    ) -> Result<ScriptedServer, HarnessError> {
        ScriptedServer::start_many(TestCa::generate("scripted server CA")?, true, n, move |c, _| script(c))
    }

    /// Serves one connection with TLS, using `ca` (e.g. a certificate for another host name).
    pub fn tls_with(
        ca: TestCa,
        script: impl FnOnce(Conn) + Send + 'static,
    ) -> Result<ScriptedServer, HarnessError> {
        ScriptedServer::start(ca, true, |c, _| script(c))
    }

    /// Serves `n` connections one after the other with TLS from the first byte using `ca`, each with `script`.
    pub fn tls_many_with(
        ca: TestCa,
        n: usize,
        script: impl Fn(Conn) + Send + 'static,
    ) -> Result<ScriptedServer, HarnessError> {
        ScriptedServer::start_many(ca, true, n, move |c, _| script(c))
    }

    /// Serves one plain connection; the script gets the CA to upgrade with [`Conn::start_tls`].
    pub fn plain(
        script: impl FnOnce(Conn, &TestCa) + Send + 'static,
    ) -> Result<ScriptedServer, HarnessError> {
        ScriptedServer::start(TestCa::generate("scripted server CA")?, false, script)
    }

    fn start(
        ca: TestCa,
        tls: bool,
        script: impl FnOnce(Conn, &TestCa) + Send + 'static,
    ) -> Result<ScriptedServer, HarnessError> {
        let once = std::sync::Mutex::new(Some(script));
        ScriptedServer::start_many(ca, tls, 1, move |c, ca| {
            if let Some(s) = once.lock().ok().and_then(|mut g| g.take()) {
                s(c, ca);
            }
        })
    }

    fn start_many(
        ca: TestCa,
        tls: bool,
        n: usize,
        script: impl Fn(Conn, &TestCa) + Send + 'static,
    ) -> Result<ScriptedServer, HarnessError> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(HarnessError::io("binding", "127.0.0.1:0"))?;
        let port = listener.local_addr().map_err(HarnessError::io("binding", "127.0.0.1:0"))?.port();
        let dir = tempfile::tempdir().map_err(HarnessError::io("creating temp dir", std::env::temp_dir()))?;
        std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem)
            .map_err(HarnessError::io("writing", dir.path()))?;
        let config = if tls { Some(server_config(&ca)?) } else { None };
        let thread_ca = ca.clone();
        let thread = std::thread::spawn(move || {
            for _ in 0..n {
                let Ok((tcp, _)) = listener.accept() else { return };
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
                let conn = match &config {
                    Some(cfg) => match ServerConnection::new(cfg.clone()) {
                        Ok(c) => Conn::Tls(Box::new(BufReader::new(StreamOwned::new(c, tcp)))),
                        Err(_) => return,
                    },
                    None => Conn::Plain(BufReader::new(tcp)),
                };
                script(conn, &thread_ca);
            }
        });
        Ok(ScriptedServer { port, ca, dir, thread: Some(thread) })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA file a client should trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The certificates in use.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// Waits for the script to finish.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
