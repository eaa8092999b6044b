//! The config layer's one error type: everything that is wrong with the accounts file or the paths.
//!
//! Owns the wording of config errors. Every error about the file's content names the file, the line and
//! column, and the key (`accounts.work.imap.port`), so the user can go straight to it. Must never: include
//! a secret (the config holds none; password values come from `secrets`), or span more than one line.
//! RFCs: none.

/// Everything that can be wrong with the configuration. All of these exit with code 1.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // --- the user's file ---
    /// The file's content is not valid TOML, does not fit the schema, or fails validation.
    /// `file` is already shortened for display (`~/.config/...`).
    #[error("{file}:{line}:{column}: {message}")]
    At { file: String, line: usize, column: usize, message: String },
    /// Like `At`, for a problem with no position in the file (an empty file, say).
    #[error("{file}: {message}")]
    InFile { file: String, message: String },
    /// The file does not exist and the command needs an account from it.
    #[error("no config file at {file} (create one with `mailsync account add NAME --preset P --user ADDR`)")]
    Missing { file: String },
    /// The file has no account of that name.
    #[error("no account named `{name}` in {file} (configured: {known})")]
    UnknownAccount { name: String, file: String, known: String },
    /// The file has no account at all.
    #[error("no accounts in {file} (add one with `mailsync account add NAME --preset P --user ADDR`)")]
    NoAccounts { file: String },
    /// `account add` for a name that is taken.
    #[error("account `{name}` already exists in {file}; edit the file to change it")]
    AccountExists { name: String, file: String },
    /// `account add` for an OAuth2 account with no way to get a token.
    #[error(
        "account `{name}` would use OAuth2 (preset {preset}): pass --client-id ID (your registered \
         application) for `mailsync auth login`, or --token-command CMD, or --auth password"
    )]
    NeedsTokenSource { name: String, preset: &'static str },
    /// An account name that cannot be a bare TOML key.
    #[error("invalid account name `{name}`: use letters, digits, `-` and `_`")]
    BadAccountName { name: String },

    // --- the local environment ---
    /// The file exists but cannot be read.
    #[error("cannot read {file}: {source}")]
    Read { file: String, source: std::io::Error },
    /// The file or its directory cannot be written.
    #[error("cannot write {file}: {source}")]
    Write { file: String, source: std::io::Error },
    /// No home directory to derive a default path from.
    #[error("cannot find the {what} directory (no $HOME?): pass {option}")]
    NoDefaultDir { what: &'static str, option: &'static str },
}
