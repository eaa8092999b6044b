//! The world of these tests: a private Dovecot, a store in a temp dir, the engine run in-process on a
//! tokio runtime, and readers for both ends (what the store holds, what the server holds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailsync_engine::imap::{
    sync_account, AccountReport, FolderFilter, FolderReport, ImapSyncConfig, Limits, Observer,
};
use mailsync_engine::pop3::sync::sync_pop3;
use mailsync_engine::pop3::{PasswordMethod, Pop3Mode, Pop3Report, Pop3SyncConfig};
use mailsync_engine::{Credentials, Endpoint, EngineError, Reconnect, Security, StoreHandle, Timeouts};
use mailsync_store::Store;
use mailsync_testkit::oracle::{OracleImap, OraclePop3};
use mailsync_testkit::{Dovecot, DovecotOptions, Profile};

/// A Dovecot and a store.
pub struct World {
    pub dovecot: Dovecot,
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new(profile: Profile) -> World {
        let dovecot = Dovecot::start(DovecotOptions::with_profile(profile)).expect("start dovecot");
        World { dovecot, dir: tempfile::tempdir().unwrap() }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("mail.db")
    }

    /// An endpoint on 127.0.0.1:`port` with implicit TLS, trusting the instance's CA, with short time limits.
    pub fn endpoint(&self, port: u16) -> Endpoint {
        let mut ep = Endpoint::new("127.0.0.1", port, Security::Tls);
        ep.ca_file = Some(self.dovecot.ca_file());
        ep.timeouts = Timeouts::uniform(Duration::from_secs(10));
        ep
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::Password { user: "alice".into(), password: self.dovecot.password("alice").into() }
    }

    pub fn imap_config(&self, port: u16) -> ImapSyncConfig {
        ImapSyncConfig {
            account: "t".into(),
            endpoint: self.endpoint(port),
            credentials: self.credentials(),
            renew: None,
            filter: FolderFilter::default(),
            dry_run: false,
            limits: Limits { reconnect: fast_reconnect(), ..Limits::default() },
            now: now(),
            retry_gaps: false,
            only: None,
        }
    }

    pub fn pop3_config(&self, port: u16, mode: Pop3Mode) -> Pop3SyncConfig {
        let limits = Limits::default();
        Pop3SyncConfig {
            account: "t".into(),
            endpoint: self.endpoint(port),
            credentials: self.credentials(),
            renew: None,
            reconnect: fast_reconnect(),
            password_method: PasswordMethod::Auto,
            mode,
            force_delete_without_uidl: false,
            dry_run: false,
            now: now(),
            retry_gaps: false,
            max_message: limits.max_response,
            batch_messages: limits.batch_messages,
            batch_bytes: limits.batch_bytes,
        }
    }

    /// Seeds `folder` with `n` distinct small messages named by `tag`; returns their bytes in order.
    pub fn seed(&self, folder: &str, tag: &str, n: usize) -> Vec<Vec<u8>> {
        if folder != "INBOX" && !self.dovecot.folders("alice").unwrap().iter().any(|f| f == folder) {
            self.dovecot.create_folder("alice", folder).unwrap();
        }
        let msgs: Vec<Vec<u8>> = (1..=n)
            .map(|i| {
                format!(
                    "From: Ada <ada@example.org>\r\nSubject: {tag} {i}\r\nMessage-ID: <{tag}-{i}@example.org>\r\n\r\n\
                     Body of {tag} number {i}.\r\n"
                )
                .into_bytes()
            })
            .collect();
        let refs: Vec<(&[u8], &[mailsync_testkit::Flag])> =
            msgs.iter().map(|m| (m.as_slice(), &[][..])).collect();
        self.dovecot.seed("alice", folder, &refs).unwrap();
        msgs
    }

    /// What the server sends for every message of `folder` (IMAP, by UID).
    pub fn server_imap(&self, folder: &str) -> BTreeMap<u32, Vec<u8>> {
        let mut o = OracleImap::login(&self.dovecot, "alice").unwrap();
        let all = o.fetch_all(folder).unwrap();
        o.logout().unwrap();
        all.into_iter().collect()
    }

    /// What the server lists over POP3: (UIDL, bytes), in order.
    pub fn server_pop3(&self) -> Vec<(String, Vec<u8>)> {
        let mut o = OraclePop3::login(&self.dovecot, "alice").unwrap();
        let all = o.retr_all().unwrap();
        o.quit().unwrap();
        all
    }

    /// The server's flags of `folder` by UID: a read-only mirror must leave them as they were.
    pub fn server_flags(&self, folder: &str) -> BTreeMap<u32, Vec<String>> {
        self.dovecot.messages("alice", folder).unwrap().into_iter().map(|m| (m.uid, m.flags)).collect()
    }

    pub fn store(&self) -> Store {
        Store::open(self.db()).unwrap()
    }

    /// What the store holds for IMAP folder `folder`: UID -> bytes.
    pub fn stored(&self, folder: &str) -> BTreeMap<u32, Vec<u8>> {
        stored_in(&self.db(), folder)
    }
}

/// What the store at `db` holds for IMAP folder `folder`: UID -> bytes.
pub fn stored_in(db: &Path, folder: &str) -> BTreeMap<u32, Vec<u8>> {
    {
        let store = Store::open(db).unwrap();
        let Some(account) = store.find_account("t").unwrap() else { return BTreeMap::new() };
        let Some(mb) = store.mailboxes(account).unwrap().into_iter().find(|m| m.name == folder) else {
            return BTreeMap::new();
        };
        store
            .imap_locations(mb.id)
            .unwrap()
            .into_iter()
            .map(|(uid, _, _)| {
                let id = store.imap_message(mb.id, uid).unwrap().unwrap();
                (uid.get(), store.raw(id).unwrap())
            })
            .collect()
    }
}

/// Every POP3 message body in the store at `db`.
pub fn pop3_bodies(db: &Path) -> std::collections::BTreeSet<Vec<u8>> {
    let store = Store::open(db).unwrap();
    let Some(account) = store.find_account("t").unwrap() else { return Default::default() };
    store
        .pop3_known_uidls(account)
        .unwrap()
        .into_values()
        .map(|row| store.raw(row.message).unwrap())
        .collect()
}

impl World {
    /// The gaps of IMAP folder `folder`: UID -> (reason, attempts).
    pub fn gaps(&self, folder: &str) -> BTreeMap<u32, (String, u32)> {
        let store = self.store();
        let Some(account) = store.find_account("t").unwrap() else { return BTreeMap::new() };
        let Some(mb) = store.mailboxes(account).unwrap().into_iter().find(|m| m.name == folder) else {
            return BTreeMap::new();
        };
        store.unfetchable(mb.id).unwrap().into_iter().map(|g| (g.uid.get(), (g.reason, g.attempts))).collect()
    }

    /// Every POP3 identity stored with its bytes.
    pub fn stored_pop3(&self) -> BTreeMap<String, Vec<u8>> {
        let store = self.store();
        let Some(account) = store.find_account("t").unwrap() else { return BTreeMap::new() };
        store
            .pop3_known_uidls(account)
            .unwrap()
            .into_iter()
            .map(|(u, row)| (u.as_str().to_owned(), store.raw(row.message).unwrap()))
            .collect()
    }

    /// The folder names in the store.
    pub fn folders(&self) -> Vec<String> {
        let store = self.store();
        let Some(account) = store.find_account("t").unwrap() else { return Vec::new() };
        let mut v: Vec<String> = store.mailboxes(account).unwrap().into_iter().map(|m| m.name).collect();
        v.sort();
        v
    }
}

/// Reconnects as a run would, with the waits scaled down to milliseconds.
pub fn fast_reconnect() -> Reconnect {
    Reconnect { attempts: 6, base: Duration::from_millis(10), cap: Duration::from_millis(100) }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An observer that keeps what it was told.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    pub events: Arc<Mutex<Vec<String>>>,
}

impl Observer for Recorder {
    fn folder_started(&mut self, folder: &str, messages: u64, _bytes: u64) {
        self.events.lock().unwrap().push(format!("start {folder} {messages}"));
    }
    fn folder_finished(&mut self, r: &FolderReport) {
        self.events.lock().unwrap().push(format!("done {} new={} gaps={}", r.folder, r.new, r.gaps));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Runs one IMAP sync of `cfg` into the store at `db`, at the time it starts (as the CLI does).
pub fn imap_sync(db: &Path, cfg: &ImapSyncConfig) -> (AccountReport, Result<(), EngineError>) {
    let cfg = ImapSyncConfig { now: now(), ..cfg.clone() };
    runtime().block_on(async {
        let mut h = StoreHandle::spawn(Store::open(db).unwrap());
        let r = sync_account(&mut h, &cfg, &mut Recorder::default()).await;
        h.finish().await.unwrap();
        r
    })
}

/// Runs one POP3 sync of `cfg` into the store at `db`, at the time it starts (as the CLI does).
pub fn pop3_sync(db: &Path, cfg: &Pop3SyncConfig) -> (Pop3Report, Result<(), EngineError>) {
    let cfg = Pop3SyncConfig { now: now(), ..cfg.clone() };
    runtime().block_on(async {
        let mut h = StoreHandle::spawn(Store::open(db).unwrap());
        let r = sync_pop3(&mut h, &cfg, &mut Recorder::default()).await;
        h.finish().await.unwrap();
        r
    })
}

/// An IMAP sync that must succeed, with no folder failing.
pub fn imap_ok(db: &Path, cfg: &ImapSyncConfig) -> AccountReport {
    let (report, result) = imap_sync(db, cfg);
    result.unwrap_or_else(|e| panic!("sync failed: {e}\n{report:#?}"));
    assert!(report.folders.iter().all(|f| f.error.is_none()), "{report:#?}");
    report
}

/// The report of `folder`.
pub fn folder<'a>(r: &'a AccountReport, name: &str) -> &'a FolderReport {
    r.folders.iter().find(|f| f.folder == name).unwrap_or_else(|| panic!("no report for {name}: {r:#?}"))
}

// ---- rewriting server responses ------------------------------------------------------------------

/// The UID a FETCH response names, if it does.
pub fn fetch_uid(resp: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(resp.get(..resp.len().min(200))?);
    if !text.starts_with("* ") || !text.contains(" FETCH (") {
        return None;
    }
    let (_, rest) = text.split_once("UID ")?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// `resp` with `insert` placed right after `FETCH (`.
pub fn insert_item(resp: &[u8], insert: &str) -> Vec<u8> {
    let at = find(resp, b"FETCH (").map(|i| i + 7).unwrap_or(0);
    let mut out = resp.get(..at).unwrap_or_default().to_vec();
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(resp.get(at..).unwrap_or_default());
    out
}

/// `resp` with its `BODY[] {n}\r\n<n bytes>` item replaced by `item` (which may hold a literal of its own).
pub fn replace_body(resp: &[u8], item: &[u8]) -> Vec<u8> {
    let Some(start) = find(resp, b"BODY[] {") else { return resp.to_vec() };
    let after = resp.get(start + 8..).unwrap_or_default();
    let close = after.iter().position(|&b| b == b'}').unwrap();
    let n: usize = String::from_utf8_lossy(after.get(..close).unwrap()).parse().unwrap();
    let end = start + 8 + close + 1 + 2 + n;
    let mut out = resp.get(..start).unwrap_or_default().to_vec();
    out.extend_from_slice(item);
    out.extend_from_slice(resp.get(end..).unwrap_or_default());
    out
}

/// `BODY[] {len}\r\n<body>` for `body`.
pub fn body_item(body: &[u8]) -> Vec<u8> {
    let mut v = format!("BODY[] {{{}}}\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The text of Exchange's stand-in for message `n`, as bug reports show it.
pub fn exchange_stand_in(n: u32, protocol: &str) -> Vec<u8> {
    format!(
        "From: Microsoft Exchange Server\r\nSubject: Retrieval using the {protocol} protocol failed for the following \
         message: {n}\r\nContent-Type: text/plain\r\n\r\nThe server couldn't retrieve the following message:\r\n\r\n\
         Subject: \"lost?\"\r\n\r\nThe message hasn't been deleted. You might be able to view it using either Outlook \
         or Outlook Web App.\r\n"
    )
    .into_bytes()
}
