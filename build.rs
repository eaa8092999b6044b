//! Build script of the `mailsync` binary: the version line that `mailsync --version` prints.
//!
//! Owns `MAILSYNC_VERSION`: the package version, followed, when built from a git checkout of this
//! repository, by the commit and its date: `0.1.0 (commit abc1234 2026-12-06)`.
//!
//! Must never: fail the build (no git, no `.git`, git refusing the directory: the plain version), borrow
//! the commit of another repository that happens to contain the sources (a source tarball unpacked inside
//! someone's dotfiles), or make cargo re-run it on every build: it watches only `HEAD`, the ref `HEAD`
//! points to and `packed-refs`, and only paths that exist (cargo re-runs a script on every build while a
//! path it watches is missing).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let dir = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    let line = match commit(&dir) {
        Some(commit) => format!("{version} (commit {commit})"),
        None => version,
    };
    println!("cargo:rustc-env=MAILSYNC_VERSION={line}");
}

/// `abc1234 2026-12-06`: HEAD's short hash and commit date, when `dir` is the top of a git work tree.
fn commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    watch(dir);
    git(dir, &["log", "-1", "--no-show-signature", "--date=short", "--format=%h %cd", "HEAD"])
}

/// Re-run when HEAD moves: a checkout rewrites `HEAD`; a commit rewrites the branch's loose ref, or, while
/// the branch lives in `packed-refs` only, creates it in the ref's folder. `--git-path` finds each of them
/// in a linked work tree too.
fn watch(dir: &Path) {
    let git_path = |name: &str| git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p));
    let mut paths: Vec<PathBuf> = git_path("HEAD").into_iter().collect();
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.extend(git_path("packed-refs"));
        if let Some(loose) = git_path(&branch) {
            match loose.parent() {
                Some(folder) if !loose.exists() => paths.push(folder.to_path_buf()),
                _ => paths.push(loose),
            }
        }
    }
    for path in paths.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `git -C dir ARGS`, trimmed stdout, or None for any failure (no git, not a repository, empty output).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // Set by git hooks and by some wrappers; they would point git at another repository.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
