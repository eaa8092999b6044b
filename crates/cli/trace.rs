//! `--trace FILE` (with `--trace-content` and `--trace-limit`) on every command that talks to a server:
//! `sync`, `check`, `compare` (and `watch`: flatten [`TraceArgs`] into its arguments and call
//! [`TraceArgs::start`] first).
//!
//! Owns: the three options, opening the trace for the run (the engine creates the file: 0600, no symlink, a
//! size limit), and the run's one trace, which [`crate::config::EffectiveEndpoint::to_endpoint`] attaches to
//! every endpoint it makes, so that no connection of the run is left out of it. Must never: put anything in
//! the trace itself (the engine's transport does, through the proto crate's recorder, which removes secrets
//! and message content), or let a trace problem fail a run once it has started (a bad path fails it before
//! any connection, with exit 1). RFCs: none here (see `mailsync_proto::trace`).

use std::path::PathBuf;
use std::sync::OnceLock;

use mailsync_engine::trace::{Content, DEFAULT_LIMIT, MIN_LIMIT};
use mailsync_engine::{Trace, TraceOptions};

/// The trace options of a command.
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// Write both directions of every IMAP, POP3 and SMTP conversation to FILE (created 0600; passwords and
    /// tokens removed, message content left out): the file to attach to a bug report
    #[arg(long, value_name = "FILE", help_heading = "Protocol trace")]
    pub trace: Option<PathBuf>,
    /// How much of your mail the trace keeps: none (each message's size and header names), headers (the
    /// header section too) or full (everything, what a replay test needs)
    #[arg(
        long,
        value_enum,
        value_name = "WHAT",
        default_value_t = ContentArg::None,
        requires = "trace",
        help_heading = "Protocol trace"
    )]
    pub trace_content: ContentArg,
    /// The most the trace file may hold (64MiB, 500KB, 1000000...); writing stops there with a last line
    /// that says so
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "64MiB",
        value_parser = parse_limit,
        requires = "trace",
        help_heading = "Protocol trace"
    )]
    pub trace_limit: u64,
}

/// `--trace-content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContentArg {
    /// Each message as its size and header names
    None,
    /// Each message's header section as sent, the rest as its size
    Headers,
    /// Everything
    Full,
}

impl From<ContentArg> for Content {
    fn from(c: ContentArg) -> Content {
        match c {
            ContentArg::None => Content::None,
            ContentArg::Headers => Content::Headers,
            ContentArg::Full => Content::Full,
        }
    }
}

/// The trace file cannot be used (before the run touches a server).
#[derive(Debug, thiserror::Error)]
#[error("--trace: {0}")]
pub struct TraceError(String);

static CURRENT: OnceLock<Trace> = OnceLock::new();

impl TraceArgs {
    /// Opens the trace, when one was asked for, as the trace of this run of `command`.
    pub fn start(&self, command: &str) -> Result<(), TraceError> {
        let Some(path) = &self.trace else { return Ok(()) };
        let options = TraceOptions {
            content: self.trace_content.into(),
            limit: self.trace_limit,
            program: format!("mailsync {}", env!("MAILSYNC_VERSION")),
            command: command.to_owned(),
        };
        // The engine's error names the path and what is wrong; the exit code is a usage error's.
        let trace = Trace::create(path, options).map_err(|e| TraceError(e.to_string()))?;
        tracing::info!(file = %path.display(), "writing a protocol trace");
        CURRENT.set(trace).map_err(|_| TraceError("a trace is already being written".into()))
    }
}

/// The run's trace, if `--trace` started one.
pub fn current() -> Option<Trace> {
    CURRENT.get().cloned()
}

/// `--trace-limit`: a size such as `64MiB`, `500KB` or `1000000` (bytes), at least 4 KiB.
fn parse_limit(s: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = s.trim().parse().map_err(|e| format!("{s:?} is not a size ({e})"))?;
    let bytes = size.as_u64();
    if bytes < MIN_LIMIT {
        return Err(format!("{s:?} is too small: a trace needs at least {MIN_LIMIT} bytes"));
    }
    Ok(bytes)
}

const _: () = assert!(DEFAULT_LIMIT == 64 << 20, "the --trace-limit default says 64MiB");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_row_by_row() {
        // (argument, bytes or the words of the refusal)
        let rows: &[(&str, Result<u64, &str>)] = &[
            ("64MiB", Ok(64 << 20)),
            ("64 MiB", Ok(64 << 20)),
            ("500KB", Ok(500_000)),
            ("1000000", Ok(1_000_000)),
            ("4096", Ok(4096)),
            ("1G", Ok(1_000_000_000)),
            ("4095", Err("too small")),
            ("lots", Err("not a size")),
            ("-5", Err("not a size")),
            ("", Err("not a size")),
        ];
        for (arg, want) in rows {
            match (parse_limit(arg), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{arg}"),
                (Err(e), Err(words)) => assert!(e.contains(words), "{arg}: {e}"),
                (got, want) => panic!("{arg}: got {got:?}, want {want:?}"),
            }
        }
    }
}
