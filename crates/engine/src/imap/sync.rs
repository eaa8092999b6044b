//! The IMAP mirror run: every wanted folder of one account brought into the store, read-only toward the
//! server, incremental, crash-safe. A thin executor: what to do is decided by the pure planners
//! ([`super::plan`]) under the rules of [`crate::integrity`]; this module sends the commands, reads the
//! answers into facts ([`super::examine`]), hands bodies to [`super::fetch`] and writes through the store
//! writer.
//!
//! Owns: the order of a run (lock, connect, ENABLE QRESYNC, LIST; per folder EXAMINE, rename check, plan,
//! changes, new bodies, cursor; then folder deletions), and retrying after Outlook's throttling. Must
//! never: SELECT (only EXAMINE) or fetch without `.PEEK`; advance a folder's cursor past what it stored or
//! recorded; remove local mail on evidence that does not add up; report counts that were not committed.
//!
//! RFC 3501 sections 6.3.2 (EXAMINE), 6.3.8 (LIST), 6.4.4 (SEARCH), 6.4.5 (FETCH), 6.4.8 (UID); RFC 7162
//! sections 3.1.4 (FETCH MODSEQ), 3.2.5 (SELECT/EXAMINE QRESYNC) and 3.2.10 (VANISHED); RFC 6154 (SPECIAL-USE).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mailsync_proto::imap::command::{Command, FetchAttr, QresyncParams, SearchKey};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{Capabilities, Untagged};
use mailsync_proto::{Uid, UidValidity};
use mailsync_store::{
    content_hash, AccountId, ImapBatch, MailboxId, MailboxInfo, MailboxRow, Protocol, RunId, RunSummary,
    SyncLock,
};

use super::client::Budget;
use super::client::ImapClient;
use super::examine::ExamineReader;
use super::fetch::download;
use super::folders::{FolderFilter, Listed};
use super::plan::{
    diff_folder, diff_qresync, plan_account, plan_folder, rename_candidates, FolderDiff, Gaps, LocalCursor,
    Scan, ServerListing,
};
use super::report::{AccountReport, FolderReport, Observer};
use crate::auth::{Credentials, Renew};
use crate::endpoint::{Endpoint, Reconnect};
use crate::integrity::{cursor_after, is_rename, listing_adds_up, FolderOutcome};
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
    /// How a dropped link, a BYE or throttling is got past: reconnect and carry on from what is committed.
    pub reconnect: Reconnect,
    /// The longest back-off a server may ask for (Exchange's "Suggested Backoff Time"); a longer
    /// suggestion fails the run instead.
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
            reconnect: Reconnect::default(),
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
    /// Fresh credentials for a reconnect (OAuth2 tokens expire); `None`: the same ones again.
    pub renew: Option<Renew>,
    /// Which folders to mirror.
    pub filter: FolderFilter,
    /// Plan and report without writing anything.
    pub dry_run: bool,
    /// Sizes.
    pub limits: Limits,
    /// The time, in unix seconds (decides which recorded gaps are due; a parameter so tests control it).
    pub now: i64,
    /// Try every recorded gap now, whatever its back-off.
    pub retry_gaps: bool,
}

/// How many of a vanished folder's messages are compared to tell a rename from a different folder.
const RENAME_SAMPLE: usize = 3;

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
    let result = resume(store, cfg, obs, &mut report).await;
    if let Some((run, lock)) = run {
        let (new, updated, removed, bytes, gaps, warnings) = report.totals();
        let summary = RunSummary {
            new,
            updated,
            removed,
            deleted_on_server: 0,
            bytes,
            gaps,
            warnings,
            error: result.as_ref().err().map(|e| e.to_string()),
        };
        let finished = store.call(move |s| s.finish_run(run, &summary)).await;
        drop(lock);
        if let Err(e) = finished {
            return (report, result.and(Err(e)));
        }
    }
    (report, result)
}

/// Runs [`sync_once`] until it succeeds, reconnecting after transient failures (a dropped or slow link, a BYE,
/// throttling) as `cfg.limits.reconnect` allows: each try carries on from what is committed, and the run gives
/// up only after so many tries in a row that committed nothing, or on an error a new connection cannot fix.
async fn resume(
    store: &mut StoreHandle,
    cfg: &ImapSyncConfig,
    obs: &mut dyn Observer,
    report: &mut AccountReport,
) -> Result<(), EngineError> {
    let mut credentials = cfg.credentials.clone();
    let mut fruitless = 0u32;
    // Folder passes cut short, by folder: what they committed is added to the folder's next pass.
    let mut carried: BTreeMap<String, FolderReport> = BTreeMap::new();
    let result = loop {
        let before = store.committed();
        let e = match sync_once(store, cfg, &credentials, obs, report, &mut carried).await {
            Ok(()) => break Ok(()),
            Err(e) if e.is_transient() => e,
            Err(e) => break Err(e),
        };
        fruitless = if store.committed() > before { 1 } else { fruitless + 1 };
        if fruitless > cfg.limits.reconnect.attempts {
            break Err(e);
        }
        let wait = match &e {
            EngineError::Throttled { millis, .. } => Duration::from_millis(*millis),
            _ => cfg.limits.reconnect.wait(fruitless),
        };
        if wait > cfg.limits.max_backoff {
            break Err(e);
        }
        report.reconnects += 1;
        tracing::warn!("{e}; reconnecting in {:.1} s (carrying on from what is stored)", wait.as_secs_f64());
        if matches!(e, EngineError::Throttled { .. }) {
            obs.throttled(wait);
        }
        obs.reconnecting(wait, &e);
        tokio::time::sleep(wait).await;
        if let Some(renew) = &cfg.renew {
            match renew.get() {
                Ok(c) => credentials = c,
                Err(why) => break Err(EngineError::Config(format!("renewing the credentials: {why}"))),
            }
        }
    };
    // Passes that never got to finish still count.
    for (_, r) in carried {
        obs.folder_finished(&r);
        report.merge(r);
    }
    result
}

/// Takes the account's sync lock and records the start of the run (not in a dry run, which writes nothing).
async fn begin_run(
    store: &mut StoreHandle,
    cfg: &ImapSyncConfig,
) -> Result<Option<(RunId, SyncLock)>, EngineError> {
    if cfg.dry_run {
        return Ok(None);
    }
    let (_, run, lock) = store.begin_run(&cfg.account, Protocol::Imap).await?;
    Ok(Some((run, lock)))
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
    credentials: &Credentials,
    obs: &mut dyn Observer,
    report: &mut AccountReport,
    carried: &mut BTreeMap<String, FolderReport>,
) -> Result<(), EngineError> {
    let mut client = ImapClient::connect(&cfg.endpoint, credentials, cfg.limits.max_response).await?;
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
    let warnings_before = run.client.warnings();
    let (listed, read_whole) = run.list(&caps).await?;
    report.warnings += run.client.warnings() - warnings_before;
    let plan = plan_account(&listed, &locals, &cfg.filter, read_whole);
    for (name, why) in plan.skipped {
        report.skip(name, why);
    }
    for name in plan.kept_unlisted {
        if !report.kept_folders.contains(&name) {
            tracing::warn!("folder {name} was not listed, but LIST could not be read whole: kept");
            report.kept_folders.push(name);
        }
    }
    let mut gone = plan.gone;
    for (f, local) in &plan.folders {
        let start = Instant::now();
        let mut r = match run.folder(f, local.clone(), &mut gone, obs).await {
            Ok(r) => r,
            // A folder-level failure (refused, or answers that do not add up): note it, go on. A broken
            // connection fails again on the next folder's first command and ends the run there.
            Err(e) if e.is_folder_level() => {
                tracing::warn!("folder {}: {e}", f.name);
                FolderReport { folder: f.name.clone(), error: Some(e.to_string()), ..FolderReport::default() }
            }
            Err(e) => {
                // What the folder committed before the failure still counts: with its next pass.
                if let Ok(done) = run.store.drain().await {
                    let partial = FolderReport {
                        folder: f.name.clone(),
                        new: done.new,
                        updated: done.updated,
                        removed: done.removed,
                        gaps: done.unfetchable,
                        seconds: start.elapsed().as_secs_f64(),
                        error: Some(e.to_string()),
                        ..FolderReport::default()
                    };
                    carried
                        .entry(f.name.clone())
                        .or_insert_with(|| FolderReport { folder: f.name.clone(), ..FolderReport::default() })
                        .absorb(partial);
                }
                return Err(e);
            }
        };
        r.seconds = start.elapsed().as_secs_f64();
        if let Some(mut earlier) = carried.remove(&f.name) {
            earlier.absorb(r);
            r = earlier;
        }
        obs.folder_finished(&r);
        report.merge(r);
    }
    for g in gone {
        if !cfg.dry_run {
            let id = g.id;
            run.store.call(move |s| s.delete_mailbox(id)).await?;
        }
        if !report.deleted_folders.contains(&g.name) {
            report.deleted_folders.push(g.name);
        }
    }
    run.client.logout().await;
    Ok(())
}

impl Run<'_> {
    /// LIST: the folders, and whether every line of the answer could be read.
    async fn list(&mut self, caps: &Capabilities) -> Result<(Vec<Listed>, bool), EngineError> {
        let cmd = Command::List {
            reference: String::new(),
            pattern: "*".into(),
            return_special_use: caps.has("SPECIAL-USE"),
        };
        let unreadable = self.client.unreadable;
        let data = self.client.run_ok(cmd).await?;
        let listed = data
            .iter()
            .filter_map(|u| match u {
                Untagged::List(item) => Some(Listed::from_list(item)),
                _ => None,
            })
            .collect();
        Ok((listed, self.client.unreadable == unreadable))
    }

    async fn folder(
        &mut self,
        f: &Listed,
        local: Option<MailboxRow>,
        gone: &mut Vec<MailboxRow>,
        obs: &mut dyn Observer,
    ) -> Result<FolderReport, EngineError> {
        let mut rep = FolderReport { folder: f.name.clone(), ..FolderReport::default() };
        let (warnings_before, unreadable_before) = (self.client.warnings(), self.client.unreadable);
        let qparams = self.qresync.then_some(()).and(local.as_ref()).and_then(|m| {
            Some(QresyncParams { uidvalidity: m.uidvalidity?, modseq: m.highestmodseq?, known_uids: None })
        });
        let used_qresync = qparams.is_some();
        let cmd = Command::Examine {
            mailbox: f.command_name(),
            condstore: self.condstore && !used_qresync,
            qresync: qparams,
        };
        // What the store holds, first: a QRESYNC answer holds about one response per stored message.
        let (mut locals, mut gap_rows) = self.local_state(local.as_ref().map(|m| m.id)).await?;
        let budget = Budget::per_message(locals.len());
        let mut reader = ExamineReader::default();
        let done = self.client.run_each(cmd, budget, |u| reader.take(u)).await?;
        self.client.check(&done)?;
        let ex = reader
            .finish(done.code.as_ref())
            .map_err(|e| self.client.inconsistent(&format!("EXAMINE {}: {e}", f.name)))?;
        let uidvalidity = ex.folder.uidvalidity;

        let local = match local {
            Some(l) => Some(l),
            None => {
                let renamed = self.renamed_from(f, uidvalidity, gone, &mut rep).await?;
                (locals, gap_rows) = self.local_state(renamed.as_ref().map(|m| m.id)).await?;
                renamed
            }
        };
        let mailbox = self.upsert(f, local.as_ref()).await?;
        let cursor = LocalCursor {
            uidvalidity: local.as_ref().and_then(|m| m.uidvalidity),
            uidnext: local.as_ref().and_then(|m| m.uidnext).map(Uid::get),
            highestmodseq: local.as_ref().and_then(|m| m.highestmodseq),
            count: u32::try_from(locals.len()).unwrap_or(u32::MAX),
        };
        let mut old = local.as_ref().map(|m| (m.uidnext, m.highestmodseq));
        let plan = plan_folder(&cursor, &ex.folder, used_qresync && ex.folder.highestmodseq.is_some());
        if plan.reset {
            let was = cursor.uidvalidity.map(|v| v.get()).unwrap_or(0);
            rep.note = Some(format!(
                "UIDVALIDITY changed from {was} to {}: local copies are re-matched by content, nothing local is lost",
                uidvalidity.get()
            ));
            if let Some(id) = mailbox.filter(|_| !self.cfg.dry_run) {
                self.store.call(move |s| s.reset_mailbox_for_uidvalidity(id, uidvalidity)).await?;
            }
            locals.clear();
            gap_rows.clear();
            old = None;
        }
        let gaps = Gaps::split(&gap_rows, self.cfg.now, self.cfg.retry_gaps);
        let diff = match plan.scan {
            Scan::UpToDate => FolderDiff { new: gaps.due.iter().copied().collect(), ..FolderDiff::default() },
            Scan::Empty => {
                let mut expunged: Vec<Uid> =
                    locals.keys().chain(&gaps.due).chain(&gaps.waiting).copied().collect();
                expunged.sort_unstable();
                FolderDiff { expunged, ..FolderDiff::default() }
            }
            Scan::FullScan => {
                let listing = self.full_listing(ex.folder.exists, &f.name).await?;
                diff_folder(&locals, &listing, &gaps)
            }
            Scan::Qresync { from_uid } => {
                let searched = self.search(SearchKey::Uid(SequenceSet::range_from(from_uid))).await?;
                diff_qresync(&locals, &ex.vanished, &ex.changed, &searched, from_uid, &gaps)
            }
        };
        rep.gaps_waiting = u64::try_from(gaps.waiting.iter().filter(|u| !diff.expunged.contains(u)).count())
            .unwrap_or(u64::MAX);
        let Some(mailbox) = mailbox.filter(|_| !self.cfg.dry_run) else {
            rep.updated = count(diff.flag_changes.len());
            rep.removed = count(diff.expunged.iter().filter(|u| locals.contains_key(u)).count());
            rep.new = count(diff.new.len());
            rep.warnings = self.client.warnings() - warnings_before;
            return Ok(rep);
        };
        if !diff.flag_changes.is_empty() || !diff.expunged.is_empty() {
            let mut b = ImapBatch::new(mailbox);
            b.flag_updates = diff.flag_changes.into_iter().map(|(u, fl)| (u, fl, None)).collect();
            b.expunged = diff.expunged;
            self.store.submit(move |s| s.apply_imap_batch(b)).await?;
        }
        if !diff.new.is_empty() {
            obs.folder_started(&f.name, count(diff.new.len()), 0);
            let got = download(
                &mut self.client,
                self.store,
                mailbox,
                &diff.new,
                self.condstore,
                &self.cfg.limits,
                obs,
            )
            .await?;
            rep.bytes = got.bytes;
        }
        // The cursor goes last, after every batch of this folder (the writer keeps order).
        let answers_read = self.client.unreadable == unreadable_before && ex.unusable_changes == 0;
        if !answers_read {
            rep.note.get_or_insert_with(|| {
                "some answers could not be read: the folder's cursor stays where it was, so the next sync looks again"
                    .into()
            });
        }
        let outcome = FolderOutcome { answers_read, lowest_unaccounted: None };
        let mut b = ImapBatch::new(mailbox);
        b.cursor = Some(cursor_after(
            uidvalidity,
            ex.folder.uidnext.and_then(|n| Uid::try_from(n).ok()),
            ex.folder.highestmodseq,
            old,
            outcome,
        ));
        self.store.submit(move |s| s.apply_imap_batch(b)).await?;
        let done = self.store.drain().await?;
        rep.new = done.new;
        rep.updated = done.updated;
        rep.removed = done.removed;
        rep.gaps = done.unfetchable;
        rep.warnings = self.client.warnings() - warnings_before;
        Ok(rep)
    }

    /// A folder new to the store may be a vanished one renamed: same UIDVALIDITY, and (rule 5) a sample of
    /// the vanished folder's messages under the same UIDs with the same bytes. Returns the vanished folder's
    /// row, renamed, when it is one.
    async fn renamed_from(
        &mut self,
        f: &Listed,
        uidvalidity: UidValidity,
        gone: &mut Vec<MailboxRow>,
        rep: &mut FolderReport,
    ) -> Result<Option<MailboxRow>, EngineError> {
        for i in rename_candidates(gone, uidvalidity).into_iter().rev() {
            let Some(candidate) = gone.get(i) else { continue };
            let id = candidate.id;
            let sample = self.store.call(move |s| s.imap_sample(id, RENAME_SAMPLE)).await?;
            let found = self.hashes_of(sample.iter().map(|(u, _)| *u)).await?;
            if !is_rename(&sample, &found) {
                tracing::info!(
                    "{} has the UIDVALIDITY of vanished {} but other messages: not a rename",
                    f.name,
                    candidate.name
                );
                continue;
            }
            let old = gone.remove(i);
            if !self.cfg.dry_run {
                let name = f.name.clone();
                self.store.call(move |s| s.rename_mailbox(id, &name)).await?;
            }
            rep.note = Some(format!("renamed from {}", old.name));
            return Ok(Some(MailboxRow { name: f.name.clone(), ..old }));
        }
        Ok(None)
    }

    /// The SHA-256 of what the examined folder holds under `uids` (those it has, with a valid body).
    async fn hashes_of(
        &mut self,
        uids: impl Iterator<Item = Uid>,
    ) -> Result<BTreeMap<Uid, [u8; 32]>, EngineError> {
        let Some(set) = SequenceSet::from_uids(uids) else { return Ok(BTreeMap::new()) };
        let cmd = Command::UidFetch {
            set,
            items: vec![FetchAttr::Uid, FetchAttr::BodyPeek],
            changed_since: None,
            vanished: false,
        };
        let data = self.client.run_ok(cmd).await?;
        Ok(data
            .iter()
            .filter_map(|u| match u {
                Untagged::Fetch(f) => Some((f.uid?, content_hash(crate::integrity::message_body(f).ok()?))),
                _ => None,
            })
            .collect())
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

    /// The stored UIDs of a folder the store knows, with their flags, and its recorded gaps.
    async fn local_state(
        &mut self,
        mailbox: Option<MailboxId>,
    ) -> Result<(BTreeMap<Uid, Vec<String>>, Vec<mailsync_store::ImapGap>), EngineError> {
        let Some(id) = mailbox else { return Ok((BTreeMap::new(), Vec::new())) };
        let rows = self.store.call(move |s| s.imap_locations(id)).await?;
        let locals = rows
            .into_iter()
            .map(|(u, flags, _)| (u, flags.split_whitespace().map(str::to_owned).collect()))
            .collect();
        let gaps = self.store.call(move |s| s.unfetchable(id)).await?;
        Ok((locals, gaps))
    }

    /// Every UID of the folder with its flags: `UID FETCH 1:* (UID FLAGS)`, which must add up to the folder's
    /// size (rule 4); when it does not (Exchange leaves out messages it cannot serve), `UID SEARCH ALL` gives
    /// the UIDs, and when that does not add up either, the folder fails without a change.
    async fn full_listing(&mut self, exists: u32, folder: &str) -> Result<ServerListing, EngineError> {
        let cmd = Command::UidFetch {
            set: SequenceSet::all(),
            items: vec![FetchAttr::Uid, FetchAttr::Flags],
            changed_since: None,
            vanished: false,
        };
        let mut listing = ServerListing::new();
        let budget = Budget::per_message(usize::try_from(exists).unwrap_or(usize::MAX));
        let mut exists = exists;
        let done = self
            .client
            .run_each(cmd, budget, |u| match u {
                Untagged::Fetch(f) => {
                    if let Some(uid) = f.uid {
                        let flags = f.flags.map(|fl| fl.iter().map(|x| x.to_string()).collect::<Vec<_>>());
                        listing.insert(uid, flags.map(|fl| super::plan::normalize_flags(&fl)));
                    }
                }
                Untagged::Exists(n) => exists = n,
                Untagged::Expunge(_) => exists = exists.saturating_sub(1),
                _ => {}
            })
            .await?;
        self.client.check(&done)?;
        if listing_adds_up(listing.len(), exists).is_ok() {
            return Ok(listing);
        }
        tracing::warn!(
            "{folder}: UID FETCH listed {} of {exists} messages; asking UID SEARCH ALL",
            listing.len()
        );
        let searched: BTreeSet<Uid> = self.search(SearchKey::All).await?.into_iter().collect();
        listing_adds_up(searched.len(), exists)
            .map_err(|why| self.client.inconsistent(&format!("{folder}: {why}")))?;
        let mut by_search: ServerListing = searched.into_iter().map(|u| (u, None)).collect();
        for (uid, flags) in by_search.iter_mut() {
            if let Some(Some(f)) = listing.get(uid) {
                *flags = Some(f.clone());
            }
        }
        Ok(by_search)
    }

    /// `UID SEARCH key`: the UIDs found, ascending.
    async fn search(&mut self, criteria: SearchKey) -> Result<Vec<Uid>, EngineError> {
        let data = self.client.run_ok(Command::UidSearch { criteria }).await?;
        let mut uids: Vec<Uid> = Vec::new();
        for u in data {
            if let Untagged::Search(s) = u {
                uids.extend(s.uids());
            }
        }
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
