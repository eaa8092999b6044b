//! What an IMAP run tells its caller: per-folder and per-account reports, and the progress callbacks.
//!
//! Must never: count what was not committed (the counts of a folder come from the store's outcome of its
//! batches; in a dry run, from the plan, and they say "would").

use std::time::Duration;

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
    /// Messages the server lists that this run tried and could not store (each recorded as a gap with its
    /// reason, tried again later).
    pub gaps: u64,
    /// Recorded gaps left alone this run because their back-off has not run out.
    pub gaps_waiting: u64,
    /// Server responses or items stepped over because they broke the protocol (each logged).
    pub warnings: u64,
    /// Something worth telling (a rename, a UIDVALIDITY reset, why the cursor did not move).
    pub note: Option<String>,
    /// Why this folder failed, if it did (the run goes on with the other folders).
    pub error: Option<String>,
}

impl FolderReport {
    /// Adds a later pass over the same folder (after a reconnect).
    pub fn absorb(&mut self, r: FolderReport) {
        self.new += r.new;
        self.updated += r.updated;
        self.removed += r.removed;
        self.bytes += r.bytes;
        self.seconds += r.seconds;
        self.gaps += r.gaps;
        self.gaps_waiting = r.gaps_waiting;
        self.warnings += r.warnings;
        self.note = r.note.or(self.note.take());
        self.error = r.error;
    }
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
    /// Local folders the server did not list but that were kept, because LIST could not be read whole.
    pub kept_folders: Vec<String>,
    /// Responses stepped over outside any folder (LIST, login).
    pub warnings: u64,
    /// How many times the run reconnected (after a dropped link, a BYE, throttling) and carried on.
    pub reconnects: u64,
}

impl AccountReport {
    /// Adds a folder's report (merging with an earlier pass over the same folder).
    pub fn merge(&mut self, r: FolderReport) {
        match self.folders.iter_mut().find(|f| f.folder == r.folder) {
            Some(f) => f.absorb(r),
            None => self.folders.push(r),
        }
    }

    /// Notes a skipped folder once.
    pub fn skip(&mut self, name: String, why: String) {
        if !self.skipped_folders.iter().any(|(n, _)| n == &name) {
            self.skipped_folders.push((name, why));
        }
    }

    /// Totals over the folders: (new, updated, removed, bytes, gaps, warnings).
    pub fn totals(&self) -> (u64, u64, u64, u64, u64, u64) {
        let sum = |f: fn(&FolderReport) -> u64| self.folders.iter().map(f).sum::<u64>();
        (
            sum(|f| f.new),
            sum(|f| f.updated),
            sum(|f| f.removed),
            sum(|f| f.bytes),
            sum(|f| f.gaps + f.gaps_waiting),
            sum(|f| f.warnings) + self.warnings,
        )
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
    /// The connection failed with `error`; the run reconnects after `wait`.
    fn reconnecting(&mut self, _wait: Duration, _error: &crate::EngineError) {}
}

/// An observer that observes nothing.
#[derive(Debug, Default)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Where finished folders go during a run: merged with what earlier passes carried (a pass cut short by a
/// dropped link), shown to the observer, added to the account's report. Also knows which folders have
/// writes under way, so a pass cut short can carry what they committed.
#[derive(Debug)]
pub struct Tally<'a> {
    /// The account's report.
    pub report: &'a mut AccountReport,
    /// Folder passes cut short, by folder: what they committed is added to the folder's next pass.
    pub carried: &'a mut std::collections::BTreeMap<String, FolderReport>,
    /// Folders with writes under way: mailbox -> (name, when its pass started).
    pub open: std::collections::BTreeMap<i64, (String, std::time::Instant)>,
}

impl Tally<'_> {
    /// A folder's pass finished.
    pub fn finished(&mut self, mailbox: Option<i64>, mut r: FolderReport, obs: &mut dyn Observer) {
        if let Some(m) = mailbox {
            self.open.remove(&m);
        }
        if let Some(mut earlier) = self.carried.remove(&r.folder) {
            earlier.absorb(r);
            r = earlier;
        }
        obs.folder_finished(&r);
        self.report.merge(r);
    }

    /// What a pass cut short committed, for the folder's next pass.
    pub fn carry(&mut self, partial: FolderReport) {
        self.carried
            .entry(partial.folder.clone())
            .or_insert_with(|| FolderReport { folder: partial.folder.clone(), ..FolderReport::default() })
            .absorb(partial);
    }
}
