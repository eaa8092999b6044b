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
