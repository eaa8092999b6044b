//! IMAP sequence sets: the `1:500,502,600:*` notation for sets of UIDs or message numbers.
//!
//! Owns [`SequenceSet`]: building compact sets from UIDs for commands, parsing the sets servers send
//! (VANISHED, ESEARCH `ALL`, COPYUID), membership tests, bounded expansion, and splitting a large set
//! into batches.
//!
//! Must never: expand a set into more numbers than the caller's limit (a hostile `1:4294967295` is four
//! billion numbers), panic on any input, or write a number that is not an `nz-number` (0 is not sent).
//!
//! Implements RFC 3501 section 9 (`sequence-set`, `seq-range`, `seq-number`, `nz-number`) and the
//! meaning of `*` and reversed ranges from RFC 3501 section 6.4.8 and section 9 ("2:4 and 4:2 are
//! equivalent").

use std::fmt;

use crate::types::Uid;

/// A sequence set that could not be parsed or expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeqSetError {
    /// The server sent nothing where a sequence set belongs.
    #[error("empty sequence set")]
    Empty,
    /// The server sent something that is not `sequence-set` syntax.
    #[error("malformed sequence set at byte {offset}: {reason}")]
    Syntax {
        /// Offset of the offending byte in the text given to [`SequenceSet::parse`].
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// The server sent 0 or a number above 4294967295.
    #[error("sequence number at byte {offset} is out of range (must be 1 to 4294967295)")]
    OutOfRange {
        /// Offset of the number in the text given to [`SequenceSet::parse`].
        offset: usize,
    },
    /// Expanding the set would produce more numbers than the caller allowed.
    #[error("sequence set expands to {count} numbers, more than the limit of {limit}")]
    TooLarge {
        /// How many numbers the set holds.
        count: u64,
        /// The caller's limit.
        limit: usize,
    },
}

/// One end of a range: a number (never 0) or `*`, the largest number in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bound {
    Num(u32),
    Star,
}

impl Bound {
    /// The number this bound stands for, or `None` for `*` in an empty mailbox (`star == 0`).
    fn resolve(self, star: u32) -> Option<u32> {
        match self {
            Bound::Num(n) => Some(n),
            Bound::Star if star == 0 => None,
            Bound::Star => Some(star),
        }
    }

    /// A bound from a caller's number; 0 is not an `nz-number`, so it becomes 1.
    fn clamped(n: u32) -> Bound {
        Bound::Num(n.max(1))
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Num(n) => write!(f, "{n}"),
            Bound::Star => f.write_str("*"),
        }
    }
}

/// One comma-separated element: a single number when `first == last`, else a range in either order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Item {
    first: Bound,
    last: Bound,
}

impl Item {
    /// The inclusive span `(low, high)` this element covers, or `None` when it covers nothing.
    fn span(self, star: u32) -> Option<(u32, u32)> {
        let a = self.first.resolve(star)?;
        let b = self.last.resolve(star)?;
        Some((a.min(b), a.max(b)))
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}:{}", self.first, self.last)
        }
    }
}

/// A non-empty IMAP `sequence-set` (RFC 3501 section 9), kept in the order it was built or sent.
///
/// `*` is kept as such; the methods that need a number for it take `star`, the largest number in use
/// (the highest UID or the message count). A `star` of 0 means the mailbox is empty: `*` then stands
/// for nothing, and any element with a `*` end covers no number.
///
/// `Display` gives the wire form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet {
    /// Never empty.
    items: Vec<Item>,
}

impl SequenceSet {
    /// The compact set of `uids`: sorted, duplicates removed, runs written as ranges
    /// (`1:500,502,600:650`). `None` when `uids` is empty, since IMAP has no empty set.
    pub fn from_uids<I: IntoIterator<Item = Uid>>(uids: I) -> Option<SequenceSet> {
        let mut numbers: Vec<u32> = uids.into_iter().map(Uid::get).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let mut items: Vec<Item> = Vec::new();
        let mut run: Option<(u32, u32)> = None;
        for n in numbers {
            run = match run {
                Some((lo, hi)) if hi.checked_add(1) == Some(n) => Some((lo, n)),
                Some((lo, hi)) => {
                    items.push(Item { first: Bound::Num(lo), last: Bound::Num(hi) });
                    Some((n, n))
                }
                None => Some((n, n)),
            };
        }
        let (lo, hi) = run?;
        items.push(Item { first: Bound::Num(lo), last: Bound::Num(hi) });
        Some(SequenceSet { items })
    }

    /// `start:*`: everything from `start` to the largest number in use. A `start` of 0 is sent as 1.
    pub fn range_from(start: u32) -> SequenceSet {
        SequenceSet { items: vec![Item { first: Bound::clamped(start), last: Bound::Star }] }
    }

    /// `start:end` (written `start` alone when both are equal). 0 is sent as 1.
    pub fn range(start: u32, end: u32) -> SequenceSet {
        SequenceSet { items: vec![Item { first: Bound::clamped(start), last: Bound::clamped(end) }] }
    }

    /// `1:*`: every message.
    pub fn all() -> SequenceSet {
        SequenceSet::range_from(1)
    }

    /// Parses a set as a server sends it, e.g. the `known-uids` of a VANISHED response or ESEARCH `ALL`.
    ///
    /// ```text
    /// sequence-set = (seq-number / seq-range) ["," sequence-set]
    /// seq-range    = seq-number ":" seq-number
    /// seq-number   = nz-number / "*"
    /// nz-number    = digit-nz *DIGIT
    /// ```
    ///
    /// Lenient only in accepting leading zeros (`007`); strict otherwise: no spaces, no empty elements,
    /// no 0, nothing above 4294967295.
    pub fn parse(text: &[u8]) -> Result<SequenceSet, SeqSetError> {
        if text.is_empty() {
            return Err(SeqSetError::Empty);
        }
        let mut items = Vec::new();
        let mut offset = 0;
        for element in text.split(|&b| b == b',') {
            items.push(parse_item(element, offset)?);
            offset += element.len() + 1;
        }
        Ok(SequenceSet { items })
    }

    /// Whether `n` is in the set, with `*` standing for `star`. Reversed ranges count as ascending.
    pub fn contains(&self, n: u32, star: u32) -> bool {
        self.items.iter().filter_map(|item| item.span(star)).any(|(lo, hi)| (lo..=hi).contains(&n))
    }

    /// Every number in the set, ascending and without duplicates, with `*` standing for `star`.
    ///
    /// Fails with [`SeqSetError::TooLarge`] before producing anything if the set holds more than `limit`
    /// numbers. Memory use is proportional to the number of elements, not to the numbers they cover.
    pub fn iter(&self, star: u32, limit: usize) -> Result<impl Iterator<Item = u32>, SeqSetError> {
        let spans = self.merged_spans(star);
        let count: u64 = spans.iter().map(|&(lo, hi)| span_len(lo, hi)).sum();
        if u64::try_from(limit).is_ok_and(|limit| count > limit) {
            return Err(SeqSetError::TooLarge { count, limit });
        }
        Ok(spans.into_iter().flat_map(|(lo, hi)| lo..=hi))
    }

    /// Splits the set into sets of at most `max_per_chunk` numbers each, ascending and without
    /// duplicates, for batched `UID FETCH`. `*` is resolved with `star`, so the chunks hold numbers only.
    /// A `max_per_chunk` of 0 is taken as 1.
    ///
    /// Lazy: a huge set yields its chunks one by one, never all at once.
    pub fn chunks_by_count(&self, star: u32, max_per_chunk: usize) -> impl Iterator<Item = SequenceSet> {
        Chunks {
            spans: self.merged_spans(star),
            index: 0,
            cursor: None,
            max: u64::try_from(max_per_chunk.max(1)).unwrap_or(u64::MAX),
        }
    }

    /// The spans the set covers, resolved with `star`, sorted, with overlapping and touching spans merged.
    fn merged_spans(&self, star: u32) -> Vec<(u32, u32)> {
        let mut spans: Vec<(u32, u32)> = self.items.iter().filter_map(|item| item.span(star)).collect();
        spans.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
        for (lo, hi) in spans {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        merged
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

/// How many numbers `lo..=hi` holds (`lo <= hi`).
fn span_len(lo: u32, hi: u32) -> u64 {
    u64::from(hi) - u64::from(lo) + 1
}

/// `seq-number / seq-range`, starting at `offset` in the whole text.
fn parse_item(element: &[u8], offset: usize) -> Result<Item, SeqSetError> {
    if element.is_empty() {
        return Err(SeqSetError::Syntax { offset, reason: "empty element" });
    }
    let mut parts = element.splitn(2, |&b| b == b':');
    let first_text = parts.next().unwrap_or_default();
    let first = parse_bound(first_text, offset)?;
    let last = match parts.next() {
        Some(last_text) => parse_bound(last_text, offset + first_text.len() + 1)?,
        None => first,
    };
    Ok(Item { first, last })
}

/// `seq-number = nz-number / "*"`, starting at `offset` in the whole text.
fn parse_bound(text: &[u8], offset: usize) -> Result<Bound, SeqSetError> {
    match text {
        [] => Err(SeqSetError::Syntax { offset, reason: "expected a number or '*'" }),
        b"*" => Ok(Bound::Star),
        _ => {
            let mut value: u32 = 0;
            for (i, &b) in text.iter().enumerate() {
                if !b.is_ascii_digit() {
                    return Err(SeqSetError::Syntax { offset: offset + i, reason: "expected a digit" });
                }
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u32::from(b - b'0')))
                    .ok_or(SeqSetError::OutOfRange { offset })?;
            }
            if value == 0 {
                return Err(SeqSetError::OutOfRange { offset });
            }
            Ok(Bound::Num(value))
        }
    }
}

/// The iterator behind [`SequenceSet::chunks_by_count`].
#[derive(Debug)]
struct Chunks {
    /// Sorted, disjoint, non-touching spans.
    spans: Vec<(u32, u32)>,
    /// The span the next chunk starts in.
    index: usize,
    /// Where in that span the next chunk starts, when not at its beginning.
    cursor: Option<u32>,
    /// Numbers per chunk, at least 1.
    max: u64,
}

impl Iterator for Chunks {
    type Item = SequenceSet;

    fn next(&mut self) -> Option<SequenceSet> {
        let mut items = Vec::new();
        let mut room = self.max;
        while room > 0 {
            let Some(&(span_lo, hi)) = self.spans.get(self.index) else { break };
            let lo = self.cursor.unwrap_or(span_lo);
            let take = span_len(lo, hi).min(room);
            // `take - 1 <= hi - lo`, so the end stays within `lo..=hi`.
            let end = u32::try_from(u64::from(lo) + take - 1).unwrap_or(hi);
            items.push(Item { first: Bound::Num(lo), last: Bound::Num(end) });
            room -= take;
            if end >= hi {
                self.index += 1;
                self.cursor = None;
            } else {
                self.cursor = end.checked_add(1);
            }
        }
        if items.is_empty() {
            None
        } else {
            Some(SequenceSet { items })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uids(numbers: &[u32]) -> Vec<Uid> {
        numbers.iter().filter_map(|&n| Uid::try_from(n).ok()).collect()
    }

    fn wire(set: &SequenceSet) -> Vec<u8> {
        set.to_string().into_bytes()
    }

    fn parsed(text: &[u8]) -> SequenceSet {
        match SequenceSet::parse(text) {
            Ok(set) => set,
            Err(e) => panic!("{:?} should parse: {e}", String::from_utf8_lossy(text)),
        }
    }

    fn expand(set: &SequenceSet, star: u32) -> Vec<u32> {
        match set.iter(star, 1_000_000) {
            Ok(it) => it.collect(),
            Err(e) => panic!("{set} should expand: {e}"),
        }
    }

    #[test]
    fn from_uids_compacts_runs() {
        let big: Vec<u32> = (1..=500).chain([502]).chain(600..=650).collect();
        let table: &[(&[u32], &[u8])] = &[
            (&[5], b"5"),
            (&[3, 1, 2], b"1:3"),
            (&[1, 2], b"1:2"),
            (&[1, 3], b"1,3"),
            (&[7, 7, 7], b"7"),
            (&[9, 1, 2, 2, 3, 5, 8, 7], b"1:3,5,7:9"),
            (&big, b"1:500,502,600:650"),
            (&[u32::MAX, 1], b"1,4294967295"),
            (&[u32::MAX, u32::MAX - 1], b"4294967294:4294967295"),
        ];
        for &(input, expected) in table {
            let set = SequenceSet::from_uids(uids(input));
            assert_eq!(set.as_ref().map(wire).as_deref(), Some(expected), "input {input:?}");
        }
    }

    #[test]
    fn from_uids_of_nothing_is_none() {
        assert_eq!(SequenceSet::from_uids(Vec::new()), None);
    }

    #[test]
    fn constructors_write_the_wire_form() {
        assert_eq!(wire(&SequenceSet::range_from(5)), b"5:*");
        assert_eq!(wire(&SequenceSet::range(2, 4)), b"2:4");
        assert_eq!(wire(&SequenceSet::range(4, 2)), b"4:2");
        assert_eq!(wire(&SequenceSet::range(3, 3)), b"3");
        assert_eq!(wire(&SequenceSet::all()), b"1:*");
    }

    #[test]
    fn constructors_never_write_zero() {
        assert_eq!(wire(&SequenceSet::range_from(0)), b"1:*");
        assert_eq!(wire(&SequenceSet::range(0, 5)), b"1:5");
        assert_eq!(wire(&SequenceSet::range(0, 0)), b"1");
    }

    #[test]
    fn parse_accepts_what_servers_send() {
        let table: &[(&[u8], &[u8])] = &[
            (b"1", b"1"),
            (b"*", b"*"),
            (b"1:*", b"1:*"),
            (b"*:4", b"*:4"),
            (b"4:2", b"4:2"),
            (b"3:3", b"3"),
            (b"41,43:116,118,120:211,214:540", b"41,43:116,118,120:211,214:540"),
            (b"4294967295", b"4294967295"),
            (b"007:010", b"7:10"),
        ];
        for &(input, expected) in table {
            assert_eq!(wire(&parsed(input)), expected, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn parse_rejects_malformed_sets() {
        use SeqSetError::*;
        let syntax = |offset, reason| Syntax { offset, reason };
        let table: &[(&[u8], SeqSetError)] = &[
            (b"", Empty),
            (b",", syntax(0, "empty element")),
            (b"1,", syntax(2, "empty element")),
            (b"1,,2", syntax(2, "empty element")),
            (b":2", syntax(0, "expected a number or '*'")),
            (b"1:", syntax(2, "expected a number or '*'")),
            (b"1::2", syntax(2, "expected a digit")),
            (b"1:2:3", syntax(3, "expected a digit")),
            (b"a", syntax(0, "expected a digit")),
            (b"12x", syntax(2, "expected a digit")),
            (b" 1", syntax(0, "expected a digit")),
            (b"1 ", syntax(1, "expected a digit")),
            (b"-1", syntax(0, "expected a digit")),
            (b"**", syntax(0, "expected a digit")),
            (b"0", OutOfRange { offset: 0 }),
            (b"5,1:0", OutOfRange { offset: 4 }),
            (b"4294967296", OutOfRange { offset: 0 }),
            (b"1:99999999999999999999", OutOfRange { offset: 2 }),
        ];
        for (input, expected) in table {
            assert_eq!(
                SequenceSet::parse(input).as_ref(),
                Err(expected),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn parse_error_messages_are_lowercase_with_context() {
        let e = SequenceSet::parse(b"1,x").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("malformed sequence set at byte 2: expected a digit"));
    }

    #[test]
    fn contains_follows_rfc3501_ranges() {
        let set = parsed(b"2:4");
        let got: Vec<bool> = (1..=5).map(|n| set.contains(n, 100)).collect();
        assert_eq!(got, [false, true, true, true, false]);
        // "2:4 and 4:2 are equivalent" (RFC 3501 section 9).
        let set = parsed(b"4:2");
        let got: Vec<bool> = (1..=5).map(|n| set.contains(n, 100)).collect();
        assert_eq!(got, [false, true, true, true, false]);
        // "559:*" includes the last UID even when 559 is higher (RFC 3501 section 6.4.8).
        let set = parsed(b"559:*");
        assert!(set.contains(100, 100));
        assert!(set.contains(559, 100));
        assert!(!set.contains(99, 100));
        assert!(!set.contains(560, 100));
        let set = parsed(b"1,*");
        assert!(set.contains(7, 7));
        assert!(!set.contains(6, 7));
    }

    #[test]
    fn star_covers_nothing_in_an_empty_mailbox() {
        let set = parsed(b"1:*");
        assert!(!set.contains(1, 0));
        assert_eq!(expand(&set, 0), Vec::<u32>::new());
        assert_eq!(expand(&parsed(b"3,5:*"), 0), [3]);
    }

    #[test]
    fn iter_is_sorted_and_deduplicated() {
        assert_eq!(expand(&parsed(b"9,1:3,2:5"), 0), [1, 2, 3, 4, 5, 9]);
        assert_eq!(expand(&parsed(b"5:*"), 3), [3, 4, 5]);
        assert_eq!(expand(&parsed(b"*,1"), 4), [1, 4]);
        assert_eq!(expand(&parsed(b"4294967294:*"), u32::MAX), [4294967294, 4294967295]);
    }

    #[test]
    fn iter_refuses_to_expand_past_the_limit() {
        let hostile = parsed(b"1:4294967295");
        assert_eq!(
            hostile.iter(0, 1000).map(|it| it.count()),
            Err(SeqSetError::TooLarge { count: 4_294_967_295, limit: 1000 })
        );
        // Overlaps are counted once, so the limit is about distinct numbers.
        let set = parsed(b"1:10,1:10,5");
        assert_eq!(set.iter(0, 10).map(|it| it.count()), Ok(10));
        assert_eq!(set.iter(0, 9).map(|it| it.count()), Err(SeqSetError::TooLarge { count: 10, limit: 9 }));
        assert_eq!(parsed(b"1:*").iter(50, 49).map(|it| it.count()).ok(), None);
    }

    #[test]
    fn chunks_split_by_count() {
        /// (set, star, max per chunk, expected chunks)
        type Case = (&'static [u8], u32, usize, &'static [&'static [u8]]);
        let table: &[Case] = &[
            (b"1:10", 0, 3, &[b"1:3", b"4:6", b"7:9", b"10"]),
            (b"1:10", 0, 10, &[b"1:10"]),
            (b"1:10", 0, 100, &[b"1:10"]),
            (b"1:3,7:8,20", 0, 4, &[b"1:3,7", b"8,20"]),
            (b"20,8,7,1:3", 0, 2, &[b"1:2", b"3,7", b"8,20"]),
            (b"5:*", 8, 2, &[b"5:6", b"7:8"]),
            (b"1:*", 0, 2, &[]),
            (b"1:3", 0, 0, &[b"1", b"2", b"3"]),
            (b"4294967294:4294967295", 0, 1, &[b"4294967294", b"4294967295"]),
        ];
        for &(input, star, max, expected) in table {
            let got: Vec<Vec<u8>> = parsed(input).chunks_by_count(star, max).map(|s| wire(&s)).collect();
            let expected: Vec<Vec<u8>> = expected.iter().map(|c| c.to_vec()).collect();
            assert_eq!(got, expected, "input {:?} max {max}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn chunks_of_a_huge_set_are_lazy() {
        let got: Vec<Vec<u8>> =
            parsed(b"1:4294967295").chunks_by_count(0, 1000).take(2).map(|s| wire(&s)).collect();
        assert_eq!(got, [b"1:1000".to_vec(), b"1001:2000".to_vec()]);
    }

    proptest! {
        #[test]
        fn from_uids_round_trips_through_parse(numbers in proptest::collection::vec(1u32.., 0..200)) {
            let mut expected = numbers.clone();
            expected.sort_unstable();
            expected.dedup();
            let set = SequenceSet::from_uids(uids(&numbers));
            prop_assert_eq!(set.is_none(), expected.is_empty());
            if let Some(set) = set {
                let reparsed = SequenceSet::parse(set.to_string().as_bytes());
                prop_assert_eq!(reparsed.as_ref(), Ok(&set));
                let got: Vec<u32> = reparsed.and_then(|s| s.iter(0, 1000)).map(|it| it.collect()).unwrap_or_default();
                prop_assert_eq!(got, expected);
            }
        }

        #[test]
        fn chunks_cover_the_set_exactly(numbers in proptest::collection::vec(1u32..300, 1..100), max in 1usize..20) {
            let Some(set) = SequenceSet::from_uids(uids(&numbers)) else { return Ok(()) };
            let whole = expand(&set, 0);
            let mut joined = Vec::new();
            for chunk in set.chunks_by_count(0, max) {
                let part = expand(&chunk, 0);
                prop_assert!(!part.is_empty() && part.len() <= max);
                joined.extend(part);
            }
            prop_assert_eq!(joined, whole);
        }

        #[test]
        fn parse_never_panics(text in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(set) = SequenceSet::parse(&text) {
                let _ = set.iter(10, 100).map(|it| it.count());
                prop_assert_eq!(SequenceSet::parse(set.to_string().as_bytes()).ok(), Some(set));
            }
        }
    }
}
