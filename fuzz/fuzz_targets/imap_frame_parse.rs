//! Fuzzes the IMAP receive path: arbitrary server bytes through the framer, the parser and the session.
//!
//! The first two bytes pick the read size and the response cap; the rest is the server's stream.
//! Checked: no panic anywhere; the framer yields the same frames whether the stream comes whole or
//! in pieces; every frame ends in LF and frames plus leftover give back the input; the session
//! reports the same events and errors whether fed whole or in pieces.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsync_proto::imap::command::Command;
use mailsync_proto::imap::{
    parse_greeting, parse_response, BytesMut, Event, Framer, ImapError, ImapSession, SessionConfig,
};
use mailsync_proto::Secret;

/// Frames of `stream` read `step` bytes at a time, and the error that stopped framing, if any.
fn frames(stream: &[u8], step: usize, cap: usize) -> (Vec<Vec<u8>>, Option<String>, usize) {
    let mut framer = Framer::new(cap);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in stream.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(f)) => out.push(f.to_vec()),
                Ok(None) => break,
                Err(e) => return (out, Some(kind(&e)), buf.len()),
            }
        }
    }
    (out, None, buf.len())
}

/// An error with the parts that depend on read boundaries (how much had arrived) left out.
fn kind(e: &ImapError) -> String {
    match e {
        ImapError::ResponseTooLarge { limit, .. } => format!("too large (cap {limit})"),
        other => other.to_string(),
    }
}

/// Every event and error of a session fed `stream` in pieces of `step` bytes.
fn session_log(stream: &[u8], step: usize, cap: usize) -> Vec<Result<Event, String>> {
    let mut s = ImapSession::new(SessionConfig { max_response_size: cap, tag_prefix: "A".into() });
    // A few commands in flight so tagged responses, literals and continuations have owners.
    let _ = s.send(Command::Capability);
    let _ = s.send(Command::Login { user: "u".into(), password: Secret::from("p\"w") });
    let _ = s.send(Command::Authenticate { mechanism: "PLAIN".into(), initial_response: None });
    let _ = s.send(Command::Idle);
    while s.poll_transmit().is_some() {}
    let mut log = Vec::new();
    for piece in stream.chunks(step.max(1)) {
        s.feed(piece);
        loop {
            match s.poll_event() {
                Ok(Some(e)) => {
                    if matches!(e, Event::AuthChallenge { .. }) {
                        let _ = s.authenticate_continue(Secret::new(Vec::new()));
                    }
                    if matches!(e, Event::Idling { .. }) {
                        let _ = s.idle_done();
                    }
                    while s.poll_transmit().is_some() {}
                    log.push(Ok(e));
                }
                Ok(None) => break,
                Err(e) => {
                    let fatal = matches!(
                        e,
                        ImapError::ResponseTooLarge { .. }
                            | ImapError::LiteralTooLarge { .. }
                            | ImapError::BadGreeting { .. }
                            | ImapError::StartTlsInjection { .. }
                            | ImapError::FramerFailed
                    );
                    log.push(Err(kind(&e)));
                    if fatal {
                        return log;
                    }
                }
            }
        }
    }
    log
}

fuzz_target!(|data: &[u8]| {
    let [step, cap, stream @ ..] = data else { return };
    let step = usize::from(*step % 64) + 1;
    let cap = 64 + usize::from(*cap) * 64;

    let (whole, whole_err, whole_left) = frames(stream, stream.len(), cap);
    let (pieces, pieces_err, pieces_left) = frames(stream, step, cap);
    assert_eq!(whole, pieces, "framing depends on read boundaries");
    assert_eq!(whole_err, pieces_err, "framing errors depend on read boundaries");
    if whole_err.is_none() {
        assert_eq!(whole_left, pieces_left);
        let total: usize = whole.iter().map(Vec::len).sum();
        assert_eq!(total + whole_left, stream.len(), "frames lose or invent bytes");
    }
    for f in &whole {
        assert_eq!(f.last(), Some(&b'\n'), "a frame does not end in LF");
        assert!(f.len() <= cap, "a frame exceeds the cap");
        let frame = mailsync_proto::imap::Bytes::from(f.clone());
        let _ = parse_response(&frame);
        let _ = parse_greeting(&frame);
    }

    assert_eq!(session_log(stream, stream.len().max(1), cap), session_log(stream, step, cap));
});
