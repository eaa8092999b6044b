//! Replays every POP3 transcript in `fixtures/pop3/` through the session, and sends every fixture
//! message of `fixtures/messages/` through RETR.

mod pop3_support;

use bytes::BytesMut;
use mailsync_proto::pop3::{dot_stuff, Pop3Command, Pop3Config, Pop3Event, Pop3Session};
use mailsync_proto::SeqNum;
use pop3_support::{load_all, parse_trace, replay, whole};

#[test]
fn every_trace_replays() {
    let traces = load_all();
    assert!(traces.len() >= 20, "expected the full set of transcripts, found {}", traces.len());
    let failures: Vec<String> = traces.iter().filter_map(|t| replay(t, &mut whole).err()).collect();
    assert!(failures.is_empty(), "{} transcript(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_set_covers_the_servers_and_the_faults() {
    let names: Vec<String> = load_all().into_iter().map(|t| t.name).collect();
    for prefix in ["rfc1939_", "dovecot_", "outlook_", "fault_"] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "no {prefix}* transcript in {names:?}");
    }
}

/// The replayer must notice a wrong expectation, or every transcript above proves nothing.
#[test]
fn replay_detects_mismatches() {
    let base =
        "S: +OK ready\nE: {\"greeting\":{\"ok\":true,\"text\":\"ready\"}}\n> STAT\nC: STAT\nS: +OK 2 320\n";
    let good = format!("{base}E: {{\"response\":{{\"id\":1,\"ok\":true,\"text\":\"2 320\"}}}}\n");
    let parse = |text: &str| parse_trace("inline", text).unwrap_or_else(|e| panic!("{e}"));
    assert!(replay(&parse(&good), &mut whole).is_ok());
    let cases = [
        // wrong text
        format!("{base}E: {{\"response\":{{\"id\":1,\"ok\":true,\"text\":\"2 321\"}}}}\n"),
        // wrong id
        format!("{base}E: {{\"response\":{{\"id\":2,\"ok\":true,\"text\":\"2 320\"}}}}\n"),
        // unchecked event at the end
        base.to_owned(),
        // wrong client bytes
        "S: +OK ready\nE: {\"greeting\":{\"ok\":true,\"text\":\"ready\"}}\n> STAT\nC: LIST\n".to_owned(),
        // client wrote something where nothing was expected
        "S: +OK ready\nE: {\"greeting\":{\"ok\":true,\"text\":\"ready\"}}\n> STAT\nC-\n".to_owned(),
        // an error was expected but none came
        "S: +OK ready\nX: malformed\n".to_owned(),
        // wrong state
        "S: +OK ready\nE: {\"greeting\":{\"ok\":true,\"text\":\"ready\"}}\n= state transaction\n".to_owned(),
    ];
    for case in cases {
        assert!(replay(&parse(&case), &mut whole).is_err(), "mismatch not detected in:\n{case}");
    }
}

/// Every fixture message, stuffed as a server would send it, comes back byte for byte through RETR,
/// whether fed whole, in 16 KiB reads, or 7 bytes at a time.
#[test]
fn every_fixture_message_survives_retr() {
    let dir = pop3_support::fixtures_dir().join("../messages");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "expected the fixture messages, found {}", paths.len());
    for path in &paths {
        let message = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut expected = message.clone();
        if !expected.is_empty() && !expected.ends_with(b"\r\n") {
            expected.extend_from_slice(b"\r\n");
        }
        let mut wire = BytesMut::from(&b"+OK message follows\r\n"[..]);
        dot_stuff(&message, &mut wire);
        for chunk in [usize::MAX, 16 * 1024, 7] {
            let mut s = Pop3Session::new(Pop3Config::default());
            s.feed(b"+OK ready\r\n");
            assert!(matches!(s.poll_event(), Ok(Some(Pop3Event::Greeting(_)))));
            let one = SeqNum::try_from(1u32).unwrap_or_else(|e| panic!("{e}"));
            let id = s.send(Pop3Command::Retr(one)).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.poll_transmit().is_some());
            for piece in wire.chunks(chunk.min(wire.len())) {
                s.feed(piece);
            }
            match s.poll_event() {
                Ok(Some(Pop3Event::Response { id: got, ok: true, body: Some(body), .. })) => {
                    assert_eq!(got, id);
                    assert!(body[..] == expected[..], "{} (chunk {chunk}): body differs", path.display());
                }
                other => panic!("{} (chunk {chunk}): {other:?}", path.display()),
            }
            assert_eq!(s.poll_event(), Ok(None));
        }
    }
}
