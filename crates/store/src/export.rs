//! Writing stored messages out as files: mboxrd, Maildir, single `.eml` files, and saved attachments.
//!
//! Owns: the mboxrd format (a `From ` separator line with the sender and the date; every message line
//! matching `>*From ` gets one more `>`; one `\n` after each message) and its reader, which undoes
//! exactly that (so an export re-reads byte for byte, CRLF and a missing final newline included);
//! Maildir delivery (`maildir`: tmp/ then linked into cur/, unique names, IMAP flags as the `:2,` info
//! letters, no symlink followed inside the Maildir);
//! safe file names for attachments (no directories, no `..`, no control characters); and creating
//! files without ever overwriting one (`name`, `name-1`, `name-2`...).
//!
//! Must never: alter a message's bytes beyond the mboxrd quoting; write outside the directory it was
//! given (names are reduced to one safe component); overwrite or truncate an existing file (every file
//! is created with O_EXCL, mode 0600: mail is private).
//!
//! mboxrd: <https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml> and the qmail
//! mbox(5) page (From_ quoting); Maildir: <https://cr.yp.to/proto/maildir.html> (names, tmp/cur/new,
//! the `:2,` info flags D F P R S T); RFC 3501 section 2.3.2 (the IMAP flags mapped).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

mod maildir;

pub use maildir::{maildir_info, Maildir};

/// Mode of every exported file.
pub(crate) const FILE_MODE: u32 = 0o600;
/// Mode of every directory created for an export.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Longest file name written (bytes), well under the usual 255.
const MAX_NAME: usize = 200;
/// How many numbered alternatives [`create_unique`] tries before giving up.
pub(crate) const MAX_TRIES: u32 = 100_000;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A directory inside the export target is a symlink: export writes only into real directories.
    #[error("refusing to write through the symlink {path}: export follows no symlink inside its target")]
    Symlink {
        /// The symlink.
        path: PathBuf,
    },
    /// Every numbered variant of a name exists already.
    #[error("cannot find a free file name for {name:?} in {dir}")]
    NoFreeName {
        /// The directory.
        dir: PathBuf,
        /// The name asked for.
        name: String,
    },
}

/// Creates `dir` (and its parents) with mode 0700 if it does not exist.
pub fn create_dir(dir: &Path) -> Result<(), ExportError> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|source| ExportError::CreateDir { path: dir.to_path_buf(), source })
}

/// Creates a new file in `dir` named `name`, or `stem-1.ext`, `stem-2.ext`... if that exists. `name` must be
/// one plain file name (no `/`, not `.` or `..`): the file is always directly inside `dir`.
pub fn create_unique(dir: &Path, name: &str) -> Result<(File, PathBuf), ExportError> {
    let mut parts = Path::new(name).components();
    if !matches!((parts.next(), parts.next()), (Some(std::path::Component::Normal(_)), None)) {
        return Err(ExportError::Write {
            path: dir.join(name),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a plain file name"),
        });
    }
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    for n in 0..MAX_TRIES {
        let candidate = if n == 0 { name.to_owned() } else { format!("{stem}-{n}{ext}") };
        let path = dir.join(&candidate);
        match OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(ExportError::Write { path, source }),
        }
    }
    Err(ExportError::NoFreeName { dir: dir.to_path_buf(), name: name.to_owned() })
}

/// Writes `bytes` to a new file in `dir` (see [`create_unique`]); returns its path.
pub fn write_unique(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, ExportError> {
    let (mut file, path) = create_unique(dir, name)?;
    file.write_all(bytes).map_err(|source| ExportError::Write { path: path.clone(), source })?;
    Ok(path)
}

/// A file name that is safe to create inside a directory: the last path component of `name`, without
/// control characters, leading dots or surrounding spaces, at most 200 bytes (keeping the extension);
/// `fallback` when nothing is left.
pub fn safe_file_name(name: Option<&str>, fallback: &str) -> String {
    let last = name.unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim_end_matches(['.', ' ']).trim();
    let cleaned = if cleaned.is_empty() { fallback } else { cleaned };
    if cleaned.len() <= MAX_NAME {
        return cleaned.to_owned();
    }
    let ext = cleaned.rfind('.').and_then(|d| cleaned.get(d..)).filter(|e| e.len() <= 16).unwrap_or("");
    let mut cut = MAX_NAME - ext.len();
    while !cleaned.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", cleaned.get(..cut).unwrap_or(fallback))
}

/// The mbox `From ` separator line for a message: the sender's address (from the From header; else
/// `MAILER-DAEMON`) and the date in asctime form, UTC (the Date header; else `fallback_date`).
pub fn mbox_from_line(from_header: Option<&str>, date: Option<i64>, fallback_date: i64) -> Vec<u8> {
    let sender = from_header
        .and_then(|f| mailparse::addrparse(f).ok())
        .and_then(|list| {
            list.iter().find_map(|a| match a {
                mailparse::MailAddr::Single(s) => Some(s.addr.clone()),
                mailparse::MailAddr::Group(g) => g.addrs.first().map(|s| s.addr.clone()),
            })
        })
        .map(|a| a.split_whitespace().collect::<String>())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "MAILER-DAEMON".to_owned());
    format!("From {sender} {}\n", asctime(date.unwrap_or(fallback_date))).into_bytes()
}

/// `Mon May  6 08:15:00 2024` (UTC), the date form of mbox separator lines.
fn asctime(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let weekday = t.weekday().to_string();
    let month = t.month().to_string();
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        weekday.get(..3).unwrap_or("Mon"),
        month.get(..3).unwrap_or("Jan"),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// Whether `line` is `>*From ` (a line mboxrd quotes).
fn is_from_line(line: &[u8]) -> bool {
    let rest = line.iter().position(|&b| b != b'>').map_or(&[][..], |i| line.get(i..).unwrap_or_default());
    rest.starts_with(b"From ")
}

/// Appends one message to an mboxrd stream: `from_line`, the message with `>*From ` lines quoted, and
/// one `\n`.
pub fn write_mboxrd(out: &mut impl Write, from_line: &[u8], raw: &[u8]) -> io::Result<()> {
    out.write_all(from_line)?;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if is_from_line(line) {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    out.write_all(b"\n")
}

/// The messages of an mboxrd stream written by [`write_mboxrd`], unquoted, byte for byte.
pub fn read_mboxrd(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let finish = |m: Option<Vec<u8>>, out: &mut Vec<Vec<u8>>| {
        if let Some(mut m) = m {
            // The writer's separator newline.
            if m.last() == Some(&b'\n') {
                m.pop();
            }
            out.push(m);
        }
    };
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            finish(current.take(), &mut messages);
            current = Some(Vec::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        if line.first() == Some(&b'>') && is_from_line(line) {
            m.extend_from_slice(line.get(1..).unwrap_or_default());
        } else {
            m.extend_from_slice(line);
        }
    }
    finish(current.take(), &mut messages);
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_and_round_trips() {
        let a: &[u8] = b"Subject: a\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\nFromage\r\n";
        let b: &[u8] = b"Subject: b\n\nno final newline";
        let c: &[u8] = b"From: x@y\n\nends\n\n";
        let mut out = Vec::new();
        for m in [a, b, c] {
            write_mboxrd(&mut out, b"From x@y Mon May  6 08:15:00 2024\n", m).unwrap();
        }
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("\r\n>From here\r\n>>From there\r\n>>>From x\r\nFromage"), "{text}");
        assert!(text.contains("no final newline\nFrom x@y"), "{text}");
        assert_eq!(read_mboxrd(&out), vec![a.to_vec(), b.to_vec(), c.to_vec()]);
    }

    #[test]
    fn from_line_sender_and_date() {
        assert_eq!(
            mbox_from_line(Some("Ada Lovelace <ada@example.org>"), Some(1_714_983_300), 0),
            b"From ada@example.org Mon May  6 08:15:00 2024\n"
        );
        assert_eq!(mbox_from_line(None, None, 0), b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n");
        assert_eq!(
            mbox_from_line(Some("undisclosed-recipients:;"), Some(0), 0),
            b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"
        );
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_file_name(Some("../../etc/passwd"), "x"), "passwd");
        assert_eq!(safe_file_name(Some("..\\..\\win.ini"), "x"), "win.ini");
        assert_eq!(safe_file_name(Some(".."), "attachment-3"), "attachment-3");
        assert_eq!(safe_file_name(Some(".bashrc"), "x"), "bashrc");
        assert_eq!(safe_file_name(Some("a\u{0}b\r\nc.txt "), "x"), "abc.txt");
        assert_eq!(safe_file_name(None, "attachment-1"), "attachment-1");
        assert_eq!(safe_file_name(Some("Vertragsentwurf Müller.docx"), "x"), "Vertragsentwurf Müller.docx");
        let long = format!("{}.pdf", "é".repeat(300));
        let short = safe_file_name(Some(&long), "x");
        assert!(short.len() <= MAX_NAME && short.ends_with("é.pdf"), "{short}");
    }

    #[test]
    fn unique_files_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_unique(dir.path(), "report.pdf", b"1").unwrap();
        let b = write_unique(dir.path(), "report.pdf", b"2").unwrap();
        let c = write_unique(dir.path(), "README", b"3").unwrap();
        let d = write_unique(dir.path(), "README", b"4").unwrap();
        assert_eq!(a.file_name().unwrap(), "report.pdf");
        assert_eq!(b.file_name().unwrap(), "report-1.pdf");
        assert_eq!(d.file_name().unwrap(), "README-1");
        assert_eq!(std::fs::read(&a).unwrap(), b"1");
        assert_eq!(std::fs::read(&c).unwrap(), b"3");
        for bad in ["../x", "a/b", "/etc/x", "..", ""] {
            assert!(write_unique(dir.path(), bad, b"5").is_err(), "{bad:?}");
        }
    }
}
