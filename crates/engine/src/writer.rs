//! The one store writer: a thread that owns the [`Store`] and runs jobs sent from the network side, so that
//! SQLite work (hashing, header parsing, inserts, fsync at commit) overlaps with receiving the next messages.
//!
//! Owns: the hand-over of work to the store thread and the bound on what is in flight (a bounded channel and
//! at most `MAX_IN_FLIGHT` unanswered batches), which is what keeps memory bounded by a few batches, not by
//! the mailbox. Must never: reorder jobs (they run in the order sent), or swallow a store error.

use std::collections::{HashMap, VecDeque};
use std::thread::JoinHandle;

use mailsync_store::{AccountId, BatchOutcome, Protocol, RunId, Store, StoreError, SyncLock};
use tokio::sync::{mpsc, oneshot};

use crate::EngineError;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// Unanswered batches allowed before the network side waits for the writer.
const MAX_IN_FLIGHT: usize = 2;

/// A write's outcome, once the writer thread got to it.
type Answer = oneshot::Receiver<Result<BatchOutcome, StoreError>>;

/// A handle on the writer thread.
#[derive(Debug)]
pub struct StoreHandle {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<Store>>,
    in_flight: VecDeque<(Option<i64>, Answer)>,
    done: BatchOutcome,
    /// Outcomes of writes submitted under a key (an IMAP run's mailbox), so that folders in progress at the
    /// same time each get their own counts.
    keyed: HashMap<i64, BatchOutcome>,
    /// Changes committed through this handle since it was made (messages, flags, removals, gaps): what a
    /// run measures its progress by.
    committed: u64,
}

impl StoreHandle {
    /// Moves `store` onto its own thread.
    pub fn spawn(mut store: Store) -> StoreHandle {
        let (tx, mut rx) = mpsc::channel::<Job>(MAX_IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name("mailsync-store".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(&mut store);
                }
                store
            })
            .ok();
        StoreHandle {
            tx: Some(tx),
            thread,
            in_flight: VecDeque::new(),
            done: BatchOutcome::default(),
            keyed: HashMap::new(),
            committed: 0,
        }
    }

    async fn send(&self, job: Job) -> Result<(), EngineError> {
        let gone = || EngineError::Internal("the store writer thread stopped".into());
        self.tx.as_ref().ok_or_else(gone)?.send(job).await.map_err(|_| gone())
    }

    /// Runs `f` on the store after everything sent before it, and waits for its answer.
    pub async fn call<R, F>(&mut self, f: F) -> Result<R, EngineError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        // Earlier writes first (their counts stay for the next `drain`), so `f` sees them.
        while !self.in_flight.is_empty() {
            self.wait_one().await?;
        }
        let (reply, answer) = oneshot::channel();
        self.send(Box::new(move |s: &mut Store| {
            let _ = reply.send(f(s));
        }))
        .await?;
        let r = answer.await.map_err(|_| EngineError::Internal("the store writer thread stopped".into()))?;
        Ok(r?)
    }

    /// Queues a write whose outcome is only needed later; waits while `MAX_IN_FLIGHT` are unanswered.
    pub async fn submit<F>(&mut self, f: F) -> Result<(), EngineError>
    where
        F: FnOnce(&mut Store) -> Result<BatchOutcome, StoreError> + Send + 'static,
    {
        self.submit_under(None, f).await
    }

    /// [`StoreHandle::submit`], with the outcome kept under `key` (see [`StoreHandle::take_keyed`]).
    pub async fn submit_keyed<F>(&mut self, key: i64, f: F) -> Result<(), EngineError>
    where
        F: FnOnce(&mut Store) -> Result<BatchOutcome, StoreError> + Send + 'static,
    {
        self.submit_under(Some(key), f).await
    }

    async fn submit_under<F>(&mut self, key: Option<i64>, f: F) -> Result<(), EngineError>
    where
        F: FnOnce(&mut Store) -> Result<BatchOutcome, StoreError> + Send + 'static,
    {
        while self.in_flight.len() >= MAX_IN_FLIGHT {
            self.wait_one().await?;
        }
        let (reply, answer) = oneshot::channel();
        self.send(Box::new(move |s: &mut Store| {
            let _ = reply.send(f(s));
        }))
        .await?;
        self.in_flight.push_back((key, answer));
        Ok(())
    }

    async fn wait_one(&mut self) -> Result<(), EngineError> {
        if let Some((key, answer)) = self.in_flight.pop_front() {
            let outcome = answer
                .await
                .map_err(|_| EngineError::Internal("the store writer thread stopped".into()))??;
            self.committed +=
                outcome.new + outcome.updated + outcome.removed + outcome.unfetchable + outcome.retracted;
            match key {
                Some(k) => *self.keyed.entry(k).or_default() += outcome,
                None => self.done += outcome,
            }
        }
        Ok(())
    }

    /// Waits for every submitted write.
    pub async fn flush(&mut self) -> Result<(), EngineError> {
        while !self.in_flight.is_empty() {
            self.wait_one().await?;
        }
        Ok(())
    }

    /// The summed outcome of the writes under `key` answered so far (and forgets it).
    pub fn take_keyed(&mut self, key: i64) -> BatchOutcome {
        self.keyed.remove(&key).unwrap_or_default()
    }

    /// Changes committed through this handle so far (see the field); in-flight writes count once drained.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Waits for every submitted write; returns (and resets) the sum of their outcomes.
    pub async fn drain(&mut self) -> Result<BatchOutcome, EngineError> {
        while !self.in_flight.is_empty() {
            self.wait_one().await?;
        }
        Ok(std::mem::take(&mut self.done))
    }

    /// Takes the sync lock of the account named `name` (added to the store when new) and records the start
    /// of a `protocol` run: the account's id, the run's, and the lock, held until dropped. Another sync of
    /// the account on this store makes this fail at once (`StoreError::AccountBusy`).
    pub async fn begin_run(
        &mut self,
        name: &str,
        protocol: Protocol,
    ) -> Result<(AccountId, RunId, SyncLock), EngineError> {
        let name = name.to_owned();
        self.call(move |s| {
            let account = s.account(&name)?;
            let lock = s.lock_account(account, &name)?;
            Ok((account, s.begin_run(account, protocol)?, lock))
        })
        .await
    }

    /// Waits for everything, stops the thread and gives the store back.
    pub async fn finish(mut self) -> Result<Store, EngineError> {
        self.drain().await?;
        self.tx = None;
        let thread =
            self.thread.take().ok_or_else(|| EngineError::Internal("no store writer thread".into()))?;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| EngineError::Internal("the store writer thread panicked".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(new: u64, updated: u64) -> BatchOutcome {
        BatchOutcome { new, updated, ..BatchOutcome::default() }
    }

    #[tokio::test]
    async fn committed_counts_every_answered_write_and_keyed_outcomes_stay_apart() {
        let mut store = StoreHandle::spawn(Store::open_in_memory().unwrap());
        assert_eq!(store.committed(), 0);
        store.submit(|_| Ok(outcome(2, 1))).await.unwrap();
        store.submit_keyed(7, |_| Ok(outcome(1, 0))).await.unwrap();
        store.submit_keyed(8, |_| Ok(outcome(0, 4))).await.unwrap();
        store.submit_keyed(7, |_| Ok(outcome(3, 0))).await.unwrap();
        store.flush().await.unwrap();
        assert_eq!(store.committed(), 2 + 1 + 1 + 4 + 3, "progress is what a reconnecting run measures");
        assert_eq!(store.take_keyed(7).new, 4);
        assert_eq!(store.take_keyed(7).new, 0, "taken once");
        assert_eq!(store.take_keyed(8).updated, 4);
        let unkeyed = store.drain().await.unwrap();
        assert_eq!((unkeyed.new, unkeyed.updated), (2, 1));
        store.finish().await.unwrap();
    }
}
