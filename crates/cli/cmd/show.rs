//! `mailsync show ID [--raw|--headers] [--attachments DIR]`: one stored message.
//!
//! Owns: printing a message for a person (its main headers decoded, where it is stored, its readable
//! text: plain text, or HTML turned into text, and the list of attachments), `--raw` (the exact stored
//! bytes), `--headers` (the stored header block, as is), `--attachments DIR` (each attachment saved
//! under a safe name: no directories, no `..`, never overwriting: `name-1.ext`...), and `--json`.
//! ID is the number `search` prints, or a Message-ID.
//!
//! Must never: write anything but results on stdout (with `--raw`, nothing but the message's bytes);
//! write outside DIR or over an existing file; print a control character of a message or a server raw in
//! the text form, to a terminal or not (they are shown escaped, as `\x1b`; the body keeps its newlines and
//! tabs; `--raw`/`--headers` promise the stored bytes and `--json` exact values). RFC 5322 (header block),
//! RFC 2183 (attachment names, via the store's index).

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use mailsync_store::export::{create_dir, safe_file_name, write_unique};
use mailsync_store::index::{attachment_content, header_block, readable};
use mailsync_store::{MessageId, Store, StoreError};
use serde::Serialize;

use super::search::{open_store, rfc3339, JsonLocation};
use crate::output::{safe, safe_text, StdoutError};
use crate::Ctx;

/// Arguments of `mailsync show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The message: the id `search` prints, or a Message-ID
    #[arg(allow_negative_numbers = true)]
    id: String,
    /// Print the exact stored bytes
    #[arg(long, conflicts_with_all = ["headers", "attachments"])]
    raw: bool,
    /// Print the stored header block as it is
    #[arg(long, conflicts_with = "attachments")]
    headers: bool,
    /// Save the attachments into DIR (created 0700 if missing) instead of printing the message
    #[arg(long, value_name = "DIR")]
    attachments: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: ShowArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let store = open_store(ctx)?;
    let id = resolve(&store, &args.id)?;
    let raw = store.raw(id).with_context(|| format!("reading message {id}"))?;
    let mut out = io::stdout().lock();
    if args.raw {
        out.write_all(&raw).map_err(StdoutError::from)?;
        return Ok(out.flush().map_err(StdoutError::from)?);
    }
    if args.headers {
        out.write_all(header_block(&raw)).map_err(StdoutError::from)?;
        return Ok(out.flush().map_err(StdoutError::from)?);
    }
    if let Some(dir) = &args.attachments {
        return save_attachments(&raw, dir, ctx, &mut out);
    }
    let row = store.message(id)?;
    let locations = store.locations(id)?;
    let text = readable(&raw);
    if ctx.json {
        let value = JsonMessage {
            id: id.get(),
            message_id: row.headers.message_id.as_deref(),
            date: row.headers.date.map(rfc3339),
            from: row.headers.from.as_deref(),
            to: row.headers.to.as_deref(),
            cc: row.headers.cc.as_deref(),
            subject: row.headers.subject.as_deref(),
            size: row.size,
            sha256: row.sha256_hex(),
            locations: locations.iter().map(JsonLocation::new).collect(),
            text: &text.body,
            attachments: text
                .attachments
                .iter()
                .map(|a| JsonAttachment {
                    part: a.part,
                    name: a.name.as_deref(),
                    mime_type: &a.mime_type,
                    size: a.size,
                })
                .collect(),
        };
        serde_json::to_writer(&mut out, &value).map_err(io::Error::from).map_err(StdoutError::from)?;
        out.write_all(b"\n").map_err(StdoutError::from)?;
        return Ok(out.flush().map_err(StdoutError::from)?);
    }
    let mut lines = Vec::new();
    let mut field = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            lines.push(format!("{name:<12}{}", safe(v)));
        }
    };
    field("Date:", row.headers.date_header.as_deref());
    field("From:", row.headers.from.as_deref());
    field("To:", row.headers.to.as_deref());
    field("Cc:", row.headers.cc.as_deref());
    field("Subject:", row.headers.subject.as_deref());
    field("Message-ID:", row.headers.message_id.as_deref().map(|m| format!("<{m}>")).as_deref());
    for l in &locations {
        let place = match (&l.folder, l.uid, &l.uidl) {
            (Some(folder), Some(uid), _) => format!("{} imap {folder} uid {uid}", l.account),
            (_, _, Some(uidl)) => format!(
                "{} pop3 uidl {uidl}{}",
                l.account,
                if l.deleted_on_server { " (deleted on the server)" } else { "" }
            ),
            _ => format!("{} {}", l.account, l.protocol),
        };
        let flags = if l.flags.is_empty() { String::new() } else { format!(" [{}]", l.flags.join(" ")) };
        lines.push(format!("{:<12}{}", "Stored:", safe(&format!("{place}{flags}"))));
    }
    lines.push(format!("{:<12}{} bytes, id {id}, sha256 {}", "Size:", row.size, row.sha256_hex()));
    lines.push(String::new());
    lines.push(safe_text(&text.body).into_owned());
    if !text.attachments.is_empty() {
        lines.push(String::new());
        lines.push("Attachments:".to_owned());
        for a in &text.attachments {
            let name = a.name.as_deref().map_or_else(|| "(no name)".to_owned(), |n| safe(n).into_owned());
            lines.push(format!("  [{}] {name}  {}  {}", a.part, safe(&a.mime_type), human_size(a.size)));
        }
    }
    for line in lines {
        writeln!(out, "{line}").map_err(StdoutError::from)?;
    }
    Ok(out.flush().map_err(StdoutError::from)?)
}

/// The message for `id`: a number as printed by `search`, else a Message-ID (with or without `<>`). An id
/// that names no stored message is the user's error (exit 1), whatever its form: `0`, `-1`, `99999999999`
/// and an unknown Message-ID alike.
fn resolve(store: &Store, id: &str) -> anyhow::Result<MessageId> {
    if let Ok(n) = id.trim().parse::<i64>() {
        let id = MessageId::new(n);
        return match store.message(id) {
            Ok(_) => Ok(id),
            Err(StoreError::UnknownMessage(_)) => {
                anyhow::bail!("no stored message has id {n} (ids are the numbers `mailsync search` prints)")
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading message {n}"))),
        };
    }
    store
        .find_by_message_id_and_hash(id, None)?
        .into_iter()
        .next()
        .with_context(|| format!("no stored message has Message-ID {id}"))
}

fn save_attachments(
    raw: &[u8],
    dir: &std::path::Path,
    ctx: &Ctx,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let list = readable(raw).attachments;
    if list.is_empty() {
        crate::stderr::line("mailsync: the message has no attachments");
        return Ok(());
    }
    create_dir(dir)?;
    for a in &list {
        let Some(content) = attachment_content(raw, a.part) else { continue };
        let name = safe_file_name(a.name.as_deref(), &format!("attachment-{}", a.part));
        let path = write_unique(dir, &name, &content)?;
        if ctx.json {
            let v = SavedAttachment {
                part: a.part,
                name: a.name.as_deref(),
                path: &path.to_string_lossy(),
                size: content.len(),
            };
            serde_json::to_writer(&mut *out, &v).map_err(io::Error::from).map_err(StdoutError::from)?;
            out.write_all(b"\n").map_err(StdoutError::from)?;
        } else {
            let shown = format!(
                "{} ({})",
                path.display(),
                human_size(u64::try_from(content.len()).unwrap_or(u64::MAX))
            );
            writeln!(out, "{}", safe(&shown)).map_err(StdoutError::from)?;
        }
    }
    Ok(out.flush().map_err(StdoutError::from)?)
}

/// `2.4 KB`, `1.5 MB` (powers of 1024), `512 B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("TB"))
}

#[derive(Debug, Serialize)]
struct JsonAttachment<'a> {
    part: usize,
    name: Option<&'a str>,
    mime_type: &'a str,
    size: u64,
}

#[derive(Debug, Serialize)]
struct SavedAttachment<'a> {
    part: usize,
    name: Option<&'a str>,
    path: &'a str,
    size: usize,
}

#[derive(Debug, Serialize)]
struct JsonMessage<'a> {
    id: i64,
    message_id: Option<&'a str>,
    date: Option<String>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    cc: Option<&'a str>,
    subject: Option<&'a str>,
    size: u64,
    sha256: String,
    locations: Vec<JsonLocation<'a>>,
    text: &'a str,
    attachments: Vec<JsonAttachment<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2_458), "2.4 KB");
        assert_eq!(human_size(1_584_237), "1.5 MB");
    }
}
