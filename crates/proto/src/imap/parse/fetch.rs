//! FETCH data: the message attributes a sync needs, typed; everything else skipped.
//!
//! Owns: `msg-att` with UID, FLAGS, INTERNALDATE (also NIL), RFC822.SIZE, MODSEQ, BODY[section]<origin>
//! and RFC822 / RFC822.HEADER / RFC822.TEXT as literal, quoted string or NIL. Any other item
//! (ENVELOPE, BODYSTRUCTURE, BODY without a section, BINARY[...], X-GM-*, EMAILID, ...) is stepped
//! over by the balanced scan and its name kept.
//!
//! Must never: copy a body delivered as a literal (it is a [`Bytes`] slice of the frame); accept a
//! UID of 0; fail on an unknown item.
//!
//! RFC 3501 section 7.4.2 and 9 (`msg-att`, `msg-att-dynamic`, `msg-att-static`, `section`,
//! `section-spec`, `date-time`); RFC 7162 section 3.1.4 and 7 (`fetch-mod-resp`).

use bytes::Bytes;
use nom::bytes::streaming::{tag, take_while, take_while1};
use nom::combinator::opt;
use nom::Parser;

use super::core::{is_atom_char, lossy, mod_sequence_value, nstring, number, nz_number, quoted, sp};
use super::flag::flag_list;
use super::skip::skip_value;
use super::{reject, share, PResult};
use crate::imap::response::{BodySection, Fetch, InternalDate, Section};
use crate::types::{SeqNum, Uid};

/// `msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic / msg-att-static)) ")"`
///
/// Leniently: extra spaces, an empty list, items wrapped in a parenthesised group of their own
/// (Domino: `(UID 5 (ENVELOPE (...)) ...)`), and items whose value does not parse: such an item is
/// stepped over (or, when its value is missing altogether, left behind) and named in
/// [`Fetch::malformed`], and the items around it are kept. Only a response that cannot be resynchronised
/// at an item boundary fails as a whole.
pub fn msg_att<'a>(frame: &Bytes, seq: SeqNum, i: &'a [u8]) -> PResult<'a, Fetch> {
    let mut out = Fetch::new(seq);
    let rest = att_list(frame, i, &mut out, 0)?;
    Ok((rest, out))
}

/// How deep Domino-style item groups may nest inside `msg-att`.
const MAX_GROUP_DEPTH: usize = 4;

/// `"(" item *(SP item) ")"` into `out`; `depth` counts the groups around it.
fn att_list<'a>(
    frame: &Bytes,
    i: &'a [u8],
    out: &mut Fetch,
    depth: usize,
) -> Result<&'a [u8], nom::Err<super::PError<'a>>> {
    let (mut rest, _) = (tag("("), take_while(|b| b == b' ')).parse(i)?;
    loop {
        match rest.first() {
            None => return Err(nom::Err::Incomplete(nom::Needed::new(1))),
            Some(b')') => return Ok(rest.get(1..).unwrap_or_default()),
            Some(b'(') if depth < MAX_GROUP_DEPTH => {
                out.malformed.push("a parenthesised group of items".to_owned());
                rest = att_list(frame, rest, out, depth + 1)?;
            }
            Some(_) => rest = lenient_item(frame, rest, out)?,
        }
        let (r, _) = take_while(|b| b == b' ').parse(rest)?;
        if r.len() == rest.len() && r.first() != Some(&b')') {
            return reject(r, "expected a space or ')' after a FETCH item").map(|(r, ())| r);
        }
        rest = r;
    }
}

/// One item, parsed when it can be; otherwise stepped over and recorded in `out.malformed`.
fn lenient_item<'a>(
    frame: &Bytes,
    i: &'a [u8],
    out: &mut Fetch,
) -> Result<&'a [u8], nom::Err<super::PError<'a>>> {
    match msg_att_item(frame, i, out) {
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => recover_item(i, out, e.reason),
        other => other,
    }
}

/// After `msg_att_item` failed at `i`: step over the item's name, section and origin, then over its value,
/// or leave the value out when what follows is already the next item (Yandex: `BODY[2] BODY[] {n}`).
fn recover_item<'a>(
    i: &'a [u8],
    out: &mut Fetch,
    reason: &'static str,
) -> Result<&'a [u8], nom::Err<super::PError<'a>>> {
    let (rest, name) = match item_name(i) {
        Ok(v) => v,
        Err(nom::Err::Error(_)) => {
            // Not even a name: a stray value. Skip it whole, or give up on the response.
            let (rest, _) = skip_value(i)?;
            out.malformed.push(format!("a stray value ({reason})"));
            return Ok(rest);
        }
        Err(e) => return Err(e),
    };
    let shown = lossy(name);
    let (value, _) = take_while(|b| b == b' ').parse(rest)?;
    if matches!(value.first(), Some(b')')) || starts_with_item_name(value) {
        out.malformed.push(format!("{shown} without a value"));
        return Ok(rest);
    }
    let (rest, _) = skip_value(value)?;
    out.malformed.push(format!("{shown} ({reason})"));
    Ok(rest)
}

/// An item's name with its section and origin, as written: `BODY[1.2]<0>`, `MODSEQ`, `X-GM-LABELS`.
fn item_name(i: &[u8]) -> PResult<'_, &[u8]> {
    let (mut rest, _) = take_while1(is_item_char).parse(i)?;
    if rest.first() == Some(&b'[') {
        rest = section(rest)?.0;
        if rest.first() == Some(&b'<') {
            rest = (tag("<"), number, tag(">")).parse(rest)?.0;
        }
    }
    let used = i.len() - rest.len();
    Ok((rest, i.get(..used).unwrap_or_default()))
}

/// Whether `i` starts with the name of a FETCH item the grammar knows (so it is the next item, not a value).
fn starts_with_item_name(i: &[u8]) -> bool {
    let name: &[u8] =
        take_while1::<_, _, super::PError<'_>>(is_item_char).parse(i).map(|(_, n)| n).unwrap_or_default();
    let after = i.get(name.len()).copied();
    const ITEMS: [&[u8]; 11] = [
        b"UID",
        b"FLAGS",
        b"INTERNALDATE",
        b"RFC822.SIZE",
        b"MODSEQ",
        b"RFC822",
        b"RFC822.HEADER",
        b"RFC822.TEXT",
        b"BODY",
        b"BODYSTRUCTURE",
        b"ENVELOPE",
    ];
    let known = ITEMS.iter().any(|k| k.eq_ignore_ascii_case(name))
        || name.get(..6).is_some_and(|p| p.eq_ignore_ascii_case(b"BINARY"));
    known && matches!(after, Some(b' ' | b'[' | b')'))
}

/// A byte of a FETCH item name: an atom character but not `[` or `<`, which start its section and
/// origin.
fn is_item_char(b: u8) -> bool {
    is_atom_char(b) && b != b'[' && b != b'<'
}

/// One item, stored into `out`; returns the rest of the input.
///
/// ```text
/// msg-att-dynamic = "FLAGS" SP "(" [flag-fetch *(SP flag-fetch)] ")" / fetch-mod-resp
/// msg-att-static  = "ENVELOPE" SP envelope / "INTERNALDATE" SP date-time /
///                   "RFC822" [".HEADER" / ".TEXT"] SP nstring / "RFC822.SIZE" SP number /
///                   "BODY" ["STRUCTURE"] SP body / "BODY" section ["<" number ">"] SP nstring /
///                   "UID" SP uniqueid
/// fetch-mod-resp  = "MODSEQ" SP "(" permsg-modsequence ")"
/// ```
///
/// A second UID item that disagrees with the first leaves the response without a UID (it cannot be
/// attributed), named in `out.malformed`.
fn msg_att_item<'a>(
    frame: &Bytes,
    i: &'a [u8],
    out: &mut Fetch,
) -> Result<&'a [u8], nom::Err<super::PError<'a>>> {
    let (rest, name) = take_while1(is_item_char).parse(i)?;
    let upper = name.to_ascii_uppercase();
    if rest.first() == Some(&b'[') {
        let (rest, spec) = section(rest)?;
        let (rest, origin) = opt((tag("<"), number, tag(">")).map(|(_, n, _)| n)).parse(rest)?;
        let (rest, _) = sp(rest)?;
        if upper == b"BODY" {
            let (rest, data) = body_data(frame, rest)?;
            out.bodies.push(BodySection { section: section_kind(spec), origin, data });
            return Ok(rest);
        }
        out.skipped.push(format!("{}[{}]", lossy(&upper), lossy(spec)));
        return Ok(skip_value(rest)?.0);
    }
    let (rest, _) = sp(rest)?;
    let rest = match upper.as_slice() {
        b"UID" => {
            let (r, n) = nz_number(rest)?;
            let uid = Uid::try_from(n.get()).ok();
            match (out.uid_seen, out.uid == uid) {
                (false, _) => out.uid = uid,
                (true, true) => {}
                (true, false) => {
                    out.uid = None;
                    out.malformed.push("UID given twice with different values".to_owned());
                }
            }
            out.uid_seen = true;
            r
        }
        b"FLAGS" => flag_list.map(|f| out.flags = Some(f)).parse(rest)?.0,
        b"INTERNALDATE" => internal_date.map(|d| out.internal_date = Some(d)).parse(rest)?.0,
        b"RFC822.SIZE" => number.map(|n| out.rfc822_size = Some(n)).parse(rest)?.0,
        b"MODSEQ" => {
            (tag("("), mod_sequence_value, tag(")")).map(|(_, m, _)| out.modseq = Some(m)).parse(rest)?.0
        }
        b"RFC822" | b"RFC822.HEADER" | b"RFC822.TEXT" => {
            let kind = match upper.as_slice() {
                b"RFC822" => Section::Full,
                b"RFC822.HEADER" => Section::Header,
                _ => Section::Text,
            };
            let (r, data) = body_data(frame, rest)?;
            out.bodies.push(BodySection { section: kind, origin: None, data });
            r
        }
        _ if starts_with_item_name(rest) => {
            out.malformed.push(format!("{} without a value", lossy(&upper)));
            i.get(name.len()..).unwrap_or_default()
        }
        _ => {
            out.skipped.push(lossy(&upper));
            skip_value(rest)?.0
        }
    };
    Ok(rest)
}

/// `section = "[" [section-spec] "]"`: the spec between the brackets, scanned to the closing `]`
/// while stepping over quoted strings (header names may be quoted).
pub fn section(i: &[u8]) -> PResult<'_, &[u8]> {
    let (inner, _) = tag("[").parse(i)?;
    let mut pos = 0;
    loop {
        match inner.get(pos) {
            None => return Err(nom::Err::Incomplete(nom::Needed::new(1))),
            Some(b']') => {
                let spec = inner.get(..pos).unwrap_or_default();
                return Ok((inner.get(pos + 1..).unwrap_or_default(), spec));
            }
            Some(b'"') => {
                let tail = inner.get(pos..).unwrap_or_default();
                let (r, _) = quoted(tail)?;
                pos += tail.len() - r.len();
            }
            Some(b'\r' | b'\n') => {
                return reject(inner.get(pos..).unwrap_or_default(), "line end inside a section")
            }
            Some(_) => pos += 1,
        }
    }
}

/// What a `section-spec` names.
fn section_kind(spec: &[u8]) -> Section {
    let spec = spec.trim_ascii();
    if spec.is_empty() {
        Section::Full
    } else if spec.eq_ignore_ascii_case(b"HEADER") {
        Section::Header
    } else if spec.eq_ignore_ascii_case(b"TEXT") {
        Section::Text
    } else {
        Section::Other(lossy(spec))
    }
}

/// `nstring` as body data: a literal or unescaped quoted string is shared with the frame, an
/// unescaped copy is made only for a quoted string with backslashes.
fn body_data<'a>(frame: &Bytes, i: &'a [u8]) -> PResult<'a, Option<Bytes>> {
    let (rest, data) = nstring(i)?;
    let data = data.map(|d| match d {
        std::borrow::Cow::Borrowed(b) => share(frame, b),
        std::borrow::Cow::Owned(v) => Bytes::from(v),
    });
    Ok((rest, data))
}

/// `"INTERNALDATE" SP date-time`, leniently NIL.
///
/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE` (kept as
/// text; [`InternalDate::timestamp`] interprets it).
fn internal_date(i: &[u8]) -> PResult<'_, Option<InternalDate>> {
    let (rest, d) = nstring(i)?;
    Ok((rest, d.map(|d| InternalDate { raw: lossy(&d) })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::response::Flag;

    fn fetch(wire: &'static [u8]) -> Result<(Fetch, usize), String> {
        let frame = Bytes::from_static(wire);
        let seq = SeqNum::try_from(1u32).map_err(|e| e.to_string())?;
        msg_att(&frame, seq, wire).map(|(rest, f)| (f, rest.len())).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn sync_items() {
        let (f, left) =
            fetch(b"(UID 4827313 FLAGS (\\Seen $Forwarded) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 44827 MODSEQ (12121231000))\r\n")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(left, 2);
        assert_eq!(f.uid.map(Uid::get), Some(4_827_313));
        assert_eq!(f.flags, Some(vec![Flag::Seen, Flag::Keyword("$Forwarded".into())]));
        assert_eq!(f.internal_date, Some(Some(InternalDate { raw: "17-Jul-1996 02:44:25 -0700".into() })));
        assert_eq!(f.rfc822_size, Some(44_827));
        assert_eq!(f.modseq.map(|m| m.get()), Some(12_121_231_000));
        assert!(f.skipped.is_empty());
    }

    #[test]
    fn body_literal_is_a_slice_of_the_frame() {
        let wire: &'static [u8] = b"(UID 7 BODY[] {12}\r\nHello\r\nWorld)\r\n";
        let frame = Bytes::from_static(wire);
        let seq = SeqNum::try_from(3u32).unwrap_or_else(|_| unreachable!());
        let (_, f) = msg_att(&frame, seq, wire).unwrap_or_else(|e| panic!("{e:?}"));
        let body = f.body(&Section::Full).cloned().unwrap_or_default();
        assert_eq!(&body[..], b"Hello\r\nWorld");
        assert_eq!(body.as_ptr(), wire[20..].as_ptr());
    }

    #[test]
    fn body_sections_and_origins() {
        let (f, _) = fetch(b"(BODY[HEADER] {4}\r\nA: b BODY[TEXT]<0> \"hi\" BODY[1.2.MIME] NIL RFC822.HEADER \"x\\\"y\")\r\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.bodies.len(), 4);
        assert_eq!(
            f.bodies[0],
            BodySection { section: Section::Header, origin: None, data: Some(Bytes::from_static(b"A: b")) }
        );
        assert_eq!(
            f.bodies[1],
            BodySection { section: Section::Text, origin: Some(0), data: Some(Bytes::from_static(b"hi")) }
        );
        assert_eq!(
            f.bodies[2],
            BodySection { section: Section::Other("1.2.MIME".into()), origin: None, data: None }
        );
        assert_eq!(f.bodies[3].data.as_deref(), Some(&b"x\"y"[..]));
        let (f, _) =
            fetch(b"(BODY[HEADER.FIELDS (FROM \"X-]\")] {2}\r\nab)\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.bodies[0].section, Section::Other("HEADER.FIELDS (FROM \"X-]\")".into()));
        let (f, _) = fetch(b"(RFC822 {3}\r\nabc UID 9)\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((f.body(&Section::Full).map(|b| b.len()), f.uid.map(Uid::get)), (Some(3), Some(9)));
    }

    #[test]
    fn section_specs() {
        assert_eq!(section(b"[] {"), Ok((&b" {"[..], &b""[..])));
        assert_eq!(section(b"[1.2.MIME]<0>"), Ok((&b"<0>"[..], &b"1.2.MIME"[..])));
        assert_eq!(section(b"[HEADER.FIELDS (\"A]\")] "), Ok((&b" "[..], &b"HEADER.FIELDS (\"A]\")"[..])));
        assert!(matches!(section(b"[HEADER"), Err(nom::Err::Incomplete(_))));
        assert!(matches!(section(b"[HEAD\r\n]"), Err(nom::Err::Error(_))));
        assert!(matches!(section(b"HEADER]"), Err(nom::Err::Error(_))));
        assert_eq!(section_kind(b" header "), Section::Header);
        assert_eq!(section_kind(b"Text"), Section::Text);
        assert_eq!(section_kind(b"1"), Section::Other("1".into()));
    }

    #[test]
    fn internaldate_nil_does_not_panic() {
        let (f, _) = fetch(b"(UID 1 INTERNALDATE NIL)\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.internal_date, Some(None));
    }

    #[test]
    fn unknown_items_are_skipped() {
        let (f, _) = fetch(
            b"(X-GM-MSGID 1278455344230334865 X-GM-LABELS (\\Inbox \"[Gmail]/Sent\") UID 5 ENVELOPE (NIL \"s\" ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92) BINARY[1] ~{2}\r\n\x00\x01 EMAILID (M123))\r\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.uid.map(Uid::get), Some(5));
        assert_eq!(
            f.skipped,
            ["X-GM-MSGID", "X-GM-LABELS", "ENVELOPE", "BODYSTRUCTURE", "BINARY[1]", "EMAILID"]
        );
    }

    #[test]
    fn lenient_spacing() {
        let (f, _) = fetch(b"( UID 5  FLAGS ()  )\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((f.uid.map(Uid::get), f.flags), (Some(5), Some(vec![])));
        let (f, _) = fetch(b"()\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.uid, None);
    }

    #[test]
    fn responses_that_cannot_be_resynchronised_fail() {
        assert!(fetch(b"(UID 5FLAGS ())\r\n").is_err());
        assert!(fetch(b"(BODY[\r\n] NIL)\r\n").is_err());
    }

    /// Each row: a response with one item that breaks the grammar -> the UID, the body and the names of the
    /// malformed items that survive.
    #[test]
    fn a_malformed_item_is_stepped_over_and_the_rest_kept() {
        type Row = (&'static [u8], Option<u32>, Option<&'static [u8]>, &'static [&'static str]);
        let rows: [Row; 12] = [
            (b"(UID 0 BODY[] {2}\r\nab)\r\n", None, Some(b"ab"), &["UID (number must not be 0)"]),
            (b"(UID x BODY[] {2}\r\nab)\r\n", None, Some(b"ab"), &["UID (expected a number)"]),
            (b"(RFC822.SIZE -1 UID 4)\r\n", Some(4), None, &["RFC822.SIZE (expected a number)"]),
            // Zoho: a mod-sequence of 0 or -1.
            (
                b"(UID 7 MODSEQ (0) BODY[] {2}\r\nab)\r\n",
                Some(7),
                Some(b"ab"),
                &["MODSEQ (mod-sequence must not be 0)"],
            ),
            (b"(MODSEQ (-1) UID 7)\r\n", Some(7), None, &["MODSEQ (expected a number)"]),
            (b"(MODSEQ 5 UID 7)\r\n", Some(7), None, &["MODSEQ (unexpected word or character)"]),
            // Domino: items inside a group of their own.
            (
                b"(UID 14935 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) BODY[] {2}\r\nab)\r\n",
                Some(14935),
                Some(b"ab"),
                &["a parenthesised group of items"],
            ),
            (b"((UID 3 FLAGS (\\Seen)))\r\n", Some(3), None, &["a parenthesised group of items"]),
            // Yandex: a section without its value, then the real body.
            (b"(UID 9 BODY[2] BODY[] {2}\r\nab)\r\n", Some(9), Some(b"ab"), &["BODY[2] without a value"]),
            (b"(UID 9 BODY[] abc)\r\n", Some(9), None, &["BODY[] (expected NIL)"]),
            (b"(X-UNKNOWN UID 9 FLAGS ())\r\n", Some(9), None, &["X-UNKNOWN without a value"]),
            (b"(UID 9 FLAGS (\\Seen) UID 10)\r\n", None, None, &["UID given twice with different values"]),
        ];
        for (wire, uid, body, malformed) in rows {
            let text = String::from_utf8_lossy(wire);
            let (f, _) = fetch(wire).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(f.uid.map(Uid::get), uid, "{text}");
            assert_eq!(f.body(&Section::Full).map(|b| &b[..]), body, "{text}");
            assert_eq!(f.malformed, malformed, "{text}");
        }
    }

    /// A well-formed item that comes twice with the same value is not malformed.
    #[test]
    fn a_repeated_uid_with_the_same_value_is_fine() {
        let (f, _) = fetch(b"(UID 9 FLAGS () UID 9)\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((f.uid.map(Uid::get), f.malformed.len()), (Some(9), 0));
    }

    proptest::proptest! {
        /// One garbage item anywhere among valid items: UID, FLAGS, INTERNALDATE and the body survive.
        #[test]
        fn one_garbage_item_never_costs_the_uid_or_the_body(
            at in 0usize..5,
            garbage in proptest::sample::select(vec![
                "MODSEQ (0)", "MODSEQ (-1)", "UID x", "FLAGS \\Seen", "INTERNALDATE 12", "RFC822.SIZE -1",
                "BODY[1] abc", "BODY[2]", "(ENVELOPE NIL)", "X-FOO", "X-BAR (a (b \"c)\") d)", "BINARY[1] {1}\r\nx",
                "RFC822.SIZE", "ENVELOPE", "BODY[HEADER] ((", "MODSEQ (1 2)",
            ]),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            uid in 1u32..1_000_000,
        ) {
            let mut items: Vec<Vec<u8>> = vec![
                format!("UID {uid}").into_bytes(),
                b"FLAGS (\\Seen $Junk)".to_vec(),
                b"INTERNALDATE \"17-Jul-1996 02:44:25 -0700\"".to_vec(),
            ];
            let mut b = format!("BODY[] {{{}}}\r\n", body.len()).into_bytes();
            b.extend_from_slice(&body);
            items.push(b);
            items.insert(at.min(items.len()), garbage.as_bytes().to_vec());
            let mut wire = b"(".to_vec();
            wire.extend(items.join(&b' '));
            wire.extend_from_slice(b")\r\n");
            let frame = Bytes::from(wire.clone());
            let seq = SeqNum::try_from(1u32).unwrap_or_else(|_| unreachable!());
            let parsed = msg_att(&frame, seq, &wire);
            // "BODY[HEADER] ((" cannot be resynchronised: the whole response is refused, never misread.
            if garbage == "BODY[HEADER] ((" {
                proptest::prop_assert!(parsed.is_err());
            } else {
                let (_, f) = parsed.map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
                proptest::prop_assert_eq!(f.uid.map(Uid::get), Some(uid));
                proptest::prop_assert_eq!(f.body(&Section::Full).map(|b| b.to_vec()), Some(body.clone()));
                proptest::prop_assert!(f.flags.is_some());
                proptest::prop_assert!(f.internal_date.is_some());
            }
        }
    }

    #[test]
    fn truncated_items_need_more() {
        let frame = Bytes::from_static(b"");
        let seq = SeqNum::try_from(1u32).unwrap_or_else(|_| unreachable!());
        for wire in [&b"(UID 5"[..], b"(BODY[] {10}\r\nabc", b"(BODY[HEAD", b"(FLAGS (\\Seen"] {
            assert!(matches!(msg_att(&frame, seq, wire), Err(nom::Err::Incomplete(_))), "{wire:?}");
        }
    }
}
