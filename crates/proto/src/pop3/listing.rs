//! POP3 drop listings: STAT, scan listings (LIST) and unique-id listings (UIDL).
//!
//! Owns: the nom parsers that turn the text of a `+OK` line (STAT, `LIST n`, `UIDL n`) or the lines of
//! a multi-line body (`LIST`, `UIDL`) into [`Stat`], [`ScanListing`] and [`UidlListing`].
//!
//! Must never: convert a number with `as` (message numbers become [`SeqNum`], which refuses 0; sizes
//! that overflow u64 are errors); accept a UIDL that breaks RFC 1939 section 7 (it goes through
//! [`Uidl::new`]).
//!
//! RFC 1939 section 5 (STAT drop listing, LIST scan listing) and section 7 (UIDL unique-id listing).

use nom::bytes::complete::take_while1;
use nom::character::complete::{space0, space1, u32 as dec_u32, u64 as dec_u64};
use nom::combinator::{opt, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::error::{lossy, Pop3Error};
use crate::imap::error::excerpt;
use crate::types::{SeqNum, Uidl};

/// The drop listing of STAT: how many messages, and their total size in octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Number of messages in the maildrop (not counting those marked deleted).
    pub count: u32,
    /// Their total size in octets.
    pub size: u64,
}

/// One scan listing: a message number and its size in octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanListing {
    /// The message number (1-based).
    pub msg: SeqNum,
    /// The size as the server counts it (RFC 1939: with CRLF line ends, before stuffing).
    pub size: u64,
}

/// One unique-id listing: a message number and its UIDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlListing {
    /// The message number (1-based).
    pub msg: SeqNum,
    /// The unique id, stable across sessions.
    pub uidl: Uidl,
}

/// `drop-listing = count SP size [SP text]` (extra text is discouraged but tolerated).
fn drop_listing(i: &[u8]) -> IResult<&[u8], (u32, u64)> {
    let (i, _) = space0(i)?;
    let (i, count) = dec_u32(i)?;
    let (i, size) = preceded(space1, dec_u64).parse(i)?;
    let (i, _) = opt((space1, rest)).parse(i)?;
    let (i, _) = space0(i)?;
    Ok((i, (count, size)))
}

/// `scan-listing = msg SP size [SP text]`.
fn scan_listing(i: &[u8]) -> IResult<&[u8], (u32, u64)> {
    drop_listing(i)
}

/// `unique-id-listing = msg SP uidl`, where the uidl is a run of printable non-space bytes.
fn uidl_listing(i: &[u8]) -> IResult<&[u8], (u32, &[u8])> {
    let (i, _) = space0(i)?;
    let (i, msg) = dec_u32(i)?;
    let (i, uidl) = preceded(space1, take_while1(|b: u8| b > 0x20 && b != 0x7f)).parse(i)?;
    let (i, _) = space0(i)?;
    Ok((i, (msg, uidl)))
}

fn malformed(what: &'static str, line: &[u8]) -> Pop3Error {
    Pop3Error::MalformedListing { what, line: excerpt(line) }
}

fn complete<'a, O>(what: &'static str, line: &'a [u8], parsed: IResult<&'a [u8], O>) -> Result<O, Pop3Error> {
    match parsed {
        Ok(([], out)) => Ok(out),
        _ => Err(malformed(what, line)),
    }
}

/// Parses the text of a `+OK` reply to STAT, e.g. `2 320`.
pub fn parse_stat(text: &str) -> Result<Stat, Pop3Error> {
    let line = text.as_bytes();
    let (count, size) = complete("stat", line, drop_listing(line))?;
    Ok(Stat { count, size })
}

/// Parses one scan listing: the text of a `+OK` reply to `LIST n`, or one line of `LIST`'s body.
pub fn parse_scan_listing(line: &[u8]) -> Result<ScanListing, Pop3Error> {
    let (msg, size) = complete("scan listing", line, scan_listing(line))?;
    let msg = SeqNum::try_from(msg).map_err(|_| malformed("scan listing", line))?;
    Ok(ScanListing { msg, size })
}

/// Parses one unique-id listing: the text of a `+OK` reply to `UIDL n`, or one line of `UIDL`'s body.
pub fn parse_uidl_listing(line: &[u8]) -> Result<UidlListing, Pop3Error> {
    let (msg, uidl) = complete("unique-id listing", line, uidl_listing(line))?;
    let msg = SeqNum::try_from(msg).map_err(|_| malformed("unique-id listing", line))?;
    let uidl =
        Uidl::new(lossy(uidl)).map_err(|source| Pop3Error::InvalidUidl { line: excerpt(line), source })?;
    Ok(UidlListing { msg, uidl })
}

/// The non-blank lines of a multi-line body, without their line ends.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
}

/// Parses the body of `LIST` (no argument).
pub fn parse_scan_listings(body: &[u8]) -> Result<Vec<ScanListing>, Pop3Error> {
    lines(body).map(parse_scan_listing).collect()
}

/// Parses the body of `UIDL` (no argument).
pub fn parse_uidl_listings(body: &[u8]) -> Result<Vec<UidlListing>, Pop3Error> {
    lines(body).map(parse_uidl_listing).collect()
}

/// A multi-line listing read line by line: what parsed, and each line that did not, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lenient<T> {
    /// The lines that parsed, in server order.
    pub listings: Vec<T>,
    /// The lines that did not.
    pub bad: Vec<BadListing>,
}

/// One listing line that does not follow RFC 1939.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadListing {
    /// The message number, when the line starts with one.
    pub msg: Option<SeqNum>,
    /// What is wrong (the error's text, the line escaped and shortened).
    pub error: Pop3Error,
}

/// Parses the body of `UIDL` line by line: one bad line (a UIDL with a space, 1,000 characters, 8-bit or
/// control bytes) costs that line, not the listing.
pub fn parse_uidl_listings_lenient(body: &[u8]) -> Lenient<UidlListing> {
    lenient(body, parse_uidl_listing)
}

/// Parses the body of `LIST` line by line (see [`parse_uidl_listings_lenient`]).
pub fn parse_scan_listings_lenient(body: &[u8]) -> Lenient<ScanListing> {
    lenient(body, parse_scan_listing)
}

fn lenient<T>(body: &[u8], parse: impl Fn(&[u8]) -> Result<T, Pop3Error>) -> Lenient<T> {
    let mut out = Lenient { listings: Vec::new(), bad: Vec::new() };
    for line in lines(body) {
        match parse(line) {
            Ok(l) => out.listings.push(l),
            Err(error) => out.bad.push(BadListing { msg: leading_number(line), error }),
        }
    }
    out
}

/// The message number a listing line starts with, if it starts with one.
fn leading_number(line: &[u8]) -> Option<SeqNum> {
    let (_, (_, n)) = (space0::<_, nom::error::Error<&[u8]>>, dec_u32).parse(line).ok()?;
    SeqNum::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: u32) -> SeqNum {
        match SeqNum::try_from(n) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn uidl(s: &str) -> Uidl {
        match Uidl::new(s) {
            Ok(u) => u,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn stat_rfc1939() {
        assert_eq!(parse_stat("2 320"), Ok(Stat { count: 2, size: 320 }));
        assert_eq!(parse_stat("0 0"), Ok(Stat { count: 0, size: 0 }));
        assert_eq!(parse_stat("3 5000 messages"), Ok(Stat { count: 3, size: 5000 }));
        assert_eq!(parse_stat("1 18446744073709551615"), Ok(Stat { count: 1, size: u64::MAX }));
    }

    #[test]
    fn stat_malformed() {
        for text in ["", "2", "two 320", "2 -1", "4294967296 1", "1 18446744073709551616", "2,320"] {
            assert!(
                matches!(parse_stat(text), Err(Pop3Error::MalformedListing { what: "stat", .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn scan_listings_body() {
        assert_eq!(
            parse_scan_listings(b"1 120\r\n2 200\r\n"),
            Ok(vec![ScanListing { msg: seq(1), size: 120 }, ScanListing { msg: seq(2), size: 200 }])
        );
        assert_eq!(parse_scan_listings(b""), Ok(vec![]));
        assert_eq!(parse_scan_listing(b"2 200"), Ok(ScanListing { msg: seq(2), size: 200 }));
    }

    #[test]
    fn scan_listing_rejects_zero_and_junk() {
        assert!(parse_scan_listing(b"0 120").is_err());
        assert!(parse_scan_listing(b"1").is_err());
        assert!(parse_scan_listings(b"1 120\r\nx y\r\n").is_err());
    }

    #[test]
    fn uidl_listings_body() {
        assert_eq!(
            parse_uidl_listings(b"1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n"),
            Ok(vec![
                UidlListing { msg: seq(1), uidl: uidl("whqtswO00WBw418f9t5JxYwZ") },
                UidlListing { msg: seq(2), uidl: uidl("QhdPYR:00WBw1Ph7x7") },
            ])
        );
        assert_eq!(
            parse_uidl_listing(b"3 000000015f3c2a01"),
            Ok(UidlListing { msg: seq(3), uidl: uidl("000000015f3c2a01") })
        );
    }

    #[test]
    fn lenient_listings_keep_the_good_lines() {
        let long = "x".repeat(1000);
        let body =
            format!("1 good1\r\n2 has space\r\n3 {long}\r\n4 caf\u{e9}\r\n5 a\x01b\r\nsix x\r\n7 good7\r\n");
        let l = parse_uidl_listings_lenient(body.as_bytes());
        assert_eq!(
            l.listings,
            vec![
                UidlListing { msg: seq(1), uidl: uidl("good1") },
                UidlListing { msg: seq(7), uidl: uidl("good7") }
            ]
        );
        let msgs: Vec<Option<u32>> = l.bad.iter().map(|b| b.msg.map(SeqNum::get)).collect();
        assert_eq!(msgs, vec![Some(2), Some(3), Some(4), Some(5), None]);
        let scan = parse_scan_listings_lenient(b"1 100\r\n2 lots\r\n3 300\r\n");
        assert_eq!(scan.listings.len(), 2);
        assert_eq!(scan.bad.iter().map(|b| b.msg.map(SeqNum::get)).collect::<Vec<_>>(), vec![Some(2)]);
    }

    #[test]
    fn uidl_listing_validates_the_uidl() {
        let long = format!("1 {}", "x".repeat(71));
        assert!(matches!(parse_uidl_listing(long.as_bytes()), Err(Pop3Error::InvalidUidl { .. })));
        assert!(matches!(parse_uidl_listing(b"1 caf\xc3\xa9"), Err(Pop3Error::InvalidUidl { .. })));
        assert!(matches!(parse_uidl_listing(b"1 a b"), Err(Pop3Error::MalformedListing { .. })));
        assert!(matches!(parse_uidl_listing(b"1"), Err(Pop3Error::MalformedListing { .. })));
        assert!(matches!(parse_uidl_listing(b"0 abc"), Err(Pop3Error::MalformedListing { .. })));
        assert!(matches!(parse_uidl_listing(b"1 a\x00b"), Err(Pop3Error::MalformedListing { .. })));
    }
}
