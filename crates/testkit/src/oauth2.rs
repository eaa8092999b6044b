//! OAuth2 bearer tokens the private Dovecot accepts: an HS256 key per instance, written where the `oauth2`
//! passdb's local validation looks for it, and JWTs signed with it (valid, expired, or shaped at will).
//!
//! Owns the key file layout (`oauth2-keys/default/HS256/default`, standard base64: azp / alg / kid, each
//! `default` when the token does not name one) and the token format Dovecot 2.3 checks (TESTING.md): header
//! `{"alg":"HS256","typ":"JWT"}`, payload with `sub` and `exp`, base64url without padding (RFC 7519 section 3,
//! RFC 7515 section 3.1 compact serialization, RFC 7518 section 3.2 HS256).
//!
//! Must never: be used by the product (a real token comes from Microsoft), or reuse a key across instances.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::{Dovecot, HarnessError};

/// Bytes in an instance's HS256 key.
pub(crate) const KEY_LEN: usize = 32;

/// Where the key lives under the instance directory (the dict prefix is `oauth2-keys/`).
pub(crate) const KEY_DIR: &str = "oauth2-keys";

/// A fresh random key from the kernel.
pub(crate) fn new_key() -> Result<Vec<u8>, HarnessError> {
    let mut key = vec![0u8; KEY_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(HarnessError::io("reading", "/dev/urandom"))?;
    Ok(key)
}

/// The key file's content: the key in standard base64, as Dovecot's local validation reads it.
pub(crate) fn key_file_content(key: &[u8]) -> String {
    STANDARD.encode(key)
}

/// The key file's path below the instance directory.
pub(crate) fn key_file(root: &Path) -> std::path::PathBuf {
    root.join(KEY_DIR).join("default").join("HS256").join("default")
}

/// Seconds since the Unix epoch, now.
fn now() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A compact JWS: `base64url(header) . base64url(claims) . base64url(HMAC-SHA256(key, signing input))`, with
/// the header `{"alg":"HS256","typ":"JWT"}`. Any claims: tests use it for tokens Dovecot must refuse too.
pub fn sign_jwt(key: &[u8], claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    let input = format!("{header}.{payload}");
    // HMAC takes keys of any length; the fallback only exists because the constructor is fallible in type.
    let tag = match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

impl Dovecot {
    /// The instance's HS256 key (the one its oauth2 passdb trusts when started with `oauth2: true`).
    pub fn oauth2_key(&self) -> &[u8] {
        &self.oauth2_key
    }

    /// Whether the oauth2 passdb is configured (XOAUTH2 and OAUTHBEARER logins are accepted).
    pub fn oauth2_enabled(&self) -> bool {
        self.oauth2
    }

    /// A bearer token for `user` (the `sub` claim), issued now and valid for `lifetime`.
    pub fn mint_token(&self, user: &str, lifetime: Duration) -> String {
        let iat = now();
        let claims =
            serde_json::json!({ "sub": user, "iat": iat, "exp": iat.saturating_add(secs(lifetime)) });
        sign_jwt(&self.oauth2_key, &claims)
    }

    /// A token for `user` that expired `ago` ago (issued an hour before that), correctly signed.
    pub fn mint_expired_token(&self, user: &str, ago: Duration) -> String {
        let exp = now().saturating_sub(secs(ago).max(1));
        let claims = serde_json::json!({ "sub": user, "iat": exp.saturating_sub(3600), "exp": exp });
        sign_jwt(&self.oauth2_key, &claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7515_appendix_a1_hmac_matches() {
        // RFC 7515 A.1's key and signing input (its header has different bytes, so sign the same input by
        // hand): the HMAC must match the RFC's published signature.
        let key = URL_SAFE_NO_PAD
            .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
            .unwrap_or_default();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let mut mac =
            <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
        mac.update(input.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn token_has_the_header_dovecot_requires_and_verifies() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = sign_jwt(key, &serde_json::json!({"sub": "alice", "exp": 2000000000}));
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3, "{t}");
        assert_eq!(parts[0], "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default(),
            br#"{"exp":2000000000,"sub":"alice"}"#
        );
        assert!(!t.contains('='), "no padding: {t}");
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default(),
            mac.finalize().into_bytes().to_vec()
        );
    }

    #[test]
    fn key_file_layout_and_encoding() {
        assert_eq!(key_file(Path::new("/i")), Path::new("/i/oauth2-keys/default/HS256/default"));
        assert_eq!(key_file_content(b"\x00\xff\xfe"), "AP/+");
        let a = new_key().unwrap_or_default();
        let b = new_key().unwrap_or_default();
        assert_eq!(a.len(), KEY_LEN);
        assert_ne!(a, b);
    }
}
