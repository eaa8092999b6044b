//! `mailsync man [--dir DIR]`: the manual page, generated from the clap definitions by clap_mangen: as
//! roff on stdout, or with `--dir` as files, `mailsync.1` and one page per subcommand
//! (`mailsync-sync.1`, `mailsync-account-add.1`, ...).
//!
//! Owns the sections of `mailsync.1` that clap does not know: EXIT STATUS (from the codes in `exit`),
//! ENVIRONMENT, and FILES (the default paths, as `config::paths` and `oauth::store` resolve them when
//! nothing overrides them).
//!
//! Must never: read the config file or the store (packagers run it at build time, with neither), or print
//! anything on stdout but the page.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::exit;
use crate::output::StdoutError;
use crate::Cli;

/// Arguments of `mailsync man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write mailsync.1 and one page per subcommand into DIR (created if missing) instead of printing
    /// mailsync.1
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the page, or writes every page into `--dir`.
pub fn run(args: ManArgs) -> anyhow::Result<()> {
    let page = main_page().context("cannot render the manual page")?;
    let Some(dir) = args.dir else {
        let mut out = io::stdout().lock();
        out.write_all(&page).map_err(StdoutError::from)?;
        return Ok(out.flush().map_err(StdoutError::from)?);
    };
    write_pages(&dir, &page).with_context(|| format!("cannot write manual pages to {}", dir.display()))
}

/// The command line without clap's `help` subcommand, which needs no page of its own.
fn command() -> clap::Command {
    Cli::command().disable_help_subcommand(true)
}

/// `mailsync.1`: clap_mangen's page, then EXIT STATUS, ENVIRONMENT and FILES.
fn main_page() -> io::Result<Vec<u8>> {
    let mut page = Vec::new();
    Man::new(command()).render(&mut page)?;
    // `to_roff` rather than `to_writer`: the page above already starts with the preamble that
    // `to_writer` would repeat here.
    page.extend_from_slice(extra_sections().to_roff().as_bytes());
    Ok(page)
}

fn extra_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    let codes = [
        (0, "success"),
        (exit::USAGE, "usage or configuration error"),
        (exit::NETWORK, "network or TLS error"),
        (exit::AUTH, "authentication refused"),
        (exit::PROTOCOL, "server protocol error"),
        (exit::LOCAL, "local store error"),
        (exit::INTERRUPTED, "interrupted"),
    ];
    for (code, meaning) in codes {
        roff.control("TP", []).text([bold(code.to_string())]).text([roman(meaning)]);
    }
    roff.control("PP", [])
        .text([roman("A sync that fails part-way keeps what it committed, and exits non-zero.")]);
    roff.control("SH", ["ENVIRONMENT"]);
    let vars = [
        ("MAILSYNC_CONFIG", "The accounts file, as --config."),
        ("MAILSYNC_DB", "The store, as --db."),
        ("RUST_LOG", "Which logs reach stderr (a tracing filter such as info or mailsync_engine=debug); overrides -v and -q."),
    ];
    for (name, what) in vars {
        roff.control("TP", []).text([bold(name)]).text([roman(what)]);
    }
    roff.control("SH", ["FILES"]);
    let files = [
        (
            "~/.config/mailsync/config.toml",
            "The accounts (under $XDG_CONFIG_HOME when set; --config, MAILSYNC_CONFIG).",
        ),
        (
            "~/.local/share/mailsync/mail.db",
            "The store, mode 0600 (under $XDG_DATA_HOME when set; --db, MAILSYNC_DB).",
        ),
        (
            "~/.local/share/mailsync/tokens/NAME.json",
            "OAuth2 refresh tokens, mode 0600, in tokens/ beside the store.",
        ),
    ];
    for (path, what) in files {
        roff.control("TP", []).text([bold(path)]).text([roman(what)]);
    }
    roff
}

/// clap_mangen's pages for every command, then `mailsync.1` again with the sections it adds.
fn write_pages(dir: &Path, main_page: &[u8]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(command(), dir)?;
    std::fs::write(dir.join("mailsync.1"), main_page)
}
