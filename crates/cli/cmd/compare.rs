//! `mailsync compare NAME`: IMAP and POP3 side by side for one account, read-only toward both servers: the
//! folders, messages, bytes and flags each protocol shows, what each would do at the next sync (download,
//! remove, delete on the server in the configured POP3 mode), which messages only IMAP can see, and where
//! every message lives (server only, local only, both). `--json` gives the same facts as one object.
//!
//! Must never: change a server (no DELE, no flag change: EXAMINE, BODY.PEEK, TOP, RSET) or the store (it is
//! only read, read-only: a missing one is not created, an existing one not migrated or chmod-ed).

use anyhow::Context as _;
use mailsync_engine::compare::gather::{imap_view, pop3_view};
use mailsync_engine::compare::matching::mode_word;
use mailsync_engine::compare::{compare, Comparison, Snapshot};
use mailsync_engine::imap::sync::Limits;
use mailsync_engine::imap::FolderFilter;
use mailsync_store::{Store, StoreError};
use serde::Serialize;

use super::sync::{credentials, human_bytes, unix_now, ModeArgs};
use crate::Ctx;

/// Arguments of `mailsync compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The account
    name: String,
    #[command(flatten)]
    mode: ModeArgs,
    #[command(flatten)]
    trace: crate::trace::TraceArgs,
}

#[derive(Serialize)]
struct Report<'a> {
    account: &'a str,
    #[serde(flatten)]
    comparison: &'a Comparison,
    /// Messages each server lists that the store does not hold yet (recorded gaps, retried by later syncs).
    gaps: Gaps,
}

/// The recorded gaps of the account, per protocol: (reason, messages).
#[derive(Debug, Default, Serialize)]
struct Gaps {
    imap: Vec<(String, u64)>,
    pop3: Vec<(String, u64)>,
}

/// Runs the command.
pub fn run(args: CompareArgs, ctx: &Ctx) -> anyhow::Result<()> {
    args.trace.start("compare")?;
    let config = ctx.load_config()?;
    let account = config.account(&args.name)?.clone();
    let mode = args.mode.resolve(&account);
    let creds = credentials(&account)?;
    let opts = &account.imap_options;
    let filter = FolderFilter::new(&opts.include, &opts.exclude, opts.skip_non_mail_folders)?;
    let max = Limits::default().max_response;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (imap, pop3) = runtime.block_on(async {
        let imap = async {
            match &account.imap {
                Some(ep) => imap_view(&ep.to_endpoint(), &creds, &filter, max).await.map(Some),
                None => Ok(None),
            }
        };
        let pop3 = async {
            match &account.pop3 {
                Some(ep) => pop3_view(&ep.to_endpoint(), &creds, max).await.map(Some),
                None => Ok(None),
            }
        };
        tokio::join!(imap, pop3)
    });
    let (imap, pop3) = (
        imap.with_context(|| format!("account {}: reading the IMAP view", account.name))?,
        pop3.with_context(|| format!("account {}: reading the POP3 view", account.name))?,
    );
    let (local, gaps) = match Store::open_read_only(&ctx.db_path) {
        Ok(store) => match store.find_account(&account.name)? {
            Some(a) => {
                let status = store.account_status(a)?;
                (store.account_locations(a)?, Gaps { imap: status.imap.gaps, pop3: status.pop3.gaps })
            }
            None => (Vec::new(), Gaps::default()),
        },
        Err(StoreError::Missing { .. } | StoreError::NoSchema { .. }) => (Vec::new(), Gaps::default()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("opening the store {}", ctx.db_path.display())))
        }
    };
    let (imap_folders, imap) = match imap {
        Some((f, e)) => (Some(f), e),
        None => (None, Vec::new()),
    };
    let snapshot = Snapshot { imap_folders, imap, pop3, local };
    let c = compare(&snapshot, mode, unix_now());
    let out = ctx.output();
    if out.is_json() {
        out.json(&Report { account: &account.name, comparison: &c, gaps })?;
    } else {
        out.lines(&table(&account.name, &c, &mode_word(mode), &gaps))?;
    }
    Ok(())
}

fn folders_line(folders: &[String], pop3: bool) -> String {
    if pop3 {
        return "1: INBOX only".into();
    }
    format!("{}: {}", folders.len(), folders.join(", "))
}

/// The side-by-side table people read.
fn table(account: &str, c: &Comparison, mode: &str, gaps: &Gaps) -> Vec<String> {
    let w = 34;
    let col = 30;
    let mut l = vec![format!("{account}: IMAP and POP3 side by side"), String::new()];
    l.push(format!("{:<w$}{:<col$}{}", "", "IMAP", "POP3"));
    let dash = "-".to_string();
    let (i, p) = (c.imap.as_ref(), c.pop3.as_ref());
    let cell = |s: Option<String>| s.unwrap_or_else(|| dash.clone());
    let row = |label: &str, a: Option<String>, b: Option<String>| {
        format!("{label:<w$}{:<col$}{}", cell(a), cell(b))
    };
    l.push(row(
        "folders visible",
        i.map(|i| folders_line(&i.folders, false)),
        p.map(|_| folders_line(&[], true)),
    ));
    l.push(row(
        "messages visible",
        i.map(|i| format!("{} ({})", i.messages, human_bytes(i.bytes))),
        p.map(|p| format!("{} ({})", p.messages, human_bytes(p.bytes))),
    ));
    l.push(row(
        "flags",
        i.map(|i| format!("{} read, {} unread, {} flagged", i.flags.seen, i.flags.unseen, i.flags.flagged)),
        p.map(|_| "none (POP3 has no flags)".to_string()),
    ));
    l.push(row(
        "next sync downloads",
        i.map(|i| format!("{} ({})", i.next_download, human_bytes(i.next_download_bytes))),
        p.map(|p| format!("{} ({})", p.next_download, human_bytes(p.next_download_bytes))),
    ));
    l.push(row(
        "next sync removes locally",
        i.map(|i| format!("{} (expunged on the server)", i.next_remove)),
        p.map(|_| "0 (never: the local copy is the copy)".to_string()),
    ));
    l.push(row(
        "next sync deletes on the server",
        i.map(|_| "0 (never: read-only)".to_string()),
        p.map(|p| format!("{} ({mode})", p.next_delete_on_server)),
    ));
    let gap_cell = |g: &[(String, u64)]| {
        let n: u64 = g.iter().map(|(_, n)| n).sum();
        match g.first() {
            Some((reason, _)) if n > 0 => format!("{n} ({reason})"),
            _ => "0".to_string(),
        }
    };
    if !gaps.imap.is_empty() || !gaps.pop3.is_empty() {
        l.push(row(
            "listed but not stored (retried)",
            i.map(|_| gap_cell(&gaps.imap)),
            p.map(|_| gap_cell(&gaps.pop3)),
        ));
    }
    if i.is_some() && p.is_some() {
        let by: Vec<String> = c.only_imap.iter().map(|(f, n)| format!("{f} {n}")).collect();
        let detail = if by.is_empty() { String::new() } else { format!(": {}", by.join(", ")) };
        l.push(format!("{:<w$}{}{detail}", "only IMAP can see", c.only_imap_total));
    }
    l.push(String::new());
    l.push(format!(
        "{:<w$}{:>12}{:>12}{:>12}",
        "where the messages live", "server only", "local only", "both"
    ));
    let wh = |label: &str, x: &mailsync_engine::compare::matching::Whereabouts| {
        format!("{label:<w$}{:>12}{:>12}{:>12}", x.server_only, x.local_only, x.both)
    };
    if i.is_some() {
        l.push(wh("  as IMAP sees the server", &c.via_imap));
    }
    if p.is_some() {
        l.push(wh("  as POP3 sees the server", &c.via_pop3));
    }
    l.push(wh("  either protocol", &c.either));
    l.push(String::new());
    l.push(format!(
        "local store: {} messages ({} IMAP copies, {} POP3 copies)",
        c.stored_messages, c.stored_imap_locations, c.stored_pop3_locations
    ));
    l
}
