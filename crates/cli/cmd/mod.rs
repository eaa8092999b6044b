//! The subcommands, one file each: a `#[derive(clap::Args)]` struct and `fn run(args, ctx)`.
//!
//! Owns nothing but the list. Must never: hold logic shared by several commands (that lives in `config`,
//! `secrets`, `output`). RFCs: see each command.

pub mod account;
pub mod auth;
pub mod check;
pub mod compare;
pub mod completions;
pub mod export;
pub mod man;
pub mod search;
pub mod show;
pub mod status;
pub mod sync;
pub mod watch;

/// The async runtime of the commands that talk to several servers at once (`sync`, `watch`, `compare`): two
/// worker threads, I/O and timers.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
