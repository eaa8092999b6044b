//! Exit codes and the one-line error report (CLI.md "Exit codes"): 0 success; 1 usage or config error;
//! 2 network or TLS; 3 authentication refused; 4 server protocol error; 5 local store error; 130
//! interrupted.
//!
//! Owns the mapping from an error to its code (by the first error in the anyhow chain whose type is known:
//! `EngineError` by its `kind()`, `StoreError`, the CLI's config, secret and OAuth2 errors) and the text printed
//! on stderr: `mailsync: <message>: <cause>...` on ONE line, control characters shown escaped (an error
//! may quote a server, a folder name or a file). Must never: print anything on stdout, print an error
//! across several lines (scripts read the first line of stderr), or let a raw control character through.
//! RFCs: none; 130 is the shell convention 128 + SIGINT.

use mailsync_engine::{EngineError, ErrorKind};
use mailsync_store::StoreError;

use crate::config::ConfigError;
use crate::oauth::OAuthError;
use crate::output::{safe, StdoutError};
use crate::secrets::SecretError;

/// Usage or config error.
pub const USAGE: u8 = 1;
/// Network or TLS error.
pub const NETWORK: u8 = 2;
/// Authentication refused.
pub const AUTH: u8 = 3;
/// Server protocol error.
pub const PROTOCOL: u8 = 4;
/// Local store error.
pub const LOCAL: u8 = 5;
/// Interrupted (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// How a failed run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit with this code after printing this line on stderr.
    Fail(u8, String),
    /// Exit 0 without a word: stdout was closed by the reader (`mailsync search | head`).
    Quiet,
}

/// What to do about `err`.
pub fn outcome(err: &anyhow::Error) -> Outcome {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<StdoutError>() {
            if e.is_broken_pipe() {
                return Outcome::Quiet;
            }
        }
    }
    Outcome::Fail(code(err), format!("mailsync: {}", safe(&message(err))))
}

/// The exit code of `err`: that of the outermost error in its chain whose type is known, else 1.
pub fn code(err: &anyhow::Error) -> u8 {
    err.chain().find_map(classify).unwrap_or(USAGE)
}

fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if let Some(e) = cause.downcast_ref::<EngineError>() {
        return Some(match e.kind() {
            ErrorKind::Network => NETWORK,
            ErrorKind::Auth => AUTH,
            ErrorKind::Protocol => PROTOCOL,
            ErrorKind::Local | ErrorKind::Internal => LOCAL,
            ErrorKind::Config => USAGE,
            ErrorKind::Interrupted => INTERRUPTED,
        });
    }
    if let Some(e) = cause.downcast_ref::<SecretError>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<OAuthError>() {
        return Some(e.exit_code());
    }
    if cause.is::<StoreError>() || cause.is::<StdoutError>() {
        return Some(LOCAL);
    }
    if cause.is::<ConfigError>() || cause.is::<SecretError>() || cause.is::<clap::Error>() {
        return Some(USAGE);
    }
    None
}

/// The chain as `outer: cause: cause`, on one line. A cause whose text its parent already quotes (many
/// errors write `{source}` into their message and also return it as their source) is not repeated.
pub fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = one_line(&cause.to_string());
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// A clap error (bad option, missing argument...) as one line, e.g.
/// `unexpected argument '--jsn' found; tip: a similar argument exists: '--json' (see mailsync --help)`.
pub fn usage_message(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let mut what = String::new();
    let mut usage = String::new();
    let mut tips = Vec::new();
    // The message is the `error:` line plus its indented continuation (the missing arguments, say).
    let mut in_error = false;
    for raw in rendered.lines() {
        let line = raw.trim();
        if line.is_empty() {
            in_error = false;
        } else if let Some(m) = line.strip_prefix("error: ") {
            what = m.to_owned();
            in_error = true;
        } else if in_error && raw.starts_with(' ') && !line.starts_with("tip: ") {
            what.push(' ');
            what.push_str(line);
        } else if let Some(t) = line.strip_prefix("tip: ") {
            tips.push(format!("tip: {t}"));
        } else if let Some(u) = line.strip_prefix("Usage: ") {
            if usage.is_empty() {
                usage = u.to_owned();
            }
        }
    }
    if what.is_empty() {
        what = format!("missing a subcommand: {usage}");
    }
    let mut text = one_line(&what);
    for t in tips {
        text.push_str("; ");
        text.push_str(&one_line(&t));
    }
    // The command path is the leading words of the usage line: `mailsync account add <NAME> ...`.
    let words: Vec<&str> = usage.split_whitespace().take_while(|w| !w.starts_with(['-', '[', '<'])).collect();
    let command = if words.is_empty() { "mailsync".to_owned() } else { words.join(" ") };
    text.push_str(&format!(" (see {command} --help)"));
    text
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use clap::Parser;

    use super::*;

    fn engine(e: EngineError) -> anyhow::Error {
        anyhow::Error::new(e).context("syncing account work")
    }

    #[test]
    fn engine_kinds_map_to_the_documented_codes() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let rows: Vec<(EngineError, u8)> = vec![
            (EngineError::Connect { addr: "h:993".into(), source: io() }, 2),
            (EngineError::CertTrust { addr: "h:993".into(), detail: "unknown issuer".into() }, 2),
            (
                EngineError::AuthRefused {
                    protocol: "IMAP",
                    user: "u".into(),
                    addr: "h:993".into(),
                    text: "NO".into(),
                    hint: String::new(),
                },
                3,
            ),
            (EngineError::Protocol { protocol: "IMAP", addr: "h:993".into(), detail: "bad".into() }, 4),
            (EngineError::Store(StoreError::UnknownRun(mailsync_store::RunId::new(1))), 5),
            (EngineError::Config("x".into()), 1),
            (EngineError::Interrupted, 130),
        ];
        for (e, expected) in rows {
            let shown = e.to_string();
            assert_eq!(code(&engine(e)), expected, "{shown}");
        }
    }

    #[test]
    fn layer_errors_map_to_their_codes() {
        let store =
            anyhow::Error::new(StoreError::UnknownRun(mailsync_store::RunId::new(7))).context("status");
        assert_eq!(code(&store), 5);
        let config = anyhow::Error::new(ConfigError::BadAccountName { name: "a b".into() });
        assert_eq!(code(&config), 1);
        let secret = anyhow::Error::new(SecretError::NoTokenCommand { account: "w".into() });
        assert_eq!(code(&secret), 1);
        assert_eq!(code(&anyhow::anyhow!("something else")), 1);
    }

    #[test]
    fn message_is_one_line_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let e = Err::<(), _>(ConfigError::Read { file: "/c.toml".into(), source: io })
            .context("loading accounts");
        let Err(e) = e else { panic!("ok") };
        assert_eq!(message(&e), "loading accounts: cannot read /c.toml: permission denied");
        let multi = anyhow::anyhow!("line one\nline two");
        assert_eq!(message(&multi), "line one line two");
        assert_eq!(outcome(&multi), Outcome::Fail(1, "mailsync: line one line two".into()));
        let hostile = anyhow::anyhow!("folder \u{1b}]0;pwned\u{7} failed\r\nNO \u{9b}2J");
        assert_eq!(
            outcome(&hostile),
            Outcome::Fail(1, "mailsync: folder \\x1b]0;pwned\\x07 failed NO \\u{9b}2J".into())
        );
    }

    #[test]
    fn a_closed_stdout_is_quiet() {
        let e = anyhow::Error::new(StdoutError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe)));
        assert_eq!(outcome(&e), Outcome::Quiet);
        let other = anyhow::Error::new(StdoutError::from(std::io::Error::other("disk full")));
        assert_eq!(outcome(&other), Outcome::Fail(5, "mailsync: cannot write to stdout: disk full".into()));
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "mailsync")]
    struct T {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        cmd: Sub,
    }
    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Sync,
    }

    #[test]
    fn usage_errors_fit_on_one_line() {
        let e = T::try_parse_from(["mailsync", "--jsn", "sync"]).err();
        let m = e.as_ref().map(usage_message).unwrap_or_default();
        assert!(
            m.starts_with("unexpected argument '--jsn' found; tip: a similar argument exists: '--json'"),
            "{m}"
        );
        assert!(m.ends_with("(see mailsync --help)"), "{m}");
        let e = T::try_parse_from(["mailsync", "sync", "extra"]).err();
        let m = e.as_ref().map(usage_message).unwrap_or_default();
        assert!(m.starts_with("unexpected argument 'extra' found (see mailsync"), "{m}");
        let e = T::try_parse_from(["mailsync"]).err();
        let m = e.as_ref().map(usage_message).unwrap_or_default();
        assert!(!m.contains('\n'), "{m}");
        assert!(m.starts_with("missing a subcommand: mailsync"), "{m}");
    }
}
