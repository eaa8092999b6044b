//! Shared helpers for the end-to-end tests: a private Dovecot, a config file pointing at it, the real
//! `mailsync` binary, and direct reads of the resulting SQLite store.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailsync_testkit::{Dovecot, DovecotOptions, Profile};

/// A test world: a Dovecot, a temp dir with config and database, and the password in the environment.
pub struct World {
    pub dovecot: Dovecot,
    pub dir: tempfile::TempDir,
}

pub const PW_ENV: &str = "MAILSYNC_TEST_PASSWORD";

impl World {
    pub fn new(profile: Profile) -> World {
        let dovecot = Dovecot::start(DovecotOptions::with_profile(profile)).expect("start dovecot");
        let dir = tempfile::tempdir().unwrap();
        let w = World { dovecot, dir };
        w.write_config("");
        w
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("mail.db")
    }

    /// Writes the account `t` (IMAPS + POP3S on the harness, trusting its CA), plus `extra` TOML lines in the
    /// account table.
    pub fn write_config(&self, extra: &str) {
        let p = self.dovecot.ports();
        let ca = self.dovecot.ca_file();
        let text = format!(
            "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\nca_file = \"{}\"\n{extra}\n\
             [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\n\n\
             [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\n",
            ca.display(),
            p.imaps,
            p.pop3s
        );
        std::fs::write(self.config(), text).unwrap();
    }

    /// Writes a config whose IMAP section is `imap_table` verbatim (for wrong ports, CAs...).
    pub fn write_raw_imap_config(&self, account_extra: &str, imap_table: &str) {
        let text = format!(
            "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\n{account_extra}\n\
             [accounts.t.imap]\n{imap_table}\n"
        );
        std::fs::write(self.config(), text).unwrap();
    }

    /// Runs `mailsync --config .. --db .. ARGS` with the account's password in the environment.
    pub fn mailsync(&self, args: &[&str]) -> Output {
        self.mailsync_with_password(args, self.dovecot.password("alice"))
    }

    pub fn mailsync_with_password(&self, args: &[&str], password: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mailsync"))
            .arg("--config")
            .arg(self.config())
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env(PW_ENV, password)
            .env_remove("RUST_LOG")
            .output()
            .expect("run mailsync")
    }

    /// `mailsync --json sync ARGS`, which must succeed; its summary objects.
    pub fn sync_json(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut full = vec!["--json", "sync"];
        full.extend_from_slice(args);
        let out = self.mailsync(&full);
        assert!(
            out.status.success(),
            "mailsync sync failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out.stdout)
    }

    pub fn store(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).unwrap()
    }

    /// What the store holds for IMAP folder `folder`: uid -> (flags, raw bytes).
    pub fn stored(&self, folder: &str) -> BTreeMap<u32, (String, Vec<u8>)> {
        stored(&self.db(), folder)
    }
}

pub fn stored(db: &Path, folder: &str) -> BTreeMap<u32, (String, Vec<u8>)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare(
            "SELECT l.uid, l.flags, m.raw FROM locations l JOIN mailboxes b ON b.id = l.mailbox_id
             JOIN message_bodies m ON m.message_id = l.message_id WHERE l.protocol = 'imap' AND b.name = ?1",
        )
        .unwrap();
    st.query_map([folder], |r| Ok((r.get::<_, u32>(0)?, (r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The summary object for `folder`.
pub fn summary<'a>(lines: &'a [serde_json::Value], folder: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|v| v["folder"] == folder)
        .unwrap_or_else(|| panic!("no summary for {folder} in {lines:?}"))
}

/// Sum of a numeric field over all summaries.
pub fn total(lines: &[serde_json::Value], field: &str) -> u64 {
    lines.iter().map(|v| v[field].as_u64().unwrap_or(0)).sum()
}

/// The server's flags per folder as a map uid -> "flags sorted space separated".
pub fn server_flags(d: &Dovecot, folder: &str) -> BTreeMap<u32, String> {
    d.messages("alice", folder).unwrap().into_iter().map(|m| (m.uid, m.flags.join(" "))).collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the store holds over POP3 for the account: uidl -> raw bytes.
pub fn stored_pop3(db: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT l.uidl, m.raw FROM locations l JOIN message_bodies m ON m.message_id = l.message_id WHERE l.protocol = 'pop3'")
        .unwrap();
    st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A one-value SQL query on the test database.
pub fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Whether the store at `db` exists with its schema: a run killed while creating the store leaves a file
/// without tables (the migration is one transaction), which the next run completes.
pub fn has_schema(db: &Path) -> bool {
    db.exists() && count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'locations'") == 1
}
