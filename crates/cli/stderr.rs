//! Everything mailsync writes on stderr: the one-line error report, the caret under a bad query, notes, and
//! the log writer that `tracing` formats into.
//!
//! Owns: writing to stderr in a way that cannot fail the program. stderr may be `/dev/full`, a pipe whose
//! reader is gone (`2>&1 | head -1`), or a terminal of a dropped ssh session: a write error there is dropped,
//! because there is nowhere left to report it, and the command goes on to finish its work (a sync commits
//! what it fetched) and exit with its own code. `eprintln!` panics on such an error (exit 101), and so does
//! `tracing-subscriber` when it reports its own write errors with `eprintln!`: neither is used. Owns too the
//! escaping of what reaches stderr: control characters in a line are shown escaped (`output::safe`), and in
//! a log record every one of them but the newline that ends it, so a server string in a log field can neither
//! drive the terminal nor forge a second log line.
//!
//! Must never: panic, block on a full pipe longer than the write itself, write on stdout, or print a secret
//! (what reaches here is already redacted). RFCs: none; ECMA-48 for what the escaping defuses.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use crate::output::safe;

/// Writes `text` and a newline on stderr, control characters escaped; a failed write is ignored.
pub fn line(text: &str) {
    let mut err = io::stderr().lock();
    let _ =
        err.write_all(safe(text).as_bytes()).and_then(|()| err.write_all(b"\n")).and_then(|()| err.flush());
}

/// The `tracing` writer: stderr, control characters escaped, write errors dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

impl Write for LogWriter {
    /// Takes one formatted record (the formatter writes each record with one `write_all`, and this never
    /// writes less than it is given) and writes it escaped; always reports the whole buffer as written.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let escaped = escape_record(buf);
        let _ = io::stderr().lock().write_all(escaped.as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().lock().flush();
        Ok(())
    }
}

/// One log record for a terminal: the final newline kept, every other control character escaped. Bytes that
/// are not UTF-8 (the formatter writes UTF-8) are shown as U+FFFD.
fn escape_record(buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(buf);
    let (body, end) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (text.as_ref(), ""),
    };
    format!("{}{end}", safe(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_their_newline_and_lose_their_control_characters() {
        assert_eq!(
            escape_record(b" WARN folder skipped folder=INBOX\n"),
            " WARN folder skipped folder=INBOX\n"
        );
        assert_eq!(
            escape_record(b" WARN folder=\x1b]0;pwned\x07 a\nfake ERROR line\n"),
            " WARN folder=\\x1b]0;pwned\\x07 a\\x0afake ERROR line\n"
        );
        assert_eq!(escape_record("c1 \u{9b}31m\0".as_bytes()), "c1 \\u{9b}31m\\x00");
        assert_eq!(escape_record(b"bad \xff utf-8\n"), "bad \u{fffd} utf-8\n");
    }
}
