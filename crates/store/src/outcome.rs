//! What a committed batch did, in counts: [`BatchOutcome`].
//!
//! Owns: the summary shared by the IMAP and POP3 batch writers, which the engine adds up into the
//! `sync` report and the `sync_runs` row.
//!
//! Must never: count anything that was not committed (an outcome exists only after the commit).

/// Counts for one committed batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Locations added (new server copies recorded).
    pub new: u64,
    /// Of those, locations whose bytes were already stored (deduplicated by SHA-256).
    pub deduplicated: u64,
    /// Of those, locations that gave a detached message (left by a UIDVALIDITY reset) a home again.
    pub reattached: u64,
    /// Locations already present: re-sent after a crash, nothing done.
    pub unchanged: u64,
    /// Distinct messages newly stored.
    pub stored: u64,
    /// Raw bytes newly stored (of `stored` messages).
    pub bytes: u64,
    /// IMAP locations whose flags or modseq changed.
    pub updated: u64,
    /// IMAP locations removed by expunges.
    pub removed: u64,
    /// Messages deleted because no location was left.
    pub messages_deleted: u64,
    /// UIDs recorded as unfetchable (IMAP) or messages recorded as gaps (POP3).
    pub unfetchable: u64,
    /// IMAP locations withdrawn because the copy turned out not to be the message.
    pub retracted: u64,
}

/// Adds another batch's counts (the engine sums a run's batches).
impl std::ops::AddAssign for BatchOutcome {
    fn add_assign(&mut self, b: BatchOutcome) {
        self.new += b.new;
        self.deduplicated += b.deduplicated;
        self.reattached += b.reattached;
        self.unchanged += b.unchanged;
        self.stored += b.stored;
        self.bytes += b.bytes;
        self.updated += b.updated;
        self.removed += b.removed;
        self.messages_deleted += b.messages_deleted;
        self.unfetchable += b.unfetchable;
        self.retracted += b.retracted;
    }
}
