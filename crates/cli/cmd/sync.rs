//! `mailsync sync [NAME...] [--via imap|pop3] [--dry-run] [POP3 mode]`: brings the store up to date with each
//! account.
//!
//! Owns: choosing accounts, obtaining credentials, running the engine on a tokio runtime, showing progress (a
//! bar on a terminal; nothing otherwise), the per-folder summaries (CLI.md "JSON output"), and the exit
//! status of a partial run (what was fetched stays committed; the command still fails). Must never: print a
//! credential, or turn Ctrl-C into anything but exit 130 with the committed work kept.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailsync_engine::compare::matching::mode_word;
use mailsync_engine::imap::{
    sync_account, AccountReport, FolderFilter, FolderReport, ImapSyncConfig, Limits, Observer,
};
use mailsync_engine::pop3::sync::sync_pop3 as sync_pop3_engine;
use mailsync_engine::pop3::{PasswordMethod, Pop3Mode, Pop3Report, Pop3SyncConfig};
use mailsync_engine::{Credentials, EngineError, Reconnect, Renew, StoreHandle};
use mailsync_store::Store;
use serde::Serialize;

use crate::config::{AuthMethod, EffectiveAccount};
use crate::output::{safe, Output};
use crate::{secrets, Ctx};

/// Arguments of `mailsync sync`.
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// Accounts to sync [default: all]
    names: Vec<String>,
    /// Which protocol to sync over
    #[arg(long, value_enum, default_value_t = Via::Imap)]
    via: Via,
    /// Show what would be downloaded, updated, removed and deleted, and change nothing
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    mode: ModeArgs,
    /// POP3 on a server without UIDL: delete even though identity then rests on content hashes
    #[arg(long)]
    force_delete_without_uidl: bool,
    /// Try every message recorded as not stored (a gap) now, whatever its back-off
    #[arg(long)]
    retry: bool,
    #[command(flatten)]
    trace: crate::trace::TraceArgs,
}

/// POP3 mode overrides, shared by `sync` and `compare`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ModeArgs {
    /// POP3: leave every message on the server (overrides the config)
    #[arg(long, conflicts_with_all = ["delete", "delete_after_days"])]
    leave_on_server: bool,
    /// POP3: classic POP, delete from the server once the local copy is committed (overrides the config)
    #[arg(long, conflicts_with = "delete_after_days")]
    delete: bool,
    /// POP3: leave on the server, delete once downloaded more than N days ago (overrides the config)
    #[arg(long, value_name = "N")]
    delete_after_days: Option<u32>,
}

impl ModeArgs {
    /// The POP3 mode: the command line's override, else the account's configuration.
    pub fn resolve(&self, account: &EffectiveAccount) -> Pop3Mode {
        let o = &account.pop3_options;
        if self.leave_on_server {
            Pop3Mode::Keep
        } else if self.delete {
            Pop3Mode::Delete
        } else if let Some(days) = self.delete_after_days {
            Pop3Mode::DeleteAfterDays(days)
        } else {
            match (o.leave_on_server, o.delete_after_days) {
                (false, _) => Pop3Mode::Delete,
                (true, Some(days)) => Pop3Mode::DeleteAfterDays(days),
                (true, None) => Pop3Mode::Keep,
            }
        }
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The protocol a sync uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// Mirror every folder, flags and deletions; read-only toward the server
    Imap,
    /// Download the INBOX; keep or delete the server's copies per the account's POP3 mode
    Pop3,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Imap => "imap",
            Via::Pop3 => "pop3",
        }
    }
}

/// One summary object (CLI.md): per account and folder.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    /// `watch`'s event name (`"synced"`); absent in `sync`'s output.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    account: &'a str,
    via: &'static str,
    folder: &'a str,
    new: u64,
    updated: u64,
    removed: u64,
    deleted_on_server: u64,
    bytes: u64,
    seconds: f64,
    /// Messages this run could not store (recorded as gaps, retried later); `unfetchable` is its old name.
    #[serde(skip_serializing_if = "is_zero")]
    gaps: u64,
    #[serde(skip_serializing_if = "is_zero")]
    unfetchable: u64,
    /// Recorded gaps left alone this run (their back-off has not run out).
    #[serde(skip_serializing_if = "is_zero")]
    gaps_waiting: u64,
    /// Server responses or items stepped over because they broke the protocol.
    #[serde(skip_serializing_if = "is_zero")]
    warnings: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    /// Why a listed folder was not synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    dry_run: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// For scripts/bench only, which measures what the full-text index costs: when set, new messages are
/// stored without their full-text index rows (search then cannot find them by text).
const BENCH_NO_TEXT_INDEX: &str = "MAILSYNC_BENCH_NO_TEXT_INDEX";

/// Accounts one `mailsync sync` runs at once, each with its own connections and store handle.
const PARALLEL_ACCOUNTS: usize = 4;

/// Runs the command.
pub fn run(args: SyncArgs, ctx: &Ctx) -> anyhow::Result<()> {
    args.trace.start("sync")?;
    let config = ctx.load_config()?;
    let accounts: Vec<EffectiveAccount> = config.select(&args.names)?.into_iter().cloned().collect();
    // A dry run changes nothing on disk: without a store it plans against an empty one in memory, with one
    // it reads it (not created, migrated or chmod-ed).
    let in_memory = args.dry_run && !ctx.db_path.exists();
    let open = || -> anyhow::Result<Store> {
        let mut store = if in_memory {
            Store::open_in_memory()?
        } else if args.dry_run {
            Store::open_read_only(&ctx.db_path)
                .with_context(|| format!("opening the store {} to read", ctx.db_path.display()))?
        } else {
            Store::open(&ctx.db_path)
                .with_context(|| format!("opening the store {}", ctx.db_path.display()))?
        };
        if std::env::var_os(BENCH_NO_TEXT_INDEX).is_some() {
            tracing::warn!(
                "{BENCH_NO_TEXT_INDEX} is set: new messages are stored without the full-text index"
            );
            store.set_text_index(false);
        }
        Ok(store)
    };
    // One store handle per account (SQLite serialises their writes); all opened before any connection.
    let stores: Vec<Store> = accounts.iter().map(|_| open()).collect::<anyhow::Result<_>>()?;
    let runtime = super::runtime()?;
    let out = ctx.output();
    // Progress bars only for one account at a time; with several, each folder's summary says enough.
    let progress = !ctx.json && ctx.verbosity >= 0 && std::io::stderr().is_terminal() && accounts.len() == 1;
    // Ctrl-C ends the run through the runtime (what was fetched is committed first), not at once.
    let _watch = crate::signals::Watch::new();
    let several = accounts.len() > 1;
    let args = std::sync::Arc::new(args);
    runtime.block_on(async move {
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL_ACCOUNTS));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (account, store)) in accounts.into_iter().zip(stores).enumerate() {
            let (slots, args) = (slots.clone(), args.clone());
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await;
                if crate::signals::interrupted() {
                    return (i, account.name, Err(EngineError::Interrupted.into()));
                }
                let mut handle = StoreHandle::spawn(store);
                let outcome = tokio::select! {
                    r = sync_one(&mut handle, &account, &args, out, progress) => r,
                    _ = tokio::signal::ctrl_c() => Err(EngineError::Interrupted.into()),
                };
                // Whatever was handed to the writer is committed before the account is done.
                let finished = handle.finish().await.map(|_| ()).map_err(anyhow::Error::from);
                (i, account.name, outcome.and(finished))
            });
        }
        let mut failures: Vec<(usize, anyhow::Error)> = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (i, name, outcome) =
                done.map_err(|e| anyhow::anyhow!("an account's sync task failed: {e}"))?;
            if let Err(e) = outcome {
                let interrupted =
                    e.downcast_ref::<EngineError>().is_some_and(|e| matches!(e, EngineError::Interrupted));
                if several && !interrupted {
                    tracing::error!("{name}: {e:#}");
                }
                // An interruption is what the exit says (130); otherwise the first account's failure.
                failures.push((if interrupted { 0 } else { i + 1 }, e));
            }
        }
        failures.sort_by_key(|(k, _)| *k);
        failures.into_iter().next().map_or(Ok(()), |(_, e)| Err(e))
    })
}

async fn sync_one(
    store: &mut StoreHandle,
    account: &EffectiveAccount,
    args: &SyncArgs,
    out: Output,
    progress: bool,
) -> anyhow::Result<()> {
    let r = match args.via {
        Via::Imap => sync_imap(store, account, args, out, progress).await,
        Via::Pop3 => sync_pop3(store, account, args, out, progress).await,
    };
    r.map_err(|e| with_provider_hint(e, account, args.via))
}

/// Outlook.com ships with IMAP and POP switched off, and without password login: say so on a refused login.
fn with_provider_hint(e: anyhow::Error, account: &EffectiveAccount, via: Via) -> anyhow::Error {
    let refused =
        e.chain().any(|c| matches!(c.downcast_ref::<EngineError>(), Some(EngineError::AuthRefused { .. })));
    let outlook = matches!(account.preset, Some("outlook" | "outlook-classic" | "office365"));
    if !(refused && outlook) {
        return e;
    }
    let mut hint = format!(
        "{} access is off by default in Outlook.com: turn it on in Outlook on the web, Settings > Mail > Forwarding \
         and IMAP",
        if via == Via::Pop3 { "POP" } else { "IMAP" }
    );
    if account.auth == AuthMethod::Password {
        hint.push_str("; and Microsoft no longer accepts passwords for IMAP and POP: use auth = \"xoauth2\"");
    }
    e.context(hint)
}

async fn sync_pop3(
    store: &mut StoreHandle,
    account: &EffectiveAccount,
    args: &SyncArgs,
    out: Output,
    progress: bool,
) -> anyhow::Result<()> {
    let mode = args.mode.resolve(account);
    let cfg = pop3_config(account, mode, args.dry_run, args.retry, args.force_delete_without_uidl)?;
    let mut obs = Progress::new(&account.name, progress, out, args.dry_run);
    let (report, result) = sync_pop3_engine(store, &cfg, &mut obs).await;
    obs.finish();
    print_pop3(out, &report, mode, args.dry_run)?;
    result.map_err(|e| anyhow::Error::new(e).context(format!("account {}", account.name)))
}

fn print_pop3(out: Output, r: &Pop3Report, mode: Pop3Mode, dry_run: bool) -> anyhow::Result<()> {
    print_pop3_as(out, None, r, mode, dry_run)
}

/// A POP3 run's summary line, or JSON object (with `event` first when set: `watch`).
pub fn print_pop3_as(
    out: Output,
    event: Option<&'static str>,
    r: &Pop3Report,
    mode: Pop3Mode,
    dry_run: bool,
) -> anyhow::Result<()> {
    if out.is_json() {
        #[derive(Serialize)]
        struct Pop3Summary<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            event: Option<&'static str>,
            account: &'a str,
            via: &'static str,
            folder: &'static str,
            new: u64,
            updated: u64,
            removed: u64,
            deleted_on_server: u64,
            bytes: u64,
            seconds: f64,
            listed: u64,
            already_stored: u64,
            vanished: u64,
            #[serde(skip_serializing_if = "is_zero")]
            gaps: u64,
            #[serde(skip_serializing_if = "is_zero")]
            gaps_waiting: u64,
            #[serde(skip_serializing_if = "is_zero")]
            warnings: u64,
            #[serde(skip_serializing_if = "is_zero")]
            reconnects: u64,
            mode: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            note: Option<&'a str>,
            dry_run: bool,
        }
        out.json(&Pop3Summary {
            event,
            account: &r.account,
            via: "pop3",
            folder: "INBOX",
            new: r.new,
            updated: 0,
            removed: 0,
            deleted_on_server: r.deleted_on_server,
            bytes: r.bytes,
            seconds: (r.seconds * 1000.0).round() / 1000.0,
            listed: r.listed,
            already_stored: r.already_stored,
            vanished: r.vanished,
            gaps: r.gaps,
            gaps_waiting: r.gaps_waiting,
            warnings: r.warnings,
            reconnects: r.reconnects,
            mode: mode_word(mode),
            note: r.note.as_deref(),
            dry_run,
        })?;
    } else {
        out.line(&pop3_line(r, mode, dry_run))?;
    }
    Ok(())
}

/// A POP3 run's summary as `sync` prints it on a terminal.
pub fn pop3_line(r: &Pop3Report, mode: Pop3Mode, dry_run: bool) -> String {
    let (get, del) = if dry_run { ("would download", "would delete") } else { ("downloaded", "deleted") };
    let mut line = format!(
        "{} pop3 INBOX: {} listed, {get} {} ({}), {del} {} on the server ({}), in {:.1} s",
        r.account,
        r.listed,
        r.new,
        human_bytes(r.bytes),
        r.deleted_on_server,
        mode_word(mode),
        r.seconds
    );
    if r.already_stored > 0 {
        line.push_str(&format!("; {} already stored via IMAP or another UIDL", r.already_stored));
    }
    line.push_str(&gap_words(r.gaps, r.gaps_waiting, r.warnings));
    if r.reconnects > 0 {
        line.push_str(&format!(", reconnected {} times", r.reconnects));
    }
    if let Some(note) = &r.note {
        line.push_str(&format!(" ({note})"));
    }
    line
}

async fn sync_imap(
    store: &mut StoreHandle,
    account: &EffectiveAccount,
    args: &SyncArgs,
    out: Output,
    progress: bool,
) -> anyhow::Result<()> {
    let dry_run = args.dry_run;
    let imap = account
        .imap
        .as_ref()
        .with_context(|| format!("account {} has no IMAP server configured", account.name))?;
    let cfg = imap_config(account, dry_run, args.retry)?;
    let mut obs = Progress::new(&account.name, progress, out, dry_run);
    let (report, result) = sync_account(store, &cfg, &mut obs).await;
    obs.finish();
    if let Some(e) = obs.failed_print.take() {
        return Err(e);
    }
    print_deleted(&report, out, dry_run)?;
    result.map_err(|e| anyhow::Error::new(e).context(format!("account {}", account.name)))?;
    let failed: Vec<&FolderReport> = report.folders.iter().filter(|f| f.error.is_some()).collect();
    if let Some(first) = failed.first() {
        return Err(anyhow::Error::new(EngineError::Protocol {
            protocol: "IMAP",
            addr: imap.host.clone(),
            detail: format!(
                "{} of {} folders failed; first: {}: {}",
                failed.len(),
                report.folders.len(),
                first.folder,
                first.error.as_deref().unwrap_or("")
            ),
        }));
    }
    Ok(())
}

/// How the account's IMAP sync runs (credentials obtained now).
pub fn imap_config(account: &EffectiveAccount, dry_run: bool, retry: bool) -> anyhow::Result<ImapSyncConfig> {
    let imap = account
        .imap
        .as_ref()
        .with_context(|| format!("account {} has no IMAP server configured", account.name))?;
    let opts = &account.imap_options;
    Ok(ImapSyncConfig {
        account: account.name.clone(),
        endpoint: imap.to_endpoint(&account.name),
        credentials: credentials(account)?,
        renew: renewal(account),
        filter: FolderFilter::new(&opts.include, &opts.exclude, opts.skip_non_mail_folders)?,
        dry_run,
        limits: Limits { reconnect: reconnect(account), ..Limits::default() },
        now: unix_now(),
        retry_gaps: retry,
        only: None,
    })
}

/// How the account's POP3 sync runs in `mode` (credentials obtained now).
pub fn pop3_config(
    account: &EffectiveAccount,
    mode: Pop3Mode,
    dry_run: bool,
    retry: bool,
    force_delete_without_uidl: bool,
) -> anyhow::Result<Pop3SyncConfig> {
    let pop3 = account
        .pop3
        .as_ref()
        .with_context(|| format!("account {} has no POP3 server configured", account.name))?;
    let o = &account.pop3_options;
    Ok(Pop3SyncConfig {
        account: account.name.clone(),
        endpoint: pop3.to_endpoint(&account.name),
        credentials: credentials(account)?,
        renew: renewal(account),
        reconnect: reconnect(account),
        password_method: if o.apop { PasswordMethod::Apop } else { PasswordMethod::Auto },
        mode,
        force_delete_without_uidl,
        dry_run,
        now: unix_now(),
        retry_gaps: retry,
        max_message: Limits::default().max_response,
        batch_messages: Limits::default().batch_messages,
        batch_bytes: Limits::default().batch_bytes,
    })
}

/// How a sync of the account gets past a dropped link (`reconnect_attempts`).
fn reconnect(account: &EffectiveAccount) -> Reconnect {
    Reconnect { attempts: account.reconnect_attempts, ..Reconnect::default() }
}

/// How a reconnect gets fresh credentials: a new OAuth2 access token (from token_command, or the stored
/// sign-in, refreshed when close to expiry); a password does not change.
pub fn renewal(account: &EffectiveAccount) -> Option<Renew> {
    if account.auth != AuthMethod::XOAuth2 {
        return None;
    }
    let account = account.clone();
    Some(Renew(std::sync::Arc::new(move || credentials(&account).map_err(|e| format!("{e:#}")))))
}

/// The account's credentials, from its configured source. Never from argv.
pub fn credentials(account: &EffectiveAccount) -> anyhow::Result<Credentials> {
    Ok(match account.auth {
        AuthMethod::Password => {
            Credentials::Password { user: account.user.clone(), password: secrets::password(account)? }
        }
        AuthMethod::XOAuth2 => {
            Credentials::OAuth2 { user: account.user.clone(), token: secrets::access_token(account)? }
        }
    })
}

/// The folders a run did not sync or did not remove, and the local folders it removed: one summary each; and
/// how often the run reconnected, when it did.
fn print_deleted(report: &AccountReport, out: Output, dry_run: bool) -> anyhow::Result<()> {
    if report.reconnects > 0 {
        if out.is_json() {
            #[derive(Serialize)]
            struct Reconnects<'a> {
                account: &'a str,
                via: &'static str,
                reconnects: u64,
            }
            out.json(&Reconnects { account: &report.account, via: "imap", reconnects: report.reconnects })?;
        } else {
            out.line(&format!(
                "{} imap: reconnected {} times after the connection failed; carried on from what was stored",
                report.account, report.reconnects
            ))?;
        }
    }
    for (folder, why) in &report.skipped_folders {
        if out.is_json() {
            print_summary(
                out,
                &report.account,
                &FolderReport { folder: folder.clone(), ..FolderReport::default() },
                dry_run,
                Some(why),
            )?;
        } else {
            // A folder left out by the account's own settings is said at -v; any other reason always.
            let deliberate = why.starts_with("excluded");
            if deliberate {
                tracing::info!("{}: not synced: {folder} ({why})", report.account);
            } else {
                out.line(&format!("{} imap {folder}: not synced: {why}", report.account))?;
            }
        }
    }
    for folder in &report.kept_folders {
        let note = "not listed by the server, but LIST could not be read whole: kept locally";
        print_summary(
            out,
            &report.account,
            &FolderReport { folder: folder.clone(), note: Some(note.into()), ..FolderReport::default() },
            dry_run,
            None,
        )?;
    }
    for folder in &report.deleted_folders {
        let note = if dry_run {
            "would remove: folder deleted on the server"
        } else {
            "folder deleted on the server; removed locally"
        };
        print_summary(
            out,
            &report.account,
            &FolderReport { folder: folder.clone(), note: Some(note.into()), ..FolderReport::default() },
            dry_run,
            None,
        )?;
    }
    Ok(())
}

/// `", 2 not stored (recorded; tried again later), 1 waiting to be tried again, 3 server responses not
/// understood (see -v)"`, or nothing.
fn gap_words(gaps: u64, waiting: u64, warnings: u64) -> String {
    let mut s = String::new();
    if gaps > 0 {
        s.push_str(&format!(", {gaps} not stored (recorded; tried again later)"));
    }
    if waiting > 0 {
        s.push_str(&format!(", {waiting} not stored earlier, waiting to be tried again"));
    }
    if warnings > 0 {
        s.push_str(&format!(", {warnings} server responses not understood (see -v)"));
    }
    s
}

fn print_summary(
    out: Output,
    account: &str,
    r: &FolderReport,
    dry_run: bool,
    skipped: Option<&str>,
) -> anyhow::Result<()> {
    print_summary_as(out, None, account, r, dry_run, skipped)
}

/// A folder's summary line, or JSON object (with `event` first when set: `watch`).
pub fn print_summary_as(
    out: Output,
    event: Option<&'static str>,
    account: &str,
    r: &FolderReport,
    dry_run: bool,
    skipped: Option<&str>,
) -> anyhow::Result<()> {
    if out.is_json() {
        out.json(&Summary {
            event,
            account,
            via: Via::Imap.as_str(),
            folder: &r.folder,
            new: r.new,
            updated: r.updated,
            removed: r.removed,
            deleted_on_server: 0,
            bytes: r.bytes,
            seconds: (r.seconds * 1000.0).round() / 1000.0,
            gaps: r.gaps,
            unfetchable: r.gaps,
            gaps_waiting: r.gaps_waiting,
            warnings: r.warnings,
            note: r.note.as_deref(),
            skipped,
            error: r.error.as_deref(),
            dry_run,
        })?;
    } else {
        out.line(&summary_line(account, r, dry_run))?;
    }
    Ok(())
}

/// A folder's summary as `sync` prints it on a terminal.
pub fn summary_line(account: &str, r: &FolderReport, dry_run: bool) -> String {
    let verb = if dry_run { "would get" } else { "" };
    let mut line = format!(
        "{account} imap {}: {verb}{}{} new, {} updated, {} removed, {} in {:.1} s",
        r.folder,
        if dry_run { " " } else { "" },
        r.new,
        r.updated,
        r.removed,
        human_bytes(r.bytes),
        r.seconds
    );
    line.push_str(&gap_words(r.gaps, r.gaps_waiting, r.warnings));
    if let Some(note) = &r.note {
        line.push_str(&format!(" ({note})"));
    }
    if let Some(err) = &r.error {
        line.push_str(&format!(" FAILED: {err}"));
    }
    line
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The progress bar's layout: the folder, the bar and the message count (`pos/len`, the engine counts
/// messages), then [`progress_message`]'s bytes and rate, then the time left.
const PROGRESS_TEMPLATE: &str = "{prefix:>12} [{bar:30}] {pos}/{len} {msg} {eta}";

/// Progress on stderr (a bar per folder on a terminal) and the per-folder summary on stdout.
struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    out: Output,
    dry_run: bool,
    account: String,
    failed_print: Option<anyhow::Error>,
    /// Bytes fetched in the current folder.
    bytes: u64,
    /// The folder's bytes, when the engine knows them before fetching (POP3), else 0.
    total_bytes: u64,
    /// When the current folder started.
    started: Instant,
    /// Why the bar stands still, when the server asked to wait.
    note: Option<String>,
}

impl Progress {
    fn new(account: &str, enabled: bool, out: Output, dry_run: bool) -> Progress {
        Progress {
            bar: None,
            enabled,
            out,
            dry_run,
            account: account.to_string(),
            failed_print: None,
            bytes: 0,
            total_bytes: 0,
            started: Instant::now(),
            note: None,
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn show(&self) {
        if let Some(bar) = &self.bar {
            let mut msg = progress_message(self.bytes, self.total_bytes, self.started.elapsed());
            if let Some(note) = &self.note {
                msg.push_str(", ");
                msg.push_str(note);
            }
            bar.set_message(msg);
        }
    }
}

/// The bar's byte columns: `1.2 MB, 340.0 KB/s`, or `1.2 MB of 5.0 MB, 340.0 KB/s` when the total is known
/// (the rate only once some time has passed).
fn progress_message(bytes: u64, total_bytes: u64, elapsed: Duration) -> String {
    let mut s = human_bytes(bytes);
    if total_bytes > 0 {
        s.push_str(" of ");
        s.push_str(&human_bytes(total_bytes));
    }
    let secs = elapsed.as_secs_f64();
    if secs >= 0.1 {
        // Rounded to whole bytes per second; the cast saturates.
        #[allow(clippy::cast_possible_truncation)]
        let rate = (bytes as f64 / secs).round() as u64;
        s.push_str(&format!(", {}/s", human_bytes(rate)));
    }
    s
}

impl Observer for Progress {
    fn folder_started(&mut self, folder: &str, messages: u64, bytes: u64) {
        self.finish();
        self.bytes = 0;
        self.total_bytes = bytes;
        self.started = Instant::now();
        self.note = None;
        if self.enabled {
            let bar = ProgressBar::with_draw_target(Some(messages), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(PROGRESS_TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            // A folder name comes from the server: shown escaped, never as terminal controls.
            bar.set_prefix(safe(folder).into_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
            self.show();
        }
    }

    fn message_fetched(&mut self, bytes: u64) {
        self.bytes = self.bytes.saturating_add(bytes);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.show();
    }

    fn folder_finished(&mut self, report: &FolderReport) {
        self.finish();
        let account = self.account.clone();
        if let Err(e) = print_summary(self.out, &account, report, self.dry_run, None) {
            self.failed_print.get_or_insert(e);
        }
    }

    fn throttled(&mut self, wait: Duration) {
        self.note = Some(format!("throttled, waiting {:.0} s", wait.as_secs_f64()));
        self.show();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_counts_messages_and_shows_bytes_as_bytes() {
        assert!(
            !PROGRESS_TEMPLATE.contains("{bytes"),
            "indicatif's byte columns would show the message count"
        );
        assert!(PROGRESS_TEMPLATE.contains("{pos}/{len}"));
        assert_eq!(progress_message(683_000, 0, Duration::from_secs(2)), "683.0 KB, 341.5 KB/s");
        assert_eq!(
            progress_message(1_500_000, 5_000_000, Duration::from_secs(1)),
            "1.5 MB of 5.0 MB, 1.5 MB/s"
        );
        assert_eq!(progress_message(683, 0, Duration::ZERO), "683 B");
    }
}
