//! `mailsync`: mirror IMAP and POP3 mailboxes (Outlook first) into a queryable SQLite store.
//!
//! Owns the command line (CLI.md): the global options `--config`, `--db`, `-v`/`-q` and `--json`, the
//! routing of subcommands, logging to stderr, and turning every failure into one line on stderr and the
//! documented exit code. Must never: take a secret from argv, log one (credentials are `Secret`s), print
//! logs on stdout (stdout is for results, which scripts parse), or panic on a closed or full stderr
//! (everything on stderr goes through `stderr`, which drops write errors). RFCs: none here; each layer
//! names its own.

mod check;
mod cmd;
mod config;
mod exit;
mod oauth;
mod output;
mod presets;
mod secrets;
mod signals;
mod stderr;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::config::{paths, Config, ConfigError};
use crate::output::Output;

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "mailsync", version = env!("MAILSYNC_VERSION"), about, propagate_version = true)]
struct Cli {
    /// Accounts file [default: $XDG_CONFIG_HOME/mailsync/config.toml]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MAILSYNC_CONFIG",
        value_name = "PATH"
    )]
    config: Option<PathBuf>,
    /// SQLite store, created 0600 [default: $XDG_DATA_HOME/mailsync/mail.db]
    #[arg(long, global = true, help_heading = "Global options", env = "MAILSYNC_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, help_heading = "Global options", action = ArgAction::Count)]
    verbose: u8,
    /// Less log output (-q errors only, -qq nothing)
    #[arg(short, long, global = true, help_heading = "Global options", action = ArgAction::Count, conflicts_with = "verbose")]
    quiet: u8,
    /// Machine-readable output: one JSON object per line
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, list and show accounts
    Account(cmd::account::AccountArgs),
    /// Sync accounts into the local store
    Sync(cmd::sync::SyncArgs),
    /// Keep accounts current until stopped: IMAP IDLE and sweeps, or POP3 polling
    Watch(cmd::watch::WatchArgs),
    /// IMAP and POP3 side by side for one account, read-only
    Compare(cmd::compare::CompareArgs),
    /// Sign in with OAuth2 (Outlook): `auth login NAME`
    Auth(cmd::auth::AuthArgs),
    /// Test an account's IMAP, POP3 and SMTP settings: a checklist with hints
    Check(cmd::check::CheckArgs),
    /// Query stored mail: `search from:ada date:2024-05 "analytical engine"`
    Search(cmd::search::SearchArgs),
    /// One stored message: headers and text, --raw bytes, --headers, --attachments DIR
    Show(cmd::show::ShowArgs),
    /// Write the messages a query matches as eml files, an mbox or a Maildir
    Export(cmd::export::ExportArgs),
    /// Per account and protocol: messages, size, folders, last sync and how it ended
    Status(cmd::status::StatusArgs),
    /// Shell completion script on stdout: bash, zsh, fish, elvish or powershell
    Completions(cmd::completions::CompletionsArgs),
    /// The manual page (roff) on stdout, or with --dir DIR one page per subcommand
    Man(cmd::man::ManArgs),
}

/// What every subcommand gets: the resolved global options.
#[derive(Debug)]
pub struct Ctx {
    /// The accounts file (may not exist yet).
    pub config_path: PathBuf,
    /// The SQLite store (created 0600 by the store when missing).
    pub db_path: PathBuf,
    /// `--json`.
    pub json: bool,
    /// `-v` count minus `-q` count: 0 warnings, 1 info, 2 debug, -1 errors only, -2 silent.
    pub verbosity: i8,
}

impl Ctx {
    /// Loads and validates the accounts file.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let config = Config::load(&self.config_path)?;
        tracing::debug!(
            file = %self.config_path.display(),
            accounts = config.accounts().len(),
            "config loaded"
        );
        Ok(config)
    }

    /// Where `mailsync auth login` keeps OAuth2 tokens: `tokens/` beside the database.
    pub fn token_dir(&self) -> PathBuf {
        oauth::store::dir_for_db(&self.db_path)
    }

    /// Where results go, honouring `--json`.
    pub fn output(&self) -> Output {
        Output::new(self.json)
    }
}

fn main() -> ExitCode {
    signals::install();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let verbosity = verbosity(cli.verbose, cli.quiet);
    init_logging(verbosity);
    match run(cli, verbosity) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match exit::outcome(&err) {
            exit::Outcome::Quiet => ExitCode::SUCCESS,
            exit::Outcome::Fail(code, line) => {
                stderr::line(&line);
                ExitCode::from(code)
            }
        },
    }
}

fn run(cli: Cli, verbosity: i8) -> anyhow::Result<()> {
    let config_path = match cli.config {
        Some(p) => paths::expand_tilde(&p),
        None => paths::default_config()?,
    };
    let db_path = match cli.db {
        Some(p) => paths::expand_tilde(&p),
        None => paths::default_db()?,
    };
    let ctx = Ctx { config_path, db_path, json: cli.json, verbosity };
    secrets::set_token_dir(ctx.token_dir());
    tracing::debug!(config = %ctx.config_path.display(), db = %ctx.db_path.display(), verbosity = ctx.verbosity, "paths");
    match cli.command {
        Command::Account(args) => cmd::account::run(args, &ctx),
        Command::Sync(args) => cmd::sync::run(args, &ctx),
        Command::Watch(args) => cmd::watch::run(args, &ctx),
        Command::Compare(args) => cmd::compare::run(args, &ctx),
        Command::Auth(args) => cmd::auth::run(args, &ctx),
        Command::Check(args) => cmd::check::run(args, &ctx),
        Command::Search(args) => cmd::search::run(args, &ctx),
        Command::Show(args) => cmd::show::run(args, &ctx),
        Command::Export(args) => cmd::export::run(args, &ctx),
        Command::Status(args) => cmd::status::run(args, &ctx),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Man(args) => cmd::man::run(args),
    }
}

/// `--help` and `--version` print and succeed; any other parse failure is a usage error, exit 1, on
/// one line.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Nothing useful to do if stdout is closed.
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            stderr::line(&format!("mailsync: {}", exit::usage_message(e)));
            ExitCode::from(exit::USAGE)
        }
    }
}

fn verbosity(verbose: u8, quiet: u8) -> i8 {
    let v = i8::try_from(verbose).unwrap_or(i8::MAX);
    let q = i8::try_from(quiet).unwrap_or(i8::MAX);
    v.saturating_sub(q)
}

/// Logs go to stderr. RUST_LOG, when set, decides; otherwise `-v`/`-q` around a default of warnings.
/// Without colours: the log writer escapes every control character of a record (a server string in a
/// field must not reach the terminal raw), which would show ANSI colour codes as text.
fn init_logging(verbosity: i8) {
    let level = match verbosity {
        i8::MIN..=-2 => LevelFilter::OFF,
        -1 => LevelFilter::ERROR,
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let filter = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(stderr::LogWriter)
        .with_ansi(false)
        .log_internal_errors(false)
        .with_target(false)
        .init();
}
