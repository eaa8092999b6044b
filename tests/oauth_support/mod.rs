//! Shared by the `oauth_*` and `check_*` end-to-end tests: a private Dovecot with the oauth2 passdb (and on
//! request LMTP plus a private Postfix), an account file pointing at them, the real `mailsync` binary, and a
//! scripted OAuth2 identity endpoint on 127.0.0.1 that plays the Microsoft v2.0 device-code and token
//! endpoints from a script of answers, recording every request and when it came.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mailsync_testkit::{Dovecot, DovecotOptions, Postfix, Profile};

pub const USER: &str = "alice@example.test";
pub const PW_ENV: &str = "MAILSYNC_OAUTH_TEST_PASSWORD";

/// A Dovecot (oauth2 passdb on), optionally a Postfix, and a scratch directory for config, DB and tokens.
pub struct World {
    pub dovecot: Dovecot,
    pub postfix: Option<Postfix>,
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new(profile: Profile, with_postfix: bool) -> World {
        World::with(DovecotOptions { profile, ..DovecotOptions::default() }, with_postfix)
    }

    /// Like [`World::new`], with more of the instance's options (oauth2 and, for Postfix, lmtp are set here).
    pub fn with(options: DovecotOptions, with_postfix: bool) -> World {
        let dovecot = Dovecot::start(DovecotOptions { oauth2: true, lmtp: with_postfix, ..options })
            .unwrap_or_else(|e| panic!("start dovecot: {e}"));
        let postfix =
            with_postfix.then(|| Postfix::start(&dovecot).unwrap_or_else(|e| panic!("start postfix: {e}")));
        World { dovecot, postfix, dir: tempfile::tempdir().unwrap() }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("data").join("mail.db")
    }

    pub fn token_file(&self, account: &str) -> PathBuf {
        self.dir.path().join("data").join("tokens").join(format!("{account}.json"))
    }

    pub fn password(&self) -> String {
        self.dovecot.password("alice").to_string()
    }

    /// A fresh valid token for alice, signed with the instance's key.
    pub fn token(&self) -> String {
        self.dovecot.mint_token("alice", Duration::from_secs(3600))
    }

    /// `[accounts.t.imap]` etc. pointing at the harness: IMAPS, POP3 with STLS, SMTP submission with STARTTLS.
    pub fn endpoints(&self) -> String {
        let p = self.dovecot.ports();
        let mut s = format!(
            "[accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = 5\n\n\
             [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout = 5\n",
            p.imaps, p.pop3
        );
        if let Some(pf) = &self.postfix {
            s.push_str(&format!(
                "\n[accounts.t.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout = 5\n",
                pf.submission_port()
            ));
        }
        s
    }

    /// Writes account `t`: `head` lines in the account table (auth, secrets, client_id...), then `tables`.
    pub fn write(&self, head: &str, tables: &str) {
        let text = format!(
            "[accounts.t]\nuser = \"{USER}\"\nca_file = \"{}\"\n{head}\n\n{tables}",
            self.dovecot.ca_file().display()
        );
        std::fs::write(self.config(), text).unwrap();
    }

    /// A password account on every endpoint.
    pub fn write_password_account(&self) {
        self.write(&format!("auth = \"password\"\npassword_env = \"{PW_ENV}\""), &self.endpoints());
    }

    /// Runs `mailsync --config .. --db .. ARGS` with the password in the environment.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[(PW_ENV, &self.password())])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailsync"));
        c.arg("--config").arg(self.config()).arg("--db").arg(self.db()).args(args).env_remove("RUST_LOG");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run mailsync")
    }
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The `check --json` step object for (protocol, step).
pub fn step<'a>(lines: &'a [serde_json::Value], protocol: &str, name: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|v| v["protocol"] == protocol && v["step"] == name)
        .unwrap_or_else(|| panic!("no step {protocol} {name} in {lines:#?}"))
}

/// One request the scripted identity endpoint received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub form: Vec<(String, String)>,
}

impl Seen {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A scripted OAuth2 endpoint: each request gets the next `(status, JSON body)` answer of the script.
pub struct IdentityServer {
    port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<Mutex<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl IdentityServer {
    pub fn start(script: Vec<(u16, serde_json::Value)>) -> IdentityServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(Mutex::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut script: VecDeque<(u16, serde_json::Value)> = script.into();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !*stop2.lock().unwrap() && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => {
                        let answer = script.pop_front().unwrap_or((
                            500,
                            serde_json::json!({"error": "server_error", "error_description": "script exhausted"}),
                        ));
                        if let Some(req) = serve(s, answer) {
                            seen2.lock().unwrap().push(req);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        IdentityServer { port, seen, stop, thread: Some(thread) }
    }

    pub fn authority(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for IdentityServer {
    fn drop(&mut self) {
        *self.stop.lock().unwrap() = true;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request (form body by Content-Length) and writes the answer; closes the connection.
fn serve(s: TcpStream, (status, body): (u16, serde_json::Value)) -> Option<Seen> {
    s.set_nonblocking(false).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let at = Instant::now();
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    let path = first.split_whitespace().nth(1)?.to_string();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let t = h.trim_end();
        if t.is_empty() {
            break;
        }
        if let Some((k, v)) = t.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut raw = vec![0; len];
    r.read_exact(&mut raw).ok()?;
    let form = url_decode_form(&String::from_utf8_lossy(&raw));
    let text = body.to_string();
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let mut w = s;
    let _ = write!(
        w,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = w.flush();
    Some(Seen { at, path, form })
}

fn url_decode_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The device authorization answer the scripts start with.
pub fn device_code(interval: u64, expires_in: u64) -> (u16, serde_json::Value) {
    (
        200,
        serde_json::json!({
            "device_code": "DEVICE-CODE-never-shown",
            "user_code": "WXYZ-1234",
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": expires_in,
            "interval": interval,
            "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code WXYZ-1234 to authenticate."
        }),
    )
}

pub fn pending() -> (u16, serde_json::Value) {
    (
        400,
        serde_json::json!({"error": "authorization_pending", "error_description": "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.\r\nTrace ID: 1\r\nCorrelation ID: 2"}),
    )
}

pub fn error(code: &str, description: &str) -> (u16, serde_json::Value) {
    (400, serde_json::json!({"error": code, "error_description": description}))
}

pub fn granted(access: &str, refresh: &str, expires_in: u64) -> (u16, serde_json::Value) {
    (
        200,
        serde_json::json!({
            "token_type": "Bearer",
            "scope": "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access,
            "refresh_token": refresh
        }),
    )
}
