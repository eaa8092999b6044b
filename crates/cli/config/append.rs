//! `mailsync account add`'s file side: appends a commented `[accounts.NAME]` entry to the accounts file,
//! creating the file (mode 0600) and its directory (mode 0700) when they do not exist.
//!
//! Owns the text of a new entry. Must never: rewrite or reorder what the user wrote (it only appends),
//! replace an existing account, write an entry that would not load (the whole file is validated with the
//! entry before a byte is written), or write a secret (only where one comes from). TOML v1.0.0 keys and
//! strings (bare keys only for account names; values as one-line basic strings, by toml_writer).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use super::merge::is_account_name;
use super::{paths, AuthMethod, Config, ConfigError, EffectiveAccount};
use crate::presets::Preset;

/// What `account add` was given.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// The `NAME` of `[accounts.NAME]`: letters, digits, `-` and `_`.
    pub name: &'a str,
    /// The preset to start from.
    pub preset: &'static Preset,
    /// The login address.
    pub user: &'a str,
    /// Authentication, when not the preset's default.
    pub auth: Option<AuthMethod>,
    /// The user's OAuth2 application (client) ID.
    pub client_id: Option<&'a str>,
    /// The OAuth2 tenant.
    pub tenant: Option<&'a str>,
    /// A command printing an access token.
    pub token_command: Option<&'a str>,
    /// A command printing the password.
    pub password_command: Option<&'a str>,
    /// A variable holding the password.
    pub password_env: Option<&'a str>,
}

/// Appends `new` to the file at `path` and returns the account as it now loads.
pub fn append_account(path: &Path, new: &NewAccount<'_>) -> Result<EffectiveAccount, ConfigError> {
    if !is_account_name(new.name) {
        return Err(ConfigError::BadAccountName { name: new.name.to_owned() });
    }
    let file = paths::display(path);
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(ConfigError::Read { file, source }),
    };
    let auth = new.auth.unwrap_or(new.preset.auth);
    if auth == AuthMethod::XOAuth2 && new.client_id.is_none() && new.token_command.is_none() {
        return Err(ConfigError::NeedsTokenSource { name: new.name.to_owned(), preset: new.preset.name });
    }
    let before = existing.as_deref().unwrap_or_default();
    let current = Config::parse(path, before)?;
    if current.accounts().iter().any(|a| a.name == new.name) {
        return Err(ConfigError::AccountExists { name: new.name.to_owned(), file });
    }

    let mut entry = String::new();
    if !before.is_empty() {
        if !before.ends_with('\n') {
            entry.push('\n');
        }
        entry.push('\n');
    }
    entry.push_str(&render(new));

    let after = Config::parse(path, &format!("{before}{entry}"))?;
    let account = after.account(new.name)?.clone();

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| ConfigError::Write { file: paths::display(dir), source })?;
    }
    let write_err = |source| ConfigError::Write { file: paths::display(path), source };
    let mut f = OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(write_err)?;
    f.write_all(entry.as_bytes()).map_err(write_err)?;
    f.sync_all().map_err(write_err)?;
    Ok(account)
}

/// A one-line TOML basic string holding `s`, escaped (a newline becomes `\n`), so that it is safe even
/// inside a comment.
fn quote(s: &str) -> String {
    use toml_writer::ToTomlValue;
    toml_writer::TomlStringBuilder::new(s).as_basic().to_toml_value()
}

/// `line` padded so that comments line up, then `# comment`.
fn commented(line: String, comment: &str) -> String {
    format!("{line:<38}  # {comment}\n")
}

fn render(new: &NewAccount<'_>) -> String {
    let p = new.preset;
    let name = new.name;
    let auth = new.auth.unwrap_or(p.auth);
    let mut s = String::new();
    s.push_str(&format!("# added by `mailsync account add {name}`; every setting below may be changed\n"));
    s.push_str(&format!("[accounts.{name}]\n"));
    s.push_str(&commented(
        format!("preset = {}", quote(p.name)),
        &format!(
            "IMAP {}:{}, POP3 {}:{}, SMTP {}:{}",
            p.imap.host, p.imap.port, p.pop3.host, p.pop3.port, p.smtp.host, p.smtp.port
        ),
    ));
    s.push_str(&format!("user = {}\n", quote(new.user)));
    s.push_str(&commented(format!("auth = {}", quote(auth.as_str())), "\"password\" | \"xoauth2\""));

    // Everything given on the command line is written, whatever `auth` is (the whole entry is validated
    // before writing); examples are offered for what fits `auth`.
    let oauth = auth == AuthMethod::XOAuth2;
    let token_example = format!("oama access {}", new.user);
    let password_example = format!("pass show mail/{name}");
    let options: [(&str, Option<&str>, bool, &str, &str); 5] = [
        (
            "client_id",
            new.client_id,
            oauth,
            "YOUR-APP-ID",
            "your registered application ID, for `mailsync auth login`",
        ),
        ("tenant", new.tenant, oauth, "common", "or \"consumers\", \"organizations\", a tenant ID"),
        (
            "token_command",
            new.token_command,
            oauth,
            &token_example,
            "or: an external OAuth2 access-token helper",
        ),
        (
            "password_command",
            new.password_command,
            !oauth && new.password_env.is_none(),
            &password_example,
            "or: password_env = \"MAILSYNC_PASSWORD\"",
        ),
        ("password_env", new.password_env, false, "", "variable holding the password"),
    ];
    for (key, value, offer_example, example, comment) in options {
        match value {
            Some(v) => s.push_str(&commented(format!("{key} = {}", quote(v)), comment)),
            None if offer_example => s.push_str(&commented(format!("# {key} = {}", quote(example)), comment)),
            None => {}
        }
    }
    s.push_str(&commented(
        "# ca_file = \"/path/to/ca.pem\"".to_owned(),
        "extra trusted CA, for private servers",
    ));
    s.push('\n');
    s.push_str(&commented(format!("# [accounts.{name}.imap]"), "optional overrides of the preset"));
    s.push_str(&format!("# host = {}\n# port = {}\n", quote(p.imap.host), p.imap.port));
    s.push_str(&commented(
        format!("# security = {}", quote(p.imap.security.as_str())),
        "\"tls\" | \"starttls\" | \"plain\" (needs allow_plaintext = true)",
    ));
    s.push_str(&commented(
        "# exclude = [\"Archive*\"]".to_owned(),
        "folder patterns; include = [\"*\"] by default",
    ));
    s.push('\n');
    s.push_str(&format!("# [accounts.{name}.pop3]\n"));
    s.push_str(&commented(
        format!("# leave_on_server = {}", p.leave_on_server),
        "false = delete from the server after a durable local copy",
    ));
    s.push_str(&commented("# delete_after_days = 14".to_owned(), "with leave_on_server = true"));
    s
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::presets;

    fn new_account<'a>(name: &'a str, preset: &str, user: &'a str) -> NewAccount<'a> {
        let Some(preset) = presets::find(preset) else { panic!("no preset {preset}") };
        NewAccount {
            name,
            preset,
            user,
            auth: None,
            client_id: None,
            tenant: None,
            token_command: None,
            password_command: None,
            password_env: None,
        }
    }

    #[test]
    fn creates_the_file_0600_and_the_directory_then_appends() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("sub").join("config.toml");
        let mut work = new_account("work", "outlook", "me@outlook.com");
        work.client_id = Some("app-id");
        let a = append_account(&path, &work);
        assert_eq!(a.as_ref().map(|a| a.user.as_str()).ok(), Some("me@outlook.com"));
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode, Some(0o600));
        let dir_mode = std::fs::metadata(dir.path().join("sub")).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(dir_mode, Some(0o700));

        let home = new_account("home", "gmail", "u@gmail.com");
        assert!(append_account(&path, &home).is_ok());
        let c = Config::load(&path);
        let names: Vec<String> =
            c.map(|c| c.accounts().iter().map(|a| a.name.clone()).collect()).unwrap_or_default();
        assert_eq!(names, ["home", "work"]);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.starts_with("# added by `mailsync account add work`"), "{text}");
        assert!(text.contains("client_id = \"app-id\""), "{text}");
        assert!(text.contains("\n\n# added by `mailsync account add home`"), "{text}");
    }

    #[test]
    fn refuses_an_existing_name_and_leaves_the_file_alone() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("config.toml");
        let original = "[accounts.home]\npreset = \"gmail\"\nuser = \"a\"\n";
        assert!(std::fs::write(&path, original).is_ok());
        let e = append_account(&path, &new_account("home", "gmail", "b")).map_err(|e| e.to_string());
        let expected =
            format!("account `home` already exists in {}; edit the file to change it", path.display());
        assert_eq!(e.err(), Some(expected));
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some(original));
    }

    #[test]
    fn refuses_an_entry_that_would_not_load() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("config.toml");
        // Outlook needs OAuth2, which needs a client_id or a token_command.
        let e = append_account(&path, &new_account("work", "outlook", "me@outlook.com"))
            .map_err(|e| e.to_string());
        assert_eq!(
            e.err().as_deref(),
            Some(
                "account `work` would use OAuth2 (preset outlook): pass --client-id ID (your registered \
                 application) for `mailsync auth login`, or --token-command CMD, or --auth password"
            )
        );
        assert!(!path.exists());
        // Any other rule of the file applies too, before anything is written.
        let mut bad = new_account("work", "gmail", "u");
        bad.token_command = Some("t");
        let e = append_account(&path, &bad).map_err(|e| e.to_string());
        assert!(e.err().unwrap_or_default().contains("token_command with password authentication"));
        assert!(!path.exists());
        let e = append_account(&path, &new_account("my work", "gmail", "u")).map_err(|e| e.to_string());
        assert_eq!(
            e.err().as_deref(),
            Some("invalid account name `my work`: use letters, digits, `-` and `_`")
        );
    }

    #[test]
    fn values_are_escaped_and_a_user_on_two_lines_is_refused() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("config.toml");
        let mut a = new_account("x", "gmail", "odd\"user # [accounts.evil]");
        a.password_command = Some("pass show 'a b'");
        let loaded = append_account(&path, &a);
        let Ok(loaded) = loaded else { panic!("{loaded:?}") };
        assert_eq!(loaded.user, "odd\"user # [accounts.evil]");
        assert_eq!(loaded.password, super::super::PasswordSource::Command("pass show 'a b'".into()));
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        // A newline in the address would be printed raw by `account list` and sent in a LOGIN line: refused,
        // by the same validation a hand-written file goes through, before a byte is written.
        let mut b = new_account("y", "outlook", "two\nlines\n[accounts.evil]\nuser = 1");
        b.client_id = Some("id");
        let e = append_account(&path, &b).map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.contains("control character in") && e.contains("accounts.y.user"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), before);
    }
}
