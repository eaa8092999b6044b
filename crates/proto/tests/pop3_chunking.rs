//! Property tests: how the server's bytes are cut into reads never changes what the session reports,
//! and dot-stuffing then unstuffing gives back any byte string.

mod pop3_support;

use bytes::BytesMut;
use mailsync_proto::pop3::{
    dot_stuff, Decoded, DotDecoder, Pop3Command, Pop3Config, Pop3Error, Pop3Event, Pop3Session,
};
use mailsync_proto::SeqNum;
use pop3_support::{load_all, replay, whole};
use proptest::prelude::*;

/// Bytes rich in the ones that matter to the framing.
fn tricky_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![4 => Just(b'.'), 4 => Just(b'\r'), 4 => Just(b'\n'), 1 => Just(0u8), 6 => any::<u8>()],
        0..max,
    )
}

/// Cuts each run of server bytes into pieces of the given sizes, cycling through them.
fn cutter(sizes: Vec<usize>) -> impl FnMut(&[u8]) -> Vec<usize> {
    move |run: &[u8]| {
        let mut out = Vec::new();
        let mut total = 0;
        for size in sizes.iter().cycle() {
            if total >= run.len() {
                break;
            }
            out.push(*size);
            total += *size;
        }
        out
    }
}

fn one() -> SeqNum {
    SeqNum::try_from(1u32).unwrap_or_else(|e| panic!("{e}"))
}

/// Drives a pipelining session through `RETR` of each message; returns every event (and the final
/// error, if any) after feeding `stream` in pieces of `sizes`.
fn pipelined_events(stream: &[u8], count: usize, sizes: &[usize]) -> Vec<Result<Pop3Event, Pop3Error>> {
    let mut s = Pop3Session::new(Pop3Config::default());
    s.feed(b"+OK ready\r\n");
    let _ = s.poll_event();
    let _ = s.send(Pop3Command::Capa);
    let _ = s.poll_transmit();
    s.feed(b"+OK\r\nPIPELINING\r\n.\r\n");
    let _ = s.poll_event();
    for _ in 0..count {
        let _ = s.send(Pop3Command::Retr(one()));
    }
    let mut sent = 0;
    while s.poll_transmit().is_some() {
        sent += 1;
    }
    assert_eq!(sent, count, "with PIPELINING every RETR goes out at once");
    let mut rest = stream;
    let mut log = Vec::new();
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at((*size).min(rest.len()));
        s.feed(a);
        rest = b;
        loop {
            match s.poll_event() {
                Ok(Some(ev)) => log.push(Ok(ev)),
                Ok(None) => break,
                Err(e) => {
                    log.push(Err(e));
                    return log;
                }
            }
        }
    }
    log
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every transcript gives the same log whatever the read boundaries.
    #[test]
    fn any_chunking_of_a_transcript_gives_the_same_events(sizes in prop::collection::vec(1usize..40, 1..30)) {
        for trace in load_all().iter().filter(|t| !t.whole_reads_only) {
            let expected = replay(trace, &mut whole);
            prop_assert!(expected.is_ok(), "{:?}", expected);
            let got = replay(trace, &mut cutter(sizes.clone()));
            prop_assert_eq!(&got, &expected, "{} with pieces {:?}", trace.name, sizes);
        }
    }

    /// Several pipelined RETR responses in one stream, cut anywhere (inside a status line, a body, a
    /// terminator, between responses): the same events as feeding it whole, and each body is the
    /// message given back exactly.
    #[test]
    fn pipelined_retr_responses_cut_anywhere(
        messages in prop::collection::vec(tricky_bytes(300), 1..6),
        sizes in prop::collection::vec(1usize..64, 1..20),
    ) {
        let mut stream = BytesMut::new();
        for m in &messages {
            stream.extend_from_slice(b"+OK\r\n");
            dot_stuff(m, &mut stream);
        }
        let expected = pipelined_events(&stream, messages.len(), &[usize::MAX]);
        prop_assert_eq!(expected.len(), messages.len());
        for (event, m) in expected.iter().zip(&messages) {
            let mut want = m.clone();
            if !want.is_empty() && !want.ends_with(b"\r\n") {
                want.extend_from_slice(b"\r\n");
            }
            match event {
                Ok(Pop3Event::Response { ok: true, body: Some(body), .. }) => prop_assert_eq!(&body[..], &want[..]),
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            }
        }
        prop_assert_eq!(pipelined_events(&stream, messages.len(), &sizes), expected);
    }

    /// Stuffing then unstuffing gives back any byte string that ends a line (or is empty) exactly,
    /// and any other with the CRLF the stuffing had to add.
    #[test]
    fn dot_stuffing_round_trips(body in tricky_bytes(2000), split in any::<prop::sample::Index>()) {
        for body in [body.clone(), [body.as_slice(), b"\r\n"].concat()] {
            let mut wire = BytesMut::new();
            dot_stuff(&body, &mut wire);
            let cut = split.index(wire.len() + 1);
            let (a, b) = wire.split_at(cut);
            let mut d = DotDecoder::new(usize::MAX);
            let consumed = match d.decode(a) {
                Ok(Decoded::Done(n)) => n,
                Ok(Decoded::NeedMore) => match d.decode(b) {
                    Ok(Decoded::Done(n)) => a.len() + n,
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                },
                Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
            };
            prop_assert_eq!(consumed, wire.len());
            let mut want = body.clone();
            if !want.is_empty() && !want.ends_with(b"\r\n") {
                want.extend_from_slice(b"\r\n");
            }
            prop_assert_eq!(d.finish().to_vec(), want);
        }
    }

    /// Arbitrary server bytes after a RETR, in arbitrary pieces: no panic, no body over the cap, and
    /// an error, once reported, stays.
    #[test]
    fn garbage_never_panics_and_respects_the_cap(
        data in tricky_bytes(600),
        sizes in prop::collection::vec(1usize..50, 1..10),
    ) {
        let cap = 64;
        let mut s = Pop3Session::new(Pop3Config { max_line: 80, max_body: cap, max_listing: cap });
        s.feed(b"+OK ready\r\n");
        let _ = s.poll_event();
        let _ = s.send(Pop3Command::Retr(one()));
        let _ = s.send(Pop3Command::Auth {
            mechanism: mailsync_proto::sasl::Mechanism::Login,
            initial: mailsync_proto::pop3::InitialResponse::None,
        });
        let _ = s.poll_transmit();
        let mut rest = data.as_slice();
        let mut failed = None;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at((*size).min(rest.len()));
            s.feed(a);
            rest = b;
            let _ = s.poll_transmit();
            loop {
                match s.poll_event() {
                    Ok(Some(Pop3Event::Response { body: Some(body), .. })) => prop_assert!(body.len() <= cap),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        if let Some(prev) = &failed {
                            prop_assert_eq!(prev, &e);
                        }
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
    }
}
