//! The `mailsync` binary as a user or a packager installs it: `--version` naming the commit it was built
//! from, shell completions and manual pages generated from the command line, and the systemd user units in
//! `contrib/systemd` checked by `systemd-analyze verify` against the real binary.
//!
//! The tools these tests run (bash, git, groff, systemd-analyze) are installed by `scripts/install-deps`; a
//! missing one fails its test with the Debian package to install, it never skips it.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mailsync");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Subcommands that exist today; the tests check every subcommand `mailsync --help` lists, and these
/// guard against that list being read wrong (or empty).
const KNOWN: &[&str] = &[
    "account",
    "sync",
    "compare",
    "auth",
    "check",
    "search",
    "show",
    "export",
    "status",
    "completions",
    "man",
];

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

/// The subcommands `mailsync --help` lists (clap's `help` aside).
fn subcommands() -> Vec<String> {
    let help = stdout_of(&["--help"]);
    let Some((_, after)) = help.split_once("Commands:\n") else { panic!("no Commands: in --help:\n{help}") };
    let names: Vec<String> = after
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect();
    for k in KNOWN {
        assert!(
            names.iter().any(|n| n == k),
            "`{k}` missing from the subcommands read off --help: {names:?}"
        );
    }
    names
}

/// The program `name` on PATH, or a failure that says which Debian package brings it.
fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("`{name}` is not installed: run scripts/install-deps as root (Debian package {package})")
    })
}

fn run(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    }
}

fn write(path: &Path, contents: &[u8]) {
    if let Err(e) = std::fs::write(path, contents) {
        panic!("write {}: {e}", path.display());
    }
}

fn read(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => panic!("read {}: {e}", path.display()),
    }
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
    // The manual page carries the same version in its title line.
    let page = stdout_of(&["man"]);
    let title = page.lines().find(|l| l.starts_with(".TH mailsync 1 ")).unwrap_or_default();
    assert!(title.contains(&format!("\"mailsync {expected}\"")), "{title:?}");
}

/// What bash offers after `WORDS` (the last one being the word under the cursor), from the script
/// `mailsync completions bash` printed, loaded the way bash-completion loads it.
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    const DRIVER: &str = r#"
        source "$1"; shift
        f=$(complete -p mailsync | sed -E 's/.* -F ([^ ]+) .*/\1/')
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        "$f" mailsync "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let o = run(Command::new(tool("bash", "bash")).arg("-c").arg(DRIVER).arg("bash").arg(script).args(words));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && stderr.is_empty(), "bash completion of {words:?}: {stderr}");
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[test]
fn bash_completion_offers_every_subcommand_and_global_option() {
    let dir = tempdir();
    let script = dir.path().join("mailsync.bash");
    write(&script, stdout_of(&["completions", "bash"]).as_bytes());
    let o = run(Command::new(tool("bash", "bash")).arg("-n").arg(&script));
    assert!(o.status.success(), "bash -n: {}", String::from_utf8_lossy(&o.stderr));

    let offered = bash_complete(&script, &["mailsync", ""]);
    for word in subcommands().iter().map(String::as_str).chain(["--config", "--db", "--json", "--version"]) {
        assert!(offered.iter().any(|o| o == word), "`mailsync <TAB>` does not offer {word}: {offered:?}");
    }
    assert_eq!(bash_complete(&script, &["mailsync", "sy"]), ["sync"]);
    assert_eq!(bash_complete(&script, &["mailsync", "--config", "/tmp/c.toml", "sea"]), ["search"]);
    let shells = bash_complete(&script, &["mailsync", "completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|s| s == shell), "`completions <TAB>` does not offer {shell}: {shells:?}");
    }
    let account = bash_complete(&script, &["mailsync", "account", ""]);
    for sub in ["add", "list", "show"] {
        assert!(account.iter().any(|s| s == sub), "`account <TAB>` does not offer {sub}: {account:?}");
    }
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand_and_global_option() {
    let zsh = stdout_of(&["completions", "zsh"]);
    let fish = stdout_of(&["completions", "fish"]);
    assert!(zsh.starts_with("#compdef mailsync\n"), "{}", &zsh[..100]);
    assert!(zsh.contains("'--config=["), "zsh: no --config");
    assert!(
        fish.contains("complete -c mailsync -n \"__fish_mailsync_needs_command\" -l config "),
        "fish: no --config"
    );
    for name in subcommands() {
        assert!(zsh.contains(&format!("\n'{name}:")), "zsh: no subcommand {name}");
        assert!(fish.contains(&format!(" -a \"{name}\" ")), "fish: no subcommand {name}");
    }
    // Not a shell: a usage error, nothing on stdout.
    let o = mailsync(&["completions", "tcsh"]);
    assert_eq!((o.status.code(), o.stdout.is_empty()), (Some(1), true));
}

/// `groff -man` renders `page` as plain ASCII; any warning (-ww) fails.
fn render(page: &Path) -> String {
    let o = run(Command::new(tool("groff", "groff-base"))
        .args(["-t", "-man", "-Tascii", "-ww", "-P", "-cbou"])
        .arg(page));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && stderr.is_empty(), "groff {}: {stderr}", page.display());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn man_page_documents_every_subcommand_and_renders_without_warnings() {
    let dir = tempdir();
    let page = stdout_of(&["man"]);
    assert!(page.lines().any(|l| l.starts_with(".TH mailsync 1 ")), "no .TH line:\n{}", &page[..300]);
    let path = dir.path().join("mailsync.1");
    write(&path, page.as_bytes());
    let text = render(&path);
    for name in subcommands() {
        assert!(page.contains(&format!("mailsync\\-{name}(1)")), "roff: no mailsync-{name}(1)");
        assert!(text.contains(&format!("mailsync-{name}(1)")), "rendered: no mailsync-{name}(1)");
    }
    for section in ["SYNOPSIS", "GLOBAL OPTIONS", "SUBCOMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
        assert!(text.lines().any(|l| l == section), "no {section} section in:\n{text}");
    }
    for line in ["--config <PATH>", "130    interrupted", "MAILSYNC_DB", "~/.config/mailsync/config.toml"] {
        assert!(text.contains(line), "rendered page lacks {line:?}:\n{text}");
    }

    // --dir: the same mailsync.1, and one page per subcommand, nested ones too.
    let man1 = dir.path().join("share/man/man1");
    assert_eq!(stdout_of(&["man", "--dir", &man1.to_string_lossy()]), "");
    assert_eq!(read(&man1.join("mailsync.1")), page);
    let mut pages = vec![
        "mailsync.1".to_owned(),
        "mailsync-account-add.1".to_owned(),
        "mailsync-auth-login.1".to_owned(),
    ];
    pages.extend(subcommands().iter().map(|n| format!("mailsync-{n}.1")));
    for p in &pages {
        let text = render(&man1.join(p));
        let name = p.trim_end_matches(".1");
        assert!(text.starts_with(&format!("{name}(1)")), "{p} renders as:\n{text}");
    }
    let written = std::fs::read_dir(&man1).map(|d| d.count()).unwrap_or(0);
    assert!(written >= pages.len(), "{written} pages in {}", man1.display());
}

/// The systemd user units, in the order the tests read them: watch service, sync service, sync timer.
const UNITS: [&str; 3] = [
    "contrib/systemd/mailsync-watch.service",
    "contrib/systemd/mailsync-sync.service",
    "contrib/systemd/mailsync-sync.timer",
];

/// `systemd-analyze verify --user UNITS` as a user whose `~/.cargo/bin/mailsync` is the binary under
/// test and whose MANPATH holds the pages `mailsync man --dir` wrote. Fails on any word on stderr:
/// unknown keys and bad values are only warnings to systemd, and exit 0.
fn verify(home: &Path, units: &[PathBuf]) -> Output {
    let runtime = home.join("run");
    if let Err(e) = std::fs::create_dir_all(&runtime)
        .and_then(|()| std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)))
    {
        panic!("{}: {e}", runtime.display());
    }
    run(Command::new(tool("systemd-analyze", "systemd"))
        .args(["verify", "--user"])
        .args(units)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("MANPATH", home.join("share/man"))
        .env("SYSTEMD_LOG_COLOR", "0")
        .env_remove("XDG_CONFIG_HOME"))
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let home = tempdir();
    let home = home.path();
    let bin = home.join(".cargo/bin");
    if let Err(e) = std::fs::create_dir_all(&bin).and_then(|()| symlink(BIN, bin.join("mailsync"))) {
        panic!("{}: {e}", bin.display());
    }
    stdout_of(&["man", "--dir", &home.join("share/man/man1").to_string_lossy()]);

    let units: Vec<PathBuf> = UNITS.iter().map(|u| Path::new(ROOT).join(u)).collect();
    let o = verify(home, &units);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && stderr.is_empty(), "systemd-analyze verify: {:?}\n{stderr}", o.status);

    // The commands they run: `mailsync watch` (its interface: `watch [NAME...]`, exit 0 on SIGTERM) as a
    // service that restarts on failure, and `mailsync sync` as a oneshot that the timer starts.
    let watch = read(&units[0]);
    for line in
        ["ExecStart=%h/.cargo/bin/mailsync watch\n", "Restart=on-failure\n", "WantedBy=default.target\n"]
    {
        assert!(watch.contains(line), "mailsync-watch.service lacks {line:?}");
    }
    // ...and the binary has that command.
    let help = stdout_of(&["watch", "--help"]);
    assert!(help.contains("Usage: mailsync watch [OPTIONS] [NAMES]..."), "{help}");
    let sync = read(&units[1]);
    for line in ["Type=oneshot\n", "ExecStart=%h/.cargo/bin/mailsync sync\n"] {
        assert!(sync.contains(line), "mailsync-sync.service lacks {line:?}");
    }
    assert!(read(&units[2]).contains("WantedBy=timers.target\n"));
    stdout_of(&["sync", "--help"]);

    // The check has teeth: a misspelt key, a bad value and a missing binary are each reported.
    let bad = home.join("bad.service");
    let broken = [
        watch.replace("RestartSec=", "RestartSecs="),
        watch.replace("Restart=on-failure", "Restart=sometimes"),
        watch.replace("/.cargo/bin/mailsync", "/.cargo/bin/no-such-mailsync"),
    ];
    for unit in broken {
        write(&bad, unit.as_bytes());
        let o = verify(home, std::slice::from_ref(&bad));
        assert!(!o.stderr.is_empty(), "systemd-analyze verify accepted:\n{unit}");
    }
}

/// A unit file as the README shows it: without its comment lines, and one blank line between sections.
fn without_comments(unit: &str) -> String {
    let mut shown = String::new();
    for line in unit.lines().filter(|l| !l.starts_with('#')) {
        if line.is_empty() && (shown.is_empty() || shown.ends_with("\n\n")) {
            continue;
        }
        shown.push_str(line);
        shown.push('\n');
    }
    format!("```ini\n{}\n```\n", shown.trim_end())
}

#[test]
fn readme_shows_the_systemd_units_as_they_are() {
    let readme = read(&Path::new(ROOT).join("README.md"));
    for unit in UNITS {
        let shown = without_comments(&read(&Path::new(ROOT).join(unit)));
        assert!(readme.contains(&shown), "README.md does not show {unit} as it is; it should show:\n{shown}");
    }
}
