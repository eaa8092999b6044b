//! The `mailsync` binary's configuration surface, run as a user runs it: `--config` pointing into a
//! temporary directory, `account add | list | show`, config errors (FILE:LINE:COL, KEY), exit codes, and
//! secrets staying out of every output.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mailsync");

/// A scratch directory with a config file path in it.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        match tempfile::tempdir() {
            Ok(dir) => Scratch { dir },
            Err(e) => panic!("tempdir: {e}"),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn write(&self, text: &str) -> PathBuf {
        let path = self.config();
        if let Err(e) = std::fs::write(&path, text) {
            panic!("write {}: {e}", path.display());
        }
        path
    }

    /// Runs the binary with a clean environment: HOME inside the scratch dir, no MAILSYNC_* or RUST_LOG.
    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("HOME", self.dir.path().join("home"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("MAILSYNC_CONFIG")
            .env_remove("MAILSYNC_DB")
            .env_remove("RUST_LOG");
        c
    }

    /// `mailsync --config <scratch>/config.toml ARGS...`
    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.command();
        c.arg("--config").arg(self.config()).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        match c.output() {
            Ok(o) => o,
            Err(e) => panic!("cannot run {BIN}: {e}"),
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    match serde_json::from_slice(&o.stdout) {
        Ok(v) => v,
        Err(e) => panic!("stdout is not one JSON object ({e}): {:?} / stderr {:?}", stdout(o), stderr(o)),
    }
}

/// Asserts a failed run with exit code 1 and exactly one line on stderr, and returns that line.
fn config_failure(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "stdout {:?} stderr {:?}", stdout(o), stderr(o));
    assert!(o.stdout.is_empty(), "stdout {:?}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.matches('\n').count(), 1, "not one line: {err:?}");
    err.trim_end().to_owned()
}

fn endpoint(v: &Value) -> (String, u64, String) {
    (
        v["server"].as_str().unwrap_or_default().to_owned(),
        v["port"].as_u64().unwrap_or_default(),
        v["security"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn each_preset_yields_exactly_its_documented_endpoints() {
    // (preset, imap, pop3, smtp, auth)
    type Ep = (&'static str, u64, &'static str);
    let rows: &[(&str, Ep, Ep, Ep, &str)] = &[
        (
            "outlook",
            ("outlook.office365.com", 993, "tls"),
            ("outlook.office365.com", 995, "tls"),
            ("smtp-mail.outlook.com", 587, "starttls"),
            "xoauth2",
        ),
        (
            "outlook-classic",
            ("imap-mail.outlook.com", 993, "tls"),
            ("pop-mail.outlook.com", 995, "tls"),
            ("smtp-mail.outlook.com", 587, "starttls"),
            "xoauth2",
        ),
        (
            "office365",
            ("outlook.office365.com", 993, "tls"),
            ("outlook.office365.com", 995, "tls"),
            ("smtp.office365.com", 587, "starttls"),
            "xoauth2",
        ),
        (
            "gmail",
            ("imap.gmail.com", 993, "tls"),
            ("pop.gmail.com", 995, "tls"),
            ("smtp.gmail.com", 587, "starttls"),
            "password",
        ),
    ];
    let s = Scratch::new();
    let mut text = String::new();
    for (preset, ..) in rows {
        text.push_str(&format!(
            "[accounts.{preset}]\npreset = \"{preset}\"\nuser = \"me@example.com\"\nclient_id = \"app-id\"\n\n"
        ));
    }
    s.write(&text);
    for (preset, imap, pop3, smtp, auth) in rows {
        let o = s.run(&["--json", "account", "show", preset]);
        assert_eq!(o.status.code(), Some(0), "{preset}: {}", stderr(&o));
        let v = json(&o);
        let want = |e: &Ep| (e.0.to_owned(), e.1, e.2.to_owned());
        assert_eq!(endpoint(&v["imap"]), want(imap), "{preset} imap");
        assert_eq!(endpoint(&v["pop3"]), want(pop3), "{preset} pop3");
        assert_eq!(endpoint(&v["smtp"]), want(smtp), "{preset} smtp");
        assert_eq!(v["auth"], *auth, "{preset} auth");
        assert_eq!(v["user"], "me@example.com");
        assert_eq!(v["preset"], *preset);
        assert_eq!(v["leave_on_server"], true, "{preset}");
        assert_eq!(v["skip_non_mail_folders"], true, "{preset}");
    }
}

#[test]
fn overrides_show_in_the_effective_settings() {
    let s = Scratch::new();
    s.write(
        "[accounts.lab]\npreset = \"outlook\"\nuser = \"me@lab\"\ntoken_command = \"cat token\"\n\
         [accounts.lab.imap]\nhost = \"127.0.0.1\"\nport = 10143\nsecurity = \"plain\"\nallow_plaintext = true\n\
         [accounts.lab.pop3]\nsecurity = \"starttls\"\nleave_on_server = false\n",
    );
    let v = json(&s.run(&["--json", "account", "show", "lab"]));
    assert_eq!(endpoint(&v["imap"]), ("127.0.0.1".to_owned(), 10143, "plain".to_owned()));
    assert_eq!(v["imap"]["allow_plaintext"], true);
    // security changed without a port: the standard STLS port.
    assert_eq!(endpoint(&v["pop3"]), ("outlook.office365.com".to_owned(), 110, "starttls".to_owned()));
    assert_eq!(v["leave_on_server"], false);
    assert_eq!(endpoint(&v["smtp"]), ("smtp-mail.outlook.com".to_owned(), 587, "starttls".to_owned()));
    assert_eq!(v["token_command"], "cat token");
}

#[test]
fn an_unknown_key_names_file_line_and_table() {
    let s = Scratch::new();
    let path = s.write(
        "# my accounts\n[accounts.work]\npreset = \"gmail\"\nuser = \"me@gmail.com\"\n\n\npasword_env = \"PW\"\n",
    );
    let line = config_failure(&s.run(&["account", "list"]));
    let expected = format!(
        "mailsync: {}:7:1: unknown field `pasword_env` in accounts.work (expected one of `preset`, `user`, \
         `auth`, `password_command`, `password_env`, `token_command`, `command_timeout`, `reconnect_attempts`, `watch_via`, \
         `ca_file`, `client_id`, `tenant`, `scopes`, `authority`, `imap`, `pop3`, `smtp`)",
        path.display()
    );
    assert_eq!(line, expected);
}

#[test]
fn a_bad_security_value_names_file_line_and_key() {
    let s = Scratch::new();
    let path = s.write(
        "[accounts.work]\npreset = \"gmail\"\nuser = \"me@gmail.com\"\n\n[accounts.work.imap]\nsecurity = \"ssl\"\n",
    );
    let line = config_failure(&s.run(&["account", "show", "work"]));
    assert_eq!(
        line,
        format!(
            "mailsync: {}:6:12: unknown variant `ssl` in accounts.work.imap.security (expected one of `tls`, \
             `starttls`, `plain`)",
            path.display()
        )
    );
}

#[test]
fn a_bad_port_names_file_line_and_key() {
    let rows: &[(&str, &str)] = &[
        ("port = 0", "invalid port 0 in accounts.work.pop3.port (expected 1 to 65535)"),
        ("port = 99999", "invalid port 99999 in accounts.work.pop3.port (expected 1 to 65535)"),
        ("port = \"995\"", "invalid type: string \"995\" in accounts.work.pop3.port (expected i64)"),
    ];
    for (setting, message) in rows {
        let s = Scratch::new();
        let path = s.write(&format!(
            "[accounts.work]\npreset = \"gmail\"\nuser = \"me@gmail.com\"\n[accounts.work.pop3]\n{setting}\n"
        ));
        let line = config_failure(&s.run(&["--json", "account", "list"]));
        let column = if setting.contains('"') { 8 } else { 1 };
        assert_eq!(line, format!("mailsync: {}:5:{column}: {message}", path.display()), "{setting}");
    }
}

#[test]
fn validation_errors_say_what_to_add() {
    let rows: &[(&str, &str)] = &[
        (
            "[accounts.w]\npreset = \"office365\"\nuser = \"u\"\n",
            ":2:1: OAuth2 (the office365 preset's default) without client_id or token_command in accounts.w.preset \
             (add client_id = \"YOUR-APP-ID\" to [accounts.w] for `mailsync auth login`, or token_command = \
             \"...\" for an external token helper)",
        ),
        (
            "[accounts.w]\npreset = \"yahoo\"\nuser = \"u\"\n",
            ":2:1: unknown preset `yahoo` in accounts.w.preset (expected one of outlook, outlook-classic, \
             office365, gmail)",
        ),
        (
            "[accounts.w]\nuser = \"u\"\n[accounts.w.imap]\nport = 993\n",
            ":3:1: no host in accounts.w.imap (add host = \"...\", or preset = \"...\" (one of outlook, \
             outlook-classic, office365, gmail))",
        ),
        (
            "[accounts.w]\npreset = \"gmail\"\nuser = \"u\"\npassword_command = \"pass x\"\npassword_env = \"PW\"\n",
            ":5:1: both password_command and password_env in accounts.w.password_env (keep only one of them)",
        ),
        (
            "[accounts.w]\npreset = \"gmail\"\nuser = \"u\"\n[accounts.w.smtp]\nsecurity = \"plain\"\n",
            ":5:1: security = \"plain\" without allow_plaintext = true in accounts.w.smtp.security (add \
             allow_plaintext = true to [accounts.w.smtp] to permit an unencrypted connection, or use \"tls\" \
             or \"starttls\")",
        ),
    ];
    for (text, tail) in rows {
        let s = Scratch::new();
        let path = s.write(text);
        let line = config_failure(&s.run(&["account", "list"]));
        assert_eq!(line, format!("mailsync: {}{tail}", path.display()), "{text}");
    }
}

#[test]
fn account_add_then_show() {
    let s = Scratch::new();
    // A directory that does not exist yet.
    let config = s.dir.path().join("new").join("dir").join("config.toml");
    let config_arg = config.to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let mut c = s.command();
        c.arg("--config").arg(&config_arg).args(args);
        c.output().unwrap_or_else(|e| panic!("run: {e}"))
    };

    let o = run(&[
        "account",
        "add",
        "work",
        "--preset",
        "outlook",
        "--user",
        "me@outlook.com",
        "--client-id",
        "0000-app",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("added account work to {}\nnext: `mailsync auth login work`\n", config.display())
    );
    let o = run(&[
        "account",
        "add",
        "home",
        "--preset",
        "gmail",
        "--user",
        "u@gmail.com",
        "--password-env",
        "GMAIL_PW",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode, Some(0o600));
    }
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    assert!(text.contains("[accounts.work]\npreset = \"outlook\""), "{text}");
    assert!(text.contains("# [accounts.work.imap]"), "commented overrides: {text}");

    let o = run(&["account", "list"]);
    assert_eq!(stdout(&o), "home  u@gmail.com     gmail\nwork  me@outlook.com  outlook\n");
    let o = run(&["--json", "account", "list"]);
    assert_eq!(
        stdout(&o),
        "{\"account\":\"home\",\"user\":\"u@gmail.com\",\"preset\":\"gmail\"}\n\
         {\"account\":\"work\",\"user\":\"me@outlook.com\",\"preset\":\"outlook\"}\n"
    );

    let o = run(&["account", "show", "work"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown = stdout(&o);
    for line in [
        "user                me@outlook.com\n",
        "IMAP (incoming):\n  server            outlook.office365.com\n  port              993\n  encryption        SSL/TLS\n  authentication    OAuth2 (XOAUTH2)\n",
        "POP3 (incoming):\n  server            outlook.office365.com\n  port              995\n  encryption        SSL/TLS\n",
        "SMTP (outgoing):\n  server            smtp-mail.outlook.com\n  port              587\n  encryption        STARTTLS\n",
    ] {
        assert!(shown.contains(line), "missing {line:?} in:\n{shown}");
    }
    let v = json(&run(&["--json", "account", "show", "work"]));
    assert_eq!(v["client_id"], "0000-app");
    assert_eq!(v["auth"], "xoauth2");
    let v = json(&run(&["--json", "account", "show", "home"]));
    assert_eq!(v["password_source"], serde_json::json!({"kind": "env", "variable": "GMAIL_PW"}));

    // The same name again is refused and the file is left alone.
    let o = run(&["account", "add", "work", "--preset", "gmail", "--user", "x@gmail.com"]);
    let line = config_failure(&o);
    assert_eq!(
        line,
        format!(
            "mailsync: cannot add account `work`: account `work` already exists in {}; edit the file to change it",
            config.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap_or_default(), text);
}

#[test]
fn account_add_refuses_oauth2_without_a_token_source() {
    let s = Scratch::new();
    let line = config_failure(&s.run(&[
        "account",
        "add",
        "work",
        "--preset",
        "outlook",
        "--user",
        "me@outlook.com",
    ]));
    assert!(line.contains("pass --client-id ID"), "{line}");
    assert!(!s.config().exists());
}

#[test]
fn the_config_path_comes_from_the_environment_or_the_xdg_default() {
    let s = Scratch::new();
    let via_env = s.dir.path().join("env.toml");
    let mut c = s.command();
    c.env("MAILSYNC_CONFIG", &via_env).args([
        "account",
        "add",
        "e",
        "--preset",
        "gmail",
        "--user",
        "e@gmail.com",
    ]);
    let o = c.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(via_env.exists());

    // No --config, no MAILSYNC_CONFIG, no XDG_CONFIG_HOME: ~/.config/mailsync/config.toml.
    let mut c = s.command();
    c.args(["account", "add", "d", "--preset", "gmail", "--user", "d@gmail.com"]);
    let o = c.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(s.dir.path().join("home/.config/mailsync/config.toml").exists());
    // Under $HOME, messages shorten the path to ~.
    assert_eq!(stdout(&o), "added account d to ~/.config/mailsync/config.toml\nnext: `mailsync check d`\n");

    // XDG_CONFIG_HOME wins over ~/.config; `~` in --config is expanded.
    let mut c = s.command();
    c.env("XDG_CONFIG_HOME", s.dir.path().join("xdg")).args([
        "account",
        "add",
        "x",
        "--preset",
        "gmail",
        "--user",
        "x@gmail.com",
    ]);
    assert_eq!(c.output().ok().and_then(|o| o.status.code()), Some(0));
    assert!(s.dir.path().join("xdg/mailsync/config.toml").exists());
    let mut c = s.command();
    c.args(["--config", "~/t.toml", "account", "add", "t", "--preset", "gmail", "--user", "t@gmail.com"]);
    assert_eq!(c.output().ok().and_then(|o| o.status.code()), Some(0));
    assert!(s.dir.path().join("home/t.toml").exists());
}

#[test]
fn usage_and_config_errors_exit_1_on_one_line() {
    let s = Scratch::new();
    let usage: &[&[&str]] = &[
        &["--jsn", "account", "list"],
        &["account"],
        &["account", "add", "w"],
        &["account", "add", "w", "--preset", "hotmail", "--user", "u"],
        &["no-such-command"],
        &[],
    ];
    for args in usage {
        let line = config_failure(&s.run(args));
        assert!(line.starts_with("mailsync: "), "{args:?}: {line}");
        assert!(line.ends_with("--help)"), "{args:?}: {line}");
    }
    let line = config_failure(&s.run(&["account", "show", "nobody"]));
    assert!(line.starts_with("mailsync: no config file at "), "{line}");
    s.write("[accounts.a]\npreset = \"gmail\"\nuser = \"a\"\n");
    let line = config_failure(&s.run(&["account", "show", "nobody"]));
    assert_eq!(
        line,
        format!("mailsync: no account named `nobody` in {} (configured: a)", s.config().display())
    );
    s.write("[accounts.a\n");
    let line = config_failure(&s.run(&["account", "list"]));
    assert!(line.starts_with(&format!("mailsync: {}:1:", s.config().display())), "{line}");

    // --help and --version are not errors.
    let o = s.run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--config <PATH>"));
    let o = s.run(&["--version"]);
    let (code, version) = (o.status.code(), stdout(&o));
    let plain = format!("mailsync {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(code, Some(0));
    // With the commit when built from a git checkout (tests/install.rs checks which).
    assert!(
        version == format!("{plain}\n") || version.starts_with(&format!("{plain} (commit ")),
        "{version}"
    );
}

#[test]
fn a_password_env_value_is_never_printed() {
    const SECRET: &str = "pw-5f3a9c1e-never-print-me";
    let s = Scratch::new();
    s.write(
        "[accounts.home]\npreset = \"gmail\"\nuser = \"u@gmail.com\"\npassword_env = \"MAILSYNC_TEST_PW\"\n",
    );
    /// (arguments, extra environment)
    type Run = (&'static [&'static str], &'static [(&'static str, &'static str)]);
    let runs: &[Run] = &[
        (&["-vv", "account", "show", "home"], &[]),
        (&["-vv", "--json", "account", "show", "home"], &[]),
        (&["-vv", "account", "list"], &[]),
        (&["account", "show", "home"], &[("RUST_LOG", "trace")]),
        (&["-vvv", "account", "show", "nobody"], &[]),
    ];
    for (args, extra_env) in runs {
        let mut env = vec![("MAILSYNC_TEST_PW", SECRET)];
        env.extend_from_slice(extra_env);
        let o = s.run_with(args, &env);
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(!out.contains(SECRET) && !err.contains(SECRET), "{args:?} printed the secret");
        assert!(
            out.contains("home") || err.contains("nobody"),
            "{args:?} printed nothing useful: {out} {err}"
        );
    }
    // The logs did run at debug level (so the check above looked at real log output).
    let o = s.run_with(&["-vv", "account", "list"], &[("MAILSYNC_TEST_PW", SECRET)]);
    assert!(stderr(&o).contains("config loaded"), "{}", stderr(&o));
}

/// Every file under the scratch directory, relative, sorted.
fn tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(root).map(|r| r.display().to_string()).unwrap_or_default());
        }
    }
    out.sort();
    out
}

/// A hand-written `[accounts."../escaped"]` is refused at load like `account add` refuses the name (file,
/// line and key in the error), by every command, so no token file can be built from it: nothing is read or
/// written outside `tokens/`, here nothing at all.
#[test]
fn account_names_that_leave_the_token_directory_are_refused_at_load() {
    let s = Scratch::new();
    s.write(
        "# mine\n[accounts.\"../escaped\"]\npreset = \"outlook\"\nuser = \"u@example.com\"\nclient_id = \"app\"\n",
    );
    let db = s.dir.path().join("data/mail.db");
    let before = tree(s.dir.path());
    let db_arg = db.to_str().unwrap_or_default();
    for args in [
        &["account", "list"][..],
        &["account", "show", "../escaped"],
        &["auth", "login", "../escaped"],
        &["sync", "../escaped"],
        &["check", "../escaped"],
    ] {
        let mut full = vec!["--db", db_arg];
        full.extend_from_slice(args);
        let line = config_failure(&s.run(&full));
        assert_eq!(
            line,
            format!(
                "mailsync: {}:2:1: invalid account name \"../escaped\" in accounts.../escaped (use letters, \
                 digits, `-` and `_`)",
                s.config().display()
            ),
            "{args:?}"
        );
    }
    assert_eq!(tree(s.dir.path()), before, "nothing created: no token file, no tokens/, no database");
}

/// A login address with a newline is refused by `account add` (the file is not touched) and by a
/// hand-written file, so `account list` never prints one raw.
#[test]
fn a_user_with_a_newline_is_refused() {
    let s = Scratch::new();
    s.write("[accounts.a]\npreset = \"gmail\"\nuser = \"a@example.com\"\n");
    let o =
        s.run(&["account", "add", "b", "--preset", "gmail", "--user", "b@example.com\nmailsync: fake line"]);
    let line = config_failure(&o);
    assert!(line.contains("control character in") && line.contains("accounts.b.user"), "{line}");
    assert_eq!(
        std::fs::read_to_string(s.config()).unwrap_or_default(),
        "[accounts.a]\npreset = \"gmail\"\nuser = \"a@example.com\"\n"
    );
    s.write("[accounts.a]\npreset = \"gmail\"\nuser = \"a@example.com\\n\\u001b[2J\"\n");
    let line = config_failure(&s.run(&["account", "list"]));
    assert!(
        line.contains(":3:1: control character in \"a@example.com\\n\\u{1b}[2J\" in accounts.a.user"),
        "{line}"
    );
}
