//! The device authorization grant (RFC 8628): ask for a user code, tell the user where to enter it, then poll
//! the token endpoint politely until they have signed in, declined, or the code expired.
//!
//! Owns the request and answer shapes of sections 3.1-3.5 and the polling rules: wait `interval` seconds
//! (5 when the server names none) before every poll; `authorization_pending`: keep polling;
//! `slow_down`: add 5 seconds to the interval for this and every later poll; `expired_token` or the
//! `expires_in` deadline: stop; `access_denied` (Microsoft: `authorization_declined`,
//! `bad_verification_code`): stop. Must never: poll faster than the interval, or show the device code (only
//! the user code is for people).

use std::time::{Duration, Instant};

use mailsync_proto::Secret;
use serde_json::Value;

use super::error::describe;
use super::http::{str_field, u64_field, Http};
use super::{Endpoints, OAuthError};

/// RFC 8628 section 3.2: "If no value is provided, clients MUST use 5 as the default."
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 section 3.5: `slow_down` adds 5 seconds to the interval.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The `grant_type` of the device-code token request (RFC 8628 section 3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The answer to the device authorization request (RFC 8628 section 3.2).
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// What the client polls with; never shown.
    pub device_code: Secret<String>,
    /// What the user types in.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// How long the codes are valid.
    pub expires_in: Duration,
    /// How long to wait between polls.
    pub interval: Duration,
}

/// A successful token response (RFC 6749 section 5.1).
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The bearer token for IMAP, POP3 and SMTP.
    pub access_token: Secret<String>,
    /// The refresh token, when the platform issued one (it does for `offline_access`).
    pub refresh_token: Option<Secret<String>>,
    /// Lifetime of the access token (Microsoft: about an hour).
    pub expires_in: Duration,
    /// The scopes granted, space-separated, when sent.
    pub scope: Option<String>,
}

impl Tokens {
    /// Reads a 200 answer of the token endpoint.
    pub fn from_json(url: &str, status: u16, v: &Value) -> Result<Tokens, OAuthError> {
        let Some(access) = str_field(v, "access_token").filter(|t| !t.is_empty()) else {
            return Err(OAuthError::Server { url: url.to_owned(), status, detail: "no access_token".into() });
        };
        if let Some(kind) = str_field(v, "token_type") {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(OAuthError::Server {
                    url: url.to_owned(),
                    status,
                    detail: format!("token_type {kind:?} is not Bearer"),
                });
            }
        }
        Ok(Tokens {
            access_token: Secret::new(access.to_owned()),
            refresh_token: str_field(v, "refresh_token")
                .filter(|t| !t.is_empty())
                .map(|t| Secret::new(t.to_owned())),
            expires_in: Duration::from_secs(u64_field(v, "expires_in").unwrap_or(3600)),
            scope: str_field(v, "scope").map(str::to_owned),
        })
    }
}

/// Asks for a device code and a user code (RFC 8628 section 3.1).
pub fn request_code(
    http: &Http,
    endpoints: &Endpoints,
    client_id: &str,
    scopes: &[String],
) -> Result<DeviceCode, OAuthError> {
    let url = &endpoints.device_code;
    let scope = scopes.join(" ");
    let (status, v) = http.post_form(url, &[("client_id", client_id), ("scope", &scope)])?;
    if status != 200 {
        return Err(refusal(url, status, &v));
    }
    let field = |k: &str| {
        str_field(&v, k).filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(|| OAuthError::Server {
            url: url.clone(),
            status,
            detail: format!("no {k} in the device authorization answer"),
        })
    };
    Ok(DeviceCode {
        device_code: Secret::new(field("device_code")?),
        user_code: field("user_code")?,
        // RFC 8628 names it verification_uri; older Microsoft endpoints said verification_url.
        verification_uri: field("verification_uri").or_else(|_| field("verification_url"))?,
        expires_in: Duration::from_secs(u64_field(&v, "expires_in").unwrap_or(900)),
        interval: u64_field(&v, "interval").map(Duration::from_secs).unwrap_or(DEFAULT_INTERVAL),
    })
}

/// An error answer as an `OAuthError::Refused` (or `Server` when it is not an OAuth2 error object).
pub fn refusal(url: &str, status: u16, v: &Value) -> OAuthError {
    match str_field(v, "error") {
        Some(error) => OAuthError::Refused {
            url: url.to_owned(),
            error: error.to_owned(),
            description: describe(str_field(v, "error_description")),
        },
        None => {
            OAuthError::Server { url: url.to_owned(), status, detail: "no error code in the answer".into() }
        }
    }
}

/// Time as the poller sees it; tests substitute a clock that does not really sleep.
pub trait Clock {
    /// Now.
    fn now(&self) -> Instant;
    /// Waits `d`.
    fn sleep(&mut self, d: Duration);
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// What one poll learned.
#[derive(Debug)]
pub enum Poll {
    /// Signed in.
    Done(Tokens),
    /// `authorization_pending`.
    Pending,
    /// `slow_down`.
    SlowDown,
}

/// Reads one answer of the token endpoint during device polling (RFC 8628 section 3.5).
pub fn classify(
    url: &str,
    account: &str,
    expires_in: Duration,
    status: u16,
    v: &Value,
) -> Result<Poll, OAuthError> {
    if status == 200 {
        return Tokens::from_json(url, status, v).map(Poll::Done);
    }
    match str_field(v, "error") {
        Some("authorization_pending") => Ok(Poll::Pending),
        Some("slow_down") => Ok(Poll::SlowDown),
        Some("expired_token" | "code_expired") => {
            Err(OAuthError::Expired { account: account.to_owned(), secs: expires_in.as_secs() })
        }
        _ => Err(refusal(url, status, v)),
    }
}

/// Polls with `token_request` (one POST to the token endpoint) until done, following the rules above.
/// `on_wait` is told the interval before each wait (for a spinner, or a log line).
pub fn poll(
    code: &DeviceCode,
    account: &str,
    url: &str,
    clock: &mut dyn Clock,
    mut token_request: impl FnMut() -> Result<(u16, Value), OAuthError>,
    mut on_wait: impl FnMut(Duration),
) -> Result<Tokens, OAuthError> {
    let deadline = clock.now() + code.expires_in;
    let mut interval = code.interval;
    loop {
        if clock.now() + interval > deadline {
            return Err(OAuthError::Expired { account: account.to_owned(), secs: code.expires_in.as_secs() });
        }
        on_wait(interval);
        clock.sleep(interval);
        let (status, v) = token_request()?;
        match classify(url, account, code.expires_in, status, &v)? {
            Poll::Done(tokens) => return Ok(tokens),
            Poll::Pending => {}
            Poll::SlowDown => {
                interval += SLOW_DOWN_STEP;
                tracing::info!(
                    interval_secs = interval.as_secs(),
                    "the sign-in server asked to poll more slowly"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use serde_json::json;

    use super::*;

    struct FakeClock {
        start: Instant,
        elapsed: Duration,
        sleeps: Vec<u64>,
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.start + self.elapsed
        }
        fn sleep(&mut self, d: Duration) {
            self.elapsed += d;
            self.sleeps.push(d.as_secs());
        }
    }

    fn code(interval: u64, expires: u64) -> DeviceCode {
        DeviceCode {
            device_code: Secret::new("dev".into()),
            user_code: "ABCD-EFGH".into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            expires_in: Duration::from_secs(expires),
            interval: Duration::from_secs(interval),
        }
    }

    fn run(c: &DeviceCode, answers: Vec<(u16, Value)>) -> (Result<Tokens, OAuthError>, Vec<u64>, usize) {
        let mut clock = FakeClock { start: Instant::now(), elapsed: Duration::ZERO, sleeps: Vec::new() };
        let mut answers: VecDeque<(u16, Value)> = answers.into();
        let mut polls = 0;
        let r = poll(
            c,
            "w",
            "http://t/token",
            &mut clock,
            || {
                polls += 1;
                Ok(answers.pop_front().unwrap_or((400, json!({"error": "authorization_pending"}))))
            },
            |_| {},
        );
        (r, clock.sleeps, polls)
    }

    fn pending() -> (u16, Value) {
        (400, json!({"error": "authorization_pending", "error_description": "AADSTS70016: pending"}))
    }

    #[test]
    fn pending_keeps_the_interval_and_slow_down_adds_five_seconds() {
        let ok = (
            200,
            json!({"token_type": "Bearer", "access_token": "at", "refresh_token": "rt", "expires_in": 3599}),
        );
        let (r, sleeps, polls) =
            run(&code(2, 900), vec![pending(), (400, json!({"error": "slow_down"})), pending(), ok]);
        let t = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.access_token.expose(), "at");
        assert_eq!(t.refresh_token.as_ref().map(|r| r.expose().as_str()), Some("rt"));
        assert_eq!(t.expires_in, Duration::from_secs(3599));
        assert_eq!(sleeps, vec![2, 2, 7, 7]);
        assert_eq!(polls, 4);
    }

    #[test]
    fn the_deadline_stops_polling_before_it_passes() {
        let (r, sleeps, polls) = run(&code(5, 12), vec![]);
        assert!(matches!(r, Err(OAuthError::Expired { secs: 12, .. })), "{r:?}");
        assert_eq!(sleeps, vec![5, 5]);
        assert_eq!(polls, 2);
    }

    #[test]
    fn expired_token_and_denials_stop_at_once() {
        let (r, _, polls) = run(&code(1, 900), vec![(400, json!({"error": "expired_token"}))]);
        assert!(matches!(r, Err(OAuthError::Expired { .. })), "{r:?}");
        assert_eq!(polls, 1);
        for denial in ["access_denied", "authorization_declined", "bad_verification_code"] {
            let (r, _, polls) = run(
                &code(1, 900),
                vec![
                    pending(),
                    (400, json!({"error": denial, "error_description": "the user said no\r\nTrace ID: x"})),
                ],
            );
            let e = r.map(|_| ()).map_err(|e| e.to_string()).err().unwrap_or_default();
            assert_eq!(e, format!("sign-in refused by http://t/token: {denial}: the user said no"));
            assert_eq!(polls, 2);
        }
    }

    #[test]
    fn token_answers_are_checked() {
        let e = Tokens::from_json("u", 200, &json!({"token_type": "mac", "access_token": "x"}));
        assert!(matches!(e, Err(OAuthError::Server { .. })));
        let e = Tokens::from_json("u", 200, &json!({"token_type": "Bearer"}));
        assert!(matches!(e, Err(OAuthError::Server { .. })));
        let t = Tokens::from_json("u", 200, &json!({"access_token": "x", "expires_in": "60"}));
        assert_eq!(
            t.map(|t| (t.expires_in, t.refresh_token.is_none())).ok(),
            Some((Duration::from_secs(60), true))
        );
        let e = classify("u", "w", Duration::ZERO, 500, &json!({"oops": 1}));
        assert!(matches!(e, Err(OAuthError::Server { status: 500, .. })), "{e:?}");
    }
}
