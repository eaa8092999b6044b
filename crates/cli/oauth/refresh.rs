//! A ready access token for an account signed in with `mailsync auth login`: the cached one while it has
//! more than five minutes left, otherwise a new one from the refresh token (RFC 6749 section 6), cached in
//! the token file together with the new refresh token when the platform rotates it.
//!
//! Owns the refresh request and the freshness rule. Must never: use a sign-in made for other settings
//! (another client_id, tenant, authority or scope list: the user must sign in again), or log a token.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailsync_proto::Secret;

use super::device::{refusal, Tokens};
use super::error::describe;
use super::http::{str_field, Http};
use super::store::{self, StoredTokens};
use super::{Endpoints, OAuthError};
use crate::config::EffectiveAccount;

/// An access token is renewed when it has less than this left (a sync must not start on a dying token).
pub const MARGIN: Duration = Duration::from_secs(300);

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The stored record for a fresh sign-in.
pub fn record(
    account: &EffectiveAccount,
    client_id: &str,
    tokens: &Tokens,
    refresh: &str,
    now: u64,
) -> StoredTokens {
    StoredTokens {
        version: store::VERSION,
        account: account.name.clone(),
        client_id: client_id.to_owned(),
        tenant: account.tenant.clone(),
        authority: account.authority.clone(),
        scopes: account.scopes.clone(),
        refresh_token: refresh.to_owned(),
        access_token: Some(tokens.access_token.expose().clone()),
        expires_at: Some(now.saturating_add(tokens.expires_in.as_secs())),
    }
}

/// Which setting differs between the account and its stored sign-in, if any.
fn mismatch(account: &EffectiveAccount, client_id: &str, s: &StoredTokens) -> Option<&'static str> {
    if s.client_id != client_id {
        Some("client_id")
    } else if s.tenant != account.tenant {
        Some("tenant")
    } else if s.authority != account.authority {
        Some("authority")
    } else if s.scopes != account.scopes {
        Some("scope list")
    } else {
        None
    }
}

/// The account's access token from its token file in `dir`, refreshed through `http` when needed.
pub fn access_token(
    account: &EffectiveAccount,
    dir: &Path,
    http: &Http,
) -> Result<Secret<String>, OAuthError> {
    let Some(client_id) = account.client_id.as_deref() else {
        return Err(OAuthError::NoClientId { account: account.name.clone() });
    };
    let path = store::path(dir, &account.name)?;
    let Some(mut stored) = store::load(&path, &account.name)? else {
        return Err(OAuthError::NotLoggedIn {
            account: account.name.clone(),
            file: super::error::file(&path),
        });
    };
    if let Some(what) = mismatch(account, client_id, &stored) {
        return Err(OAuthError::Mismatch { account: account.name.clone(), what });
    }
    let now = unix_now();
    if let (Some(token), Some(expires_at)) = (&stored.access_token, stored.expires_at) {
        if expires_at > now.saturating_add(MARGIN.as_secs()) {
            tracing::debug!(account = %account.name, seconds_left = expires_at - now, "using the cached access token");
            return Ok(Secret::new(token.clone()));
        }
    }
    tracing::info!(account = %account.name, "refreshing the OAuth2 access token");
    let endpoints = Endpoints::new(&account.authority, &account.tenant);
    let scope = account.scopes.join(" ");
    let (status, v) = http.post_form(
        &endpoints.token,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", &stored.refresh_token),
            ("scope", &scope),
        ],
    )?;
    if status != 200 {
        return Err(match refusal(&endpoints.token, status, &v) {
            OAuthError::Refused { .. } => OAuthError::RefreshRefused {
                account: account.name.clone(),
                error: str_field(&v, "error").unwrap_or_default().to_owned(),
                description: describe(str_field(&v, "error_description")),
            },
            other => other,
        });
    }
    let tokens = Tokens::from_json(&endpoints.token, status, &v)?;
    if let Some(rotated) = &tokens.refresh_token {
        stored.refresh_token = rotated.expose().clone();
    }
    stored.access_token = Some(tokens.access_token.expose().clone());
    stored.expires_at = Some(now.saturating_add(tokens.expires_in.as_secs()));
    store::save(&path, &stored)?;
    Ok(tokens.access_token)
}
