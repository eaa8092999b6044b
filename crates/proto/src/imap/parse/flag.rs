//! Flags and flag-like atoms: message flags, PERMANENTFLAGS, LIST name attributes.
//!
//! Owns: the flag token and the parenthesised flag list, matched as whole atoms (`\AllMail` is its
//! own atom, never `\All` plus garbage).
//!
//! Must never: match a flag by prefix; fail on an unknown flag (it becomes a keyword or extension).
//!
//! RFC 3501 section 9: `flag`, `flag-keyword`, `flag-extension`, `flag-list`, `flag-perm`,
//! `flag-fetch`, `mbx-list-flags`; RFC 6154 section 6 (special-use attributes are flag-extensions).

use nom::bytes::streaming::{tag, take_while, take_while1};
use nom::combinator::{opt, recognize};
use nom::Parser;

use super::core::{lossy, sp};
use super::PResult;
use crate::imap::response::{Flag, MailboxAttr};

/// A byte of a flag name: leniently anything but SP, CTL, parentheses, `{`, `"` and backslash.
fn is_flag_char(b: u8) -> bool {
    b > 0x20 && b != 0x7f && !matches!(b, b'(' | b')' | b'{' | b'"' | b'\\')
}

/// One flag-like atom, backslash included.
///
/// ```text
/// flag-perm = flag / "\*"
/// flag      = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension
/// flag-extension = "\" atom
/// flag-keyword   = atom
/// ```
pub fn flag_atom(i: &[u8]) -> PResult<'_, &[u8]> {
    recognize((opt(tag("\\")), take_while1(is_flag_char))).parse(i)
}

/// A flag, typed.
pub fn flag(i: &[u8]) -> PResult<'_, Flag> {
    flag_atom.map(|a| Flag::from_atom(&lossy(a))).parse(i)
}

/// A parenthesised, space-separated list of `item`s, leniently with extra spaces anywhere inside.
///
/// ```text
/// flag-list = "(" [flag *(SP flag)] ")"
/// ```
fn paren_list<'a, T>(i: &'a [u8], item: impl Fn(&'a [u8]) -> PResult<'a, T>) -> PResult<'a, Vec<T>> {
    let (mut rest, _) = (tag("("), take_while(|b| b == b' ')).parse(i)?;
    let mut out = Vec::new();
    loop {
        if rest.first() == Some(&b')') {
            return Ok((rest.get(1..).unwrap_or_default(), out));
        }
        if !out.is_empty() {
            (rest, _) = sp(rest)?;
            if rest.first() == Some(&b')') {
                return Ok((rest.get(1..).unwrap_or_default(), out));
            }
        }
        let (r, x) = item(rest)?;
        out.push(x);
        rest = r;
    }
}

/// `flag-list = "(" [flag *(SP flag)] ")"`, typed.
pub fn flag_list(i: &[u8]) -> PResult<'_, Vec<Flag>> {
    paren_list(i, flag)
}

/// One LIST name attribute, typed: `mbx-list-oflag / mbx-list-sflag` (both `"\" atom`).
pub fn mbx_list_attr(i: &[u8]) -> PResult<'_, MailboxAttr> {
    flag_atom.map(|a| MailboxAttr::from_atom(&lossy(a))).parse(i)
}

/// `"(" [mbx-list-flags] ")"`, typed as mailbox attributes.
///
/// ```text
/// mbx-list-flags = *(mbx-list-oflag SP) mbx-list-sflag *(SP mbx-list-oflag) / mbx-list-oflag *(SP mbx-list-oflag)
/// ```
pub fn mbx_list_flags(i: &[u8]) -> PResult<'_, Vec<MailboxAttr>> {
    paren_list(i, mbx_list_attr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_atoms() {
        assert_eq!(flag(b"\\Seen "), Ok((&b" "[..], Flag::Seen)));
        assert_eq!(flag(b"\\seen)"), Ok((&b")"[..], Flag::Seen)));
        assert_eq!(flag(b"\\*)"), Ok((&b")"[..], Flag::Wildcard)));
        assert_eq!(flag(b"$Forwarded "), Ok((&b" "[..], Flag::Keyword("$Forwarded".into()))));
        assert_eq!(flag(b"\\SeenX)"), Ok((&b")"[..], Flag::Extension("SeenX".into()))));
        assert!(matches!(flag(b"(x"), Err(nom::Err::Error(_))));
        assert!(matches!(flag(b"\\Seen"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn flag_lists() {
        assert_eq!(flag_list(b"()\r\n"), Ok((&b"\r\n"[..], vec![])));
        assert_eq!(
            flag_list(b"(\\Answered \\Flagged  \\Deleted \\Seen \\Draft)\r\n").map(|(_, f)| f),
            Ok(vec![Flag::Answered, Flag::Flagged, Flag::Deleted, Flag::Seen, Flag::Draft])
        );
        assert_eq!(flag_list(b"( \\Seen )]").map(|(_, f)| f), Ok(vec![Flag::Seen]));
        assert_eq!(flag_list(b"(\\Seen \\*)] ok"), Ok((&b"] ok"[..], vec![Flag::Seen, Flag::Wildcard])));
        assert!(matches!(flag_list(b"(\\Seen"), Err(nom::Err::Incomplete(_))));
        assert!(matches!(flag_list(b"(\\Seen \"x\")"), Err(nom::Err::Error(_))));
        assert!(matches!(flag_list(b"\\Seen"), Err(nom::Err::Error(_))));
    }

    #[test]
    fn list_attributes_are_whole_atoms() {
        assert_eq!(
            mbx_list_flags(b"(\\HasNoChildren \\AllMail \\All \\Archived)").map(|(_, a)| a),
            Ok(vec![
                MailboxAttr::HasNoChildren,
                MailboxAttr::Other("\\AllMail".into()),
                MailboxAttr::All,
                MailboxAttr::Other("\\Archived".into()),
            ])
        );
        assert_eq!(
            mbx_list_flags(b"(\\noselect \\Sent)").map(|(_, a)| a),
            Ok(vec![MailboxAttr::NoSelect, MailboxAttr::Sent])
        );
    }
}
