//! Fuzzes the POP3 parsers and the session framer with arbitrary server bytes.
//!
//! The first byte picks which commands are in flight and the read size; the rest is the server's
//! stream. Checked: no panic, no body over the cap, an error once reported stays reported, and the
//! standalone parsers never panic on the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsync_proto::pop3::{
    parse_capabilities, parse_continuation, parse_greeting, parse_scan_listings, parse_stat,
    parse_status_line, parse_uidl_listings, Decoded, DotDecoder, InitialResponse, Pop3Command, Pop3Config,
    Pop3Event, Pop3Session,
};
use mailsync_proto::sasl::{decode_base64_challenge, decode_oauth_failure, Mechanism};
use mailsync_proto::SeqNum;

const CAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else { return };

    // Standalone parsers.
    let _ = parse_status_line(stream);
    let _ = parse_greeting(stream);
    let _ = parse_continuation(stream);
    let _ = parse_capabilities(stream);
    let _ = parse_scan_listings(stream);
    let _ = parse_uidl_listings(stream);
    let text = String::from_utf8_lossy(stream);
    let _ = parse_stat(&text);
    let _ = decode_base64_challenge(&text);
    let _ = decode_oauth_failure(&text);

    // The dot decoder alone, fed in two pieces.
    let mut d = DotDecoder::new(CAP);
    let cut = usize::from(selector).min(stream.len());
    let (a, b) = stream.split_at(cut);
    if let Ok(Decoded::NeedMore) = d.decode(a) {
        let _ = d.decode(b);
    }
    assert!(d.len() <= CAP);

    // The session, with a mix of commands in flight.
    let mut s = Pop3Session::new(Pop3Config { max_line: 512, max_body: CAP, max_listing: 4 * CAP });
    let Ok(one) = SeqNum::try_from(1u32) else { return };
    let commands = [
        Pop3Command::Capa,
        Pop3Command::Retr(one),
        Pop3Command::Uidl(None),
        Pop3Command::List(None),
        Pop3Command::Auth { mechanism: Mechanism::Login, initial: InitialResponse::None },
        Pop3Command::Stls,
        Pop3Command::Top { msg: one, lines: 0 },
        Pop3Command::Stat,
    ];
    for (bit, cmd) in commands.into_iter().enumerate() {
        if selector & (1 << bit) != 0 {
            let _ = s.send(cmd);
        }
    }
    let read = usize::from(selector % 31) + 1;
    let mut failed = None;
    for piece in stream.chunks(read) {
        s.feed(piece);
        while s.poll_transmit().is_some() {}
        loop {
            match s.poll_event() {
                Ok(Some(Pop3Event::Response { body: Some(body), .. })) => assert!(body.len() <= CAP),
                Ok(Some(Pop3Event::Continuation { .. })) => {
                    let _ = s.auth_continue(mailsync_proto::Secret::new(b"x".to_vec()));
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    if let Some(prev) = &failed {
                        assert_eq!(prev, &e);
                    }
                    failed = Some(e);
                    break;
                }
            }
        }
    }
});
