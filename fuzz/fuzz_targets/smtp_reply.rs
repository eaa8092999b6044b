//! Fuzzes the SMTP reply reader with arbitrary server bytes, fed in pieces the first byte chooses.
//!
//! Checked: no panic; the buffered bytes never exceed one line cap plus a piece; every reply has a code in
//! 200..600 and at most `MAX_LINES` lines; an EHLO reading of any reply never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsync_proto::smtp::{Extensions, ReplyReader, MAX_LINE, MAX_LINES};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else { return };
    let piece = usize::from(selector % 64) + 1;
    let mut r = ReplyReader::new();
    for chunk in stream.chunks(piece) {
        r.feed(chunk);
        loop {
            match r.next_reply() {
                Ok(Some(reply)) => {
                    assert!((200..600).contains(&reply.code));
                    assert!(!reply.lines.is_empty() && reply.lines.len() <= MAX_LINES);
                    let _ = Extensions::from_ehlo(&reply);
                    let _ = reply.text();
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(r.pending() <= MAX_LINE + piece);
    }
});
