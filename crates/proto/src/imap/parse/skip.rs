//! The balanced scan: skipping a value nobody parses, whatever its shape.
//!
//! Owns: stepping over one IMAP value (an atom, a number, NIL, a quoted string, a literal or
//! literal8, or a parenthesised list of those, nested) without interpreting it, so unknown FETCH
//! items (ENVELOPE, BODYSTRUCTURE, X-GM-LABELS, ...), STATUS items and return data are skipped
//! instead of failing the response.
//!
//! Must never: recurse (the scan is a loop with a depth counter) or accept nesting deeper than
//! [`MAX_DEPTH`]; step into literal data looking for parentheses (literals are skipped by length);
//! run past the end of the line outside a literal.
//!
//! RFC 3501 section 4 (data formats) and section 9 (`body`, `envelope`, `string`, `literal`);
//! RFC 3516 section 4.3 (`literal8`).

use nom::bytes::streaming::take;
use nom::Parser;

use super::core::{is_astring_char, literal, quoted};
use super::{reject, PResult, MAX_DEPTH};

/// Skips one value and returns the bytes it covered.
///
/// ```text
/// value = atom / number / nil / string / literal8 / "(" [value *(SP value)] ")"
/// literal8 = "~{" number64 "}" CRLF *OCTET
/// ```
///
/// Lenient inside lists: any spacing, and `[`/`]` and other astring characters in atoms. A list
/// deeper than [`MAX_DEPTH`] is an error.
pub fn skip_value(i: &[u8]) -> PResult<'_, &[u8]> {
    let mut depth = 0usize;
    let mut rest = i;
    loop {
        let Some(&b) = rest.first() else {
            return Err(nom::Err::Incomplete(nom::Needed::new(1)));
        };
        rest = match b {
            b'(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return reject(rest, "lists nested too deeply");
                }
                rest.get(1..).unwrap_or_default()
            }
            b')' if depth > 0 => {
                depth -= 1;
                rest.get(1..).unwrap_or_default()
            }
            b')' => return reject(rest, "unbalanced closing parenthesis"),
            b' ' if depth > 0 => rest.get(1..).unwrap_or_default(),
            b'"' => quoted(rest)?.0,
            b'{' => literal(rest)?.0,
            b'~' if rest.get(1) == Some(&b'{') => literal(rest.get(1..).unwrap_or_default())?.0,
            b'\\' => token(rest.get(1..).unwrap_or_default())?.0,
            b if is_astring_char(b) || b == b'*' || b == b'%' => token(rest)?.0,
            _ => return reject(rest, "unexpected byte in a value"),
        };
        if depth == 0 {
            let used = i.len() - rest.len();
            return take(used).parse(i);
        }
    }
}

/// An atom-like token inside a value (astring characters and list wildcards).
fn token(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::bytes::streaming::take_while1(|b| is_astring_char(b) || b == b'*' || b == b'%').parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_atoms_and_strings() {
        assert_eq!(skip_value(b"12345 UID"), Ok((&b" UID"[..], &b"12345"[..])));
        assert_eq!(skip_value(b"NIL)"), Ok((&b")"[..], &b"NIL"[..])));
        assert_eq!(skip_value(b"\"a) b\" x"), Ok((&b" x"[..], &b"\"a) b\""[..])));
        assert_eq!(skip_value(b"{3}\r\n)()x"), Ok((&b"x"[..], &b"{3}\r\n)()"[..])));
        assert_eq!(skip_value(b"~{2}\r\n\x00\x01)"), Ok((&b")"[..], &b"~{2}\r\n\x00\x01"[..])));
        assert_eq!(skip_value(b"\\Seen)"), Ok((&b")"[..], &b"\\Seen"[..])));
    }

    #[test]
    fn skips_nested_lists() {
        let envelope = b"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) NIL NIL NIL NIL NIL \"<B27397-0100000@cac.washington.edu>\") UID";
        let (rest, v) = skip_value(envelope).unwrap_or_default();
        assert_eq!(rest, b" UID");
        assert_eq!(v.len(), envelope.len() - 4);
        assert_eq!(
            skip_value(b"((\"a\" {1}\r\n(  NIL)) )x"),
            Ok((&b" )x"[..], &b"((\"a\" {1}\r\n(  NIL))"[..]))
        );
        assert_eq!(
            skip_value(b"(\"\\\\Inbox\" \"[Gmail]/Sent Mail\") "),
            Ok((&b" "[..], &b"(\"\\\\Inbox\" \"[Gmail]/Sent Mail\")"[..]))
        );
    }

    #[test]
    fn depth_is_limited() {
        let mut deep = vec![b'('; MAX_DEPTH + 1];
        deep.extend(vec![b')'; MAX_DEPTH + 1]);
        assert!(matches!(skip_value(&deep), Err(nom::Err::Error(_))));
        let mut ok = vec![b'('; MAX_DEPTH];
        ok.extend(vec![b')'; MAX_DEPTH]);
        assert!(skip_value(&ok).is_ok());
        // Ten thousand open parentheses: an error, not a stack overflow.
        let hostile = vec![b'('; 10_000];
        assert!(matches!(skip_value(&hostile), Err(nom::Err::Error(_))));
    }

    #[test]
    fn truncated_versus_malformed() {
        assert!(matches!(skip_value(b"(a b"), Err(nom::Err::Incomplete(_))));
        assert!(matches!(skip_value(b"{5}\r\nab"), Err(nom::Err::Incomplete(_))));
        assert!(matches!(skip_value(b"(a\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(skip_value(b")"), Err(nom::Err::Error(_))));
        assert!(matches!(skip_value(b"\r\n"), Err(nom::Err::Error(_))));
    }
}
