//! Mailbox data: LIST / LSUB / XLIST and STATUS.
//!
//! Owns: `mailbox-list` (attributes as whole atoms, delimiter NIL or one quoted character, the name
//! as an astring, quoted string or literal, LIST-EXTENDED data skipped) and `STATUS` (known items
//! typed, unknown items skipped, Outlook's trailing space and an empty list accepted).
//!
//! Must never: decode mailbox names (they stay raw bytes for modified UTF-7 decoding by the caller);
//! fail on an unknown STATUS item or LIST extension.
//!
//! RFC 3501 sections 7.2.2, 7.2.3, 7.2.4 and 9 (`mailbox-list`, `mbx-list-flags`, `status-att-list`);
//! RFC 5258 section 9 (`mbox-list-extended`); RFC 6154 (special-use attributes); RFC 7162 section 3.1.2
//! (HIGHESTMODSEQ in STATUS); RFC 8438 (SIZE); RFC 9051 (DELETED).

use nom::bytes::streaming::{tag, take_while};
use nom::Parser;

use super::core::{atom, delimiter, mailbox, number, number64, nz_number, sp};
use super::flag::mbx_list_flags;
use super::skip::skip_value;
use super::{reject, PResult};
use crate::imap::response::{ListItem, ListKind, MailboxStatus};
use crate::types::{ModSeq, Uid, UidValidity};

/// `mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
/// [SP mbox-list-extended]`
///
/// `mbox-list-extended = "(" [mbox-list-extended-item *(SP mbox-list-extended-item)] ")"` is skipped.
///
/// Leniently: an empty delimiter (`""`) as NIL, and control characters other than CR and LF (a TAB, say)
/// in an unquoted name, which some servers send as they are stored.
pub fn mailbox_list(i: &[u8], kind: ListKind) -> PResult<'_, ListItem> {
    let (rest, (attributes, _, delimiter, _, name)) =
        (mbx_list_flags, sp, delimiter, sp, list_mailbox_name).parse(i)?;
    let mut rest = rest;
    if let Ok((r, _)) = sp(rest) {
        if r.first() == Some(&b'(') {
            rest = skip_value(r)?.0;
        }
    }
    Ok((rest, ListItem { kind, attributes, delimiter, name }))
}

/// The name in a LIST line: `mailbox`, where an unquoted name may also hold control characters (not CR
/// or LF).
fn list_mailbox_name(i: &[u8]) -> PResult<'_, Vec<u8>> {
    if matches!(i.first(), Some(b'"' | b'{')) {
        return mailbox(i);
    }
    let lenient = |b: u8| (b < 0x20 && b != b'\r' && b != b'\n') || b == 0x7f;
    let (rest, name) =
        take_while(|b| lenient(b) || super::core::is_astring_char(b) || b == b'%' || b == b'*').parse(i)?;
    if name.is_empty() {
        return reject(i, "expected a mailbox name");
    }
    Ok((rest, name.to_vec()))
}

/// After `"STATUS" SP`: `mailbox SP "(" [status-att-list] ")"`
///
/// ```text
/// status-att-list = status-att-val *(SP status-att-val)
/// status-att-val  = "MESSAGES" SP number / "UIDNEXT" SP nz-number / "UIDVALIDITY" SP nz-number /
///                   "UNSEEN" SP number / "RECENT" SP number / "DELETED" SP number /
///                   "SIZE" SP number64 / "HIGHESTMODSEQ" SP mod-sequence-valzer
/// ```
///
/// Leniently: spaces anywhere inside the parentheses (Outlook sends `(MESSAGES 5 )`), and any other
/// item skipped as `atom SP value`.
pub fn status_data(i: &[u8]) -> PResult<'_, MailboxStatus> {
    let (rest, (name, _, _)) = (mailbox, sp, tag("(")).parse(i)?;
    let mut out = MailboxStatus { mailbox: name, ..MailboxStatus::default() };
    let mut rest = rest;
    loop {
        let (r, _) = take_while(|b| b == b' ').parse(rest)?;
        if let Some(b')') = r.first() {
            return Ok((r.get(1..).unwrap_or_default(), out));
        }
        let (r, (item, _)) = (atom, sp).parse(r)?;
        rest = status_att_val(r, &item.to_ascii_uppercase(), &mut out)?;
    }
}

/// The value of one STATUS item named `upper`, stored into `out`; returns the rest of the input.
fn status_att_val<'a>(
    i: &'a [u8],
    upper: &[u8],
    out: &mut MailboxStatus,
) -> Result<&'a [u8], nom::Err<super::PError<'a>>> {
    let rest = match upper {
        b"MESSAGES" => number.map(|n| out.messages = Some(n)).parse(i)?.0,
        b"RECENT" => number.map(|n| out.recent = Some(n)).parse(i)?.0,
        b"UNSEEN" => number.map(|n| out.unseen = Some(n)).parse(i)?.0,
        b"DELETED" => number.map(|n| out.deleted = Some(n)).parse(i)?.0,
        b"SIZE" => number64.map(|n| out.size = Some(n)).parse(i)?.0,
        b"UIDNEXT" => {
            let (r, n) = nz_number(i)?;
            out.uid_next = Uid::try_from(n.get()).ok();
            r
        }
        b"UIDVALIDITY" => {
            let (r, n) = nz_number(i)?;
            out.uid_validity = UidValidity::try_from(n.get()).ok();
            r
        }
        b"HIGHESTMODSEQ" => {
            let (r, n) = number64(i)?;
            out.highest_modseq = ModSeq::try_from(n).ok();
            r
        }
        _ => skip_value(i)?.0,
    };
    if rest.first().is_some_and(|&b| b != b' ' && b != b')') {
        return reject(rest, "STATUS item value runs on").map(|(r, ())| r);
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::response::MailboxAttr;

    fn list(wire: &[u8]) -> Option<ListItem> {
        mailbox_list(wire, ListKind::List).ok().map(|(_, l)| l)
    }

    #[test]
    fn list_lenient_delimiter_and_names() {
        let l = list(b"() \"\" \"Flat\"\r\n").map(|l| (l.delimiter, l.name));
        assert_eq!(l, Some((None, b"Flat".to_vec())));
        let l = list(b"(\\HasNoChildren) \"/\" Tab\there\r\n").map(|l| l.name);
        assert_eq!(l, Some(b"Tab\there".to_vec()));
        assert!(list(b"() \"/\" \r\n").is_none());
    }

    #[test]
    fn list_basic() {
        let l = list(b"(\\Noselect) \"/\" ~/Mail/foo\r\n");
        assert_eq!(
            l,
            Some(ListItem {
                kind: ListKind::List,
                attributes: vec![MailboxAttr::NoSelect],
                delimiter: Some('/'),
                name: b"~/Mail/foo".to_vec()
            })
        );
        let l = list(b"() NIL INBOX\r\n");
        assert_eq!(l.map(|l| (l.delimiter, l.name)), Some((None, b"INBOX".to_vec())));
    }

    #[test]
    fn list_special_use_and_quirks() {
        let l = list(b"(\\HasNoChildren \\Sent) \".\" \"Sent Items\"\r\n");
        assert_eq!(l.as_ref().and_then(ListItem::special_use), Some(&MailboxAttr::Sent));
        assert_eq!(l.map(|l| l.name), Some(b"Sent Items".to_vec()));
        let l = list(b"(\\HasNoChildren) \"/\" {11}\r\nfoo \"bar\" z\r\n");
        assert_eq!(l.map(|l| l.name), Some(b"foo \"bar\" z".to_vec()));
        let l = list(b"(\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\r\n");
        assert_eq!(l.map(|l| l.name), Some(b"[Gmail]".to_vec()));
        let l = list(b"(\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
        assert_eq!(l.map(|l| l.name), Some(b"Foo".to_vec()));
        let l = list(b"() \"/\" \"&AMQ-rger\"\r\n");
        assert_eq!(l.map(|l| l.name), Some(b"&AMQ-rger".to_vec()));
    }

    #[test]
    fn list_malformed_and_truncated() {
        assert!(matches!(mailbox_list(b"\\Noselect \"/\" foo\r\n", ListKind::List), Err(nom::Err::Error(_))));
        assert!(matches!(mailbox_list(b"() \"//\" foo\r\n", ListKind::List), Err(nom::Err::Error(_))));
        assert!(matches!(mailbox_list(b"() \"/\" {5}\r\nab", ListKind::List), Err(nom::Err::Incomplete(_))));
        assert!(matches!(mailbox_list(b"() \"/", ListKind::List), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn status_items() {
        let (rest, s) =
            status_data(b"blurdybloop (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1 UNSEEN 3 RECENT 0)\r\n")
                .unwrap_or_default();
        assert_eq!(rest, b"\r\n");
        assert_eq!(s.mailbox, b"blurdybloop");
        assert_eq!((s.messages, s.unseen, s.recent), (Some(231), Some(3), Some(0)));
        assert_eq!(s.uid_next.map(Uid::get), Some(44292));
        assert_eq!(s.uid_validity.map(UidValidity::get), Some(1));
        let (_, s) = status_data(
            b"INBOX (HIGHESTMODSEQ 7011231777 SIZE 123456789012 MAILBOXID (F1234) DELETED 2)\r\n",
        )
        .unwrap_or_default();
        assert_eq!(s.highest_modseq.map(ModSeq::get), Some(7_011_231_777));
        assert_eq!((s.size, s.deleted), (Some(123_456_789_012), Some(2)));
        let (_, s) = status_data(b"INBOX (HIGHESTMODSEQ 0)\r\n").unwrap_or_default();
        assert_eq!(s.highest_modseq, None);
    }

    #[test]
    fn status_outlook_quirks() {
        let (rest, s) = status_data(b"INBOX (MESSAGES 12 UIDNEXT 40 )\r\n").unwrap_or_default();
        assert_eq!((rest, s.messages), (&b"\r\n"[..], Some(12)));
        let (rest, s) = status_data(b"\"Sent Items\" ()\r\n").unwrap_or_default();
        assert_eq!((rest, s.mailbox, s.messages), (&b"\r\n"[..], b"Sent Items".to_vec(), None));
        let (_, s) = status_data(b"inbox ( messages  5 )\r\n").unwrap_or_default();
        assert_eq!(s.messages, Some(5));
    }

    #[test]
    fn status_malformed_and_truncated() {
        assert!(matches!(status_data(b"INBOX (UIDNEXT 0)\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(status_data(b"INBOX (MESSAGES x)\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(status_data(b"INBOX (MESSAGES 5x)\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(status_data(b"INBOX MESSAGES 5\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(status_data(b"INBOX (MESSAGES 5"), Err(nom::Err::Incomplete(_))));
    }
}
