//! The basic IMAP tokens: spaces, line ends, numbers, atoms, strings.
//!
//! Owns: the leaf rules every other parser builds on, with the leniency real servers need (several
//! spaces where one belongs, spaces before the line end, a bare LF as line end, 8-bit bytes in atoms
//! and quoted strings, any character after a backslash in a quoted string).
//!
//! Must never: accept a number that does not fit its type (overflow is an error, not a wrap), or
//! allocate for a string that needs no unescaping (quoted strings are borrowed when possible).
//!
//! RFC 3501 section 9: `SP`, `CRLF`, `number`, `nz-number`, `atom`, `ATOM-CHAR`, `astring`,
//! `ASTRING-CHAR`, `string`, `quoted`, `QUOTED-CHAR`, `literal`, `nstring`, `nil`, `tag`, `text`,
//! `mailbox`; RFC 7162 section 7 `mod-sequence-value`; RFC 9051 `number64`.

use std::borrow::Cow;

use nom::bytes::streaming::{tag, take, take_while, take_while1};
use nom::combinator::opt;
use nom::Parser;

use super::{reject, PResult};

/// `ATOM-CHAR = <any CHAR except atom-specials>`; leniently also 8-bit bytes.
///
/// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials`
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b != 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// A mailbox name character in an unquoted name: ASTRING-CHAR, leniently also the list wildcards.
fn is_mailbox_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// `SP = %x20`, leniently one or more.
pub fn sp(i: &[u8]) -> PResult<'_, ()> {
    take_while1(|b| b == b' ').map(|_| ()).parse(i)
}

/// `CRLF = CR LF`, leniently after trailing spaces, and a bare LF too.
pub fn crlf(i: &[u8]) -> PResult<'_, ()> {
    (take_while(|b| b == b' '), opt(tag("\r")), tag("\n")).map(|_| ()).parse(i)
}

/// `1*DIGIT`, the digits of a number.
fn digits(i: &[u8]) -> PResult<'_, &[u8]> {
    match take_while1(|b: u8| b.is_ascii_digit()).parse(i) {
        Err(nom::Err::Error(_)) => reject(i, "expected a number"),
        other => other,
    }
}

/// The value of a run of ASCII digits, or `None` on overflow.
fn digits_value(d: &[u8]) -> Option<u64> {
    d.iter().try_fold(0u64, |n, &b| n.checked_mul(10)?.checked_add(u64::from(b.wrapping_sub(b'0'))))
}

/// `number = 1*DIGIT` ; unsigned 32-bit
pub fn number(i: &[u8]) -> PResult<'_, u32> {
    let (rest, d) = digits(i)?;
    match digits_value(d).and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok((rest, n)),
        None => reject(i, "number does not fit in 32 bits"),
    }
}

/// `nz-number = digit-nz *DIGIT` ; non-zero unsigned 32-bit
pub fn nz_number(i: &[u8]) -> PResult<'_, std::num::NonZeroU32> {
    let (rest, n) = number(i)?;
    match std::num::NonZeroU32::new(n) {
        Some(n) => Ok((rest, n)),
        None => reject(i, "number must not be 0"),
    }
}

/// `number64 = 1*DIGIT` ; unsigned 63-bit (RFC 9051), also `mod-sequence-valzer` (RFC 7162)
pub fn number64(i: &[u8]) -> PResult<'_, u64> {
    let (rest, d) = digits(i)?;
    match digits_value(d).filter(|&n| n <= crate::types::ModSeq::MAX) {
        Some(n) => Ok((rest, n)),
        None => reject(i, "number does not fit in 63 bits"),
    }
}

/// `mod-sequence-value = 1*DIGIT` ; positive 63-bit (RFC 7162 section 7)
pub fn mod_sequence_value(i: &[u8]) -> PResult<'_, crate::types::ModSeq> {
    let (rest, n) = number64(i)?;
    match crate::types::ModSeq::try_from(n) {
        Ok(m) => Ok((rest, m)),
        Err(_) => reject(i, "mod-sequence must not be 0"),
    }
}

/// `atom = 1*ATOM-CHAR`
pub fn atom(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(is_atom_char).parse(i)
}

/// `nil = "NIL"`, as a whole atom in any case.
pub fn nil(i: &[u8]) -> PResult<'_, ()> {
    let (rest, a) = atom(i)?;
    if a.eq_ignore_ascii_case(b"NIL") {
        Ok((rest, ()))
    } else {
        reject(i, "expected NIL")
    }
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`
///
/// `QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials`; leniently any byte
/// but CR and LF, and a backslash before any character stands for that character.
pub fn quoted(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    let (body, _) = tag("\"").parse(i)?;
    let mut owned: Option<Vec<u8>> = None;
    let mut pos = 0;
    loop {
        let Some(&b) = body.get(pos) else {
            return Err(nom::Err::Incomplete(nom::Needed::new(1)));
        };
        match b {
            b'"' => {
                let rest = body.get(pos + 1..).unwrap_or_default();
                let value = match owned {
                    Some(v) => Cow::Owned(v),
                    None => Cow::Borrowed(body.get(..pos).unwrap_or_default()),
                };
                return Ok((rest, value));
            }
            b'\r' | b'\n' => {
                return reject(body.get(pos..).unwrap_or_default(), "line end inside a quoted string")
            }
            b'\\' => {
                let Some(&next) = body.get(pos + 1) else {
                    return Err(nom::Err::Incomplete(nom::Needed::new(1)));
                };
                if next == b'\r' || next == b'\n' {
                    return reject(body.get(pos..).unwrap_or_default(), "line end inside a quoted string");
                }
                let v = owned.get_or_insert_with(|| body.get(..pos).unwrap_or_default().to_vec());
                v.push(next);
                pos += 2;
            }
            _ => {
                if let Some(v) = owned.as_mut() {
                    v.push(b);
                }
                pos += 1;
            }
        }
    }
}

/// `literal = "{" number64 ["+"] "}" CRLF *CHAR8` ; the number is the count of CHAR8s
///
/// Returns the literal's bytes, borrowed from the input. The line end may be a bare LF, like the
/// framer allows.
pub fn literal(i: &[u8]) -> PResult<'_, &[u8]> {
    let (rest, _) = tag("{").parse(i)?;
    let (rest, d) = digits(rest)?;
    let (rest, _) = (opt(tag("+")), tag("}"), opt(tag("\r")), tag("\n")).parse(rest)?;
    let Some(n) = digits_value(d).and_then(|n| usize::try_from(n).ok()) else {
        return reject(i, "literal size does not fit in memory");
    };
    take(n).parse(rest)
}

/// `string = quoted / literal`
pub fn string(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    match i.first() {
        None => Err(nom::Err::Incomplete(nom::Needed::new(1))),
        Some(b'"') => quoted(i),
        Some(b'{') => literal(i).map(|(rest, l)| (rest, Cow::Borrowed(l))),
        Some(_) => reject(i, "expected a quoted string or a literal"),
    }
}

/// `nstring = string / nil`
pub fn nstring(i: &[u8]) -> PResult<'_, Option<Cow<'_, [u8]>>> {
    match i.first() {
        Some(b'"' | b'{') => string(i).map(|(rest, s)| (rest, Some(s))),
        _ => nil(i).map(|(rest, ())| (rest, None)),
    }
}

/// `astring = 1*ASTRING-CHAR / string`
pub fn astring(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    match i.first() {
        Some(b'"' | b'{') => string(i),
        _ => take_while1(is_astring_char).map(Cow::Borrowed).parse(i),
    }
}

/// `mailbox = "INBOX" / astring` ; leniently `%` and `*` in unquoted names
pub fn mailbox(i: &[u8]) -> PResult<'_, Vec<u8>> {
    match i.first() {
        Some(b'"' | b'{') => string(i).map(|(rest, s)| (rest, s.into_owned())),
        _ => take_while1(is_mailbox_char).map(<[u8]>::to_vec).parse(i),
    }
}

/// `tag = 1*<any ASTRING-CHAR except "+">`
pub fn tag_word(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b| b != b'+' && is_astring_char(b)).parse(i)
}

/// `text = 1*TEXT-CHAR` ; leniently empty and with 8-bit bytes; ends before CR or LF
pub fn text(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while(|b| b != b'\r' && b != b'\n').parse(i)
}

/// `DQUOTE QUOTED-CHAR DQUOTE / nil`: a hierarchy delimiter (LIST, NAMESPACE); leniently `""` for a
/// flat namespace, as NIL.
pub fn delimiter(i: &[u8]) -> PResult<'_, Option<char>> {
    if i.first() != Some(&b'"') {
        return nil(i).map(|(rest, ())| (rest, None));
    }
    let (rest, q) = quoted(i)?;
    match q.as_ref() {
        [c] => Ok((rest, Some(char::from(*c)))),
        [] => Ok((rest, None)),
        _ => reject(i, "delimiter must be one character"),
    }
}

/// Lossy UTF-8 text of a token.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incomplete<T: std::fmt::Debug>(r: PResult<'_, T>) -> bool {
        matches!(r, Err(nom::Err::Incomplete(_)))
    }
    fn error<T: std::fmt::Debug>(r: PResult<'_, T>) -> bool {
        matches!(r, Err(nom::Err::Error(_)))
    }

    #[test]
    fn sp_and_crlf() {
        assert_eq!(sp(b"  x"), Ok((&b"x"[..], ())));
        assert!(error(sp(b"x")));
        assert!(incomplete(sp(b" ")));
        assert_eq!(crlf(b"\r\nrest"), Ok((&b"rest"[..], ())));
        assert_eq!(crlf(b"  \r\n"), Ok((&b""[..], ())));
        assert_eq!(crlf(b"\n"), Ok((&b""[..], ())));
        assert!(error(crlf(b"x\r\n")));
        assert!(incomplete(crlf(b"\r")));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"4294967295 "), Ok((&b" "[..], u32::MAX)));
        assert!(error(number(b"4294967296 ")));
        assert!(error(number(b"x")));
        assert!(incomplete(number(b"12")));
        assert!(error(nz_number(b"0 ")));
        assert_eq!(nz_number(b"007)").map(|(_, n)| n.get()), Ok(7));
        assert_eq!(number64(b"9223372036854775807)").map(|(_, n)| n), Ok(i64::MAX.unsigned_abs()));
        assert!(error(number64(b"9223372036854775808)")));
        assert!(error(number64(b"99999999999999999999999)")));
        assert!(error(mod_sequence_value(b"0)")));
        assert_eq!(mod_sequence_value(b"12345)").map(|(_, m)| m.get()), Ok(12345));
    }

    #[test]
    fn atoms_and_nil() {
        assert_eq!(atom(b"AUTH=PLAIN "), Ok((&b" "[..], &b"AUTH=PLAIN"[..])));
        assert_eq!(atom(b"ab]c"), Ok((&b"]c"[..], &b"ab"[..])));
        assert!(error(atom(b"(x")));
        assert_eq!(nil(b"nil)"), Ok((&b")"[..], ())));
        assert!(error(nil(b"NILS)")));
        assert!(incomplete(nil(b"NIL")));
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(quoted(b"\"abc\" "), Ok((&b" "[..], Cow::Borrowed(&b"abc"[..]))));
        assert_eq!(quoted(b"\"a\\\"b\\\\c\")"), Ok((&b")"[..], Cow::Owned(b"a\"b\\c".to_vec()))));
        assert_eq!(quoted(b"\"\" "), Ok((&b" "[..], Cow::Borrowed(&b""[..]))));
        assert_eq!(quoted("\"Gesendete Elemente \u{e4}\" ".as_bytes()).map(|(_, q)| q.len()), Ok(21));
        assert!(error(quoted(b"\"ab\r\n\"")));
        assert!(error(quoted(b"abc")));
        assert!(incomplete(quoted(b"\"abc")));
        assert!(incomplete(quoted(b"\"abc\\")));
    }

    #[test]
    fn literals() {
        assert_eq!(literal(b"{5}\r\nhello)"), Ok((&b")"[..], &b"hello"[..])));
        assert_eq!(literal(b"{0}\r\n)"), Ok((&b")"[..], &b""[..])));
        assert_eq!(literal(b"{2+}\nab"), Ok((&b""[..], &b"ab"[..])));
        assert!(incomplete(literal(b"{5}\r\nhel")));
        assert!(incomplete(literal(b"{5")));
        assert!(error(literal(b"{x}\r\n")));
        assert!(error(literal(b"{5}x")));
        assert!(error(literal(b"{99999999999999999999999}\r\n")));
    }

    #[test]
    fn strings_and_astrings() {
        assert_eq!(string(b"{3}\r\nabc "), Ok((&b" "[..], Cow::Borrowed(&b"abc"[..]))));
        assert!(error(string(b"abc")));
        assert_eq!(nstring(b"NIL "), Ok((&b" "[..], None)));
        assert_eq!(nstring(b"\"x\" "), Ok((&b" "[..], Some(Cow::Borrowed(&b"x"[..])))));
        assert!(error(nstring(b"abc ")));
        assert_eq!(astring(b"INBOX.Sent] "), Ok((&b" "[..], Cow::Borrowed(&b"INBOX.Sent]"[..]))));
        assert_eq!(astring(b"\"a b\" "), Ok((&b" "[..], Cow::Borrowed(&b"a b"[..]))));
        assert!(error(astring(b"(x")));
        assert_eq!(mailbox(b"Foo* "), Ok((&b" "[..], b"Foo*".to_vec())));
    }

    #[test]
    fn tags_text_and_delimiters() {
        assert_eq!(tag_word(b"A0001 OK"), Ok((&b" OK"[..], &b"A0001"[..])));
        assert!(error(tag_word(b"+ go")));
        assert_eq!(text(b"hello world\r\n"), Ok((&b"\r\n"[..], &b"hello world"[..])));
        assert_eq!(text(b"\r\n"), Ok((&b"\r\n"[..], &b""[..])));
        assert_eq!(delimiter(b"\"/\" "), Ok((&b" "[..], Some('/'))));
        assert_eq!(delimiter(b"\"\\\\\" "), Ok((&b" "[..], Some('\\'))));
        assert_eq!(delimiter(b"NIL "), Ok((&b" "[..], None)));
        assert!(error(delimiter(b"\"ab\" ")));
        assert_eq!(delimiter(b"\"\" "), Ok((&b" "[..], None)));
    }
}
