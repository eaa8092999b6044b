//! One folder brought up to date from what the server said about it: the plan, the store's changes (flags,
//! expunges, a UIDVALIDITY reset, a rename), the UIDs left to download, and the folder's end (its cursor after
//! its last batch, its report). The facts come from the pipelined probe ([`super::probe`]) or, when the probe
//! cannot settle a folder (a rename to check, a listing that does not add up, a reset), from the careful
//! path here, which asks the server one command at a time.
//!
//! Must never: write anything for a folder before deciding the probe's facts suffice (a folder handed to the
//! careful path starts from a clean slate); move a cursor past what was stored or recorded (`integrity` rule
//! 3); remove local mail on a listing that does not add up (rule 4).
//!
//! RFC 3501 sections 2.3.1.1 (UIDVALIDITY), 6.3.2 (EXAMINE), 6.4.4 (UID SEARCH), 6.4.5 (FETCH); RFC 7162
//! section 3.2.5 (QRESYNC).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use mailsync_proto::imap::command::{Command, FetchAttr, SearchKey};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::Untagged;
use mailsync_proto::{ModSeq, Uid, UidValidity};
use mailsync_store::{content_hash, ImapBatch, ImapGap, MailboxId, MailboxInfo, MailboxRow};

use super::client::Budget;
use super::download::FolderDownload;
use super::examine::{ExamineReader, Examined};
use super::folders::Listed;
use super::plan::{
    diff_folder, diff_qresync, plan_folder, rename_candidates, FolderDiff, Gaps, LocalCursor, Scan,
    ServerListing,
};
use super::probe::{probe_for, Facts};
use super::report::{FolderReport, Observer, Tally};
use super::sync::Run;
use crate::integrity::{cursor_after, is_rename, listing_adds_up, FolderOutcome};
use crate::writer::StoreHandle;
use crate::EngineError;

/// How many of a vanished folder's messages are compared to tell a rename from a different folder.
const RENAME_SAMPLE: usize = 3;

/// What the store holds of a folder: stored UIDs with their flags, and recorded gaps.
#[derive(Debug, Default)]
pub struct LocalState {
    /// Stored UIDs and their flags.
    pub locals: BTreeMap<Uid, Vec<String>>,
    /// Recorded gaps.
    pub gaps: Vec<ImapGap>,
}

/// What the server said about a folder.
#[derive(Debug)]
pub struct Observed {
    /// Its EXAMINE.
    pub ex: Examined,
    /// Whether the EXAMINE carried QRESYNC parameters.
    pub used_qresync: bool,
    /// What the commands behind it established.
    pub facts: Facts,
}

/// Where a folder stands after [`Run::settle`].
#[derive(Debug)]
pub enum Settled {
    /// Done and reported.
    Finished,
    /// Changes committed; new messages to download, then the folder's end.
    Download(Box<FolderDownload>),
    /// The facts do not suffice: nothing was written; the careful path takes the folder.
    Careful,
}

/// The cursor facts of a folder, decided when it settled, committed once its messages are in.
#[derive(Debug, Clone, Copy)]
pub struct CursorFacts {
    uidvalidity: UidValidity,
    uidnext: Option<Uid>,
    highestmodseq: Option<ModSeq>,
    old: Option<(Option<Uid>, Option<ModSeq>)>,
    read_whole: bool,
}

/// How a folder ends: its cursor, its report so far, when its pass started.
#[derive(Debug)]
pub struct Ending {
    cursor: Option<CursorFacts>,
    /// The report so far (counts are filled in from what the store committed).
    pub report: FolderReport,
    started: Instant,
}

impl Default for Ending {
    fn default() -> Self {
        Ending { cursor: None, report: FolderReport::default(), started: Instant::now() }
    }
}

impl Ending {
    /// Commits the cursor (unless `read_whole` is `None`: the folder failed) after every batch of the folder,
    /// waits for the folder's writes and reports it with the counts the store committed. `read_whole`: every
    /// answer since the folder settled was read.
    pub async fn finish(
        self,
        store: &mut StoreHandle,
        mailbox: MailboxId,
        read_whole: Option<bool>,
        tally: &mut Tally<'_>,
        obs: &mut dyn Observer,
    ) -> Result<(), EngineError> {
        let mut rep = self.report;
        if let (Some(c), Some(more)) = (self.cursor, read_whole) {
            let answers_read = c.read_whole && more;
            if !answers_read {
                rep.note.get_or_insert_with(|| {
                    "some answers could not be read: the folder's cursor stays where it was, so the next sync \
                     looks again"
                        .into()
                });
            }
            let outcome = FolderOutcome { answers_read, lowest_unaccounted: None };
            let mut b = ImapBatch::new(mailbox);
            b.cursor = Some(cursor_after(c.uidvalidity, c.uidnext, c.highestmodseq, c.old, outcome));
            store.submit_keyed(mailbox.get(), move |s| s.apply_imap_batch(b)).await?;
        }
        store.flush().await?;
        let done = store.take_keyed(mailbox.get());
        rep.new = done.new;
        rep.updated = done.updated;
        rep.removed = done.removed;
        rep.gaps = done.unfetchable;
        rep.seconds = self.started.elapsed().as_secs_f64();
        tally.finished(Some(mailbox.get()), rep, obs);
        Ok(())
    }
}

/// Where a folder's pass stands when it settles.
#[derive(Debug)]
pub struct Context {
    /// When the pass started.
    pub started: Instant,
    /// A note so far (a rename).
    pub note: Option<String>,
    /// Whether a new folder was already checked for being a vanished one renamed.
    pub renames_checked: bool,
}

impl Run<'_> {
    /// Applies what the server said about folder `f` (stored as `local`, holding `state`): returns
    /// [`Settled::Careful`] without writing anything when the facts do not suffice.
    #[allow(clippy::too_many_arguments)]
    pub async fn settle(
        &mut self,
        f: &Listed,
        local: Option<MailboxRow>,
        state: LocalState,
        seen: Observed,
        ctx: Context,
        gone: &[MailboxRow],
        tally: &mut Tally<'_>,
        obs: &mut dyn Observer,
    ) -> Result<Settled, EngineError> {
        let Observed { ex, used_qresync, facts } = seen;
        let uidvalidity = ex.folder.uidvalidity;
        if local.is_none() && !ctx.renames_checked && !rename_candidates(gone, uidvalidity).is_empty() {
            return Ok(Settled::Careful);
        }
        let LocalState { mut locals, gaps: mut gap_rows } = state;
        let cursor = LocalCursor {
            uidvalidity: local.as_ref().and_then(|m| m.uidvalidity),
            uidnext: local.as_ref().and_then(|m| m.uidnext).map(Uid::get),
            highestmodseq: local.as_ref().and_then(|m| m.highestmodseq),
            count: u32::try_from(locals.len()).unwrap_or(u32::MAX),
        };
        let plan = plan_folder(&cursor, &ex.folder, used_qresync && ex.folder.highestmodseq.is_some());
        let enough = match plan.scan {
            Scan::FullScan => facts.listing.is_some(),
            Scan::Qresync { from_uid } => facts.searched.as_ref().is_some_and(|(from, _)| *from == from_uid),
            Scan::UpToDate | Scan::Empty => true,
        };
        if !enough {
            return Ok(Settled::Careful);
        }

        let mut rep = FolderReport {
            folder: f.name.clone(),
            warnings: facts.warnings,
            note: ctx.note,
            ..FolderReport::default()
        };
        let mailbox = self.upsert(f, local.as_ref()).await?;
        let writing = mailbox.filter(|_| !self.cfg.dry_run);
        if let Some(m) = writing {
            tally.open.insert(m.get(), (f.name.clone(), ctx.started));
        }
        let mut old = local.as_ref().map(|m| (m.uidnext, m.highestmodseq));
        if plan.reset {
            let was = cursor.uidvalidity.map(|v| v.get()).unwrap_or(0);
            rep.note = Some(format!(
                "UIDVALIDITY changed from {was} to {}: local copies are re-matched by content, nothing local is lost",
                uidvalidity.get()
            ));
            if let Some(id) = writing {
                self.store.call(move |s| s.reset_mailbox_for_uidvalidity(id, uidvalidity)).await?;
            }
            locals.clear();
            gap_rows.clear();
            old = None;
        }
        let gaps = Gaps::split(&gap_rows, self.cfg.now, self.cfg.retry_gaps);
        let diff = match (plan.scan, &facts.listing, &facts.searched) {
            (Scan::FullScan, Some(listing), _) => diff_folder(&locals, listing, &gaps),
            (Scan::Qresync { from_uid }, _, Some((_, searched))) => {
                diff_qresync(&locals, &ex.vanished, &ex.changed, searched, from_uid, &gaps)
            }
            (Scan::Empty, _, _) => {
                let mut expunged: Vec<Uid> =
                    locals.keys().chain(&gaps.due).chain(&gaps.waiting).copied().collect();
                expunged.sort_unstable();
                FolderDiff { expunged, ..FolderDiff::default() }
            }
            _ => FolderDiff { new: gaps.due.iter().copied().collect(), ..FolderDiff::default() },
        };
        rep.gaps_waiting = count(gaps.waiting.iter().filter(|u| !diff.expunged.contains(u)).count());
        let Some(mailbox) = writing else {
            rep.updated = count(diff.flag_changes.len());
            rep.removed = count(diff.expunged.iter().filter(|u| locals.contains_key(u)).count());
            rep.new = count(diff.new.len());
            rep.seconds = ctx.started.elapsed().as_secs_f64();
            tally.finished(None, rep, obs);
            return Ok(Settled::Finished);
        };
        if !diff.flag_changes.is_empty() || !diff.expunged.is_empty() {
            let mut b = ImapBatch::new(mailbox);
            b.flag_updates = diff.flag_changes.into_iter().map(|(u, fl)| (u, fl, None)).collect();
            b.expunged = diff.expunged;
            self.store.submit_keyed(mailbox.get(), move |s| s.apply_imap_batch(b)).await?;
        }
        let ending = Ending {
            cursor: Some(CursorFacts {
                uidvalidity,
                uidnext: ex.folder.uidnext.and_then(|n| Uid::try_from(n).ok()),
                highestmodseq: ex.folder.highestmodseq,
                old,
                read_whole: facts.read_whole && ex.unusable_changes == 0,
            }),
            report: rep,
            started: ctx.started,
        };
        if diff.new.is_empty() {
            ending.finish(self.store, mailbox, Some(true), tally, obs).await?;
            return Ok(Settled::Finished);
        }
        Ok(Settled::Download(Box::new(FolderDownload {
            name: f.name.clone(),
            mailbox,
            examine: Command::Examine { mailbox: f.command_name(), condstore: self.condstore, qresync: None },
            uidvalidity,
            uids: diff.new,
            ending,
        })))
    }

    /// The careful path: one command at a time, EXAMINE, the rename check of a new folder, then exactly what
    /// its plan needs (a full listing, with `UID SEARCH ALL` when that does not add up, or the QRESYNC
    /// search), and [`Run::settle`].
    pub async fn careful(
        &mut self,
        f: &Listed,
        mut local: Option<MailboxRow>,
        gone: &mut Vec<MailboxRow>,
        tally: &mut Tally<'_>,
        obs: &mut dyn Observer,
    ) -> Result<Settled, EngineError> {
        let started = Instant::now();
        let (warnings_before, unreadable_before) = (self.client.warnings(), self.client.unreadable);
        let probe = probe_for(f, local.as_ref(), self.qresync, self.condstore);
        // What the store holds, first: a QRESYNC answer holds about one response per stored message.
        let mut state = self.local_state(local.as_ref().map(|m| m.id)).await?;
        let mut reader = ExamineReader::default();
        let budget = Budget::per_message(state.locals.len());
        let done = self.client.run_each(probe.examine, budget, |u| reader.take(u)).await?;
        self.client.check(&done)?;
        let ex = reader
            .finish(done.code.as_ref())
            .map_err(|e| self.client.inconsistent(&format!("EXAMINE {}: {e}", f.name)))?;
        let mut note = None;
        if local.is_none() {
            if let Some(renamed) = self.renamed_from(f, ex.folder.uidvalidity, gone).await? {
                note = Some(format!("renamed from {}", renamed.name));
                state = self.local_state(Some(renamed.id)).await?;
                local = Some(MailboxRow { name: f.name.clone(), ..renamed });
            }
        }
        let cursor = LocalCursor {
            uidvalidity: local.as_ref().and_then(|m| m.uidvalidity),
            uidnext: local.as_ref().and_then(|m| m.uidnext).map(Uid::get),
            highestmodseq: local.as_ref().and_then(|m| m.highestmodseq),
            count: u32::try_from(state.locals.len()).unwrap_or(u32::MAX),
        };
        let plan = plan_folder(&cursor, &ex.folder, probe.used_qresync && ex.folder.highestmodseq.is_some());
        let mut facts = Facts::default();
        match plan.scan {
            Scan::FullScan => facts.listing = Some(self.full_listing(ex.folder.exists, &f.name).await?),
            Scan::Qresync { from_uid } => {
                let found = self.search(SearchKey::Uid(SequenceSet::range_from(from_uid))).await?;
                facts.searched = Some((from_uid, found));
            }
            Scan::UpToDate | Scan::Empty => {}
        }
        facts.read_whole = self.client.unreadable == unreadable_before;
        facts.warnings = self.client.warnings() - warnings_before;
        let seen = Observed { ex, used_qresync: probe.used_qresync, facts };
        let ctx = Context { started, note, renames_checked: true };
        match self.settle(f, local, state, seen, ctx, gone, tally, obs).await? {
            Settled::Careful => {
                Err(EngineError::Internal(format!("{}: the careful path lacked facts", f.name)))
            }
            settled => Ok(settled),
        }
    }

    /// A folder new to the store may be a vanished one renamed: same UIDVALIDITY, and (rule 5) a sample of
    /// the vanished folder's messages under the same UIDs with the same bytes. Returns the vanished folder's
    /// row (renamed in the store) when it is one.
    async fn renamed_from(
        &mut self,
        f: &Listed,
        uidvalidity: UidValidity,
        gone: &mut Vec<MailboxRow>,
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
            return Ok(Some(old));
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
    pub async fn local_state(&mut self, mailbox: Option<MailboxId>) -> Result<LocalState, EngineError> {
        let Some(id) = mailbox else { return Ok(LocalState::default()) };
        let rows = self.store.call(move |s| s.imap_locations(id)).await?;
        let locals = rows
            .into_iter()
            .map(|(u, flags, _)| (u, flags.split_whitespace().map(str::to_owned).collect()))
            .collect();
        let gaps = self.store.call(move |s| s.unfetchable(id)).await?;
        Ok(LocalState { locals, gaps })
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
