//! POP3 downloads, and how they share messages with the IMAP mirror.

mod common;

use common::{batch_of, mailbox, msg, new_imap, new_pop3, uid, uidl};
use mailsync_store::{
    content_hash, BatchOutcome, ImapBatch, Pop3Batch, Protocol, RunSummary, Store, StoreError,
};

#[test]
fn pop3_batch_is_idempotent_by_uidl() {
    let mut store = Store::open_in_memory().unwrap();
    let acct = store.account("a").unwrap();
    let batch = Pop3Batch {
        new: vec![new_pop3("0000000100000009", msg(1)), new_pop3("0000000200000009", msg(2))],
        ..Pop3Batch::default()
    };
    let first = store.apply_pop3_batch(acct, batch.clone()).unwrap();
    assert_eq!((first.new, first.stored), (2, 2));
    assert_eq!(
        store.apply_pop3_batch(acct, batch).unwrap(),
        BatchOutcome { unchanged: 2, ..BatchOutcome::default() }
    );
    let known = store.pop3_known_uidls(acct).unwrap();
    assert_eq!(known.len(), 2);
    let loc = known[&uidl("0000000100000009")];
    assert_eq!(store.raw(loc.message).unwrap(), msg(1));
    assert!(loc.downloaded_at.is_some());
    assert_eq!(loc.deleted_on_server_at, None);
}

#[test]
fn same_bytes_over_imap_and_pop3_are_one_message_with_two_locations() {
    let mut store = Store::open_in_memory().unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let acct = store.account("a").unwrap();
    store.apply_imap_batch(batch_of(inbox, 9, &[1])).unwrap();
    let out = store
        .apply_pop3_batch(acct, Pop3Batch { new: vec![new_pop3("u1", msg(1))], ..Pop3Batch::default() })
        .unwrap();
    assert_eq!(out, BatchOutcome { new: 1, deduplicated: 1, ..BatchOutcome::default() });
    let c = store.counts().unwrap();
    assert_eq!((c.messages, c.imap_locations, c.pop3_locations), (1, 1, 1));
    let id = store.imap_message(inbox, uid(1)).unwrap().unwrap();
    assert_eq!(store.pop3_known_uidls(acct).unwrap()[&uidl("u1")].message, id);

    let status = store.account_status(acct).unwrap();
    assert_eq!((status.folders, status.imap.messages, status.pop3.messages), (1, 1, 1));
    assert_eq!(status.pop3.bytes, u64::try_from(msg(1).len()).unwrap());
}

#[test]
fn imap_expunge_and_mailbox_deletion_never_remove_pop3_copies() {
    let mut store = Store::open_in_memory().unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let acct = store.account("a").unwrap();
    store
        .apply_pop3_batch(
            acct,
            Pop3Batch { new: vec![new_pop3("u1", msg(1)), new_pop3("u2", msg(2))], ..Pop3Batch::default() },
        )
        .unwrap();
    store.apply_imap_batch(batch_of(inbox, 9, &[1, 2])).unwrap();

    let mut b = ImapBatch::new(inbox);
    b.expunged = vec![uid(1)];
    let out = store.apply_imap_batch(b).unwrap();
    assert_eq!((out.removed, out.messages_deleted), (1, 0), "the POP3 copy keeps the message");
    store.delete_mailbox(inbox).unwrap();

    let c = store.counts().unwrap();
    assert_eq!((c.messages, c.imap_locations, c.pop3_locations), (2, 0, 2));
    let known = store.pop3_known_uidls(acct).unwrap();
    assert_eq!(store.raw(known[&uidl("u1")].message).unwrap(), msg(1));
}

#[test]
fn pop3_can_reattach_a_detached_message() {
    let mut store = Store::open_in_memory().unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let acct = store.account("a").unwrap();
    store.apply_imap_batch(batch_of(inbox, 9, &[1])).unwrap();
    store.reset_mailbox_for_uidvalidity(inbox, common::uidvalidity(10)).unwrap();
    let out = store
        .apply_pop3_batch(acct, Pop3Batch { new: vec![new_pop3("u1", msg(1))], ..Pop3Batch::default() })
        .unwrap();
    assert_eq!((out.deduplicated, out.reattached, out.stored), (1, 1, 0));
    assert_eq!(store.counts().unwrap().detached_messages, 0);
}

#[test]
fn deletions_are_marked_once_and_only_for_known_uidls() {
    let mut store = Store::open_in_memory().unwrap();
    let acct = store.account("a").unwrap();
    store
        .apply_pop3_batch(
            acct,
            Pop3Batch { new: vec![new_pop3("u1", msg(1)), new_pop3("u2", msg(2))], ..Pop3Batch::default() },
        )
        .unwrap();
    assert_eq!(store.mark_pop3_deleted(acct, &[uidl("u1"), uidl("nope")], 1_700_000_000).unwrap(), 1);
    assert_eq!(store.mark_pop3_deleted(acct, &[uidl("u1")], 1_800_000_000).unwrap(), 0, "first time stays");
    let known = store.pop3_known_uidls(acct).unwrap();
    assert_eq!(known[&uidl("u1")].deleted_on_server_at, Some(1_700_000_000));
    assert_eq!(known[&uidl("u2")].deleted_on_server_at, None);
    assert_eq!(store.counts().unwrap().pop3_deleted_on_server, 1);
    // The local copy stays.
    assert_eq!(store.raw(known[&uidl("u1")].message).unwrap(), msg(1));
}

#[test]
fn uidls_are_per_account() {
    let mut store = Store::open_in_memory().unwrap();
    let a = store.account("a").unwrap();
    let b = store.account("b").unwrap();
    store
        .apply_pop3_batch(a, Pop3Batch { new: vec![new_pop3("1", msg(1))], ..Pop3Batch::default() })
        .unwrap();
    let out = store
        .apply_pop3_batch(b, Pop3Batch { new: vec![new_pop3("1", msg(2))], ..Pop3Batch::default() })
        .unwrap();
    assert_eq!((out.new, out.stored), (1, 1));
    assert_eq!(store.pop3_known_uidls(b).unwrap().len(), 1);
    let err = store.apply_pop3_batch(mailsync_store::AccountId::new(77), Pop3Batch::default()).unwrap_err();
    assert!(matches!(err, StoreError::UnknownAccount(_)));
}

#[test]
fn find_by_message_id_and_hash_for_servers_without_uidl() {
    let mut store = Store::open_in_memory().unwrap();
    let acct = store.account("a").unwrap();
    store
        .apply_pop3_batch(acct, Pop3Batch { new: vec![new_pop3("x", msg(1))], ..Pop3Batch::default() })
        .unwrap();
    let id = store.find_by_hash(&content_hash(&msg(1))).unwrap().unwrap();
    assert_eq!(store.find_by_message_id_and_hash("<m1@example.com>", None).unwrap(), vec![id]);
    assert_eq!(
        store.find_by_message_id_and_hash("m1@example.com", Some(&content_hash(&msg(1)))).unwrap(),
        vec![id]
    );
    assert!(store
        .find_by_message_id_and_hash("m1@example.com", Some(&content_hash(&msg(2))))
        .unwrap()
        .is_empty());
    assert!(store.find_by_message_id_and_hash("m2@example.com", None).unwrap().is_empty());
}

#[test]
fn sync_runs_show_in_status() {
    let mut store = Store::open_in_memory().unwrap();
    let acct = store.account("a").unwrap();
    let run = store.begin_run(acct, Protocol::Pop3).unwrap();
    store
        .apply_pop3_batch(acct, Pop3Batch { new: vec![new_pop3("x", msg(1))], ..Pop3Batch::default() })
        .unwrap();
    store.finish_run(run, &RunSummary { new: 1, bytes: 10, ..RunSummary::default() }).unwrap();
    let status = store.account_status(acct).unwrap();
    let last = status.pop3.last_run.unwrap();
    assert_eq!((last.id, last.summary.new, last.summary.bytes), (run, 1, 10));
    assert!(status.imap.last_run.is_none());
    let mut imap_only = ImapBatch::new(mailbox(&mut store, "a", "INBOX"));
    imap_only.new.push(new_imap(1, msg(1)));
    store.apply_imap_batch(imap_only).unwrap();
    assert_eq!(store.account_status(acct).unwrap().imap.locations, 1);
}

#[test]
fn pop3_gaps_are_recorded_retried_and_cleared_when_stored() {
    let mut store = Store::open_in_memory().unwrap();
    let acct = store.account("a").unwrap();
    let gap =
        |reason: &str| Pop3Batch { gaps: vec![(uidl("u1"), reason.to_owned())], ..Pop3Batch::default() };
    assert_eq!(store.apply_pop3_batch(acct, gap("Exchange stand-in")).unwrap().unfetchable, 1);
    store.apply_pop3_batch(acct, gap("Exchange stand-in")).unwrap();
    let gaps = store.pop3_gaps(acct).unwrap();
    assert_eq!((gaps.len(), gaps[0].attempts, gaps[0].reason.as_str()), (1, 2, "Exchange stand-in"));
    store
        .apply_pop3_batch(acct, Pop3Batch { new: vec![new_pop3("u1", msg(1))], ..Pop3Batch::default() })
        .unwrap();
    assert!(store.pop3_gaps(acct).unwrap().is_empty());
}
