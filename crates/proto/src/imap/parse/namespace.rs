//! The NAMESPACE response: where personal, other users' and shared mailboxes live.
//!
//! Owns: `Namespace_Response` with its three namespace lists; namespace response extensions are
//! skipped.
//!
//! Must never: recurse (the structure has a fixed depth; extension values go through the
//! depth-limited balanced scan).
//!
//! RFC 2342 section 5 (`Namespace_Response`, `Namespace`, `Namespace_Descr`,
//! `Namespace_Response_Extension`).

use nom::bytes::streaming::{tag, take_while};
use nom::Parser;

use super::core::{delimiter, nil, sp, string};
use super::skip::skip_value;
use super::PResult;
use crate::imap::response::{NamespaceDesc, Namespaces};

/// After `"NAMESPACE" SP`: `Namespace SP Namespace SP Namespace` (personal, other users, shared).
pub fn namespace_data(i: &[u8]) -> PResult<'_, Namespaces> {
    let (rest, (personal, _, other_users, _, shared)) = (namespace, sp, namespace, sp, namespace).parse(i)?;
    Ok((rest, Namespaces { personal, other_users, shared }))
}

/// `Namespace = nil / "(" 1*( "(" string SP (<"> QUOTED_CHAR <"> / nil) *(Namespace_Response_Extension) ")" ) ")"`
///
/// Leniently: spaces between the descriptors.
pub fn namespace(i: &[u8]) -> PResult<'_, Vec<NamespaceDesc>> {
    if i.first() != Some(&b'(') {
        return nil.map(|()| Vec::new()).parse(i);
    }
    let (mut rest, _) = tag("(").parse(i)?;
    let mut out = Vec::new();
    loop {
        let (r, d) = namespace_descr(rest)?;
        out.push(d);
        let (r, _) = take_while(|b| b == b' ').parse(r)?;
        if r.first() == Some(&b')') {
            return Ok((r.get(1..).unwrap_or_default(), out));
        }
        rest = r;
    }
}

/// `"(" string SP (<"> QUOTED_CHAR <"> / nil) *(Namespace_Response_Extension) ")"`
///
/// `Namespace_Response_Extension = SP string SP "(" string *(SP string) ")"` (skipped)
fn namespace_descr(i: &[u8]) -> PResult<'_, NamespaceDesc> {
    let (mut rest, (_, prefix, _, delimiter)) = (tag("("), string, sp, delimiter).parse(i)?;
    loop {
        let (r, _) = take_while(|b| b == b' ').parse(rest)?;
        if r.first() == Some(&b')') {
            let desc = NamespaceDesc { prefix: prefix.into_owned(), delimiter };
            return Ok((r.get(1..).unwrap_or_default(), desc));
        }
        let (r, _) = (string, sp, skip_value).parse(r)?;
        rest = r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(prefix: &str, delimiter: Option<char>) -> NamespaceDesc {
        NamespaceDesc { prefix: prefix.as_bytes().to_vec(), delimiter }
    }

    #[test]
    fn namespaces() {
        assert_eq!(
            namespace_data(b"((\"\" \"/\")) NIL NIL\r\n"),
            Ok((
                &b"\r\n"[..],
                Namespaces { personal: vec![desc("", Some('/'))], other_users: vec![], shared: vec![] }
            ))
        );
        let (rest, n) = namespace_data(
            b"((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
        )
        .unwrap_or_default();
        assert_eq!(rest, b"\r\n");
        assert_eq!(n.other_users, vec![desc("~", Some('/'))]);
        assert_eq!(n.shared.len(), 4);
        assert_eq!(n.shared[3], desc("#news.", Some('.')));
        let (_, n) = namespace_data(
            b"((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL ((\"Public Folders/\" NIL))\r\n",
        )
        .unwrap_or_default();
        assert_eq!(n.personal, vec![desc("", Some('/'))]);
        assert_eq!(n.shared, vec![desc("Public Folders/", None)]);
    }

    #[test]
    fn namespace_malformed_and_truncated() {
        assert!(matches!(namespace_data(b"() NIL NIL\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(namespace_data(b"((\"\" \"/\")) NIL\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(namespace_data(b"((\"\" \"/\"))"), Err(nom::Err::Incomplete(_))));
    }
}
