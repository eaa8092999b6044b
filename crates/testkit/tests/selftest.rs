//! The harness proves itself: a client that trusts only the generated CA reaches every listener, logs in and
//! sees the seeded mail; the Outlook profile advertises exactly Exchange's list; instances coexist; none
//! leaves a process behind.

use mailsync_testkit::oracle::{OracleImap, OraclePop3};
use mailsync_testkit::{Dovecot, DovecotOptions, Flag, Profile, EXCHANGE_CAPABILITIES};

fn msg(n: usize) -> Vec<u8> {
    format!("From: a@example.org\r\nTo: alice@example.org\r\nSubject: seed {n}\r\nMessage-ID: <seed{n}@example.org>\r\n\r\nbody {n}\r\n")
        .into_bytes()
}

#[test]
fn imaps_and_pop3s_trust_only_the_generated_ca_and_see_seeded_mail() {
    let d = Dovecot::start_default().expect("start dovecot");
    let (m1, m2, m3) = (msg(1), msg(2), msg(3));
    d.seed("alice", "INBOX", &[(&m1, &[Flag::Seen]), (&m2, &[]), (&m3, &[Flag::Flagged])]).unwrap();
    d.seed("alice", "Archive", &[(&m1, &[])]).unwrap();

    let mut imap = OracleImap::login(&d, "alice").expect("IMAPS login with the test CA");
    assert!(imap.greeting.starts_with("* OK"), "{}", imap.greeting);
    assert_eq!(imap.examine("INBOX").unwrap(), 3);
    assert_eq!(imap.examine("Archive").unwrap(), 1);
    let bodies = imap.fetch_all("INBOX").unwrap();
    assert_eq!(bodies.iter().map(|(u, _)| *u).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(bodies[1].1, m2, "IMAP sends the seeded bytes (CRLF already)");
    imap.logout().unwrap();

    let mut pop = OraclePop3::login(&d, "alice").expect("POP3S login with the test CA");
    assert!(pop.greeting.starts_with("+OK"), "{}", pop.greeting);
    assert_eq!(pop.stat().unwrap().0, 3);
    let retr = pop.retr_all().unwrap();
    assert_eq!(retr.len(), 3);
    assert_eq!(retr[2].1, m3);
    pop.quit().unwrap();

    // Seeded flags are the server's flags; the oracle's reads changed none of them.
    let flags: Vec<Vec<String>> =
        d.messages("alice", "INBOX").unwrap().into_iter().map(|m| m.flags).collect();
    assert_eq!(flags, vec![vec!["\\Seen".to_string()], vec![], vec!["\\Flagged".to_string()]]);
}

#[test]
fn a_client_trusting_another_ca_is_refused() {
    let d = Dovecot::start_default().unwrap();
    let other = mailsync_testkit::TestCa::generate("someone else").unwrap();
    let e = mailsync_testkit::oracle::connect_tls(&other.ca_pem, d.ports().imaps)
        .expect_err("handshake must fail");
    assert!(e.to_string().contains("invalid peer certificate"), "{e}");
}

#[test]
fn outlook_profile_advertises_exactly_exchanges_capabilities() {
    let d = Dovecot::start(DovecotOptions::with_profile(Profile::Outlook)).unwrap();
    let mut imap = OracleImap::login(&d, "alice").unwrap();
    assert_eq!(imap.capability().unwrap(), EXCHANGE_CAPABILITIES);
    for absent in ["CONDSTORE", "QRESYNC", "ESEARCH", "SPECIAL-USE"] {
        assert!(!imap.capability().unwrap().split(' ').any(|c| c == absent), "{absent} leaked");
    }
}

#[test]
fn dovecot_profile_offers_condstore_and_qresync() {
    let d = Dovecot::start_default().unwrap();
    let caps = OracleImap::login(&d, "alice").unwrap().capability().unwrap();
    for wanted in ["CONDSTORE", "QRESYNC", "ESEARCH", "SPECIAL-USE", "LITERAL+"] {
        assert!(caps.split(' ').any(|c| c == wanted), "{wanted} missing from {caps}");
    }
}

#[test]
fn two_instances_run_side_by_side_and_leave_no_process() {
    let a = Dovecot::start_default().unwrap();
    let b = Dovecot::start_default().unwrap();
    assert_ne!(a.ports(), b.ports());
    let ma = msg(10);
    a.seed("alice", "INBOX", &[(&ma, &[])]).unwrap();
    assert_eq!(OracleImap::login(&a, "alice").unwrap().examine("INBOX").unwrap(), 1);
    assert_eq!(OracleImap::login(&b, "alice").unwrap().examine("INBOX").unwrap(), 0);
    assert!(a.processes().len() > 1, "a running instance has a master and helpers");
    let pgid = a.stop().expect("was running");
    assert!(mailsync_testkit::processes_in_group(pgid).is_empty(), "processes survived stop()");
    let pgid_b = b.pid().unwrap();
    drop(b);
    assert!(mailsync_testkit::processes_in_group(pgid_b).is_empty(), "processes survived drop");
}

#[test]
fn another_device_changes_what_the_server_holds() {
    let d = Dovecot::start_default().unwrap();
    let (m1, m2) = (msg(1), msg(2));
    d.seed("alice", "INBOX", &[(&m1, &[]), (&m2, &[])]).unwrap();
    d.flags_add("alice", "INBOX", 1, &[Flag::Seen, Flag::Flagged]).unwrap();
    d.flags_remove("alice", "INBOX", 1, &[Flag::Flagged]).unwrap();
    d.create_folder("alice", "Projects/2026").unwrap();
    d.move_message("alice", "INBOX", 2, "Projects/2026").unwrap();
    d.save("alice", "INBOX", &msg(3)).unwrap();
    d.expunge("alice", "INBOX", 1).unwrap();
    let inbox = d.messages("alice", "INBOX").unwrap();
    assert_eq!(inbox.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![3]);
    assert_eq!(d.messages("alice", "Projects/2026").unwrap().len(), 1);
    assert!(d.folders("alice").unwrap().contains(&"Projects/2026".to_string()));
    let before = d.status("alice", "Projects/2026").unwrap();
    d.delete_folder("alice", "Projects/2026").unwrap();
    d.create_folder("alice", "Projects/2026").unwrap();
    let after = d.status("alice", "Projects/2026").unwrap();
    assert_eq!(after.messages, 0);
    assert_ne!(before.uidvalidity, after.uidvalidity, "a recreated folder gets a new UIDVALIDITY");
}

#[test]
fn plaintext_listeners_offer_starttls_and_stls() {
    use std::io::{BufRead, BufReader, Write};
    let d = Dovecot::start_default().unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", d.ports().imap)).unwrap();
    let mut r = BufReader::new(tcp.try_clone().unwrap());
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    assert!(greeting.contains("STARTTLS"), "{greeting}");

    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", d.ports().pop3)).unwrap();
    let mut r = BufReader::new(tcp.try_clone().unwrap());
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    tcp.write_all(b"CAPA\r\n").unwrap();
    let mut capa = Vec::new();
    loop {
        l.clear();
        r.read_line(&mut l).unwrap();
        if l == ".\r\n" {
            break;
        }
        capa.push(l.trim().to_string());
    }
    assert!(capa.contains(&"STLS".to_string()), "{capa:?}");
}
