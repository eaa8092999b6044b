//! The IMAP mirror run: every wanted folder of one account brought into the store, read-only toward the
//! server, incremental, crash-safe.
//!
//! Owns: the order of a run (connect, ENABLE QRESYNC, LIST, per folder EXAMINE + plan + changes + new bodies,
//! then folder deletions), folder renames (a vanished folder whose UIDVALIDITY reappears under a new name),
//! batching of fetched messages to the store writer, the final per-folder cursor, and retrying after Outlook's
//! throttling. Must never: SELECT (only EXAMINE) or fetch without `.PEEK`; advance a folder's cursor before
//! every message below it is committed; treat a UID that FETCH never returns as fatal.
//!
//! RFC 3501 sections 6.3.2 (EXAMINE), 6.3.8 (LIST), 6.4.5 (FETCH), 6.4.8 (UID); RFC 7162 sections 3.1.4
//! (FETCH MODSEQ), 3.2.5 (SELECT/EXAMINE QRESYNC) and 3.2.10 (VANISHED); RFC 6154 (SPECIAL-USE).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use mailsync_proto::imap::command::{Command, FetchAttr, QresyncParams, SearchKey};
use mailsync_proto::imap::mutf7;
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{
    Capabilities, Code, CommandId, Event, ListItem, MailboxAttr, Section, StatusKind, Untagged,
};
use mailsync_proto::{ModSeq, Uid, UidValidity};
use mailsync_store::{
    AccountId, ImapBatch, MailboxCursor, MailboxId, MailboxInfo, MailboxRow, NewImapMessage, Prepared,
    Protocol, RunId, RunSummary,
};

use super::client::ImapClient;
use super::folders::FolderFilter;
use super::plan::{diff_folder, normalize_flags, plan_folder, FolderPlan, LocalCursor, ServerFolder};
use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::writer::StoreHandle;
use crate::EngineError;

/// Sizes and counts that bound a run's memory and shape its pipelining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages per store transaction.
    pub batch_messages: usize,
    /// Raw bytes per store transaction (a batch closes at whichever limit comes first).
    pub batch_bytes: usize,
    /// UIDs per `UID FETCH` command.
    pub fetch_chunk: usize,
    /// `UID FETCH` commands in flight at once.
    pub pipeline: usize,
    /// The largest server response (so the largest message) accepted.
    pub max_response: usize,
    /// How often a throttled run reconnects before giving up.
    pub throttle_retries: u32,
    /// The longest back-off honoured; a longer suggestion fails the run instead.
    pub max_backoff: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        // Measured on a 200 MB mailbox: 4 MiB / 128-message batches are as fast as 16 MiB / 256 ones and
        // keep peak RSS at 44 MB instead of 66 MB (three batches can be alive: filling, queued, writing).
        Limits {
            batch_messages: 128,
            batch_bytes: 4 << 20,
            fetch_chunk: 512,
            pipeline: 2,
            max_response: 256 << 20,
            throttle_retries: 5,
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What an IMAP run needs to know.
#[derive(Debug, Clone)]
pub struct ImapSyncConfig {
    /// The account's name in the store.
    pub account: String,
    /// Where the server is.
    pub endpoint: Endpoint,
    /// How to log in.
    pub credentials: Credentials,
    /// Which folders to mirror.
    pub filter: FolderFilter,
    /// Plan and report without writing anything.
    pub dry_run: bool,
    /// Sizes.
    pub limits: Limits,
}

/// What one folder's sync did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FolderReport {
    /// The folder's name (UTF-8).
    pub folder: String,
    /// Messages added to the folder's local mirror (in a dry run: that would be).
    pub new: u64,
    /// Messages whose flags changed.
    pub updated: u64,
    /// Messages removed because the server expunged them.
    pub removed: u64,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// UIDs the server listed but would not return (recorded, skipped from now on).
    pub unfetchable: u64,
    /// Something worth telling (a rename, a UIDVALIDITY reset).
    pub note: Option<String>,
    /// Why this folder failed, if it did (the run goes on with the other folders).
    pub error: Option<String>,
}

/// What one account's IMAP run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountReport {
    /// The account.
    pub account: String,
    /// One report per folder synced, in order.
    pub folders: Vec<FolderReport>,
    /// Local folders removed because the server no longer has them.
    pub deleted_folders: Vec<String>,
    /// Folders the server lists that were left out, with the reason.
    pub skipped_folders: Vec<(String, String)>,
}

impl AccountReport {
    fn merge(&mut self, r: FolderReport) {
        match self.folders.iter_mut().find(|f| f.folder == r.folder) {
            Some(f) => {
                f.new += r.new;
                f.updated += r.updated;
                f.removed += r.removed;
                f.bytes += r.bytes;
                f.seconds += r.seconds;
                f.unfetchable += r.unfetchable;
                f.note = r.note.or(f.note.take());
                f.error = r.error;
            }
            None => self.folders.push(r),
        }
    }
}

/// Progress callbacks (a progress bar, say). All optional.
pub trait Observer: Send {
    /// A folder's downloads begin: how many messages and (when known) bytes.
    fn folder_started(&mut self, _folder: &str, _messages: u64, _bytes: u64) {}
    /// One message arrived.
    fn message_fetched(&mut self, _bytes: u64) {}
    /// A folder is done.
    fn folder_finished(&mut self, _report: &FolderReport) {}
    /// The server asked us to wait.
    fn throttled(&mut self, _wait: Duration) {}
}

/// An observer that observes nothing.
#[derive(Debug, Default)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Mirrors the account's folders into the store. Returns the report of what was done even when the run
/// failed part-way (everything before the failure is committed), and the error if it did.
pub async fn sync_account(
    store: &mut StoreHandle,
    cfg: &ImapSyncConfig,
    obs: &mut dyn Observer,
) -> (AccountReport, Result<(), EngineError>) {
    let mut report = AccountReport { account: cfg.account.clone(), ..AccountReport::default() };
    let run = match begin_run(store, cfg).await {
        Ok(run) => run,
        Err(e) => return (report, Err(e)),
    };
    let mut attempts = 0;
    let result = loop {
        match sync_once(store, cfg, obs, &mut report).await {
            Err(EngineError::Throttled { addr, millis }) if attempts < cfg.limits.throttle_retries => {
                let wait = Duration::from_millis(millis);
                if wait > cfg.limits.max_backoff {
                    break Err(EngineError::Throttled { addr, millis });
                }
                attempts += 1;
                tracing::warn!(server = %addr, "throttled; waiting {millis} ms, then resuming");
                obs.throttled(wait);
                tokio::time::sleep(wait).await;
            }
            r => break r,
        }
    };
    if let Some(run) = run {
        let summary = RunSummary {
            new: report.folders.iter().map(|f| f.new).sum(),
            updated: report.folders.iter().map(|f| f.updated).sum(),
            removed: report.folders.iter().map(|f| f.removed).sum(),
            deleted_on_server: 0,
            bytes: report.folders.iter().map(|f| f.bytes).sum(),
            error: result.as_ref().err().map(|e| e.to_string()),
        };
        if let Err(e) = store.call(move |s| s.finish_run(run, &summary)).await {
            return (report, result.and(Err(e)));
        }
    }
    (report, result)
}

/// Records the start of the run (not in a dry run, which writes nothing).
async fn begin_run(store: &mut StoreHandle, cfg: &ImapSyncConfig) -> Result<Option<RunId>, EngineError> {
    if cfg.dry_run {
        return Ok(None);
    }
    Ok(Some(store.begin_run(&cfg.account, Protocol::Imap).await?.1))
}

/// One folder as LIST shows it.
#[derive(Debug, Clone)]
struct Listed {
    name: String,
    delimiter: Option<char>,
    attributes: Vec<String>,
    special_use: Option<String>,
    selectable: bool,
}

/// One connection's worth of the run.
struct Run<'a> {
    client: ImapClient,
    store: &'a mut StoreHandle,
    cfg: &'a ImapSyncConfig,
    account: Option<AccountId>,
    qresync: bool,
    condstore: bool,
}

async fn sync_once(
    store: &mut StoreHandle,
    cfg: &ImapSyncConfig,
    obs: &mut dyn Observer,
    report: &mut AccountReport,
) -> Result<(), EngineError> {
    let mut client = ImapClient::connect(&cfg.endpoint, &cfg.credentials, cfg.limits.max_response).await?;
    let caps = client.capabilities().await?;
    let mut qresync = false;
    if caps.has("QRESYNC") && caps.has("ENABLE") {
        client.run_ok(Command::Enable(vec!["QRESYNC".into()])).await?;
        qresync = client.enabled().iter().any(|e| e.eq_ignore_ascii_case("QRESYNC"));
    }
    let condstore = qresync || caps.has("CONDSTORE");
    let name = cfg.account.clone();
    let account = if cfg.dry_run {
        store.call(move |s| s.find_account(&name)).await?
    } else {
        Some(store.call(move |s| s.account(&name)).await?)
    };
    let locals: Vec<MailboxRow> = match account {
        Some(a) => store.call(move |s| s.mailboxes(a)).await?,
        None => Vec::new(),
    };
    let mut run = Run { client, store, cfg, account, qresync, condstore };
    let listed = run.list(&caps, report).await?;
    let on_server: HashSet<&str> = listed.iter().map(|f| f.name.as_str()).collect();
    let mut vanished: Vec<MailboxRow> =
        locals.iter().filter(|m| !on_server.contains(m.name.as_str())).cloned().collect();
    let wanted: Vec<&Listed> =
        listed.iter().filter(|f| f.selectable && cfg.filter.wants(&f.name, f.delimiter)).collect();
    for f in &listed {
        if f.selectable && !cfg.filter.wants(&f.name, f.delimiter) {
            let why = "excluded (non-mail folder or folder pattern)".to_string();
            if !report.skipped_folders.iter().any(|(n, _)| n == &f.name) {
                report.skipped_folders.push((f.name.clone(), why));
            }
        }
    }
    for f in wanted {
        let local = locals.iter().find(|m| m.name == f.name).cloned();
        let start = Instant::now();
        let mut r = match run.folder(f, local, &mut vanished, obs).await {
            Ok(r) => r,
            // A folder-level refusal (e.g. deleted between LIST and EXAMINE): note it, go on. A broken
            // connection fails again on the next folder's first command and ends the run there.
            Err(EngineError::Protocol { detail, .. }) => {
                FolderReport { folder: f.name.clone(), error: Some(detail), ..FolderReport::default() }
            }
            Err(e) => return Err(e),
        };
        r.seconds = start.elapsed().as_secs_f64();
        obs.folder_finished(&r);
        report.merge(r);
    }
    for gone in vanished {
        if !cfg.dry_run {
            let id = gone.id;
            run.store.call(move |s| s.delete_mailbox(id)).await?;
        }
        if !report.deleted_folders.contains(&gone.name) {
            report.deleted_folders.push(gone.name);
        }
    }
    run.client.logout().await;
    Ok(())
}

/// What EXAMINE reported.
#[derive(Debug, Default)]
struct Examined {
    uidvalidity: Option<UidValidity>,
    uidnext: Option<Uid>,
    exists: u32,
    highestmodseq: Option<ModSeq>,
    vanished: Vec<Uid>,
    changed: Vec<(Uid, Vec<String>, Option<ModSeq>)>,
}

/// Most UIDs one VANISHED response may expand to before it is refused as hostile.
const MAX_EXPANDED_UIDS: usize = 50_000_000;

impl Examined {
    fn from(data: Vec<Untagged>, code: Option<Code>) -> Result<Examined, String> {
        let mut ex = Examined::default();
        let mut codes: Vec<Code> = code.into_iter().collect();
        for u in data {
            match u {
                Untagged::Exists(n) => ex.exists = n,
                Untagged::Status(st) if st.kind == StatusKind::Ok => codes.extend(st.code),
                Untagged::Vanished(v) => {
                    let uids = v.uids.iter(u32::MAX, MAX_EXPANDED_UIDS).map_err(|e| e.to_string())?;
                    ex.vanished.extend(uids.filter_map(|n| Uid::try_from(n).ok()));
                }
                Untagged::Fetch(f) => {
                    if let (Some(uid), Some(flags)) = (f.uid, &f.flags) {
                        ex.changed.push((uid, flag_strings(flags), f.modseq));
                    }
                }
                _ => {}
            }
        }
        for c in codes {
            match c {
                Code::UidValidity(v) => ex.uidvalidity = Some(v),
                Code::UidNext(n) => ex.uidnext = Some(n),
                Code::HighestModSeq(m) => ex.highestmodseq = Some(m),
                Code::NoModSeq => ex.highestmodseq = None,
                _ => {}
            }
        }
        Ok(ex)
    }
}

fn flag_strings(flags: &[mailsync_proto::imap::Flag]) -> Vec<String> {
    normalize_flags(&flags.iter().map(|f| f.to_string()).collect::<Vec<_>>())
}

fn split_flags(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn attr_name(a: &MailboxAttr) -> String {
    match a {
        MailboxAttr::NoInferiors => "\\Noinferiors".into(),
        MailboxAttr::NoSelect => "\\Noselect".into(),
        MailboxAttr::Marked => "\\Marked".into(),
        MailboxAttr::Unmarked => "\\Unmarked".into(),
        MailboxAttr::HasChildren => "\\HasChildren".into(),
        MailboxAttr::HasNoChildren => "\\HasNoChildren".into(),
        MailboxAttr::NonExistent => "\\NonExistent".into(),
        MailboxAttr::Subscribed => "\\Subscribed".into(),
        MailboxAttr::Remote => "\\Remote".into(),
        MailboxAttr::All => "\\All".into(),
        MailboxAttr::Archive => "\\Archive".into(),
        MailboxAttr::Drafts => "\\Drafts".into(),
        MailboxAttr::Flagged => "\\Flagged".into(),
        MailboxAttr::Junk => "\\Junk".into(),
        MailboxAttr::Sent => "\\Sent".into(),
        MailboxAttr::Trash => "\\Trash".into(),
        MailboxAttr::Important => "\\Important".into(),
        MailboxAttr::Other(s) => s.clone(),
    }
}

impl Run<'_> {
    async fn list(
        &mut self,
        caps: &Capabilities,
        report: &mut AccountReport,
    ) -> Result<Vec<Listed>, EngineError> {
        let cmd = Command::List {
            reference: String::new(),
            pattern: "*".into(),
            return_special_use: caps.has("SPECIAL-USE"),
        };
        let data = self.client.run_ok(cmd).await?;
        let mut out: Vec<Listed> = Vec::new();
        for u in data {
            let Untagged::List(item) = u else { continue };
            match listed(&item) {
                Ok(l) if !out.iter().any(|o| o.name == l.name) => out.push(l),
                Ok(_) => {}
                Err(raw) => {
                    tracing::warn!("skipping folder with an undecodable name: {raw}");
                    report.skipped_folders.push((raw, "name is not valid modified UTF-7".into()));
                }
            }
        }
        // INBOX first, then by name: a stable order for reports and progress.
        out.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
        Ok(out)
    }

    async fn folder(
        &mut self,
        f: &Listed,
        local: Option<MailboxRow>,
        vanished: &mut Vec<MailboxRow>,
        obs: &mut dyn Observer,
    ) -> Result<FolderReport, EngineError> {
        let mut rep = FolderReport { folder: f.name.clone(), ..FolderReport::default() };
        let qparams = if self.qresync {
            local.as_ref().and_then(|m| {
                Some(QresyncParams {
                    uidvalidity: m.uidvalidity?,
                    modseq: m.highestmodseq?,
                    known_uids: None,
                })
            })
        } else {
            None
        };
        let used_qresync = qparams.is_some();
        let cmd = Command::Examine {
            mailbox: f.name.clone().into(),
            condstore: self.condstore && !used_qresync,
            qresync: qparams,
        };
        let (data, done) = self.client.run(cmd).await?;
        self.client.check(&done)?;
        let ex = Examined::from(data, done.code)
            .map_err(|e| self.protocol(&format!("EXAMINE {}: {e}", f.name)))?;
        let uidvalidity = ex
            .uidvalidity
            .ok_or_else(|| self.protocol(&format!("EXAMINE {} gave no UIDVALIDITY", f.name)))?;

        // A folder new to us whose UIDVALIDITY belongs to a folder that vanished: a rename.
        let mut local = local;
        if local.is_none() {
            if let Some(pos) = vanished.iter().position(|m| m.uidvalidity == Some(uidvalidity)) {
                let old = vanished.remove(pos);
                if !self.cfg.dry_run {
                    let (id, name) = (old.id, f.name.clone());
                    self.store.call(move |s| s.rename_mailbox(id, &name)).await?;
                }
                rep.note = Some(format!("renamed from {}", old.name));
                local = Some(MailboxRow { name: f.name.clone(), ..old });
            }
        }
        let mailbox = self.upsert(f, local.as_ref()).await?;
        let (mut locals, mut unfetchable) = self.local_state(mailbox, local.is_some()).await?;
        let cursor = LocalCursor {
            uidvalidity: local.as_ref().and_then(|m| m.uidvalidity),
            uidnext: local.as_ref().and_then(|m| m.uidnext).map(Uid::get),
            highestmodseq: local.as_ref().and_then(|m| m.highestmodseq),
            count: u32::try_from(locals.len()).unwrap_or(u32::MAX),
        };
        let server = ServerFolder {
            uidvalidity,
            uidnext: ex.uidnext.map(Uid::get),
            exists: ex.exists,
            highestmodseq: ex.highestmodseq,
        };
        let mut plan = plan_folder(&cursor, &server, used_qresync && ex.highestmodseq.is_some());
        if plan == FolderPlan::Reset {
            let old = cursor.uidvalidity.map(|v| v.get()).unwrap_or(0);
            rep.note = Some(format!(
                "UIDVALIDITY changed from {old} to {}: local copies are re-matched by content, nothing local is lost",
                uidvalidity.get()
            ));
            if let Some(id) = mailbox.filter(|_| !self.cfg.dry_run) {
                self.store.call(move |s| s.reset_mailbox_for_uidvalidity(id, uidvalidity)).await?;
            }
            locals.clear();
            unfetchable.clear();
            plan = if ex.exists == 0 { FolderPlan::Empty } else { FolderPlan::FullScan };
        }

        let (new, flag_changes, expunged) = match plan {
            FolderPlan::UpToDate | FolderPlan::Reset => (Vec::new(), Vec::new(), Vec::new()),
            FolderPlan::Empty => (Vec::new(), Vec::new(), locals.keys().copied().collect()),
            FolderPlan::FullScan => {
                let server_map = self.fetch_flags().await?;
                let d = diff_folder(&locals, &server_map, &unfetchable);
                (d.new, d.flag_changes, d.expunged)
            }
            FolderPlan::Qresync { from_uid } => {
                let expunged: Vec<Uid> =
                    ex.vanished.iter().filter(|u| locals.contains_key(u)).copied().collect();
                let changes = ex
                    .changed
                    .iter()
                    .filter(|(u, flags, _)| locals.get(u).is_some_and(|mine| normalize_flags(mine) != *flags))
                    .map(|(u, flags, _)| (*u, flags.clone()))
                    .collect();
                let new = self.search_from(from_uid, &locals, &unfetchable).await?;
                (new, changes, expunged)
            }
        };

        rep.updated = u64::try_from(flag_changes.len()).unwrap_or(u64::MAX);
        rep.removed = u64::try_from(expunged.len()).unwrap_or(u64::MAX);
        rep.new = u64::try_from(new.len()).unwrap_or(u64::MAX);
        let Some(mailbox) = mailbox.filter(|_| !self.cfg.dry_run) else {
            return Ok(rep);
        };
        if !flag_changes.is_empty() || !expunged.is_empty() {
            let mut b = ImapBatch::new(mailbox);
            b.flag_updates = flag_changes.into_iter().map(|(u, fl)| (u, fl, None)).collect();
            b.expunged = expunged;
            self.store.submit(move |s| s.apply_imap_batch(b)).await?;
        }
        if !new.is_empty() {
            obs.folder_started(&f.name, rep.new, 0);
            let (bytes, unfetchable_now) = self.fetch_bodies(mailbox, &new, obs).await?;
            rep.bytes = bytes;
            rep.unfetchable = unfetchable_now;
            rep.new = rep.new.saturating_sub(unfetchable_now);
        }
        // The cursor goes last, after every batch of this folder (the writer keeps order).
        let mut b = ImapBatch::new(mailbox);
        b.cursor = Some(MailboxCursor { uidvalidity, uidnext: ex.uidnext, highestmodseq: ex.highestmodseq });
        self.store.submit(move |s| s.apply_imap_batch(b)).await?;
        self.store.drain().await?;
        Ok(rep)
    }

    async fn upsert(
        &mut self,
        f: &Listed,
        local: Option<&MailboxRow>,
    ) -> Result<Option<MailboxId>, EngineError> {
        if self.cfg.dry_run {
            return Ok(local.map(|m| m.id));
        }
        let Some(account) = self.account else { return Ok(None) };
        let info = MailboxInfo {
            name: f.name.clone(),
            delimiter: f.delimiter,
            attributes: f.attributes.clone(),
            special_use: f.special_use.clone(),
        };
        Ok(Some(self.store.call(move |s| s.upsert_mailbox(account, &info)).await?))
    }

    async fn local_state(
        &mut self,
        mailbox: Option<MailboxId>,
        known: bool,
    ) -> Result<(BTreeMap<Uid, Vec<String>>, BTreeSet<Uid>), EngineError> {
        let Some(id) = mailbox.filter(|_| known) else { return Ok((BTreeMap::new(), BTreeSet::new())) };
        let rows = self.store.call(move |s| s.imap_locations(id)).await?;
        let locals = rows.into_iter().map(|(u, flags, _)| (u, split_flags(&flags))).collect();
        let bad = self.store.call(move |s| s.unfetchable(id)).await?;
        Ok((locals, bad.into_iter().map(|(u, _)| u).collect()))
    }

    /// `UID FETCH 1:* (UID FLAGS)`: every UID and its flags, cheaply (no bodies).
    async fn fetch_flags(&mut self) -> Result<BTreeMap<Uid, Vec<String>>, EngineError> {
        let cmd = Command::UidFetch {
            set: SequenceSet::all(),
            items: vec![FetchAttr::Uid, FetchAttr::Flags],
            changed_since: None,
            vanished: false,
        };
        let data = self.client.run_ok(cmd).await?;
        let mut map = BTreeMap::new();
        for u in data {
            if let Untagged::Fetch(f) = u {
                if let (Some(uid), Some(flags)) = (f.uid, &f.flags) {
                    map.insert(uid, flag_strings(flags));
                }
            }
        }
        Ok(map)
    }

    /// New UIDs from `from_uid` on (QRESYNC path), without those stored or known unfetchable.
    async fn search_from(
        &mut self,
        from_uid: u32,
        locals: &BTreeMap<Uid, Vec<String>>,
        unfetchable: &BTreeSet<Uid>,
    ) -> Result<Vec<Uid>, EngineError> {
        let cmd = Command::UidSearch { criteria: SearchKey::Uid(SequenceSet::range_from(from_uid)) };
        let data = self.client.run_ok(cmd).await?;
        let mut uids: Vec<Uid> = Vec::new();
        for u in data {
            if let Untagged::Search(s) = u {
                uids.extend(s.uids());
            }
        }
        // `n:*` includes the highest UID even when it is below n (RFC 3501 section 6.4.8): filter.
        uids.retain(|u| u.get() >= from_uid && !locals.contains_key(u) && !unfetchable.contains(u));
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// Downloads `uids` with pipelined `UID FETCH ... BODY.PEEK[]`, streaming them to the store in batches.
    /// Returns the bytes downloaded and how many UIDs the server would not return.
    async fn fetch_bodies(
        &mut self,
        mailbox: MailboxId,
        uids: &[Uid],
        obs: &mut dyn Observer,
    ) -> Result<(u64, u64), EngineError> {
        let Some(set) = SequenceSet::from_uids(uids.iter().copied()) else { return Ok((0, 0)) };
        let limits = self.cfg.limits;
        let mut chunks = set.chunks_by_count(u32::MAX, limits.fetch_chunk);
        let mut items = vec![FetchAttr::Uid, FetchAttr::Flags, FetchAttr::InternalDate, FetchAttr::BodyPeek];
        if self.condstore {
            items.push(FetchAttr::ModSeq);
        }
        // Per command: the UIDs asked for and not yet received, and the malformed count when it was sent.
        let mut outstanding: HashMap<CommandId, (HashSet<u32>, u64)> = HashMap::new();
        let mut batch = ImapBatch::new(mailbox);
        let mut batch_bytes = 0usize;
        let (mut bytes, mut unfetchable) = (0u64, 0u64);
        loop {
            while outstanding.len() < limits.pipeline.max(1) {
                let Some(chunk) = chunks.next() else { break };
                let wanted: HashSet<u32> = chunk
                    .iter(u32::MAX, limits.fetch_chunk)
                    .map_err(|e| self.protocol(&e.to_string()))?
                    .collect();
                let cmd = Command::UidFetch {
                    set: chunk,
                    items: items.clone(),
                    changed_since: None,
                    vanished: false,
                };
                let id = self.client.send(cmd)?;
                outstanding.insert(id, (wanted, self.client.malformed));
            }
            if outstanding.is_empty() {
                break;
            }
            match self.client.next_event("fetching messages").await? {
                Event::Untagged(Untagged::Fetch(f)) => {
                    let (Some(uid), Some(body)) = (f.uid, f.body(&Section::Full)) else { continue };
                    let Some((wanted, _)) = outstanding.values_mut().find(|(w, _)| w.contains(&uid.get()))
                    else {
                        continue; // unsolicited, or a UID below the range (Outlook)
                    };
                    wanted.remove(&uid.get());
                    let len = body.len();
                    bytes += u64::try_from(len).unwrap_or(u64::MAX);
                    obs.message_fetched(u64::try_from(len).unwrap_or(u64::MAX));
                    // Hash and index here, on the network side, while the writer thread does SQLite work.
                    let raw = body.to_vec();
                    let prepared = Some(Prepared::new(&raw));
                    batch.new.push(NewImapMessage {
                        uid,
                        flags: f.flags.as_deref().map(flag_strings).unwrap_or_default(),
                        internaldate: f
                            .internal_date
                            .as_ref()
                            .and_then(|d| d.as_ref())
                            .and_then(|d| d.timestamp()),
                        modseq: f.modseq,
                        raw,
                        prepared,
                    });
                    batch_bytes += len;
                    if batch.new.len() >= limits.batch_messages || batch_bytes >= limits.batch_bytes {
                        let full = std::mem::replace(&mut batch, ImapBatch::new(mailbox));
                        batch_bytes = 0;
                        self.store.submit(move |s| s.apply_imap_batch(full)).await?;
                    }
                }
                Event::Done(done) => {
                    let Some((left, malformed_before)) = outstanding.remove(&done.id) else { continue };
                    self.client.check(&done)?;
                    // Exchange lists UIDs that FETCH never returns: record them, never loop on them. If a
                    // response was skipped as malformed meanwhile, the missing ones may be that: retry later.
                    if self.client.malformed == malformed_before {
                        for n in left {
                            if let Ok(uid) = Uid::try_from(n) {
                                batch.unfetchable.push((uid, "server returned no data for UID FETCH".into()));
                                unfetchable += 1;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if !batch.new.is_empty() || !batch.unfetchable.is_empty() {
            self.store.submit(move |s| s.apply_imap_batch(batch)).await?;
        }
        Ok((bytes, unfetchable))
    }

    fn protocol(&self, detail: &str) -> EngineError {
        EngineError::Protocol { protocol: "IMAP", addr: self.cfg.endpoint.addr(), detail: detail.to_string() }
    }
}

fn listed(item: &ListItem) -> Result<Listed, String> {
    let name = if item.is_inbox() {
        "INBOX".to_string()
    } else {
        mutf7::decode(&item.name).map_err(|_| String::from_utf8_lossy(&item.name).into_owned())?
    };
    let selectable = !item.has(&MailboxAttr::NoSelect) && !item.has(&MailboxAttr::NonExistent);
    Ok(Listed {
        name,
        delimiter: item.delimiter,
        attributes: item.attributes.iter().map(attr_name).collect(),
        special_use: item.special_use().map(attr_name),
        selectable,
    })
}
