//! The byte pipe under both protocols: TCP, implicit TLS or a STARTTLS upgrade, with time limits and a
//! clear error for each way a connection fails.
//!
//! Owns: DNS resolution, TCP connect, the rustls client configuration (public roots plus an optional CA
//! file, TLS 1.2 and 1.3 only, certificates always verified), reads and writes with time limits, and handing
//! every byte it carries, both ways, to the endpoint's protocol trace when there is one (`--trace`: the
//! trace's recorder decides what of it may be written).
//! Must never: disable certificate verification, fall back from TLS to plaintext, or log bytes it carries.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::endpoint::{Endpoint, Security};
use crate::steps::{NoSteps, Step, Steps};
use crate::trace::{Protocol, Tap};
use crate::EngineError;

/// Bytes read from the socket at a time under TLS. rustls itself asks for 4 KiB per read; a buffer between
/// it and the socket turns a 200 MB mailbox's 50,000 receive calls into about 3,000.
const TLS_READ_BUFFER: usize = 64 * 1024;

/// A connected stream, encrypted or not.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<BufReader<TcpStream>>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A connection to one endpoint.
#[derive(Debug)]
pub struct Transport {
    stream: Stream,
    endpoint: Endpoint,
    tap: Option<Tap>,
}

impl Transport {
    /// Resolves, connects and, for `Security::Tls`, completes the TLS handshake.
    pub async fn connect(endpoint: &Endpoint, protocol: Protocol) -> Result<Transport, EngineError> {
        Transport::connect_with(endpoint, protocol, &mut NoSteps).await
    }

    /// [`Transport::connect`], reporting each step that succeeded (resolve, connect, tls) to `steps`. The
    /// connection's trace, when the endpoint has one, speaks `protocol`.
    pub async fn connect_with(
        endpoint: &Endpoint,
        protocol: Protocol,
        steps: &mut dyn Steps,
    ) -> Result<Transport, EngineError> {
        if endpoint.security == Security::Plain && !endpoint.allow_plaintext {
            return Err(EngineError::Config(format!(
                "{} is configured without encryption (security = \"plain\"); set allow_plaintext = true to allow it",
                endpoint.addr()
            )));
        }
        let mut tap = endpoint
            .trace
            .as_ref()
            .map(|t| t.connection(protocol, &endpoint.addr(), endpoint.security.as_str()));
        let tcp = match tcp_connect(endpoint, steps).await {
            Ok(tcp) => tcp,
            Err(e) => {
                if let Some(tap) = &mut tap {
                    tap.close(&format!("failed: {e}"));
                }
                return Err(e);
            }
        };
        if let (Some(tap), Ok(peer)) = (&mut tap, tcp.peer_addr()) {
            tap.note(&format!("connected to {peer}"));
        }
        let mut t = Transport { stream: Stream::Plain(tcp), endpoint: endpoint.clone(), tap };
        if endpoint.security == Security::Tls {
            let started = Instant::now();
            t = t.start_tls().await?;
            steps.done(Step::Tls, started, format!("certificate verified for {}", endpoint.host));
        }
        Ok(t)
    }

    /// The local address of the connection (for SMTP's EHLO).
    pub fn local_ip(&self) -> Option<std::net::IpAddr> {
        let tcp = match &self.stream {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0.get_ref(),
        };
        tcp.local_addr().ok().map(|a| a.ip())
    }

    /// Runs the TLS handshake over the current plain connection (after the server accepted STARTTLS/STLS).
    pub async fn start_tls(self) -> Result<Transport, EngineError> {
        let Transport { stream, endpoint: ep, mut tap } = self;
        let Stream::Plain(tcp) = stream else {
            return Err(EngineError::Config(format!("{} is already encrypted", ep.addr())));
        };
        let result = Transport::handshake(tcp, &ep).await;
        if let Some(tap) = &mut tap {
            match &result {
                Ok(tls) => {
                    let (_, conn) = tls.get_ref();
                    let version = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
                    let suite = conn
                        .negotiated_cipher_suite()
                        .map(|s| format!("{:?}", s.suite()))
                        .unwrap_or_default();
                    tap.note(&format!(
                        "TLS established: {version} {suite}, certificate verified for {}",
                        ep.host
                    ));
                }
                Err(e) => tap.close(&format!("TLS failed: {e}")),
            }
        }
        Ok(Transport { stream: Stream::Tls(Box::new(result?)), endpoint: ep, tap })
    }

    async fn handshake(
        tcp: TcpStream,
        ep: &Endpoint,
    ) -> Result<TlsStream<BufReader<TcpStream>>, EngineError> {
        let config = tls_config(ep)?;
        let name = ServerName::try_from(ep.host.clone())
            .map_err(|e| EngineError::Config(format!("invalid TLS server name {:?}: {e}", ep.host)))?;
        // Buffering starts only now: nothing read before the handshake can be left in a buffer.
        let handshake =
            TlsConnector::from(config).connect(name, BufReader::with_capacity(TLS_READ_BUFFER, tcp));
        match tokio::time::timeout(ep.timeouts.connect, handshake).await {
            Err(_) => Err(EngineError::Timeout {
                addr: ep.addr(),
                during: "in the TLS handshake",
                secs: ep.timeouts.connect.as_secs(),
                hint: String::new(),
            }),
            Ok(Err(e)) => Err(classify_tls_error(ep, e)),
            Ok(Ok(s)) => Ok(s),
        }
    }

    /// Whether the bytes are encrypted now.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The endpoint this connects to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Reads what is available into `buf`, waiting at most `limit`; `during` names the wait for messages.
    /// The server closing the connection is an error here: callers only read when they expect an answer.
    pub async fn read(
        &mut self,
        buf: &mut [u8],
        limit: Duration,
        during: &str,
    ) -> Result<usize, EngineError> {
        let r = tokio::time::timeout(limit, self.stream.read(buf)).await;
        let r = read_outcome(&self.endpoint, r, limit, during);
        self.trace_read(r.as_ref().map(|n| buf.get(..*n).unwrap_or_default()));
        r
    }

    /// Reads what is available, appending it to `buf` (at least `min_room` bytes of room are made first).
    pub async fn read_buf(
        &mut self,
        buf: &mut bytes::BytesMut,
        min_room: usize,
        limit: Duration,
        during: &str,
    ) -> Result<usize, EngineError> {
        buf.reserve(min_room);
        let before = buf.len();
        let r = tokio::time::timeout(limit, self.stream.read_buf(buf)).await;
        let r = read_outcome(&self.endpoint, r, limit, during);
        self.trace_read(r.as_ref().map(|_| buf.get(before..).unwrap_or_default()));
        r
    }

    /// Hands what a read brought (or how it failed) to the trace.
    fn trace_read(&mut self, r: Result<&[u8], &EngineError>) {
        if let Some(tap) = &mut self.tap {
            match r {
                Ok(bytes) => tap.received(bytes),
                Err(e) => tap.note(&format!("read failed: {e}")),
            }
        }
    }

    /// Reads what is available into `buf` (appending, at least `min_room` bytes of room made first), keeping
    /// `pace`: no longer silence than `silence`, and no slower than the pace's floor.
    pub async fn read_paced(
        &mut self,
        buf: &mut bytes::BytesMut,
        min_room: usize,
        pace: &mut Pace,
        silence: Duration,
        during: &str,
    ) -> Result<usize, EngineError> {
        let Some(wait) = pace.next_wait(silence) else { return Err(pace.too_slow(&self.endpoint, during)) };
        match self.read_buf(buf, min_room, wait, during).await {
            Ok(n) => {
                pace.record(n);
                Ok(n)
            }
            // Nothing at all is silence (a timeout, e.g. a TLS port spoken to in plain text), not slowness.
            Err(EngineError::Timeout { .. }) if wait < silence && pace.got > 0 => {
                Err(pace.too_slow(&self.endpoint, during))
            }
            Err(e) => Err(e),
        }
    }

    /// Like [`Transport::read_paced`], into a slice.
    pub async fn read_into_paced(
        &mut self,
        buf: &mut [u8],
        pace: &mut Pace,
        silence: Duration,
        during: &str,
    ) -> Result<usize, EngineError> {
        let Some(wait) = pace.next_wait(silence) else { return Err(pace.too_slow(&self.endpoint, during)) };
        match self.read(buf, wait, during).await {
            Ok(n) => {
                pace.record(n);
                Ok(n)
            }
            // Nothing at all is silence (a timeout, e.g. a TLS port spoken to in plain text), not slowness.
            Err(EngineError::Timeout { .. }) if wait < silence && pace.got > 0 => {
                Err(pace.too_slow(&self.endpoint, during))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes all of `data` and flushes it.
    pub async fn write_all(&mut self, data: &[u8]) -> Result<(), EngineError> {
        if let Some(tap) = &mut self.tap {
            tap.sent(data);
        }
        let limit = self.endpoint.timeouts.read;
        let ep = &self.endpoint;
        let io = async {
            self.stream.write_all(data).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(limit, io).await {
            Err(_) => Err(EngineError::Timeout {
                addr: ep.addr(),
                during: "sending to the server",
                secs: limit.as_secs(),
                hint: String::new(),
            }),
            Ok(r) => r.map_err(|e| classify_io(ep, e, "while sending")),
        }
    }

    /// Closes the connection politely (TLS close_notify), ignoring errors: the session is over anyway.
    pub async fn shutdown(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.shutdown()).await;
        if let Some(tap) = &mut self.tap {
            tap.close("closed by mailsync");
        }
    }
}

/// The pace a peer must keep while an answer is awaited (see [`crate::Timeouts::min_rate`]): started when a
/// command goes out (or at connect, for the greeting), it bounds each read by the silence allowed and by
/// the moment the average rate since the start would fall below the floor once `grace` has passed.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    started: Instant,
    got: u64,
    grace: Duration,
    min_rate: u64,
}

impl Pace {
    /// A pace starting now, with `grace` before the rate floor applies.
    pub fn start(grace: Duration, min_rate: u64) -> Pace {
        Pace { started: Instant::now(), got: 0, grace, min_rate }
    }

    /// How long the next read may wait: the silence allowed, or less when the floor comes first. `None`: the
    /// peer is already behind the floor.
    pub fn next_wait(&self, silence: Duration) -> Option<Duration> {
        if self.min_rate == 0 {
            return Some(silence);
        }
        let earned = Duration::from_secs_f64(self.got as f64 / self.min_rate as f64);
        let deadline = self.started + self.grace + earned;
        let left = deadline.checked_duration_since(Instant::now())?;
        Some(silence.min(left))
    }

    /// `n` more bytes arrived.
    pub fn record(&mut self, n: usize) {
        self.got = self.got.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// The error for a peer behind the floor.
    pub fn too_slow(&self, ep: &Endpoint, during: &str) -> EngineError {
        EngineError::TooSlow {
            addr: ep.addr(),
            during: during.to_owned(),
            bytes: self.got,
            secs: self.started.elapsed().as_secs(),
            min_rate: self.min_rate,
        }
    }
}

/// A timed read's result as the engine reports it: a timeout, the server closing, or the bytes read.
fn read_outcome(
    ep: &Endpoint,
    r: Result<io::Result<usize>, tokio::time::error::Elapsed>,
    limit: Duration,
    during: &str,
) -> Result<usize, EngineError> {
    match r {
        Err(_) => Err(EngineError::Timeout {
            addr: ep.addr(),
            during: "waiting for the server",
            secs: limit.as_secs(),
            hint: format!(": no answer {during}"),
        }),
        Ok(Ok(0)) => Err(EngineError::Closed { addr: ep.addr(), during: during.to_string() }),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(classify_io(ep, e, during)),
    }
}

async fn tcp_connect(ep: &Endpoint, steps: &mut dyn Steps) -> Result<TcpStream, EngineError> {
    let limit = ep.timeouts.connect;
    let timeout =
        |during| EngineError::Timeout { addr: ep.addr(), during, secs: limit.as_secs(), hint: String::new() };
    let started = Instant::now();
    let addrs = match tokio::time::timeout(limit, tokio::net::lookup_host((ep.host.as_str(), ep.port))).await
    {
        Err(_) => return Err(timeout("resolving the host name")),
        Ok(Err(source)) => return Err(EngineError::Dns { host: ep.host.clone(), source }),
        Ok(Ok(a)) => a.collect::<Vec<_>>(),
    };
    if addrs.is_empty() {
        let source = io::Error::new(io::ErrorKind::NotFound, "no address for host");
        return Err(EngineError::Dns { host: ep.host.clone(), source });
    }
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    steps.done(Step::Resolve, started, format!("{} -> {}", ep.host, shown.join(", ")));
    let started = Instant::now();
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
            Err(_) => return Err(timeout("connecting")),
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                steps.done(Step::Connect, started, format!("TCP {addr}"));
                return Ok(s);
            }
            Ok(Err(e)) => last = Some(e),
        }
    }
    Err(EngineError::Connect {
        addr: ep.addr(),
        source: last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for host")),
    })
}

/// The rustls configuration: TLS 1.2+ (rustls speaks nothing older), public roots plus `ca_file`.
fn tls_config(ep: &Endpoint) -> Result<Arc<ClientConfig>, EngineError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &ep.ca_file {
        let bad = |detail: String| EngineError::LocalFile {
            what: "cannot use CA file",
            path: path.clone(),
            detail,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::Config(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn classify_tls_error(ep: &Endpoint, e: io::Error) -> EngineError {
    let addr = ep.addr();
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        match tls {
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => {
                return EngineError::CertName { addr, host: ep.host.clone(), detail: tls.to_string() };
            }
            rustls::Error::InvalidCertificate(_) => {
                return EngineError::CertTrust { addr, detail: tls.to_string() };
            }
            rustls::Error::InvalidMessage(_) => {
                return EngineError::Tls { addr, detail: tls.to_string(), hint: not_tls_hint(ep) };
            }
            _ => return EngineError::Tls { addr, detail: tls.to_string(), hint: String::new() },
        }
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
            EngineError::Tls { addr, detail: e.to_string(), hint: not_tls_hint(ep) }
        }
        _ => EngineError::Tls { addr, detail: e.to_string(), hint: String::new() },
    }
}

/// A read that waited for the greeting failed: when it timed out on a connection without TLS from the first
/// byte, the likely cause is an implicit-TLS port waiting for our handshake, and the error says so.
pub fn greeting_error(ep: &Endpoint, e: EngineError) -> EngineError {
    match e {
        EngineError::Timeout { addr, secs, .. } if ep.security != Security::Tls => EngineError::Timeout {
            addr,
            during: "waiting for the greeting",
            secs,
            hint: format!(
                "; port {} may expect TLS from the first byte (993 and 995 do): try security = \"tls\"",
                ep.port
            ),
        },
        e => e,
    }
}

fn not_tls_hint(ep: &Endpoint) -> String {
    if ep.security == Security::Tls {
        format!(
            "; the server did not answer with TLS: port {} may expect a plain greeting and STARTTLS \
             (try security = \"starttls\")",
            ep.port
        )
    } else {
        String::new()
    }
}

fn classify_io(ep: &Endpoint, e: io::Error, during: &str) -> EngineError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            EngineError::Closed { addr: ep.addr(), during: during.to_string() }
        }
        _ => EngineError::Io { addr: ep.addr(), source: e },
    }
}
