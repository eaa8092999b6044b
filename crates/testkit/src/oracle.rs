//! The oracle: a deliberately small, blocking IMAP and POP3 client, independent of mailsync-proto, that reads
//! what the server really sends. Tests compare the sync engine's stored bytes with these.
//!
//! It trusts only the instance's CA, and understands just enough of each protocol for its few commands:
//! tagged completion lines, `{n}` literals, POP3 multi-line responses with dot-unstuffing.
//!
//! Must never: be used by the product, or share parsing code with it (that would make it no oracle).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::{Dovecot, HarnessError};

type Tls = BufReader<StreamOwned<ClientConnection, TcpStream>>;

fn err(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Oracle(e.to_string())
}

/// A TLS connection to `port` on 127.0.0.1 that trusts only `ca_pem`.
pub fn connect_tls(ca_pem: &str, port: u16) -> Result<Tls, HarnessError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(err)?).map_err(err)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let config = Arc::new(config);
    // A freshly started server under load may reset a connection or two: retry those, nothing else.
    let mut last = None;
    for _ in 0..5 {
        let name = ServerName::try_from("localhost").map_err(err)?;
        let conn = ClientConnection::new(config.clone(), name).map_err(err)?;
        let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(err)?;
        tcp.set_read_timeout(Some(Duration::from_secs(20))).map_err(err)?;
        let mut stream = StreamOwned::new(conn, tcp);
        match stream.conn.complete_io(&mut stream.sock) {
            Ok(_) => return Ok(BufReader::new(stream)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(err(e)),
        }
    }
    Err(err(last.map(|e| e.to_string()).unwrap_or_default()))
}

fn line(s: &mut Tls) -> Result<Vec<u8>, HarnessError> {
    let mut buf = Vec::new();
    if s.read_until(b'\n', &mut buf).map_err(err)? == 0 {
        return Err(err("server closed the connection"));
    }
    Ok(buf)
}

fn send(s: &mut Tls, text: &str) -> Result<(), HarnessError> {
    let w = s.get_mut();
    w.write_all(text.as_bytes()).map_err(err)?;
    w.flush().map_err(err)
}

/// One IMAP response: its first line (up to the first literal) with the literals it carries.
#[derive(Debug, Default)]
struct ImapResponse {
    text: Vec<u8>,
    literals: Vec<Vec<u8>>,
}

fn imap_response(s: &mut Tls) -> Result<ImapResponse, HarnessError> {
    let mut r = ImapResponse::default();
    loop {
        let l = line(s)?;
        r.text.extend_from_slice(&l);
        let trimmed = l.strip_suffix(b"\r\n").unwrap_or(&l);
        let Some(open) =
            trimmed.strip_suffix(b"}").and_then(|t| t.iter().rposition(|b| *b == b'{').map(|i| &t[i + 1..]))
        else {
            return Ok(r);
        };
        let n: usize = std::str::from_utf8(open)
            .ok()
            .and_then(|t| t.trim_end_matches('+').parse().ok())
            .ok_or_else(|| err("bad literal"))?;
        let mut lit = vec![0; n];
        s.read_exact(&mut lit).map_err(err)?;
        r.literals.push(lit);
    }
}

/// Sends `tag command` and collects the untagged responses until the tagged completion, which must be OK.
fn imap_command(s: &mut Tls, tag: &str, command: &str) -> Result<Vec<ImapResponse>, HarnessError> {
    send(s, &format!("{tag} {command}\r\n"))?;
    let mut out = Vec::new();
    loop {
        let r = imap_response(s)?;
        if r.text.starts_with(format!("{tag} ").as_bytes()) {
            if r.text.starts_with(format!("{tag} OK").as_bytes()) {
                return Ok(out);
            }
            return Err(err(format!("{command}: {}", String::from_utf8_lossy(&r.text).trim())));
        }
        out.push(r);
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An IMAP session as the oracle sees it.
#[derive(Debug)]
pub struct OracleImap {
    s: Tls,
    /// The greeting line.
    pub greeting: String,
    n: usize,
}

impl OracleImap {
    /// Connects to the implicit-TLS port and logs in as `user`.
    pub fn login(d: &Dovecot, user: &str) -> Result<OracleImap, HarnessError> {
        let mut s = connect_tls(&d.ca().ca_pem, d.ports().imaps)?;
        let greeting = String::from_utf8_lossy(&line(&mut s)?).trim().to_string();
        let mut me = OracleImap { s, greeting, n: 0 };
        me.run(&format!("LOGIN {} {}", quoted(user), quoted(d.password(user))))?;
        Ok(me)
    }

    fn run(&mut self, command: &str) -> Result<Vec<ImapResponse>, HarnessError> {
        self.n += 1;
        let tag = format!("o{}", self.n);
        imap_command(&mut self.s, &tag, command)
    }

    /// The `* CAPABILITY` list, as sent (without `* CAPABILITY `).
    pub fn capability(&mut self) -> Result<String, HarnessError> {
        let rs = self.run("CAPABILITY")?;
        rs.iter()
            .find_map(|r| {
                let t = String::from_utf8_lossy(&r.text);
                t.strip_prefix("* CAPABILITY ").map(|c| c.trim_end().to_string())
            })
            .ok_or_else(|| err("no CAPABILITY response"))
    }

    /// EXAMINEs `folder` (read-only: flags stay as they are) and returns its EXISTS count.
    pub fn examine(&mut self, folder: &str) -> Result<u32, HarnessError> {
        let rs = self.run(&format!("EXAMINE {}", quoted(folder)))?;
        rs.iter()
            .find_map(|r| {
                let t = String::from_utf8_lossy(&r.text);
                t.strip_prefix("* ")?.strip_suffix(" EXISTS\r\n")?.parse().ok()
            })
            .ok_or_else(|| err("no EXISTS in EXAMINE"))
    }

    /// Every message of `folder` as `(uid, exact BODY[] bytes)`, read with EXAMINE and BODY.PEEK[].
    pub fn fetch_all(&mut self, folder: &str) -> Result<Vec<(u32, Vec<u8>)>, HarnessError> {
        if self.examine(folder)? == 0 {
            return Ok(Vec::new());
        }
        let rs = self.run("UID FETCH 1:* (UID BODY.PEEK[])")?;
        let mut v = Vec::new();
        for mut r in rs {
            let t = String::from_utf8_lossy(&r.text).into_owned();
            let uid = t
                .split_once("UID ")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
            if let (Some(uid), Some(body)) = (uid, r.literals.pop()) {
                v.push((uid, body));
            }
        }
        v.sort_by_key(|(u, _)| *u);
        Ok(v)
    }

    /// Logs out.
    pub fn logout(mut self) -> Result<(), HarnessError> {
        self.run("LOGOUT").map(drop)
    }
}

/// A POP3 session as the oracle sees it. Ends with RSET + QUIT, so it never changes the server.
#[derive(Debug)]
pub struct OraclePop3 {
    s: Tls,
    /// The greeting line.
    pub greeting: String,
}

impl OraclePop3 {
    /// Connects to the implicit-TLS port and logs in with USER/PASS.
    pub fn login(d: &Dovecot, user: &str) -> Result<OraclePop3, HarnessError> {
        let mut s = connect_tls(&d.ca().ca_pem, d.ports().pop3s)?;
        let greeting = String::from_utf8_lossy(&line(&mut s)?).trim().to_string();
        let mut me = OraclePop3 { s, greeting };
        me.single(&format!("USER {user}"))?;
        me.single(&format!("PASS {}", d.password(user)))?;
        Ok(me)
    }

    fn single(&mut self, command: &str) -> Result<String, HarnessError> {
        send(&mut self.s, &format!("{command}\r\n"))?;
        let l = String::from_utf8_lossy(&line(&mut self.s)?).trim().to_string();
        match l.strip_prefix("+OK") {
            Some(rest) => Ok(rest.trim().to_string()),
            None => Err(err(format!("{}: {l}", command.split(' ').next().unwrap_or("")))),
        }
    }

    fn multi(&mut self, command: &str) -> Result<Vec<u8>, HarnessError> {
        self.single(command)?;
        let mut body = Vec::new();
        loop {
            let l = line(&mut self.s)?;
            if l == b".\r\n" {
                return Ok(body);
            }
            body.extend_from_slice(l.strip_prefix(b".").unwrap_or(&l));
        }
    }

    /// `STAT`: message count and total size.
    pub fn stat(&mut self) -> Result<(u32, u64), HarnessError> {
        let r = self.single("STAT")?;
        let mut it = r.split_whitespace().map(|n| n.parse::<u64>().ok());
        match (it.next().flatten(), it.next().flatten()) {
            (Some(n), Some(size)) => Ok((u32::try_from(n).map_err(err)?, size)),
            _ => Err(err(format!("bad STAT answer {r}"))),
        }
    }

    /// Every message as `(uidl, exact RETR bytes after dot-unstuffing)`.
    pub fn retr_all(&mut self) -> Result<Vec<(String, Vec<u8>)>, HarnessError> {
        let listing = String::from_utf8_lossy(&self.multi("UIDL")?).into_owned();
        let mut v = Vec::new();
        for l in listing.lines() {
            let mut it = l.split_whitespace();
            if let (Some(n), Some(uidl)) = (it.next(), it.next()) {
                let body = self.multi(&format!("RETR {n}"))?;
                v.push((uidl.to_string(), body));
            }
        }
        Ok(v)
    }

    /// `RSET` then `QUIT`: nothing read is marked seen, nothing is deleted.
    pub fn quit(mut self) -> Result<(), HarnessError> {
        self.single("RSET")?;
        self.single("QUIT").map(drop)
    }
}
