//! The IMAP mirror through `apply_imap_batch`: idempotence, dedupe, expunge, atomicity, UIDVALIDITY.

mod common;

use common::{batch_of, cursor, mailbox, modseq, msg, new_imap, uid, uidvalidity};
use mailsync_store::{BatchOutcome, ImapBatch, MailboxCursor, ResetOutcome, Store, StoreError};

#[test]
fn batch_then_same_batch_again_is_a_no_op() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let first = store.apply_imap_batch(batch_of(mb, 9, &[1, 2, 3])).unwrap();
    let bytes: u64 = [1, 2, 3].iter().map(|&n| u64::try_from(msg(n).len()).unwrap()).sum();
    assert_eq!(first, BatchOutcome { new: 3, stored: 3, bytes, ..BatchOutcome::default() });
    let before = store.counts().unwrap();
    let locations = store.imap_locations(mb).unwrap();

    let again = store.apply_imap_batch(batch_of(mb, 9, &[1, 2, 3])).unwrap();
    assert_eq!(again, BatchOutcome { unchanged: 3, ..BatchOutcome::default() });
    assert_eq!(store.counts().unwrap(), before);
    assert_eq!(store.imap_locations(mb).unwrap(), locations);
    assert_eq!(
        locations,
        vec![
            (uid(1), "\\Seen".to_owned(), None),
            (uid(2), "\\Seen".to_owned(), None),
            (uid(3), "\\Seen".to_owned(), None)
        ]
    );
    let row = store.mailbox(mb).unwrap();
    assert_eq!((row.uidvalidity, row.uidnext), (Some(uidvalidity(9)), Some(uid(4))));
    assert!(row.last_sync_at.is_some());
}

#[test]
fn same_bytes_in_two_mailboxes_are_stored_once() {
    let mut store = Store::open_in_memory().unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let archive = mailbox(&mut store, "a", "Archive");
    store.apply_imap_batch(batch_of(inbox, 1, &[10])).unwrap();
    let mut b = ImapBatch::new(archive);
    b.new.push(new_imap(500, msg(10)));
    let out = store.apply_imap_batch(b).unwrap();
    assert_eq!(out, BatchOutcome { new: 1, deduplicated: 1, ..BatchOutcome::default() });
    let c = store.counts().unwrap();
    assert_eq!((c.messages, c.imap_locations), (1, 2));
    assert_eq!(store.imap_message(inbox, uid(10)).unwrap(), store.imap_message(archive, uid(500)).unwrap());
}

#[test]
fn expunge_removes_location_and_orphan_but_not_a_message_still_elsewhere() {
    let mut store = Store::open_in_memory().unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let archive = mailbox(&mut store, "a", "Archive");
    store.apply_imap_batch(batch_of(inbox, 1, &[1, 2])).unwrap();
    let mut copy = ImapBatch::new(archive);
    copy.new.push(new_imap(7, msg(2))); // message 2 also lives in Archive
    store.apply_imap_batch(copy).unwrap();
    let only_in_inbox = store.imap_message(inbox, uid(1)).unwrap().unwrap();
    let shared = store.imap_message(inbox, uid(2)).unwrap().unwrap();

    let mut b = ImapBatch::new(inbox);
    b.expunged = vec![uid(1), uid(2), uid(99)];
    let out = store.apply_imap_batch(b).unwrap();
    assert_eq!(out, BatchOutcome { removed: 2, messages_deleted: 1, ..BatchOutcome::default() });

    assert!(store.imap_locations(inbox).unwrap().is_empty());
    assert!(matches!(store.raw(only_in_inbox), Err(StoreError::UnknownMessage(_))));
    assert_eq!(store.raw(shared).unwrap(), msg(2));
    assert_eq!(store.imap_message(archive, uid(7)).unwrap(), Some(shared));
    let c = store.counts().unwrap();
    assert_eq!((c.messages, c.imap_locations, c.detached_messages), (1, 1, 0));
}

#[test]
fn flag_updates_change_only_what_differs() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    store.apply_imap_batch(batch_of(mb, 1, &[1, 2])).unwrap();
    let mut b = ImapBatch::new(mb);
    b.flag_updates = vec![
        (uid(1), vec!["\\Flagged".into(), "\\Seen".into(), "$Work".into()], Some(modseq(40))),
        (uid(2), vec!["\\Seen".into()], None), // unchanged
        (uid(3), vec!["\\Seen".into()], None), // not stored: ignored
    ];
    b.cursor = Some(MailboxCursor {
        uidvalidity: uidvalidity(1),
        uidnext: Some(uid(3)),
        highestmodseq: Some(modseq(40)),
    });
    let out = store.apply_imap_batch(b).unwrap();
    assert_eq!(out.updated, 1);
    assert_eq!(
        store.imap_locations(mb).unwrap(),
        vec![
            (uid(1), "$Work \\Flagged \\Seen".to_owned(), Some(modseq(40))),
            (uid(2), "\\Seen".to_owned(), None)
        ]
    );
    assert_eq!(store.mailbox(mb).unwrap().highestmodseq, Some(modseq(40)));

    // An update without modseq keeps the stored one.
    let mut b = ImapBatch::new(mb);
    b.flag_updates = vec![(uid(1), vec![], None)];
    assert_eq!(store.apply_imap_batch(b).unwrap().updated, 1);
    assert_eq!(store.imap_locations(mb).unwrap()[0], (uid(1), String::new(), Some(modseq(40))));
}

#[test]
fn failure_mid_batch_leaves_nothing_of_the_batch_and_the_cursor_unmoved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    let mut store = Store::open(&path).unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    store.apply_imap_batch(batch_of(mb, 5, &[1, 2])).unwrap();
    let before = store.counts().unwrap();

    // Another connection installs a constraint that the batch's 3rd message violates, after the 1st
    // and 2nd messages, a flag update and an expunge are already written inside the transaction.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER refuse_uid_13 BEFORE INSERT ON locations WHEN NEW.uid = 13
             BEGIN SELECT RAISE(ABORT, 'uid 13 refused by test'); END;",
        )
        .unwrap();
    drop(other);

    let mut b = batch_of(mb, 5, &[11, 12, 13, 14]);
    b.flag_updates = vec![(uid(1), vec!["\\Deleted".into()], None)];
    b.expunged = vec![uid(2)];
    b.unfetchable = vec![(uid(20), "no data".into())];
    let err = store.apply_imap_batch(b).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("sqlite error while inserting uid 13 into mailbox {mb}: ")),
        "{err}"
    );

    assert_eq!(store.counts().unwrap(), before);
    assert_eq!(
        store.imap_locations(mb).unwrap(),
        vec![(uid(1), "\\Seen".to_owned(), None), (uid(2), "\\Seen".to_owned(), None)]
    );
    assert_eq!(store.mailbox(mb).unwrap().uidnext, Some(uid(3)), "cursor did not advance");
    assert!(store.unfetchable(mb).unwrap().is_empty());

    // A fresh reader sees the same.
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.counts().unwrap(), before);
    assert_eq!(store.mailbox(mb).unwrap().uidnext, Some(uid(3)));
}

#[test]
fn a_batch_under_another_uidvalidity_is_refused() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    store.apply_imap_batch(batch_of(mb, 5, &[1])).unwrap();
    let err = store.apply_imap_batch(batch_of(mb, 6, &[2])).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "uidvalidity mismatch for mailbox {mb}: stored 5, batch has 6; reset the mailbox before applying"
        )
    );
    assert_eq!(store.counts().unwrap().messages, 1);
}

#[test]
fn uidvalidity_reset_then_redownload_reattaches_without_duplicating() {
    let mut store = Store::open_in_memory().unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let other = mailbox(&mut store, "a", "Other");
    let mut first = batch_of(inbox, 100, &[1, 2, 3]);
    first.unfetchable = vec![(uid(4), "fetch returned nothing".into())];
    store.apply_imap_batch(first).unwrap();
    let mut elsewhere = ImapBatch::new(other);
    elsewhere.new.push(new_imap(1, msg(3)));
    store.apply_imap_batch(elsewhere).unwrap();
    let ids: Vec<_> =
        [1, 2, 3].iter().map(|&n| store.imap_message(inbox, uid(n)).unwrap().unwrap()).collect();

    let reset = store.reset_mailbox_for_uidvalidity(inbox, uidvalidity(200)).unwrap();
    assert_eq!(reset, ResetOutcome { locations_dropped: 3, messages_detached: 2, unfetchable_cleared: 1 });
    let row = store.mailbox(inbox).unwrap();
    assert_eq!((row.uidvalidity, row.uidnext, row.highestmodseq), (Some(uidvalidity(200)), None, None));
    let c = store.counts().unwrap();
    assert_eq!((c.messages, c.imap_locations, c.detached_messages, c.unfetchable), (3, 1, 2, 0));
    // Nothing lost: the detached bytes are still readable and findable.
    assert_eq!(store.raw(ids[0]).unwrap(), msg(1));
    assert_eq!(store.find_by_message_id_and_hash("m1@example.com", None).unwrap(), vec![ids[0]]);

    // The server renumbered: same bytes, new UIDs.
    let mut again = ImapBatch::new(inbox);
    again.new =
        vec![new_imap(1001, msg(1)), new_imap(1002, msg(2)), new_imap(1003, msg(3)), new_imap(1004, msg(4))];
    again.cursor = cursor(200, 1005);
    let out = store.apply_imap_batch(again).unwrap();
    assert_eq!((out.new, out.deduplicated, out.reattached, out.stored), (4, 3, 2, 1));
    assert_eq!(store.imap_message(inbox, uid(1001)).unwrap(), Some(ids[0]));
    assert_eq!(store.imap_message(inbox, uid(1002)).unwrap(), Some(ids[1]));
    assert_eq!(store.imap_message(inbox, uid(1003)).unwrap(), Some(ids[2]));
    let c = store.counts().unwrap();
    assert_eq!((c.messages, c.imap_locations, c.detached_messages), (4, 5, 0));
}

#[test]
fn unfetchable_uids_are_recorded_and_cleared_when_fetched() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let mut b = ImapBatch::new(mb);
    b.unfetchable =
        vec![(uid(5), "FETCH returned no data".into()), (uid(6), "FETCH returned no data".into())];
    b.cursor = cursor(1, 7);
    assert_eq!(store.apply_imap_batch(b.clone()).unwrap().unfetchable, 2);
    assert_eq!(store.apply_imap_batch(b).unwrap().unfetchable, 2, "re-recording is harmless");
    assert_eq!(store.unfetchable(mb).unwrap().len(), 2);

    let mut later = ImapBatch::new(mb);
    later.new.push(new_imap(5, msg(5)));
    later.expunged.push(uid(6));
    store.apply_imap_batch(later).unwrap();
    assert!(store.unfetchable(mb).unwrap().is_empty());
}

#[test]
fn a_gap_is_retried_with_a_back_off_that_grows_with_its_attempts() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let record = |store: &mut Store, reason: &str| {
        let mut b = ImapBatch::new(mb);
        b.unfetchable = vec![(uid(5), reason.into())];
        store.apply_imap_batch(b).unwrap();
        store.unfetchable(mb).unwrap().remove(0)
    };
    let first = record(&mut store, "no data");
    assert_eq!(first.attempts, 1);
    assert!(first.retry_after <= first.seen_at, "the first retry is at the next run");
    let second = record(&mut store, "Exchange stand-in");
    assert_eq!((second.attempts, second.reason.as_str()), (2, "Exchange stand-in"));
    assert!(second.retry_after >= second.seen_at + 3600);
    for _ in 0..10 {
        record(&mut store, "no data");
    }
    let many = store.unfetchable(mb).unwrap().remove(0);
    assert_eq!(many.attempts, 12);
    assert!(many.retry_after <= many.seen_at + 86_400 + 60, "capped at a day");
    assert_eq!(
        (1..=8).map(mailsync_store::retry_delay).collect::<Vec<_>>(),
        [0, 3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400]
    );
}

#[test]
fn a_retracted_copy_leaves_the_mirror_and_becomes_a_gap() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    store.apply_imap_batch(batch_of(mb, 1, &[1, 2])).unwrap();
    let mut b = ImapBatch::new(mb);
    b.retracted.push(uid(2));
    b.unfetchable.push((uid(2), "server sent two different bodies".into()));
    let out = store.apply_imap_batch(b).unwrap();
    assert_eq!((out.retracted, out.removed, out.messages_deleted, out.unfetchable), (1, 0, 1, 1));
    assert_eq!(store.imap_locations(mb).unwrap().len(), 1);
    assert_eq!(store.unfetchable(mb).unwrap()[0].uid, uid(2));
}

#[test]
fn a_sample_spreads_over_the_folder() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    store.apply_imap_batch(batch_of(mb, 1, &(1..=10).collect::<Vec<_>>())).unwrap();
    let sample = store.imap_sample(mb, 4).unwrap();
    assert_eq!(sample.iter().map(|(u, _)| u.get()).collect::<Vec<_>>(), [1, 4, 7, 10]);
    assert_eq!(sample[0].1, mailsync_store::content_hash(&msg(1)));
    assert!(store.imap_sample(mb, 0).unwrap().len() <= 10);
}

#[test]
fn deleting_a_mailbox_removes_its_mirror_only() {
    let mut store = Store::open_in_memory().unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let gone = mailbox(&mut store, "a", "Gone");
    store.apply_imap_batch(batch_of(inbox, 1, &[1])).unwrap();
    let mut b = batch_of(gone, 1, &[2, 3]);
    b.new.push(new_imap(9, msg(1))); // also in INBOX
    store.apply_imap_batch(b).unwrap();
    assert_eq!(store.delete_mailbox(gone).unwrap(), 3);
    let c = store.counts().unwrap();
    assert_eq!((c.mailboxes, c.messages, c.imap_locations), (1, 1, 1));
    assert!(
        matches!(store.apply_imap_batch(ImapBatch::new(gone)), Err(StoreError::UnknownMailbox(m)) if m == gone)
    );
}

#[test]
fn raw_bytes_round_trip_exactly() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let mut raw =
        b"Subject: bytes\nX-Bare-LF: yes\n\nline one\nNUL:\0:\r\nlone CR:\r:\n\xff\xfe\x80 high bytes"
            .to_vec();
    raw.extend((0u8..=255).collect::<Vec<u8>>());
    raw.extend_from_slice(b"\n.\n..\r\n"); // no final CRLF normalisation either
    let mut b = ImapBatch::new(mb);
    b.new.push(new_imap(1, raw.clone()));
    store.apply_imap_batch(b).unwrap();
    let id = store.imap_message(mb, uid(1)).unwrap().unwrap();
    assert_eq!(store.raw(id).unwrap(), raw);
    let row = store.message(id).unwrap();
    assert_eq!(row.size, u64::try_from(raw.len()).unwrap());
    assert_eq!(row.sha256, mailsync_store::content_hash(&raw));
    assert_eq!(row.headers.subject.as_deref(), Some("bytes"));
}

#[test]
fn empty_message_is_stored() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let mut b = ImapBatch::new(mb);
    b.new.push(new_imap(1, Vec::new()));
    store.apply_imap_batch(b).unwrap();
    let id = store.imap_message(mb, uid(1)).unwrap().unwrap();
    assert_eq!(store.raw(id).unwrap(), b"");
    assert_eq!(store.message(id).unwrap().size, 0);
}
