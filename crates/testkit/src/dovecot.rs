//! One private Dovecot instance: start, ports, CA, logs, stop; optionally its oauth2 passdb (XOAUTH2 with
//! locally signed tokens) and an LMTP listener plus SASL socket for a private Postfix.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::certs::TestCa;
use crate::config::{render, render_oauth2, ConfigInput, Profile};
use crate::oauth2;
use crate::system::{binaries, chown_tree, free_port, identity, Binaries, Identity};
use crate::HarnessError;

/// How to start an instance.
#[derive(Debug, Clone)]
pub struct DovecotOptions {
    /// Which capabilities IMAP advertises.
    pub profile: Profile,
    /// `(user, password)` pairs; each gets an empty Maildir.
    pub users: Vec<(String, String)>,
    /// Adds the `oauth2` passdb: XOAUTH2 and OAUTHBEARER logins with tokens from [`Dovecot::mint_token`]
    /// (and, in the Outlook profile, AUTH=XOAUTH2 in the capability list where Exchange has it).
    pub oauth2: bool,
    /// Adds an LMTP listener on 127.0.0.1 and an auth socket for SASL: what [`crate::Postfix`] needs.
    pub lmtp: bool,
    /// Records every IMAP and POP3 session after login in Dovecot's rawlog (`rawlog_dir`), read back with
    /// [`Dovecot::rawlogs`]: what the server itself saw and sent, to compare a client's trace with.
    pub rawlog: bool,
}

impl Default for DovecotOptions {
    fn default() -> Self {
        DovecotOptions {
            profile: Profile::Dovecot,
            users: vec![("alice".into(), "alice-secret-1".into())],
            oauth2: false,
            lmtp: false,
            rawlog: false,
        }
    }
}

impl DovecotOptions {
    /// The default single user under the given profile.
    pub fn with_profile(profile: Profile) -> Self {
        DovecotOptions { profile, ..DovecotOptions::default() }
    }
}

/// The four listeners, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// IMAP with implicit TLS (993's role).
    pub imaps: u16,
    /// IMAP in the clear, offering STARTTLS (143's role).
    pub imap: u16,
    /// POP3 with implicit TLS (995's role).
    pub pop3s: u16,
    /// POP3 in the clear, offering STLS (110's role).
    pub pop3: u16,
    /// LMTP in the clear, when the instance was started with `lmtp: true`.
    pub lmtp: Option<u16>,
}

/// A running private Dovecot. Dropping it stops every process it started.
#[derive(Debug)]
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Option<Child>,
    ports: Ports,
    ca: TestCa,
    profile: Profile,
    users: Vec<(String, String)>,
    pub(crate) oauth2: bool,
    pub(crate) oauth2_key: Vec<u8>,
    pub(crate) bins: Binaries,
    pub(crate) ident: Identity,
}

/// Where `rawlog_dir` points, under the instance directory: one subdirectory per user.
pub(crate) const RAWLOG_DIR: &str = "rawlog";

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(15);

impl Dovecot {
    /// Starts an instance with one user, `alice`, under Dovecot's own capability profile.
    pub fn start_default() -> Result<Dovecot, HarnessError> {
        Dovecot::start(DovecotOptions::default())
    }

    /// Starts an instance: fresh directory, CA, config and users; retries on a port taken in the meantime.
    pub fn start(opts: DovecotOptions) -> Result<Dovecot, HarnessError> {
        let bins = binaries()?;
        let ident = identity()?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Dovecot::try_start(&opts, bins.clone(), ident.clone()) {
                Ok(d) => return Ok(d),
                Err(HarnessError::Start { reason, log }) if log.contains("Address already in use") => {
                    last = Some(HarnessError::Start { reason, log });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(HarnessError::Start { reason: "no attempt made".into(), log: String::new() }))
    }

    fn try_start(opts: &DovecotOptions, bins: Binaries, ident: Identity) -> Result<Dovecot, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("mailsync-dovecot-")
            .tempdir()
            .map_err(HarnessError::io("creating temp dir", std::env::temp_dir()))?;
        let root = dir.path().to_path_buf();
        // Dovecot's unprivileged processes must be able to traverse to their files.
        set_mode(&root, 0o755)?;
        for sub in ["run", "state", "log", "tls", "home"] {
            mkdir(&root.join(sub))?;
        }
        let ca = TestCa::generate(&format!("mailsync test CA {}", std::process::id()))?;
        write(&root.join("tls/ca.pem"), ca.ca_pem.as_bytes())?;
        write(&root.join("tls/server.pem"), ca.server_cert_pem.as_bytes())?;
        write(&root.join("tls/server.key"), ca.server_key_pem.as_bytes())?;
        set_mode(&root.join("tls/server.key"), 0o600)?;
        let passwd: String = opts.users.iter().map(|(u, p)| format!("{u}:{{PLAIN}}{p}::::::\n")).collect();
        write(&root.join("passwd"), passwd.as_bytes())?;
        for (user, _) in &opts.users {
            let home = root.join("home").join(user);
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(home.join("Maildir").join(sub))
                    .map_err(HarnessError::io("creating", &home))?;
            }
            chown_tree(&home, ident.mail_uid, ident.mail_gid)?;
            set_mode(&home, 0o700)?;
            if opts.rawlog {
                // Written by the post-login process, which runs as the mail user.
                let dir = root.join(RAWLOG_DIR).join(user);
                fs::create_dir_all(&dir).map_err(HarnessError::io("creating", &dir))?;
                chown_tree(&dir, ident.mail_uid, ident.mail_gid)?;
                set_mode(&dir, 0o700)?;
            }
        }
        let oauth2_key = oauth2::new_key()?;
        if opts.oauth2 {
            let key_file = oauth2::key_file(&root);
            let mut dir = root.join(oauth2::KEY_DIR);
            mkdir(&dir)?;
            for sub in ["default", "HS256"] {
                dir = dir.join(sub);
                mkdir(&dir)?;
            }
            write(&key_file, oauth2::key_file_content(&oauth2_key).as_bytes())?;
            write(&root.join("oauth2.conf"), render_oauth2(&root.join(oauth2::KEY_DIR)).as_bytes())?;
        }
        let ports = Ports {
            imaps: free_port()?,
            imap: free_port()?,
            pop3s: free_port()?,
            pop3: free_port()?,
            lmtp: if opts.lmtp { Some(free_port()?) } else { None },
        };
        let instance = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let conf = render(&ConfigInput {
            dir: &root,
            instance: &instance,
            mail_uid: ident.mail_uid,
            mail_gid: ident.mail_gid,
            login_user: &ident.login_user,
            internal_user: &ident.internal_user,
            imap: ports.imap,
            imaps: ports.imaps,
            pop3: ports.pop3,
            pop3s: ports.pop3s,
            profile: opts.profile,
            oauth2: opts.oauth2,
            lmtp: ports.lmtp,
            rawlog: opts.rawlog,
        });
        let conf_path = root.join("dovecot.conf");
        write(&conf_path, conf.as_bytes())?;
        let child = launch(&bins, &root, &conf_path)?;
        let mut d = Dovecot {
            dir,
            child: Some(child),
            ports,
            ca,
            profile: opts.profile,
            users: opts.users.clone(),
            oauth2: opts.oauth2,
            oauth2_key,
            bins,
            ident,
        };
        d.wait_ready()?;
        Ok(d)
    }

    /// Stops the instance (every connection is cut, as when a server restarts) and starts it again with the
    /// same configuration, ports, certificate and mail.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.shutdown();
        let root = self.dir.path().to_path_buf();
        let mut last = None;
        // The ports were just released; give the kernel a moment if a listener is still closing.
        for _ in 0..START_ATTEMPTS {
            self.child = Some(launch(&self.bins, &root, &root.join("dovecot.conf"))?);
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.shutdown();
                    last = Some(e);
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        Err(last.unwrap_or(HarnessError::Start { reason: "no attempt made".into(), log: String::new() }))
    }

    fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut ports = vec![self.ports.imaps, self.ports.imap, self.ports.pop3s, self.ports.pop3];
        ports.extend(self.ports.lmtp);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(HarnessError::Start {
                        reason: format!("master exited: {status}"),
                        log: self.log(),
                    });
                }
            }
            // The TCP listeners, and the unix sockets through which logins and doveadm reach the auth
            // service: under load the latter can lag behind the former.
            let run = self.dir.path().join("run");
            let sockets_up = ["auth-userdb", "auth-login", "auth-master"]
                .iter()
                .all(|s| std::os::unix::net::UnixStream::connect(run.join(s)).is_ok());
            if sockets_up && ports.iter().all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Start {
                    reason: "listeners not up after 15 s".into(),
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The listeners.
    pub fn ports(&self) -> Ports {
        self.ports
    }
    /// The capability profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }
    /// The CA certificate file to trust (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }
    /// The CA and server certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }
    /// The instance's directory (config, logs, Maildirs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// The SASL socket a private Postfix asks about logins (`smtpd_sasl_type = dovecot`); it exists when the
    /// instance was started with `lmtp: true`.
    pub fn auth_socket(&self) -> PathBuf {
        self.dir.path().join("run/auth-client")
    }
    /// The generated `dovecot.conf`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }
    /// `user`'s password.
    pub fn password(&self, user: &str) -> &str {
        self.users.iter().find(|(u, _)| u == user).map(|(_, p)| p.as_str()).unwrap_or("")
    }
    /// `user`'s Maildir root.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user).join("Maildir")
    }
    /// The master's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
    /// Dovecot's log and the master's own output so far.
    pub fn log(&self) -> String {
        let read = |p: &str| fs::read_to_string(self.dir.path().join(p)).unwrap_or_default();
        let mut s = read("log/master.out");
        s.push_str(&read("log/dovecot.log"));
        s
    }

    /// Every process still alive in this instance's process group.
    pub fn processes(&self) -> Vec<u32> {
        match self.pid() {
            Some(pgid) => processes_in_group(pgid),
            None => Vec::new(),
        }
    }

    /// Stops the instance and waits until none of its processes is left; returns the group id it had.
    pub fn stop(mut self) -> Option<u32> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Option<u32> {
        let mut child = self.child.take()?;
        let pgid = child.id();
        let pid = Pid::from_raw(i32::try_from(pgid).ok()?);
        let _ = kill(pid, Signal::SIGTERM);
        // The master lingers while clients are connected; a test server gets a short grace, then the group goes.
        let deadline = Instant::now() + Duration::from_millis(300);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Whatever is left of the group (a stuck master, an orphaned worker) goes now.
        let _ = killpg(pid, Signal::SIGKILL);
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !processes_in_group(pgid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(pgid)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Process ids whose process group is `pgid`, from /proc (zombies excluded).
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // Fields after the ")" that closes the command name: state, ppid, pgrp, ...
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return false };
            let mut f = rest.split_whitespace();
            let state = f.next();
            let pgrp = f.nth(1).and_then(|s| s.parse::<u32>().ok());
            state != Some("Z") && pgrp == Some(pgid)
        })
        .collect()
}

fn mkdir(p: &Path) -> Result<(), HarnessError> {
    fs::create_dir_all(p).map_err(HarnessError::io("creating", p))?;
    set_mode(p, 0o755)
}

fn write(p: &Path, data: &[u8]) -> Result<(), HarnessError> {
    fs::write(p, data).map_err(HarnessError::io("writing", p))?;
    set_mode(p, 0o644)
}

fn set_mode(p: &Path, mode: u32) -> Result<(), HarnessError> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(HarnessError::io("chmod", p))
}

/// Starts a Dovecot master in the foreground, in a process group of its own, its output in `log/master.out`.
fn launch(bins: &Binaries, root: &Path, conf_path: &Path) -> Result<Child, HarnessError> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("log/master.out"))
        .map_err(HarnessError::io("creating", root))?;
    let err = out.try_clone().map_err(HarnessError::io("creating", root))?;
    Command::new(&bins.dovecot)
        .arg("-F")
        .arg("-c")
        .arg(conf_path)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(HarnessError::io("starting", &bins.dovecot))
}
