//! `mailsync status [NAME]`: per account and protocol, what the store holds and how the last sync went.
//!
//! Owns: the status table (account, via, messages, size, folders, whether a watch runs, last sync, outcome)
//! and its `--json` form (one object per account and protocol). Reads the store only; the config file is not needed.
//!
//! Must never: write to the store, or create one (no store is an error that says to sync first; it is
//! opened read-only), or print a control character from the store raw (account names, folder names and
//! errors quoting a server are shown escaped by `output::columns`; JSON keeps them exact). Dates are UTC;
//! RFC 3339 in JSON.

use mailsync_store::{Protocol, ProtocolStatus, RunRow};
use serde::Serialize;

use super::search::{open_store, rfc3339, short_date};
use super::show::human_size;
use crate::output::columns;
use crate::Ctx;

/// Arguments of `mailsync status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only this account [default: every account in the store]
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct JsonRun<'a> {
    started_at: String,
    finished_at: Option<String>,
    outcome: &'static str,
    error: Option<&'a str>,
    new: u64,
    updated: u64,
    removed: u64,
    deleted_on_server: u64,
    bytes: u64,
    gaps: u64,
    warnings: u64,
}

#[derive(Debug, Serialize)]
struct JsonGap<'a> {
    reason: &'a str,
    messages: u64,
}

#[derive(Debug, Serialize)]
struct JsonStatus<'a> {
    account: &'a str,
    via: &'static str,
    messages: u64,
    locations: u64,
    bytes: u64,
    folders: Option<u64>,
    /// Messages the server lists that are not stored, by reason (retried on later syncs).
    gaps: Vec<JsonGap<'a>>,
    last_sync: Option<JsonRun<'a>>,
    /// A `mailsync watch` keeps the account current now.
    watched: bool,
}

/// How a run ended: "ok", "failed", "running" (its process still holds the account's sync lock), or
/// "interrupted" (unfinished, and no process holds the lock: it was killed or the machine went down).
fn outcome(run: &RunRow, running: bool) -> &'static str {
    match (run.finished_at, &run.summary.error) {
        (None, _) if running => "running",
        (None, _) => "interrupted",
        (Some(_), Some(_)) => "failed",
        (Some(_), None) => "ok",
    }
}

/// Runs the command.
pub fn run(args: StatusArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let store = open_store(ctx)?;
    let accounts: Vec<_> = store
        .accounts()?
        .into_iter()
        .filter(|(_, name)| args.name.as_ref().is_none_or(|n| n == name))
        .collect();
    if let (Some(name), true) = (&args.name, accounts.is_empty()) {
        anyhow::bail!("account {name:?} is not in the store (it has never been synced)");
    }
    let out = ctx.output();
    let mut rows = vec![["ACCOUNT", "VIA", "MESSAGES", "SIZE", "FOLDERS", "WATCHED", "LAST SYNC", "OUTCOME"]
        .map(str::to_owned)
        .to_vec()];
    for (id, name) in &accounts {
        let status = store.account_status(*id)?;
        for (protocol, side) in [(Protocol::Imap, &status.imap), (Protocol::Pop3, &status.pop3)] {
            let folders = (protocol == Protocol::Imap).then_some(status.folders);
            if side.locations == 0
                && side.last_run.is_none()
                && !(protocol == Protocol::Imap && status.folders > 0)
            {
                continue;
            }
            if out.is_json() {
                out.json(&JsonStatus { watched: status.watched, ..json(name, protocol, side, folders) })?;
            } else {
                let mut row = table_row(name, protocol, side, folders);
                row.insert(5, if status.watched { "yes" } else { "-" }.to_owned());
                rows.push(row);
            }
        }
    }
    if !out.is_json() {
        if rows.len() == 1 {
            out.line("nothing synced yet")?;
        } else {
            out.lines(&columns(&rows))?;
        }
    }
    Ok(())
}

fn json<'a>(
    name: &'a str,
    protocol: Protocol,
    side: &'a ProtocolStatus,
    folders: Option<u64>,
) -> JsonStatus<'a> {
    JsonStatus {
        account: name,
        via: protocol.as_str(),
        messages: side.messages,
        locations: side.locations,
        bytes: side.bytes,
        folders,
        gaps: side.gaps.iter().map(|(reason, messages)| JsonGap { reason, messages: *messages }).collect(),
        watched: false,
        last_sync: side.last_run.as_ref().map(|r| JsonRun {
            started_at: rfc3339(r.started_at),
            finished_at: r.finished_at.map(rfc3339),
            outcome: outcome(r, side.running),
            error: r.summary.error.as_deref(),
            new: r.summary.new,
            updated: r.summary.updated,
            removed: r.summary.removed,
            deleted_on_server: r.summary.deleted_on_server,
            bytes: r.summary.bytes,
            gaps: r.summary.gaps,
            warnings: r.summary.warnings,
        }),
    }
}

fn table_row(name: &str, protocol: Protocol, side: &ProtocolStatus, folders: Option<u64>) -> Vec<String> {
    let (when, how) = match &side.last_run {
        None => ("never".to_owned(), "-".to_owned()),
        Some(r) => {
            let when = short_date(r.finished_at.unwrap_or(r.started_at));
            let s = &r.summary;
            let how = match outcome(r, side.running) {
                "ok" => format!("ok: {} new, {} updated, {} removed", s.new, s.updated, s.removed),
                // The error may quote a server: the table escapes its control characters.
                "failed" => format!("failed: {}", s.error.as_deref().unwrap_or_default()),
                "running" => "running now".to_owned(),
                _ => "interrupted (the run did not finish; what it committed is kept)".to_owned(),
            };
            let gaps: u64 = side.gaps.iter().map(|(_, n)| n).sum();
            let how = if gaps > 0 {
                let first = side.gaps.first().map(|(r, _)| r.as_str()).unwrap_or_default();
                format!("{how}; {gaps} not stored, retried later (most: {first})")
            } else {
                how
            };
            (when, how)
        }
    };
    vec![
        name.to_owned(),
        protocol.as_str().to_owned(),
        side.messages.to_string(),
        human_size(side.bytes),
        folders.map_or_else(|| "-".to_owned(), |f| f.to_string()),
        when,
        how,
    ]
}
