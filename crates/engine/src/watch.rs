//! Keeping one account current for as long as it runs (`mailsync watch`). IMAP: a full sync at the start and
//! every `sweep`, and a sync of a watched folder as soon as its idler ([`crate::imap::idle`]) reports a change
//! or has just (re)connected; POP3: a sync every `poll`.
//!
//! Owns: the account's schedule ([`Schedule`]: what is due, bursts of changes coalesced into one sync, the
//! back-off after a failed sync), the idlers' lifetimes, and noticing that the machine slept ([`SleepCheck`]:
//! the wall clock moved well past the monotonic one), after which every idler reconnects and everything is
//! swept. Another process syncing the account (`mailsync sync` run by hand) is not a failure: the watch says
//! so once, tries again every few seconds, and syncs as soon as that sync is done. Must never: run two syncs
//! of the account at once, stop watching after a failure (it is retried, the waits growing up to five
//! minutes), or hold a stop up: a stop abandons a sync between two store transactions (each batch is
//! committed whole or not at all), and the idlers end with a DONE and LOGOUT.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::endpoint::Reconnect;
use crate::imap::idle::{idle_folder, IdleNote, IdleTarget};
use crate::imap::{sync_account, AccountReport, ImapSyncConfig, Observer};
use crate::pop3::sync::sync_pop3;
use crate::pop3::{Pop3Report, Pop3SyncConfig};
use crate::writer::StoreHandle;
use crate::EngineError;

/// Changes reported within this long of each other are synced together.
const COALESCE: Duration = Duration::from_millis(250);

/// How often the clocks are compared to notice a sleep.
const CLOCK_TICK: Duration = Duration::from_secs(10);

/// How much further the wall clock must have moved than the monotonic one to count as a sleep.
const SLEPT: Duration = Duration::from_secs(30);

/// While another process syncs the account, the watch's own sync is tried again this often.
pub const BUSY_RETRY: Duration = Duration::from_secs(5);

/// How an IMAP account is watched.
#[derive(Debug, Clone)]
pub struct ImapWatch {
    /// How each sync runs (its `only` is set per sync; credentials are renewed before each).
    pub sync: ImapSyncConfig,
    /// The folders idled on.
    pub folders: Vec<String>,
    /// How often every folder is synced.
    pub sweep: Duration,
    /// How often IDLE is ended and issued again.
    pub reissue: Duration,
}

/// How a POP3 account is watched.
#[derive(Debug, Clone)]
pub struct Pop3Watch {
    /// How each sync runs.
    pub sync: Pop3SyncConfig,
    /// How often.
    pub poll: Duration,
}

/// Why a sync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Every folder: the first sync, a sweep, after a sleep.
    All,
    /// These folders changed (or their idler reconnected).
    Folders(Vec<String>),
}

/// What a watch tells as it goes (a sync's own progress comes through [`Observer`]).
pub trait WatchObserver: Observer {
    /// An IMAP sync ended.
    fn imap_synced(&mut self, _job: &Job, _report: &AccountReport, _result: &Result<(), EngineError>) {}
    /// A POP3 sync ended.
    fn pop3_synced(&mut self, _report: &Pop3Report, _result: &Result<(), EngineError>) {}
    /// IDLE is up on a folder.
    fn idling(&mut self, _folder: &str) {}
    /// An idler lost its connection; it tries again after `wait`.
    fn idle_lost(&mut self, _folder: &str, _error: &EngineError, _wait: Duration) {}
    /// An idler stopped for good (the sweeps still cover its folder).
    fn idle_gave_up(&mut self, _folder: &str, _error: &EngineError) {}
    /// The machine slept: the idlers reconnect and everything is swept.
    fn woke(&mut self) {}
    /// Another process began syncing the account: the watch's syncs wait for it (told once per spell).
    fn busy(&mut self) {}
}

/// What is due when, for one account. Pure: the caller says what time it is.
#[derive(Debug, Clone)]
pub struct Schedule {
    sweep: Duration,
    next_sweep: Instant,
    dirty: BTreeSet<String>,
    dirty_since: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
    backoff: Reconnect,
}

impl Schedule {
    /// A schedule whose first job, due at once, is a full sync.
    pub fn new(now: Instant, sweep: Duration, backoff: Reconnect) -> Schedule {
        Schedule {
            sweep,
            next_sweep: now,
            dirty: BTreeSet::new(),
            dirty_since: None,
            retry_at: None,
            failures: 0,
            backoff,
        }
    }

    /// `folder` changed.
    pub fn changed(&mut self, folder: &str, now: Instant) {
        self.dirty.insert(folder.to_owned());
        self.dirty_since.get_or_insert(now);
    }

    /// Everything is due now (the machine slept).
    pub fn sweep_now(&mut self, now: Instant) {
        self.next_sweep = now;
    }

    /// The job due at `now`, if any, taken (its folders are no longer dirty).
    pub fn take(&mut self, now: Instant) -> Option<Job> {
        if self.retry_at.is_some_and(|t| t > now) {
            return None;
        }
        if now >= self.next_sweep {
            self.dirty.clear();
            self.dirty_since = None;
            self.next_sweep = now + self.sweep;
            return Some(Job::All);
        }
        let since = self.dirty_since?;
        if now < since + COALESCE {
            return None;
        }
        self.dirty_since = None;
        Some(Job::Folders(std::mem::take(&mut self.dirty).into_iter().collect()))
    }

    /// `job` ended at `now`, well or not. A failed job is due again after a growing wait.
    pub fn ran(&mut self, job: Job, ok: bool, now: Instant) {
        if ok {
            self.failures = 0;
            self.retry_at = None;
            if job == Job::All {
                self.next_sweep = now + self.sweep;
            }
            return;
        }
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + self.backoff.wait(self.failures));
        self.again(job, now);
    }

    /// `job` could not start at `now` because another process syncs the account: due again after
    /// [`BUSY_RETRY`], whatever the failures so far (which it does not add to).
    pub fn busy(&mut self, job: Job, now: Instant) {
        self.retry_at = Some(now + BUSY_RETRY);
        self.again(job, now);
    }

    /// Puts `job` back: its folders dirty again, or the sweep due.
    fn again(&mut self, job: Job, now: Instant) {
        match job {
            // Due again once the back-off has passed.
            Job::All => self.next_sweep = now,
            Job::Folders(folders) => {
                for f in folders {
                    self.changed(&f, now);
                }
            }
        }
    }

    /// When something next becomes due (the caller also wakes for idlers' notes).
    pub fn next_due(&self) -> Instant {
        let mut at = self.next_sweep;
        if let Some(since) = self.dirty_since {
            at = at.min(since + COALESCE);
        }
        match self.retry_at {
            Some(r) => at.max(r),
            None => at,
        }
    }
}

/// Tells a sleep of the machine from the clocks: the monotonic clock stands still while the machine sleeps,
/// the wall clock does not.
#[derive(Debug, Clone, Copy)]
pub struct SleepCheck {
    wall: SystemTime,
    mono: Instant,
}

impl SleepCheck {
    /// Starts comparing at these readings.
    pub fn new(wall: SystemTime, mono: Instant) -> SleepCheck {
        SleepCheck { wall, mono }
    }

    /// Whether the machine slept since the last reading (and takes these as the new ones).
    pub fn slept(&mut self, wall: SystemTime, mono: Instant) -> bool {
        let wall_moved = wall.duration_since(self.wall).unwrap_or(Duration::ZERO);
        let mono_moved = mono.saturating_duration_since(self.mono);
        *self = SleepCheck { wall, mono };
        wall_moved > mono_moved + SLEPT
    }
}

/// The waits after a failed sync or a lost idler: from a second, doubling, at most five minutes; never
/// given up.
pub fn watch_backoff() -> Reconnect {
    Reconnect { attempts: u32::MAX, base: Duration::from_secs(1), cap: Duration::from_secs(300) }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether another process is syncing the account, telling the observer when a spell of that begins.
#[derive(Debug, Default)]
struct Busy(bool);

impl Busy {
    /// Whether `result` says the account is busy; the observer hears of it on the first of a row.
    fn says(&mut self, result: &Result<(), EngineError>, obs: &mut dyn WatchObserver) -> bool {
        let busy = result.as_ref().is_err_and(EngineError::is_busy);
        if busy && !self.0 {
            obs.busy();
        }
        self.0 = busy;
        busy
    }
}

/// Whether to stop: told so, or nobody is left to tell.
fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Watches an IMAP account until `stop` turns true (or its sender goes).
pub async fn watch_imap(
    store: &mut StoreHandle,
    w: &ImapWatch,
    mut stop: watch::Receiver<bool>,
    obs: &mut dyn WatchObserver,
) {
    let (tx, mut notes) = mpsc::channel(64);
    let (kick, kicks) = watch::channel(0u64);
    let target = IdleTarget {
        endpoint: w.sync.endpoint.clone(),
        credentials: w.sync.credentials.clone(),
        renew: w.sync.renew.clone(),
        max_response: w.sync.limits.max_response,
        reissue: w.reissue,
        backoff: watch_backoff(),
    };
    let idlers: Vec<_> = w
        .folders
        .iter()
        .map(|f| {
            tokio::spawn(idle_folder(target.clone(), f.clone(), tx.clone(), stop.clone(), kicks.clone()))
        })
        .collect();
    drop(tx);
    let mut schedule = Schedule::new(Instant::now(), w.sweep, watch_backoff());
    let mut clock = SleepCheck::new(SystemTime::now(), Instant::now());
    let mut tick = tokio::time::interval(CLOCK_TICK);
    let mut busy = Busy::default();
    while !stopping(&stop) {
        if let Some(job) = schedule.take(Instant::now()) {
            let (report, result) = tokio::select! {
                r = sync_imap_job(store, w, &job, obs) => r,
                _ = stop.changed() => break,
            };
            if busy.says(&result, obs) {
                schedule.busy(job, Instant::now());
            } else {
                obs.imap_synced(&job, &report, &result);
                schedule.ran(job, result.is_ok(), Instant::now());
            }
            continue;
        }
        tokio::select! {
            Some(note) = notes.recv() => match note {
                IdleNote::Ready(f) => {
                    obs.idling(&f);
                    schedule.changed(&f, Instant::now());
                }
                IdleNote::Changed(f) => schedule.changed(&f, Instant::now()),
                IdleNote::Lost { folder, error, wait } => obs.idle_lost(&folder, &error, wait),
                IdleNote::Gave { folder, error } => obs.idle_gave_up(&folder, &error),
            },
            () = tokio::time::sleep_until(schedule.next_due()) => {}
            _ = tick.tick() => {
                if clock.slept(SystemTime::now(), Instant::now()) {
                    obs.woke();
                    kick.send_modify(|k| *k += 1);
                    schedule.sweep_now(Instant::now());
                }
            }
            _ = stop.changed() => {}
        }
    }
    // The idlers saw the stop too: they end IDLE and log out (or are dropped if the server does not answer).
    tracing::debug!(account = %w.sync.account, "watch stopping");
    for idler in idlers {
        let _ = tokio::time::timeout(Duration::from_secs(2), idler).await;
    }
    tracing::debug!(account = %w.sync.account, "idlers stopped");
}

async fn sync_imap_job(
    store: &mut StoreHandle,
    w: &ImapWatch,
    job: &Job,
    obs: &mut dyn WatchObserver,
) -> (AccountReport, Result<(), EngineError>) {
    let mut cfg = w.sync.clone();
    cfg.now = unix_now();
    cfg.only = match job {
        Job::All => None,
        Job::Folders(f) => Some(f.clone()),
    };
    if let Some(renew) = &cfg.renew {
        match renew.get() {
            Ok(c) => cfg.credentials = c,
            Err(why) => {
                let e = EngineError::Config(format!("renewing the credentials: {why}"));
                return (AccountReport { account: cfg.account.clone(), ..AccountReport::default() }, Err(e));
            }
        }
    }
    sync_account(store, &cfg, obs).await
}

/// Watches a POP3 account (a sync every `poll`) until `stop` turns true (or its sender goes).
pub async fn watch_pop3(
    store: &mut StoreHandle,
    w: &Pop3Watch,
    mut stop: watch::Receiver<bool>,
    obs: &mut dyn WatchObserver,
) {
    let backoff = watch_backoff();
    let mut failures = 0u32;
    let mut busy = Busy::default();
    while !stopping(&stop) {
        let mut cfg = w.sync.clone();
        cfg.now = unix_now();
        let renewed = cfg.renew.as_ref().map(|r| r.get());
        let (report, result) = match renewed {
            Some(Err(why)) => {
                let e = EngineError::Config(format!("renewing the credentials: {why}"));
                (Pop3Report { account: cfg.account.clone(), ..Pop3Report::default() }, Err(e))
            }
            renewed => {
                if let Some(Ok(c)) = renewed {
                    cfg.credentials = c;
                }
                tokio::select! {
                    r = sync_pop3(store, &cfg, obs) => r,
                    _ = stop.changed() => break,
                }
            }
        };
        let wait = if busy.says(&result, obs) {
            BUSY_RETRY
        } else if result.is_ok() {
            obs.pop3_synced(&report, &result);
            failures = 0;
            w.poll
        } else {
            obs.pop3_synced(&report, &result);
            failures = failures.saturating_add(1);
            backoff.wait(failures).min(w.poll)
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders(v: &[&str]) -> Job {
        Job::Folders(v.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn a_schedule_sweeps_first_then_coalesces_changes_and_backs_off_after_failures() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let backoff = Reconnect { attempts: u32::MAX, base: ms(1000), cap: ms(8000) };
        let mut s = Schedule::new(t0, Duration::from_secs(60), backoff);
        s.changed("INBOX", t0);
        assert_eq!(s.take(t0), Some(Job::All), "the first job is a full sync, and covers the change");
        assert_eq!(s.take(t0), None);
        s.ran(Job::All, true, t0);
        assert_eq!(s.next_due(), t0 + Duration::from_secs(60));

        // Two changes close together: one sync of both, once the burst has settled.
        s.changed("INBOX", t0 + ms(100));
        s.changed("Archive", t0 + ms(200));
        assert_eq!(s.take(t0 + ms(200)), None, "still coalescing");
        assert_eq!(s.next_due(), t0 + ms(350));
        assert_eq!(s.take(t0 + ms(350)), Some(folders(&["Archive", "INBOX"])));
        assert_eq!(s.take(t0 + ms(400)), None);

        // A failed folder sync is due again after the back-off, not before.
        s.ran(folders(&["Archive", "INBOX"]), false, t0 + ms(1000));
        assert_eq!(s.take(t0 + ms(1100)), None);
        let retry = s.next_due();
        assert!(retry >= t0 + ms(1500) && retry <= t0 + ms(2000), "{:?}", retry - t0);
        assert_eq!(s.take(retry), Some(folders(&["Archive", "INBOX"])));
        s.ran(folders(&["Archive", "INBOX"]), true, retry);

        // The sweep comes when its time comes; a sleep makes it due at once.
        assert_eq!(s.take(t0 + Duration::from_secs(59)), None);
        assert_eq!(s.take(t0 + Duration::from_secs(60)), Some(Job::All));
        s.ran(Job::All, true, t0 + Duration::from_secs(60));
        s.sweep_now(t0 + Duration::from_secs(61));
        assert_eq!(s.take(t0 + Duration::from_secs(61)), Some(Job::All));

        // A failed sweep is due again after the back-off, and only then.
        let t1 = t0 + Duration::from_secs(62);
        s.ran(Job::All, false, t1);
        assert_eq!(s.take(t1 + ms(100)), None);
        let retry = s.next_due();
        assert!(retry > t1 + ms(100) && retry <= t1 + ms(1000), "{:?}", retry - t1);
        assert_eq!(s.take(retry), Some(Job::All));
    }

    #[test]
    fn another_process_syncing_delays_a_job_without_counting_as_a_failure() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let backoff = Reconnect { attempts: u32::MAX, base: ms(1000), cap: ms(300_000) };
        let mut s = Schedule::new(t0, Duration::from_secs(600), backoff);
        // Three failures make the back-off 4 s (a random half to all of it).
        for n in 0..3 {
            let at = s.next_due();
            assert_eq!(s.take(at), Some(Job::All), "try {n}");
            s.ran(Job::All, false, at);
        }
        // Busy, again and again: each time due BUSY_RETRY later, however long it lasts.
        let mut at = s.next_due();
        for _ in 0..10 {
            assert_eq!(s.take(at), Some(Job::All));
            s.busy(Job::All, at);
            assert_eq!(s.take(at + BUSY_RETRY - ms(1)), None);
            assert_eq!(s.next_due(), at + BUSY_RETRY);
            at += BUSY_RETRY;
        }
        // Changes meanwhile wait with it, and go in the same sync.
        s.changed("INBOX", at - ms(100));
        assert_eq!(s.take(at), Some(Job::All));
        // A failure after the busy spell is the fourth, not the fourteenth: a wait of 4-8 s, not minutes.
        s.ran(Job::All, false, at);
        let wait = s.next_due() - at;
        assert!(wait >= ms(4000) && wait <= ms(8000), "{wait:?}");
    }

    #[test]
    fn a_sleep_is_the_wall_clock_running_ahead_of_the_monotonic_one() {
        let (w0, m0) = (SystemTime::now(), Instant::now());
        let mut c = SleepCheck::new(w0, m0);
        // (wall moved, monotonic moved) -> slept
        let rows = [(10, 10, false), (12, 10, false), (45, 10, true), (10, 10, false), (3600, 10, true)];
        let (mut w, mut m) = (w0, m0);
        for (wall, mono, want) in rows {
            w += Duration::from_secs(wall);
            m += Duration::from_secs(mono);
            assert_eq!(c.slept(w, m), want, "wall +{wall} s, monotonic +{mono} s");
        }
        // A wall clock set back is not a sleep.
        assert!(!c.slept(w - Duration::from_secs(100), m + Duration::from_secs(10)));
    }
}
