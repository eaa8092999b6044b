//! Exported mail re-reads byte for byte: every fixture through mboxrd (quoting `From ` lines, CRLF,
//! bare LF and a missing final newline included) and through Maildir (flags in the file name).

use std::collections::BTreeMap;

use mailsync_store::export::{mbox_from_line, read_mboxrd, write_mboxrd, Maildir};

fn fixtures() -> BTreeMap<String, Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/messages");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// Messages that stress mboxrd quoting beyond the fixtures.
fn tricky() -> Vec<Vec<u8>> {
    vec![
        b"Subject: from lines\r\n\r\nFrom the start\r\n>From quoted\r\n>>From twice\r\nFrom".to_vec(),
        b"From: first-line-is-a-header@example.org\n\nFrom \n".to_vec(),
        b"Subject: blank lines at the end\n\n\n\n".to_vec(),
        b"Subject: empty body\r\n\r\n".to_vec(),
    ]
}

#[test]
fn mbox_round_trip_is_byte_exact() {
    let mut messages: Vec<Vec<u8>> = fixtures().into_values().collect();
    assert_eq!(messages.len(), 24);
    messages.extend(tricky());
    let mut mbox = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let from =
            mbox_from_line(Some("Ada <ada@example.org>"), Some(1_714_983_300 + i64::try_from(i).unwrap()), 0);
        write_mboxrd(&mut mbox, &from, m).unwrap();
    }
    let back = read_mboxrd(&mbox);
    assert_eq!(back.len(), messages.len());
    for (i, (a, b)) in messages.iter().zip(&back).enumerate() {
        assert!(a == b, "message {i} differs after the round trip");
    }
    // Every separator is a From_ line and no message line starts with "From ".
    let separators = mbox.split(|&b| b == b'\n').filter(|l| l.starts_with(b"From ")).count();
    assert_eq!(separators, messages.len());
}

#[test]
fn maildir_round_trip_is_byte_exact_with_flags() {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::create(&dir.path().join("Mail")).unwrap();
    let flag_sets: [&[&str]; 4] = [&["\\Seen"], &[], &["\\Answered", "\\Seen", "\\Flagged"], &["\\Draft"]];
    let mut expected = BTreeMap::new();
    for (i, (name, raw)) in fixtures().into_iter().enumerate() {
        let flags: Vec<String> = flag_sets[i % 4].iter().map(|f| f.to_string()).collect();
        let path = md.deliver(&raw, &flags).unwrap();
        expected.insert(path.file_name().unwrap().to_string_lossy().into_owned(), (name, raw, i % 4));
    }
    let cur: Vec<_> =
        std::fs::read_dir(dir.path().join("Mail/cur")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(cur.len(), 24);
    assert_eq!(std::fs::read_dir(dir.path().join("Mail/tmp")).unwrap().count(), 0);
    for path in cur {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let (name, raw, set) = &expected[&file];
        assert_eq!(&std::fs::read(&path).unwrap(), raw, "{name}");
        let info = file.rsplit_once(":2,").map(|(_, f)| f).unwrap();
        assert_eq!(info, ["S", "", "FRS", "D"][*set], "{name}");
    }
}
