//! `mailsync completions SHELL`: the shell's completion script for `mailsync`, on stdout.
//!
//! Owns nothing but the call: the script is generated from the clap definitions in `main` by
//! clap_complete, so every subcommand, option and value list is in it as soon as it is in the command line.
//!
//! Must never: read the config file or the store (packagers run it at build time, with neither), or print
//! anything on stdout but the script.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::output::StdoutError;
use crate::Cli;

/// Arguments of `mailsync completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    shell: Shell,
}

/// Prints the completion script.
pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "mailsync", &mut script);
    let mut out = io::stdout().lock();
    out.write_all(&script).map_err(StdoutError::from)?;
    Ok(out.flush().map_err(StdoutError::from)?)
}
