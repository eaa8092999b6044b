//! The IMAP mirror run: every wanted folder of one account brought into the store, read-only toward the
//! server, incremental, crash-safe, in a handful of round trips. A thin executor: what to do is decided by the
//! pure planners ([`super::plan`], [`super::probe`]) under the rules of [`crate::integrity`]; this module
//! sends the commands (pipelined: [`super::pipeline`]), has each folder settled ([`super::folder`]) and its
//! new bodies downloaded ([`super::download`]), and writes through the store writer.
//!
//! Owns: the order of a run (lock; connect; ENABLE QRESYNC and LIST together; every folder probed at once and
//! settled as its answers complete; the folders the probe could not settle, one at a time; every folder's new
//! messages back to back; then folder deletions), and resuming after a dropped link, a BYE or throttling (a
//! new connection carries on from what is committed). Must never: SELECT (only EXAMINE) or fetch without
//! `.PEEK`; advance a folder's cursor past what it stored or recorded; remove local mail on evidence that does
//! not add up; report counts that were not committed.
//!
//! RFC 3501 sections 6.3.2 (EXAMINE), 6.3.8 (LIST), 6.4.4 (SEARCH), 6.4.5 (FETCH), 6.4.8 (UID); RFC 7162
//! sections 3.1.4 (FETCH MODSEQ), 3.2.5 (SELECT/EXAMINE QRESYNC) and 3.2.10 (VANISHED); RFC 6154 (SPECIAL-USE).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mailsync_proto::imap::command::Command;
use mailsync_proto::imap::{Capabilities, Untagged};
use mailsync_store::{AccountId, MailboxRow, Protocol, RunId, RunSummary, SyncLock};

use super::client::{Budget, ImapClient};
use super::download::{download, FolderDownload};
use super::folder::{Context, Observed, Settled};
use super::folders::{FolderFilter, Listed};
use super::pipeline::{Piped, Pipeline};
use super::plan::plan_account;
use super::probe::{probe_for, FolderProbe, Probed};
use super::report::{AccountReport, FolderReport, Observer, Tally};
use crate::auth::{Credentials, Renew};
use crate::endpoint::{reconnects_after, Endpoint, Reconnect};
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
    /// Only these folders (by name), when set: a watch syncing the folders that changed. Every other folder is
    /// left as it is: not synced, not reported, not removed (the watch's sweeps do that).
    pub only: Option<Vec<String>>,
}

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
    let mut logged_in = false;
    // Folder passes cut short, by folder: what they committed is added to the folder's next pass.
    let mut carried: BTreeMap<String, FolderReport> = BTreeMap::new();
    let result = loop {
        let before = store.committed();
        let e = match sync_once(store, cfg, &credentials, obs, report, &mut carried, &mut logged_in).await {
            Ok(()) => break Ok(()),
            Err(e) if reconnects_after(&e, logged_in) => e,
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

/// Commands unanswered at once while every folder is probed (two per folder).
const PROBE_WINDOW: usize = 128;

/// One connection's worth of the run.
#[derive(Debug)]
pub struct Run<'a> {
    /// The connection.
    pub client: ImapClient,
    /// The store writer.
    pub store: &'a mut StoreHandle,
    /// The run's configuration.
    pub cfg: &'a ImapSyncConfig,
    /// The account (`None` in a dry run of an account the store does not know).
    pub account: Option<AccountId>,
    /// QRESYNC is enabled.
    pub qresync: bool,
    /// CONDSTORE is available (QRESYNC implies it).
    pub condstore: bool,
}

async fn sync_once(
    store: &mut StoreHandle,
    cfg: &ImapSyncConfig,
    credentials: &Credentials,
    obs: &mut dyn Observer,
    report: &mut AccountReport,
    carried: &mut BTreeMap<String, FolderReport>,
    logged_in: &mut bool,
) -> Result<(), EngineError> {
    let mut client = ImapClient::connect(&cfg.endpoint, credentials, cfg.limits.max_response).await?;
    *logged_in = true;
    let caps = client.capabilities().await?;
    let warnings_before = client.warnings();
    let (opened, account) = tokio::join!(open_account(&mut client, &caps), find_account(store, cfg));
    let (listed, read_whole, qresync) = opened?;
    let account = account?;
    report.warnings += client.warnings() - warnings_before;
    let locals: Vec<MailboxRow> = match account {
        Some(a) => store.call(move |s| s.mailboxes(a)).await?,
        None => Vec::new(),
    };
    let condstore = qresync || caps.has("CONDSTORE");
    let mut run = Run { client, store, cfg, account, qresync, condstore };
    let mut plan = plan_account(&listed, &locals, &cfg.filter, read_whole);
    if let Some(only) = &cfg.only {
        plan.folders.retain(|(f, _)| only.contains(&f.name));
        plan.skipped.clear();
        plan.gone.clear();
        plan.kept_unlisted.clear();
    }
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
    let mut tally = Tally { report, carried, open: BTreeMap::new() };
    let result = run.folders(&plan.folders, &mut gone, &mut tally, obs).await;
    if let Err(e) = &result {
        // What the folders under way committed before the failure still counts: with their next pass.
        if run.store.flush().await.is_ok() {
            for (mailbox, (name, started)) in std::mem::take(&mut tally.open) {
                let done = run.store.take_keyed(mailbox);
                tally.carry(FolderReport {
                    folder: name,
                    new: done.new,
                    updated: done.updated,
                    removed: done.removed,
                    gaps: done.unfetchable,
                    seconds: started.elapsed().as_secs_f64(),
                    error: Some(e.to_string()),
                    ..FolderReport::default()
                });
            }
        }
    }
    result?;
    for g in gone {
        if !cfg.dry_run {
            let id = g.id;
            run.store.call(move |s| s.delete_mailbox(id)).await?;
        }
        if !tally.report.deleted_folders.contains(&g.name) {
            tally.report.deleted_folders.push(g.name);
        }
    }
    run.client.logout().await;
    Ok(())
}

/// The account's id (created unless this is a dry run).
async fn find_account(
    store: &mut StoreHandle,
    cfg: &ImapSyncConfig,
) -> Result<Option<AccountId>, EngineError> {
    let name = cfg.account.clone();
    if cfg.dry_run {
        store.call(move |s| s.find_account(&name)).await
    } else {
        Ok(Some(store.call(move |s| s.account(&name)).await?))
    }
}

/// ENABLE QRESYNC (when offered) and LIST, in one round trip: the folders, whether every LIST line could be
/// read, and whether QRESYNC is enabled.
async fn open_account(
    client: &mut ImapClient,
    caps: &Capabilities,
) -> Result<(Vec<Listed>, bool, bool), EngineError> {
    const ENABLE: usize = 0;
    const LIST: usize = 1;
    let mut p = Pipeline::new(2);
    let enable = caps.has("QRESYNC") && caps.has("ENABLE");
    if enable {
        p.push(ENABLE, Command::Enable(vec!["QRESYNC".into()]), Budget::DEFAULT);
    }
    let list = Command::List {
        reference: String::new(),
        pattern: "*".into(),
        return_special_use: caps.has("SPECIAL-USE"),
    };
    p.push(LIST, list, Budget::DEFAULT);
    let (mut listed, mut read_whole) = (Vec::new(), true);
    while let Some(answer) = client.next_piped(&mut p).await? {
        match answer {
            Piped::Data(LIST, Untagged::List(item)) => listed.push(Listed::from_list(&item)),
            Piped::Data(..) => {}
            Piped::Done(i, done, stepped) => {
                client.check(&done)?;
                if i == LIST {
                    read_whole = stepped.unreadable == 0;
                }
            }
        }
    }
    let qresync = enable && client.enabled().iter().any(|e| e.eq_ignore_ascii_case("QRESYNC"));
    Ok((listed, read_whole, qresync))
}

impl Run<'_> {
    /// Every planned folder: all probed at once (settled as their answers complete), then those the probe
    /// could not settle one at a time, then every folder's new messages back to back.
    async fn folders(
        &mut self,
        folders: &[(Listed, Option<MailboxRow>)],
        gone: &mut Vec<MailboxRow>,
        tally: &mut Tally<'_>,
        obs: &mut dyn Observer,
    ) -> Result<(), EngineError> {
        let mut downloads = Vec::new();
        let careful = self.probe_all(folders, gone, &mut downloads, tally, obs).await?;
        for k in careful {
            let Some((f, local)) = folders.get(k) else { continue };
            let started = Instant::now();
            let settled = self.careful(f, local.clone(), gone, tally, obs).await;
            self.settled(f, started, settled, &mut downloads, tally, obs)?;
        }
        if self.cfg.dry_run {
            return Ok(());
        }
        let limits = self.cfg.limits;
        download(&mut self.client, self.store, downloads, self.condstore, &limits, tally, obs).await
    }

    /// Sends every folder's probe (within the window) and settles each folder as its answers complete.
    /// Returns the folders (by index) left to the careful path.
    async fn probe_all(
        &mut self,
        folders: &[(Listed, Option<MailboxRow>)],
        gone: &[MailboxRow],
        downloads: &mut Vec<FolderDownload>,
        tally: &mut Tally<'_>,
        obs: &mut dyn Observer,
    ) -> Result<Vec<usize>, EngineError> {
        let started = Instant::now();
        let mut p = Pipeline::new(PROBE_WINDOW);
        let mut probes: Vec<Option<FolderProbe>> = Vec::with_capacity(folders.len());
        for (k, (f, local)) in folders.iter().enumerate() {
            let commands = probe_for(f, local.as_ref(), self.qresync, self.condstore);
            // A QRESYNC answer holds about one response per message below the stored UIDNEXT.
            let examine_budget = match local.as_ref().and_then(|m| m.uidnext) {
                Some(next) if commands.used_qresync => {
                    Budget::per_message(usize::try_from(next.get()).unwrap_or(usize::MAX))
                }
                _ => Budget::DEFAULT,
            };
            p.push(2 * k, commands.examine.clone(), examine_budget);
            if let Some(cmd) = commands.follow.command() {
                p.push(2 * k + 1, cmd, Budget::DEFAULT);
            }
            probes.push(Some(FolderProbe::new(commands)));
        }
        let mut careful = Vec::new();
        while let Some(answer) = self.client.next_piped(&mut p).await? {
            let (index, follow) = match &answer {
                Piped::Data(i, _) | Piped::Done(i, ..) => (*i / 2, *i % 2 == 1),
            };
            let Some(probe) = probes.get_mut(index).and_then(Option::as_mut) else { continue };
            match answer {
                Piped::Data(_, u) => probe.data(follow, u),
                Piped::Done(_, done, stepped) => {
                    probe.done(follow, done, stepped);
                    if let (false, Some(exists)) = (follow, probe.exists()) {
                        // The listing's answer is held to the size the EXAMINE announced.
                        let n = usize::try_from(exists).unwrap_or(usize::MAX);
                        p.set_budget(2 * index + 1, Budget::per_message(n));
                    }
                }
            }
            if !probe.complete() {
                continue;
            }
            let (Some(probe), Some((f, local))) =
                (probes.get_mut(index).and_then(Option::take), folders.get(index))
            else {
                continue;
            };
            let used_qresync = probe.commands.used_qresync;
            let settled = match probe.finish() {
                Probed::Refused(done) => self.client.check(&done).map(|()| Settled::Careful),
                Probed::Unusable(why) => Err(self.client.inconsistent(&format!("EXAMINE {}: {why}", f.name))),
                Probed::Examined(ex, facts) => {
                    let state = self.local_state(local.as_ref().map(|m| m.id)).await?;
                    let seen = Observed { ex, used_qresync, facts };
                    let ctx = Context { started, note: None, renames_checked: false };
                    self.settle(f, local.clone(), state, seen, ctx, gone, tally, obs).await
                }
            };
            if matches!(settled, Ok(Settled::Careful)) {
                careful.push(index);
                continue;
            }
            self.settled(f, started, settled, downloads, tally, obs)?;
        }
        Ok(careful)
    }

    /// Files a folder's outcome: a download to do, or (for a folder-level failure, e.g. a refused EXAMINE or
    /// answers that do not add up) a report with the error, while the run goes on. A broken connection ends
    /// the pass.
    fn settled(
        &mut self,
        f: &Listed,
        started: Instant,
        settled: Result<Settled, EngineError>,
        downloads: &mut Vec<FolderDownload>,
        tally: &mut Tally<'_>,
        obs: &mut dyn Observer,
    ) -> Result<(), EngineError> {
        match settled {
            Ok(Settled::Download(d)) => downloads.push(*d),
            Ok(Settled::Finished) => {}
            Ok(Settled::Careful) => {
                return Err(EngineError::Internal(format!("{}: no way left to settle the folder", f.name)));
            }
            Err(e) if e.is_folder_level() => {
                tracing::warn!("folder {}: {e}", f.name);
                let r = FolderReport {
                    folder: f.name.clone(),
                    error: Some(e.to_string()),
                    seconds: started.elapsed().as_secs_f64(),
                    ..FolderReport::default()
                };
                let open = tally.open.iter().find(|(_, (name, _))| *name == f.name).map(|(m, _)| *m);
                let mut r = r;
                if let Some(m) = open {
                    // What it wrote before failing (e.g. a UIDVALIDITY reset) is counted.
                    let done = self.store.take_keyed(m);
                    r.new = done.new;
                    r.updated = done.updated;
                    r.removed = done.removed;
                    r.gaps = done.unfetchable;
                }
                tally.finished(open, r, obs);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}
