//! The accounts file (CLI.md "Config file"): loading it, turning every `[accounts.NAME]` into an
//! [`EffectiveAccount`], and looking accounts up by name.
//!
//! Owns reading the file and the wording of its errors: each one names the file, the line and column and
//! the dotted key, on one line, e.g. `~/.config/mailsync/config.toml:7:1: unknown field `pasword_env` in
//! accounts.work (expected one of ...)`. Must never: read a secret (the file only says where secrets come
//! from), write the file (that is `append`), or accept a file with an unknown key (a typo must not be
//! ignored silently). TOML v1.0.0 as parsed by the `toml` crate.

mod append;
pub mod effective;
mod error;
mod locate;
mod merge;
pub mod paths;
mod schema;

use std::path::{Path, PathBuf};

pub use append::{append_account, NewAccount};
pub use effective::{AuthMethod, EffectiveAccount, EffectiveEndpoint, PasswordSource};
pub use error::ConfigError;
pub use schema::WatchVia;

use locate::{position, Spans};
use merge::Problem;
use schema::ConfigFile;

/// A loaded and validated accounts file.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    exists: bool,
    accounts: Vec<EffectiveAccount>,
}

impl Config {
    /// Reads and validates the file at `path`. A missing file is an empty configuration (commands that
    /// need an account then say how to create one).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config { path: path.to_path_buf(), exists: false, accounts: Vec::new() })
            }
            Err(source) => Err(ConfigError::Read { file: paths::display(path), source }),
        }
    }

    /// Validates `text` as the content of `path` (which only names the file in messages).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let file = parse_file(path, text)?;
        let accounts = file
            .accounts
            .iter()
            .map(|(name, cfg)| merge::account(name, cfg))
            .collect::<Result<Vec<_>, Problem>>()
            .map_err(|p| problem_error(path, text, &p))?;
        Ok(Config { path: path.to_path_buf(), exists: true, accounts })
    }

    /// The file this configuration came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every account, sorted by name.
    pub fn accounts(&self) -> &[EffectiveAccount] {
        &self.accounts
    }

    /// The account called `name`.
    pub fn account(&self, name: &str) -> Result<&EffectiveAccount, ConfigError> {
        let file = paths::display(&self.path);
        if !self.exists {
            return Err(ConfigError::Missing { file });
        }
        self.accounts.iter().find(|a| a.name == name).ok_or_else(|| ConfigError::UnknownAccount {
            name: name.to_owned(),
            file,
            known: self.known_names(),
        })
    }

    /// The accounts called `names`, in that order; every account when `names` is empty. Fails when a
    /// name is unknown or there is no account at all.
    pub fn select(&self, names: &[String]) -> Result<Vec<&EffectiveAccount>, ConfigError> {
        if names.is_empty() {
            if !self.exists {
                return Err(ConfigError::Missing { file: paths::display(&self.path) });
            }
            if self.accounts.is_empty() {
                return Err(ConfigError::NoAccounts { file: paths::display(&self.path) });
            }
            return Ok(self.accounts.iter().collect());
        }
        names.iter().map(|n| self.account(n)).collect()
    }

    fn known_names(&self) -> String {
        if self.accounts.is_empty() {
            return "none".to_owned();
        }
        self.accounts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Deserializes the schema, turning a TOML or schema error into FILE:LINE:COL: message in KEY.
fn parse_file(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    toml::from_str::<ConfigFile>(text).map_err(|e| {
        let file = paths::display(path);
        let raw = one_line(e.message());
        let Some(span) = e.span() else { return ConfigError::InFile { file, message: raw } };
        let mut key = Spans::parse(text).and_then(|s| s.key_at(span.start)).unwrap_or_default();
        // serde names the unknown key itself; the key path says which table it is not allowed in.
        if raw.starts_with("unknown field") {
            key.pop();
        }
        let (what, expected) = match raw.split_once(", expected ") {
            Some((what, expected)) => (what.to_owned(), expected.to_owned()),
            None => (raw.clone(), String::new()),
        };
        let problem = Problem {
            path: key,
            message: what,
            hint: if expected.is_empty() { expected } else { format!("expected {expected}") },
        };
        let pos = position(text, span.start);
        ConfigError::At { file, line: pos.line, column: pos.column, message: problem.describe() }
    })
}

/// Locates a validation problem by its key.
fn problem_error(path: &Path, text: &str, problem: &Problem) -> ConfigError {
    let file = paths::display(path);
    let keys: Vec<&str> = problem.path.iter().map(String::as_str).collect();
    match Spans::parse(text).and_then(|s| s.offset_of(&keys)) {
        Some(offset) => {
            let pos = position(text, offset);
            ConfigError::At { file, line: pos.line, column: pos.column, message: problem.describe() }
        }
        None => ConfigError::InFile { file, message: problem.describe() },
    }
}

/// Error messages are printed on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A config-file-shaped text: table headers and keys of the schema with values of any type, names and
    /// strings with control characters, path parts and quotes, and some lines of junk.
    fn config_text() -> impl Strategy<Value = String> {
        let name = prop::sample::select(vec!["w", "../../etc/x", "a b", "\\u0007", "me@x.com", "INBOX", ""]);
        let table = (name, prop::sample::select(vec!["", ".imap", ".pop3", ".smtp", ".imapp"]))
            .prop_map(|(n, t)| format!("[accounts.\"{n}\"{t}]"));
        let key = prop::sample::select(vec![
            "preset",
            "user",
            "auth",
            "password_command",
            "password_env",
            "token_command",
            "command_timeout",
            "ca_file",
            "client_id",
            "tenant",
            "scopes",
            "authority",
            "host",
            "port",
            "security",
            "timeout",
            "include",
            "exclude",
            "leave_on_server",
            "delete_after_days",
            "allow_plaintext",
            "apop",
            "watch",
            "sweep_minutes",
            "poll_minutes",
            "watch_via",
            "bogus",
        ]);
        let value = prop_oneof![
            "[ -~]{0,12}".prop_map(|s| format!("{:?}", s)),
            prop::sample::select(vec![
                "\"a\\nb\"",
                "\"\\u001b[2J\"",
                "\"outlook\"",
                "\"xoauth2\"",
                "\"tls\""
            ])
            .prop_map(str::to_owned),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            prop::collection::vec("[a-z*]{0,4}", 0..3).prop_map(|v| format!("{v:?}")),
        ];
        let line = prop_oneof![
            4 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
            2 => table,
            1 => "[ -~]{0,20}",
        ];
        prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        /// Whatever a config file holds, loading it never panics, and a refusal is one line naming the file.
        #[test]
        fn any_config_text_loads_or_is_refused_in_one_line(text in config_text()) {
            if let Err(e) = Config::parse(Path::new("/cfg/config.toml"), &text) {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("/cfg/config.toml"), "{msg}");
                prop_assert!(!msg.contains('\n'), "{msg}");
            }
        }
    }

    fn error(text: &str) -> String {
        match Config::parse(Path::new("/cfg/config.toml"), text) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_key_names_file_line_and_table() {
        let text = "[accounts.work]\npreset = \"gmail\"\nuser = \"u\"\npasword_env = \"X\"\n";
        let e = error(text);
        assert!(
            e.starts_with("/cfg/config.toml:4:1: unknown field `pasword_env` in accounts.work (expected one of `preset`,"),
            "{e}"
        );
    }

    #[test]
    fn unknown_table_names_the_parent() {
        let e = error("[accounts.work]\npreset = \"gmail\"\nuser = \"u\"\n[accounts.work.imapp]\nport = 1\n");
        assert!(e.starts_with("/cfg/config.toml:4:"), "{e}");
        assert!(e.contains("unknown field `imapp` in accounts.work"), "{e}");
    }

    #[test]
    fn bad_enum_value_names_the_key() {
        let e = error(
            "[accounts.work]\npreset = \"gmail\"\nuser = \"u\"\n\n[accounts.work.imap]\nsecurity = \"ssl\"\n",
        );
        assert!(e.starts_with("/cfg/config.toml:6:12: unknown variant `ssl` in accounts.work.imap.security (expected one of `tls`, `starttls`, `plain`)"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = error(
            "[accounts.work]\npreset = \"gmail\"\nuser = \"u\"\n[accounts.work.imap]\nport = \"993\"\n",
        );
        assert!(e.starts_with("/cfg/config.toml:5:8: invalid type: string \"993\" in accounts.work.imap.port (expected i64)"), "{e}");
    }

    #[test]
    fn validation_problems_point_at_the_key() {
        let e =
            error("[accounts.work]\npreset = \"gmail\"\nuser = \"u\"\n\n[accounts.work.imap]\nport = 0\n");
        assert_eq!(
            e,
            "/cfg/config.toml:6:1: invalid port 0 in accounts.work.imap.port (expected 1 to 65535)"
        );
        let e = error("# mail\n[accounts.home]\nuser = \"u\"\n");
        assert!(
            e.starts_with("/cfg/config.toml:2:1: no preset and no [imap] or [pop3] table in accounts.home"),
            "{e}"
        );
    }

    #[test]
    fn account_names_follow_the_account_add_rule_at_load() {
        let e = error("# mine\n[accounts.\"../../../../etc/x\"]\npreset = \"gmail\"\nuser = \"u\"\n");
        assert_eq!(
            e,
            "/cfg/config.toml:2:1: invalid account name \"../../../../etc/x\" in accounts.../../../../etc/x \
             (use letters, digits, `-` and `_`)"
        );
        for bad in ["a b", "a.b", "", "x/y", "é"] {
            let e = error(&format!("[accounts.\"{bad}\"]\npreset = \"gmail\"\nuser = \"u\"\n"));
            assert!(e.contains("invalid account name"), "{bad:?}: {e}");
        }
        let e = error("[accounts.w]\npreset = \"gmail\"\nuser = \"a\\nb\"\n");
        assert!(
            e.starts_with("/cfg/config.toml:3:1: control character in \"a\\nb\" in accounts.w.user"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = error("[accounts.work\nuser = \"u\"\n");
        assert!(e.starts_with("/cfg/config.toml:1:"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn lookups_name_what_exists() {
        let text = "[accounts.b]\npreset = \"gmail\"\nuser = \"b\"\n[accounts.a]\npreset = \"gmail\"\nuser = \"a\"\n";
        let c = Config::parse(Path::new("/cfg/config.toml"), text);
        let Ok(c) = c else { panic!("{c:?}") };
        let names: Vec<&str> = c.accounts().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(c.account("b").map(|a| a.user.as_str()).ok(), Some("b"));
        assert_eq!(
            c.account("x").map_err(|e| e.to_string()).err().as_deref(),
            Some("no account named `x` in /cfg/config.toml (configured: a, b)")
        );
        let picked: Vec<&str> =
            c.select(&["b".into()]).unwrap_or_default().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(picked, ["b"]);
        assert_eq!(c.select(&[]).map(|v| v.len()).ok(), Some(2));
    }

    #[test]
    fn a_missing_file_is_empty_but_lookups_say_how_to_create_it() {
        let dir = std::env::temp_dir().join("mailsync-config-test-missing-does-not-exist");
        let c = Config::load(&dir.join("config.toml"));
        let Ok(c) = c else { panic!("{c:?}") };
        assert!(c.accounts().is_empty());
        let e = c.account("work").map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.starts_with("no config file at "), "{e}");
        assert!(e.contains("mailsync account add"), "{e}");
        assert!(c.select(&[]).is_err());
    }

    #[test]
    fn an_empty_file_has_no_accounts() {
        let c = Config::parse(Path::new("/cfg/config.toml"), "# nothing yet\n");
        let Ok(c) = c else { panic!("{c:?}") };
        assert!(c.accounts().is_empty());
        assert_eq!(
            c.select(&[]).map_err(|e| e.to_string()).err().as_deref(),
            Some("no accounts in /cfg/config.toml (add one with `mailsync account add NAME --preset P --user ADDR`)")
        );
    }
}
