//! The `mailsync` binary as a user or a packager installs it: `--version` naming the commit it was built
//! from.
//!
//! The tools these tests run (git) are installed by `scripts/install-deps`; a missing one fails its test
//! with the Debian package to install, it never skips it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mailsync");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `mailsync ARGS` with no MAILSYNC_* or RUST_LOG from the caller's environment.
fn mailsync(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("MAILSYNC_CONFIG")
        .env_remove("MAILSYNC_DB")
        .env_remove("RUST_LOG")
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!("cannot run {BIN}: {e}"),
    }
}

/// stdout of `mailsync ARGS`, which must succeed with nothing on stderr.
fn stdout_of(args: &[&str]) -> String {
    let o = mailsync(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && stderr.is_empty(), "mailsync {args:?}: {:?}, stderr {stderr:?}", o.status);
    match String::from_utf8(o.stdout) {
        Ok(s) => s,
        Err(e) => panic!("mailsync {args:?} printed non-UTF-8: {e}"),
    }
}

/// The program `name` on PATH, or a failure that says which Debian package brings it.
fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("`{name}` is not installed: run scripts/install-deps as root (Debian package {package})")
    })
}

/// `git -C ROOT ARGS`, trimmed, when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let o = Command::new(tool("git", "git")).arg("-C").arg(ROOT).args(args).output().ok()?;
    let text = String::from_utf8(o.stdout).ok()?;
    o.status.success().then(|| text.trim().to_owned())
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let version = env!("CARGO_PKG_VERSION");
    let checkout = git(&["rev-parse", "--show-toplevel"])
        .is_some_and(|top| Path::new(&top).canonicalize().ok() == Path::new(ROOT).canonicalize().ok());
    let expected = if checkout {
        let Some(commit) = git(&["log", "-1", "--no-show-signature", "--date=short", "--format=%h %cd"])
        else {
            panic!("git log failed in {ROOT}")
        };
        assert!(commit.len() >= "abc1234 2026-12-06".len(), "{commit:?}");
        format!("{version} (commit {commit})")
    } else {
        version.to_owned()
    };
    assert_eq!(stdout_of(&["--version"]), format!("mailsync {expected}\n"));
    assert_eq!(stdout_of(&["-V"]), format!("mailsync {expected}\n"));
    assert_eq!(stdout_of(&["sync", "--version"]), format!("mailsync-sync {expected}\n"));
}
