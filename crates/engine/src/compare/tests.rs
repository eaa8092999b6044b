//! Row-by-row checks of the matcher on hand-built snapshots.

use mailsync_proto::{SeqNum, Uid, UidValidity, Uidl};
use mailsync_store::{LocationView, MessageId, Protocol};

use super::matching::{compare, ImapEntry, Pop3Entry, Snapshot};
use crate::pop3::Pop3Mode;

const V: u32 = 0x6a00_0001;

fn imap(folder: &str, uid: u32, flags: &[&str], mid: Option<&str>) -> ImapEntry {
    ImapEntry {
        folder: folder.into(),
        uidvalidity: UidValidity::try_from(V).unwrap(),
        uid: Uid::try_from(uid).unwrap(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        size: 100,
        message_id: mid.map(str::to_string),
    }
}

fn pop(msg: u32, uidl: &str, mid: Option<&str>) -> Pop3Entry {
    Pop3Entry {
        msg: SeqNum::try_from(msg).unwrap(),
        uidl: Some(Uidl::new(uidl).unwrap()),
        size: 100,
        message_id: mid.map(str::to_string),
    }
}

fn local_imap(m: i64, folder: &str, uid: u32, mid: Option<&str>) -> LocationView {
    LocationView {
        message: MessageId::new(m),
        size: 100,
        message_id: mid.map(str::to_string),
        protocol: Protocol::Imap,
        mailbox: Some(folder.into()),
        uidvalidity: Some(UidValidity::try_from(V).unwrap()),
        uid: Some(Uid::try_from(uid).unwrap()),
        uidl: None,
        flags: String::new(),
        downloaded_at: None,
        deleted_on_server_at: None,
    }
}

fn local_pop(m: i64, uidl: &str, downloaded: i64, deleted: Option<i64>) -> LocationView {
    LocationView {
        message: MessageId::new(m),
        size: 100,
        message_id: None,
        protocol: Protocol::Pop3,
        mailbox: None,
        uidvalidity: None,
        uid: None,
        uidl: Some(Uidl::new(uidl).unwrap()),
        flags: String::new(),
        downloaded_at: Some(downloaded),
        deleted_on_server_at: deleted,
    }
}

fn dovecot_uidl(uid: u32) -> String {
    format!("{uid:08X}{V:08X}")
}

#[test]
fn fresh_account_nothing_stored() {
    let s = Snapshot {
        imap_folders: Some(vec!["INBOX".into(), "Sent".into()]),
        imap: vec![
            imap("INBOX", 1, &["\\Seen"], Some("a")),
            imap("INBOX", 2, &[], Some("b")),
            imap("Sent", 1, &["\\Seen"], Some("c")),
        ],
        pop3: Some(vec![pop(1, &dovecot_uidl(1), Some("a")), pop(2, &dovecot_uidl(2), Some("b"))]),
        local: vec![],
    };
    let c = compare(&s, Pop3Mode::Delete, 1000);
    let i = c.imap.as_ref().unwrap();
    assert_eq!((i.messages, i.flags.seen, i.flags.unseen, i.next_download, i.next_remove), (3, 2, 1, 3, 0));
    let p = c.pop3.as_ref().unwrap();
    assert_eq!((p.messages, p.next_download, p.next_delete_on_server), (2, 2, 2));
    assert_eq!(c.only_imap_total, 1);
    assert_eq!(c.only_imap.get("Sent"), Some(&1));
    assert_eq!((c.either.server_only, c.either.local_only, c.either.both), (3, 0, 0));
}

#[test]
fn after_pop3_delete_the_inbox_lives_only_locally() {
    let s = Snapshot {
        imap_folders: Some(vec!["INBOX".into(), "Sent".into()]),
        imap: vec![imap("Sent", 1, &["\\Seen"], Some("c"))],
        pop3: Some(vec![]),
        local: vec![
            local_pop(1, &dovecot_uidl(1), 10, Some(20)),
            local_pop(2, &dovecot_uidl(2), 10, Some(20)),
            local_imap(3, "Sent", 1, Some("c")),
        ],
    };
    let c = compare(&s, Pop3Mode::Keep, 1000);
    assert_eq!((c.either.server_only, c.either.local_only, c.either.both), (0, 2, 1));
    assert_eq!((c.via_pop3.server_only, c.via_pop3.local_only, c.via_pop3.both), (0, 3, 0));
    assert_eq!((c.via_imap.local_only, c.via_imap.both), (2, 1));
    assert_eq!(c.stored_messages, 3);
    assert_eq!((c.stored_imap_locations, c.stored_pop3_locations), (1, 2));
}

#[test]
fn matching_without_message_id_uses_dovecot_uidls_and_locations() {
    let s = Snapshot {
        imap_folders: Some(vec!["INBOX".into()]),
        imap: vec![imap("INBOX", 7, &[], None)],
        pop3: Some(vec![pop(1, &dovecot_uidl(7), None)]),
        local: vec![local_imap(1, "INBOX", 7, None)],
    };
    let c = compare(&s, Pop3Mode::Keep, 0);
    assert_eq!((c.either.server_only, c.either.both), (0, 1), "one message, seen three ways");
    assert_eq!(c.only_imap_total, 0);
    assert_eq!(c.pop3.unwrap().next_download, 1, "POP3 has not downloaded it yet");
    assert_eq!(c.imap.unwrap().next_download, 0);
}

#[test]
fn delete_after_days_counts_only_old_downloads() {
    let day = 86_400;
    let s = Snapshot {
        imap_folders: None,
        imap: vec![],
        pop3: Some(vec![pop(1, "old", None), pop(2, "new", None), pop(3, "unseen", None)]),
        local: vec![local_pop(1, "old", 0, None), local_pop(2, "new", 9 * day, None)],
    };
    let c = compare(&s, Pop3Mode::DeleteAfterDays(7), 10 * day);
    let p = c.pop3.unwrap();
    assert_eq!((p.next_download, p.next_delete_on_server), (1, 1));
    assert!(c.imap.is_none());
}

#[test]
fn an_expunged_imap_copy_is_counted_for_removal() {
    let s = Snapshot {
        imap_folders: Some(vec!["INBOX".into()]),
        imap: vec![],
        pop3: None,
        local: vec![local_imap(1, "INBOX", 3, Some("x"))],
    };
    let c = compare(&s, Pop3Mode::Keep, 0);
    assert_eq!(c.imap.unwrap().next_remove, 1);
    assert_eq!(c.only_imap_total, 0, "only counted when both protocols were compared");
}
