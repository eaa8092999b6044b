//! `mailsync auth login NAME`: signs an account in with the OAuth2 device authorization grant and stores the
//! refresh token (and the first access token) in the account's token file, mode 0600, beside the database.
//!
//! Owns the conversation with the user: where to go, which code to enter, how long it stays valid, and what
//! happened. Must never: print a token or the device code, store a sign-in without a refresh token (it would
//! stop working within the hour), or run without the user's own `client_id`. RFC 8628 (via `oauth::device`).

use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::config::{paths, AuthMethod};
use crate::oauth::device::{self, SystemClock};
use crate::oauth::http::Http;
use crate::oauth::{refresh, store, Endpoints, OAuthError};
use crate::Ctx;

/// How long one HTTP request to the identity platform may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// `mailsync auth ...`.
#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuthCommand {
    /// Sign in with OAuth2 (device code) and store the refresh token (mode 0600, beside the database)
    Login(LoginArgs),
}

#[derive(Debug, clap::Args)]
struct LoginArgs {
    /// Account name
    name: String,
}

/// Runs `mailsync auth ...`.
pub fn run(args: AuthArgs, ctx: &Ctx) -> anyhow::Result<()> {
    match args.command {
        AuthCommand::Login(l) => login(&l, ctx),
    }
}

#[derive(Debug, Serialize)]
struct Prompt<'a> {
    account: &'a str,
    verification_uri: &'a str,
    user_code: &'a str,
    expires_in: u64,
    interval: u64,
}

#[derive(Debug, Serialize)]
struct SignedIn<'a> {
    account: &'a str,
    signed_in: bool,
    token_file: String,
    access_token_expires_in: u64,
    scope: Option<&'a str>,
}

fn login(args: &LoginArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let config = ctx.load_config()?;
    let account = config.account(&args.name)?;
    let Some(client_id) = account.client_id.as_deref() else {
        return Err(OAuthError::NoClientId { account: account.name.clone() }.into());
    };
    if account.auth != AuthMethod::XOAuth2 {
        tracing::warn!(account = %account.name, "the account uses auth = \"password\"; the sign-in is stored but not used until auth = \"xoauth2\"");
    }
    if account.token_command.is_some() {
        tracing::warn!(account = %account.name, "the account has token_command, which takes precedence over the stored sign-in");
    }
    let http = Http::new(HTTP_TIMEOUT);
    let endpoints = Endpoints::new(&account.authority, &account.tenant);
    let code = device::request_code(&http, &endpoints, client_id, &account.scopes)
        .with_context(|| format!("cannot start the sign-in of account {}", account.name))?;
    let out = ctx.output();
    if out.is_json() {
        out.json(&Prompt {
            account: &account.name,
            verification_uri: &code.verification_uri,
            user_code: &code.user_code,
            expires_in: code.expires_in.as_secs(),
            interval: code.interval.as_secs(),
        })?;
    } else {
        out.lines(&[
            format!("To sign in account {} ({}):", account.name, account.user),
            format!("  open    {}", code.verification_uri),
            format!("  enter   {}", code.user_code),
            format!(
                "The code is valid for {} minutes. Waiting for the sign-in to finish...",
                code.expires_in.as_secs().div_ceil(60)
            ),
        ])?;
    }
    let url = endpoints.token.clone();
    let tokens = device::poll(
        &code,
        &account.name,
        &url,
        &mut SystemClock,
        || {
            http.post_form(
                &url,
                &[
                    ("grant_type", device::GRANT_TYPE),
                    ("client_id", client_id),
                    ("device_code", code.device_code.expose()),
                ],
            )
        },
        |wait| tracing::debug!(seconds = wait.as_secs(), "waiting before the next poll"),
    )?;
    let Some(refresh_token) = &tokens.refresh_token else {
        return Err(OAuthError::Server {
            url: url.clone(),
            status: 200,
            detail: "no refresh_token in the answer (is offline_access among the scopes?)".into(),
        }
        .into());
    };
    let dir = ctx.token_dir();
    let path = store::path(&dir, &account.name)?;
    let record = refresh::record(account, client_id, &tokens, refresh_token.expose(), refresh::unix_now());
    store::save(&path, &record)?;
    tracing::info!(account = %account.name, file = %path.display(), "sign-in stored");
    if out.is_json() {
        out.json(&SignedIn {
            account: &account.name,
            signed_in: true,
            token_file: path.display().to_string(),
            access_token_expires_in: tokens.expires_in.as_secs(),
            scope: tokens.scope.as_deref(),
        })?;
    } else {
        out.lines(&[
            format!("signed in; the refresh token is stored in {} (mode 0600)", paths::display(&path)),
            format!("next: `mailsync check {}`", account.name),
        ])?;
    }
    Ok(())
}
