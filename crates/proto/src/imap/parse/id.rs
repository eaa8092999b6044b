//! The ID response: the server's name and version, as field/value pairs.
//!
//! Owns: `id-params-list`, leniently separated by any spaces, with an empty list accepted.
//!
//! Must never: fail on a field it does not know (every pair is kept), or panic on a NIL value.
//!
//! RFC 2971 section 4 (`id_response`, `id_params_list`).

use nom::bytes::streaming::{tag, take_while};
use nom::Parser;

use super::core::{lossy, nil, nstring, sp, string};
use super::PResult;

/// One ID field and its value (NIL is `None`).
pub type IdParam = (String, Option<String>);

/// `id_params_list ::= "(" #(string SPACE nstring) ")" / nil`
pub fn id_params_list(i: &[u8]) -> PResult<'_, Option<Vec<IdParam>>> {
    if i.first() != Some(&b'(') {
        return nil.map(|()| None).parse(i);
    }
    let (mut rest, _) = (tag("("), take_while(|b| b == b' ')).parse(i)?;
    let mut out = Vec::new();
    loop {
        if rest.first() == Some(&b')') {
            return Ok((rest.get(1..).unwrap_or_default(), Some(out)));
        }
        let (r, (field, _, value, _)) = (string, sp, nstring, take_while(|b| b == b' ')).parse(rest)?;
        out.push((lossy(&field), value.map(|v| lossy(&v))));
        rest = r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists() {
        assert_eq!(
            id_params_list(b"(\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" NIL)\r\n"),
            Ok((
                &b"\r\n"[..],
                Some(vec![
                    ("name".into(), Some("Cyrus".into())),
                    ("version".into(), Some("1.5".into())),
                    ("os".into(), None)
                ])
            ))
        );
        assert_eq!(id_params_list(b"NIL\r\n"), Ok((&b"\r\n"[..], None)));
        assert_eq!(id_params_list(b"()\r\n"), Ok((&b"\r\n"[..], Some(vec![]))));
        assert!(matches!(id_params_list(b"(\"name\")\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(id_params_list(b"(name \"x\")\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(id_params_list(b"(\"name\" \"Cy"), Err(nom::Err::Incomplete(_))));
    }
}
