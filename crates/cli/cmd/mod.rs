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
