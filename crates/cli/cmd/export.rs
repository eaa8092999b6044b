//! `mailsync export QUERY --format eml|mbox|maildir --to DIR`: write the messages a query matches.
//!
//! Owns: streaming search results into files: `eml` writes `DIR/ID.eml` per message; `mbox` appends
//! every message to one new `DIR/mailsync.mbox` (mboxrd quoting, a `From sender date` line each);
//! `maildir` delivers into the Maildir `DIR` (cur/, flags from the IMAP locations in the `:2,`
//! suffix). Prints one summary (a line, or a JSON object with `--json`).
//!
//! Must never: overwrite or truncate a file (new names get `-1`, `-2`...), change a message's bytes
//! (beyond mboxrd's `>From ` quoting, undone by any mboxrd reader), or hold the whole result in
//! memory. Formats: see the store's `export` module (mboxrd, Maildir specification).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use mailsync_store::export::{
    create_dir, create_unique, mbox_from_line, write_mboxrd, write_unique, Maildir,
};
use mailsync_store::SearchOptions;
use serde::Serialize;

use super::search::{open_store, parse_query, SortArg};
use crate::Ctx;

/// Arguments of `mailsync export`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = super::search::SYNTAX)]
pub struct ExportArgs {
    /// The query (as for `search`; none exports every message; `--` before an argument starting with `-`)
    #[arg(value_name = "QUERY")]
    query: Vec<String>,
    /// File format
    #[arg(long, value_enum)]
    format: Format,
    /// Directory to write into (created 0700 if missing; for maildir, the Maildir itself)
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// Export at most N messages
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Order by date: `-date` newest first, `date` oldest first
    #[arg(long, value_enum, default_value_t = SortArg::OldestFirst, allow_hyphen_values = true)]
    sort: SortArg,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One `ID.eml` file per message
    Eml,
    /// One mboxrd file, `mailsync.mbox`
    Mbox,
    /// A Maildir (cur/new/tmp), flags in file names
    Maildir,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Eml => "eml",
            Format::Mbox => "mbox",
            Format::Maildir => "maildir",
        }
    }
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    format: &'static str,
    to: &'a str,
    messages: u64,
    bytes: u64,
}

/// Runs the command.
pub fn run(args: ExportArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let text = args.query.join(" ");
    let query = parse_query(&text);
    let store = open_store(ctx)?;
    let options = SearchOptions { limit: args.limit, sort: args.sort.sort() };
    create_dir(&args.to)?;
    let mut bytes = 0u64;
    let mut written_to = args.to.clone();
    let messages = match args.format {
        Format::Eml => store.search(&query, &options, |hit| {
            let raw = store.raw(hit.id)?;
            write_unique(&args.to, &format!("{}.eml", hit.id), &raw)?;
            bytes += hit.size;
            Ok::<(), anyhow::Error>(())
        })?,
        Format::Mbox => {
            let (file, path) = create_unique(&args.to, "mailsync.mbox")?;
            let mut out = BufWriter::new(file);
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let n = store.search(&query, &options, |hit| {
                let raw = store.raw(hit.id)?;
                let from_line = mbox_from_line(hit.from.as_deref(), hit.date, now);
                write_mboxrd(&mut out, &from_line, &raw)
                    .with_context(|| format!("writing {}", path.display()))?;
                bytes += hit.size;
                Ok::<(), anyhow::Error>(())
            })?;
            out.flush().with_context(|| format!("writing {}", path.display()))?;
            written_to = path;
            n
        }
        Format::Maildir => {
            let maildir = Maildir::create(&args.to)?;
            store.search(&query, &options, |hit| {
                let raw = store.raw(hit.id)?;
                maildir.deliver(&raw, &hit.flags())?;
                bytes += hit.size;
                Ok::<(), anyhow::Error>(())
            })?
        }
    };
    let to = written_to.display().to_string();
    let out = ctx.output();
    if out.is_json() {
        out.json(&Summary { format: args.format.as_str(), to: &to, messages, bytes })?;
    } else {
        out.line(&format!(
            "exported {messages} messages ({bytes} bytes) as {} to {to}",
            args.format.as_str()
        ))?;
    }
    Ok(())
}
