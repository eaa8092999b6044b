//! Downloading the new messages of several folders over one connection, back to back: each folder's EXAMINE
//! and its `UID FETCH ... BODY.PEEK[]` chunks go out while the previous folder's bodies are still arriving,
//! so the link never idles between folders (RFC 3501 section 5.5).
//!
//! Owns: the order of the commands (a folder's EXAMINE right before its first chunk, at most
//! `Limits::pipeline` chunks unanswered), judging every answer with the folder's [`Tracker`], streaming
//! bodies to the store writer in batches keyed by folder, and finishing each folder (its cursor after its last
//! batch) as soon as its last chunk is answered.
//!
//! Must never: take a body for a folder whose EXAMINE failed or whose UIDVALIDITY is no longer the one its
//! UIDs were planned under (the UIDs would name other messages: the folder is left for the next sync); move a
//! cursor past an answer that could not be read (`integrity` rule 3); hold more than a batch per folder.
//!
//! RFC 3501 sections 6.3.2 (EXAMINE), 6.4.5 (FETCH, `BODY.PEEK[]`), 6.4.8 (UID FETCH).

use mailsync_proto::imap::command::{Command, FetchAttr};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{Completion, Status, Untagged};
use mailsync_proto::{Uid, UidValidity};
use mailsync_store::{ImapBatch, MailboxId};

use super::client::{Budget, ImapClient};
use super::examine::ExamineReader;
use super::fetch::{Tracker, Verdict};
use super::folder::Ending;
use super::pipeline::{Piped, Pipeline, Stepped};
use super::report::{Observer, Tally};
use super::sync::Limits;
use crate::writer::StoreHandle;
use crate::EngineError;

/// A folder whose changes are committed and whose new messages are still to come.
#[derive(Debug)]
pub struct FolderDownload {
    /// The folder's name (for progress and logs).
    pub name: String,
    /// Its mailbox in the store.
    pub mailbox: MailboxId,
    /// The EXAMINE that selects it again.
    pub examine: Command,
    /// The UIDVALIDITY its UIDs were planned under.
    pub uidvalidity: UidValidity,
    /// The UIDs to download, ascending.
    pub uids: Vec<Uid>,
    /// How the folder is finished once they are in.
    pub ending: Ending,
}

/// Commands unanswered at once, at most (chunks are limited further by `Limits::pipeline`).
const WINDOW: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Examine,
    Fetch,
}

/// One folder's download in progress.
struct Active {
    f: FolderDownload,
    chunks: std::vec::IntoIter<SequenceSet>,
    examine: Option<ExamineReader>,
    tracker: Tracker,
    batch: ImapBatch,
    batch_bytes: usize,
    fetches_open: usize,
    examine_sent: bool,
    /// Why the folder's download was abandoned, if it was.
    void: Option<EngineError>,
    bytes: u64,
    stepped: Stepped,
    finished: bool,
}

impl Active {
    fn new(f: FolderDownload, chunk: usize) -> Active {
        let chunks: Vec<SequenceSet> = SequenceSet::from_uids(f.uids.iter().copied())
            .map(|set| set.chunks_by_count(u32::MAX, chunk).collect())
            .unwrap_or_default();
        let batch = ImapBatch::new(f.mailbox);
        Active {
            f,
            chunks: chunks.into_iter(),
            examine: Some(ExamineReader::default()),
            tracker: Tracker::default(),
            batch,
            batch_bytes: 0,
            fetches_open: 0,
            examine_sent: false,
            void: None,
            bytes: 0,
            stepped: Stepped::default(),
            finished: false,
        }
    }

    fn has_batch(&self) -> bool {
        !self.batch.new.is_empty() || !self.batch.unfetchable.is_empty() || !self.batch.retracted.is_empty()
    }

    fn take_batch(&mut self) -> ImapBatch {
        self.batch_bytes = 0;
        std::mem::replace(&mut self.batch, ImapBatch::new(self.f.mailbox))
    }
}

/// The new messages of `folders` (in order), every UID ending stored or recorded as a gap, each folder
/// finished (cursor, report to `tally`) as soon as its last chunk is answered. On a connection error, what
/// was received whole is committed (cursors stay) and the error returned.
pub async fn download(
    client: &mut ImapClient,
    store: &mut StoreHandle,
    folders: Vec<FolderDownload>,
    condstore: bool,
    limits: &Limits,
    tally: &mut Tally<'_>,
    obs: &mut dyn Observer,
) -> Result<(), EngineError> {
    let mut items = vec![FetchAttr::Uid, FetchAttr::Flags, FetchAttr::InternalDate, FetchAttr::BodyPeek];
    if condstore {
        items.push(FetchAttr::ModSeq);
    }
    let mut active: Vec<Active> = folders.into_iter().map(|f| Active::new(f, limits.fetch_chunk)).collect();
    // By pipeline index: which folder, which command.
    let mut commands: Vec<(usize, Role)> = Vec::new();
    let mut p = Pipeline::new(WINDOW);
    let (mut feeding, mut fetches_open) = (0usize, 0usize);
    let result: Result<(), EngineError> = async {
        loop {
            // Keep `pipeline` chunks in flight, moving on to the next folder (its EXAMINE first) as each runs out.
            while fetches_open < limits.pipeline.max(1) {
                let Some(a) = active.get_mut(feeding) else { break };
                if a.void.is_some() || a.chunks.len() == 0 {
                    feeding += 1;
                    continue;
                }
                if !a.examine_sent {
                    a.examine_sent = true;
                    commands.push((feeding, Role::Examine));
                    p.push(commands.len() - 1, a.f.examine.clone(), Budget::DEFAULT);
                }
                let Some(chunk) = a.chunks.next() else { continue };
                let wanted = chunk
                    .iter(u32::MAX, limits.fetch_chunk)
                    .map_err(|e| client.protocol(&e.to_string()))?
                    .filter_map(|n| Uid::try_from(n).ok())
                    .collect::<std::collections::HashSet<Uid>>();
                let budget = Budget { bytes: u64::MAX, ..Budget::per_message(wanted.len()) };
                commands.push((feeding, Role::Fetch));
                let index = commands.len() - 1;
                a.tracker.sent(index, wanted);
                a.fetches_open += 1;
                fetches_open += 1;
                let cmd = Command::UidFetch {
                    set: chunk,
                    items: items.clone(),
                    changed_since: None,
                    vanished: false,
                };
                p.push(index, cmd, budget);
            }
            let Some(answer) = client.next_piped(&mut p).await? else { break };
            let (index, data, done) = match answer {
                Piped::Data(i, u) => (i, Some(u), None),
                Piped::Done(i, c, st) => (i, None, Some((c, st))),
            };
            let Some(&(k, role)) = commands.get(index) else { continue };
            let Some(a) = active.get_mut(k) else { continue };
            match (role, data, done) {
                (Role::Examine, Some(u), _) => {
                    if let Some(r) = a.examine.as_mut() {
                        r.take(u);
                    }
                }
                (Role::Examine, None, Some((c, st))) => {
                    a.stepped.unreadable += st.unreadable;
                    a.stepped.odd += st.odd;
                    examined(client, a, c, obs)?;
                }
                (Role::Fetch, Some(Untagged::Fetch(f)), _) if a.void.is_none() => {
                    take(store, a, &f, limits, obs).await?;
                }
                (Role::Fetch, None, Some((c, st))) => {
                    a.fetches_open -= 1;
                    fetches_open -= 1;
                    a.stepped.unreadable += st.unreadable;
                    a.stepped.odd += st.odd;
                    if a.void.is_none() {
                        chunk_done(client, a, index, &c, st)?;
                    }
                    if a.fetches_open == 0 && (a.chunks.len() == 0 || a.void.is_some()) {
                        finish(store, a, tally, obs).await?;
                    }
                }
                _ => {}
            }
        }
        // Folders with nothing left in flight that were not finished yet (all voided before a chunk went out).
        for a in active.iter_mut().filter(|a| !a.finished) {
            finish(store, a, tally, obs).await?;
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        // Every message received whole is kept (cursors stay where they were): the next try goes on from there.
        for a in active.iter_mut().filter(|a| !a.finished && a.has_batch()) {
            let b = a.take_batch();
            store.submit_keyed(a.f.mailbox.get(), move |s| s.apply_imap_batch(b)).await?;
        }
    }
    result
}

/// A folder's EXAMINE completed: the download goes on only if it opened the same folder generation.
fn examined(
    client: &ImapClient,
    a: &mut Active,
    c: Completion,
    obs: &mut dyn Observer,
) -> Result<(), EngineError> {
    let reader = a.examine.take().unwrap_or_default();
    if c.status != Status::Ok {
        match client.check(&c) {
            Err(e) if e.is_folder_level() => a.void = Some(e),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        return Ok(());
    }
    match reader.finish(c.code.as_ref()) {
        Err(why) => a.void = Some(client.inconsistent(&format!("EXAMINE {}: {why}", a.f.name))),
        Ok(ex) if ex.folder.uidvalidity != a.f.uidvalidity => {
            a.void = Some(client.inconsistent(&format!(
                "{}: UIDVALIDITY changed from {} to {} during the sync: nothing downloaded, the next sync \
                 re-matches the folder",
                a.f.name,
                a.f.uidvalidity.get(),
                ex.folder.uidvalidity.get()
            )));
        }
        Ok(_) => obs.folder_started(&a.f.name, u64::try_from(a.f.uids.len()).unwrap_or(u64::MAX), 0),
    }
    Ok(())
}

/// One FETCH answer of a folder's download.
async fn take(
    store: &mut StoreHandle,
    a: &mut Active,
    f: &mailsync_proto::imap::Fetch,
    limits: &Limits,
    obs: &mut dyn Observer,
) -> Result<(), EngineError> {
    match a.tracker.on_fetch(f) {
        Verdict::Store(m) => {
            let len = m.raw.len();
            a.bytes += u64::try_from(len).unwrap_or(u64::MAX);
            obs.message_fetched(u64::try_from(len).unwrap_or(u64::MAX));
            a.batch.new.push(*m);
            a.batch_bytes += len;
            if a.batch.new.len() >= limits.batch_messages || a.batch_bytes >= limits.batch_bytes {
                let full = a.take_batch();
                store.submit_keyed(a.f.mailbox.get(), move |s| s.apply_imap_batch(full)).await?;
            }
        }
        Verdict::Gap(uid, why) => {
            tracing::warn!(folder = %a.f.name, uid = uid.get(), "not stored: {why}");
            a.batch.unfetchable.push((uid, why));
        }
        Verdict::Retract(uid, why) => {
            tracing::warn!(folder = %a.f.name, uid = uid.get(), "withdrawn: {why}");
            let before = a.batch.new.len();
            a.batch.new.retain(|m| m.uid != uid);
            if a.batch.new.len() == before {
                a.batch.retracted.push(uid);
            }
            a.batch.unfetchable.push((uid, why));
        }
        Verdict::Ignore => {}
    }
    Ok(())
}

/// A chunk completed: the UIDs it still owed become gaps.
fn chunk_done(
    client: &ImapClient,
    a: &mut Active,
    index: usize,
    c: &Completion,
    st: Stepped,
) -> Result<(), EngineError> {
    let refused = match client.check(c) {
        Ok(()) => None,
        Err(EngineError::Refused { text, status, .. }) => Some(format!("{status} {text}")),
        Err(e) => return Err(e),
    };
    for (uid, why) in a.tracker.on_done(index, refused.as_deref(), st.unreadable > 0) {
        tracing::warn!(folder = %a.f.name, uid = uid.get(), "not stored: {why}");
        a.batch.unfetchable.push((uid, why));
    }
    Ok(())
}

/// Commits the folder's last batch and its cursor, and reports it.
async fn finish(
    store: &mut StoreHandle,
    a: &mut Active,
    tally: &mut Tally<'_>,
    obs: &mut dyn Observer,
) -> Result<(), EngineError> {
    a.finished = true;
    if a.has_batch() {
        let b = a.take_batch();
        store.submit_keyed(a.f.mailbox.get(), move |s| s.apply_imap_batch(b)).await?;
    }
    let read_whole = a.stepped.unreadable == 0 && a.tracker.unattributed == 0;
    let mut ending = std::mem::take(&mut a.f.ending);
    ending.report.bytes += a.bytes;
    ending.report.warnings += a.stepped.warnings();
    match a.void.take() {
        Some(e) => {
            tracing::warn!("folder {}: {e}", a.f.name);
            ending.report.error = Some(e.to_string());
            ending.finish(store, a.f.mailbox, None, tally, obs).await
        }
        None => ending.finish(store, a.f.mailbox, Some(read_whole), tally, obs).await,
    }
}
