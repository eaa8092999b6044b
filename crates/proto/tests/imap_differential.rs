//! Differential test against `imap-proto` 0.17 over every server response in `fixtures/imap/`:
//! where both parsers accept a response, the facts both model (UIDs, flags, sizes, dates, body bytes,
//! mailbox names, codes, ...) must agree. Every known difference is listed below with its reason and
//! pinned by a regression test, so a new difference (or a fixed one) fails the test.

#[path = "imap_harness.rs"]
mod harness;

#[path = "imap_compare.rs"]
mod compare;

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use compare::{compare, Verdict};
use mailsync_proto::imap::{parse_response, Framer, MailboxAttr, Response, Section, Untagged};

/// Both accept, but disagree: (transcript, start of the frame, why; which side is right).
const KNOWN_DISAGREEMENTS: &[(&str, &str, &str)] = &[
    (
        "literals.trace",
        "* 2 FETCH (UID 2 BODY[HEADER.FIELDS",
        "imap-proto keeps the backslash of a quoted-special (\"t\\\"x\" gives t\\\"x; RFC 3501 section 4.3 \
         says t\"x) and reports BODY[HEADER.FIELDS (...)] as BODY[HEADER]; ours is right on both",
    ),
    (
        "quirks.trace",
        "* 1 FETCH (UID 0)",
        "a UID is an nz-number (RFC 3501 section 2.3.1.1): ours keeps the response and names the item \
         malformed, with no UID",
    ),
    (
        "quirks.trace",
        "* 2 FETCH (UID 14 MODSEQ (0))",
        "a per-message mod-sequence is positive (RFC 7162 section 3.1.4): ours keeps the response and names \
         the item malformed, with no MODSEQ (Zoho sends 0 and -1)",
    ),
];

/// imap-proto accepts, ours rejects on purpose.
const KNOWN_ONLY_THEIRS: &[(&str, &str, &str)] = &[];

/// imap-proto panics (IMAP-PARSING.md).
const KNOWN_PANICS: &[(&str, &str)] = &[("quirks.trace", "* 4 FETCH (UID 12 INTERNALDATE NIL")];

/// Every complete frame of every transcript, with the transcript's name.
fn fixture_frames() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for t in harness::load_all() {
        let mut buf = BytesMut::from(&harness::server_bytes(&t)[..]);
        let mut framer = Framer::default();
        while let Ok(Some(frame)) = framer.decode(&mut buf) {
            out.push((t.name.clone(), frame.to_vec()));
        }
        assert!(buf.is_empty(), "{}: bytes left after the last frame", t.name);
    }
    out
}

fn listed(list: &[(&str, &str)], name: &str, frame: &[u8]) -> bool {
    list.iter().any(|(n, prefix)| *n == name && frame.starts_with(prefix.as_bytes()))
}

fn pairs(list: &[(&'static str, &'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    list.iter().map(|(n, p, _)| (*n, *p)).collect()
}

#[test]
fn parsers_agree_where_both_accept() {
    let frames = fixture_frames();
    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let (mut seen_disagree, mut seen_only_theirs, mut seen_panics) = (0, 0, 0);
    for (name, frame) in &frames {
        let v = compare(frame);
        let text = String::from_utf8_lossy(frame);
        let key = match &v {
            Verdict::Agree => "agree",
            Verdict::Disagree { .. } => "disagree",
            Verdict::NotComparable => "accepted by both, nothing in common",
            Verdict::OnlyOurs => "only ours accepts",
            Verdict::OnlyTheirs => "only imap-proto accepts",
            Verdict::Neither => "neither accepts",
            Verdict::TheirsPanicked => "imap-proto panicked",
            Verdict::TooDeepForTheirs => "too deep for imap-proto",
        };
        *tally.entry(key).or_default() += 1;
        match v {
            Verdict::Disagree { ours, theirs } => {
                if listed(&pairs(KNOWN_DISAGREEMENTS), name, frame) {
                    seen_disagree += 1;
                } else {
                    unexpected
                        .push(format!("{name}: disagree on {text:?}\n  ours:   {ours}\n  theirs: {theirs}"));
                }
            }
            Verdict::OnlyTheirs => {
                if listed(&pairs(KNOWN_ONLY_THEIRS), name, frame) {
                    seen_only_theirs += 1;
                } else {
                    unexpected.push(format!("{name}: only imap-proto accepts {text:?}"));
                }
            }
            Verdict::TheirsPanicked => {
                if listed(KNOWN_PANICS, name, frame) {
                    seen_panics += 1;
                } else {
                    unexpected.push(format!("{name}: imap-proto panics on {text:?}"));
                }
            }
            _ => {}
        }
    }
    eprintln!("{} fixture frames: {tally:?}", frames.len());
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
    assert_eq!(seen_disagree, KNOWN_DISAGREEMENTS.len(), "a known disagreement went away: update the list");
    assert_eq!(seen_only_theirs, KNOWN_ONLY_THEIRS.len(), "a known strictness difference went away");
    assert_eq!(seen_panics, KNOWN_PANICS.len(), "a known imap-proto panic went away");
    assert!(tally.get("agree").copied().unwrap_or(0) >= 200, "too few comparable frames: {tally:?}");
}

// ---- regression tests for each known difference ------------------------------------------------

fn ours(wire: &'static [u8]) -> Response {
    parse_response(&Bytes::from_static(wire)).unwrap_or_else(|e| panic!("ours rejects {wire:?}: {e}"))
}

fn theirs_accepts(wire: &[u8]) -> bool {
    std::panic::catch_unwind(|| matches!(imap_proto::Response::parse(wire), Ok((rest, _)) if rest.is_empty()))
        .unwrap_or(false)
}

fn fetch(r: Response) -> Box<mailsync_proto::imap::Fetch> {
    match r {
        Response::Untagged(Untagged::Fetch(f)) => f,
        other => panic!("not a FETCH: {other:?}"),
    }
}

#[test]
fn quoted_body_is_unescaped_where_imap_proto_keeps_backslashes() {
    let wire = b"* 2 FETCH (RFC822.TEXT \"t\\\"x\")\r\n";
    let f = fetch(ours(wire));
    assert_eq!(f.body(&Section::Text).map(|b| &b[..]), Some(&b"t\"x"[..]));
    let theirs = imap_proto::Response::parse(wire).map(|(_, r)| format!("{r:?}")).unwrap_or_default();
    assert!(theirs.contains("[116, 92, 34, 120]"), "imap-proto now unescapes: {theirs}");
}

#[test]
fn header_fields_section_keeps_its_field_list() {
    let f = fetch(ours(b"* 2 FETCH (BODY[HEADER.FIELDS (From \"X-Odd]\")] {9}\r\nFrom: a\r\n)\r\n"));
    assert_eq!(f.bodies[0].section, Section::Other("HEADER.FIELDS (From \"X-Odd]\")".into()));
}

#[test]
fn internaldate_nil_is_kept_where_imap_proto_panics() {
    let wire = b"* 4 FETCH (UID 12 INTERNALDATE NIL FLAGS ())\r\n";
    assert_eq!(fetch(ours(wire)).internal_date, Some(None));
    assert!(
        std::panic::catch_unwind(|| imap_proto::Response::parse(wire)).is_err(),
        "imap-proto no longer panics"
    );
}

#[test]
fn zero_uid_and_zero_modseq_are_kept_as_missing_and_named_malformed() {
    let f = fetch(ours(b"* 1 FETCH (UID 0)\r\n"));
    assert_eq!((f.uid, f.malformed.len()), (None, 1));
    let f = fetch(ours(b"* 2 FETCH (UID 14 MODSEQ (0))\r\n"));
    assert_eq!((f.uid.map(|u| u.get()), f.modseq, f.malformed.len()), (Some(14), None, 1));
    for wire in [&b"* 1 FETCH (UID 0)\r\n"[..], b"* 2 FETCH (UID 14 MODSEQ (0))\r\n"] {
        assert!(theirs_accepts(wire));
    }
}

#[test]
fn capability_code_without_imap4rev1_is_kept() {
    // Found by the imap_differential fuzz target: imap-proto requires IMAP4rev1 in the list and
    // otherwise leaves the code in the text; ours keeps whatever the server lists.
    let wire = b"* OK [CAPABILITY =MAP4rev1 SASL-IR IDLE] Dovecot ready.\r\n";
    match ours(wire) {
        Response::Untagged(Untagged::Status(s)) => {
            assert!(matches!(s.code, Some(mailsync_proto::imap::Code::Capability(ref c)) if c.has("IDLE")));
            assert_eq!(s.text, "Dovecot ready.");
        }
        other => panic!("{other:?}"),
    }
    let theirs = imap_proto::Response::parse(wire).map(|(_, r)| format!("{r:?}")).unwrap_or_default();
    assert!(theirs.contains("code: None"), "imap-proto now keeps the code: {theirs}");
}

#[test]
fn capability_code_with_an_odd_atom_is_kept() {
    // Found by the imap_differential fuzz target: one 8-bit atom makes imap-proto drop the whole code.
    let wire = b"A0001 OK [CAPABILITY IMAP4rev1 CONDSTORE QRESY\xc3C IDLE] logged in\r\n";
    match parse_response(&Bytes::from_static(wire)) {
        Ok(Response::Tagged(t)) => {
            assert!(
                matches!(t.code, Some(mailsync_proto::imap::Code::Capability(ref c)) if c.has("CONDSTORE") && c.len() == 4)
            );
        }
        other => panic!("{other:?}"),
    }
    let theirs = imap_proto::Response::parse(wire).map(|(_, r)| format!("{r:?}")).unwrap_or_default();
    assert!(theirs.contains("code: None"), "imap-proto now keeps the code: {theirs}");
}

#[test]
fn vanished_reversed_range_covers_both_ends() {
    // Found by the imap_differential fuzz target: RFC 3501 section 9 says 43:1 is 1:43; imap-proto
    // reads it as an empty range.
    let wire = b"* VANISHED (EARLIER) 41,43:1\r\n";
    match ours(wire) {
        Response::Untagged(Untagged::Vanished(v)) => {
            let uids: Vec<u32> = v.uids.iter(0, 100).map(Iterator::collect).unwrap_or_default();
            assert_eq!(uids, (1..=43).collect::<Vec<u32>>());
        }
        other => panic!("{other:?}"),
    }
    let theirs = imap_proto::Response::parse(wire).map(|(_, r)| format!("{r:?}")).unwrap_or_default();
    assert!(theirs.contains("[41..=41, 43..=1]"), "imap-proto changed: {theirs}");
}

#[test]
fn eight_bit_mailbox_name_is_kept_raw() {
    // Found by the imap_differential fuzz target: imap-proto turns the bytes into U+FFFD; ours keeps
    // them for the caller's modified UTF-7 / UTF-8 decoding.
    let wire = b"* STATUS I\xfcNBOX (MESSAGES 3)\r\n";
    match ours(wire) {
        Response::Untagged(Untagged::MailboxStatus(s)) => assert_eq!(s.mailbox, b"I\xfcNBOX"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fetch_flags_with_an_eight_bit_keyword_are_kept() {
    // Found by the imap_differential fuzz target: imap-proto turns the FLAGS item into `Unknown`.
    let wire = b"* 4 FETCH (UID 408 FLAGS ($NoJunk $Aut\xf6Sent))\r\n";
    let f = fetch(ours(wire));
    assert_eq!(f.flags.map(|v| v.len()), Some(2));
    let theirs = imap_proto::Response::parse(wire).map(|(_, r)| format!("{r:?}")).unwrap_or_default();
    assert!(theirs.contains("Unknown") && !theirs.contains("Flags"), "imap-proto changed: {theirs}");
}

#[test]
fn attributes_starting_like_all_are_whole_atoms() {
    let wire = b"* LIST (\\AllMail \\Archived) NIL \"Flat\"\r\n";
    match ours(wire) {
        Response::Untagged(Untagged::List(l)) => assert_eq!(
            l.attributes,
            vec![MailboxAttr::Other("\\AllMail".into()), MailboxAttr::Other("\\Archived".into())]
        ),
        other => panic!("{other:?}"),
    }
    assert!(!theirs_accepts(wire), "imap-proto now parses \\AllMail");
}

#[test]
fn rfc3501_fetch_example_with_body_structure_is_accepted() {
    let wire = b"* 12 FETCH (FLAGS (\\Seen) RFC822.SIZE 4286 BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92) UID 4827313)\r\n";
    let f = fetch(ours(wire));
    assert_eq!((f.uid.map(|u| u.get()), f.skipped.clone()), (Some(4_827_313), vec!["BODY".to_owned()]));
    assert!(!theirs_accepts(wire), "imap-proto now parses non-extensible BODY");
}

#[test]
fn extensions_imap_proto_lacks_are_parsed() {
    for wire in [
        &b"* SEARCH 2 (MODSEQ 7)\r\n"[..],
        b"* STATUS Sent (MESSAGES 2 SIZE 1234)\r\n",
        b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
        b"* ESEARCH (TAG \"A0009\") UID COUNT 3 ALL 1:3\r\n",
        b"*  3  EXISTS\r\n",
        b"* 7 EXISTS\n",
    ] {
        assert!(parse_response(&Bytes::copy_from_slice(wire)).is_ok(), "{wire:?}");
        assert!(!theirs_accepts(wire), "imap-proto now accepts {wire:?}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut wire = b"* 1 FETCH (UID 1 BODYSTRUCTURE ".to_vec();
    wire.extend(std::iter::repeat_n(b'(', 100_000));
    wire.extend(std::iter::repeat_n(b')', 100_000));
    wire.extend_from_slice(b")\r\n");
    assert!(parse_response(&Bytes::from(wire.clone())).is_err());
    assert_eq!(compare(&wire), Verdict::TooDeepForTheirs);
}
