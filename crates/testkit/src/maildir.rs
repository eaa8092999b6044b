//! Seeding: messages written straight into a user's Maildir (fast: thousands per second), then indexed by
//! Dovecot so that UIDs are assigned in the order given.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::system::chown_tree;
use crate::{Dovecot, HarnessError};

/// The IMAP system flags a Maildir file name can carry (letters per the Maildir spec: D F R S T).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// `\Draft`, letter D.
    Draft,
    /// `\Flagged`, letter F.
    Flagged,
    /// `\Answered`, letter R.
    Answered,
    /// `\Seen`, letter S.
    Seen,
    /// `\Deleted`, letter T.
    Deleted,
}

impl Flag {
    fn letter(self) -> char {
        match self {
            Flag::Draft => 'D',
            Flag::Flagged => 'F',
            Flag::Answered => 'R',
            Flag::Seen => 'S',
            Flag::Deleted => 'T',
        }
    }
    /// The flag as IMAP writes it.
    pub fn imap(self) -> &'static str {
        match self {
            Flag::Draft => "\\Draft",
            Flag::Flagged => "\\Flagged",
            Flag::Answered => "\\Answered",
            Flag::Seen => "\\Seen",
            Flag::Deleted => "\\Deleted",
        }
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Dovecot {
    /// Directory of `folder` in Maildir++ layout, if the name can be written there directly (plain ASCII
    /// without the Maildir++ separator); other names go through `doveadm`.
    fn folder_dir(&self, user: &str, folder: &str) -> Option<PathBuf> {
        let root = self.maildir(user);
        if folder.eq_ignore_ascii_case("INBOX") {
            return Some(root);
        }
        let plain = folder.bytes().all(|b| b.is_ascii_alphanumeric() || b" _-/".contains(&b));
        plain.then(|| root.join(format!(".{}", folder.replace('/', "."))))
    }

    /// Puts `messages` into `folder` (created if missing) with the given flags, in order, dated `received`
    /// (INTERNALDATE) or now; then lets Dovecot index them so UIDs follow the given order.
    pub fn seed(&self, user: &str, folder: &str, messages: &[(&[u8], &[Flag])]) -> Result<(), HarnessError> {
        self.seed_dated(user, folder, messages.iter().map(|(raw, flags)| (*raw, *flags, None)))
    }

    /// Like [`Dovecot::seed`], with an INTERNALDATE per message.
    pub fn seed_dated<'a>(
        &self,
        user: &str,
        folder: &str,
        messages: impl IntoIterator<Item = (&'a [u8], &'a [Flag], Option<SystemTime>)>,
    ) -> Result<(), HarnessError> {
        let Some(dir) = self.folder_dir(user, folder) else {
            for (raw, flags, _) in messages {
                self.save(user, folder, raw)?;
                if !flags.is_empty() {
                    let uid = self.status(user, folder)?.uidnext - 1;
                    self.flags_add(user, folder, uid, flags)?;
                }
            }
            return Ok(());
        };
        let cur = dir.join("cur");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).map_err(HarnessError::io("creating", &dir))?;
        }
        let stamp =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        for (raw, flags, received) in messages {
            let mut letters: Vec<char> = flags.iter().map(|f| f.letter()).collect();
            letters.sort_unstable();
            letters.dedup();
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            // Zero-padded so that Dovecot's scan order is the seeding order.
            let name = format!("{stamp}.{n:012}.mailsync-seed:2,{}", letters.into_iter().collect::<String>());
            let path = cur.join(name);
            fs::write(&path, raw).map_err(HarnessError::io("writing", &path))?;
            if let Some(t) = received {
                let f = fs::File::options()
                    .write(true)
                    .open(&path)
                    .map_err(HarnessError::io("opening", &path))?;
                f.set_modified(t).map_err(HarnessError::io("setting mtime of", &path))?;
            }
        }
        chown_tree(&dir, self.ident.mail_uid, self.ident.mail_gid)?;
        // Index now, so the UIDs exist before any client looks.
        self.status(user, folder)?;
        Ok(())
    }
}
