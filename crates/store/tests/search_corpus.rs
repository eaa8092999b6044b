//! The search language against the fixture corpus (fixtures/messages, 24 files) plus two POP3-only
//! messages, stored through the real batch API: a known answer for every operator and combination.
//!
//! The store: account "work" has every fixture in IMAP INBOX (UID = fixture number; \Seen on odd
//! numbers, \Answered on 01, \Flagged on 03, \Draft on 07), 02 and 05 also in "Archive" (\Seen), and
//! POP3 copies of 01, 02 and 06 (the same bytes, so the same messages) plus "pop-only"; account "home"
//! has POP3 copies of 23 and "home-extra".

mod common;

use std::collections::HashMap;

use common::{mailbox, new_pop3, uid};
use mailsync_store::query::{Query, QueryErrorKind};
use mailsync_store::{
    content_hash, ImapBatch, NewImapMessage, Pop3Batch, SearchHit, SearchOptions, Sort, Store,
};

const POP_ONLY: &[u8] =
    b"From: Pat Pop <pat@pop.example>\r\nTo: alice@example.org\r\nSubject: Only over POP3\r\n\
Date: Wed, 15 Nov 2023 10:00:00 +0000\r\nMessage-ID: <pop-only@pop.example>\r\n\r\n\
This message was downloaded over POP3 and never seen through IMAP.\r\nIt mentions a kaleidoscope.\r\n";

const HOME_EXTRA: &[u8] =
    b"From: Hal Home <hal@home.example>\r\nTo: alice@example.org\r\nSubject: Holiday plans\r\n\
Date: Sat, 30 Dec 2023 18:00:00 +0000\r\nMessage-ID: <home-1@home.example>\r\n\r\n\
Let us plan the holidays: skiing in the Alps, then the kaleidoscope museum in town.\r\n\
Bring warm clothes, the camera, and the old map of the valley.\r\n";

fn fixture(n: u32) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/messages");
    let name = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|f| f.starts_with(&format!("{n:02}-")))
        .unwrap();
    std::fs::read(format!("{dir}/{name}")).unwrap()
}

struct Corpus {
    store: Store,
    names: HashMap<[u8; 32], String>,
}

fn imap(n: u32, raw: Vec<u8>, flags: &[&str]) -> NewImapMessage {
    NewImapMessage {
        uid: uid(n),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        internaldate: None,
        modseq: None,
        raw,
        prepared: None,
    }
}

fn corpus() -> Corpus {
    let mut store = Store::open_in_memory().unwrap();
    let mut names = HashMap::new();
    let inbox = mailbox(&mut store, "work", "INBOX");
    let archive = mailbox(&mut store, "work", "Archive");
    let mut batch = ImapBatch::new(inbox);
    for n in 1..=24 {
        let raw = fixture(n);
        names.insert(content_hash(&raw), format!("{n:02}"));
        let mut flags = Vec::new();
        if n % 2 == 1 {
            flags.push("\\Seen");
        }
        match n {
            1 => flags.push("\\Answered"),
            3 => flags.push("\\Flagged"),
            7 => flags.push("\\Draft"),
            _ => {}
        }
        batch.new.push(imap(n, raw, &flags));
    }
    assert_eq!(store.apply_imap_batch(batch).unwrap().stored, 24);
    let mut batch = ImapBatch::new(archive);
    batch.new = vec![imap(1, fixture(2), &["\\Seen"]), imap(2, fixture(5), &["\\Seen"])];
    assert_eq!(store.apply_imap_batch(batch).unwrap().deduplicated, 2);

    let work = store.account("work").unwrap();
    let pop = Pop3Batch {
        new: vec![
            new_pop3("u1", fixture(1)),
            new_pop3("u2", fixture(2)),
            new_pop3("u6", fixture(6)),
            new_pop3("u99", POP_ONLY.to_vec()),
        ],
        ..Pop3Batch::default()
    };
    let out = store.apply_pop3_batch(work, pop).unwrap();
    assert_eq!((out.deduplicated, out.stored), (3, 1));
    let home = store.account("home").unwrap();
    let pop = Pop3Batch {
        new: vec![new_pop3("h1", fixture(23)), new_pop3("h2", HOME_EXTRA.to_vec())],
        ..Pop3Batch::default()
    };
    assert_eq!(store.apply_pop3_batch(home, pop).unwrap().stored, 1);
    names.insert(content_hash(POP_ONLY), "pop-only".to_owned());
    names.insert(content_hash(HOME_EXTRA), "home-extra".to_owned());
    Corpus { store, names }
}

impl Corpus {
    /// The names of the messages `query` finds, sorted.
    fn find(&self, query: &str) -> Vec<String> {
        let q = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let mut found = Vec::new();
        self.store
            .search(&q, &SearchOptions::default(), |hit| {
                found.push(self.names.get(&hit.sha256).cloned().unwrap_or_else(|| format!("?{}", hit.id)));
                Ok::<(), mailsync_store::StoreError>(())
            })
            .unwrap();
        found.sort();
        found
    }
}

/// Every hit of `query`, in order.
fn hits(store: &Store, query: &str) -> Vec<SearchHit> {
    let mut all = Vec::new();
    store
        .search(&Query::parse(query).unwrap(), &SearchOptions::default(), |h| {
            all.push(h);
            Ok::<_, mailsync_store::StoreError>(())
        })
        .unwrap();
    all
}

/// (account, protocol, folder, uid, uidl) of a location.
type Place<'a> = (String, &'a str, Option<&'a str>, Option<u32>, Option<&'a str>);

fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn all_fixtures() -> Vec<String> {
    (1..=24).map(|n| format!("{n:02}")).collect()
}

#[test]
fn every_operator_has_a_known_answer() {
    let c = corpus();
    let odd: Vec<String> = (1..=24).filter(|n| n % 2 == 1).map(|n| format!("{n:02}")).collect();
    let even: Vec<String> = (1..=24).filter(|n| n % 2 == 0).map(|n| format!("{n:02}")).collect();
    let mut everything = all_fixtures();
    everything.extend(["home-extra".to_owned(), "pop-only".to_owned()]);
    everything.sort();
    let mut seen = odd.clone();
    seen.push("02".into());
    seen.sort();

    let table: Vec<(&str, Vec<String>)> = vec![
        // The empty query, free words, phrases, prefixes.
        ("", everything.clone()),
        ("analytical", names(&["01", "23"])),
        ("ANALYTICAL Engine", names(&["01", "23"])),
        ("\"analytical engine\"", names(&["01", "23"])),
        ("\"engine analytical\"", names(&[])),
        ("thursday", names(&["01", "23"])),
        ("punch*", names(&["23"])),
        ("kaleidoscope", names(&["home-extra", "pop-only"])),
        ("nanoseconds", names(&["02"])),
        // Encoded-word subjects by their decoded text; accents and case folded.
        ("subject:reuniao", names(&["04"])),
        ("orcamento", names(&["04"])),
        ("resume", names(&["05"])),
        ("Résumé", names(&["05"])),
        ("subject:geneve", names(&["05"])),
        ("francois", names(&["05"])),
        ("smorgasbord", names(&["15"])),
        ("from:angstrom", names(&["15"])),
        ("συναντηση", names(&["16"])),
        ("ВСТРЕЧА", names(&["16"])),
        ("москве", names(&["16"])),
        ("straßenbahn", names(&["21"])),
        ("brucke", names(&["21"])),
        // Scripts without spaces: substrings, including 1-2 characters.
        ("議事録", names(&["06"])),
        ("subject:議事録", names(&["06"])),
        ("東京本社", names(&["06"])),
        ("東京", names(&["06"])),
        ("from:山田", names(&["06"])),
        ("見積書", names(&["12"])),
        ("일정", names(&["13"])),
        ("회의 일정", names(&["13"])),
        ("进度报", names(&["14"])),
        ("进度", names(&["14"])),
        ("body:東京", names(&["06"])),
        ("subject:東京", names(&[])),
        // HTML: text found, script and style not.
        ("tomatoes sunshine", names(&["11"])),
        ("track", names(&[])),
        ("green", names(&[])),
        // Forwarded message text, the deeply nested and the 1 MB message.
        ("\"here they are\"", names(&["17"])),
        ("innermost", names(&["19"])),
        ("\"line 000001\"", names(&["10"])),
        ("\"line 021999\"", names(&[]) /* past the 1 MiB of body text indexed */),
        // Addresses.
        ("from:ada", names(&["01"])),
        ("from:lovelace", names(&["01"])),
        ("from:ada@example.org", names(&["01"])),
        ("from:example.net", names(&["23"])),
        ("to:bob", names(&["02"])),
        ("cc:bob", names(&["02"])),
        ("to:ada", names(&["23"])),
        ("cc:alice", names(&["16", "23"])),
        ("id:notes-0001@example.org", names(&["01"])),
        ("id:<notes-0001@example.org>", names(&["01"])),
        // Attachments.
        ("attachment:invoice", names(&["03"])),
        ("attachment:muller", names(&["22"])),
        ("attachment:passwd", names(&["22"])),
        ("attachment:ics", names(&["24"])),
        ("attachment:lighthouse.png", names(&["17"])),
        ("has:attachment", names(&["03", "17", "18", "22", "24"])),
        ("has:attachment -attachment:pdf", names(&["17", "18", "22", "24"])),
        // Dates (UTC days) and sizes.
        ("date:2024-05-06", names(&["01", "23"])),
        ("date:2024-05-01..2024-05-09", names(&["01", "02", "03", "04", "23"])),
        ("date:2023", names(&["home-extra", "pop-only"])),
        ("date:2023-12", names(&["home-extra"])),
        ("date:..2024-05-06", names(&["01", "23", "home-extra", "pop-only"])),
        ("before:2024-05-07", names(&["01", "23", "home-extra", "pop-only"])),
        ("after:2024-05-26", names(&["24"])),
        ("date:2024-05-25..", names(&["21", "22", "24"])),
        ("size:>1M", names(&["10"])),
        ("size:<250", names(&["07", "20", "21"])),
        ("size:1K..2K", names(&["17"])),
        // Locations: protocol, folder, account, flags: any location may match.
        ("via:pop3", names(&["01", "02", "06", "23", "home-extra", "pop-only"])),
        ("via:imap", all_fixtures()),
        ("via:imap via:pop3", names(&["01", "02", "06", "23"])),
        ("via:pop3 -via:imap", names(&["home-extra", "pop-only"])),
        ("not via:imap", names(&["home-extra", "pop-only"])),
        ("folder:archive", names(&["02", "05"])),
        ("folder:arch*", names(&["02", "05"])),
        ("folder:INBOX", all_fixtures()),
        ("folder:nope", names(&[])),
        ("account:home", names(&["23", "home-extra"])),
        ("account:work -folder:inbox", names(&["pop-only"])),
        ("flag:flagged", names(&["03"])),
        ("flag:answered", names(&["01"])),
        ("flag:draft", names(&["07"])),
        ("flag:unread", even),
        ("flag:seen", seen),
        ("is:unread folder:archive", names(&["02"])),
        // Combinations.
        ("analytical -from:bob", names(&["01"])),
        ("analytical and not from:bob", names(&["01"])),
        ("from:ada or from:grace", names(&["01", "02"])),
        ("(from:ada OR from:grace) date:2024-05-07", names(&["02"])),
        ("(議事録 or 进度) via:pop3", names(&["06"])),
        ("thursday (via:pop3 or flag:flagged)", names(&["01", "23"])),
        ("-(flag:seen or via:pop3)", names(&["04", "08", "10", "12", "14", "16", "18", "20", "22", "24"])),
        ("συναντησεις or Συνάντηση", names(&["16"])),
        ("ёлка", names(&[])),
        ("kaleidoscope account:work", names(&["pop-only"])),
    ];
    let mut failures = Vec::new();
    for (query, expected) in &table {
        let got = c.find(query);
        if &got != expected {
            failures.push(format!("{query:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries wrong:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn hits_are_messages_with_their_locations() {
    let c = corpus();
    let hits = hits(&c.store, "id:agenda-0002@example.com");
    assert_eq!(hits.len(), 1, "one message, three locations");
    let h = &hits[0];
    let places: Vec<Place<'_>> = h
        .locations
        .iter()
        .map(|l| {
            (
                l.account.clone(),
                l.protocol.as_str(),
                l.folder.as_deref(),
                l.uid.map(|u| u.get()),
                l.uidl.as_ref().map(|u| u.as_str()),
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![
            ("work".into(), "imap", Some("Archive"), Some(1), None),
            ("work".into(), "imap", Some("INBOX"), Some(2), None),
            ("work".into(), "pop3", None, None, Some("u2")),
        ]
    );
    assert_eq!(h.flags(), vec!["\\Seen".to_owned()]);
    assert_eq!(h.subject.as_deref(), Some("Compiler meeting agenda"));
    assert_eq!(h.date, Some(1_715_106_600));
    assert_eq!(h.sha256, content_hash(&fixture(2)));
    assert_eq!(h.size, 766);
}

#[test]
fn sort_and_limit() {
    let c = corpus();
    let order = |sort: Sort, limit: Option<u64>| {
        let mut got = Vec::new();
        c.store
            .search(
                &Query::parse("date:2024-05-01..2024-05-09").unwrap(),
                &SearchOptions { limit, sort },
                |h| {
                    got.push(c.names[&h.sha256].clone());
                    Ok::<_, mailsync_store::StoreError>(())
                },
            )
            .unwrap();
        got
    };
    assert_eq!(order(Sort::NewestFirst, None), ["04", "03", "02", "23", "01"]);
    assert_eq!(order(Sort::OldestFirst, Some(2)), ["01", "23"]);
    assert_eq!(order(Sort::NewestFirst, Some(0)), Vec::<String>::new());
    // Messages without a date come last both ways.
    let mut newest = Vec::new();
    c.store
        .search(&Query::parse("").unwrap(), &SearchOptions::default(), |h| {
            newest.push(c.names[&h.sha256].clone());
            Ok::<_, mailsync_store::StoreError>(())
        })
        .unwrap();
    assert_eq!(newest.first().map(String::as_str), Some("24"));
    assert_eq!(newest.last().map(String::as_str), Some("18"), "18 has an unparsable date");
    let mut oldest = Vec::new();
    c.store
        .search(&Query::parse("").unwrap(), &SearchOptions { limit: None, sort: Sort::OldestFirst }, |h| {
            oldest.push(c.names[&h.sha256].clone());
            Ok::<_, mailsync_store::StoreError>(())
        })
        .unwrap();
    assert_eq!(oldest.first().map(String::as_str), Some("pop-only"));
    assert_eq!(oldest.last().map(String::as_str), Some("18"));
    assert_eq!(c.store.count_matches(&Query::parse("via:pop3").unwrap()).unwrap(), 6);
}

#[derive(Debug, PartialEq)]
enum Stop {
    Store(String),
    ReaderGone,
}

impl From<mailsync_store::StoreError> for Stop {
    fn from(e: mailsync_store::StoreError) -> Self {
        Stop::Store(e.to_string())
    }
}

#[test]
fn callback_errors_stop_the_stream() {
    let c = corpus();
    let mut seen = 0;
    let r: Result<u64, Stop> = c.store.search(&Query::parse("").unwrap(), &SearchOptions::default(), |_| {
        seen += 1;
        if seen == 3 {
            Err(Stop::ReaderGone)
        } else {
            Ok(())
        }
    });
    assert_eq!(r, Err(Stop::ReaderGone));
    assert_eq!(seen, 3);
}

#[test]
fn attachments_are_listed_with_decoded_names_types_and_sizes() {
    let c = corpus();
    let id = hits(&c.store, "id:contract-0022@example.org")[0].id;
    let list: Vec<(usize, Option<String>, String, u64)> =
        c.store.attachments(id).unwrap().into_iter().map(|a| (a.part, a.name, a.mime_type, a.size)).collect();
    assert_eq!(
        list,
        vec![
            (
                2,
                Some("Vertragsentwurf Müller.docx".into()),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document".into(),
                22
            ),
            (3, Some("../../etc/passwd".into()), "text/plain".into(), 28),
        ]
    );
}

#[test]
fn bad_queries_are_refused_with_a_position() {
    for (q, column) in
        [("from:x foo:y", 8), ("a (b", 3), ("via:smtp", 5), ("date:2024-02-30", 6), ("x or", 3)]
    {
        let e = Query::parse(q).unwrap_err();
        assert_eq!(e.column, column, "{q}: {e}");
    }
    assert!(matches!(Query::parse("size:>lots").unwrap_err().kind, QueryErrorKind::BadValue { .. }));
}
