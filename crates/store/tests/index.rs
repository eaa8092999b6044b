//! The header index as stored: decoded fields, and messages that cannot be parsed kept raw.

mod common;

use common::{mailbox, nested_multiparts, new_imap, uid};
use mailsync_store::{ImapBatch, MessageRow, Store};

/// Stores each raw message in a fresh INBOX at UIDs 1.. and returns the rows, in order.
fn store_all(raws: &[&[u8]]) -> (Store, Vec<MessageRow>) {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let mut b = ImapBatch::new(mb);
    for (i, raw) in raws.iter().enumerate() {
        b.new.push(new_imap(u32::try_from(i + 1).unwrap(), raw.to_vec()));
    }
    let out = store.apply_imap_batch(b).unwrap();
    assert_eq!(out.stored, u64::try_from(raws.len()).unwrap());
    let rows = (1..=raws.len())
        .map(|n| {
            let id = store.imap_message(mb, uid(u32::try_from(n).unwrap())).unwrap().unwrap();
            store.message(id).unwrap()
        })
        .collect();
    (store, rows)
}

#[test]
fn thousand_nested_multiparts_are_stored_raw_with_parse_error() {
    let raw = nested_multiparts(1000);
    let (store, rows) = store_all(&[&raw]);
    let row = &rows[0];
    assert_eq!(
        row.headers.parse_error.as_deref(),
        Some("mime structure not parsed: more than 256 multipart parts")
    );
    assert_eq!(row.headers.subject.as_deref(), Some("nested"), "top-level headers are still indexed");
    assert_eq!(row.headers.message_id.as_deref(), Some("deep@example.com"));
    assert_eq!(store.raw(row.id).unwrap(), raw);
    assert_eq!(row.size, u64::try_from(raw.len()).unwrap());
}

#[test]
fn garbage_is_stored_raw_with_parse_error() {
    let garbage: &[u8] = b" \x00\xff leading space makes mailparse refuse the header block\r\n\r\n";
    let (store, rows) = store_all(&[garbage]);
    assert!(
        rows[0].headers.parse_error.as_deref().unwrap_or("").starts_with("headers not parsed: "),
        "{:?}",
        rows[0]
    );
    assert_eq!((rows[0].headers.subject.as_deref(), rows[0].headers.message_id.as_deref()), (None, None));
    assert_eq!(store.raw(rows[0].id).unwrap(), garbage);
}

#[test]
fn encoded_word_subjects_are_stored_decoded() {
    let (_, rows) = store_all(&[
        b"Subject: =?UTF-8?B?8J+TqCBSw6lzdW3DqQ==?=\r\n\r\nx",
        b"Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\r\n\r\nx",
        b"Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\r\n\r\nx",
    ]);
    let subjects: Vec<_> = rows.iter().map(|r| r.headers.subject.as_deref()).collect();
    assert_eq!(subjects, vec![Some("📨 Résumé"), Some("Grüße aus Köln"), Some("日本語")]);
    assert!(rows.iter().all(|r| r.headers.parse_error.is_none()));
}

#[test]
fn message_without_message_id() {
    let (store, rows) = store_all(&[b"From: x@example.com\r\nSubject: anonymous\r\n\r\nhello\r\n"]);
    assert_eq!(rows[0].headers.message_id, None);
    assert_eq!(rows[0].headers.subject.as_deref(), Some("anonymous"));
    assert_eq!(rows[0].headers.parse_error, None);
    assert!(store.find_by_message_id_and_hash("", None).unwrap().is_empty());
}

#[test]
fn fields_are_indexed() {
    let raw: &[u8] = b"Message-ID: <a1@example.com>\r\n\
Date: Tue, 01 Oct 2024 12:00:00 +0200\r\n\
From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.com>\r\n\
To: a@example.com, \"B, Bee\" <b@example.com>\r\n\
Cc: c@example.com\r\n\
Subject: report\r\n\
In-Reply-To: <a0@example.com>\r\n\
References: <r1@example.com> <a0@example.com>\r\n\
Content-Type: multipart/mixed; boundary=\"=_x\"\r\n\
\r\n\
--=_x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n\
--=_x\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=\"chart.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--=_x--\r\n";
    let (_, rows) = store_all(&[raw]);
    let r = &rows[0];
    assert_eq!(r.headers.message_id.as_deref(), Some("a1@example.com"));
    assert_eq!(r.headers.date, Some(1_727_776_800));
    assert_eq!(r.headers.date_header.as_deref(), Some("Tue, 01 Oct 2024 12:00:00 +0200"));
    assert_eq!(r.headers.from.as_deref(), Some("Renée <renee@example.com>"));
    assert_eq!(r.headers.to.as_deref(), Some("a@example.com, \"B, Bee\" <b@example.com>"));
    assert_eq!(r.headers.cc.as_deref(), Some("c@example.com"));
    assert_eq!(r.headers.in_reply_to.as_deref(), Some("a0@example.com"));
    assert_eq!(r.headers.references.as_deref(), Some("r1@example.com a0@example.com"));
    assert!(r.headers.has_attachments, "a named inline image is an attachment");
    assert_eq!(r.headers.parse_error, None);
    assert_eq!(r.sha256_hex().len(), 64);
}
