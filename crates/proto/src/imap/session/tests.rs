//! Unit tests of the session state machine, byte for byte.

use super::*;
use crate::imap::response::Flag;

fn session() -> ImapSession {
    ImapSession::new(SessionConfig::default())
}

/// A session past an OK greeting advertising `caps`.
fn greeted(caps: &str) -> ImapSession {
    let mut s = session();
    s.feed(format!("* OK [CAPABILITY {caps}] ready\r\n").as_bytes());
    assert!(matches!(s.poll_event(), Ok(Some(Event::Greeting(_)))));
    s
}

fn transmit_all(s: &mut ImapSession) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

fn events(s: &mut ImapSession) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(Some(e)) = s.poll_event() {
        out.push(e);
    }
    out
}

fn done(e: &Event) -> Option<(CommandId, Status)> {
    match e {
        Event::Done(c) => Some((c.id, c.status)),
        _ => None,
    }
}

fn login(user: &str, password: &str) -> Command {
    Command::Login { user: user.into(), password: Secret::from(password) }
}

fn select(name: &str) -> Command {
    Command::Select { mailbox: name.into(), condstore: false, qresync: None }
}

#[test]
fn greeting_sets_capabilities_and_state() {
    let s = greeted("IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN");
    assert_eq!(s.state(), SessionState::NotAuthenticated);
    let caps = s.capabilities().map(|c| c.iter().collect::<Vec<_>>());
    assert_eq!(caps, Some(vec!["IMAP4rev1", "LITERAL+", "SASL-IR", "AUTH=PLAIN"]));
}

#[test]
fn greeting_split_anywhere_is_one_event() {
    let wire = b"* OK [CAPABILITY IMAP4rev1 IDLE] Dovecot ready.\r\n";
    for cut in 0..wire.len() {
        let mut s = session();
        s.feed(&wire[..cut]);
        assert_eq!(s.poll_event(), Ok(None));
        s.feed(&wire[cut..]);
        assert!(matches!(s.poll_event(), Ok(Some(Event::Greeting(Greeting { kind: GreetingKind::Ok, .. })))));
    }
}

#[test]
fn preauth_and_bye_greetings() {
    let mut s = session();
    s.feed(b"* PREAUTH IMAP4rev1 server logged in as Smith\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Greeting(_)))));
    assert_eq!(s.state(), SessionState::Authenticated);
    let mut s = session();
    s.feed(b"* BYE Too many connections\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Greeting(Greeting { kind: GreetingKind::Bye, .. })))));
    assert_eq!(s.state(), SessionState::Logout);
    assert_eq!(s.send(Command::Noop), Err(ImapError::LoggedOut { command: "NOOP" }));
}

#[test]
fn bad_greeting_is_fatal() {
    let mut s = session();
    s.feed(b"* NO go away\r\n* OK later\r\n");
    assert!(matches!(s.poll_event(), Err(ImapError::BadGreeting { .. })));
    assert!(matches!(s.poll_event(), Err(ImapError::BadGreeting { .. })));
}

#[test]
fn login_completes_with_its_id_and_forgets_capabilities() {
    let mut s = greeted("IMAP4rev1 AUTH=PLAIN");
    let id = s.send(login("alice", "secret"));
    assert_eq!(id.map(CommandId::get), Ok(1));
    assert_eq!(transmit_all(&mut s), b"A0001 LOGIN alice secret\r\n");
    s.feed(b"A0001 OK LOGIN completed\r\n");
    let ev = events(&mut s);
    assert_eq!(ev.iter().filter_map(done).collect::<Vec<_>>(), vec![(CommandId(1), Status::Ok)]);
    assert_eq!(s.state(), SessionState::Authenticated);
    assert_eq!(s.capabilities(), None);
}

#[test]
fn login_ok_with_capability_code_keeps_new_list() {
    let mut s = greeted("IMAP4rev1 AUTH=PLAIN");
    let _ = s.send(login("alice", "secret"));
    let _ = transmit_all(&mut s);
    s.feed(b"A0001 OK [CAPABILITY IMAP4rev1 IDLE CONDSTORE] Logged in\r\n");
    let _ = events(&mut s);
    assert!(s.capabilities().is_some_and(|c| c.has("CONDSTORE") && !c.has("AUTH=PLAIN")));
}

#[test]
fn untagged_capability_during_login_is_kept() {
    let mut s = greeted("IMAP4rev1");
    let _ = s.send(login("alice", "secret"));
    let _ = transmit_all(&mut s);
    s.feed(b"* CAPABILITY IMAP4rev1 MOVE\r\nA0001 OK done\r\n");
    let _ = events(&mut s);
    assert!(s.capabilities().is_some_and(|c| c.has("MOVE")));
}

#[test]
fn login_disabled_is_refused_locally() {
    let mut s = greeted("IMAP4rev1 STARTTLS LOGINDISABLED");
    assert_eq!(s.send(login("alice", "secret")), Err(ImapError::LoginDisabled));
    assert_eq!(s.poll_transmit(), None);
}

#[test]
fn synchronising_literal_waits_for_plus_which_is_not_an_event() {
    let mut s = greeted("IMAP4rev1");
    let _ = s.send(login("alice", "pa\"ss"));
    let first = transmit_all(&mut s);
    assert_eq!(first, b"A0001 LOGIN alice {5}\r\n");
    // Pipelined behind it: must not overtake the literal.
    let _ = s.send(Command::Noop);
    assert_eq!(s.poll_transmit(), None);
    s.feed(b"+ Ready for literal data\r\n");
    assert_eq!(s.poll_event(), Ok(None));
    assert_eq!(transmit_all(&mut s), b"pa\"ss\r\nA0002 NOOP\r\n");
    s.feed(b"A0001 OK done\r\nA0002 OK done\r\n");
    let ids: Vec<_> = events(&mut s).iter().filter_map(done).collect();
    assert_eq!(ids, vec![(CommandId(1), Status::Ok), (CommandId(2), Status::Ok)]);
}

#[test]
fn literal_plus_sends_everything_at_once() {
    let mut s = greeted("IMAP4rev1 LITERAL+");
    let _ = s.send(login("alice", "pa\"ss"));
    assert_eq!(transmit_all(&mut s), b"A0001 LOGIN alice {5+}\r\npa\"ss\r\n");
}

#[test]
fn no_instead_of_plus_completes_the_command_and_drops_its_literal() {
    let mut s = greeted("IMAP4rev1");
    let _ = s.send(login("alice", "pa\"ss"));
    let _ = transmit_all(&mut s);
    let _ = s.send(Command::Noop);
    s.feed(b"A0001 NO [AUTHENTICATIONFAILED] literal refused\r\n");
    let ev = events(&mut s);
    assert!(matches!(
        &ev[..],
        [Event::Done(Completion { status: Status::No, code: Some(Code::AuthenticationFailed), .. })]
    ));
    assert_eq!(transmit_all(&mut s), b"A0002 NOOP\r\n");
    assert_eq!(s.state(), SessionState::NotAuthenticated);
}

#[test]
fn authenticate_with_sasl_ir_and_error_challenge() {
    let mut s = greeted("IMAP4rev1 SASL-IR AUTH=XOAUTH2");
    let ir = Secret::new(b"user=a\x01auth=Bearer t\x01\x01".to_vec());
    let _ = s.send(Command::Authenticate { mechanism: "XOAUTH2".into(), initial_response: Some(ir) });
    assert_eq!(transmit_all(&mut s), b"A0001 AUTHENTICATE XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==\r\n");
    assert_eq!(s.authenticate_continue(Secret::new(Vec::new())), Err(ImapError::NoChallenge));
    s.feed(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
    match s.poll_event() {
        Ok(Some(Event::AuthChallenge { id, challenge, .. })) => {
            assert_eq!(id, CommandId(1));
            assert_eq!(challenge.as_deref(), Some(&b"{\"status\":\"401\"}"[..]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.authenticate_continue(Secret::new(Vec::new())), Ok(()));
    assert_eq!(transmit_all(&mut s), b"\r\n");
    s.feed(b"A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Done(Completion { status: Status::No, .. })))));
    assert_eq!(s.state(), SessionState::NotAuthenticated);
}

#[test]
fn authenticate_without_sasl_ir_sends_initial_response_after_plus() {
    let mut s = greeted("IMAP4rev1 AUTH=PLAIN");
    let ir = Secret::new(b"\x00alice\x00secret".to_vec());
    let _ = s.send(Command::Authenticate { mechanism: "PLAIN".into(), initial_response: Some(ir) });
    let _ = s.send(Command::Capability);
    assert_eq!(transmit_all(&mut s), b"A0001 AUTHENTICATE PLAIN\r\n");
    s.feed(b"+ \r\n");
    assert_eq!(s.poll_event(), Ok(None));
    // The initial response goes out; CAPABILITY waits for the end of the exchange.
    assert_eq!(transmit_all(&mut s), b"AGFsaWNlAHNlY3JldA==\r\n");
    s.feed(b"A0001 OK Logged in\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Done(_)))));
    assert_eq!(s.state(), SessionState::Authenticated);
    assert_eq!(transmit_all(&mut s), b"A0002 CAPABILITY\r\n");
}

#[test]
fn idle_round_trip() {
    let mut s = greeted("IMAP4rev1 IDLE");
    let id = s.send(Command::Idle);
    let _ = s.send(Command::Noop);
    assert_eq!(transmit_all(&mut s), b"A0001 IDLE\r\n");
    assert_eq!(s.idle_done(), Ok(()));
    assert_eq!(s.idle_done(), Err(ImapError::NotIdling));
    // DONE waits for the server's "+".
    assert_eq!(s.poll_transmit(), None);
    s.feed(b"+ idling\r\n* 4 EXISTS\r\n");
    assert_eq!(s.poll_event(), Ok(id.ok().map(|id| Event::Idling { id })));
    assert_eq!(s.poll_event(), Ok(Some(Event::Untagged(Untagged::Exists(4)))));
    assert_eq!(transmit_all(&mut s), b"DONE\r\nA0002 NOOP\r\n");
    s.feed(b"A0001 OK Idle completed\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Done(Completion { command: "IDLE", .. })))));
    assert_eq!(s.idle_done(), Err(ImapError::NotIdling));
}

#[test]
fn idle_done_after_plus_goes_out_at_once() {
    let mut s = greeted("IMAP4rev1 IDLE");
    let _ = s.send(Command::Idle);
    let _ = transmit_all(&mut s);
    s.feed(b"+ idling\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Idling { .. }))));
    assert_eq!(s.idle_done(), Ok(()));
    assert_eq!(transmit_all(&mut s), b"DONE\r\n");
}

#[test]
fn starttls_forgets_capabilities_and_holds_later_commands() {
    let mut s = greeted("IMAP4rev1 STARTTLS LOGINDISABLED");
    let _ = s.send(Command::StartTls);
    let _ = s.send(Command::Capability);
    assert_eq!(transmit_all(&mut s), b"A0001 STARTTLS\r\n");
    s.feed(b"A0001 OK Begin TLS negotiation now\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Done(Completion { status: Status::Ok, .. })))));
    assert_eq!(s.capabilities(), None);
    assert_eq!(transmit_all(&mut s), b"A0002 CAPABILITY\r\n");
    // LOGINDISABLED was forgotten with the rest.
    assert!(s.send(login("a", "b")).is_ok());
}

#[test]
fn starttls_ok_with_bytes_behind_it_is_injection() {
    let mut s = greeted("IMAP4rev1 STARTTLS");
    let _ = s.send(Command::StartTls);
    let _ = transmit_all(&mut s);
    s.feed(b"A0001 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
    assert_eq!(s.poll_event(), Err(ImapError::StartTlsInjection { buffered: 35 }));
    assert_eq!(s.poll_event(), Err(ImapError::StartTlsInjection { buffered: 35 }));
}

#[test]
fn select_close_and_failed_select_states() {
    let mut s = greeted("IMAP4rev1");
    let _ = s.send(login("a", "b"));
    let _ = s.send(select("INBOX"));
    let _ = transmit_all(&mut s);
    s.feed(b"A0001 OK in\r\n* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\nA0002 OK [READ-WRITE] SELECT completed\r\n");
    let ev = events(&mut s);
    assert_eq!(ev.len(), 5);
    assert_eq!(ev[1], Event::Untagged(Untagged::Flags(vec![Flag::Seen])));
    assert_eq!(s.state(), SessionState::Selected);
    let _ = s.send(select("Nope"));
    let _ = transmit_all(&mut s);
    s.feed(b"A0003 NO [NONEXISTENT] Mailbox doesn't exist\r\n");
    let _ = events(&mut s);
    assert_eq!(s.state(), SessionState::Authenticated);
    let _ = s.send(select("INBOX"));
    let _ = s.send(Command::Close);
    let _ = transmit_all(&mut s);
    s.feed(b"A0004 OK done\r\n");
    let _ = events(&mut s);
    assert_eq!(s.state(), SessionState::Selected);
    s.feed(b"A0005 OK closed\r\n");
    let _ = events(&mut s);
    assert_eq!(s.state(), SessionState::Authenticated);
}

#[test]
fn bye_then_logout_completion_then_nothing() {
    let mut s = greeted("IMAP4rev1");
    let id = s.send(Command::Logout);
    let _ = transmit_all(&mut s);
    s.feed(
        b"* BYE IMAP4rev1 Server logging out\r\n* 9 EXISTS\r\nA0001 OK LOGOUT completed\r\n* 10 EXISTS\r\n",
    );
    let ev = events(&mut s);
    assert!(matches!(&ev[0], Event::Bye(StatusResponse { kind: StatusKind::Bye, .. })));
    assert_eq!(
        ev.iter().filter_map(done).collect::<Vec<_>>(),
        vec![(id.unwrap_or(CommandId(0)), Status::Ok)]
    );
    assert_eq!(ev.len(), 2);
    assert_eq!(s.state(), SessionState::Logout);
    s.feed(b"garbage that is not IMAP\r\n");
    assert_eq!(s.poll_event(), Ok(None));
    assert_eq!(s.send(Command::Noop), Err(ImapError::LoggedOut { command: "NOOP" }));
}

#[test]
fn unsolicited_bye_after_throttling_no() {
    let mut s = greeted("IMAP4rev1");
    let _ = s.send(select("INBOX"));
    let _ = transmit_all(&mut s);
    s.feed(b"A0001 NO Request is throttled. Suggested Backoff Time: 1500 milliseconds\r\n* BYE Connection closed. 14\r\n");
    let ev = events(&mut s);
    match &ev[..] {
        [Event::Done(c), Event::Bye(_)] => {
            assert_eq!(crate::imap::suggested_backoff(&c.text), Some(std::time::Duration::from_millis(1500)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.state(), SessionState::Logout);
}

#[test]
fn protocol_errors_are_not_fatal() {
    let mut s = greeted("IMAP4rev1");
    s.feed(b"B0001 OK who?\r\n+ nobody asked\r\n* 3 EXISTS junk\r\n* 4 EXISTS\r\n");
    assert_eq!(s.poll_event(), Err(ImapError::UnknownTag { tag: "B0001".into() }));
    assert!(matches!(s.poll_event(), Err(ImapError::UnexpectedContinuation { .. })));
    assert!(matches!(s.poll_event(), Err(ImapError::Malformed { .. })));
    assert_eq!(s.poll_event(), Ok(Some(Event::Untagged(Untagged::Exists(4)))));
}

#[test]
fn oversized_response_is_fatal() {
    let mut s = ImapSession::new(SessionConfig { max_response_size: 64, tag_prefix: "T".into() });
    s.feed(b"* OK hi\r\n* 1 FETCH (BODY[] {100}\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Event::Greeting(_)))));
    assert!(matches!(s.poll_event(), Err(ImapError::LiteralTooLarge { announced: 100, limit: 64 })));
    assert!(s.poll_event().is_err());
}

#[test]
fn enabled_is_tracked_and_tags_use_prefix() {
    let mut s = ImapSession::new(SessionConfig { tag_prefix: "ms".into(), ..SessionConfig::default() });
    s.feed(b"* OK hi\r\n");
    let _ = events(&mut s);
    let _ = s.send(Command::Enable(vec!["QRESYNC".into()]));
    assert_eq!(transmit_all(&mut s), b"ms0001 ENABLE QRESYNC\r\n");
    s.feed(b"* ENABLED QRESYNC\r\nms0001 OK Enabled\r\n");
    let _ = events(&mut s);
    assert_eq!(s.enabled(), ["QRESYNC".to_owned()]);
    assert_eq!(s.outstanding(), 0);
}

#[test]
fn fetch_body_reaches_the_caller_without_a_copy() {
    let mut s = greeted("IMAP4rev1");
    s.recv_buffer().extend_from_slice(b"* 1 FETCH (UID 5 BODY[] {5}\r\nhello)\r\n");
    let base = s.recv_buffer().as_ptr();
    match s.poll_event() {
        Ok(Some(Event::Untagged(Untagged::Fetch(f)))) => {
            let body = f.body(&crate::imap::Section::Full).cloned().unwrap_or_default();
            assert_eq!(&body[..], b"hello");
            assert_eq!(body.as_ptr(), base.wrapping_add(29));
        }
        other => panic!("{other:?}"),
    }
}
