//! "Another device": changes made on the server behind the client's back, and the server's own view of a
//! mailbox, both through `doveadm` against the private instance.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{Dovecot, Flag, HarnessError};

/// A message as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMessage {
    /// Its IMAP UID.
    pub uid: u32,
    /// Its flags, sorted, without `\Recent` (which only says which session saw it first).
    pub flags: Vec<String>,
}

/// What `doveadm mailbox status` reports for a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStatus {
    /// Number of messages.
    pub messages: u32,
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// The next UID to be assigned.
    pub uidnext: u32,
}

impl Dovecot {
    /// Runs `doveadm -c <our config> <args>`, feeding `stdin`, and returns its standard output.
    pub fn doveadm(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, HarnessError> {
        let mut cmd = Command::new(&self.bins.doveadm);
        cmd.arg("-c").arg(self.config_path()).args(args);
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let fail = |e: std::io::Error| HarnessError::Doveadm { args: args.join(" "), stderr: e.to_string() };
        let mut child = cmd.spawn().map_err(fail)?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data).map_err(fail)?;
        }
        let out = child.wait_with_output().map_err(fail)?;
        if !out.status.success() {
            return Err(HarnessError::Doveadm {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Delivers `raw` into `folder` as a new message (like mail arriving, or another client's APPEND).
    pub fn save(&self, user: &str, folder: &str, raw: &[u8]) -> Result<(), HarnessError> {
        self.doveadm(&["save", "-u", user, "-m", folder], Some(raw)).map(drop)
    }

    /// Creates `folder`.
    pub fn create_folder(&self, user: &str, folder: &str) -> Result<(), HarnessError> {
        self.doveadm(&["mailbox", "create", "-u", user, folder], None).map(drop)
    }

    /// Deletes `folder` and everything in it.
    pub fn delete_folder(&self, user: &str, folder: &str) -> Result<(), HarnessError> {
        self.doveadm(&["mailbox", "delete", "-u", user, "-Z", folder], None).map(drop)
    }

    /// Renames `from` to `to`.
    pub fn rename_folder(&self, user: &str, from: &str, to: &str) -> Result<(), HarnessError> {
        self.doveadm(&["mailbox", "rename", "-u", user, from, to], None).map(drop)
    }

    /// Adds flags to the message with `uid` in `folder`.
    pub fn flags_add(&self, user: &str, folder: &str, uid: u32, flags: &[Flag]) -> Result<(), HarnessError> {
        self.flags_cmd("add", user, folder, uid, flags)
    }

    /// Removes flags from the message with `uid` in `folder`.
    pub fn flags_remove(
        &self,
        user: &str,
        folder: &str,
        uid: u32,
        flags: &[Flag],
    ) -> Result<(), HarnessError> {
        self.flags_cmd("remove", user, folder, uid, flags)
    }

    fn flags_cmd(
        &self,
        op: &str,
        user: &str,
        folder: &str,
        uid: u32,
        flags: &[Flag],
    ) -> Result<(), HarnessError> {
        let list = flags.iter().map(|f| f.imap()).collect::<Vec<_>>().join(" ");
        let uid = uid.to_string();
        self.doveadm(&["flags", op, "-u", user, &list, "mailbox", folder, "uid", &uid], None).map(drop)
    }

    /// Moves the message with `uid` from `from` to `to` (a new UID there, an expunge here).
    pub fn move_message(&self, user: &str, from: &str, uid: u32, to: &str) -> Result<(), HarnessError> {
        let uid = uid.to_string();
        self.doveadm(&["move", "-u", user, to, "mailbox", from, "uid", &uid], None).map(drop)
    }

    /// Expunges the message with `uid` from `folder`.
    pub fn expunge(&self, user: &str, folder: &str, uid: u32) -> Result<(), HarnessError> {
        let uid = uid.to_string();
        self.doveadm(&["expunge", "-u", user, "mailbox", folder, "uid", &uid], None).map(drop)
    }

    /// The folders the user has, as Dovecot names them (UTF-8).
    pub fn folders(&self, user: &str) -> Result<Vec<String>, HarnessError> {
        let out = self.doveadm(&["mailbox", "list", "-u", user], None)?;
        let mut v: Vec<String> = out.lines().map(str::to_string).filter(|l| !l.is_empty()).collect();
        v.sort();
        Ok(v)
    }

    /// Message count, UIDVALIDITY and UIDNEXT of `folder`.
    pub fn status(&self, user: &str, folder: &str) -> Result<FolderStatus, HarnessError> {
        let out = self.doveadm(
            &["-f", "flow", "mailbox", "status", "-u", user, "messages uidvalidity uidnext", folder],
            None,
        )?;
        let get = |key: &str| -> Result<u32, HarnessError> {
            out.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                .ok_or_else(|| HarnessError::Doveadm {
                    args: format!("mailbox status {folder}"),
                    stderr: out.clone(),
                })
        };
        Ok(FolderStatus {
            messages: get("messages")?,
            uidvalidity: get("uidvalidity")?,
            uidnext: get("uidnext")?,
        })
    }

    /// UIDs and flags of every message in `folder`, by UID.
    pub fn messages(&self, user: &str, folder: &str) -> Result<Vec<ServerMessage>, HarnessError> {
        let out =
            self.doveadm(&["-f", "tab", "fetch", "-u", user, "uid flags", "mailbox", folder, "all"], None)?;
        let mut v = Vec::new();
        for line in out.lines().skip(1) {
            let mut cols = line.splitn(2, '\t');
            let uid = cols.next().and_then(|u| u.trim().parse().ok());
            let Some(uid) = uid else { continue };
            let mut flags: Vec<String> = cols
                .next()
                .unwrap_or("")
                .split_whitespace()
                .filter(|f| *f != "\\Recent")
                .map(str::to_string)
                .collect();
            flags.sort();
            v.push(ServerMessage { uid, flags });
        }
        v.sort_by_key(|m| m.uid);
        Ok(v)
    }
}
