//! End to end, no server: mailsync touches only what is its own. `--db` is checked before anything is
//! created, changed or chmod-ed (a device, a text file, a symlink to one are refused untouched); the commands
//! that only read (`search`, `show`, `status`, `export`) open the store read-only, create nothing and work
//! without write access; `export --format maildir` follows no symlink inside its target; `show` treats every
//! id that names no message alike. Real files, modes and (as root) a real unprivileged user.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailsync_proto::types::Uid;
use mailsync_store::{ImapBatch, MailboxInfo, NewImapMessage, Store};

const BIN: &str = env!("CARGO_BIN_EXE_mailsync");

/// A store at `dir/mail.db` with two messages in INBOX.
fn build(dir: &Path) -> PathBuf {
    let db = dir.join("mail.db");
    let mut store = Store::open(&db).unwrap();
    let work = store.account("work").unwrap();
    let info =
        MailboxInfo { name: "INBOX".into(), delimiter: Some('/'), attributes: vec![], special_use: None };
    let inbox = store.upsert_mailbox(work, &info).unwrap();
    let mut b = ImapBatch::new(inbox);
    for n in 1..=2u32 {
        b.new.push(NewImapMessage {
            uid: Uid::try_from(n).unwrap(),
            flags: vec!["\\Seen".into()],
            internaldate: None,
            modseq: None,
            raw: format!("Message-ID: <m{n}@x>\r\nSubject: hello {n}\r\nFrom: a@x\r\n\r\nbody {n}\r\n")
                .into_bytes(),
            prepared: None,
        });
    }
    store.apply_imap_batch(b).unwrap();
    db
}

fn mailsync(config: &Path, db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RUST_LOG")
        .env("MAILSYNC_TEST_PW", "x")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A config with one account whose server is never reached (port 1 on loopback).
fn config(dir: &Path) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        "[accounts.t]\nuser = \"u\"\nauth = \"password\"\npassword_env = \"MAILSYNC_TEST_PW\"\n\
         [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"tls\"\n",
    )
    .unwrap();
    p
}

fn is_root() -> bool {
    // The owner of a file this process just created is its effective uid.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("probe");
    std::fs::write(&f, b"").unwrap();
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&f).unwrap()) == 0
}

/// Every command, read and write, refuses a `--db` that is a device (a real character device node in the
/// test's directory when root can make one, /dev/null otherwise), and its mode stays what it was.
#[test]
fn db_that_is_a_device_is_refused_and_never_chmod_ed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let dev = dir.path().join("null");
    let made = Command::new("mknod").arg(&dev).args(["c", "1", "3"]).status().map(|s| s.success());
    let dev = if made.unwrap_or(false) {
        std::fs::set_permissions(&dev, std::fs::Permissions::from_mode(0o666)).unwrap();
        dev
    } else {
        PathBuf::from("/dev/null")
    };
    let before = mode(&dev);
    for args in [&["search", "x"][..], &["show", "1"], &["status"], &["sync", "t"], &["sync", "--dry-run"]] {
        let o = mailsync(&cfg, &dev, args);
        assert_eq!(o.status.code(), Some(5), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("is a character device, not a database file"), "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert_eq!(mode(&dev), before, "{args:?} changed the device's mode");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.len() <= 2, "nothing beside the config and the device: {names:?}");
}

/// A text file, directly or through a symlink, is refused by reads and writes before anything is done to
/// it: same bytes, same mode, and no `-wal`/`-shm` beside it.
#[test]
fn db_that_is_a_text_file_or_a_symlink_to_one_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"my notes, not mail\n").unwrap();
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("link.db");
    symlink(&text, &link).unwrap();
    for db in [&text, &link] {
        for args in
            [&["search", "x"][..], &["status"], &["export", "--format", "eml", "--to", "out"], &["sync", "t"]]
        {
            let o = mailsync(&cfg, db, args);
            assert_eq!(o.status.code(), Some(5), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains("is not a SQLite database"), "{args:?}: {}", stderr(&o));
        }
    }
    assert_eq!(std::fs::read(&text).unwrap(), b"my notes, not mail\n");
    assert_eq!(mode(&text), 0o644);
    // An empty file that mailsync did not create (readable by others) is somebody else's: sync refuses it.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = mailsync(&cfg, &empty, &["sync", "t"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is an empty file that mailsync did not create (mode 644)"),
        "{}",
        stderr(&o)
    );
    assert_eq!((std::fs::read(&empty).unwrap(), mode(&empty)), (Vec::new(), 0o644));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["config.toml", "empty", "link.db", "notes.txt"]);
}

/// The read commands never create a store, a directory, or an export target when the store is missing, and
/// an empty file (what a first run that died leaves) stays empty.
#[test]
fn read_commands_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let missing = dir.path().join("sub/mail.db");
    for args in [&["search"][..], &["show", "1"], &["status"], &["export", "--format", "mbox", "--to", "out"]]
    {
        let o = mailsync(&cfg, &missing, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("no store at"), "{args:?}: {}", stderr(&o));
    }
    assert!(!dir.path().join("sub").exists() && !dir.path().join("out").exists());
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = mailsync(&cfg, &empty, &["status"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds no mail yet"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    assert_eq!(mode(&empty), 0o640, "a read does not chmod");
}

/// `search`, `show`, `status` and `export` read a store in a directory they cannot write (0555; as root the
/// commands run as `nobody` through setpriv, since root writes anywhere): they succeed, and the directory
/// and the database are exactly as before. Before, they opened read-write and failed "cannot create".
#[test]
fn read_commands_work_without_write_access() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = config(dir.path());
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let db = build(&ro);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let listing = |p: &Path| {
        let mut v: Vec<(String, u64, u32)> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (e.file_name().into_string().unwrap(), m.len(), m.permissions().mode())
            })
            .collect();
        v.sort();
        v
    };
    let before = listing(&ro);
    let bytes = std::fs::read(&db).unwrap();
    let root = is_root();
    let run = |args: &[&str]| {
        let mut c = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
            c
        } else {
            Command::new(BIN)
        };
        c.arg("--config").arg(&cfg).arg("--db").arg(&db).args(args).env_remove("RUST_LOG").output().unwrap()
    };
    let to = out.join("eml");
    let to = to.to_str().unwrap();
    for args in
        [&["search", "hello"][..], &["show", "1"], &["status"], &["export", "--format", "eml", "--to", to]]
    {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(std::fs::read_dir(out.join("eml")).unwrap().count(), 2, "both messages exported");
    assert_eq!(listing(&ro), before, "nothing created or changed beside the database");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A Maildir export into a target whose `cur` (or `tmp`) is a symlink writes nothing through it: the command
/// fails and the directory the symlink points at stays empty.
#[test]
fn maildir_export_follows_no_symlink_inside_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let db = build(dir.path());
    for sub in ["cur", "tmp"] {
        let outside = dir.path().join(format!("outside-{sub}"));
        std::fs::create_dir(&outside).unwrap();
        let md = dir.path().join(format!("md-{sub}"));
        std::fs::create_dir(&md).unwrap();
        symlink(&outside, md.join(sub)).unwrap();
        let o = mailsync(&cfg, &db, &["export", "--format", "maildir", "--to", md.to_str().unwrap()]);
        assert!(!o.status.success(), "{sub}");
        assert!(stderr(&o).contains("refusing to write through the symlink"), "{sub}: {}", stderr(&o));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{sub}: mail written outside --to");
    }
    let md = dir.path().join("md");
    let o = mailsync(&cfg, &db, &["export", "--format", "maildir", "--to", md.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(md.join("cur")).unwrap().count(), 2);
}

/// `show` says the same for every id that names no stored message, and exits 1 for all of them.
#[test]
fn show_treats_every_unknown_id_alike() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let db = build(dir.path());
    for id in ["-1", "0", "3", "99999999999", "99999999999999999999999", "<nobody@x>"] {
        let o = mailsync(&cfg, &db, &["show", id]);
        assert_eq!(o.status.code(), Some(1), "{id}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("mailsync: no stored message has"), "{id}: {}", stderr(&o));
    }
    assert!(mailsync(&cfg, &db, &["show", "2"]).status.success());
}
