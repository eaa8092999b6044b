//! Which server folders are mirrored: everything selectable, minus Exchange's non-mail folders, filtered by the
//! account's include/exclude patterns; and how a LIST line becomes a folder ([`Listed`]).
//!
//! Must never: drop a folder because its name is not valid modified UTF-7 (it is shown decoded as well as
//! can be and always sent back to the server exactly as the server spelled it).
//!
//! RFC 3501 sections 5.1.3 (mailbox names) and 7.2.2 (LIST); RFC 6154 (SPECIAL-USE).

use glob::{MatchOptions, Pattern};
use mailsync_proto::imap::command::MailboxName;
use mailsync_proto::imap::{mutf7, ListItem, MailboxAttr};

use crate::EngineError;

/// One folder as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The name in UTF-8: the strict modified UTF-7 decoding, or a lossy one when the server's name is not
    /// valid modified UTF-7 (then `wire` is what goes back to the server).
    pub name: String,
    /// The name exactly as the server sent it.
    pub wire: Vec<u8>,
    /// The hierarchy delimiter (`None`: flat).
    pub delimiter: Option<char>,
    /// LIST attributes, as written.
    pub attributes: Vec<String>,
    /// The RFC 6154 special use, if any.
    pub special_use: Option<String>,
    /// Whether it can be examined (no `\Noselect`, no `\NonExistent`).
    pub selectable: bool,
    /// Whether the name had to be decoded leniently.
    pub lossy_name: bool,
}

impl Listed {
    /// Reads one LIST line.
    pub fn from_list(item: &ListItem) -> Listed {
        let (name, lossy_name) = if item.is_inbox() {
            ("INBOX".to_owned(), false)
        } else {
            match mutf7::decode(&item.name) {
                Ok(n) => (n, false),
                Err(_) => (mutf7::decode_lossy(&item.name), true),
            }
        };
        let selectable = !item.has(&MailboxAttr::NoSelect) && !item.has(&MailboxAttr::NonExistent);
        Listed {
            name,
            wire: item.name.clone(),
            delimiter: item.delimiter,
            attributes: item.attributes.iter().map(|a| a.to_string()).collect(),
            special_use: item.special_use().map(|a| a.to_string()),
            selectable,
            lossy_name,
        }
    }

    /// How a command names this folder: by its UTF-8 name when that encodes back to what the server sent,
    /// else by the server's own bytes.
    pub fn command_name(&self) -> MailboxName {
        if self.lossy_name {
            MailboxName::Wire(self.wire.clone())
        } else {
            MailboxName::Utf8(self.name.clone())
        }
    }
}

/// Exchange's folders that hold no mail (RFC 6154 has no attribute for them; matched by top-level name).
pub const EXCHANGE_NON_MAIL: [&str; 8] =
    ["Calendar", "Contacts", "Tasks", "Notes", "Journal", "Sync Issues", "Outbox", "Conversation History"];

/// The folder selection of an account.
#[derive(Debug, Clone)]
pub struct FolderFilter {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
    skip_non_mail: bool,
}

impl Default for FolderFilter {
    fn default() -> Self {
        FolderFilter { include: Vec::new(), exclude: Vec::new(), skip_non_mail: true }
    }
}

const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

impl FolderFilter {
    /// Patterns use `*` and `?` (and `[...]`); an empty include list means every folder.
    pub fn new(include: &[String], exclude: &[String], skip_non_mail: bool) -> Result<Self, EngineError> {
        let compile = |p: &String| {
            Pattern::new(p).map_err(|e| EngineError::Config(format!("invalid folder pattern {p:?}: {e}")))
        };
        Ok(FolderFilter {
            include: include.iter().map(compile).collect::<Result<_, _>>()?,
            exclude: exclude.iter().map(compile).collect::<Result<_, _>>()?,
            skip_non_mail,
        })
    }

    /// Whether `name` (UTF-8, with `delimiter` between levels) is mirrored.
    pub fn wants(&self, name: &str, delimiter: Option<char>) -> bool {
        if self.skip_non_mail && is_exchange_non_mail(name, delimiter) {
            return false;
        }
        let included = self.include.is_empty() || self.include.iter().any(|p| p.matches_with(name, MATCH));
        included && !self.exclude.iter().any(|p| p.matches_with(name, MATCH))
    }
}

/// Whether `name` is one of Exchange's non-mail folders or below one.
pub fn is_exchange_non_mail(name: &str, delimiter: Option<char>) -> bool {
    let top = match delimiter {
        Some(d) => name.split(d).next().unwrap_or(name),
        None => name,
    };
    EXCHANGE_NON_MAIL.iter().any(|n| n.eq_ignore_ascii_case(top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_exchange_non_mail_folders_and_their_children() {
        let f = FolderFilter::default();
        for name in [
            "Calendar",
            "Calendar/Birthdays",
            "Contacts",
            "Sync Issues/Conflicts",
            "Outbox",
            "Conversation History",
        ] {
            assert!(!f.wants(name, Some('/')), "{name}");
        }
        for name in ["INBOX", "Sent", "Archive/2024", "Calendars of friends", "Notes from Bob"] {
            assert!(f.wants(name, Some('/')), "{name}");
        }
    }

    #[test]
    fn include_and_exclude_patterns() {
        let f =
            FolderFilter::new(&["INBOX".into(), "Archive*".into()], &["Archive/Old*".into()], true).unwrap();
        assert!(f.wants("INBOX", Some('/')));
        assert!(f.wants("Archive/2024", Some('/')));
        assert!(!f.wants("Archive/Old 2019", Some('/')));
        assert!(!f.wants("Sent", Some('/')));
        let all = FolderFilter::new(&[], &[], false).unwrap();
        assert!(all.wants("Calendar", Some('/')));
        assert!(FolderFilter::new(&["[".into()], &[], true).is_err());
    }
}
