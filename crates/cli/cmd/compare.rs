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

use unicode_width::UnicodeWidthStr;

use super::sync::{credentials, human_bytes, unix_now, ModeArgs};
use crate::output::{fit, safe};
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
    let runtime = super::runtime()?;
    let (imap, pop3) = runtime.block_on(async {
        let imap = async {
            match &account.imap {
                Some(ep) => imap_view(&ep.to_endpoint(&account.name), &creds, &filter, max).await.map(Some),
                None => Ok(None),
            }
        };
        let pop3 = async {
            match &account.pop3 {
                Some(ep) => pop3_view(&ep.to_endpoint(&account.name), &creds, max).await.map(Some),
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

/// The width of the table's labels, and the least width of IMAP's column.
const LABEL_WIDTH: usize = 34;
const IMAP_WIDTH: usize = 30;

/// One row: the label, IMAP's cell padded to `col` terminal columns, POP3's cell; cells escaped ([`safe`])
/// before they are measured, and `-` where a protocol was not compared.
fn side_by_side(label: &str, imap: Option<&str>, pop3: Option<&str>, col: usize) -> String {
    let imap = safe(imap.unwrap_or("-"));
    let mut line = format!("{label:<LABEL_WIDTH$}{imap}");
    line.extend(std::iter::repeat_n(' ', col.saturating_sub(imap.width()).max(2)));
    line.push_str(&safe(pop3.unwrap_or("-")));
    line
}

fn folders_line(folders: &[String], pop3: bool) -> String {
    if pop3 {
        return "1: INBOX only".into();
    }
    format!("{}: {}", folders.len(), folders.join(", "))
}

/// The side-by-side table people read.
fn table(account: &str, c: &Comparison, mode: &str, gaps: &Gaps) -> Vec<String> {
    let w = LABEL_WIDTH;
    let mut l = vec![format!("{account}: IMAP and POP3 side by side"), String::new()];
    let (i, p) = (c.imap.as_ref(), c.pop3.as_ref());
    let mut rows = vec![
        (
            "messages visible",
            i.map(|i| format!("{} ({})", i.messages, human_bytes(i.bytes))),
            p.map(|p| format!("{} ({})", p.messages, human_bytes(p.bytes))),
        ),
        (
            "flags",
            i.map(|i| {
                format!("{} read, {} unread, {} flagged", i.flags.seen, i.flags.unseen, i.flags.flagged)
            }),
            p.map(|_| "none (POP3 has no flags)".to_string()),
        ),
        (
            "next sync downloads",
            i.map(|i| format!("{} ({})", i.next_download, human_bytes(i.next_download_bytes))),
            p.map(|p| format!("{} ({})", p.next_download, human_bytes(p.next_download_bytes))),
        ),
        (
            "next sync removes locally",
            i.map(|i| format!("{} (expunged on the server)", i.next_remove)),
            p.map(|_| "0 (never: the local copy is the copy)".to_string()),
        ),
        (
            "next sync deletes on the server",
            i.map(|_| "0 (never: read-only)".to_string()),
            p.map(|p| format!("{} ({mode})", p.next_delete_on_server)),
        ),
    ];
    let gap_cell = |g: &[(String, u64)]| {
        let n: u64 = g.iter().map(|(_, n)| n).sum();
        match g.first() {
            Some((reason, _)) if n > 0 => format!("{n} ({reason})"),
            _ => "0".to_string(),
        }
    };
    if !gaps.imap.is_empty() || !gaps.pop3.is_empty() {
        rows.push((
            "listed but not stored (retried)",
            i.map(|_| gap_cell(&gaps.imap)),
            p.map(|_| gap_cell(&gaps.pop3)),
        ));
    }
    // IMAP's column is as wide as its widest figure; the folder list, which can be any length, is cut to it.
    let col = rows
        .iter()
        .filter_map(|(_, a, _)| a.as_deref().map(|a| safe(a).width() + 2))
        .fold(IMAP_WIDTH, usize::max);
    l.push(format!("{:<w$}{:<col$}{}", "", "IMAP", "POP3"));
    let folders = (
        "folders visible",
        i.map(|i| fit(&folders_line(&i.folders, false), col - 2)),
        p.map(|_| folders_line(&[], true)),
    );
    for (label, a, b) in std::iter::once(folders).chain(rows) {
        l.push(side_by_side(label, a.as_deref(), b.as_deref(), col));
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

#[cfg(test)]
mod tests {
    use mailsync_engine::compare::matching::{ImapSide, Pop3Side};
    use unicode_width::UnicodeWidthStr;

    use super::*;

    fn comparison(folders: &[&str], seen: u64) -> Comparison {
        let mut imap =
            ImapSide { folders: folders.iter().map(|f| f.to_string()).collect(), ..Default::default() };
        imap.flags.seen = seen;
        Comparison { imap: Some(imap), pop3: Some(Pop3Side::default()), ..Default::default() }
    }

    /// The terminal column where each side-by-side row's POP3 cell starts.
    fn pop3_columns(lines: &[String]) -> Vec<usize> {
        let rows = lines.iter().skip(3).take_while(|l| !l.starts_with("only IMAP"));
        rows.map(|l| {
            let cell = ["1: INBOX only", "0 (0 B)", "none (POP3", "0 (leave", "0 (never"]
                .iter()
                .find_map(|c| l.rfind(c))
                .unwrap_or_else(|| panic!("no POP3 cell in {l:?}"));
            l[..cell].width()
        })
        .collect()
    }

    #[test]
    fn pop3_lines_up_whatever_the_folder_names() {
        let plain = table("a", &comparison(&["INBOX", "Sent"], 3), "leave on server", &Gaps::default());
        assert_eq!(plain[3], "folders visible                   2: INBOX, Sent                1: INBOX only");
        assert_eq!(pop3_columns(&plain), [64; 6]);

        // Wide characters, an escape sequence (shown escaped, so wider than it was) and more folders than
        // the column holds: the list is cut, and POP3's column stays where it was.
        let many: Vec<String> = (0..20).map(|n| format!("会議{n}")).collect();
        let mut names: Vec<&str> = vec!["INBOX", "x\u{202e}y", "a\u{1b}b"];
        names.extend(many.iter().map(String::as_str));
        let hostile = table("a", &comparison(&names, 3), "leave on server", &Gaps::default());
        assert_eq!(pop3_columns(&hostile), [64; 6], "{hostile:#?}");
        let cut = "23: INBOX, x\\u{202e}y, a\\x1…";
        assert_eq!(hostile[3], format!("{:<34}{cut}  1: INBOX only", "folders visible"));
        assert!(!hostile.concat().contains('\u{1b}') && !hostile.concat().contains('\u{202e}'));
        let wide = table("a", &comparison(&["会議", "INBOX"], 3), "leave on server", &Gaps::default());
        assert_eq!(pop3_columns(&wide), [64; 6], "{wide:#?}");

        // A figure wider than the column widens the column: figures are never cut.
        let big = table("a", &comparison(&["INBOX"], 123_456_789_012), "leave on server", &Gaps::default());
        assert!(big[5].contains("123456789012 read, 0 unread, 0 flagged  none"), "{big:#?}");
        assert_eq!(pop3_columns(&big), [34 + 38 + 2; 6], "{big:#?}");
    }
}
