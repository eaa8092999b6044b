//! Which server folders are mirrored: everything selectable, minus Exchange's non-mail folders, filtered by the
//! account's include/exclude patterns; and how the folder lists of the server and the store line up.

use glob::{MatchOptions, Pattern};

use crate::EngineError;

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
