//! SASL mechanism encodings shared by IMAP `AUTHENTICATE` and POP3 `AUTH`.
//!
//! Owns: the raw client responses of PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), XOAUTH2
//! (Google's and Microsoft's format) and OAUTHBEARER (RFC 7628 section 3.1, with the GS2 header of
//! RFC 5801 section 4), the decoding of base64 server challenges, and the decoding of the JSON failure
//! challenge an OAuth server sends when it refuses a token (RFC 7628 section 3.2.2).
//!
//! Must never: know which protocol carries it (no tags, no `+ ` prefixes, no CRLF: the IMAP and POP3
//! encoders do the base64 and the framing); put a credential anywhere but inside a [`Secret`]; accept a
//! user name, token or password that could break out of its field (NUL, `\x01`, CR, LF).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use std::fmt;

use crate::types::Secret;

/// Errors of the SASL layer: a credential the encoding cannot carry (the caller's fault), or a server
/// challenge that does not decode (the server's fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// A user name, password, host or token holds a byte the mechanism uses as a separator.
    #[error("{mechanism} {field} contains a forbidden byte ({reason})")]
    InvalidInput {
        /// The mechanism, e.g. "XOAUTH2".
        mechanism: &'static str,
        /// Which input, e.g. "user".
        field: &'static str,
        /// What is forbidden in it.
        reason: &'static str,
    },
    /// A mechanism name that RFC 4422 section 3.1 does not allow.
    #[error("invalid sasl mechanism name {0:?}: must be 1 to 20 of A-Z 0-9 - _")]
    InvalidMechanism(String),
    /// The server's challenge is not base64.
    #[error("server sent a sasl challenge that is not base64: {text:?}")]
    ChallengeNotBase64 {
        /// The challenge as received.
        text: String,
    },
    /// The server's OAuth failure challenge is not the JSON object it should be.
    #[error("server sent an oauth failure challenge that is not a json object with a status: {text:?}")]
    BadOAuthFailure {
        /// The decoded challenge, lossily as text.
        text: String,
    },
    /// LOGIN received more challenges than user name and password.
    #[error("sasl login got an unexpected third challenge {prompt:?}")]
    UnexpectedLoginChallenge {
        /// The decoded prompt.
        prompt: String,
    },
}

/// A SASL mechanism name as advertised by a server and sent in `AUTH`/`AUTHENTICATE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// The obsolete but ubiquitous LOGIN mechanism.
    Login,
    /// Google's and Microsoft's OAuth 2.0 bearer mechanism (Outlook's only OAuth mechanism).
    XOAuth2,
    /// RFC 7628.
    OAuthBearer,
    /// Any other name, upper-cased, validated against RFC 4422 section 3.1.
    Other(String),
}

impl Mechanism {
    /// Parses an advertised name (case-insensitive). Names outside RFC 4422's syntax are an error.
    pub fn parse(name: &str) -> Result<Self, SaslError> {
        let upper = name.to_ascii_uppercase();
        Ok(match upper.as_str() {
            "PLAIN" => Mechanism::Plain,
            "LOGIN" => Mechanism::Login,
            "XOAUTH2" => Mechanism::XOAuth2,
            "OAUTHBEARER" => Mechanism::OAuthBearer,
            _ => {
                let valid = !upper.is_empty()
                    && upper.len() <= 20
                    && upper
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
                if !valid {
                    return Err(SaslError::InvalidMechanism(name.to_owned()));
                }
                Mechanism::Other(upper)
            }
        })
    }

    /// The name as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::Other(name) => name,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn check(
    mechanism: &'static str,
    field: &'static str,
    value: &[u8],
    forbidden: &[u8],
) -> Result<(), SaslError> {
    if value.iter().any(|b| forbidden.contains(b)) {
        return Err(SaslError::InvalidInput { mechanism, field, reason: "NUL, \\x01, CR or LF" });
    }
    Ok(())
}

const SEPARATORS: &[u8] = b"\0\x01\r\n";

/// PLAIN (RFC 4616 section 2): `authzid NUL authcid NUL passwd`, with an empty authzid.
pub fn plain(user: &str, password: &Secret<String>) -> Result<Secret<Vec<u8>>, SaslError> {
    check("PLAIN", "user", user.as_bytes(), b"\0")?;
    check("PLAIN", "password", password.expose().as_bytes(), b"\0")?;
    let mut out = Vec::with_capacity(user.len() + password.expose().len() + 2);
    out.push(0);
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    out.extend_from_slice(password.expose().as_bytes());
    Ok(Secret::new(out))
}

/// Answers the two LOGIN challenges: the user name first, then the password. A prompt that names the
/// user ("Username:") or the password ("Password:") is answered accordingly; other prompts go by order.
#[derive(Debug, Clone)]
pub struct LoginResponder {
    user: String,
    password: Secret<String>,
    answered: u8,
}

impl LoginResponder {
    /// Prepares the answers. Fails if either value holds NUL, CR or LF.
    pub fn new(user: &str, password: Secret<String>) -> Result<Self, SaslError> {
        check("LOGIN", "user", user.as_bytes(), b"\0\r\n")?;
        check("LOGIN", "password", password.expose().as_bytes(), b"\0\r\n")?;
        Ok(LoginResponder { user: user.to_owned(), password, answered: 0 })
    }

    /// The answer to one decoded challenge (see [`decode_base64_challenge`]).
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Secret<Vec<u8>>, SaslError> {
        let prompt = String::from_utf8_lossy(challenge).to_ascii_lowercase();
        let wants_user = if prompt.starts_with("user") {
            true
        } else if prompt.starts_with("pass") {
            false
        } else {
            self.answered == 0
        };
        if self.answered >= 2 {
            return Err(SaslError::UnexpectedLoginChallenge {
                prompt: String::from_utf8_lossy(challenge).into_owned(),
            });
        }
        self.answered += 1;
        let value = if wants_user { self.user.as_bytes() } else { self.password.expose().as_bytes() };
        Ok(Secret::new(value.to_vec()))
    }
}

/// XOAUTH2 initial response: `user=` address `\x01auth=Bearer ` token `\x01\x01`.
pub fn xoauth2(user: &str, token: &Secret<String>) -> Result<Secret<Vec<u8>>, SaslError> {
    check("XOAUTH2", "user", user.as_bytes(), SEPARATORS)?;
    check_token("XOAUTH2", token)?;
    let token = token.expose();
    let mut out = Vec::with_capacity(user.len() + token.len() + 22);
    out.extend_from_slice(b"user=");
    out.extend_from_slice(user.as_bytes());
    out.extend_from_slice(b"\x01auth=Bearer ");
    out.extend_from_slice(token.as_bytes());
    out.extend_from_slice(b"\x01\x01");
    Ok(Secret::new(out))
}

fn check_token(mechanism: &'static str, token: &Secret<String>) -> Result<(), SaslError> {
    let t = token.expose().as_bytes();
    if t.is_empty() || t.iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return Err(SaslError::InvalidInput {
            mechanism,
            field: "token",
            reason: "empty, or a space or control byte",
        });
    }
    Ok(())
}

/// OAUTHBEARER initial response (RFC 7628 section 3.1): the GS2 header `n,a=user,` (with `,` and `=`
/// in the user escaped as RFC 5801 section 4 says), then `\x01host=H\x01port=P\x01auth=Bearer T\x01\x01`.
pub fn oauthbearer(
    user: &str,
    host: &str,
    port: u16,
    token: &Secret<String>,
) -> Result<Secret<Vec<u8>>, SaslError> {
    check("OAUTHBEARER", "user", user.as_bytes(), SEPARATORS)?;
    check("OAUTHBEARER", "host", host.as_bytes(), SEPARATORS)?;
    check_token("OAUTHBEARER", token)?;
    let mut out = Vec::with_capacity(user.len() + host.len() + token.expose().len() + 40);
    out.extend_from_slice(b"n,a=");
    for &b in user.as_bytes() {
        match b {
            b',' => out.extend_from_slice(b"=2C"),
            b'=' => out.extend_from_slice(b"=3D"),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(b",\x01host=");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\x01port=");
    out.extend_from_slice(port.to_string().as_bytes());
    out.extend_from_slice(b"\x01auth=Bearer ");
    out.extend_from_slice(token.expose().as_bytes());
    out.extend_from_slice(b"\x01\x01");
    Ok(Secret::new(out))
}

/// Standard base64 that accepts input with or without padding (servers differ).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a server challenge (the text after `+ `), e.g. LOGIN's `VXNlcm5hbWU6` to `Username:`.
/// Surrounding spaces are ignored; an empty challenge decodes to nothing.
pub fn decode_base64_challenge(text: &str) -> Result<Vec<u8>, SaslError> {
    LENIENT
        .decode(text.trim_matches(|c: char| c == ' ' || c == '\t'))
        .map_err(|_| SaslError::ChallengeNotBase64 { text: text.to_owned() })
}

/// Encodes a client response for the wire (standard alphabet, padded), as both protocols send it.
pub fn encode_base64(raw: &[u8]) -> String {
    STANDARD.encode(raw)
}

/// What an OAuth server said when it refused a token, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthFailureKind {
    /// `401` or `invalid_token`: the token is invalid or expired.
    TokenInvalid,
    /// `400` or `invalid_request`: the request was malformed.
    BadRequest,
    /// `403` or `insufficient_scope`: the token lacks the scope or the right.
    Forbidden,
    /// Any other status.
    Other,
}

/// The decoded failure challenge of XOAUTH2 or OAUTHBEARER, e.g.
/// `{"status":"401","schemes":"bearer","scope":"mail"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFailure {
    /// The classification of `status`.
    pub kind: OAuthFailureKind,
    /// The status as sent (an HTTP code for XOAUTH2, an error code for OAUTHBEARER).
    pub status: String,
    /// The `schemes` member, if any.
    pub schemes: Option<String>,
    /// The `scope` member, if any.
    pub scope: Option<String>,
    /// The `openid-configuration` member (RFC 7628), if any.
    pub openid_configuration: Option<String>,
}

impl OAuthFailure {
    /// Parses the JSON of a failure challenge (already base64-decoded).
    pub fn from_json(json: &[u8]) -> Result<Self, SaslError> {
        let bad = || SaslError::BadOAuthFailure { text: String::from_utf8_lossy(json).into_owned() };
        let value: serde_json::Value = serde_json::from_slice(json).map_err(|_| bad())?;
        let obj = value.as_object().ok_or_else(bad)?;
        let text_of = |key: &str| -> Option<String> {
            match obj.get(key)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let status = text_of("status").ok_or_else(bad)?;
        let kind = match status.as_str() {
            "401" | "invalid_token" => OAuthFailureKind::TokenInvalid,
            "400" | "invalid_request" => OAuthFailureKind::BadRequest,
            "403" | "insufficient_scope" => OAuthFailureKind::Forbidden,
            _ => OAuthFailureKind::Other,
        };
        Ok(OAuthFailure {
            kind,
            status,
            schemes: text_of("schemes"),
            scope: text_of("scope"),
            openid_configuration: text_of("openid-configuration"),
        })
    }

    /// A sentence for a person: what went wrong and what to do.
    pub fn sentence(&self) -> String {
        let scope = self.scope.as_deref().map(|s| format!(" (scope {s})")).unwrap_or_default();
        match self.kind {
            OAuthFailureKind::TokenInvalid => format!(
                "the server says the access token is invalid or expired (status {}); refresh it or sign in again",
                self.status
            ),
            OAuthFailureKind::BadRequest => {
                format!("the server says the authentication request was malformed (status {}, bad request)", self.status)
            }
            OAuthFailureKind::Forbidden => format!(
                "the server says the token is not allowed to read this mailbox (status {}, forbidden){scope}; \
                 check the granted scopes and the account",
                self.status
            ),
            OAuthFailureKind::Other => format!("the server refused the token (status {}){scope}", self.status),
        }
    }
}

impl fmt::Display for OAuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
    }
}

/// Decodes the base64 text of a failure challenge (the text after `+ `) into an [`OAuthFailure`].
pub fn decode_oauth_failure(text: &str) -> Result<OAuthFailure, SaslError> {
    OAuthFailure::from_json(&decode_base64_challenge(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<String> {
        Secret::from(s)
    }

    #[test]
    fn plain_has_empty_authzid() {
        let r = plain("alice", &secret("s3cret"));
        assert_eq!(r.map(|s| s.expose().clone()), Ok(b"\0alice\0s3cret".to_vec()));
        assert_eq!(encode_base64(b"\0alice\0s3cret"), "AGFsaWNlAHMzY3JldA==");
    }

    #[test]
    fn plain_rejects_nul() {
        assert!(plain("al\0ice", &secret("x")).is_err());
        assert!(plain("alice", &secret("x\0y")).is_err());
    }

    #[test]
    fn xoauth2_matches_the_documented_format() {
        let r = xoauth2("someuser@example.com", &secret("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"));
        assert_eq!(
            r.map(|s| s.expose().clone()),
            Ok(b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
                .to_vec())
        );
    }

    #[test]
    fn xoauth2_rejects_separator_injection() {
        assert!(xoauth2("a@b.c\x01auth=Bearer evil", &secret("t")).is_err());
        assert!(xoauth2("a@b.c", &secret("tok en")).is_err());
        assert!(xoauth2("a@b.c", &secret("")).is_err());
        assert!(xoauth2("a@b.c", &secret("tok\r\n")).is_err());
    }

    #[test]
    fn oauthbearer_matches_rfc7628_example_shape() {
        let r = oauthbearer(
            "user@example.com",
            "server.example.com",
            143,
            &secret("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
        );
        assert_eq!(
            r.map(|s| s.expose().clone()),
            Ok(b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer \
                 vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
                .to_vec())
        );
    }

    #[test]
    fn oauthbearer_escapes_comma_and_equals() {
        let r = oauthbearer("a,b=c", "h", 993, &secret("t"));
        assert_eq!(
            r.map(|s| s.expose().clone()),
            Ok(b"n,a=a=2Cb=3Dc,\x01host=h\x01port=993\x01auth=Bearer t\x01\x01".to_vec())
        );
    }

    #[test]
    fn login_answers_by_prompt_then_refuses_a_third() {
        let mut l = LoginResponder::new("alice", secret("pw")).expect("valid input");
        let user = decode_base64_challenge("VXNlcm5hbWU6").expect("base64");
        assert_eq!(user, b"Username:");
        assert_eq!(l.respond(&user).map(|s| s.expose().clone()), Ok(b"alice".to_vec()));
        let pass = decode_base64_challenge("UGFzc3dvcmQ6").expect("base64");
        assert_eq!(l.respond(&pass).map(|s| s.expose().clone()), Ok(b"pw".to_vec()));
        assert!(matches!(l.respond(b"More:"), Err(SaslError::UnexpectedLoginChallenge { .. })));
    }

    #[test]
    fn login_unknown_prompts_go_by_order() {
        let mut l = LoginResponder::new("alice", secret("pw")).expect("valid input");
        assert_eq!(l.respond(b"").map(|s| s.expose().clone()), Ok(b"alice".to_vec()));
        assert_eq!(l.respond(b"").map(|s| s.expose().clone()), Ok(b"pw".to_vec()));
    }

    #[test]
    fn base64_challenge_is_lenient_on_padding_and_strict_on_alphabet() {
        assert_eq!(decode_base64_challenge("YQ"), Ok(b"a".to_vec()));
        assert_eq!(decode_base64_challenge("YQ=="), Ok(b"a".to_vec()));
        assert_eq!(decode_base64_challenge(""), Ok(Vec::new()));
        assert!(decode_base64_challenge("not base64!").is_err());
    }

    #[test]
    fn oauth_failure_401_is_token_invalid() {
        let text = encode_base64(br#"{"status":"401","schemes":"bearer","scope":"mail"}"#);
        let f = decode_oauth_failure(&text).expect("valid challenge");
        assert_eq!(f.kind, OAuthFailureKind::TokenInvalid);
        assert_eq!(f.status, "401");
        assert_eq!(f.schemes.as_deref(), Some("bearer"));
        assert_eq!(f.scope.as_deref(), Some("mail"));
        assert!(f.sentence().contains("invalid or expired"), "{}", f.sentence());
    }

    #[test]
    fn oauth_failure_kinds() {
        let kind = |json: &[u8]| OAuthFailure::from_json(json).map(|f| f.kind);
        assert_eq!(kind(br#"{"status":"400"}"#), Ok(OAuthFailureKind::BadRequest));
        assert_eq!(
            kind(br#"{"status":403,"scope":"https://mail.google.com/"}"#),
            Ok(OAuthFailureKind::Forbidden)
        );
        assert_eq!(kind(br#"{"status":"invalid_token"}"#), Ok(OAuthFailureKind::TokenInvalid));
        assert_eq!(kind(br#"{"status":"500"}"#), Ok(OAuthFailureKind::Other));
        assert!(OAuthFailure::from_json(br#"{"schemes":"bearer"}"#).is_err());
        assert!(OAuthFailure::from_json(b"[1]").is_err());
        assert!(OAuthFailure::from_json(b"\xff").is_err());
        let f = OAuthFailure::from_json(br#"{"status":"403","scope":"mail"}"#).expect("valid");
        assert!(f.to_string().contains("forbidden") && f.to_string().contains("scope mail"), "{f}");
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(Mechanism::parse("xoauth2"), Ok(Mechanism::XOAuth2));
        assert_eq!(Mechanism::parse("SCRAM-SHA-256"), Ok(Mechanism::Other("SCRAM-SHA-256".into())));
        assert!(Mechanism::parse("BAD NAME").is_err());
        assert!(Mechanism::parse("").is_err());
        assert_eq!(Mechanism::OAuthBearer.to_string(), "OAUTHBEARER");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let l = LoginResponder::new("alice", secret("hunter2")).expect("valid input");
        assert!(!format!("{l:?}").contains("hunter2"));
    }
}
