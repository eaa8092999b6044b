//! The harness's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while starting, seeding or querying a test Dovecot.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Dovecot's binaries are not on this machine.
    #[error(
        "dovecot is not installed ({0} not found); install it with: \
         apt-get install -y --no-install-recommends dovecot-core dovecot-imapd dovecot-pop3d \
         (or run scripts/test as root, which installs it)"
    )]
    NotInstalled(&'static str),
    /// A system-level step (user creation, chown) needs root or failed.
    #[error("system setup failed: {0}")]
    System(String),
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Cert(#[from] rcgen::Error),
    /// Dovecot did not come up; the tail of its log says why.
    #[error("dovecot did not start: {reason}\n--- dovecot log ---\n{log}")]
    Start { reason: String, log: String },
    /// A `doveadm` command failed.
    #[error("doveadm {args} failed: {stderr}")]
    Doveadm { args: String, stderr: String },
    /// The oracle client could not talk to the server.
    #[error("oracle client: {0}")]
    Oracle(String),
}

impl HarnessError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| HarnessError::Io { action, path, source }
    }
}
