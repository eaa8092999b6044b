//! The harness's private Postfix proves itself: it refuses AUTH and mail before STARTTLS, offers AUTH (PLAIN,
//! LOGIN, XOAUTH2) after it, authenticates through the Dovecot's passdb (password and oauth2 token), delivers
//! a submitted message by LMTP into the Dovecot mailbox, and leaves no process behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mailsync_testkit::oracle::OracleImap;
use mailsync_testkit::{processes_in_group, Dovecot, DovecotOptions, Postfix};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

struct Smtp {
    s: BufReader<Box<dyn Stream>>,
}

impl Smtp {
    fn connect(port: u16) -> (Smtp, String) {
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut me = Smtp { s: BufReader::new(Box::new(tcp)) };
        let greeting = me.reply();
        (me, greeting)
    }

    /// One reply, all its lines joined with `\n`.
    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            self.s.read_line(&mut l).unwrap();
            all.push_str(l.trim_end());
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                return all;
            }
            all.push('\n');
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.s.get_mut().write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }

    fn starttls(self, ca_pem: &str) -> Smtp {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let conn =
            rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
                .unwrap();
        assert!(self.s.buffer().is_empty(), "bytes buffered behind the STARTTLS answer");
        let inner = self.s.into_inner();
        Smtp { s: BufReader::new(Box::new(rustls::StreamOwned::new(conn, inner))) }
    }
}

fn world() -> (Dovecot, Postfix) {
    let users = vec![("alice".to_string(), "alice-secret-1".to_string())];
    let d = Dovecot::start(DovecotOptions { users, oauth2: true, lmtp: true, ..DovecotOptions::default() })
        .unwrap();
    let p = Postfix::start(&d).unwrap_or_else(|e| panic!("{e}"));
    (d, p)
}

#[test]
fn before_starttls_there_is_no_auth_and_no_mail() {
    let (_d, p) = world();
    let (mut c, greeting) = Smtp::connect(p.submission_port());
    assert!(greeting.starts_with("220 "), "{greeting}");
    let ehlo = c.cmd("EHLO client.test");
    assert!(ehlo.contains("250-STARTTLS"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    let mail = c.cmd("MAIL FROM:<alice@example.test>");
    assert_eq!(mail, "530 5.7.0 Must issue a STARTTLS command first");
}

#[test]
fn submits_with_auth_and_delivers_into_the_dovecot_mailbox() {
    let (d, p) = world();
    let (mut c, _) = Smtp::connect(p.submission_port());
    c.cmd("EHLO client.test");
    assert!(c.cmd("STARTTLS").starts_with("220 "));
    let mut c = c.starttls(&d.ca().ca_pem);
    let ehlo = c.cmd("EHLO client.test");
    for mech in ["PLAIN", "LOGIN", "XOAUTH2"] {
        assert!(ehlo.lines().any(|l| l.starts_with("250-AUTH ") && l.contains(mech)), "{mech}: {ehlo}");
    }
    assert!(c.cmd(&format!("AUTH PLAIN {}", STANDARD.encode("\0alice\0wrong"))).starts_with("535 "));
    let ok = c.cmd(&format!("AUTH PLAIN {}", STANDARD.encode("\0alice@example.test\0alice-secret-1")));
    assert!(ok.starts_with("235 "), "{ok}");
    assert!(c.cmd("MAIL FROM:<alice@example.test>").starts_with("250 "));
    assert!(c.cmd("RCPT TO:<alice@example.test>").starts_with("250 "));
    assert!(c.cmd("DATA").starts_with("354 "));
    let queued = c.cmd("Subject: via postfix\r\nMessage-ID: <pf1@example.test>\r\n\r\nhello\r\n.");
    assert!(queued.starts_with("250 "), "{queued}");
    assert!(c.cmd("QUIT").starts_with("221 "));
    assert!(p.wait_queue_empty(Duration::from_secs(20)), "queue did not drain:\n{}", p.log());
    let mut imap = OracleImap::login(&d, "alice").unwrap();
    let all = imap.fetch_all("INBOX").unwrap();
    assert_eq!(all.len(), 1, "{}", p.log());
    let body = String::from_utf8_lossy(&all[0].1);
    assert!(body.contains("Subject: via postfix\r\n") && body.ends_with("\r\nhello\r\n"), "{body}");
}

#[test]
fn xoauth2_tokens_authenticate_over_smtp_too() {
    let (d, p) = world();
    let (mut c, _) = Smtp::connect(p.submission_port());
    c.cmd("EHLO client.test");
    c.cmd("STARTTLS");
    let mut c = c.starttls(&d.ca().ca_pem);
    c.cmd("EHLO client.test");
    let token = d.mint_token("alice", Duration::from_secs(600));
    let ir = STANDARD.encode(format!("user=alice@example.test\x01auth=Bearer {token}\x01\x01"));
    let ok = c.cmd(&format!("AUTH XOAUTH2 {ir}"));
    assert!(ok.starts_with("235 "), "{ok}");
}

#[test]
fn stopping_leaves_no_process_and_needs_an_lmtp_dovecot() {
    let plain = Dovecot::start_default().unwrap();
    let e = Postfix::start(&plain).map(|_| ()).map_err(|e| e.to_string());
    assert!(e.err().unwrap_or_default().contains("lmtp: true"));
    let (_d, p) = world();
    let master = p.pid().expect("the master wrote its pid");
    // The master runs in a session of its own; a connection makes it start an smtpd in its group.
    let (_c, greeting) = Smtp::connect(p.submission_port());
    assert!(greeting.starts_with("220 "), "{greeting}");
    assert!(processes_in_group(master).len() > 1, "{:?}", processes_in_group(master));
    assert!(p.processes().contains(&master));
    let pgid = p.stop().expect("was running");
    assert_eq!(pgid, master);
    assert!(processes_in_group(pgid).is_empty(), "postfix processes survived stop()");
    let (_d2, p2) = world();
    let master = p2.pid().unwrap();
    drop(p2);
    assert!(processes_in_group(master).is_empty(), "postfix processes survived drop");
}
