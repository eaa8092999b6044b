//! End to end: `mailsync search`, `show`, `export` and `status` on a store built from the fixture
//! corpus through the store's batch API (no server needed), run as the real binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailsync_proto::types::{Uid, Uidl};
use mailsync_store::export::read_mboxrd;
use mailsync_store::{
    content_hash, ImapBatch, MailboxInfo, NewImapMessage, NewPop3Message, Pop3Batch, Protocol, RunSummary,
    Store,
};

fn fixture(n: u32) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/messages");
    let name = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|f| f.starts_with(&format!("{n:02}-")))
        .unwrap();
    std::fs::read(format!("{dir}/{name}")).unwrap()
}

/// In INBOX (UID = fixture number).
const INBOX: [u32; 9] = [1, 2, 3, 6, 11, 17, 20, 22, 23];

fn imap(uid: u32, raw: Vec<u8>, flags: &[&str]) -> NewImapMessage {
    NewImapMessage {
        uid: Uid::try_from(uid).unwrap(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        internaldate: None,
        modseq: None,
        raw,
        prepared: None,
    }
}

/// A store at `dir/mail.db`: account "work" with the INBOX fixtures (\Seen on odd numbers, \Flagged on
/// 03), 02 also in Archive, POP3 copies of 01 and 23; one finished IMAP run and one failed POP3 run.
fn build(dir: &Path) -> PathBuf {
    let db = dir.join("mail.db");
    let mut store = Store::open(&db).unwrap();
    let work = store.account("work").unwrap();
    let info = |name: &str| MailboxInfo {
        name: name.into(),
        delimiter: Some('/'),
        attributes: vec![],
        special_use: None,
    };
    let inbox = store.upsert_mailbox(work, &info("INBOX")).unwrap();
    let archive = store.upsert_mailbox(work, &info("Archive")).unwrap();
    let mut b = ImapBatch::new(inbox);
    for n in INBOX {
        let mut flags = if n % 2 == 1 { vec!["\\Seen"] } else { vec![] };
        if n == 3 {
            flags.push("\\Flagged");
        }
        b.new.push(imap(n, fixture(n), &flags));
    }
    store.apply_imap_batch(b).unwrap();
    let mut b = ImapBatch::new(archive);
    b.new.push(imap(7, fixture(2), &["\\Seen", "\\Answered"]));
    store.apply_imap_batch(b).unwrap();
    let pop = Pop3Batch {
        new: vec![
            NewPop3Message { uidl: Uidl::new("u-one").unwrap(), raw: fixture(1), prepared: None },
            NewPop3Message { uidl: Uidl::new("u-23").unwrap(), raw: fixture(23), prepared: None },
        ],
        ..Pop3Batch::default()
    };
    store.apply_pop3_batch(work, pop).unwrap();
    let run = store.begin_run(work, Protocol::Imap).unwrap();
    store.finish_run(run, &RunSummary { new: 10, bytes: 9_000, ..RunSummary::default() }).unwrap();
    let run = store.begin_run(work, Protocol::Pop3).unwrap();
    store
        .finish_run(
            run,
            &RunSummary { new: 2, error: Some("connection reset".into()), ..RunSummary::default() },
        )
        .unwrap();
    db
}

fn mailsync(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .arg("--config")
        .arg(db.with_file_name("no-config.toml"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("COLUMNS")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {}: stderr: {}", o.status, String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// The message id (`search` column) of the message with this Message-ID.
fn id_of(db: &Path, message_id: &str) -> String {
    let rows = json_lines(&ok(&mailsync(db, &["--json", "search", &format!("id:{message_id}")])));
    assert_eq!(rows.len(), 1, "{message_id}");
    rows[0]["id"].to_string()
}

#[test]
fn search_json_carries_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    let rows = json_lines(&ok(&mailsync(&db, &["--json", "search", "analytical"])));
    assert_eq!(rows.len(), 2);
    let ada = rows.iter().find(|r| r["message_id"] == "notes-0001@example.org").unwrap();
    for field in [
        "id",
        "account",
        "via",
        "folder",
        "uid",
        "message_id",
        "date",
        "from",
        "to",
        "subject",
        "flags",
        "size",
        "sha256",
    ] {
        assert!(ada.get(field).is_some(), "{field} missing from {ada}");
    }
    assert_eq!(ada["account"], "work");
    assert_eq!(ada["via"], "imap");
    assert_eq!(ada["folder"], "INBOX");
    assert_eq!(ada["uid"], 1);
    assert_eq!(ada["date"], "2024-05-06T08:15:00Z");
    assert_eq!(ada["from"], "Ada Lovelace <ada@example.org>");
    assert_eq!(ada["subject"], "Notes on the analytical engine");
    assert_eq!(ada["flags"], serde_json::json!(["\\Seen"]));
    assert_eq!(ada["size"], 396);
    assert_eq!(ada["sha256"], hex(&content_hash(&fixture(1))));
    let locations = ada["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 2);
    assert_eq!(locations[1]["via"], "pop3");
    assert_eq!(locations[1]["uidl"], "u-one");
    // Newest first by default: 23 (11:00 +0100) before 01 (09:15 +0100).
    assert_eq!(rows[0]["message_id"], "notes-0001-re@example.net");

    let oldest = json_lines(&ok(&mailsync(
        &db,
        &["--json", "search", "--sort", "date", "--limit", "1", "analytical"],
    )));
    assert_eq!(oldest.len(), 1);
    assert_eq!(oldest[0]["message_id"], "notes-0001@example.org");
    let newest = json_lines(&ok(&mailsync(&db, &["--json", "search", "--sort", "-date", "--limit", "1"])));
    assert_eq!(newest[0]["message_id"], "contract-0022@example.org");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn search_table_and_query_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    let out = ok(&mailsync(&db, &["search", "from:ada", "via:pop3"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("DATE"), "{out}");
    assert!(lines[1].starts_with("2024-05-06 08:15  Ada Lovelace"), "{out}");
    assert!(
        lines[1].contains("Notes on the analytical engine")
            && lines[1].contains("INBOX")
            && lines[1].contains("imap,pop3"),
        "{out}"
    );
    assert!(lines.iter().all(|l| l.chars().count() <= 120), "not a terminal: 120 columns\n{out}");
    let narrow = Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .args(["--db", db.to_str().unwrap(), "search", "analytical"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let narrow = ok(&narrow);
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
    assert!(narrow.contains("Notes on the analytical…"), "long subjects are cut with an ellipsis\n{narrow}");

    // Arguments are joined; one that starts with `-` follows `--`.
    let out = ok(&mailsync(&db, &["--json", "search", "--", "-via:imap"]));
    assert_eq!(out.lines().count(), 0);
    let out = ok(&mailsync(&db, &["--json", "search", "\"analytical engine\" -from:bob"]));
    assert_eq!(json_lines(&out)[0]["message_id"], "notes-0001@example.org");
    let out = ok(&mailsync(&db, &["--json", "search", "議事録"]));
    assert_eq!(json_lines(&out)[0]["message_id"], "gijiroku-0006@example.jp");
    let out = ok(&mailsync(&db, &["--json", "search", "folder:archive", "flag:answered"]));
    assert_eq!(json_lines(&out)[0]["message_id"], "agenda-0002@example.com");
    let all = ok(&mailsync(&db, &["--json", "search"]));
    assert_eq!(all.lines().count(), INBOX.len());
}

#[test]
fn invalid_query_points_at_the_bad_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    let o = mailsync(&db, &["search", "from:ada", "colour:red"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("mailsync: invalid query at column 10: unknown field \"colour:\""), "{err}");
    assert_eq!(lines[1], "  from:ada colour:red");
    assert_eq!(lines[2], "           ^^^^^^^");
    let o = mailsync(
        &db,
        &["export", "(unclosed", "--format", "eml", "--to", dir.path().join("x").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with("mailsync: invalid query at column 1: unclosed '('")
    );
    assert!(!dir.path().join("x").exists(), "nothing is written for a bad query");
}

#[test]
fn query_commands_need_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    for args in [&["search", "x"][..], &["show", "1"], &["status"]] {
        let o = mailsync(&db, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("no store at"), "{args:?}");
    }
    assert!(!db.exists(), "a query does not create a store");
}

#[test]
fn show_text_raw_headers_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    let id = id_of(&db, "notes-0001@example.org");
    let raw = mailsync(&db, &["show", &id, "--raw"]);
    assert_eq!(raw.stdout, fixture(1), "--raw is the stored bytes");
    let headers = mailsync(&db, &["show", "<notes-0001@example.org>", "--headers"]);
    let f = fixture(1);
    let end = f.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(headers.stdout, &f[..end]);

    let text = ok(&mailsync(&db, &["show", &id]));
    assert!(
        text.starts_with(
            "Date:       Mon, 06 May 2024 09:15:00 +0100\nFrom:       Ada Lovelace <ada@example.org>\n"
        ),
        "{text}"
    );
    assert!(text.contains("Subject:    Notes on the analytical engine\n"), "{text}");
    assert!(
        text.contains("Stored:     work imap INBOX uid 1 [\\Seen]\nStored:     work pop3 uidl u-one\n"),
        "{text}"
    );
    assert!(text.contains("\n\nAlice,\n\nthe engine might compose elaborate pieces of music"), "{text}");

    let html = ok(&mailsync(&db, &["show", &id_of(&db, "news-0011@letters.example")]));
    assert!(html.contains("Tomatoes love sunshine & regular watering.\n\nUnsubscribe anytime."), "{html}");
    assert!(!html.contains("track()") && !html.contains("color:green"), "{html}");

    let jp = json_lines(&ok(&mailsync(&db, &["--json", "show", &id_of(&db, "gijiroku-0006@example.jp")])));
    assert_eq!(jp[0]["subject"], "会議の議事録について");
    assert_eq!(jp[0]["text"], "アリスさん\n\n来週の会議の議事録を添付します。東京本社にて。");

    let pdf = ok(&mailsync(&db, &["show", &id_of(&db, "invoice-2024-0317@shop.example")]));
    assert!(pdf.contains("Attachments:\n  [2] invoice-2024-0317.pdf  application/pdf  2.0 KB"), "{pdf}");
    let pdf =
        json_lines(&ok(&mailsync(&db, &["--json", "show", &id_of(&db, "invoice-2024-0317@shop.example")])));
    assert_eq!(
        pdf[0]["attachments"],
        serde_json::json!([{"part": 2, "name": "invoice-2024-0317.pdf", "mime_type": "application/pdf", "size": 2064}])
    );
    // An id that names no message is the user's error, like an unknown Message-ID (local_files.rs).
    let missing = mailsync(&db, &["show", "999999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no stored message has id 999999"));
}

#[test]
fn attachments_are_saved_under_safe_names_without_overwriting() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    let out_dir = dir.path().join("a/b/attachments");
    let id = id_of(&db, "contract-0022@example.org");
    let first = ok(&mailsync(&db, &["show", &id, "--attachments", out_dir.to_str().unwrap()]));
    assert_eq!(first.lines().count(), 2, "{first}");
    let second = ok(&mailsync(&db, &["show", &id, "--attachments", out_dir.to_str().unwrap()]));
    let names: BTreeSet<String> =
        std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let expected: BTreeSet<String> =
        ["Vertragsentwurf Müller.docx", "Vertragsentwurf Müller-1.docx", "passwd", "passwd-1"]
            .map(String::from)
            .into();
    assert_eq!(names, expected, "{second}");
    assert_eq!(std::fs::read(out_dir.join("passwd")).unwrap(), b"not really the password file");
    assert_eq!(
        std::fs::read(out_dir.join("Vertragsentwurf Müller.docx")).unwrap(),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00!\x00docx\x00\x00\x00\x00"
    );
    // Nothing escaped the directory.
    assert!(!dir.path().join("a/etc").exists() && !dir.path().join("etc").exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(out_dir.join("passwd")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn export_mbox_maildir_and_eml_reread_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    let expected: BTreeSet<Vec<u8>> = INBOX.iter().map(|&n| fixture(n)).collect();

    let mbox_dir = dir.path().join("mbox");
    let summary = ok(&mailsync(&db, &["export", "--format", "mbox", "--to", mbox_dir.to_str().unwrap()]));
    assert!(summary.starts_with(&format!("exported {} messages", INBOX.len())), "{summary}");
    let mbox = std::fs::read(mbox_dir.join("mailsync.mbox")).unwrap();
    let back: BTreeSet<Vec<u8>> = read_mboxrd(&mbox).into_iter().collect();
    assert_eq!(back, expected);
    assert!(mbox.starts_with(b"From ada@example.org Mon May  6 08:15:00 2024\n"), "oldest first");
    // A second export never overwrites the first.
    ok(&mailsync(&db, &["export", "via:pop3", "--format", "mbox", "--to", mbox_dir.to_str().unwrap()]));
    assert_eq!(std::fs::read(mbox_dir.join("mailsync.mbox")).unwrap(), mbox);
    assert_eq!(read_mboxrd(&std::fs::read(mbox_dir.join("mailsync-1.mbox")).unwrap()).len(), 2);

    let md = dir.path().join("Maildir");
    let summary = json_lines(&ok(&mailsync(
        &db,
        &["--json", "export", "--format", "maildir", "--to", md.to_str().unwrap()],
    )));
    assert_eq!(summary[0]["messages"], INBOX.len());
    let mut from_maildir = BTreeSet::new();
    let mut infos = Vec::new();
    for e in std::fs::read_dir(md.join("cur")).unwrap() {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let info = name.rsplit_once(":2,").unwrap().1.to_owned();
        if bytes == fixture(3) {
            assert_eq!(info, "FS", "03 is \\Flagged \\Seen");
        }
        if bytes == fixture(2) {
            assert_eq!(info, "RS", "02: the union of INBOX (none) and Archive (\\Seen \\Answered)");
        }
        infos.push(info);
        from_maildir.insert(bytes);
    }
    assert_eq!(from_maildir, expected);
    assert!(md.join("new").is_dir() && std::fs::read_dir(md.join("tmp")).unwrap().count() == 0);

    let eml = dir.path().join("eml");
    ok(&mailsync(&db, &["export", "has:attachment", "--format", "eml", "--to", eml.to_str().unwrap()]));
    let files: BTreeSet<Vec<u8>> =
        std::fs::read_dir(&eml).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    assert_eq!(files, [3, 17, 22].map(fixture).into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn status_per_account_and_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let db = build(dir.path());
    let out = ok(&mailsync(&db, &["status"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("ACCOUNT  VIA   MESSAGES  SIZE"), "{out}");
    assert!(lines[1].starts_with("work     imap  9 "), "{out}");
    assert!(lines[1].ends_with("ok: 10 new, 0 updated, 0 removed"), "{out}");
    assert!(lines[2].starts_with("work     pop3  2 "), "{out}");
    assert!(lines[2].ends_with("failed: connection reset"), "{out}");
    let rows = json_lines(&ok(&mailsync(&db, &["--json", "status", "work"])));
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["via"].as_str(), rows[0]["messages"].as_u64(), rows[0]["folders"].as_u64()),
        (Some("imap"), Some(9), Some(2))
    );
    let imap_bytes: u64 = INBOX.iter().map(|&n| u64::try_from(fixture(n).len()).unwrap()).sum();
    assert_eq!(rows[0]["bytes"], imap_bytes);
    assert_eq!(rows[0]["last_sync"]["outcome"], "ok");
    assert_eq!(rows[1]["via"], "pop3");
    assert_eq!(rows[1]["folders"], serde_json::Value::Null);
    assert_eq!(rows[1]["last_sync"]["outcome"], "failed");
    assert_eq!(rows[1]["last_sync"]["error"], "connection reset");
    let o = mailsync(&db, &["status", "nobody"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("account \"nobody\" is not in the store"));
}
