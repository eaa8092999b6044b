//! `mailsync search QUERY [--limit N] [--sort date|-date]`: the stored messages a query matches.
//!
//! Owns: the result table (date, from, subject, folder, via, id) fitted to the terminal width (120
//! columns when stdout is not a terminal, or `$COLUMNS`), the `--json` lines (CLI.md "JSON output"),
//! streaming both as the store produces rows (control characters in a cell shown escaped; JSON exact),
//! and reporting an invalid query with a caret under the bad token. Also the helpers the other query commands share: opening an existing store
//! ([`open_store`]), parsing a query or reporting it ([`parse_query`]), dates for people and scripts.
//!
//! Must never: collect the result before printing (100,000 rows stream), create, migrate or chmod a store
//! (a search of nothing is an error that says to sync first; the store is opened read-only), or print
//! anything but results on stdout. Dates are UTC. RFCs: 3339 (JSON dates); the query language is the store's.

use std::io::{self, BufWriter, IsTerminal, Write};

use anyhow::Context as _;
use mailsync_store::query::Query;
use mailsync_store::{Location, SearchHit, SearchOptions, Sort, Store, StoreError};
use serde::Serialize;

use crate::output::{fit, StdoutError};
use crate::{exit, stderr, Ctx};

/// The query language, for `--help`.
pub const SYNTAX: &str = "Query syntax:
  words, \"quoted phrases\", prefix*      subject, addresses, body text and attachment names;
                                        case and accents do not matter; Chinese, Japanese,
                                        Korean... are found by any part of a word
  from: to: cc: subject: body: attachment:NAME
  folder:NAME (a * wildcard)  account:NAME  via:imap|pop3
  flag:seen|unread|flagged|answered|draft|deleted|$keyword   has:attachment   id:MESSAGE-ID
  date:2024-05-01  date:2024-05  date:2024  date:2024-01-01..2024-06-30  before:DATE  after:DATE
  size:>1M  size:<=10K  size:1K..2M     (K, M, G are powers of 1024; dates are UTC days)
  terms side by side must all match; `or`; `not` or `-`; parentheses group";

/// Arguments of `mailsync search`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = SYNTAX)]
pub struct SearchArgs {
    /// The query, e.g. `from:ada date:2024-05 '"analytical engine" -via:pop3'` (arguments are joined
    /// with spaces; none matches every message; put `--` before an argument that starts with `-`)
    #[arg(value_name = "QUERY")]
    query: Vec<String>,
    /// Print at most N messages
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Order by date: `-date` newest first, `date` oldest first
    #[arg(long, value_enum, default_value_t = SortArg::NewestFirst, allow_hyphen_values = true)]
    sort: SortArg,
}

/// `--sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    /// Oldest first
    #[value(name = "date")]
    OldestFirst,
    /// Newest first
    #[value(name = "-date")]
    NewestFirst,
}

impl SortArg {
    /// The store's order.
    pub fn sort(self) -> Sort {
        match self {
            SortArg::OldestFirst => Sort::OldestFirst,
            SortArg::NewestFirst => Sort::NewestFirst,
        }
    }
}

/// Runs the command.
pub fn run(args: SearchArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let text = args.query.join(" ");
    let query = parse_query(&text);
    let store = open_store(ctx)?;
    let options = SearchOptions { limit: args.limit, sort: args.sort.sort() };
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if ctx.json {
        store.search(&query, &options, |hit| {
            serde_json::to_writer(&mut out, &JsonHit::new(&hit))
                .map_err(io::Error::from)
                .map_err(StdoutError::from)?;
            out.write_all(b"\n").map_err(StdoutError::from)?;
            Ok::<(), anyhow::Error>(())
        })?;
    } else {
        let table = Table::new(width(terminal));
        table.header(&mut out).map_err(StdoutError::from)?;
        store.search(&query, &options, |hit| {
            table.row(&mut out, &hit).map_err(StdoutError::from)?;
            Ok::<(), anyhow::Error>(())
        })?;
    }
    out.flush().map_err(StdoutError::from)?;
    Ok(())
}

/// Opens the store at `--db` read-only: it must exist (query commands never create, migrate or chmod one,
/// and work where they cannot write).
pub fn open_store(ctx: &Ctx) -> anyhow::Result<Store> {
    match Store::open_read_only(&ctx.db_path) {
        Err(StoreError::Missing { .. }) => {
            anyhow::bail!("no store at {}; run `mailsync sync` first", ctx.db_path.display())
        }
        r => r.with_context(|| format!("opening the store {}", ctx.db_path.display())),
    }
}

/// Parses `text`, or reports the error (one line, then the query with a caret under the bad token)
/// on stderr and exits with the usage code.
pub fn parse_query(text: &str) -> Query {
    match Query::parse(text) {
        Ok(q) => q,
        Err(e) => {
            stderr::line(&format!("mailsync: {e}"));
            for l in e.caret(text).lines() {
                stderr::line(l);
            }
            std::process::exit(i32::from(exit::USAGE));
        }
    }
}

/// `2024-05-06T08:15:00Z`.
pub fn rfc3339(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2024-05-06 08:15` (UTC), for tables.
pub fn short_date(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// The table width: the terminal's, else `$COLUMNS`, else 120.
fn width(terminal: bool) -> usize {
    let term =
        if terminal { console::Term::stdout().size_checked().map(|(_, w)| usize::from(w)) } else { None };
    term.or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()))
        .filter(|&w: &usize| w >= 40)
        .unwrap_or(120)
}

/// One location as JSON.
#[derive(Debug, Serialize)]
pub struct JsonLocation<'a> {
    account: &'a str,
    via: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    folder: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uidl: Option<&'a str>,
    flags: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted_on_server: bool,
}

impl<'a> JsonLocation<'a> {
    /// The JSON form of `l`.
    pub fn new(l: &'a Location) -> Self {
        JsonLocation {
            account: &l.account,
            via: l.protocol.as_str(),
            folder: l.folder.as_deref(),
            uid: l.uid.map(|u| u.get()),
            uidl: l.uidl.as_ref().map(|u| u.as_str()),
            flags: &l.flags,
            deleted_on_server: l.deleted_on_server,
        }
    }
}

/// One search result as JSON (CLI.md): the scalar location fields describe the first location (IMAP
/// before POP3); `locations` lists them all.
#[derive(Debug, Serialize)]
struct JsonHit<'a> {
    id: i64,
    account: Option<&'a str>,
    via: Option<&'static str>,
    folder: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uidl: Option<&'a str>,
    message_id: Option<&'a str>,
    date: Option<String>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    cc: Option<&'a str>,
    subject: Option<&'a str>,
    flags: Vec<String>,
    size: u64,
    sha256: String,
    has_attachments: bool,
    locations: Vec<JsonLocation<'a>>,
}

impl<'a> JsonHit<'a> {
    fn new(h: &'a SearchHit) -> Self {
        let first = h.locations.first();
        JsonHit {
            id: h.id.get(),
            account: first.map(|l| l.account.as_str()),
            via: first.map(|l| l.protocol.as_str()),
            folder: first.and_then(|l| l.folder.as_deref()),
            uid: first.and_then(|l| l.uid).map(|u| u.get()),
            uidl: first.and_then(|l| l.uidl.as_ref()).map(|u| u.as_str()),
            message_id: h.message_id.as_deref(),
            date: h.date.map(rfc3339),
            from: h.from.as_deref(),
            to: h.to.as_deref(),
            cc: h.cc.as_deref(),
            subject: h.subject.as_deref(),
            flags: h.flags(),
            size: h.size,
            sha256: h.sha256_hex(),
            has_attachments: h.has_attachments,
            locations: h.locations.iter().map(JsonLocation::new).collect(),
        }
    }
}

/// The plain result table: fixed date and via columns, the rest shared out by the width.
#[derive(Debug)]
struct Table {
    from: usize,
    subject: usize,
    folder: usize,
}

const DATE_W: usize = 16;
const VIA_W: usize = 9;
const ID_W: usize = 6;
const GAPS: usize = 2 * 5;

impl Table {
    fn new(width: usize) -> Table {
        let flexible = width.saturating_sub(DATE_W + VIA_W + ID_W + GAPS).max(30);
        let from = flexible * 25 / 100;
        let folder = (flexible * 15 / 100).max(6);
        Table { from, subject: flexible - from - folder, folder }
    }

    fn header(&self, out: &mut impl Write) -> io::Result<()> {
        self.line(out, ["DATE", "FROM", "SUBJECT", "FOLDER", "VIA", "ID"].map(str::to_owned))
    }

    fn row(&self, out: &mut impl Write, hit: &SearchHit) -> io::Result<()> {
        let mut folders: Vec<&str> = hit.locations.iter().filter_map(|l| l.folder.as_deref()).collect();
        folders.dedup();
        let mut via: Vec<&str> = hit.locations.iter().map(|l| l.protocol.as_str()).collect();
        via.dedup();
        self.line(
            out,
            [
                hit.date.map(short_date).unwrap_or_else(|| "-".to_owned()),
                hit.from.as_deref().map(sender).unwrap_or_default(),
                hit.subject.clone().unwrap_or_default(),
                folders.join(","),
                via.join(","),
                hit.id.to_string(),
            ],
        )
    }

    fn line(&self, out: &mut impl Write, cells: [String; 6]) -> io::Result<()> {
        let [date, from, subject, folder, via, id] = cells;
        writeln!(
            out,
            "{}  {}  {}  {}  {}  {}",
            fit(&date, DATE_W),
            fit(&from, self.from),
            fit(&subject, self.subject),
            fit(&folder, self.folder),
            fit(&via, VIA_W),
            id
        )
    }
}

/// The display name of a From value (`"Ada Lovelace" <ada@example.org>` gives `Ada Lovelace`), or the
/// address when there is no name.
fn sender(from: &str) -> String {
    match from.rfind('<') {
        Some(lt) if lt > 0 => {
            let name = from.get(..lt).unwrap_or_default().trim().trim_matches('"').trim();
            if name.is_empty() {
                from.to_owned()
            } else {
                name.to_owned()
            }
        }
        _ => from.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr;

    use super::*;

    #[test]
    fn senders_and_dates() {
        assert_eq!(sender("\"Ada Lovelace\" <ada@example.org>"), "Ada Lovelace");
        assert_eq!(sender("<ada@example.org>"), "<ada@example.org>");
        assert_eq!(sender("cron@build.example.org"), "cron@build.example.org");
        assert_eq!(rfc3339(1_714_983_300), "2024-05-06T08:15:00Z");
        assert_eq!(short_date(1_714_983_300), "2024-05-06 08:15");
    }

    #[test]
    fn table_fits_the_width() {
        for width in [40, 80, 120, 200] {
            let t = Table::new(width);
            let mut buf = Vec::new();
            t.header(&mut buf).unwrap();
            let line = String::from_utf8(buf).unwrap();
            assert!(line.trim_end().width() <= width.max(71), "{width}: {line}");
        }
    }
}
