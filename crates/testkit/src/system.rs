//! The machine-level pieces: where Dovecot's binaries are, which system user serves the mail, free ports.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

use crate::HarnessError;

/// The dedicated system user that owns test Maildirs when the harness runs as root (Dovecot refuses uid 0).
pub(crate) const MAIL_USER: &str = "mailsync-test";

/// Paths of the Dovecot programs the harness runs.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub dovecot: PathBuf,
    pub doveadm: PathBuf,
}

pub(crate) fn binaries() -> Result<Binaries, HarnessError> {
    Ok(Binaries { dovecot: find("dovecot")?, doveadm: find("doveadm")? })
}

fn find(name: &'static str) -> Result<PathBuf, HarnessError> {
    let dirs =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    dirs.into_iter()
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(HarnessError::NotInstalled(name))
}

/// Who the mail processes run as, and who Dovecot's login and internal processes run as.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub mail_uid: u32,
    pub mail_gid: u32,
    pub login_user: String,
    pub internal_user: String,
}

/// As root: the dedicated `mailsync-test` user (created if missing) serves mail, `dovenull`/`dovecot` log in.
/// As anyone else: everything runs as the current user (Dovecot allows that for unprivileged instances).
pub(crate) fn identity() -> Result<Identity, HarnessError> {
    if Uid::effective().is_root() {
        let user = match User::from_name(MAIL_USER).map_err(|e| HarnessError::System(e.to_string()))? {
            Some(u) => u,
            None => create_mail_user()?,
        };
        Ok(Identity {
            mail_uid: user.uid.as_raw(),
            mail_gid: user.gid.as_raw(),
            login_user: existing_user_or("dovenull", MAIL_USER),
            internal_user: existing_user_or("dovecot", MAIL_USER),
        })
    } else {
        let uid = Uid::effective();
        let user = User::from_uid(uid)
            .map_err(|e| HarnessError::System(e.to_string()))?
            .ok_or_else(|| HarnessError::System(format!("no passwd entry for uid {uid}")))?;
        Ok(Identity {
            mail_uid: uid.as_raw(),
            mail_gid: Gid::effective().as_raw(),
            login_user: user.name.clone(),
            internal_user: user.name,
        })
    }
}

fn existing_user_or(name: &str, fallback: &str) -> String {
    match User::from_name(name) {
        Ok(Some(_)) => name.to_string(),
        _ => fallback.to_string(),
    }
}

fn create_mail_user() -> Result<User, HarnessError> {
    // Parallel tests may race to create it: "already exists" is success.
    let out = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", MAIL_USER])
        .output()
        .map_err(|e| HarnessError::System(format!("running useradd: {e}")))?;
    if !out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("already exists") {
        return Err(HarnessError::System(format!(
            "useradd {MAIL_USER}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let user = User::from_name(MAIL_USER).map_err(|e| HarnessError::System(e.to_string()))?;
    user.ok_or_else(|| HarnessError::System(format!("user {MAIL_USER} missing after useradd")))
}

/// A port on 127.0.0.1 that was free a moment ago. Start-up retries with new ports if another process takes it.
/// Never hands out the same port twice in one process, so that instances started at the same moment by
/// parallel tests cannot be given one port between them (the kernel may offer a just-probed port again).
pub(crate) fn free_port() -> Result<u16, HarnessError> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(HarnessError::io("binding a probe port", "127.0.0.1:0"))?;
        let port = l.local_addr().map_err(HarnessError::io("reading probe port", "127.0.0.1:0"))?.port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err(HarnessError::System("no free port on 127.0.0.1 after 100 tries".into()))
}

/// Gives `path` (recursively) to the mail user.
pub(crate) fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), HarnessError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(HarnessError::io("chown", path))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(HarnessError::io("reading", path))? {
            let entry = entry.map_err(HarnessError::io("reading", path))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}
