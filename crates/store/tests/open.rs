//! Opening the store file: modes, pragmas that persist in the file, migrations, newer schemas.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{batch_of, mailbox};
use mailsync_store::{schema_version, Store, StoreError};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn new_file_is_0600_in_a_new_0700_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/mailsync/mail.db");
    let mut store = Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("data/mailsync")), 0o700);
    assert_eq!(mode(&dir.path().join("data")), 0o700);

    // Writing creates the WAL and SHM files; SQLite gives them the database file's mode.
    let mb = mailbox(&mut store, "a", "INBOX");
    store.apply_imap_batch(batch_of(mb, 1, &[1])).unwrap();
    for companion in ["mail.db-wal", "mail.db-shm"] {
        let p = dir.path().join("data/mailsync").join(companion);
        assert_eq!(mode(&p), 0o600, "{companion}");
    }
}

#[test]
fn existing_0644_file_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    drop(Store::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let wal = dir.path().join("mail.db-wal");
    std::fs::write(&wal, b"").unwrap();
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(mode(&path), 0o644);

    let store = Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&wal), 0o600, "checked while open: SQLite removes the WAL file on close");
    drop(store);
}

#[test]
fn unwritable_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let path = blocker.join("sub/mail.db");
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with(&format!("cannot create directory {}: ", blocker.join("sub").display())));
}

#[test]
fn reopening_keeps_data_and_applies_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    {
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema_version());
        let mb = mailbox(&mut store, "a", "INBOX");
        store.apply_imap_batch(batch_of(mb, 7, &[1, 2])).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema_version());
    assert_eq!(store.counts().unwrap().messages, 2);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let journal: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(journal, "wal");
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'messages'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", schema_version() + 5).unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { found, supported, .. }
        if found == schema_version() + 5 && supported == schema_version()));
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}

#[test]
fn not_a_database_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    std::fs::write(
        &path,
        b"this is not sqlite, just some text that is long enough to look like a header....",
    )
    .unwrap();
    assert!(Store::open(&path).is_err());
}

/// Every entry of `dir` with its mode, size and modification time.
fn snapshot(dir: &std::path::Path) -> Vec<(String, u32, u64, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                m.permissions().mode() & 0o777,
                m.len(),
                m.modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn read_only_open_reads_and_leaves_every_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    {
        let mut store = Store::open(&path).unwrap();
        let mb = mailbox(&mut store, "a", "INBOX");
        store.apply_imap_batch(batch_of(mb, 7, &[1, 2, 3])).unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = snapshot(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    {
        let store = Store::open_read_only(&path).unwrap();
        assert_eq!(store.counts().unwrap().messages, 3);
        assert_eq!(store.schema_version().unwrap(), schema_version());
    }
    // SQLite's reader may leave an empty -wal and its -shm index (the database's companions, with its mode);
    // nothing else appears, and the database file itself is not changed.
    let after: Vec<_> = snapshot(dir.path())
        .into_iter()
        .filter(|(name, mode, len, _)| {
            !((name == "mail.db-wal" && *len == 0 || name == "mail.db-shm") && *mode == 0o644)
        })
        .collect();
    assert_eq!(after, before, "no other file created, chmod-ed or changed");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(mode(&path), 0o644, "a read-only open never chmods");
}

#[test]
fn read_only_open_sees_what_a_live_writer_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    let mut writer = Store::open(&path).unwrap();
    let mb = mailbox(&mut writer, "a", "INBOX");
    writer.apply_imap_batch(batch_of(mb, 7, &[1, 2])).unwrap();
    assert!(dir.path().join("mail.db-wal").exists(), "the commit sits in the WAL");
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.counts().unwrap().messages, 2);
    writer.apply_imap_batch(batch_of(mb, 7, &[3])).unwrap();
    assert_eq!(reader.counts().unwrap().messages, 3);
}

#[test]
fn read_only_open_refuses_what_is_not_a_store_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let err = Store::open_read_only(p("sub/missing.db")).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
    assert!(!p("sub").exists(), "no directory is created");
    std::fs::write(p("empty.db"), b"").unwrap();
    let err = Store::open_read_only(p("empty.db")).unwrap_err();
    assert!(matches!(err, StoreError::NoSchema { .. }), "{err:?}");
    std::fs::write(p("text.db"), b"not a database, just text").unwrap();
    let err = Store::open_read_only(p("text.db")).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let err = Store::open_read_only("/dev/null").unwrap_err();
    assert!(matches!(err, StoreError::NotAFile { .. }), "{err:?}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["empty.db", "text.db"]);
    assert_eq!(std::fs::read(p("empty.db")).unwrap(), b"", "the empty file stays empty");
}

#[test]
fn read_only_open_of_an_older_schema_asks_for_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", schema_version() - 1).unwrap();
    drop(conn);
    let err = Store::open_read_only(&path).unwrap_err();
    assert!(matches!(err, StoreError::OlderSchema { found, .. } if found == schema_version() - 1), "{err:?}");
    assert!(err.to_string().contains("run a sync once to upgrade it"), "{err}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, schema_version() - 1, "not migrated by a reader");
}

#[test]
fn write_open_refuses_a_non_database_before_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"my notes, not mail").unwrap();
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o664)).unwrap();
    let link = dir.path().join("mail.db");
    std::os::unix::fs::symlink(&text, &link).unwrap();
    for p in [&text, &link] {
        let err = Store::open(p).unwrap_err();
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    }
    assert_eq!(mode(&text), 0o664, "not chmod-ed");
    assert_eq!(std::fs::read(&text).unwrap(), b"my notes, not mail");
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotAFile { what: "a directory", .. }), "{err:?}");
}
