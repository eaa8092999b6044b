//! `mailsync check NAME [--send-test]`: tests an account's settings the way Outlook's "Test Account
//! Settings" does. For IMAP, POP3 and SMTP: resolve, connect, TLS (certificate verified), capabilities and
//! authenticate (SMTP: EHLO, STARTTLS, AUTH); `--send-test` also sends a test message to the account's own
//! address. Prints a checklist (step, result, time) with a hint for each known failure; `--json` prints one
//! object per step and a summary.
//!
//! Owns the command: getting the credentials once (one password prompt, one token refresh) and running
//! the probes of `crate::check`. Must never: print a credential, or change a mailbox. The exit code is that
//! of the first failure (2 network or TLS, 3 authentication, 4 server), 0 when every check passed.

use std::time::Instant;

use anyhow::Context as _;
use mailsync_engine::Credentials;

use crate::check::hints::HintCtx;
use crate::check::{imap, pop3, smtp, Checklist};
use crate::config::{AuthMethod, EffectiveAccount, PasswordSource};
use crate::{secrets, Ctx};

/// Arguments of `mailsync check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Account name
    name: String,
    /// Also send a test message to the account's own address over SMTP
    #[arg(long)]
    send_test: bool,
    #[command(flatten)]
    trace: crate::trace::TraceArgs,
}

/// Runs the command.
pub fn run(args: CheckArgs, ctx: &Ctx) -> anyhow::Result<()> {
    args.trace.start("check")?;
    let config = ctx.load_config()?;
    let account = config.account(&args.name)?;
    let mut list = Checklist::new(&account.name, ctx.output());
    let creds = credentials_step(&mut list, account);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(e) = &account.imap {
        let ep = e.to_endpoint(&account.name);
        let h = hint_ctx(account, "imap", &ep);
        runtime.block_on(imap::check(&mut list, &h, &ep, creds.as_ref()));
    }
    if let Some(e) = &account.pop3 {
        let ep = e.to_endpoint(&account.name);
        let h = hint_ctx(account, "pop3", &ep);
        runtime.block_on(pop3::check(&mut list, &h, &ep, creds.as_ref()));
    }
    match &account.smtp {
        Some(e) => {
            let ep = e.to_endpoint(&account.name);
            let h = hint_ctx(account, "smtp", &ep);
            runtime.block_on(smtp::check(&mut list, &h, &ep, creds.as_ref(), args.send_test));
        }
        None if args.send_test => {
            list.skip("smtp", &["send test"], "the account has no [smtp] settings");
        }
        None => {}
    }
    list.finish()
}

fn hint_ctx<'a>(
    account: &'a EffectiveAccount,
    protocol: &'static str,
    ep: &'a mailsync_engine::Endpoint,
) -> HintCtx<'a> {
    HintCtx { protocol, account: &account.name, preset: account.preset, auth: account.auth, ep }
}

/// The `credentials` step: the password or access token, fetched once for every protocol.
fn credentials_step(list: &mut Checklist, account: &EffectiveAccount) -> Option<Credentials> {
    let started = Instant::now();
    let user = account.user.clone();
    let (source, got) = match account.auth {
        AuthMethod::Password => {
            let source = match &account.password {
                PasswordSource::Command(_) => "password from password_command",
                PasswordSource::Env(_) => "password from password_env",
                PasswordSource::Prompt => "password from the terminal",
            };
            (source, secrets::password(account).map(|password| Credentials::Password { user, password }))
        }
        AuthMethod::XOAuth2 => {
            let source = if account.token_command.is_some() {
                "OAuth2 access token from token_command"
            } else {
                "OAuth2 access token from `mailsync auth login`"
            };
            (source, secrets::access_token(account).map(|token| Credentials::OAuth2 { user, token }))
        }
    };
    match got {
        Ok(c) => {
            list.ok("account", "credentials", Some(started), format!("{source}, for {}", account.user));
            Some(c)
        }
        Err(e) => {
            list.fail("account", "credentials", Some(started), e.into(), None);
            None
        }
    }
}
