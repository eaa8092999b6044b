//! A network link between a client and a server on 127.0.0.1, made worse on purpose: delay (half the
//! round-trip time each way), a rate cap per direction, and faults (a connection cut after so many bytes, a
//! stall, a reset). Bytes pass through untouched (TLS stays end to end), so the client talks to the real
//! server exactly as it would across the internet.
//!
//! Owns: accepting connections on a loopback port, relaying each to the target port through two delay lines,
//! and choosing each connection's fault from a seeded random source (so a failing campaign can be replayed
//! from its seed). Must never: listen beyond loopback, change a byte, or outlive its owner (dropping it stops
//! accepting and ends every relay).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::corpus::Rng;
use crate::HarnessError;

/// What the link does to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Nothing: the connection lives until an end closes it.
    #[default]
    None,
    /// Both directions are cut (the sockets closed) once this many bytes have passed in total.
    CutAfter(u64),
    /// Like `CutAfter`, with a TCP reset instead of a clean close.
    ResetAfter(u64),
    /// Nothing passes for this long once this many bytes have passed, then the link goes on.
    StallAfter(u64, Duration),
}

/// How the link behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    /// The round-trip time added (half each way).
    pub rtt: Duration,
    /// Bytes per second each way (`None`: unlimited).
    pub rate: Option<u64>,
    /// Faults: none, the same for every connection, or random per connection.
    pub faults: Faults,
}

/// Which faults the link applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Faults {
    /// None.
    None,
    /// This one, to every connection.
    Every(Fault),
    /// Each connection is cut (or reset) after a random number of bytes between the two bounds, drawn from a
    /// generator seeded with `seed`.
    RandomCut {
        /// The seed of the draws.
        seed: u64,
        /// The fewest bytes before the cut.
        min: u64,
        /// The most bytes before the cut.
        max: u64,
    },
}

impl LinkSpec {
    /// A link with this round-trip time and nothing else.
    pub fn rtt(rtt: Duration) -> LinkSpec {
        LinkSpec { rtt, rate: None, faults: Faults::None }
    }
}

/// A running link.
pub struct Link {
    port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
    bytes: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("port", &self.port).finish()
    }
}

impl Link {
    /// Starts a link from a new port on 127.0.0.1 to `target` (a port on 127.0.0.1).
    pub fn start(target: u16, spec: LinkSpec) -> Result<Link, HarnessError> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(HarnessError::io("binding", "127.0.0.1:0"))?;
        let port = listener.local_addr().map_err(HarnessError::io("binding", "127.0.0.1:0"))?.port();
        listener.set_nonblocking(true).map_err(HarnessError::io("configuring", "the link listener"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (stop2, count, cuts2, bytes2) = (stop.clone(), connections.clone(), cuts.clone(), bytes.clone());
        let thread = std::thread::spawn(move || {
            let mut rng = match spec.faults {
                Faults::RandomCut { seed, .. } => Rng::new(seed),
                _ => Rng::new(1),
            };
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let fault = match spec.faults {
                            Faults::None => Fault::None,
                            Faults::Every(f) => f,
                            Faults::RandomCut { min, max, .. } => {
                                let n = rng.range(min, max.max(min + 1));
                                if rng.range(0, 4) == 0 {
                                    Fault::ResetAfter(n)
                                } else {
                                    Fault::CutAfter(n)
                                }
                            }
                        };
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                        let conn = Shared {
                            stop: stop2.clone(),
                            passed: Arc::new(AtomicU64::new(0)),
                            cut: Arc::new(AtomicBool::new(false)),
                            cuts: cuts2.clone(),
                            bytes: bytes2.clone(),
                            fault,
                            stalled: Arc::new(Mutex::new(false)),
                        };
                        relay(client, server, spec, conn);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(Link { port, stop, connections, cuts, bytes, thread: Some(thread) })
    }

    /// The port on 127.0.0.1 that leads to the target.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections the link cut (or reset) so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }

    /// Bytes relayed so far, both ways.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the two directions of one connection share.
#[derive(Clone)]
struct Shared {
    stop: Arc<AtomicBool>,
    passed: Arc<AtomicU64>,
    cut: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
    bytes: Arc<AtomicU64>,
    fault: Fault,
    stalled: Arc<Mutex<bool>>,
}

fn relay(client: TcpStream, server: TcpStream, spec: LinkSpec, conn: Shared) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let pairs = [(client.try_clone(), server.try_clone()), (server.try_clone(), client.try_clone())];
    for (from, to) in pairs {
        let (Ok(from), Ok(to)) = (from, to) else { return };
        let conn = conn.clone();
        std::thread::spawn(move || pump(from, to, spec, conn));
    }
}

/// How often a blocked reader looks whether the link was stopped or cut.
const POLL: Duration = Duration::from_millis(20);

/// One direction: a reader takes bytes as they come and stamps each chunk with the moment it may arrive (half
/// the round trip later, after the chunk before it at the rate cap); a deliverer sleeps until that moment
/// (a timer sleep, precise to well under a millisecond, where socket timeouts round to the kernel tick) and
/// writes it.
fn pump(from: TcpStream, mut to: TcpStream, spec: LinkSpec, conn: Shared) {
    let half = spec.rtt / 2;
    // The connection was accepted here at once; over a real link, TCP's handshake takes a round trip before
    // the first byte can travel either way.
    let open_at = Instant::now() + spec.rtt;
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let reader_conn = conn.clone();
    let Ok(reader_from) = from.try_clone() else { return finish(from, to, &conn) };
    let reader = std::thread::spawn(move || {
        let mut from = reader_from;
        let conn = reader_conn;
        let _ = from.set_read_timeout(Some(POLL));
        let mut next_free = Instant::now();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if conn.stop.load(Ordering::SeqCst) || conn.cut.load(Ordering::SeqCst) {
                return;
            }
            match from.read(&mut buf) {
                Ok(0) => return, // the sender closed: dropping `tx` tells the deliverer
                Ok(n) => {
                    let now = Instant::now();
                    // The rate cap: a chunk leaves after the one before it has, at `rate` bytes per second.
                    let send_at = match spec.rate {
                        Some(rate) if rate > 0 => {
                            let start = next_free.max(now);
                            next_free = start + Duration::from_secs_f64(n as f64 / rate as f64);
                            next_free
                        }
                        _ => now,
                    };
                    let data = buf.get(..n).unwrap_or_default().to_vec();
                    if tx.send((send_at.max(open_at) + half, data)).is_err() {
                        return;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
    });
    loop {
        if conn.stop.load(Ordering::SeqCst) || conn.cut.load(Ordering::SeqCst) {
            break;
        }
        match rx.recv_timeout(POLL) {
            Ok((at, data)) => {
                let wait = at.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
                if !deliver(&mut to, &data, &conn) {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                // The sender closed and everything it sent is delivered: pass the close on.
                let _ = to.shutdown(Shutdown::Write);
                let _ = reader.join();
                return;
            }
        }
    }
    finish(from, to, &conn);
    let _ = reader.join();
}

/// Writes `data` under the connection's fault; false once the connection is cut.
fn deliver(to: &mut TcpStream, data: &[u8], conn: &Shared) -> bool {
    let before = conn.passed.fetch_add(u64::try_from(data.len()).unwrap_or(u64::MAX), Ordering::SeqCst);
    let after = before + u64::try_from(data.len()).unwrap_or(u64::MAX);
    let limit = match conn.fault {
        Fault::CutAfter(n) | Fault::ResetAfter(n) => Some(n),
        _ => None,
    };
    if let Some(n) = limit.filter(|&n| after > n) {
        let keep = usize::try_from(n.saturating_sub(before)).unwrap_or(0).min(data.len());
        let _ = to.write_all(data.get(..keep).unwrap_or_default());
        conn.bytes.fetch_add(u64::try_from(keep).unwrap_or(0), Ordering::SeqCst);
        if !conn.cut.swap(true, Ordering::SeqCst) {
            conn.cuts.fetch_add(1, Ordering::SeqCst);
        }
        return false;
    }
    if let Fault::StallAfter(n, stall) = conn.fault {
        if after > n {
            let mut stalled = conn.stalled.lock().unwrap_or_else(|e| e.into_inner());
            if !*stalled {
                *stalled = true;
                drop(stalled);
                std::thread::sleep(stall);
            }
        }
    }
    conn.bytes.fetch_add(u64::try_from(data.len()).unwrap_or(0), Ordering::SeqCst);
    to.write_all(data).is_ok()
}

fn finish(from: TcpStream, to: TcpStream, conn: &Shared) {
    if matches!(conn.fault, Fault::ResetAfter(_)) && conn.cut.load(Ordering::SeqCst) {
        // SO_LINGER 0 makes the close a reset.
        let reset = nix::libc::linger { l_onoff: 1, l_linger: 0 };
        let _ = nix::sys::socket::setsockopt(&from, nix::sys::socket::sockopt::Linger, &reset);
        let _ = nix::sys::socket::setsockopt(&to, nix::sys::socket::sockopt::Linger, &reset);
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> (u16, JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            for s in l.incoming().take(3) {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, t)
    }

    #[test]
    fn a_round_trip_takes_the_rtt_and_bytes_pass_unchanged() {
        let (port, _t) = echo_server();
        let link = Link::start(port, LinkSpec::rtt(Duration::from_millis(100))).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", link.port())).unwrap();
        let ping = |c: &mut TcpStream| {
            let start = Instant::now();
            c.write_all(b"ping\x00\xff").unwrap();
            let mut got = [0u8; 6];
            c.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping\x00\xff");
            start.elapsed()
        };
        // The first exchange also pays for TCP's handshake; later ones take the round trip, and little more.
        let first = ping(&mut c);
        assert!(first >= Duration::from_millis(200) && first < Duration::from_millis(500), "{first:?}");
        let second = ping(&mut c);
        assert!(second >= Duration::from_millis(100) && second < Duration::from_millis(110), "{second:?}");
    }

    #[test]
    fn a_cut_closes_after_exactly_so_many_bytes() {
        let (port, _t) = echo_server();
        let spec = LinkSpec { rtt: Duration::ZERO, rate: None, faults: Faults::Every(Fault::CutAfter(10)) };
        let link = Link::start(port, spec).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", link.port())).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"0123456789abcdef").unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        // 10 bytes in total pass (the request counts): the echo never comes back whole.
        assert!(got.len() < 16, "{got:?}");
        assert_eq!(link.cuts(), 1);
    }

    #[test]
    fn the_rate_cap_holds() {
        let (port, _t) = echo_server();
        let spec = LinkSpec { rtt: Duration::ZERO, rate: Some(100_000), faults: Faults::None };
        let link = Link::start(port, spec).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", link.port())).unwrap();
        let data = vec![7u8; 50_000];
        let start = Instant::now();
        c.write_all(&data).unwrap();
        let mut got = vec![0u8; data.len()];
        c.read_exact(&mut got).unwrap();
        // 50 KB each way at 100 KB/s: about half a second (the two ways overlap).
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(450) && took < Duration::from_secs(3), "{took:?}");
    }
}
