//! Preset + overrides -> effective account, with validation.
//!
//! Owns the precedence rules: a field set in `[accounts.NAME.PROTO]` wins over the account's, which wins
//! over the preset's, which wins over the built-in default. Changing `security` without `port` picks the
//! standard port of the new security (RFC 8314 section 3.3: IMAP 993/143, POP3 995/110; RFC 6409 section
//! 3.1: submission 587, RFC 8314 section 3.3: 465). Owns the validation rules too: every rejection names the
//! dotted key it is about and says what to write instead; among them the account name rule
//! ([`is_account_name`], shared with `account add`) and one-line names, addresses and hosts. Must never: read a file, an environment variable
//! or a secret (`secrets` does that when a command runs), or accept a setting that would send mail or a
//! password unencrypted without `allow_plaintext = true`.

use std::path::PathBuf;

use mailsync_engine::Security;

use super::effective::{
    AuthMethod, EffectiveAccount, EffectiveEndpoint, ImapOptions, PasswordSource, Pop3Options,
};
use super::paths::expand_tilde;
use super::schema::{AccountConfig, EndpointOverride, SecurityName};
use crate::oauth;
use crate::presets::{self, Preset, PresetEndpoint};

/// A rejected setting: the dotted key it is about, what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `["accounts", "work", "imap", "port"]`.
    pub path: Vec<String>,
    /// What is wrong, without the key.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

impl Problem {
    fn new(path: &[&str], message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// `message in accounts.work.imap.port (hint)`.
    pub fn describe(&self) -> String {
        let mut s = self.message.clone();
        if !self.path.is_empty() {
            s.push_str(" in ");
            s.push_str(&self.path.join("."));
        }
        if !self.hint.is_empty() {
            s.push_str(" (");
            s.push_str(&self.hint);
            s.push(')');
        }
        s
    }
}

/// The three protocols an account can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Imap,
    Pop3,
    Smtp,
}

impl Protocol {
    fn table(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
        }
    }

    fn default_port(self, security: Security) -> u16 {
        match (self, security) {
            (Protocol::Imap, Security::Tls) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, Security::Tls) => 995,
            (Protocol::Pop3, _) => 110,
            (Protocol::Smtp, Security::Tls) => 465,
            (Protocol::Smtp, Security::StartTls) => 587,
            (Protocol::Smtp, Security::Plain) => 25,
        }
    }
}

fn security(name: SecurityName) -> Security {
    match name {
        SecurityName::Tls => Security::Tls,
        SecurityName::Starttls => Security::StartTls,
        SecurityName::Plain => Security::Plain,
    }
}

/// A string setting that, when present, must not be blank.
fn non_blank(value: &Option<String>, path: &[&str], what: &str) -> Result<Option<String>, Problem> {
    match value {
        Some(v) if v.trim().is_empty() => {
            Err(Problem::new(path, "empty value", format!("set {what} or remove the line")))
        }
        other => Ok(other.clone()),
    }
}

/// A name-like setting (an address, a host, a variable, an ID) that, when present, must not be blank nor hold
/// a control character: it is shown on terminals and sent to servers, where a newline would start a line of
/// its own.
fn one_line(value: &Option<String>, path: &[&str], what: &str) -> Result<Option<String>, Problem> {
    let value = non_blank(value, path, what)?;
    match &value {
        Some(v) if v.chars().any(char::is_control) => Err(Problem::new(
            path,
            format!("control character in {v:?}"),
            format!("write {what} on one line, without control characters"),
        )),
        _ => Ok(value),
    }
}

/// Whether `name` may name an account: letters, digits, `-` and `_` (a bare TOML key, TOML v1.0.0 "Keys").
/// The name becomes a file name (the token file `tokens/NAME.json`) and appears in messages, so the same rule
/// holds for `account add` and for a hand-written file.
pub fn is_account_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Merges and validates `[accounts.NAME]`.
pub fn account(name: &str, cfg: &AccountConfig) -> Result<EffectiveAccount, Problem> {
    let base = ["accounts", name];
    let key = |k: &'static str| [base[0], base[1], k];
    if !is_account_name(name) {
        return Err(Problem::new(
            &base,
            format!("invalid account name {name:?}"),
            "use letters, digits, `-` and `_`",
        ));
    }

    let preset: Option<&'static Preset> = match &cfg.preset {
        Some(p) => Some(presets::find(p).ok_or_else(|| {
            Problem::new(
                &key("preset"),
                format!("unknown preset `{p}`"),
                format!("expected one of {}", presets::names()),
            )
        })?),
        None => None,
    };

    let user = match one_line(&cfg.user, &key("user"), "the login address")? {
        Some(u) => u,
        None => return Err(Problem::new(&base, "no user", "add user = \"you@example.com\"")),
    };

    let password_command = non_blank(&cfg.password_command, &key("password_command"), "a command")?;
    let password_env = one_line(&cfg.password_env, &key("password_env"), "a variable name")?;
    let token_command = non_blank(&cfg.token_command, &key("token_command"), "a command")?;
    let command_timeout = match cfg.command_timeout {
        None => super::effective::DEFAULT_COMMAND_TIMEOUT,
        Some(t) if (1..=3600).contains(&t) => std::time::Duration::from_secs(u64::try_from(t).unwrap_or(120)),
        Some(t) => {
            return Err(Problem::new(
                &key("command_timeout"),
                format!("invalid command_timeout {t}"),
                "expected 1 to 3600 seconds",
            ))
        }
    };
    let reconnect_attempts = match cfg.reconnect_attempts {
        None => mailsync_engine::Reconnect::default().attempts,
        Some(n) if (0..=100).contains(&n) => u32::try_from(n).unwrap_or(5),
        Some(n) => {
            return Err(Problem::new(
                &key("reconnect_attempts"),
                format!("invalid reconnect_attempts {n}"),
                "expected 0 to 100",
            ))
        }
    };
    let client_id = one_line(&cfg.client_id, &key("client_id"), "your application (client) ID")?;
    let tenant = non_blank(&cfg.tenant, &key("tenant"), "common, consumers, organizations or a tenant ID")?;
    if let Some(t) = &tenant {
        if !t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
            return Err(Problem::new(
                &key("tenant"),
                format!("invalid tenant `{t}`"),
                "expected common, consumers, organizations, a tenant ID or a domain",
            ));
        }
    }
    let scopes = oauth::scopes(cfg.scopes.as_deref()).map_err(|m| {
        Problem::new(&key("scopes"), m, "expected a list of scope strings, e.g. [\"offline_access\"]")
    })?;
    let authority = oauth::authority(cfg.authority.as_deref()).map_err(|m| {
        Problem::new(
            &key("authority"),
            m,
            "expected https://HOST, or http://127.0.0.1:PORT for a local test endpoint",
        )
    })?;

    let password = match (password_command, password_env) {
        (Some(_), Some(_)) => {
            return Err(Problem::new(
                &key("password_env"),
                "both password_command and password_env",
                "keep only one of them",
            ))
        }
        (Some(c), None) => PasswordSource::Command(c),
        (None, Some(v)) => PasswordSource::Env(v),
        (None, None) => PasswordSource::Prompt,
    };

    let auth = cfg.auth.or(preset.map(|p| p.auth)).unwrap_or(AuthMethod::Password);
    match auth {
        AuthMethod::XOAuth2 if client_id.is_none() && token_command.is_none() => {
            let at = if cfg.auth.is_some() { key("auth").to_vec() } else { key("preset").to_vec() };
            let source = match preset {
                Some(p) if cfg.auth.is_none() => format!("the {} preset's default", p.name),
                _ => "auth = \"xoauth2\"".to_owned(),
            };
            return Err(Problem::new(
                &at,
                format!("OAuth2 ({source}) without client_id or token_command"),
                format!(
                    "add client_id = \"YOUR-APP-ID\" to [accounts.{name}] for `mailsync auth login`, \
                     or token_command = \"...\" for an external token helper"
                ),
            ));
        }
        AuthMethod::Password if token_command.is_some() => {
            return Err(Problem::new(
                &key("token_command"),
                "token_command with password authentication",
                "add auth = \"xoauth2\" or remove token_command",
            ));
        }
        _ => {}
    }

    let account_ca = cfg.ca_file.as_deref().map(expand_tilde);
    let imap_ov = cfg.imap.as_ref().map(|t| t.endpoint());
    let pop3_ov = cfg.pop3.as_ref().map(|t| t.endpoint());
    let smtp_ov = cfg.smtp.as_ref().map(|t| t.endpoint());

    if preset.is_none() && imap_ov.is_none() && pop3_ov.is_none() {
        return Err(Problem::new(
            &base,
            "no preset and no [imap] or [pop3] table",
            format!(
                "add preset = \"...\" (one of {}), or a [accounts.{name}.imap] table with host = \"...\"",
                presets::names()
            ),
        ));
    }

    let ctx = EndpointCtx { name, account_ca: account_ca.as_ref() };
    let imap = ctx.endpoint(Protocol::Imap, preset.map(|p| p.imap), imap_ov.as_ref())?;
    let pop3 = ctx.endpoint(Protocol::Pop3, preset.map(|p| p.pop3), pop3_ov.as_ref())?;
    let smtp = ctx.endpoint(Protocol::Smtp, preset.map(|p| p.smtp), smtp_ov.as_ref())?;

    let imap_options = imap_options(name, cfg)?;
    let pop3_options = pop3_options(name, cfg, preset)?;

    Ok(EffectiveAccount {
        name: name.to_owned(),
        user,
        preset: preset.map(|p| p.name),
        auth,
        password,
        token_command,
        command_timeout,
        reconnect_attempts,
        watch_via: cfg.watch_via,
        client_id,
        tenant: tenant.unwrap_or_else(|| "common".to_owned()),
        scopes,
        authority,
        imap,
        pop3,
        smtp,
        imap_options,
        pop3_options,
    })
}

struct EndpointCtx<'a> {
    name: &'a str,
    account_ca: Option<&'a PathBuf>,
}

impl EndpointCtx<'_> {
    fn endpoint(
        &self,
        proto: Protocol,
        preset: Option<PresetEndpoint>,
        ov: Option<&EndpointOverride>,
    ) -> Result<Option<EffectiveEndpoint>, Problem> {
        if preset.is_none() && ov.is_none() {
            return Ok(None);
        }
        let ov = ov.cloned().unwrap_or_default();
        let table = ["accounts", self.name, proto.table()];
        let key = |k: &'static str| [table[0], table[1], table[2], k];

        let host = match one_line(&ov.host, &key("host"), "a host name")? {
            Some(h) => h,
            None => match preset {
                Some(p) => p.host.to_owned(),
                None => {
                    return Err(Problem::new(
                        &table,
                        "no host",
                        format!("add host = \"...\", or preset = \"...\" (one of {})", presets::names()),
                    ))
                }
            },
        };

        let security = ov.security.map(security).or(preset.map(|p| p.security)).unwrap_or(Security::Tls);

        let port = match ov.port {
            Some(p) => match u16::try_from(p) {
                Ok(port) if port != 0 => port,
                _ => {
                    return Err(Problem::new(
                        &key("port"),
                        format!("invalid port {p}"),
                        "expected 1 to 65535",
                    ))
                }
            },
            None => match preset {
                Some(p) if p.security == security => p.port,
                _ => proto.default_port(security),
            },
        };

        let allow_plaintext = ov.allow_plaintext.unwrap_or(false);
        if security == Security::Plain && !allow_plaintext {
            return Err(Problem::new(
                &key("security"),
                "security = \"plain\" without allow_plaintext = true",
                format!(
                    "add allow_plaintext = true to [accounts.{}.{}] to permit an unencrypted connection, \
                     or use \"tls\" or \"starttls\"",
                    self.name,
                    proto.table()
                ),
            ));
        }

        let ca_file = ov.ca_file.as_deref().map(expand_tilde).or_else(|| self.account_ca.cloned());
        let timeout = match ov.timeout {
            None => None,
            Some(t) if (1..=3600).contains(&t) => u64::try_from(t).ok(),
            Some(t) => {
                return Err(Problem::new(
                    &key("timeout"),
                    format!("invalid timeout {t}"),
                    "expected 1 to 3600 seconds",
                ))
            }
        };
        Ok(Some(EffectiveEndpoint { host, port, security, ca_file, allow_plaintext, timeout }))
    }
}

fn imap_options(name: &str, cfg: &AccountConfig) -> Result<ImapOptions, Problem> {
    let mut options = ImapOptions::default();
    let Some(t) = &cfg.imap else { return Ok(options) };
    if let Some(include) = &t.include {
        options.include = include.clone();
    }
    if let Some(exclude) = &t.exclude {
        options.exclude = exclude.clone();
    }
    if let Some(skip) = t.skip_non_mail_folders {
        options.skip_non_mail_folders = skip;
    }
    if let Some(watch) = &t.watch {
        if let Some(bad) = watch.iter().find(|f| f.trim().is_empty() || f.chars().any(char::is_control)) {
            return Err(Problem::new(
                &["accounts", name, "imap", "watch"],
                format!("invalid folder name {bad:?}"),
                "folder names as the server lists them, e.g. [\"INBOX\", \"Archive\"]",
            ));
        }
        options.watch = watch.clone();
    }
    if let Some(m) = t.sweep_minutes {
        options.sweep = minutes(m, &["accounts", name, "imap", "sweep_minutes"])?;
    }
    // Bad folder patterns are a config error, reported with the file and line, not a surprise at sync time.
    for (key, patterns) in [("include", &options.include), ("exclude", &options.exclude)] {
        let empty: &[String] = &[];
        let (inc, exc) =
            if key == "include" { (patterns.as_slice(), empty) } else { (empty, patterns.as_slice()) };
        if let Err(e) = mailsync_engine::imap::FolderFilter::new(inc, exc, true) {
            return Err(Problem::new(
                &["accounts", name, "imap", key],
                e.to_string().trim_start_matches("configuration: ").to_string(),
                "patterns use * and ? (and [...]), e.g. \"Archive/*\"",
            ));
        }
    }
    Ok(options)
}

fn pop3_options(name: &str, cfg: &AccountConfig, preset: Option<&Preset>) -> Result<Pop3Options, Problem> {
    let t = cfg.pop3.as_ref();
    let leave_on_server =
        t.and_then(|t| t.leave_on_server).or(preset.map(|p| p.leave_on_server)).unwrap_or(true);
    let delete_after_days = match t.and_then(|t| t.delete_after_days) {
        None => None,
        Some(d) => {
            let path = ["accounts", name, "pop3", "delete_after_days"];
            if !leave_on_server {
                return Err(Problem::new(
                    &path,
                    "delete_after_days with leave_on_server = false",
                    "it only applies when messages stay on the server: set leave_on_server = true or remove it",
                ));
            }
            match u32::try_from(d) {
                Ok(days) => Some(days),
                Err(_) => {
                    return Err(Problem::new(
                        &path,
                        format!("invalid delete_after_days {d}"),
                        "expected 0 or more days",
                    ))
                }
            }
        }
    };
    let apop = t.and_then(|t| t.apop).unwrap_or(false);
    let poll = match t.and_then(|t| t.poll_minutes) {
        Some(m) => minutes(m, &["accounts", name, "pop3", "poll_minutes"])?,
        None => DEFAULT_POLL,
    };
    Ok(Pop3Options { leave_on_server, delete_after_days, apop, poll })
}

/// How often `mailsync watch` syncs a POP3 account unless told.
const DEFAULT_POLL: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A number of minutes from the file: more than none, at most a day (fractions allowed: 0.5 is 30 s).
fn minutes(m: f64, path: &[&str]) -> Result<std::time::Duration, Problem> {
    let key = path.last().copied().unwrap_or("minutes");
    if !(m.is_finite() && m > 0.0 && m <= 1440.0) {
        return Err(Problem::new(
            path,
            format!("invalid {key} {m}"),
            "expected more than 0, at most 1440 minutes",
        ));
    }
    Ok(std::time::Duration::from_secs_f64(m * 60.0))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::super::schema::ConfigFile;
    use super::*;

    /// Parses `[accounts.a]` + `body` and merges it.
    fn merged(body: &str) -> Result<EffectiveAccount, Problem> {
        let text = format!("[accounts.a]\n{body}");
        let file: ConfigFile = match toml::from_str(&text) {
            Ok(f) => f,
            Err(e) => panic!("test config does not parse: {e}"),
        };
        let Some(cfg) = file.accounts.get("a") else { panic!("no account a") };
        account("a", cfg)
    }

    fn ep(host: &str, port: u16, security: Security) -> Option<EffectiveEndpoint> {
        Some(EffectiveEndpoint {
            host: host.into(),
            port,
            security,
            ca_file: None,
            allow_plaintext: false,
            timeout: None,
        })
    }

    fn problem(body: &str) -> (String, String) {
        match merged(body) {
            Ok(a) => panic!("expected a problem, got {a:?}"),
            Err(p) => (p.path.join("."), p.message),
        }
    }

    #[test]
    fn a_preset_alone_gives_its_three_endpoints() {
        let a = merged("preset = \"outlook\"\nuser = \"me@outlook.com\"\nclient_id = \"app\"\n");
        let a = a.unwrap_or_else(|p| panic!("{}", p.describe()));
        assert_eq!(a.user, "me@outlook.com");
        assert_eq!(a.preset, Some("outlook"));
        assert_eq!(a.auth, AuthMethod::XOAuth2);
        assert_eq!(a.imap, ep("outlook.office365.com", 993, Security::Tls));
        assert_eq!(a.pop3, ep("outlook.office365.com", 995, Security::Tls));
        assert_eq!(a.smtp, ep("smtp-mail.outlook.com", 587, Security::StartTls));
        assert_eq!(a.tenant, "common");
        assert_eq!(a.password, PasswordSource::Prompt);
        assert_eq!(a.imap_options, ImapOptions::default());
        assert_eq!(
            a.pop3_options,
            Pop3Options { leave_on_server: true, delete_after_days: None, apop: false, poll: DEFAULT_POLL }
        );
    }

    #[test]
    fn overrides_win_field_by_field() {
        // (override body, expected imap endpoint)
        let rows: &[(&str, Option<EffectiveEndpoint>)] = &[
            ("[accounts.a.imap]\nhost = \"imap.example.org\"\n", ep("imap.example.org", 993, Security::Tls)),
            ("[accounts.a.imap]\nport = 1993\n", ep("imap.gmail.com", 1993, Security::Tls)),
            // security changed without a port: the standard port of that security.
            ("[accounts.a.imap]\nsecurity = \"starttls\"\n", ep("imap.gmail.com", 143, Security::StartTls)),
            (
                "[accounts.a.imap]\nsecurity = \"starttls\"\nport = 1143\n",
                ep("imap.gmail.com", 1143, Security::StartTls),
            ),
            // the same security as the preset keeps the preset's port.
            ("[accounts.a.imap]\nsecurity = \"tls\"\n", ep("imap.gmail.com", 993, Security::Tls)),
        ];
        for (body, expected) in rows {
            let a = merged(&format!("preset = \"gmail\"\nuser = \"u@gmail.com\"\n{body}"));
            let a = a.unwrap_or_else(|p| panic!("{body}: {}", p.describe()));
            assert_eq!(&a.imap, expected, "{body}");
            assert_eq!(a.pop3, ep("pop.gmail.com", 995, Security::Tls), "{body}");
        }
    }

    #[test]
    fn auth_tenant_and_pop_policy_override_the_preset() {
        let a = merged(
            "preset = \"gmail\"\nuser = \"u\"\nauth = \"xoauth2\"\ntoken_command = \"oama access u\"\n\
             tenant = \"consumers\"\n[accounts.a.pop3]\nleave_on_server = false\n",
        );
        let a = a.unwrap_or_else(|p| panic!("{}", p.describe()));
        assert_eq!(a.auth, AuthMethod::XOAuth2);
        assert_eq!(a.token_command.as_deref(), Some("oama access u"));
        assert_eq!(a.tenant, "consumers");
        assert!(!a.pop3_options.leave_on_server);

        let b = merged("preset = \"outlook\"\nuser = \"u\"\nauth = \"password\"\npassword_env = \"PW\"\n");
        let b = b.unwrap_or_else(|p| panic!("{}", p.describe()));
        assert_eq!(b.auth, AuthMethod::Password);
        assert_eq!(b.password, PasswordSource::Env("PW".into()));
    }

    #[test]
    fn ca_file_is_inherited_expanded_and_overridable() {
        let Some(home) = dirs::home_dir() else { return };
        let a = merged(
            "preset = \"gmail\"\nuser = \"u\"\nca_file = \"~/ca.pem\"\n[accounts.a.smtp]\nca_file = \"/etc/smtp-ca.pem\"\n",
        );
        let a = a.unwrap_or_else(|p| panic!("{}", p.describe()));
        let ca = |e: &Option<EffectiveEndpoint>| e.as_ref().and_then(|e| e.ca_file.clone());
        assert_eq!(ca(&a.imap), Some(home.join("ca.pem")));
        assert_eq!(ca(&a.pop3), Some(home.join("ca.pem")));
        assert_eq!(ca(&a.smtp).as_deref(), Some(Path::new("/etc/smtp-ca.pem")));
    }

    #[test]
    fn without_a_preset_only_the_given_tables_exist_with_standard_ports() {
        let a = merged(
            "user = \"u\"\npassword_command = \"pass show x\"\n[accounts.a.imap]\nhost = \"127.0.0.1\"\n\
             security = \"plain\"\nallow_plaintext = true\ninclude = [\"INBOX\"]\nexclude = [\"Junk*\"]\n\
             skip_non_mail_folders = false\n",
        );
        let a = a.unwrap_or_else(|p| panic!("{}", p.describe()));
        assert_eq!(a.auth, AuthMethod::Password);
        assert_eq!(a.password, PasswordSource::Command("pass show x".into()));
        assert_eq!(
            a.imap,
            Some(EffectiveEndpoint {
                host: "127.0.0.1".into(),
                port: 143,
                security: Security::Plain,
                ca_file: None,
                allow_plaintext: true,
                timeout: None,
            })
        );
        assert_eq!((a.pop3, a.smtp), (None, None));
        assert_eq!(
            a.imap_options,
            ImapOptions {
                include: vec!["INBOX".into()],
                exclude: vec!["Junk*".into()],
                skip_non_mail_folders: false,
                ..ImapOptions::default()
            }
        );
        let p = merged("user = \"u\"\n[accounts.a.pop3]\nhost = \"pop.example\"\n[accounts.a.smtp]\nhost = \"s\"\nsecurity = \"tls\"\n");
        let p = p.unwrap_or_else(|p| panic!("{}", p.describe()));
        assert_eq!(p.pop3, ep("pop.example", 995, Security::Tls));
        assert_eq!(p.smtp, ep("s", 465, Security::Tls));
        assert_eq!(p.imap, None);
    }

    #[test]
    fn each_rule_rejects_with_the_key_it_is_about() {
        let rows: &[(&str, &str, &str)] = &[
            ("preset = \"hotmail\"\nuser = \"u\"\n", "accounts.a.preset", "unknown preset `hotmail`"),
            ("preset = \"gmail\"\n", "accounts.a", "no user"),
            ("preset = \"gmail\"\nuser = \" \"\n", "accounts.a.user", "empty value"),
            ("preset = \"gmail\"\nuser = \"u\"\n[accounts.a.imap]\nport = 0\n", "accounts.a.imap.port", "invalid port 0"),
            (
                "preset = \"gmail\"\nuser = \"u\"\n[accounts.a.imap]\nexclude = [\"Archive[\"]\n",
                "accounts.a.imap.exclude",
                "invalid folder pattern \"Archive[\": Pattern syntax error near position 7: invalid range pattern",
            ),
            ("preset = \"gmail\"\nuser = \"u\"\n[accounts.a.pop3]\nport = 65536\n", "accounts.a.pop3.port", "invalid port 65536"),
            ("preset = \"gmail\"\nuser = \"u\"\n[accounts.a.smtp]\nport = -1\n", "accounts.a.smtp.port", "invalid port -1"),
            (
                "preset = \"gmail\"\nuser = \"u\"\n[accounts.a.imap]\nsecurity = \"plain\"\n",
                "accounts.a.imap.security",
                "security = \"plain\" without allow_plaintext = true",
            ),
            (
                "preset = \"gmail\"\nuser = \"u\"\npassword_command = \"x\"\npassword_env = \"Y\"\n",
                "accounts.a.password_env",
                "both password_command and password_env",
            ),
            (
                "preset = \"gmail\"\nuser = \"u\"\nauth = \"xoauth2\"\n",
                "accounts.a.auth",
                "OAuth2 (auth = \"xoauth2\") without client_id or token_command",
            ),
            ("preset = \"outlook\"\nuser = \"u\"\n", "accounts.a.preset", "OAuth2 (the outlook preset's default) without client_id or token_command"),
            ("user = \"u\"\n", "accounts.a", "no preset and no [imap] or [pop3] table"),
            ("user = \"u\"\n[accounts.a.imap]\nport = 993\n", "accounts.a.imap", "no host"),
            (
                "preset = \"gmail\"\nuser = \"u\"\ntoken_command = \"t\"\n",
                "accounts.a.token_command",
                "token_command with password authentication",
            ),
            (
                "preset = \"gmail\"\nuser = \"u\"\n[accounts.a.pop3]\nleave_on_server = false\ndelete_after_days = 3\n",
                "accounts.a.pop3.delete_after_days",
                "delete_after_days with leave_on_server = false",
            ),
        ];
        for (body, path, message) in rows {
            assert_eq!(problem(body), ((*path).to_owned(), (*message).to_owned()), "{body}");
        }
    }

    #[test]
    fn problems_say_what_to_add() {
        let Err(p) = merged("preset = \"outlook\"\nuser = \"u\"\n") else { panic!("accepted") };
        assert_eq!(
            p.describe(),
            "OAuth2 (the outlook preset's default) without client_id or token_command in accounts.a.preset (add client_id = \
             \"YOUR-APP-ID\" to [accounts.a] for `mailsync auth login`, or token_command = \"...\" for an \
             external token helper)"
        );
    }

    #[test]
    fn watch_settings_default_and_are_checked() {
        let base = "user = \"u\"\n[accounts.a.imap]\nhost = \"i\"\n[accounts.a.pop3]\nhost = \"p\"\n";
        let a = merged(base).unwrap_or_else(|p| panic!("{}", p.describe()));
        assert_eq!(a.imap_options.watch, vec!["INBOX".to_owned()]);
        assert_eq!(a.imap_options.sweep, Duration::from_secs(900));
        assert_eq!(a.pop3_options.poll, Duration::from_secs(300));
        assert_eq!(a.watch_via, None);
        let set = "user = \"u\"\nwatch_via = \"pop3\"\n[accounts.a.imap]\nhost = \"i\"\nwatch = [\"INBOX\", \"Archive\"]\n\
                   sweep_minutes = 0.5\n[accounts.a.pop3]\nhost = \"p\"\npoll_minutes = 2\n";
        let a = merged(set).unwrap_or_else(|p| panic!("{}", p.describe()));
        assert_eq!(a.imap_options.watch, vec!["INBOX".to_owned(), "Archive".to_owned()]);
        assert_eq!(a.imap_options.sweep, Duration::from_secs(30));
        assert_eq!(a.pop3_options.poll, Duration::from_secs(120));
        assert_eq!(a.watch_via, Some(crate::config::WatchVia::Pop3));
        // (table body, the problem's description)
        let rows = [
            (
                "[accounts.a.imap]\nhost = \"i\"\nsweep_minutes = 0\n",
                "invalid sweep_minutes 0 in accounts.a.imap.sweep_minutes",
            ),
            (
                "[accounts.a.imap]\nhost = \"i\"\nsweep_minutes = 2000\n",
                "invalid sweep_minutes 2000 in accounts.a.imap.sweep_minutes",
            ),
            (
                "[accounts.a.pop3]\nhost = \"p\"\npoll_minutes = -1\n",
                "invalid poll_minutes -1 in accounts.a.pop3.poll_minutes",
            ),
            (
                "[accounts.a.imap]\nhost = \"i\"\nwatch = [\"\"]\n",
                "invalid folder name \"\" in accounts.a.imap.watch",
            ),
        ];
        for (body, want) in rows {
            let Err(p) = merged(&format!("user = \"u\"\n{body}")) else { panic!("accepted: {body}") };
            assert!(p.describe().starts_with(want), "{body}: {}", p.describe());
        }
    }
}
