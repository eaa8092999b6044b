//! Credentials at the moment a command needs them: the password from `password_command`, `password_env`
//! or a no-echo terminal prompt, and the OAuth2 access token from `token_command` or, without one, from the
//! sign-in that `mailsync auth login` stored (refreshed when it is about to expire).
//!
//! Owns fetching secrets and nothing else. Must never: take a secret from the command line (argv is
//! visible to every user of the machine), log or print one (values travel as `Secret<String>`, whose
//! `Debug` and `Display` are redacted), or put a command's stdout into an error message (stdout is the
//! secret; only its stderr is shown). No RFC: the shapes follow common mail clients (`passwordeval`).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mailsync_proto::Secret;

use crate::config::{paths, EffectiveAccount, PasswordSource};
use crate::oauth::{self, OAuthError};

/// Where this run keeps OAuth2 tokens: `tokens/` beside the database (set once from `--db` by `main`).
static TOKEN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// How long one request to the identity platform may take.
const OAUTH_TIMEOUT: Duration = Duration::from_secs(30);

/// Sets the token directory for this run (the first call wins).
pub fn set_token_dir(dir: PathBuf) {
    let _ = TOKEN_DIR.set(dir);
}

/// The token directory: as set by `main`, else beside the default database.
pub fn token_dir() -> PathBuf {
    match TOKEN_DIR.get() {
        Some(d) => d.clone(),
        None => {
            paths::default_db().map(|db| oauth::store::dir_for_db(&db)).unwrap_or_else(|_| "tokens".into())
        }
    }
}

/// The most of a failed command's stderr an error message quotes.
const STDERR_LIMIT: usize = 400;

/// Why a secret could not be had. All of these are configuration problems (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The command could not be started at all.
    #[error("cannot run {key} of account {account} (`{command}`): {source}")]
    Spawn { key: &'static str, account: String, command: String, source: std::io::Error },
    /// The command ran and failed. `stderr` is its standard error, trimmed to one line.
    #[error("{key} of account {account} (`{command}`) failed with {status}{stderr}")]
    Failed { key: &'static str, account: String, command: String, status: String, stderr: String },
    /// The command succeeded but its first line is empty.
    #[error("{key} of account {account} (`{command}`) printed nothing on its first line")]
    Empty { key: &'static str, account: String, command: String },
    /// The command ran longer than `command_timeout` allows; it was stopped.
    #[error(
        "{key} of account {account} (`{command}`) did not finish within {secs} s and was stopped; \
         raise command_timeout in [accounts.{account}] if it needs longer"
    )]
    TimedOut { key: &'static str, account: String, command: String, secs: u64 },
    /// Ctrl-C (or SIGTERM) while the command ran; it was stopped.
    #[error("interrupted while {key} of account {account} ran; it was stopped")]
    Interrupted { key: &'static str, account: String },
    /// The command printed something that is not UTF-8.
    #[error("{key} of account {account} (`{command}`) printed something that is not UTF-8")]
    NotUtf8 { key: &'static str, account: String, command: String },
    /// `password_env` names a variable that is not set (or is empty, or not Unicode).
    #[error("environment variable {var} (password_env of account {account}) is {problem}")]
    Env { var: String, account: String, problem: &'static str },
    /// No source is configured and there is no terminal to ask on.
    #[error(
        "no password for account {account}: stdin is not a terminal to ask on; add password_command = \
         \"...\" or password_env = \"VAR\" to [accounts.{account}]"
    )]
    NoSource { account: String },
    /// The terminal prompt failed.
    #[error("cannot read the password of account {account} from the terminal: {source}")]
    Prompt { account: String, source: std::io::Error },
    /// A token is needed and neither `token_command` nor `client_id` is set.
    #[error(
        "account {account} has no token_command: run `mailsync auth login {account}`, or add \
         token_command = \"...\" to [accounts.{account}]"
    )]
    NoTokenCommand { account: String },
    /// The stored OAuth2 sign-in could not give a token (never signed in, refused refresh, network...).
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

impl SecretError {
    /// The exit code (CLI.md): configuration problems are 1; an OAuth2 failure has its own.
    pub fn exit_code(&self) -> u8 {
        match self {
            SecretError::OAuth(e) => e.exit_code(),
            SecretError::Interrupted { .. } => crate::exit::INTERRUPTED,
            _ => crate::exit::USAGE,
        }
    }
}

/// The account's password, from its configured source.
pub fn password(account: &EffectiveAccount) -> Result<Secret<String>, SecretError> {
    match &account.password {
        PasswordSource::Command(command) => {
            tracing::debug!(account = %account.name, "reading the password from password_command");
            run_secret_command("password_command", &account.name, command, account.command_timeout)
        }
        PasswordSource::Env(var) => {
            tracing::debug!(account = %account.name, %var, "reading the password from the environment");
            from_env(&account.name, var)
        }
        PasswordSource::Prompt => {
            if !std::io::stdin().is_terminal() {
                return Err(SecretError::NoSource { account: account.name.clone() });
            }
            let prompt = format!("password for {} (account {}): ", account.user, account.name);
            rpassword::prompt_password(prompt)
                .map(Secret::new)
                .map_err(|source| SecretError::Prompt { account: account.name.clone(), source })
        }
    }
}

/// A fresh OAuth2 access token: from the account's `token_command`, else from its stored sign-in (see
/// `oauth::refresh`), which fails with "run `mailsync auth login NAME`" when there is none.
pub fn access_token(account: &EffectiveAccount) -> Result<Secret<String>, SecretError> {
    access_token_in(account, &token_dir())
}

/// [`access_token`] with the token directory given.
pub fn access_token_in(
    account: &EffectiveAccount,
    dir: &std::path::Path,
) -> Result<Secret<String>, SecretError> {
    if let Some(command) = &account.token_command {
        tracing::debug!(account = %account.name, "reading an access token from token_command");
        return run_secret_command("token_command", &account.name, command, account.command_timeout);
    }
    if account.client_id.is_none() {
        return Err(SecretError::NoTokenCommand { account: account.name.clone() });
    }
    tracing::debug!(account = %account.name, "reading the access token stored by `mailsync auth login`");
    let http = oauth::http::Http::new(OAUTH_TIMEOUT);
    Ok(oauth::refresh::access_token(account, dir, &http)?)
}

fn from_env(account: &str, var: &str) -> Result<Secret<String>, SecretError> {
    let problem = match std::env::var(var) {
        Ok(v) if !v.is_empty() => return Ok(Secret::new(v)),
        Ok(_) => "empty",
        Err(std::env::VarError::NotPresent) => "not set",
        Err(std::env::VarError::NotUnicode(_)) => "not valid Unicode",
    };
    Err(SecretError::Env { var: var.to_owned(), account: account.to_owned(), problem })
}

/// Runs `sh -c command` and returns the first line of its stdout. The terminal stays its stdin (and the
/// command stays in mailsync's process group) so a pinentry or a prompt of its own can work. It may run for
/// `limit`; past that, or on Ctrl-C (SIGINT, which a terminal sends to the whole foreground group, the command
/// included) or SIGTERM, it is killed and mailsync stops at once.
fn run_secret_command(
    key: &'static str,
    account: &str,
    command: &str,
    limit: Duration,
) -> Result<Secret<String>, SecretError> {
    let _watch = crate::signals::Watch::new();
    let spawn_err =
        |source| SecretError::Spawn { key, account: account.to_owned(), command: command.to_owned(), source };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    // Read both pipes while waiting: a command that writes much cannot block on a full pipe.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        let exited = child.try_wait().map_err(spawn_err)?;
        if crate::signals::interrupted() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SecretError::Interrupted { key, account: account.to_owned() });
        }
        if let Some(status) = exited {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SecretError::TimedOut {
                key,
                account: account.to_owned(),
                command: command.to_owned(),
                secs: limit.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let stderr = one_line(&String::from_utf8_lossy(&stderr));
        let stderr = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
        let status = match status.code() {
            Some(code) => format!("exit code {code}"),
            None => "a signal".to_owned(),
        };
        return Err(SecretError::Failed {
            key,
            account: account.to_owned(),
            command: command.to_owned(),
            status,
            stderr,
        });
    }
    let stdout = String::from_utf8(stdout).map_err(|_| SecretError::NotUtf8 {
        key,
        account: account.to_owned(),
        command: command.to_owned(),
    })?;
    let first = stdout.lines().next().unwrap_or_default();
    if first.is_empty() {
        return Err(SecretError::Empty { key, account: account.to_owned(), command: command.to_owned() });
    }
    Ok(Secret::new(first.to_owned()))
}

/// Whitespace runs folded to one space, cut at `STDERR_LIMIT` characters.
fn one_line(s: &str) -> String {
    let folded = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(STDERR_LIMIT) {
        Some((cut, _)) => format!("{}...", folded.get(..cut).unwrap_or_default()),
        None => folded,
    }
}

#[cfg(test)]
mod tests {
    use mailsync_engine::Security;

    use super::*;
    use crate::config::effective::{ImapOptions, Pop3Options};
    use crate::config::{AuthMethod, EffectiveEndpoint};

    fn account(password: PasswordSource, token_command: Option<&str>) -> EffectiveAccount {
        EffectiveAccount {
            name: "work".into(),
            user: "me@example.com".into(),
            preset: None,
            auth: AuthMethod::Password,
            password,
            token_command: token_command.map(str::to_owned),
            command_timeout: crate::config::effective::DEFAULT_COMMAND_TIMEOUT,
            reconnect_attempts: 5,
            watch_via: None,
            client_id: None,
            tenant: "common".into(),
            scopes: oauth::scopes(None).unwrap_or_default(),
            authority: oauth::DEFAULT_AUTHORITY.into(),
            imap: Some(EffectiveEndpoint {
                host: "h".into(),
                port: 993,
                security: Security::Tls,
                ca_file: None,
                allow_plaintext: false,
                timeout: None,
            }),
            pop3: None,
            smtp: None,
            imap_options: ImapOptions::default(),
            pop3_options: Pop3Options {
                leave_on_server: true,
                delete_after_days: None,
                apop: false,
                poll: std::time::Duration::from_secs(300),
            },
        }
    }

    fn cmd(c: &str) -> EffectiveAccount {
        account(PasswordSource::Command(c.into()), None)
    }

    #[test]
    fn command_gives_its_first_line_exactly() {
        let s = password(&cmd("printf ' pa ss \\nsecond line\\n'"));
        assert_eq!(s.as_ref().map(|s| s.expose().as_str()).ok(), Some(" pa ss "));
        let s = password(&cmd("printf 'crlf\\r\\n'"));
        assert_eq!(s.as_ref().map(|s| s.expose().as_str()).ok(), Some("crlf"));
        let s = password(&cmd("printf 'no-newline'"));
        assert_eq!(s.map(|s| s.expose().clone()).ok().as_deref(), Some("no-newline"));
    }

    #[test]
    fn a_failing_command_shows_stderr_never_stdout() {
        // stdout is "hunter2", spelled in octal so that the command text (which the error quotes) does
        // not contain it.
        let e = password(&cmd(
            "printf '\\150\\165\\156\\164\\145\\162\\062\\n'; echo 'gpg: decryption failed' >&2; exit 3",
        ));
        let e = e.map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.contains("exit code 3: gpg: decryption failed"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let ok = password(&cmd("printf '\\150\\165\\156\\164\\145\\162\\062\\n'"));
        assert_eq!(ok.map(|s| s.expose().clone()).ok().as_deref(), Some("hunter2"));
    }

    #[test]
    fn empty_and_non_utf8_output_are_errors() {
        let e = password(&cmd("true")).map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.ends_with("printed nothing on its first line"), "{e}");
        let e = password(&cmd("printf '\\377\\n'")).map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.ends_with("printed something that is not UTF-8"), "{e}");
    }

    #[test]
    fn env_must_exist_and_be_non_empty() {
        // Variables private to this test; other tests use other names.
        std::env::set_var("MAILSYNC_SECRETS_TEST_SET", "s3cret");
        std::env::set_var("MAILSYNC_SECRETS_TEST_EMPTY", "");
        let get =
            |v: &str| password(&account(PasswordSource::Env(v.into()), None)).map_err(|e| e.to_string());
        assert_eq!(get("MAILSYNC_SECRETS_TEST_SET").map(|s| s.expose().clone()), Ok("s3cret".to_owned()));
        assert_eq!(
            get("MAILSYNC_SECRETS_TEST_EMPTY").err().as_deref(),
            Some("environment variable MAILSYNC_SECRETS_TEST_EMPTY (password_env of account work) is empty")
        );
        assert_eq!(
            get("MAILSYNC_SECRETS_TEST_UNSET").err().as_deref(),
            Some(
                "environment variable MAILSYNC_SECRETS_TEST_UNSET (password_env of account work) is not set"
            )
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = password(&cmd("echo topsecret"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn token_command_or_a_hint() {
        let t = access_token(&account(PasswordSource::Prompt, Some("echo tok.en")));
        assert_eq!(t.map(|t| t.expose().clone()).ok().as_deref(), Some("tok.en"));
        let e = access_token(&account(PasswordSource::Prompt, None)).map_err(|e| e.to_string());
        assert_eq!(
            e.err().as_deref(),
            Some("account work has no token_command: run `mailsync auth login work`, or add token_command = \"...\" to [accounts.work]")
        );
    }

    #[test]
    fn without_token_command_the_stored_sign_in_is_used_or_asked_for() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut a = account(PasswordSource::Prompt, None);
        a.client_id = Some("app".into());
        let e = access_token_in(&a, tmp.path()).map_err(|e| (e.exit_code(), e.to_string()));
        let (code, text) = e.err().unwrap_or_default();
        assert_eq!(code, 1);
        assert!(text.starts_with("account work has no stored OAuth2 sign-in ("), "{text}");
        assert!(text.ends_with("): run `mailsync auth login work`"), "{text}");
        // A fresh cached token is used without asking anyone.
        let stored = oauth::store::StoredTokens {
            version: oauth::store::VERSION,
            account: "work".into(),
            client_id: "app".into(),
            tenant: "common".into(),
            authority: oauth::DEFAULT_AUTHORITY.into(),
            scopes: a.scopes.clone(),
            refresh_token: "r".into(),
            access_token: Some("cached-access".into()),
            expires_at: Some(oauth::refresh::unix_now() + 3000),
        };
        let p = oauth::store::path(tmp.path(), "work").unwrap_or_else(|e| panic!("{e}"));
        oauth::store::save(&p, &stored).unwrap_or_else(|e| panic!("{e}"));
        let t = access_token_in(&a, tmp.path()).map(|t| t.expose().clone());
        assert_eq!(t.ok().as_deref(), Some("cached-access"));
        // Another application's sign-in is not used.
        a.client_id = Some("other-app".into());
        let e = access_token_in(&a, tmp.path()).map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.contains("made with another client_id: run `mailsync auth login work` again"), "{e}");
    }

    #[test]
    fn long_stderr_is_cut() {
        let long = "x ".repeat(1000);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), STDERR_LIMIT + 3);
        assert!(cut.ends_with("..."));
    }
}
