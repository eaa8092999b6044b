//! Helpers shared by the store's integration tests: message builders and batch shorthands.
#![allow(dead_code)]

use mailsync_proto::types::{ModSeq, Uid, UidValidity, Uidl};
use mailsync_store::{
    ImapBatch, MailboxCursor, MailboxId, MailboxInfo, NewImapMessage, NewPop3Message, Store,
};

/// A small RFC 5322 message whose bytes depend on `n`.
pub fn msg(n: u32) -> Vec<u8> {
    format!(
        "Message-ID: <m{n}@example.com>\r\nFrom: a@example.com\r\nTo: b@example.com\r\nSubject: message {n}\r\n\
         Date: Tue, 1 Oct 2024 10:00:00 +0000\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

pub fn uid(n: u32) -> Uid {
    Uid::try_from(n).unwrap()
}

pub fn uidvalidity(n: u32) -> UidValidity {
    UidValidity::try_from(n).unwrap()
}

pub fn modseq(n: u64) -> ModSeq {
    ModSeq::try_from(n).unwrap()
}

pub fn uidl(s: &str) -> Uidl {
    Uidl::new(s).unwrap()
}

pub fn new_imap(n: u32, raw: Vec<u8>) -> NewImapMessage {
    NewImapMessage {
        uid: uid(n),
        flags: vec!["\\Seen".to_owned()],
        internaldate: Some(1_727_776_800),
        modseq: None,
        raw,
        prepared: None,
    }
}

pub fn new_pop3(id: &str, raw: Vec<u8>) -> NewPop3Message {
    NewPop3Message { uidl: uidl(id), raw, prepared: None }
}

pub fn cursor(validity: u32, next: u32) -> Option<MailboxCursor> {
    Some(MailboxCursor { uidvalidity: uidvalidity(validity), uidnext: Some(uid(next)), highestmodseq: None })
}

/// A batch of new messages `msg(n)` at UID n for each n in `uids`, with a cursor past the last one.
pub fn batch_of(mailbox: MailboxId, validity: u32, uids: &[u32]) -> ImapBatch {
    let mut b = ImapBatch::new(mailbox);
    b.new = uids.iter().map(|&n| new_imap(n, msg(n))).collect();
    b.cursor = cursor(validity, uids.iter().max().map_or(1, |m| m + 1));
    b
}

pub fn mailbox(store: &mut Store, account: &str, name: &str) -> MailboxId {
    let acct = store.account(account).unwrap();
    store
        .upsert_mailbox(
            acct,
            &MailboxInfo {
                name: name.to_owned(),
                delimiter: Some('/'),
                attributes: vec![],
                special_use: None,
            },
        )
        .unwrap()
}

/// `depth` multipart/mixed parts nested inside each other, with a text leaf at the bottom.
pub fn nested_multiparts(depth: usize) -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nSubject: nested\r\nMessage-ID: <deep@example.com>\r\n".to_vec();
    for i in 0..depth {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i:04}\"\r\n\r\n--b{i:04}\r\n").as_bytes(),
        );
    }
    m.extend_from_slice(b"Content-Type: text/plain\r\n\r\nbottom\r\n");
    for i in (0..depth).rev() {
        m.extend_from_slice(format!("--b{i:04}--\r\n").as_bytes());
    }
    m
}
