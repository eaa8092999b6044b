//! The token file of an account: `tokens/NAME.json` beside the database (by default
//! `$XDG_DATA_HOME/mailsync/tokens/NAME.json`), holding the refresh token and the current access token.
//!
//! Owns the file format and its safety: the directory is created 0700, the file is written 0600 through a
//! temporary file in the same directory and renamed over the old one (a crash leaves the old file or the new,
//! never half of one), and a file that others can read is refused. Must never: print or log the file's
//! content (its `Debug` is redacted), or write a token anywhere else (not the database, not the config, not
//! outside `tokens/`: the file name is built from the account name and checked to stay inside).

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::file;
use super::OAuthError;

/// The format version written in the file.
pub const VERSION: u32 = 1;

/// What is kept for an account between runs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredTokens {
    /// Format version.
    pub version: u32,
    /// The account the sign-in is for.
    pub account: String,
    /// The application the tokens were issued to.
    pub client_id: String,
    /// The tenant signed in through.
    pub tenant: String,
    /// The authority signed in through.
    pub authority: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The refresh token.
    pub refresh_token: String,
    /// The current access token, if one was obtained.
    pub access_token: Option<String>,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("account", &self.account)
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("authority", &self.authority)
            .field("scopes", &self.scopes)
            .field("refresh_token", &"<redacted>")
            .field("access_token", &self.access_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `DIR/NAME.json`, checked to be a file directly inside `dir`: a name with a `/`, a `..`, or nothing that
/// would make one path component is refused (config load already refuses such names; this holds whoever
/// calls).
pub fn path(dir: &Path, account: &str) -> Result<PathBuf, OAuthError> {
    let name = format!("{account}.json");
    let mut parts = Path::new(&name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(n)), None)
            if !account.is_empty() && n == name.as_str() && !account.contains('\0') =>
        {
            Ok(dir.join(n))
        }
        _ => Err(OAuthError::BadAccountName { account: account.to_owned() }),
    }
}

/// The tokens directory that belongs to a database: `tokens/` next to it.
pub fn dir_for_db(db: &Path) -> PathBuf {
    db.parent().unwrap_or_else(|| Path::new(".")).join("tokens")
}

/// Reads the file at `p`; `None` when there is none.
pub fn load(p: &Path, account: &str) -> Result<Option<StoredTokens>, OAuthError> {
    let bad = |detail: String| OAuthError::BadStore { account: account.to_owned(), file: file(p), detail };
    let text = match fs::read_to_string(p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OAuthError::Store { action: "read", file: file(p), source }),
    };
    let mode = fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    if mode & 0o077 != 0 {
        return Err(bad(format!("its mode is {mode:o}, readable by others (expected 600)")));
    }
    // serde_json's messages name a line and column, never the value that failed.
    let stored: StoredTokens =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a token file ({e})")))?;
    if stored.version != VERSION {
        return Err(bad(format!("format version {} (this mailsync writes {VERSION})", stored.version)));
    }
    Ok(Some(stored))
}

/// Writes `tokens` to `p` (0600, atomically), creating the directory (0700) if needed.
pub fn save(p: &Path, tokens: &StoredTokens) -> Result<(), OAuthError> {
    let fail = |action: &'static str, at: &Path| {
        let f = file(at);
        move |source| OAuthError::Store { action, file: f, source }
    };
    let dir = p.parent().unwrap_or_else(|| Path::new("."));
    if !dir.as_os_str().is_empty() && !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail("create the directory of", p))?;
    }
    let text = serde_json::to_string_pretty(tokens).map_err(|e| OAuthError::Store {
        action: "encode",
        file: file(p),
        source: std::io::Error::other(e.to_string()),
    })?;
    let tmp = p.with_extension(format!("json.tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail("create", &tmp))?;
    let written = f.write_all(text.as_bytes()).and_then(|_| f.write_all(b"\n")).and_then(|_| f.sync_all());
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(OAuthError::Store { action: "write", file: file(&tmp), source });
    }
    fs::rename(&tmp, p).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        OAuthError::Store { action: "replace", file: file(p), source: e }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredTokens {
        StoredTokens {
            version: VERSION,
            account: "work".into(),
            client_id: "app".into(),
            tenant: "common".into(),
            authority: "https://login.microsoftonline.com".into(),
            scopes: vec!["offline_access".into()],
            refresh_token: "refresh-SECRET".into(),
            access_token: Some("access-SECRET".into()),
            expires_at: Some(1_900_000_000),
        }
    }

    #[test]
    fn round_trip_with_mode_0600_in_a_0700_directory() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("data").join("tokens");
        let p = path(&dir, "work").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&p, "work").ok().flatten(), None);
        save(&p, &sample()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::metadata(&p).map(|m| m.permissions().mode() & 0o777).ok(), Some(0o600));
        assert_eq!(fs::metadata(&dir).map(|m| m.permissions().mode() & 0o777).ok(), Some(0o700));
        assert_eq!(load(&p, "work").ok().flatten(), Some(sample()));
        let mut newer = sample();
        newer.access_token = Some("access-2".into());
        save(&p, &newer).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&p, "work").ok().flatten(), Some(newer));
        let names: Vec<String> = fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec!["work.json".to_string()], "no temporary file left");
    }

    #[test]
    fn a_file_readable_by_others_or_garbled_is_refused_without_quoting_it() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = path(tmp.path(), "work").unwrap_or_else(|e| panic!("{e}"));
        save(&p, &sample()).unwrap_or_else(|e| panic!("{e}"));
        let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o644));
        let e = load(&p, "work").map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.contains("mode is 644") && e.contains("mailsync auth login work"), "{e}");
        let _ = fs::write(&p, "{\"version\":1,\"refresh_token\":\"leaky\"");
        let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o600));
        let e = load(&p, "work").map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(e.contains("not a token file"), "{e}");
        assert!(!e.contains("leaky"), "{e}");
    }

    #[test]
    fn debug_redacts_tokens() {
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("client_id: \"app\""), "{shown}");
    }

    #[test]
    fn the_directory_sits_beside_the_database() {
        assert_eq!(dir_for_db(Path::new("/d/mailsync/mail.db")), Path::new("/d/mailsync/tokens"));
        assert_eq!(path(Path::new("/d/tokens"), "w").ok(), Some(PathBuf::from("/d/tokens/w.json")));
    }

    #[test]
    fn a_token_file_never_leaves_its_directory() {
        let dir = Path::new("/d/tokens");
        for bad in ["../../../../etc/x", "../x", "a/b", "/etc/x", "", "x\0y"] {
            let e = path(dir, bad).map_err(|e| e.to_string()).err().unwrap_or_default();
            assert!(e.contains("cannot name a token file"), "{bad:?}: {e}");
        }
        assert_eq!(path(dir, "..x").ok(), Some(PathBuf::from("/d/tokens/..x.json")), "a name, not a parent");
    }
}
