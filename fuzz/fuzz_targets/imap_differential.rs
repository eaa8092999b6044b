//! Differential fuzzing of our IMAP response parser against `imap-proto` 0.17.
//!
//! Arbitrary server bytes are framed; for each frame both parsers run, and where both accept, the
//! facts both model must agree (see `crates/proto/tests/imap_compare.rs`). imap-proto's own panics
//! are swallowed (a silent panic hook around its call; our parser is not covered by it, so a panic
//! of ours still aborts), and differences already known and explained in
//! `crates/proto/tests/imap_differential.rs` are not reported again.

#![no_main]

#[path = "../../crates/proto/tests/imap_compare.rs"]
mod compare;

use compare::{compare, Verdict};
use libfuzzer_sys::fuzz_target;
use mailsync_proto::imap::{BytesMut, Framer};

/// Disagreement classes already explained by a regression test in `imap_differential.rs`:
/// imap-proto keeps backslashes of quoted strings; collapses `HEADER.FIELDS (...)` and
/// `HEADER.FIELDS.NOT (...)` to `HEADER`; drops a whole `[CAPABILITY ...]` code over one atom it
/// dislikes (IMAP4rev1 missing, an 8-bit byte, a doubled space); reads a reversed range such as
/// `43:1` as empty where RFC 3501 section 9 says it equals `1:43`; and turns a FETCH item it cannot
/// parse (e.g. FLAGS with an 8-bit keyword) into `Unknown`, losing it. And in the other direction: ours steps
/// over an item whose value breaks the grammar (a UID or MODSEQ of 0, Zoho's `MODSEQ (-1)`), naming it in
/// `Fetch::malformed` and leaving it out, where imap-proto keeps the invalid value.
fn known_difference(frame: &[u8], ours: &str, theirs: &str) -> bool {
    let has = |needle: &[u8]| frame.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
    let dropped_capability_code = ours.contains("code: Known(\"CAPABILITY") && theirs.contains("code: None");
    let dropped_fetch_item = ours.starts_with("Fetch(")
        && ["uid", "flags", "size", "internal_date", "modseq"].iter().any(|k| {
            let none = format!("{k}: None");
            theirs.contains(&none) && !ours.contains(&none)
        });
    let stepped_over_item = ours.starts_with("Fetch(")
        && ["uid", "flags", "size", "internal_date", "modseq"].iter().any(|k| {
            let none = format!("{k}: None");
            ours.contains(&none) && !theirs.contains(&none)
        });
    has(b"\\")
        || has(b"HEADER.FIELDS")
        || dropped_capability_code
        || dropped_fetch_item
        || stepped_over_item
        || has_reversed_range(frame)
}

/// Whether the frame holds `a:b` with a > b.
fn has_reversed_range(frame: &[u8]) -> bool {
    let text = String::from_utf8_lossy(frame);
    text.split(|c: char| !(c.is_ascii_digit() || c == ':')).any(|tok| match tok.split_once(':') {
        Some((a, b)) => matches!((a.parse::<u64>(), b.parse::<u64>()), (Ok(a), Ok(b)) if a > b),
        None => false,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut framer = Framer::new(1 << 16);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = framer.decode(&mut buf) {
        // Our parser outside the silenced hook, so a panic of ours is reported with its message.
        let _ = mailsync_proto::imap::parse_response(&frame);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let verdict = compare(&frame);
        std::panic::set_hook(hook);
        if let Verdict::Disagree { ours, theirs } = verdict {
            if !known_difference(&frame, &ours, &theirs) {
                panic!(
                    "parsers disagree on {:?}\n  ours:   {ours}\n  theirs: {theirs}",
                    String::from_utf8_lossy(&frame)
                );
            }
        }
    }
});
