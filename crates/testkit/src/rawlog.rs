//! Dovecot's own record of a session (`rawlog_dir`, enabled with [`crate::DovecotOptions::rawlog`]): what
//! the server read and wrote, to hold a client's protocol trace against.
//!
//! Owns: finding an instance's rawlog files and turning each back into the bytes of the session. Facts
//! measured on Dovecot 2.3.19 (TESTING.md "Rawlog"): only the post-login process writes them, so a session
//! starts with the login's answer (`A0001 OK ... Logged in`, `+OK Logged in.`) and the client's first command
//! after it; the login itself (greeting, CAPABILITY, LOGIN, AUTHENTICATE, USER, PASS) is never there. Files
//! are `YYYYMMDD-HHMMSS.PID.N.in` (from the client) and `.out` (to it); every line, literal lines too, starts
//! with `SECONDS.MICROSECONDS ` and keeps its own line end.
//!
//! Must never: read anything outside the instance directory.

use std::fs;
use std::path::Path;

use crate::dovecot::RAWLOG_DIR;
use crate::{Dovecot, HarnessError};

/// One post-login session as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rawlog {
    /// The file name without `.in` / `.out`.
    pub name: String,
    /// What the client sent, timestamps removed.
    pub input: Vec<u8>,
    /// What the server sent, timestamps removed.
    pub output: Vec<u8>,
}

impl Dovecot {
    /// Every rawlog session of `user` so far, oldest first (needs [`crate::DovecotOptions::rawlog`]).
    pub fn rawlogs(&self, user: &str) -> Result<Vec<Rawlog>, HarnessError> {
        let dir = self.dir().join(RAWLOG_DIR).join(user);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .map_err(HarnessError::io("reading", &dir))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".in").map(str::to_owned))
            .collect();
        names.sort_by_key(|n| session_order(n));
        names
            .into_iter()
            .map(|name| {
                let input = untimed(&read(&dir.join(format!("{name}.in")))?);
                let output = untimed(&read(&dir.join(format!("{name}.out")))?);
                Ok(Rawlog { name, input, output })
            })
            .collect()
    }
}

fn read(p: &Path) -> Result<Vec<u8>, HarnessError> {
    fs::read(p).map_err(HarnessError::io("reading", p))
}

/// `YYYYMMDD-HHMMSS.PID.N` sorts by time, then by process id as a number, then by N.
fn session_order(name: &str) -> (String, u64, u64) {
    let mut parts = name.split('.');
    let time = parts.next().unwrap_or_default().to_owned();
    let mut num = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (time, num(), num())
}

/// The session's bytes: each line without its leading `SECONDS.MICROSECONDS `.
pub fn untimed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(strip_stamp(line));
    }
    out
}

fn strip_stamp(line: &[u8]) -> &[u8] {
    let Some(space) = line.iter().position(|b| *b == b' ') else { return line };
    let stamp = &line[..space];
    let is_stamp = stamp.iter().filter(|b| **b == b'.').count() == 1
        && stamp.iter().all(|b| b.is_ascii_digit() || *b == b'.');
    if is_stamp {
        &line[space + 1..]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_go_and_everything_else_stays() {
        // (file content, session bytes)
        let rows: &[(&[u8], &[u8])] = &[
            (b"1796563553.538749 o2 EXAMINE \"INBOX\"\r\n", b"o2 EXAMINE \"INBOX\"\r\n"),
            (b"1796563553.539355 Subject: a\r\n1796563553.539355 \r\n", b"Subject: a\r\n\r\n"),
            (b"1796563553.539358 )\r\n1796563553.6 x", b")\r\nx"),
            (b"no stamp here\n12.5.3 three dots\n", b"no stamp here\n12.5.3 three dots\n"),
        ];
        for (raw, want) in rows {
            assert_eq!(untimed(raw), want.to_vec(), "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn sessions_sort_by_time_then_pid_as_numbers() {
        let mut names = vec!["20261206-132553.10.1", "20261206-132553.9.2", "20261206-132553.9.1"];
        names.sort_by_key(|n| session_order(n));
        assert_eq!(names, ["20261206-132553.9.1", "20261206-132553.9.2", "20261206-132553.10.1"]);
    }
}
