//! Descriptors this process opens on the database file and its `-wal` / `-shm` companions by itself (to see
//! what a path holds, to tighten a mode, to hold an account lock) are never closed while the process runs.
//!
//! Why: a POSIX advisory lock belongs to a process and a file, not to a descriptor, and closing *any*
//! descriptor of a file drops every lock the process holds on it, SQLite's own among them (in WAL mode its
//! SHARED lock on the database, and its locks on the `-shm`). Another process's connection, closing, then
//! takes itself for the last one, checkpoints and deletes the WAL under our open connection: every later
//! commit of ours goes to a deleted file, unseen by anyone else and lost if we crash (SQLite's "How To Corrupt
//! An SQLite Database File", section 2.2). `mailsync watch` keeps a store open for days while it takes and
//! releases locks, which is exactly that.
//!
//! Owns: a process-wide shelf of such descriptors, by file (device and inode) and access, handed out again
//! before a new one is opened, so a process holds as many as it ever used at once. Must never: close a
//! descriptor it opened; hand one descriptor to two holders at once.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Mutex;

use nix::libc;

/// How a descriptor is opened. Every open is non-blocking and takes no controlling terminal (a path swapped
/// for a FIFO or a device between a check and the open neither hangs nor adopts a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// Read-only, following a symlink.
    Read,
    /// Read-only, refusing a symlink at the last component (`O_NOFOLLOW`).
    ReadNoFollow,
    /// Read and write (to hold a write lock), following a symlink.
    ReadWrite,
}

/// Which descriptors may stand in for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    dev: u64,
    ino: u64,
    how: How,
}

/// Descriptors not in use, for the next holder.
static SHELF: Mutex<Vec<(Key, File)>> = Mutex::new(Vec::new());

/// A descriptor lent out; back on the shelf when dropped (never closed).
#[derive(Debug)]
pub(crate) struct Held {
    file: Option<File>,
    key: Key,
}

impl Deref for Held {
    type Target = File;

    fn deref(&self) -> &File {
        // Present from creation until drop.
        self.file.as_ref().unwrap_or_else(|| unreachable!("a held descriptor is present until dropped"))
    }
}

impl Held {
    /// Keeps the descriptor out of the shelf for good (it still holds something that must not be shared,
    /// e.g. a lock that could not be released); it stays open until the process ends.
    pub(crate) fn retire(mut self) {
        if let Some(f) = self.file.take() {
            std::mem::forget(f);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let mut shelf = SHELF.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            shelf.push((self.key, file));
        }
    }
}

/// A descriptor on the file at `path`, from the shelf when one for the same file and access is there, else
/// newly opened.
pub(crate) fn open(path: &Path, how: How) -> io::Result<Held> {
    let meta = match how {
        How::ReadNoFollow => std::fs::symlink_metadata(path),
        How::Read | How::ReadWrite => std::fs::metadata(path),
    };
    if let Ok(meta) = meta {
        let key = Key { dev: meta.dev(), ino: meta.ino(), how };
        let mut shelf = SHELF.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = shelf.iter().position(|(k, _)| *k == key) {
            let (key, file) = shelf.swap_remove(i);
            return Ok(Held { file: Some(file), key });
        }
    }
    let mut options = OpenOptions::new();
    options.read(true);
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    match how {
        How::Read => {}
        How::ReadNoFollow => flags |= libc::O_NOFOLLOW,
        How::ReadWrite => {
            options.write(true);
        }
    }
    let file = options.custom_flags(flags).open(path)?;
    adopt(file, how)
}

/// Takes a descriptor the caller opened (e.g. the one that created the file) into the shelf's care.
pub(crate) fn adopt(file: File, how: How) -> io::Result<Held> {
    let meta = file.metadata()?;
    Ok(Held { key: Key { dev: meta.dev(), ino: meta.ino(), how }, file: Some(file) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptors of this process on `path`.
    fn open_on(path: &Path) -> usize {
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return 0 };
        dir.filter_map(Result::ok).filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == path)).count()
    }

    #[test]
    fn descriptors_go_back_on_the_shelf_and_are_reused_not_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let first = open(&path, How::ReadWrite).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&*first);
        drop(first);
        let again = open(&path, How::ReadWrite).unwrap();
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&*again), fd, "the same descriptor is lent again");
        // Two holders at once get two descriptors; afterwards both wait on the shelf.
        let other = open(&path, How::ReadWrite).unwrap();
        assert_ne!(std::os::fd::AsRawFd::as_raw_fd(&*other), fd);
        drop((again, other));
        for _ in 0..50 {
            let a = open(&path, How::ReadWrite).unwrap();
            let b = open(&path, How::Read).unwrap();
            drop((a, b));
        }
        assert_eq!(open_on(&path), 3, "two read-write and one read-only, whatever the number of uses");
    }
}
