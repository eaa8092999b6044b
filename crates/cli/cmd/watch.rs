//! `mailsync watch [NAME...] [--via imap|pop3]`: keeps accounts current until stopped. IMAP accounts: IDLE on
//! the folders of `[accounts.NAME.imap] watch` (INBOX by default), a sync of a folder as soon as it changes,
//! every folder swept every `sweep_minutes`; POP3 accounts (`--via pop3`, or `watch_via = "pop3"`): a sync
//! every `poll_minutes`. Every account runs at once, each with its own connections and store handle; one
//! account's trouble never stops the others.
//!
//! Owns: choosing each account's protocol, the per-account watch lock (so `status` can say an account is
//! watched, and two watches of one account cannot run), the output (a line per change on a terminal, one JSON
//! event per line with `--json`), SIGINT/SIGTERM (stop: abandon what is in flight between two store
//! transactions, end IDLE, exit 0) and SIGHUP (stop everything, read the config again, start again).
//! Must never: print a credential, or end on a failure that a later try can get past (only a config error at
//! the start, or every account failing to start, ends it).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use mailsync_engine::imap::{AccountReport, FolderReport, Observer};
use mailsync_engine::pop3::{Pop3Mode, Pop3Report};
use mailsync_engine::watch::{watch_imap, watch_pop3, ImapWatch, Job, Pop3Watch, WatchObserver, BUSY_RETRY};
use mailsync_engine::{EngineError, StoreHandle};
use mailsync_store::Store;
use serde::Serialize;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use super::sync::{imap_config, pop3_config, pop3_line, print_pop3_as, print_summary_as, summary_line, Via};
use crate::config::{EffectiveAccount, WatchVia};
use crate::exit;
use crate::output::{safe, Output};
use crate::Ctx;

/// How often IDLE is ended and issued again: Exchange Online is reported to drop quiet sessions silently,
/// and clients that re-issue every 10 minutes keep working (RFC 2177 allows up to 29).
const IDLE_REISSUE: Duration = Duration::from_secs(10 * 60);

/// How long the accounts get to stop (IDLE's DONE, LOGOUT) before the process leaves without them.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Arguments of `mailsync watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Accounts to watch [default: all]
    names: Vec<String>,
    /// Which protocol keeps every account current [default: each account's watch_via, else IMAP when the
    /// account has it]
    #[arg(long, value_enum)]
    via: Option<Via>,
    #[command(flatten)]
    trace: crate::trace::TraceArgs,
}

/// Why the watches stopped.
enum Ended {
    /// SIGINT or SIGTERM.
    Signal,
    /// SIGHUP: read the config again.
    Reload,
    /// Every account stopped by itself (none could start).
    AllDone,
}

/// Runs the command.
pub fn run(args: WatchArgs, ctx: &Ctx) -> anyhow::Result<()> {
    args.trace.start("watch")?;
    let mut config = ctx.load_config()?;
    let runtime = super::runtime()?;
    let out = ctx.output();
    // SIGINT and SIGTERM stop the watches (exit 0), not the process at once.
    let _signals = crate::signals::Watch::new();
    runtime.block_on(async move {
        let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        loop {
            let accounts: Vec<EffectiveAccount> = config.select(&args.names)?.into_iter().cloned().collect();
            let (stop, stopping) = watch::channel(false);
            let mut tasks = tokio::task::JoinSet::new();
            for account in accounts {
                let via = via_of(&account, args.via);
                let db = ctx.db_path.clone();
                let stopping = stopping.clone();
                tasks.spawn(async move {
                    let name = account.name.clone();
                    (name, watch_account(account, via, db, out, stopping).await)
                });
            }
            let mut failures: Vec<anyhow::Error> = Vec::new();
            let ended = loop {
                tokio::select! {
                    _ = hangup.recv() => break Ended::Reload,
                    _ = terminate.recv() => break Ended::Signal,
                    _ = interrupt.recv() => break Ended::Signal,
                    done = tasks.join_next() => match done {
                        None => break Ended::AllDone,
                        Some(Ok((name, Err(e)))) => {
                            report_failure(out, &name, &e);
                            failures.push(e);
                        }
                        Some(Ok((_, Ok(())))) => {}
                        Some(Err(e)) => failures.push(anyhow::anyhow!("a watch task failed: {e}")),
                    },
                }
            };
            tracing::debug!("stopping every watch");
            let _ = stop.send(true);
            let _ =
                tokio::time::timeout(STOP_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
            tasks.abort_all();
            tracing::debug!("every watch stopped");
            match ended {
                Ended::Signal => return Ok(()),
                Ended::AllDone => {
                    return match failures.into_iter().next() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    }
                }
                Ended::Reload => match ctx.load_config() {
                    Ok(c) => {
                        tracing::info!("SIGHUP: configuration read again");
                        config = c;
                    }
                    Err(e) => {
                        // A broken file does not stop the watch: it goes on with what it had.
                        let e = anyhow::Error::new(e);
                        tracing::error!(
                            "SIGHUP: {}; going on with the configuration as it was",
                            exit::message(&e)
                        );
                    }
                },
            }
        }
    })
}

/// The protocol that keeps `account` current.
fn via_of(account: &EffectiveAccount, given: Option<Via>) -> Via {
    match (given, account.watch_via) {
        (Some(v), _) => v,
        (None, Some(WatchVia::Pop3)) => Via::Pop3,
        (None, Some(WatchVia::Imap)) => Via::Imap,
        (None, None) if account.imap.is_none() && account.pop3.is_some() => Via::Pop3,
        (None, None) => Via::Imap,
    }
}

/// An account that could not start (or stopped for good): said at once, whatever the others do.
fn report_failure(out: Output, account: &str, e: &anyhow::Error) {
    let text = exit::message(e);
    if out.is_json() {
        let _ = out.json(&Event {
            event: "failed",
            account,
            folder: None,
            error: Some(&text),
            retry_seconds: None,
        });
    } else {
        tracing::error!("{}: {}", safe(account), safe(&text));
    }
}

/// Watches one account until `stop`: takes its watch lock, then runs the engine's watch.
async fn watch_account(
    account: EffectiveAccount,
    via: Via,
    db: PathBuf,
    out: Output,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut store = Store::open(&db).with_context(|| format!("opening the store {}", db.display()))?;
    let id = store.account(&account.name)?;
    let _lock = store.lock_watch(id, &account.name)?;
    let mut handle = StoreHandle::spawn(store);
    let mut printer = Printer { account: account.name.clone(), out, mode: None };
    match via {
        Via::Imap => {
            let w = ImapWatch {
                sync: imap_config(&account, false, false)?,
                folders: account.imap_options.watch.clone(),
                sweep: account.imap_options.sweep,
                reissue: IDLE_REISSUE,
            };
            printer.watching("imap", &w.folders, w.sweep);
            watch_imap(&mut handle, &w, stop, &mut printer).await;
        }
        Via::Pop3 => {
            let mode = super::sync::ModeArgs::default().resolve(&account);
            let w = Pop3Watch {
                sync: pop3_config(&account, mode, false, false, false)?,
                poll: account.pop3_options.poll,
            };
            printer.mode = Some(mode);
            printer.watching("pop3", &["INBOX".to_owned()], w.poll);
            watch_pop3(&mut handle, &w, stop, &mut printer).await;
        }
    }
    handle.finish().await?;
    Ok(())
}

/// One JSON event of `watch` (the folder summaries reuse `sync`'s objects, with `"event": "synced"`).
#[derive(Debug, Serialize)]
struct Event<'a> {
    event: &'static str,
    account: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    folder: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_seconds: Option<f64>,
}

/// Prints what a watch does: folder summaries with changes, and its state changes.
struct Printer {
    account: String,
    out: Output,
    /// The POP3 mode, for POP3 summaries.
    mode: Option<Pop3Mode>,
}

impl Printer {
    fn event(&self, event: &'static str, folder: Option<&str>, error: Option<&str>, retry: Option<Duration>) {
        let r = self.out.json(&Event {
            event,
            account: &self.account,
            folder,
            error,
            retry_seconds: retry.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
        });
        if let Err(e) = r {
            tracing::debug!("stdout: {e}");
        }
    }

    fn say(&self, text: &str) {
        if let Err(e) = self.out.line(&format!("{} {text}", clock())) {
            tracing::debug!("stdout: {e}");
        }
    }

    fn watching(&self, via: &str, folders: &[String], every: Duration) {
        if self.out.is_json() {
            #[derive(Serialize)]
            struct Watching<'a> {
                event: &'static str,
                account: &'a str,
                via: &'a str,
                folders: &'a [String],
                every_seconds: f64,
            }
            let _ = self.out.json(&Watching {
                event: "watching",
                account: &self.account,
                via,
                folders,
                every_seconds: every.as_secs_f64(),
            });
        } else {
            let what = if via == "pop3" { "polling INBOX over POP3" } else { "watching" };
            let folders: Vec<String> = folders.iter().map(|f| safe(f).into_owned()).collect();
            self.say(&format!(
                "{} {via}: {what} {} (everything every {})",
                safe(&self.account),
                folders.join(", "),
                minutes(every)
            ));
        }
    }
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

/// The time of day (UTC) that starts each terminal line.
fn clock() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:02}:{:02}:{:02}Z", now.hour(), now.minute(), now.second())
}

/// Whether a folder's summary is worth a line: something changed, failed or was noted.
fn worth_telling(r: &FolderReport) -> bool {
    r.new + r.updated + r.removed + r.gaps > 0 || r.error.is_some() || r.note.is_some()
}

impl Observer for Printer {
    fn folder_finished(&mut self, report: &FolderReport) {
        if !worth_telling(report) {
            return;
        }
        if self.out.is_json() {
            let _ = print_summary_as(self.out, Some("synced"), &self.account, report, false, None);
        } else {
            self.say(&summary_line(&self.account, report, false));
        }
    }
}

impl WatchObserver for Printer {
    fn imap_synced(&mut self, _job: &Job, report: &AccountReport, result: &Result<(), EngineError>) {
        for folder in &report.deleted_folders {
            self.say(&format!(
                "{} imap {}: folder deleted on the server; removed locally",
                self.account,
                safe(folder)
            ));
        }
        if let Err(e) = result {
            self.failed(e);
        }
    }

    fn pop3_synced(&mut self, report: &Pop3Report, result: &Result<(), EngineError>) {
        if report.new + report.deleted_on_server + report.gaps > 0 {
            let mode = self.mode.unwrap_or(Pop3Mode::Keep);
            if self.out.is_json() {
                let _ = print_pop3_as(self.out, Some("synced"), report, mode, false);
            } else {
                self.say(&pop3_line(report, mode, false));
            }
        }
        if let Err(e) = result {
            self.failed(e);
        }
    }

    fn idling(&mut self, folder: &str) {
        if self.out.is_json() {
            self.event("idle", Some(folder), None, None);
        } else {
            tracing::info!("{} imap {}: IDLE", self.account, safe(folder));
        }
    }

    fn idle_lost(&mut self, folder: &str, error: &EngineError, wait: Duration) {
        let text = error.to_string();
        if self.out.is_json() {
            self.event("lost", Some(folder), Some(&text), Some(wait));
        } else {
            self.say(&format!(
                "{} imap {}: {}; connecting again in {:.0} s",
                self.account,
                safe(folder),
                safe(&text),
                wait.as_secs_f64()
            ));
        }
    }

    fn idle_gave_up(&mut self, folder: &str, error: &EngineError) {
        let text = error.to_string();
        if self.out.is_json() {
            self.event("no_idle", Some(folder), Some(&text), None);
        } else {
            self.say(&format!(
                "{} imap {}: cannot IDLE ({}); the folder is synced with the others every sweep",
                self.account,
                safe(folder),
                safe(&text)
            ));
        }
    }

    fn woke(&mut self) {
        if self.out.is_json() {
            self.event("woke", None, None, None);
        } else {
            self.say(&format!("{}: the machine slept; reconnecting and syncing everything", self.account));
        }
    }

    fn busy(&mut self) {
        if self.out.is_json() {
            self.event("busy", None, None, Some(BUSY_RETRY));
        } else {
            self.say(&format!(
                "{}: another sync of this account is running; the watch syncs once it is done",
                safe(&self.account)
            ));
        }
    }
}

impl Printer {
    fn failed(&self, e: &EngineError) {
        let text = e.to_string();
        if self.out.is_json() {
            self.event("error", None, Some(&text), None);
        } else {
            self.say(&format!("{}: sync failed: {}; tried again later", self.account, safe(&text)));
        }
    }
}
