//! The database file on disk, before SQLite sees it: what is at the path, creating it safely, and tightening
//! the modes of the file and its `-wal` / `-shm` companions.
//!
//! Owns: the rule for what may be opened as the store: a regular file (a symlink is followed to one) that is
//! empty or starts with the SQLite header `SQLite format 3\0`, or nothing at all when the caller may create
//! one. An empty file is what a first run leaves when it dies between creating the file and the first commit
//! (the file is created 0600 before SQLite writes to it): a writer takes it over as a new database only when
//! it looks like one mailsync created (owned by this user, no group or other permission bits; any other
//! empty file is somebody else's and is refused untouched), and a reader sees a store with no mail yet. Creating the parent directory (0700) and the file (0600, `O_EXCL`) and
//! tightening an existing file through the descriptor that was checked.
//!
//! Must never: change, chmod or create anything before the path passed the check (so `--db /dev/null`,
//! a directory or a text file is refused untouched); open a device or FIFO in a way that blocks or has side
//! effects (the type is checked before opening, and the open is non-blocking); follow a symlink at a
//! `-wal` / `-shm` name (SQLite never creates one there; tightening through one would chmod a stranger's
//! file); loosen a mode.
//!
//! SQLite file format: <https://sqlite.org/fileformat2.html> section 1.3 (the 16-byte header string).

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::libc;

use crate::descriptors::{self, Held, How};
use crate::error::{Result, StoreError};

/// Mode of the database file and its `-wal` / `-shm` companions.
pub(crate) const FILE_MODE: u32 = 0o600;
/// Mode of directories the store creates.
const DIR_MODE: u32 = 0o700;
/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What is at the database path.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Found {
    /// Nothing (or a symlink to nothing).
    Nothing,
    /// An empty regular file.
    Empty,
    /// A regular file that starts with the SQLite header.
    Database,
}

/// Says what is at `path` without changing anything. A symlink is followed; anything but nothing, an empty
/// regular file or a SQLite file is an error. Returns the checked file, opened read-only, when there is one
/// (a descriptor that is never closed: see [`crate::descriptors`]).
pub(crate) fn inspect(path: &Path) -> Result<(Found, Option<Held>)> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        // A file where a directory of the path should be: nothing can be there (creating it says why).
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            return Ok((Found::Nothing, None))
        }
        Err(source) => return Err(StoreError::ReadFile { path: path.to_path_buf(), source }),
    };
    check_type(path, &meta.file_type())?;
    // Non-blocking and without a controlling terminal: should the path be swapped for a FIFO or a device
    // between the check above and this open, the open neither hangs nor adopts a terminal.
    let file = descriptors::open(path, How::Read)
        .map_err(|source| StoreError::ReadFile { path: path.to_path_buf(), source })?;
    let meta = file.metadata().map_err(|source| StoreError::ReadFile { path: path.to_path_buf(), source })?;
    check_type(path, &meta.file_type())?;
    if meta.len() == 0 {
        return Ok((Found::Empty, Some(file)));
    }
    let mut header = [0u8; 16];
    let mut got = 0;
    while got < header.len() {
        let rest = header.get_mut(got..).unwrap_or_default();
        match file.read_at(rest, u64::try_from(got).unwrap_or(u64::MAX)) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(StoreError::ReadFile { path: path.to_path_buf(), source }),
        }
    }
    if &header != SQLITE_HEADER {
        return Err(StoreError::NotADatabase { path: path.to_path_buf() });
    }
    Ok((Found::Database, Some(file)))
}

/// Refuses anything but a regular file.
fn check_type(path: &Path, t: &std::fs::FileType) -> Result<()> {
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(StoreError::NotAFile { path: path.to_path_buf(), what })
}

/// Makes `path` ready for a read-write open: checks what is there, creates the parent directory (0700) and
/// the file (0600) when there is nothing, and removes group and other bits from an existing file (through the
/// descriptor that was checked, so the file changed is the file checked).
pub(crate) fn prepare_for_writing(path: &Path) -> Result<()> {
    let (found, file) = inspect(path)?;
    match (found, file) {
        (Found::Nothing, _) => create(path),
        (Found::Empty, Some(file)) => take_over_empty(path, &file),
        (_, Some(file)) => tighten_file(path, &file),
        (_, None) => Ok(()),
    }
}

/// Accepts an empty file as a new database only if it is what [`create`] makes: owned by this user, mode
/// 0600 or tighter. Nothing is changed either way.
fn take_over_empty(path: &Path, file: &File) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(|source| StoreError::ReadFile { path: path.to_path_buf(), source })?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(StoreError::ForeignEmptyFile { path: path.to_path_buf(), mode });
    }
    Ok(())
}

/// Creates the parent directory (0700) if missing, then the file with `O_CREAT | O_EXCL`, mode 0600: the
/// file never exists with a looser mode, even for an instant. If another process created it first, that
/// file is checked like any existing one.
fn create(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if std::fs::symlink_metadata(parent).is_err() {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        }
    }
    match OpenOptions::new().read(true).write(true).create_new(true).mode(FILE_MODE).open(path) {
        // Not closed: the shelf keeps it (see `crate::descriptors`).
        Ok(f) => descriptors::adopt(f, How::ReadWrite)
            .map(drop)
            .map_err(|source| StoreError::CreateFile { path: path.to_path_buf(), source }),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match inspect(path)? {
            (Found::Nothing, _) => {
                // A dangling symlink: O_EXCL does not create through it, and neither do we.
                Err(StoreError::CreateFile { path: path.to_path_buf(), source: e })
            }
            (Found::Empty, Some(file)) => take_over_empty(path, &file),
            (_, Some(file)) => tighten_file(path, &file),
            (_, None) => Ok(()),
        },
        Err(source) => Err(StoreError::CreateFile { path: path.to_path_buf(), source }),
    }
}

/// Removes group and other permission bits from the open `file` (named `path` in messages) if any are set.
fn tighten_file(path: &Path, file: &File) -> Result<()> {
    let perm_err = |source| StoreError::Permissions { path: path.to_path_buf(), source };
    let mode = file.metadata().map_err(perm_err)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "tightening to 0600");
        file.set_permissions(Permissions::from_mode(FILE_MODE)).map_err(perm_err)?;
    }
    Ok(())
}

/// The `-wal` and `-shm` files of the database at `path`.
pub(crate) fn companions(path: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Tightens the `-wal` and `-shm` files next to the database, where they exist as regular files. A symlink
/// there is not followed and not touched (opened with `O_NOFOLLOW`); anything else is left alone too.
pub(crate) fn tighten_companions(path: &Path) -> Result<()> {
    for companion in companions(path) {
        let file = match descriptors::open(&companion, How::ReadNoFollow) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                tracing::warn!(path = %companion.display(), "a symlink where SQLite keeps its own file: left alone");
                continue;
            }
            Err(source) => return Err(StoreError::Permissions { path: companion, source }),
        };
        let regular = file.metadata().map(|m| m.file_type().is_file()).unwrap_or(false);
        if regular {
            tighten_file(&companion, &file)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn what_may_be_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        assert_eq!(inspect(&p("none")).unwrap().0, Found::Nothing);
        std::fs::write(p("empty"), b"").unwrap();
        assert_eq!(inspect(&p("empty")).unwrap().0, Found::Empty);
        let mut db = SQLITE_HEADER.to_vec();
        db.extend_from_slice(&[0; 84]);
        std::fs::write(p("db"), &db).unwrap();
        assert_eq!(inspect(&p("db")).unwrap().0, Found::Database);
        symlink(p("db"), p("link")).unwrap();
        assert_eq!(inspect(&p("link")).unwrap().0, Found::Database, "a symlink to a database is followed");
        symlink(p("none"), p("dangling")).unwrap();
        assert_eq!(inspect(&p("dangling")).unwrap().0, Found::Nothing);

        std::fs::write(p("text"), b"hello, this is text").unwrap();
        assert!(matches!(inspect(&p("text")), Err(StoreError::NotADatabase { .. })));
        std::fs::write(p("short"), b"SQLite").unwrap();
        assert!(matches!(inspect(&p("short")), Err(StoreError::NotADatabase { .. })));
        let e = inspect(dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::NotAFile { what: "a directory", .. }), "{e}");
        let e = inspect(Path::new("/dev/null")).unwrap_err();
        assert!(matches!(e, StoreError::NotAFile { what: "a character device", .. }), "{e}");
        nix::unistd::mkfifo(&p("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = inspect(&p("fifo")).unwrap_err();
        assert!(matches!(e, StoreError::NotAFile { what: "a FIFO", .. }), "{e}");
    }

    #[test]
    fn refused_paths_are_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, b"my notes").unwrap();
        std::fs::set_permissions(&text, Permissions::from_mode(0o644)).unwrap();
        symlink(&text, dir.path().join("link.db")).unwrap();
        for p in [text.clone(), dir.path().join("link.db")] {
            assert!(matches!(prepare_for_writing(&p), Err(StoreError::NotADatabase { .. })));
        }
        assert_eq!(mode(&text), 0o644);
        assert_eq!(std::fs::read(&text).unwrap(), b"my notes");
    }

    #[test]
    fn creates_0600_and_takes_over_only_an_empty_file_it_could_have_made() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/mail.db");
        prepare_for_writing(&p).unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        prepare_for_writing(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"", "an empty 0600 file is a store a first run left");
        std::fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        let e = prepare_for_writing(&p).unwrap_err();
        assert!(matches!(e, StoreError::ForeignEmptyFile { mode: 0o644, .. }), "{e}");
        assert_eq!(mode(&p), 0o644, "somebody else's empty file is not chmod-ed");
    }

    #[test]
    fn companions_behind_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mail.db");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"x").unwrap();
        std::fs::set_permissions(&victim, Permissions::from_mode(0o644)).unwrap();
        symlink(&victim, dir.path().join("mail.db-wal")).unwrap();
        std::fs::write(dir.path().join("mail.db-shm"), b"").unwrap();
        std::fs::set_permissions(dir.path().join("mail.db-shm"), Permissions::from_mode(0o644)).unwrap();
        tighten_companions(&db).unwrap();
        assert_eq!(mode(&victim), 0o644, "the symlink's target keeps its mode");
        assert_eq!(mode(&dir.path().join("mail.db-shm")), 0o600);
    }
}
