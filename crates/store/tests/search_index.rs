//! The full-text index stays consistent with `messages`: written with the message, removed with it,
//! rebuilt for stores created before it existed.

mod common;

use common::{mailbox, new_imap, new_pop3, uid};
use mailsync_store::query::Query;
use mailsync_store::{content_hash, index_message, ImapBatch, Pop3Batch, SearchOptions, Store, StoreError};

const WITH_EVERYTHING: &[u8] = "Message-ID: <idx-1@example.org>\r\nFrom: Ada <ada@example.org>\r\n\
Subject: =?UTF-8?B?5Lya6K2w44Gu6K2w5LqL6Yyy?= quarterly\r\nDate: Mon, 06 May 2024 09:15:00 +0000\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
zebra crossing\r\n--b\r\nContent-Type: application/pdf; name=\"minutes.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLg==\r\n--b--\r\n"
    .as_bytes();

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn find(store: &Store, q: &str) -> usize {
    let mut n = 0;
    store
        .search(&Query::parse(q).unwrap(), &SearchOptions::default(), |_| {
            n += 1;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    n
}

#[test]
fn deleting_the_last_location_removes_every_index_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut store = Store::open(&path).unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    let mut b = ImapBatch::new(inbox);
    b.new.push(new_imap(1, WITH_EVERYTHING.to_vec()));
    store.apply_imap_batch(b).unwrap();
    let acct = store.account("a").unwrap();
    store
        .apply_pop3_batch(
            acct,
            Pop3Batch { new: vec![new_pop3("p1", WITH_EVERYTHING.to_vec())], ..Pop3Batch::default() },
        )
        .unwrap();

    let raw = rusqlite::Connection::open(&path).unwrap();
    let rows = |raw: &rusqlite::Connection| {
        (
            count(raw, "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'zebra'"),
            count(raw, "SELECT count(*) FROM message_trigram"),
            count(raw, "SELECT count(*) FROM attachments"),
        )
    };
    assert_eq!(rows(&raw), (1, 1, 1), "one message, indexed once although it has two locations");
    assert_eq!(
        (find(&store, "zebra"), find(&store, "議事録"), find(&store, "attachment:minutes")),
        (1, 1, 1)
    );

    // Expunged over IMAP: the POP3 location keeps the message and its index.
    let mut b = ImapBatch::new(inbox);
    b.expunged.push(uid(1));
    assert_eq!(store.apply_imap_batch(b).unwrap().messages_deleted, 0);
    assert_eq!(rows(&raw), (1, 1, 1));

    // A message with only an IMAP location goes with its expunge, and its index rows with it.
    let mut b = ImapBatch::new(inbox);
    b.new.push(new_imap(2, b"Subject: gnu only here\r\n\r\nyak\r\n".to_vec()));
    store.apply_imap_batch(b).unwrap();
    assert_eq!(find(&store, "yak"), 1);
    let mut b = ImapBatch::new(inbox);
    b.expunged.push(uid(2));
    assert_eq!(store.apply_imap_batch(b).unwrap().messages_deleted, 1);
    assert_eq!(find(&store, "yak"), 0);
    assert_eq!(find(&store, "gnu"), 0);
    assert_eq!(count(&raw, "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'yak OR gnu'"), 0);
    assert_eq!(rows(&raw), (1, 1, 1), "the other message's rows are untouched");
}

/// The index segments FTS5 has written (each `%_idx` row points into one segment).
fn fts_segments(conn: &rusqlite::Connection) -> i64 {
    count(conn, "SELECT count(DISTINCT segid) FROM message_fts_idx")
}

#[test]
fn one_batch_writes_one_index_segment() {
    // FTS5 flushes its pending terms to a new segment whenever a statement of the transaction opens a
    // statement journal; storing a message must not, or each message becomes a segment of its own and
    // the writer spends its time merging them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut store = Store::open(&path).unwrap();
    let inbox = mailbox(&mut store, "a", "INBOX");
    store.apply_imap_batch(common::batch_of(inbox, 1, &(1..=40).collect::<Vec<_>>())).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(fts_segments(&raw), 1, "40 messages over IMAP in one batch");
    assert_eq!(count(&raw, "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'body'"), 40);

    let acct = store.account("a").unwrap();
    let new = (41..=80).map(|n| new_pop3(&format!("p{n}"), common::msg(n))).collect();
    store.apply_pop3_batch(acct, Pop3Batch { new, ..Pop3Batch::default() }).unwrap();
    assert_eq!(fts_segments(&raw), 2, "40 more over POP3 in one batch: one more segment");
    assert_eq!(count(&raw, "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'body'"), 80);
}

#[test]
fn mailbox_deletion_unindexes_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut store = Store::open(&path).unwrap();
    let mb = mailbox(&mut store, "a", "Old");
    let mut b = ImapBatch::new(mb);
    b.new.push(new_imap(1, WITH_EVERYTHING.to_vec()));
    store.apply_imap_batch(b).unwrap();
    store.delete_mailbox(mb).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(count(&raw, "SELECT count(*) FROM messages"), 0);
    assert_eq!(count(&raw, "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'zebra'"), 0);
    assert_eq!(count(&raw, "SELECT count(*) FROM message_trigram"), 0);
    assert_eq!(count(&raw, "SELECT count(*) FROM attachments"), 0);
}

#[test]
fn a_version_1_store_is_reindexed_by_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // A store as schema version 1 left it: messages and locations, no index tables.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../../migrations/0001_init.sql")).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute("INSERT INTO accounts (id, name, created_at) VALUES (1, 'a', 0)", []).unwrap();
        conn.execute("INSERT INTO mailboxes (id, account_id, name) VALUES (1, 1, 'INBOX')", []).unwrap();
        let ix = index_message(WITH_EVERYTHING);
        conn.execute(
            "INSERT INTO messages (id, sha256, size, message_id, subject, has_attachments, created_at, raw)
             VALUES (7, ?1, ?2, ?3, ?4, 1, 0, ?5)",
            rusqlite::params![
                &content_hash(WITH_EVERYTHING)[..],
                i64::try_from(WITH_EVERYTHING.len()).unwrap(),
                ix.message_id,
                ix.subject,
                WITH_EVERYTHING
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO locations (message_id, account_id, protocol, mailbox_id, uid, first_seen_at)
             VALUES (7, 1, 'imap', 1, 1, 0)",
            [],
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), mailsync_store::schema_version());
    // Migration 3 moved the bytes to their own table, unchanged.
    assert_eq!(store.raw(mailsync_store::MessageId::new(7)).unwrap(), WITH_EVERYTHING);
    assert_eq!(find(&store, "zebra quarterly"), 1);
    assert_eq!(find(&store, "議事録"), 1);
    assert_eq!(find(&store, "from:ada"), 1, "header fields are re-read from the raw bytes");
    assert_eq!(find(&store, "attachment:minutes.pdf"), 1);
    let list = store.attachments(mailsync_store::MessageId::new(7)).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].name.as_deref(), list[0].size), (Some("minutes.pdf"), 7));
}

#[test]
fn broken_and_odd_messages_are_stored_and_indexed_as_far_as_they_go() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let mut b = ImapBatch::new(mb);
    let odd: [&[u8]; 5] = [
        b"",
        b"\xff\xfe\x00garbage",
        b" leading space\r\n\r\nbody words\r\n",
        b"Subject: unterminated\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>half an <b",
        b"Subject: bad charset\r\nContent-Type: text/plain; charset=klingon\r\n\r\nqapla\r\n",
    ];
    for (i, raw) in odd.iter().enumerate() {
        b.new.push(new_imap(u32::try_from(i + 1).unwrap(), raw.to_vec()));
    }
    assert_eq!(store.apply_imap_batch(b).unwrap().stored, 5);
    assert_eq!(find(&store, ""), 5);
    assert_eq!(find(&store, "qapla"), 1);
    assert_eq!(find(&store, "half"), 1);
    assert_eq!(find(&store, "subject:unterminated"), 1);
}

/// Random queries over the language's special characters: parsing never panics, and every query
/// that parses runs (its SQL always prepares and its FTS5 expression is always valid).
#[test]
fn every_query_that_parses_runs() {
    let mut store = Store::open_in_memory().unwrap();
    let mb = mailbox(&mut store, "a", "INBOX");
    let mut b = ImapBatch::new(mb);
    b.new.push(new_imap(1, WITH_EVERYTHING.to_vec()));
    store.apply_imap_batch(b).unwrap();
    let pieces = [
        " ",
        " ",
        "(",
        ")",
        "\"",
        "-",
        "*",
        ":",
        "or ",
        "and ",
        "not ",
        "from:",
        "subject:",
        "folder:",
        "flag:",
        "date:",
        "size:",
        "via:",
        "has:",
        "id:",
        "zebra",
        "a",
        "é",
        "議事",
        "録",
        "..",
        ">",
        "1K",
        "2024-05-06",
        "%",
        "_",
        "\\",
        "'",
        "{",
        "}",
        "^",
        "NEAR",
        "+",
        "\u{0}",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut parsed = 0;
    for _ in 0..3_000 {
        let mut q = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = 1 + (state % 8);
        for i in 0..len {
            let k = usize::try_from((state >> (i * 5)) % u64::try_from(pieces.len()).unwrap()).unwrap();
            q.push_str(pieces[k]);
        }
        let Ok(query) = Query::parse(&q) else { continue };
        parsed += 1;
        if let Err(e) = store.search(&query, &SearchOptions::default(), |_| Ok::<_, StoreError>(())) {
            panic!("{q:?} parsed but failed to run: {e}");
        }
    }
    assert!(parsed > 500, "only {parsed} of 3000 random queries parsed");
}
