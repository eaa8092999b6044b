//! Session behaviour that transcripts cannot express: refused calls, sticky errors, redaction,
//! and the pipelining rules checked command by command.

use mailsync_proto::pop3::{
    CommandId, InitialResponse, Pop3Command, Pop3Config, Pop3Error, Pop3Event, Pop3Session, Pop3State,
};
use mailsync_proto::sasl::{self, Mechanism, OAuthFailureKind};
use mailsync_proto::{Secret, SeqNum};

fn seq(n: u32) -> SeqNum {
    SeqNum::try_from(n).unwrap_or_else(|e| panic!("{e}"))
}

fn greeted(greeting: &[u8]) -> Pop3Session {
    let mut s = Pop3Session::new(Pop3Config::default());
    s.feed(greeting);
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Greeting(_)))));
    s
}

fn sent(s: &mut Pop3Session, cmd: Pop3Command) -> CommandId {
    s.send(cmd).unwrap_or_else(|e| panic!("{e}"))
}

fn wrote(s: &mut Pop3Session) -> Option<Vec<u8>> {
    s.poll_transmit().map(|t| t.bytes.to_vec())
}

fn with_capa(capa: &[u8]) -> Pop3Session {
    let mut s = greeted(b"+OK ready\r\n");
    sent(&mut s, Pop3Command::Capa);
    assert_eq!(wrote(&mut s), Some(b"CAPA\r\n".to_vec()));
    s.feed(capa);
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { ok: true, .. }))));
    s
}

#[test]
fn nothing_is_transmitted_before_the_greeting() {
    let mut s = Pop3Session::new(Pop3Config::default());
    assert_eq!(s.state(), Pop3State::AwaitingGreeting);
    sent(&mut s, Pop3Command::Capa);
    assert_eq!(wrote(&mut s), None);
    s.feed(b"+OK ready\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Greeting(_)))));
    assert_eq!(wrote(&mut s), Some(b"CAPA\r\n".to_vec()));
}

#[test]
fn without_pipelining_one_command_at_a_time() {
    let mut s = greeted(b"+OK ready\r\n");
    let a = sent(&mut s, Pop3Command::Stat);
    let b = sent(&mut s, Pop3Command::Noop);
    assert_eq!(wrote(&mut s), Some(b"STAT\r\n".to_vec()));
    assert_eq!(wrote(&mut s), None, "NOOP must wait for STAT's answer");
    s.feed(b"+OK 0 0\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { id, .. })) if id == a));
    assert_eq!(wrote(&mut s), Some(b"NOOP\r\n".to_vec()));
    s.feed(b"+OK\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { id, .. })) if id == b));
    assert!(s.is_idle());
}

#[test]
fn a_body_in_progress_holds_the_next_command_back() {
    let mut s = greeted(b"+OK ready\r\n");
    sent(&mut s, Pop3Command::Retr(seq(1)));
    sent(&mut s, Pop3Command::Dele(seq(1)));
    assert_eq!(wrote(&mut s), Some(b"RETR 1\r\n".to_vec()));
    s.feed(b"+OK\r\nhalf");
    assert_eq!(s.poll_event(), Ok(None));
    assert_eq!(wrote(&mut s), None, "DELE must wait until the body has ended");
    s.feed(b"\r\n.\r\n");
    assert!(
        matches!(s.poll_event(), Ok(Some(Pop3Event::Response { body: Some(b), .. })) if &b[..] == b"half\r\n")
    );
    assert_eq!(wrote(&mut s), Some(b"DELE 1\r\n".to_vec()));
}

#[test]
fn with_pipelining_auth_and_stls_are_barriers() {
    let mut s = with_capa(b"+OK\r\nPIPELINING\r\nSTLS\r\nSASL PLAIN\r\n.\r\n");
    sent(&mut s, Pop3Command::Noop);
    sent(
        &mut s,
        Pop3Command::Auth {
            mechanism: Mechanism::Plain,
            initial: InitialResponse::Inline(Secret::new(b"\0a\0b".to_vec())),
        },
    );
    sent(&mut s, Pop3Command::Stat);
    assert_eq!(wrote(&mut s), Some(b"NOOP\r\n".to_vec()));
    assert_eq!(wrote(&mut s), None, "AUTH waits until nothing is in flight");
    s.feed(b"+OK\r\n");
    let _ = s.poll_event();
    assert_eq!(wrote(&mut s), Some(b"AUTH PLAIN AGEAYg==\r\n".to_vec()));
    assert_eq!(wrote(&mut s), None, "nothing follows AUTH before its answer");
    s.feed(b"+OK Logged in.\r\n");
    let _ = s.poll_event();
    assert_eq!(s.state(), Pop3State::Transaction);
    assert_eq!(wrote(&mut s), Some(b"STAT\r\n".to_vec()));
}

#[test]
fn stls_forgets_capabilities_and_refuses_injected_bytes() {
    let mut s = with_capa(b"+OK\r\nPIPELINING\r\nSTLS\r\n.\r\n");
    assert!(s.capabilities().stls());
    sent(&mut s, Pop3Command::Stls);
    assert_eq!(wrote(&mut s), Some(b"STLS\r\n".to_vec()));
    s.feed(b"+OK Begin TLS negotiation now.\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { ok: true, .. }))));
    assert!(s.capabilities().is_empty());
    assert!(!s.capabilities().pipelining());

    let mut s = with_capa(b"+OK\r\nSTLS\r\n.\r\n");
    sent(&mut s, Pop3Command::Stls);
    let _ = wrote(&mut s);
    s.feed(b"+OK Begin TLS negotiation now.\r\n+OK evil\r\n");
    assert_eq!(s.poll_event(), Err(Pop3Error::DataAfterStls { bytes: 10 }));
    assert_eq!(wrote(&mut s), None);
}

#[test]
fn stls_refused_keeps_going_in_clear() {
    let mut s = with_capa(b"+OK\r\nSTLS\r\n.\r\n");
    sent(&mut s, Pop3Command::Stls);
    let _ = wrote(&mut s);
    s.feed(b"-ERR TLS not available\r\n+");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { ok: false, .. }))));
    assert!(s.capabilities().stls(), "a refused STLS changes nothing");
}

#[test]
fn errors_are_sticky_and_refuse_further_commands() {
    let mut s = greeted(b"+OK ready\r\n");
    sent(&mut s, Pop3Command::Stat);
    let _ = wrote(&mut s);
    s.feed(b"+OK 1 2\r\ngarbage\r\n+OK 3 4\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { .. }))));
    let err = s.poll_event();
    assert!(matches!(err, Err(Pop3Error::UnexpectedResponse { ref line }) if line == "garbage"), "{err:?}");
    assert_eq!(s.poll_event(), err, "the error stays");
    s.feed(b"+OK more\r\n");
    assert_eq!(s.poll_event(), err);
    assert_eq!(s.send(Pop3Command::Noop).err(), err.err());
}

#[test]
fn quit_closes_and_refuses_later_commands() {
    let mut s = greeted(b"+OK ready\r\n");
    sent(&mut s, Pop3Command::Quit);
    assert_eq!(s.send(Pop3Command::Stat), Err(Pop3Error::Closed { command: "STAT" }));
    let _ = wrote(&mut s);
    s.feed(b"+OK bye\r\n");
    let _ = s.poll_event();
    assert_eq!(s.state(), Pop3State::Closed);
    assert_eq!(s.send(Pop3Command::Noop), Err(Pop3Error::Closed { command: "NOOP" }));
}

#[test]
fn refused_greeting_closes() {
    let mut s = Pop3Session::new(Pop3Config::default());
    s.feed(b"-ERR [SYS/PERM] go away\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Greeting(g))) if !g.ok));
    assert_eq!(s.state(), Pop3State::Closed);
    assert_eq!(s.send(Pop3Command::Capa), Err(Pop3Error::Closed { command: "CAPA" }));
}

#[test]
fn apop_needs_a_greeting_timestamp() {
    let apop = || Pop3Command::Apop { user: "mrose".into(), secret: Secret::from("tanstaaf") };
    let mut s = Pop3Session::new(Pop3Config::default());
    assert_eq!(s.send(apop()), Err(Pop3Error::ApopUnavailable), "before the greeting");
    let mut s2 = greeted(b"+OK Dovecot (Debian) ready.\r\n");
    assert_eq!(s2.send(apop()), Err(Pop3Error::ApopUnavailable), "greeting without timestamp");
    s.feed(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    let _ = s.poll_event();
    sent(&mut s, apop());
    assert_eq!(wrote(&mut s), Some(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n".to_vec()));
}

#[test]
fn invalid_arguments_are_refused_at_send() {
    let mut s = greeted(b"+OK ready\r\n");
    assert!(matches!(
        s.send(Pop3Command::User("a\r\nDELE 1".into())),
        Err(Pop3Error::InvalidArgument { .. })
    ));
    assert!(matches!(s.send(Pop3Command::Pass(Secret::from("p\0"))), Err(Pop3Error::InvalidArgument { .. })));
    assert_eq!(wrote(&mut s), None, "a refused command never reaches the wire");
}

#[test]
fn continuation_answers_and_their_errors() {
    let mut s = greeted(b"+OK ready\r\n");
    assert_eq!(s.auth_continue(Secret::new(b"x".to_vec())), Err(Pop3Error::NoContinuationPending));
    assert_eq!(s.auth_cancel(), Err(Pop3Error::NoContinuationPending));
    let id = sent(
        &mut s,
        Pop3Command::Auth {
            mechanism: Mechanism::XOAuth2,
            initial: InitialResponse::AfterContinuation(Secret::new(
                b"user=a\x01auth=Bearer t\x01\x01".to_vec(),
            )),
        },
    );
    assert_eq!(wrote(&mut s), Some(b"AUTH XOAUTH2\r\n".to_vec()));
    s.feed(b"+ \r\n");
    assert_eq!(s.poll_event(), Ok(None), "the first + is answered by the session itself");
    let t = s.poll_transmit().unwrap_or_else(|| panic!("the prepared response"));
    assert_eq!(&t.bytes[..], b"dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==\r\n");
    assert!(!format!("{t:?}").contains("dXNlcj1h"), "Debug of a transmit hides the bytes: {t:?}");
    s.feed(b"+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=\r\n");
    let Ok(Some(Pop3Event::Continuation { id: got, text })) = s.poll_event() else { panic!("continuation") };
    assert_eq!(got, id);
    let failure = sasl::decode_oauth_failure(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failure.kind, OAuthFailureKind::TokenInvalid);
    s.auth_continue(Secret::new(Vec::new())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.auth_continue(Secret::new(Vec::new())),
        Err(Pop3Error::NoContinuationPending),
        "one answer only"
    );
    assert_eq!(wrote(&mut s), Some(b"\r\n".to_vec()));
    s.feed(b"-ERR [AUTH] Authentication failed.\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { ok: false, .. }))));
    assert_eq!(s.state(), Pop3State::Authorization);
}

#[test]
fn line_and_body_caps() {
    let mut s = Pop3Session::new(Pop3Config { max_line: 16, max_body: 8, max_listing: 8 });
    s.feed(b"+OK 123456789");
    assert_eq!(s.poll_event(), Ok(None));
    s.feed(b"0123\r\n");
    assert_eq!(s.poll_event(), Err(Pop3Error::LineTooLong { limit: 16 }));

    let mut s = Pop3Session::new(Pop3Config { max_line: 64, max_body: 8, max_listing: 4 });
    s.feed(b"+OK ready\r\n");
    let _ = s.poll_event();
    sent(&mut s, Pop3Command::Retr(seq(1)));
    let _ = wrote(&mut s);
    s.feed(b"+OK\r\n123456\r\n.\r\n");
    assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Response { body: Some(b), .. })) if b.len() == 8));
    sent(&mut s, Pop3Command::Retr(seq(2)));
    let _ = wrote(&mut s);
    s.feed(b"+OK\r\n1234567\r\n.\r\n");
    assert_eq!(s.poll_event(), Err(Pop3Error::ResponseTooLarge { command: "RETR", limit: 8 }));

    // Listings have a cap of their own: an endless UIDL is cut off at it.
    let mut s = Pop3Session::new(Pop3Config { max_line: 64, max_body: 1 << 20, max_listing: 8 });
    s.feed(b"+OK ready\r\n");
    let _ = s.poll_event();
    sent(&mut s, Pop3Command::Uidl(None));
    let _ = wrote(&mut s);
    s.feed(b"+OK\r\n1 abc\r\n2 def\r\n3 ghi\r\n");
    assert_eq!(s.poll_event(), Err(Pop3Error::ResponseTooLarge { command: "UIDL", limit: 8 }));
}

#[test]
fn error_messages_are_lowercase_with_context() {
    let errors = [
        Pop3Error::MalformedStatus { line: "x".into() },
        Pop3Error::LineTooLong { limit: 1 },
        Pop3Error::ResponseTooLarge { command: "RETR", limit: 1 },
        Pop3Error::DataAfterStls { bytes: 3 },
        Pop3Error::ApopUnavailable,
        Pop3Error::NoContinuationPending,
        Pop3Error::Closed { command: "STAT" },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(text.chars().next().is_some_and(|c| c.is_lowercase()), "{text}");
    }
    assert_eq!(
        Pop3Error::ResponseTooLarge { command: "RETR", limit: 8 }.to_string(),
        "server response to RETR exceeds the 8-byte cap"
    );
}
