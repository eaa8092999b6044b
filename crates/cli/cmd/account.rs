//! `mailsync account add | list | show`: write an account entry, list the accounts, and print an
//! account's effective settings the way a mail client's setup guide lists them (server, port, encryption,
//! authentication, per protocol).
//!
//! Owns the presentation of accounts. Must never: read a secret (`show` says where a password or token
//! comes from, never what it is), or change an existing entry of the config file. Endpoint wording follows
//! RFC 8314 ("SSL/TLS" = implicit TLS) and RFC 3207 / RFC 2595 (STARTTLS).

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::config::{
    append_account, paths, AuthMethod, EffectiveAccount, EffectiveEndpoint, NewAccount, PasswordSource,
};
use crate::output::columns;
use crate::{presets, Ctx};

/// `mailsync account ...`.
#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    #[command(subcommand)]
    command: AccountCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AccountCommand {
    /// Append a commented account entry to the config file (created 0600 if needed)
    Add(AddArgs),
    /// One line per account: name, user, preset
    List,
    /// The effective settings of an account: its preset merged with the file's overrides
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// Account name: letters, digits, `-` and `_`
    name: String,
    /// Server preset
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(presets::PRESETS.iter().map(|p| p.name)))]
    preset: String,
    /// Login address
    #[arg(long, value_name = "ADDR")]
    user: String,
    /// Authentication [default: the preset's]
    #[arg(long, value_enum)]
    auth: Option<AuthMethod>,
    /// Your registered OAuth2 application (client) ID, for `mailsync auth login`
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// OAuth2 tenant: common, consumers, organizations or a tenant ID
    #[arg(long, value_name = "TENANT")]
    tenant: Option<String>,
    /// A command that prints an OAuth2 access token
    #[arg(long, value_name = "CMD")]
    token_command: Option<String>,
    /// A command that prints the password (run with `sh -c`)
    #[arg(long, value_name = "CMD", conflicts_with = "password_env")]
    password_command: Option<String>,
    /// An environment variable that holds the password
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Account name
    name: String,
}

/// Runs `mailsync account ...`.
pub fn run(args: AccountArgs, ctx: &Ctx) -> anyhow::Result<()> {
    match args.command {
        AccountCommand::Add(a) => add(&a, ctx),
        AccountCommand::List => list(ctx),
        AccountCommand::Show(s) => show(&s, ctx),
    }
}

fn add(args: &AddArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let Some(preset) = presets::find(&args.preset) else {
        anyhow::bail!("unknown preset `{}` (expected one of {})", args.preset, presets::names());
    };
    let new = NewAccount {
        name: &args.name,
        preset,
        user: &args.user,
        auth: args.auth,
        client_id: args.client_id.as_deref(),
        tenant: args.tenant.as_deref(),
        token_command: args.token_command.as_deref(),
        password_command: args.password_command.as_deref(),
        password_env: args.password_env.as_deref(),
    };
    let account = append_account(&ctx.config_path, &new)
        .with_context(|| format!("cannot add account `{}`", args.name))?;
    tracing::info!(account = %account.name, file = %ctx.config_path.display(), "account added");
    let out = ctx.output();
    if out.is_json() {
        #[derive(Serialize)]
        struct Added<'a> {
            account: &'a str,
            config: String,
        }
        out.json(&Added { account: &account.name, config: ctx.config_path.display().to_string() })?;
    } else {
        let file = paths::display(&ctx.config_path);
        let next = match (account.auth, &account.token_command) {
            (AuthMethod::XOAuth2, None) => format!("next: `mailsync auth login {}`", account.name),
            _ => format!("next: `mailsync check {}`", account.name),
        };
        out.lines(&[format!("added account {} to {file}", account.name), next])?;
    }
    Ok(())
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let config = ctx.load_config()?;
    let out = ctx.output();
    if out.is_json() {
        #[derive(Serialize)]
        struct Row<'a> {
            account: &'a str,
            user: &'a str,
            preset: Option<&'a str>,
        }
        for a in config.accounts() {
            out.json(&Row { account: &a.name, user: &a.user, preset: a.preset })?;
        }
    } else {
        let rows: Vec<Vec<String>> = config
            .accounts()
            .iter()
            .map(|a| vec![a.name.clone(), a.user.clone(), a.preset.unwrap_or("-").to_owned()])
            .collect();
        out.lines(&columns(&rows))?;
    }
    Ok(())
}

fn show(args: &ShowArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let config = ctx.load_config()?;
    let account = config.account(&args.name)?;
    let out = ctx.output();
    if out.is_json() {
        out.json(&AccountView::new(account))?;
    } else {
        out.lines(&describe(account))?;
    }
    Ok(())
}

/// `account show --json`: the settings, never a secret.
#[derive(Debug, Serialize)]
struct AccountView<'a> {
    account: &'a str,
    user: &'a str,
    preset: Option<&'a str>,
    auth: &'a str,
    /// Where the password comes from (`auth = "password"`).
    password_source: Option<PasswordView<'a>>,
    token_command: Option<&'a str>,
    client_id: Option<&'a str>,
    tenant: &'a str,
    imap: Option<EndpointView<'a>>,
    pop3: Option<EndpointView<'a>>,
    smtp: Option<EndpointView<'a>>,
    include: &'a [String],
    exclude: &'a [String],
    skip_non_mail_folders: bool,
    leave_on_server: bool,
    delete_after_days: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum PasswordView<'a> {
    Command { command: &'a str },
    Env { variable: &'a str },
    Prompt,
}

#[derive(Debug, Serialize)]
struct EndpointView<'a> {
    server: &'a str,
    port: u16,
    security: &'static str,
    encryption: &'static str,
    authentication: &'static str,
    ca_file: Option<&'a PathBuf>,
    allow_plaintext: bool,
}

impl<'a> AccountView<'a> {
    fn new(a: &'a EffectiveAccount) -> Self {
        let endpoint = |e: &'a Option<EffectiveEndpoint>| {
            e.as_ref().map(|e| EndpointView {
                server: &e.host,
                port: e.port,
                security: e.security.as_str(),
                encryption: e.encryption_label(),
                authentication: a.auth.as_str(),
                ca_file: e.ca_file.as_ref(),
                allow_plaintext: e.allow_plaintext,
            })
        };
        let password_source = (a.auth == AuthMethod::Password).then_some(match &a.password {
            PasswordSource::Command(c) => PasswordView::Command { command: c },
            PasswordSource::Env(v) => PasswordView::Env { variable: v },
            PasswordSource::Prompt => PasswordView::Prompt,
        });
        AccountView {
            account: &a.name,
            user: &a.user,
            preset: a.preset,
            auth: a.auth.as_str(),
            password_source,
            token_command: a.token_command.as_deref(),
            client_id: a.client_id.as_deref(),
            tenant: &a.tenant,
            imap: endpoint(&a.imap),
            pop3: endpoint(&a.pop3),
            smtp: endpoint(&a.smtp),
            include: &a.imap_options.include,
            exclude: &a.imap_options.exclude,
            skip_non_mail_folders: a.imap_options.skip_non_mail_folders,
            leave_on_server: a.pop3_options.leave_on_server,
            delete_after_days: a.pop3_options.delete_after_days,
        }
    }
}

/// The plain-text form of `account show`: one aligned table, a section per protocol.
fn describe(a: &EffectiveAccount) -> Vec<String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |k: &str, v: String| rows.push(vec![k.to_owned(), v]);
    row("account", a.name.clone());
    row("user", a.user.clone());
    row("preset", a.preset.unwrap_or("none").to_owned());
    row("authentication", a.auth.label().to_owned());
    match a.auth {
        AuthMethod::Password => row(
            "password from",
            match &a.password {
                PasswordSource::Command(c) => format!("command `{c}`"),
                PasswordSource::Env(v) => format!("environment variable {v}"),
                PasswordSource::Prompt => "a prompt on the terminal".to_owned(),
            },
        ),
        AuthMethod::XOAuth2 => {
            let source = match (&a.token_command, &a.client_id) {
                (Some(c), _) => format!("command `{c}`"),
                (None, Some(id)) => {
                    format!("`mailsync auth login {}` (client_id {id}, tenant {})", a.name, a.tenant)
                }
                (None, None) => "nowhere yet: set client_id or token_command".to_owned(),
            };
            row("token from", source);
        }
    }

    let mut section = |title: &str, e: &Option<EffectiveEndpoint>, extra: Vec<(&str, String)>| {
        let Some(e) = e else {
            rows.push(vec![format!("{title}:"), "not configured".to_owned()]);
            return;
        };
        rows.push(vec![format!("{title}:")]);
        let mut item = |k: &str, v: String| rows.push(vec![format!("  {k}"), v]);
        item("server", e.host.clone());
        item("port", e.port.to_string());
        item("encryption", e.encryption_label().to_owned());
        item("authentication", a.auth.label().to_owned());
        if let Some(ca) = &e.ca_file {
            item("extra CA", ca.display().to_string());
        }
        if e.allow_plaintext {
            item("allow plaintext", "yes".to_owned());
        }
        for (k, v) in extra {
            item(k, v);
        }
    };

    let o = &a.imap_options;
    let list = |v: &[String]| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
    section(
        "IMAP (incoming)",
        &a.imap,
        vec![
            ("folders", list(&o.include)),
            ("excluded", list(&o.exclude)),
            ("non-mail folders", if o.skip_non_mail_folders { "skipped" } else { "synced" }.to_owned()),
        ],
    );
    let p = &a.pop3_options;
    let keep = match (p.leave_on_server, p.delete_after_days) {
        (false, _) => "no (deleted after a durable local copy)".to_owned(),
        (true, None) => "yes".to_owned(),
        (true, Some(d)) => format!("yes, deleted {d} days after download"),
    };
    section("POP3 (incoming)", &a.pop3, vec![("leave on server", keep)]);
    section("SMTP (outgoing)", &a.smtp, vec![("requires auth", "yes".to_owned())]);
    columns(&rows)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn account(text: &str) -> EffectiveAccount {
        let c = Config::parse(Path::new("/c.toml"), text);
        match c.as_ref().ok().and_then(|c| c.accounts().first()) {
            Some(a) => a.clone(),
            None => panic!("{c:?}"),
        }
    }

    #[test]
    fn describe_lists_each_protocol_like_the_setup_guide() {
        let a = account(
            "[accounts.w]\npreset = \"outlook-classic\"\nuser = \"me@outlook.com\"\nclient_id = \"app\"\n",
        );
        let text = describe(&a).join("\n");
        let expected = "\
account             w
user                me@outlook.com
preset              outlook-classic
authentication      OAuth2 (XOAUTH2)
token from          `mailsync auth login w` (client_id app, tenant common)
IMAP (incoming):
  server            imap-mail.outlook.com
  port              993
  encryption        SSL/TLS
  authentication    OAuth2 (XOAUTH2)
  folders           *
  excluded          none
  non-mail folders  skipped
POP3 (incoming):
  server            pop-mail.outlook.com
  port              995
  encryption        SSL/TLS
  authentication    OAuth2 (XOAUTH2)
  leave on server   yes
SMTP (outgoing):
  server            smtp-mail.outlook.com
  port              587
  encryption        STARTTLS
  authentication    OAuth2 (XOAUTH2)
  requires auth     yes";
        assert_eq!(text, expected);
    }

    #[test]
    fn json_view_names_the_password_source_not_the_password() {
        let a = account(
            "[accounts.g]\npreset = \"gmail\"\nuser = \"u@gmail.com\"\npassword_env = \"GMAIL_PW\"\n",
        );
        let v = serde_json::to_value(AccountView::new(&a)).unwrap_or_default();
        assert_eq!(v["password_source"], serde_json::json!({"kind": "env", "variable": "GMAIL_PW"}));
        assert_eq!(v["imap"]["server"], "imap.gmail.com");
        assert_eq!(v["smtp"]["encryption"], "STARTTLS");
        assert_eq!(v["smtp"]["authentication"], "password");
        assert_eq!(v["token_command"], serde_json::Value::Null);
    }
}
