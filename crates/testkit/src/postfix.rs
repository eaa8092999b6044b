//! A private Postfix for SMTP submission tests: STARTTLS required, SASL through a private Dovecot's auth
//! socket, and delivery by LMTP into that Dovecot, so that a message sent is a message in the mailbox.
//!
//! Owns its own config directory (`main.cf`, `master.cf`), queue and data directories under a temp dir, one
//! submission listener on a free 127.0.0.1 port (`smtpd_tls_security_level = encrypt`,
//! `smtpd_tls_auth_only = yes`), the start-up (`postfix -c DIR start-fg`, which waits for the master) in its
//! own process group, and stopping every process of it when dropped: the master makes itself a session of its
//! own (`setsid`), so its group is found through `queue/pid/master.pid` and ended as well. The server certificate is the Dovecot
//! instance's, so a client trusts one CA for IMAP, POP3 and SMTP. Facts behind the settings: TESTING.md
//! "A real SMTP server for `check`" (Postfix 3.7 on Debian bookworm).
//!
//! Must never: listen anywhere but 127.0.0.1, read or write /etc/postfix's main.cf or the system queue, relay
//! to the outside (every domain is delivered to the Dovecot by LMTP), or leave a process behind.
//!
//! RFC 6409 (message submission), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 2033 (LMTP).

use std::fmt::Write as _;
use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{Pid, User};

use crate::dovecot::processes_in_group;
use crate::system::free_port;
use crate::{Dovecot, HarnessError};

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running private Postfix. Dropping it stops every process it started.
#[derive(Debug)]
pub struct Postfix {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    ca_file: PathBuf,
}

/// What the configuration needs.
struct Input<'a> {
    root: &'a Path,
    port: u16,
    lmtp: u16,
    auth_socket: &'a Path,
    mail_owner: &'a str,
}

impl Postfix {
    /// Starts a Postfix that authenticates and delivers through `dovecot`, which must have been started with
    /// `lmtp: true`. Retries with another port if the one picked was taken in the meantime.
    pub fn start(dovecot: &Dovecot) -> Result<Postfix, HarnessError> {
        let postfix = find_postfix()?;
        let Some(lmtp) = dovecot.ports().lmtp else {
            return Err(HarnessError::System(
                "Postfix needs a Dovecot started with DovecotOptions { lmtp: true, .. }".into(),
            ));
        };
        let owner = User::from_name("postfix")
            .map_err(|e| HarnessError::System(e.to_string()))?
            .ok_or_else(|| HarnessError::System("no `postfix` system user (is postfix installed?)".into()))?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Postfix::try_start(&postfix, dovecot, lmtp, &owner) {
                Ok(p) => return Ok(p),
                Err(HarnessError::Start { reason, log }) if log.contains("Address already in use") => {
                    last = Some(HarnessError::Start { reason, log });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(HarnessError::Start { reason: "no attempt made".into(), log: String::new() }))
    }

    fn try_start(
        postfix: &Path,
        dovecot: &Dovecot,
        lmtp: u16,
        owner: &User,
    ) -> Result<Postfix, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("mailsync-postfix-")
            .tempdir()
            .map_err(HarnessError::io("creating temp dir", std::env::temp_dir()))?;
        let root = dir.path().to_path_buf();
        set_mode(&root, 0o755)?;
        for sub in ["etc", "queue", "data", "log", "tls"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(HarnessError::io("creating", &p))?;
            set_mode(&p, 0o755)?;
        }
        // Postfix's own processes write their state here.
        let data = root.join("data");
        std::os::unix::fs::chown(&data, Some(owner.uid.as_raw()), Some(owner.gid.as_raw()))
            .map_err(HarnessError::io("chown", &data))?;
        let ca = &dovecot.ca();
        write(&root.join("tls/server.pem"), ca.server_cert_pem.as_bytes(), 0o644)?;
        write(&root.join("tls/server.key"), ca.server_key_pem.as_bytes(), 0o600)?;
        let port = free_port()?;
        let auth_socket = dovecot.auth_socket();
        let input = Input { root: &root, port, lmtp, auth_socket: &auth_socket, mail_owner: "postfix" };
        write(&root.join("etc/main.cf"), main_cf(&input).as_bytes(), 0o644)?;
        write(&root.join("etc/master.cf"), master_cf(&input).as_bytes(), 0o644)?;
        let out =
            fs::File::create(root.join("log/master.out")).map_err(HarnessError::io("creating", &root))?;
        let err = out.try_clone().map_err(HarnessError::io("creating", &root))?;
        let child = Command::new(postfix)
            .arg("-c")
            .arg(root.join("etc"))
            .arg("start-fg")
            .env("MAIL_CONFIG", root.join("etc"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(HarnessError::io("starting", postfix))?;
        let mut p = Postfix { dir, child: Some(child), port, ca_file: dovecot.ca_file() };
        p.wait_ready()?;
        Ok(p)
    }

    fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(HarnessError::Start {
                        reason: format!("postfix exited: {status}"),
                        log: self.log(),
                    });
                }
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(HarnessError::Start {
                    reason: "submission listener not up after 20 s".into(),
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The submission port on 127.0.0.1 (587's role: STARTTLS, then AUTH).
    pub fn submission_port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server certificate (the Dovecot instance's).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The instance's directory (`etc/`, `queue/`, `log/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The master's process id (also its process group), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref()?;
        let text = fs::read_to_string(self.dir.path().join("queue/pid/master.pid")).ok()?;
        text.trim().parse().ok()
    }

    /// Every process still alive of this instance: the start-up wrapper's group and the master's.
    pub fn processes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.child.as_ref().map(|c| processes_in_group(c.id())).unwrap_or_default();
        v.extend(self.pid().map(processes_in_group).unwrap_or_default());
        v
    }

    /// Postfix's log and the master's own output so far.
    pub fn log(&self) -> String {
        let read = |p: &str| fs::read_to_string(self.dir.path().join(p)).unwrap_or_default();
        let mut s = read("log/master.out");
        s.push_str(&read("log/postfix.log"));
        s
    }

    /// Waits until the queue is empty (every accepted message handed to LMTP or bounced), at most `limit`.
    pub fn wait_queue_empty(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let empty = ["incoming", "active", "deferred", "maildrop"].iter().all(|q| {
                let dir = self.dir.path().join("queue").join(q);
                count_files(&dir) == 0
            });
            if empty || Instant::now() > deadline {
                return empty;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the instance and waits until none of its processes is left; returns the master's process group.
    pub fn stop(mut self) -> Option<u32> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Option<u32> {
        let master = self.pid();
        let mut child = self.child.take()?;
        // The master stops its children on SIGTERM (and the waiting wrapper then ends); a short grace, then
        // whatever is left of either group goes.
        let groups: Vec<u32> = master.into_iter().chain([child.id()]).collect();
        for g in &groups {
            if let Ok(raw) = i32::try_from(*g) {
                let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_millis(1000);
        while Instant::now() < deadline && groups.iter().any(|g| !processes_in_group(*g).is_empty()) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for g in &groups {
            if let Ok(raw) = i32::try_from(*g) {
                let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
            }
        }
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while groups.iter().any(|g| !processes_in_group(*g).is_empty()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        master.or(groups.first().copied())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}

fn find_postfix() -> Result<PathBuf, HarnessError> {
    ["/usr/sbin/postfix", "/usr/bin/postfix", "/sbin/postfix"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            HarnessError::System(
                "postfix is not installed (/usr/sbin/postfix not found); install it with scripts/install-deps \
                 as root (it preseeds \"No configuration\" and never starts the system's Postfix)"
                    .into(),
            )
        })
}

fn main_cf(i: &Input<'_>) -> String {
    let d = i.root.display();
    let mut s = String::new();
    let _ = write!(
        s,
        "# Generated by mailsync-testkit for one test instance. Loopback only; every domain goes to Dovecot.\n\
         compatibility_level = 3.6\n\
         queue_directory = {d}/queue\n\
         data_directory = {d}/data\n\
         mail_owner = {owner}\n\
         setgid_group = postdrop\n\
         myhostname = localhost\n\
         mydomain = localdomain\n\
         mydestination =\n\
         mynetworks = 127.0.0.0/8\n\
         inet_interfaces = 127.0.0.1\n\
         inet_protocols = ipv4\n\
         alias_maps =\n\
         alias_database =\n\
         local_recipient_maps =\n\
         biff = no\n\
         relayhost =\n\
         maillog_file = {d}/log/postfix.log\n\
         maillog_file_prefixes = {d}\n\
         virtual_mailbox_domains = static:all\n\
         virtual_transport = lmtp:inet:127.0.0.1:{lmtp}\n\
         smtpd_sasl_type = dovecot\n\
         smtpd_sasl_path = {auth}\n\
         smtpd_tls_cert_file = {d}/tls/server.pem\n\
         smtpd_tls_key_file = {d}/tls/server.key\n\
         smtpd_tls_security_level = may\n\
         smtpd_relay_restrictions = permit_sasl_authenticated, reject\n\
         smtpd_recipient_restrictions = permit_sasl_authenticated, reject\n",
        owner = i.mail_owner,
        lmtp = i.lmtp,
        auth = i.auth_socket.display(),
    );
    s
}

fn master_cf(i: &Input<'_>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "# service type private unpriv chroot wakeup maxproc command\n\
         127.0.0.1:{port} inet n - n - - smtpd\n  \
         -o syslog_name=postfix/submission\n  \
         -o smtpd_tls_security_level=encrypt\n  \
         -o smtpd_tls_auth_only=yes\n  \
         -o smtpd_sasl_auth_enable=yes\n  \
         -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n",
        port = i.port
    );
    for line in [
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "tlsmgr unix - - n 1000? 1 tlsmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "proxywrite unix - - n - 1 proxymap",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "lmtp unix - - n - - lmtp",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ] {
        s.push_str(line);
        s.push('\n');
    }
    s
}

fn write(p: &Path, data: &[u8], mode: u32) -> Result<(), HarnessError> {
    fs::write(p, data).map_err(HarnessError::io("writing", p))?;
    set_mode(p, mode)
}

fn set_mode(p: &Path, mode: u32) -> Result<(), HarnessError> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(HarnessError::io("chmod", p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> (PathBuf, PathBuf) {
        (PathBuf::from("/t"), PathBuf::from("/d/run/auth-client"))
    }

    #[test]
    fn main_cf_delivers_everything_to_dovecot_and_stays_on_loopback() {
        let (root, auth) = input();
        let c = main_cf(&Input {
            root: &root,
            port: 2525,
            lmtp: 2424,
            auth_socket: &auth,
            mail_owner: "postfix",
        });
        for line in [
            "inet_interfaces = 127.0.0.1\n",
            "mydestination =\n",
            "relayhost =\n",
            "virtual_mailbox_domains = static:all\n",
            "virtual_transport = lmtp:inet:127.0.0.1:2424\n",
            "smtpd_sasl_type = dovecot\n",
            "smtpd_sasl_path = /d/run/auth-client\n",
            "queue_directory = /t/queue\n",
            "maillog_file_prefixes = /t\n",
        ] {
            assert!(c.contains(line), "missing {line:?} in\n{c}");
        }
    }

    #[test]
    fn submission_requires_tls_before_auth() {
        let (root, auth) = input();
        let c = master_cf(&Input {
            root: &root,
            port: 2525,
            lmtp: 2424,
            auth_socket: &auth,
            mail_owner: "postfix",
        });
        assert!(c.starts_with("# service"), "{c}");
        assert!(c.contains("\n127.0.0.1:2525 inet n - n - - smtpd\n"), "{c}");
        assert!(c.contains("-o smtpd_tls_security_level=encrypt\n"), "{c}");
        assert!(c.contains("-o smtpd_tls_auth_only=yes\n"), "{c}");
        assert!(!c.contains("\nsmtp inet"), "no port 25 listener: {c}");
        assert!(c.lines().filter(|l| l.contains(" inet ")).count() == 1, "{c}");
    }
}
