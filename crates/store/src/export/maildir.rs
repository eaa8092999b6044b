//! Maildir delivery for `export --format maildir`: `root/{tmp,new,cur}`, each message written to `tmp/` under
//! a unique name, then linked into `cur/` with its flags as the `:2,` info letters.
//!
//! Owns: creating the three directories (0700) and holding each open as a directory descriptor, so that every
//! later file operation is relative to a directory that was checked once, never to a path that could have
//! been swapped since; unique names (time, microseconds, pid, a counter, the host name); the flag letters.
//!
//! Must never: follow a symlink inside the Maildir (a `cur` or `tmp` that is a symlink, planted or left
//! behind, is refused: mail would land wherever it points; `root` itself is the user's `--to` and may be
//! one); overwrite a file (files are created `O_EXCL`, and moved into `cur/` with `link`, which fails on an
//! existing name, rather than `rename`, which replaces it); leave a file in `tmp/` after a delivery.
//!
//! Maildir: <https://cr.yp.to/proto/maildir.html> (names, tmp/cur/new, the `:2,` info flags D F P R S T);
//! RFC 3501 section 2.3.2 (the IMAP flags mapped).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode};
use nix::unistd::{linkat, unlinkat, UnlinkatFlags};
use time::OffsetDateTime;

use super::{create_dir, ExportError, DIR_MODE, FILE_MODE, MAX_TRIES};

/// The Maildir info for IMAP `flags`: `2,` then the letters D (\Draft), F (\Flagged), P ($Forwarded),
/// R (\Answered), S (\Seen), T (\Deleted), in ASCII order.
pub fn maildir_info(flags: &[String]) -> String {
    let mut letters = Vec::new();
    for f in flags {
        let letter = match f.to_ascii_lowercase().as_str() {
            "\\draft" => 'D',
            "\\flagged" => 'F',
            "$forwarded" => 'P',
            "\\answered" => 'R',
            "\\seen" => 'S',
            "\\deleted" => 'T',
            _ => continue,
        };
        letters.push(letter);
    }
    letters.sort_unstable();
    letters.dedup();
    format!("2,{}", letters.into_iter().collect::<String>())
}

/// A Maildir being written: `root/{tmp,new,cur}`, with `tmp` and `cur` held open.
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
    tmp: File,
    cur: File,
    host: String,
}

/// Deliveries by this process, for unique names.
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

impl Maildir {
    /// Opens `root` as a Maildir, creating it and its `tmp`, `new` and `cur` directories as needed. A `tmp`,
    /// `new` or `cur` that is a symlink (or not a directory) is refused.
    pub fn create(root: &Path) -> Result<Maildir, ExportError> {
        create_dir(root)?;
        let root_dir = open_dir(None, root, root, false)?;
        let mut subs = Vec::new();
        for sub in ["tmp", "new", "cur"] {
            let path = root.join(sub);
            match mkdirat(&root_dir, sub, Mode::from_bits_truncate(DIR_MODE)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(ExportError::CreateDir { path, source: io::Error::from(e) }),
            }
            subs.push(open_dir(Some(&root_dir), Path::new(sub), &path, true)?);
        }
        let (Some(cur), Some(_new), Some(tmp)) = (subs.pop(), subs.pop(), subs.pop()) else {
            return Err(ExportError::CreateDir {
                path: root.to_path_buf(),
                source: io::Error::other("no tmp/cur"),
            });
        };
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().replace('/', "\\057").replace(':', "\\072"))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        Ok(Maildir { root: root.to_path_buf(), tmp, cur, host })
    }

    /// Delivers `raw` into `cur/` with `flags` in its name (written to `tmp/` first, then linked into `cur/`
    /// and removed from `tmp/`). Returns the path in `cur/`.
    pub fn deliver(&self, raw: &[u8], flags: &[String]) -> Result<PathBuf, ExportError> {
        let now = OffsetDateTime::now_utc();
        let n = DELIVERIES.fetch_add(1, Ordering::Relaxed);
        let unique = format!(
            "{}.M{}P{}Q{}.{}",
            now.unix_timestamp(),
            now.microsecond(),
            std::process::id(),
            n,
            self.host
        );
        let (mut file, name) = self.create_in_tmp(&unique)?;
        let tmp_path = self.root.join("tmp").join(&name);
        let written = file.write_all(raw).and_then(|()| file.sync_all());
        drop(file);
        if let Err(source) = written {
            let _ = unlinkat(&self.tmp, name.as_str(), UnlinkatFlags::NoRemoveDir);
            return Err(ExportError::Write { path: tmp_path, source });
        }
        let target = format!("{name}:{}", maildir_info(flags));
        let target_path = self.root.join("cur").join(&target);
        let moved = self.move_to_cur(&name, &target);
        let _ = unlinkat(&self.tmp, name.as_str(), UnlinkatFlags::NoRemoveDir);
        moved.map_err(|source| ExportError::Write { path: target_path.clone(), source })?;
        Ok(target_path)
    }

    /// A new file in `tmp/` named `unique`, or `unique-1`...: created `O_EXCL | O_NOFOLLOW`, mode 0600.
    fn create_in_tmp(&self, unique: &str) -> Result<(File, String), ExportError> {
        for n in 0..MAX_TRIES {
            let name = if n == 0 { unique.to_owned() } else { format!("{unique}-{n}") };
            let flags =
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            match openat(&self.tmp, name.as_str(), flags, Mode::from_bits_truncate(FILE_MODE)) {
                Ok(fd) => return Ok((File::from(fd), name)),
                Err(Errno::EEXIST) => continue,
                Err(e) => {
                    return Err(ExportError::Write {
                        path: self.root.join("tmp").join(name),
                        source: io::Error::from(e),
                    })
                }
            }
        }
        Err(ExportError::NoFreeName { dir: self.root.join("tmp"), name: unique.to_owned() })
    }

    /// Puts `tmp/name` at `cur/target` without replacing anything there: a hard link, which fails on an
    /// existing name. Where the file system has no hard links, a rename once `cur/target` is seen free.
    fn move_to_cur(&self, name: &str, target: &str) -> io::Result<()> {
        match linkat(&self.tmp, name, &self.cur, target, AtFlags::empty()) {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
            Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::EMLINK) => {
                match fstatat(&self.cur, target, AtFlags::AT_SYMLINK_NOFOLLOW) {
                    Ok(_) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
                    Err(Errno::ENOENT) => {
                        renameat(&self.tmp, name, &self.cur, target).map_err(io::Error::from)
                    }
                    Err(e) => Err(io::Error::from(e)),
                }
            }
            Err(e) => Err(io::Error::from(e)),
        }
    }
}

/// Opens the directory `rel` (relative to `parent`, or a path of its own when there is none) for `*at`
/// calls; `no_follow` refuses a symlink. `shown` names it in errors.
fn open_dir(parent: Option<&File>, rel: &Path, shown: &Path, no_follow: bool) -> Result<File, ExportError> {
    let mut flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    if no_follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    let opened = match parent {
        Some(dir) => openat(dir, rel, flags, Mode::empty()),
        None => nix::fcntl::open(rel, flags, Mode::empty()),
    };
    match opened {
        Ok(fd) => Ok(File::from(fd)),
        // Linux answers ENOTDIR (O_DIRECTORY) or ELOOP (O_NOFOLLOW) for a symlink: say which it was.
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) if no_follow => {
            let link = std::fs::symlink_metadata(shown).map(|m| m.file_type().is_symlink()).unwrap_or(false);
            if link {
                Err(ExportError::Symlink { path: shown.to_path_buf() })
            } else {
                Err(ExportError::CreateDir { path: shown.to_path_buf(), source: io::Error::from(e) })
            }
        }
        Err(e) => Err(ExportError::CreateDir { path: shown.to_path_buf(), source: io::Error::from(e) }),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn maildir_letters() {
        let flags: Vec<String> =
            ["\\Seen", "\\Answered", "$Forwarded", "\\Flagged", "\\Draft", "\\Deleted", "$Junk", "\\Seen"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(maildir_info(&flags), "2,DFPRST");
        assert_eq!(maildir_info(&[]), "2,");
    }

    #[test]
    fn maildir_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(&dir.path().join("md")).unwrap();
        let p = md.deliver(b"Subject: x\r\n\r\ny", &["\\Seen".to_owned()]).unwrap();
        assert!(p.to_string_lossy().ends_with(":2,S"), "{}", p.display());
        assert_eq!(p.parent().unwrap(), dir.path().join("md/cur"));
        assert_eq!(std::fs::read(&p).unwrap(), b"Subject: x\r\n\r\ny");
        assert_eq!(std::fs::read_dir(dir.path().join("md/tmp")).unwrap().count(), 0);
        assert!(dir.path().join("md/new").is_dir());
    }

    #[test]
    fn symlinked_subdirectories_are_refused_and_their_targets_untouched() {
        for sub in ["tmp", "new", "cur"] {
            let dir = tempfile::tempdir().unwrap();
            let outside = dir.path().join("outside");
            std::fs::create_dir(&outside).unwrap();
            let root = dir.path().join("md");
            std::fs::create_dir(&root).unwrap();
            symlink(&outside, root.join(sub)).unwrap();
            let err = Maildir::create(&root).unwrap_err();
            assert!(matches!(&err, ExportError::Symlink { path } if path == &root.join(sub)), "{err:?}");
            assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{sub}: nothing written through it");
        }
    }
}
