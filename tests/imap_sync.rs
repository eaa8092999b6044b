//! `mailsync sync --via imap` against a real Dovecot, under Dovecot's own capabilities (CONDSTORE, QRESYNC)
//! and under Exchange Online's exact list (neither): byte-exact mirror, flags, folders, incremental changes,
//! renames, UIDVALIDITY resets, and a server left exactly as it was.

mod common;

use common::{server_flags, summary, total, World};
use mailsync_testkit::oracle::OracleImap;
use mailsync_testkit::{fixture_messages, Flag, Profile};

const FOLDERS: [&str; 3] = ["INBOX", "Archive", "Lists/Rust"];

/// The fixture corpus spread over three folders with assorted flags.
fn seed(w: &World) {
    let all = fixture_messages().unwrap();
    for (i, (_, raw)) in all.iter().enumerate() {
        let flags: &[Flag] = match i % 5 {
            0 => &[Flag::Seen],
            1 => &[],
            2 => &[Flag::Seen, Flag::Flagged],
            3 => &[Flag::Answered, Flag::Seen],
            _ => &[Flag::Draft],
        };
        w.dovecot.seed("alice", FOLDERS[i % 3], &[(raw.as_slice(), flags)]).unwrap();
    }
}

/// Every folder: the store holds exactly the server's UIDs, flags and BODY[] bytes.
fn assert_mirrors(w: &World, folders: &[&str]) {
    let mut oracle = OracleImap::login(&w.dovecot, "alice").unwrap();
    for folder in folders {
        let server = oracle.fetch_all(folder).unwrap();
        let flags = server_flags(&w.dovecot, folder);
        let stored = w.stored(folder);
        assert_eq!(
            stored.keys().copied().collect::<Vec<_>>(),
            server.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
            "UIDs of {folder}"
        );
        for (uid, bytes) in &server {
            let (stored_flags, raw) = &stored[uid];
            assert!(raw == bytes, "{folder} uid {uid}: stored bytes differ from what the server sends");
            assert_eq!(stored_flags, &flags[uid], "{folder} uid {uid}: flags");
        }
    }
}

fn initial_sync_mirrors_every_folder(profile: Profile) {
    let w = World::new(profile);
    seed(&w);
    let before: Vec<_> = FOLDERS.iter().map(|f| server_flags(&w.dovecot, f)).collect();

    let lines = w.sync_json(&[]);
    assert_eq!(total(&lines, "new"), 24, "{lines:?}");
    assert_eq!(summary(&lines, "INBOX")["via"], "imap");
    assert!(total(&lines, "bytes") > 1_000_000, "the 1.5 MB fixture came through");
    assert_mirrors(&w, &FOLDERS);

    // Read-only: flags (\Seen included) exactly as before.
    let after: Vec<_> = FOLDERS.iter().map(|f| server_flags(&w.dovecot, f)).collect();
    assert_eq!(before, after, "the sync changed flags on the server");

    // A no-op re-sync downloads nothing.
    let again = w.sync_json(&[]);
    assert_eq!(
        (total(&again, "new"), total(&again, "bytes"), total(&again, "updated"), total(&again, "removed")),
        (0, 0, 0, 0)
    );
}

#[test]
fn initial_sync_mirrors_every_folder_dovecot_profile() {
    initial_sync_mirrors_every_folder(Profile::Dovecot);
}

#[test]
fn initial_sync_mirrors_every_folder_outlook_profile() {
    initial_sync_mirrors_every_folder(Profile::Outlook);
}

fn another_device_changes_are_mirrored(profile: Profile) {
    let w = World::new(profile);
    seed(&w);
    w.dovecot.create_folder("alice", "Old").unwrap();
    w.dovecot.seed("alice", "Old", &[(b"Subject: old\r\n\r\nold\r\n".as_slice(), &[])]).unwrap();
    w.sync_json(&[]);

    let d = &w.dovecot;
    d.flags_add("alice", "INBOX", 2, &[Flag::Seen, Flag::Flagged]).unwrap(); // read + flagged elsewhere
    d.flags_remove("alice", "INBOX", 1, &[Flag::Seen]).unwrap(); // marked unread elsewhere
    d.move_message("alice", "INBOX", 3, "Archive").unwrap();
    d.expunge("alice", "Archive", 1).unwrap();
    d.save("alice", "INBOX", b"From: new@example.org\r\nSubject: arrived\r\n\r\nnew\r\n").unwrap();
    d.create_folder("alice", "Projects").unwrap();
    d.seed("alice", "Projects", &[(b"Subject: p\r\n\r\np\r\n".as_slice(), &[Flag::Seen])]).unwrap();
    d.delete_folder("alice", "Old").unwrap();

    let lines = w.sync_json(&[]);
    let inbox = summary(&lines, "INBOX");
    assert_eq!(
        (inbox["new"].as_u64(), inbox["updated"].as_u64(), inbox["removed"].as_u64()),
        (Some(1), Some(2), Some(1)),
        "{inbox}"
    );
    let archive = summary(&lines, "Archive");
    assert_eq!((archive["new"].as_u64(), archive["removed"].as_u64()), (Some(1), Some(1)), "{archive}");
    assert_eq!(summary(&lines, "Projects")["new"], 1);
    assert!(summary(&lines, "Old")["note"].as_str().unwrap().contains("deleted on the server"));
    assert_mirrors(&w, &["INBOX", "Archive", "Lists/Rust", "Projects"]);
    let folders: Vec<String> = w
        .store()
        .prepare("SELECT name FROM mailboxes ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(folders, ["Archive", "INBOX", "Lists/Rust", "Projects"]);

    let again = w.sync_json(&[]);
    assert_eq!(
        (total(&again, "new"), total(&again, "bytes"), total(&again, "updated"), total(&again, "removed")),
        (0, 0, 0, 0)
    );
}

#[test]
fn another_device_changes_are_mirrored_dovecot_profile() {
    another_device_changes_are_mirrored(Profile::Dovecot);
}

#[test]
fn another_device_changes_are_mirrored_outlook_profile() {
    another_device_changes_are_mirrored(Profile::Outlook);
}

#[test]
fn a_renamed_folder_keeps_its_messages_without_downloading_them_again() {
    let w = World::new(Profile::Dovecot);
    seed(&w);
    w.sync_json(&[]);
    let before = w.stored("Lists/Rust");
    w.dovecot.rename_folder("alice", "Lists/Rust", "Lists/Rust 2026").unwrap();
    let lines = w.sync_json(&[]);
    let renamed = summary(&lines, "Lists/Rust 2026");
    assert_eq!((renamed["new"].as_u64(), renamed["bytes"].as_u64()), (Some(0), Some(0)), "{renamed}");
    assert!(renamed["note"].as_str().unwrap().contains("renamed from Lists/Rust"));
    assert_eq!(w.stored("Lists/Rust 2026"), before);
    assert!(w.stored("Lists/Rust").is_empty());
}

#[test]
fn uidvalidity_reset_rematches_and_loses_nothing() {
    let w = World::new(Profile::Outlook);
    seed(&w);
    w.sync_json(&[]);
    let messages_before: i64 =
        w.store().query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
    let archive: Vec<Vec<u8>> = w.stored("Archive").into_values().map(|(_, raw)| raw).collect();

    // The folder is deleted and recreated on the server with the same mail, minus one message.
    w.dovecot.delete_folder("alice", "Archive").unwrap();
    w.dovecot.create_folder("alice", "Archive").unwrap();
    let keep: Vec<(&[u8], &[Flag])> = archive.iter().skip(1).map(|r| (r.as_slice(), &[][..])).collect();
    w.dovecot.seed("alice", "Archive", &keep).unwrap();

    let lines = w.sync_json(&[]);
    let s = summary(&lines, "Archive");
    assert!(s["note"].as_str().unwrap().contains("UIDVALIDITY changed"), "{s}");
    assert_eq!(s["new"].as_u64(), Some(u64::try_from(archive.len() - 1).unwrap()));
    assert_mirrors(&w, &FOLDERS);
    // Nothing stored twice, and the message the server dropped is still in the store, not lost silently.
    let c = w.store();
    let messages_after: i64 = c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
    assert_eq!(messages_after, messages_before);
    let dup: i64 =
        c.query_row("SELECT count(*) - count(DISTINCT sha256) FROM messages", [], |r| r.get(0)).unwrap();
    assert_eq!(dup, 0);
}

#[test]
fn exchange_non_mail_folders_are_skipped() {
    let w = World::new(Profile::Outlook);
    seed(&w);
    for f in ["Calendar", "Calendar/Birthdays", "Contacts", "Tasks", "Sync Issues", "Notes from Bob"] {
        w.dovecot.create_folder("alice", f).unwrap();
        w.dovecot.seed("alice", f, &[(b"Subject: item\r\n\r\nx\r\n".as_slice(), &[])]).unwrap();
    }
    let lines = w.sync_json(&[]);
    let (skipped, synced): (Vec<_>, Vec<_>) = lines.iter().partition(|v| v["skipped"].is_string());
    let folders: Vec<&str> = synced.iter().filter_map(|v| v["folder"].as_str()).collect();
    let left_out: Vec<&str> = skipped.iter().filter_map(|v| v["folder"].as_str()).collect();
    assert!(folders.contains(&"Notes from Bob"), "{folders:?}");
    for name in ["Calendar", "Calendar/Birthdays", "Contacts", "Tasks", "Sync Issues"] {
        assert!(!folders.contains(&name), "{name} was synced: {folders:?}");
        assert!(left_out.contains(&name), "{name} is not reported as skipped: {left_out:?}");
    }
    assert!(skipped.iter().all(|v| v["skipped"] == "excluded (non-mail folder or folder pattern)"));
}

#[test]
fn dry_run_reports_and_writes_nothing() {
    let w = World::new(Profile::Dovecot);
    seed(&w);
    let lines = w.sync_json(&["--dry-run"]);
    assert_eq!(total(&lines, "new"), 24);
    assert!(lines.iter().all(|v| v["dry_run"] == true));
    assert!(!w.db().exists(), "a dry run created the database");
}

#[test]
fn a_dry_run_leaves_an_existing_store_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new(Profile::Dovecot);
    seed(&w);
    w.sync_json(&[]);
    // Changes on the server for the dry run to find, and a store made readable by others (which a real sync
    // would tighten to 0600).
    w.dovecot.seed("alice", "INBOX", &[(b"Subject: later\r\n\r\nlater\r\n".as_slice(), &[][..])]).unwrap();
    std::fs::set_permissions(w.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = || {
        let raw = std::fs::read(w.db()).unwrap();
        (raw, std::fs::metadata(w.db()).unwrap().permissions().mode() & 0o777)
    };
    let before = file();
    let lines = w.sync_json(&["--dry-run"]);
    assert_eq!(total(&lines, "new"), 1, "{lines:#?}");
    assert!(lines.iter().all(|v| v["dry_run"] == true));
    let after = file();
    assert!(before.0 == after.0, "a dry run changed the database file");
    assert_eq!(after.1, 0o644, "a dry run changed the database file's mode");
    // (Reading a WAL database leaves SQLite's index behind; the log itself holds nothing written.)
    let wal = w.db().with_extension("db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "a dry run wrote to the log");
}
