//! SEARCH, ESEARCH and VANISHED data, and sequence sets as servers send them.
//!
//! Owns: the number lists and sets the sync planner consumes: `SEARCH` (with the CONDSTORE
//! `(MODSEQ n)` tail), `ESEARCH` (MIN, MAX, COUNT, ALL, MODSEQ; other return data skipped), and
//! `VANISHED` / `VANISHED (EARLIER)`.
//!
//! Must never: expand a sequence set (they stay [`SequenceSet`]s; a hostile `1:4294967295` costs
//! nothing here); accept 0 where an nz-number belongs.
//!
//! RFC 3501 section 7.2.5 and 9 (`mailbox-data =/ "SEARCH" *(SP nz-number)`, `sequence-set`);
//! RFC 7162 section 3.1.5 (`search-sort-mod-seq`) and 3.2.10 (`expunged-resp`); RFC 4731 section 3
//! (`esearch-response`, `search-correlator`, `search-return-data`).

use nom::bytes::streaming::{tag, tag_no_case, take_while, take_while1};
use nom::combinator::opt;
use nom::Parser;

use super::core::{atom, lossy, mod_sequence_value, number, nz_number, quoted, sp};
use super::skip::skip_value;
use super::{reject, PResult};
use crate::imap::response::{ESearch, Search, Vanished};
use crate::imap::seqset::SequenceSet;

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`, as a [`SequenceSet`].
pub fn sequence_set(i: &[u8]) -> PResult<'_, SequenceSet> {
    let (rest, set) = take_while1(|b: u8| b.is_ascii_digit() || matches!(b, b':' | b',' | b'*')).parse(i)?;
    match SequenceSet::parse(set) {
        Ok(s) => Ok((rest, s)),
        Err(_) => reject(i, "malformed sequence set"),
    }
}

/// `"(" "MODSEQ" SP mod-sequence-value ")"` (RFC 7162 `search-sort-mod-seq`).
fn search_sort_mod_seq(i: &[u8]) -> PResult<'_, crate::types::ModSeq> {
    (tag("("), tag_no_case("MODSEQ"), sp, mod_sequence_value, tag(")")).map(|(_, _, _, m, _)| m).parse(i)
}

/// After the keyword: `*(SP nz-number) [SP search-sort-mod-seq]`; leniently trailing spaces.
pub fn search_data(i: &[u8]) -> PResult<'_, Search> {
    let mut out = Search::default();
    let mut rest = i;
    loop {
        let Ok((r, _)) = sp(rest) else {
            return Ok((rest, out));
        };
        match r.first() {
            Some(b) if b.is_ascii_digit() => {
                let (r, n) = nz_number(r)?;
                out.numbers.push(n);
                rest = r;
            }
            Some(b'(') => {
                let (r, m) = search_sort_mod_seq(r)?;
                out.modseq = Some(m);
                return Ok((r, out));
            }
            None => return Err(nom::Err::Incomplete(nom::Needed::new(1))),
            // Trailing spaces before the line end; `crlf` takes them.
            Some(_) => return Ok((rest, out)),
        }
    }
}

/// After the keyword: `[search-correlator] [SP "UID"] *(SP search-return-data)`
///
/// ```text
/// search-correlator  = SP "(" "TAG" SP tag-string ")"
/// search-return-data = "MIN" SP nz-number / "MAX" SP nz-number / "ALL" SP sequence-set /
///                      "COUNT" SP number / "MODSEQ" SP mod-sequence-value /
///                      search-modifier-name SP search-return-value
/// ```
pub fn esearch_data(i: &[u8]) -> PResult<'_, ESearch> {
    let mut out = ESearch::default();
    let (mut rest, correlator) = opt((sp, tag("("), tag_no_case("TAG"), sp, quoted, tag(")"))).parse(i)?;
    if let Some((_, _, _, _, t, _)) = correlator {
        out.tag = Some(lossy(&t));
    }
    loop {
        let Ok((r, _)) = sp(rest) else {
            return Ok((rest, out));
        };
        let (r, name) = match atom(r) {
            Ok(x) => x,
            Err(nom::Err::Incomplete(n)) => return Err(nom::Err::Incomplete(n)),
            Err(_) => return Ok((rest, out)),
        };
        let upper = name.to_ascii_uppercase();
        if upper == b"UID" {
            out.uid = true;
            rest = r;
            continue;
        }
        let (r, _) = sp(r)?;
        rest = match upper.as_slice() {
            b"MIN" => nz_number.map(|n| out.min = Some(n)).parse(r)?.0,
            b"MAX" => nz_number.map(|n| out.max = Some(n)).parse(r)?.0,
            b"COUNT" => number.map(|n| out.count = Some(n)).parse(r)?.0,
            b"ALL" => sequence_set.map(|s| out.all = Some(s)).parse(r)?.0,
            b"MODSEQ" => mod_sequence_value.map(|m| out.modseq = Some(m)).parse(r)?.0,
            _ => {
                out.skipped.push(lossy(&upper));
                skip_value(r)?.0
            }
        };
    }
}

/// After the keyword: `SP ["(EARLIER)" SP] known-uids` (RFC 7162 `expunged-resp`).
pub fn vanished_data(i: &[u8]) -> PResult<'_, Vanished> {
    let (rest, _) = sp(i)?;
    let (rest, earlier) =
        opt((tag("("), tag_no_case("EARLIER"), tag(")"), sp)).map(|e| e.is_some()).parse(rest)?;
    let (rest, uids) = sequence_set(rest)?;
    let (rest, _) = take_while(|b| b == b' ').parse(rest)?;
    Ok((rest, Vanished { earlier, uids }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(s: &Search) -> Vec<u32> {
        s.numbers.iter().map(|n| n.get()).collect()
    }

    #[test]
    fn sequence_sets() {
        assert_eq!(
            sequence_set(b"1:3,5,9:* ").map(|(r, s)| (r, s.to_string())),
            Ok((&b" "[..], "1:3,5,9:*".into()))
        );
        assert!(matches!(sequence_set(b"0 "), Err(nom::Err::Error(_))));
        assert!(matches!(sequence_set(b"1,,2 "), Err(nom::Err::Error(_))));
        assert!(matches!(sequence_set(b"1:3"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn search_forms() {
        let (rest, s) = search_data(b" 2 84 882\r\n").unwrap_or_default();
        assert_eq!((rest, nums(&s), s.modseq), (&b"\r\n"[..], vec![2, 84, 882], None));
        let (rest, s) = search_data(b"\r\n").unwrap_or_default();
        assert_eq!((rest, nums(&s)), (&b"\r\n"[..], vec![]));
        let (rest, s) = search_data(b" \r\n").unwrap_or_default();
        assert_eq!((rest, nums(&s)), (&b" \r\n"[..], vec![]));
        let (rest, s) = search_data(b" 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n").unwrap_or_default();
        assert_eq!(rest, b"\r\n");
        assert_eq!(nums(&s).len(), 10);
        assert_eq!(s.modseq.map(|m| m.get()), Some(917_162_500));
        assert!(matches!(search_data(b" 1 0\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(search_data(b" 1 2"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn esearch_forms() {
        let (rest, e) = esearch_data(b" (TAG \"A285\") UID MIN 7 MAX 3800\r\n").unwrap_or_default();
        assert_eq!(rest, b"\r\n");
        assert_eq!(e.tag.as_deref(), Some("A285"));
        assert!(e.uid);
        assert_eq!((e.min.map(|n| n.get()), e.max.map(|n| n.get())), (Some(7), Some(3800)));
        let (_, e) =
            esearch_data(b" (TAG \"A284\") ALL 4:18,21,28 COUNT 17 MODSEQ 1236\r\n").unwrap_or_default();
        assert_eq!(e.all.map(|s| s.to_string()), Some("4:18,21,28".into()));
        assert_eq!(e.count, Some(17));
        assert_eq!(e.modseq.map(|m| m.get()), Some(1236));
        assert!(!e.uid);
        let (_, e) = esearch_data(b" (TAG \"A1\") UID PARTIAL (1:10 1,5) COUNT 2\r\n").unwrap_or_default();
        assert_eq!((e.skipped, e.count), (vec!["PARTIAL".to_owned()], Some(2)));
        let (rest, e) = esearch_data(b"\r\n").unwrap_or_default();
        assert_eq!((rest, e.tag), (&b"\r\n"[..], None));
        assert!(matches!(esearch_data(b" MIN 0\r\n"), Err(nom::Err::Error(_))));
    }

    #[test]
    fn vanished_forms() {
        let (rest, v) = vanished_data(b" (EARLIER) 41,43:116,118,120:211,214:540\r\n")
            .unwrap_or_else(|_| (&b""[..], Vanished { earlier: false, uids: SequenceSet::all() }));
        assert_eq!(
            (rest, v.earlier, v.uids.to_string()),
            (&b"\r\n"[..], true, "41,43:116,118,120:211,214:540".into())
        );
        let (_, v) = vanished_data(b" 405,407\r\n")
            .unwrap_or_else(|_| (&b""[..], Vanished { earlier: true, uids: SequenceSet::all() }));
        assert_eq!((v.earlier, v.uids.to_string()), (false, "405,407".into()));
        assert!(matches!(vanished_data(b" (EARLIER)\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(vanished_data(b" 0:3\r\n"), Err(nom::Err::Error(_))));
    }
}
