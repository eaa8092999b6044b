//! The first two steps of every protocol's check: resolve the host name, and open (then close) a TCP
//! connection to the first address that answers, each within the endpoint's connect time limit.
//!
//! Owns those two steps. Must never: send a byte on the connection it opens (the protocol probes speak
//! on connections of their own). No RFC beyond name resolution and TCP.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mailsync_engine::{Endpoint, EngineError};

use super::hints::{hint, HintCtx};
use super::Checklist;

/// `resolve`: the addresses of the endpoint's host, or `None` after recording the failure.
pub async fn resolve(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint) -> Option<Vec<SocketAddr>> {
    let started = Instant::now();
    let limit = ep.timeouts.connect;
    let err = match tokio::time::timeout(limit, tokio::net::lookup_host((ep.host.as_str(), ep.port))).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if !addrs.is_empty() {
                let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                list.ok(h.protocol, "resolve", Some(started), format!("{} -> {}", ep.host, shown.join(", ")));
                return Some(addrs);
            }
            EngineError::Dns {
                host: ep.host.clone(),
                source: io::Error::new(io::ErrorKind::NotFound, "no address"),
            }
        }
        Ok(Err(source)) => EngineError::Dns { host: ep.host.clone(), source },
        Err(_) => EngineError::Timeout {
            addr: ep.addr(),
            during: "resolving the host name",
            secs: limit.as_secs(),
            hint: String::new(),
        },
    };
    let advice = hint(h, &err);
    list.fail(h.protocol, "resolve", Some(started), err.into(), advice);
    None
}

/// `resolve`, then `connect`: whether the endpoint can be reached. When it cannot, the protocol's `later` steps
/// are recorded as skipped (and `connect` too, when the host did not resolve).
pub async fn reach(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint, later: &[&'static str]) -> bool {
    let Some(addrs) = resolve(list, h, ep).await else {
        list.skip(h.protocol, &[&["connect"], later].concat(), "the host did not resolve");
        return false;
    };
    if !connect(list, h, ep, &addrs).await {
        list.skip(h.protocol, later, "no connection");
        return false;
    }
    true
}

/// `connect`: whether a TCP connection to one of `addrs` opens.
pub async fn connect(list: &mut Checklist, h: &HintCtx<'_>, ep: &Endpoint, addrs: &[SocketAddr]) -> bool {
    let started = Instant::now();
    let limit = ep.timeouts.connect;
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_stream)) => {
                list.ok(h.protocol, "connect", Some(started), format!("TCP {addr}"));
                return true;
            }
            Ok(Err(e)) => last = Some(EngineError::Connect { addr: format!("{addr}"), source: e }),
            Err(_) => {
                last = Some(EngineError::Timeout {
                    addr: format!("{addr}"),
                    during: "connecting",
                    secs: limit.as_secs(),
                    hint: String::new(),
                })
            }
        }
    }
    let err = last.unwrap_or_else(|| EngineError::Connect {
        addr: ep.addr(),
        source: io::Error::new(io::ErrorKind::NotFound, "no address to connect to"),
    });
    let advice = hint(h, &err);
    list.fail(h.protocol, "connect", Some(started), err.into(), advice);
    false
}
