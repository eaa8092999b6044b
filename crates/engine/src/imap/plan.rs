//! The IMAP planners: pure functions from (local state, server state, capabilities) to what a folder sync must
//! do. No I/O, no clock; tested row by row.
//!
//! RFC 3501 section 2.3.1.1 (UIDVALIDITY voids cached UIDs), RFC 7162 sections 3.1 (CONDSTORE:
//! HIGHESTMODSEQ says whether anything changed) and 3.2.5 (QRESYNC: changes and VANISHED at EXAMINE).

use std::collections::{BTreeMap, BTreeSet};

use mailsync_proto::{ModSeq, Uid, UidValidity};

/// What the store knows about a folder from the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalCursor {
    /// UIDVALIDITY of the last sync, if any.
    pub uidvalidity: Option<UidValidity>,
    /// UIDNEXT seen at the end of the last complete sync.
    pub uidnext: Option<u32>,
    /// HIGHESTMODSEQ seen at the end of the last complete sync (CONDSTORE servers only).
    pub highestmodseq: Option<ModSeq>,
    /// How many messages of the folder are stored locally.
    pub count: u32,
}

/// What EXAMINE told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerFolder {
    /// UIDVALIDITY now.
    pub uidvalidity: UidValidity,
    /// UIDNEXT now, when the server said.
    pub uidnext: Option<u32>,
    /// EXISTS now.
    pub exists: u32,
    /// HIGHESTMODSEQ now, when the server supports CONDSTORE for this folder.
    pub highestmodseq: Option<ModSeq>,
}

/// How a folder is brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderPlan {
    /// Nothing changed since the last sync: no command beyond EXAMINE.
    UpToDate,
    /// UIDVALIDITY changed (or first sync after one): local UIDs are void; re-match and re-download.
    Reset,
    /// Read every UID and its flags (`UID FETCH 1:* (UID FLAGS)`), diff with the store, download the new ones.
    /// The only way without CONDSTORE (Outlook), and the first sync everywhere.
    FullScan,
    /// Flag changes and expunges came with the QRESYNC EXAMINE; only UIDs from `from_uid` on may be new.
    Qresync {
        /// First UID that can be new.
        from_uid: u32,
    },
    /// The folder is empty on the server: every local message of it is gone.
    Empty,
}

/// Decides how to sync one folder. `qresync` is true when QRESYNC was enabled and the EXAMINE carried our
/// known UIDVALIDITY and mod-sequence (so the server already sent VANISHED and changed FLAGS).
pub fn plan_folder(local: &LocalCursor, server: &ServerFolder, qresync: bool) -> FolderPlan {
    match local.uidvalidity {
        Some(v) if v != server.uidvalidity => return FolderPlan::Reset,
        _ => {}
    }
    if server.exists == 0 {
        return if local.count == 0 && local.uidvalidity.is_some() {
            FolderPlan::UpToDate
        } else {
            FolderPlan::Empty
        };
    }
    let known = local.uidvalidity.is_some();
    let same_uidnext = known && server.uidnext.is_some() && local.uidnext == server.uidnext;
    let same_modseq = known && server.highestmodseq.is_some() && local.highestmodseq == server.highestmodseq;
    if same_uidnext && same_modseq && server.exists == local.count {
        // CONDSTORE proves that no flag changed and nothing was expunged or added.
        return FolderPlan::UpToDate;
    }
    match (qresync && known && local.highestmodseq.is_some(), local.uidnext) {
        (true, Some(from_uid)) => FolderPlan::Qresync { from_uid },
        _ => FolderPlan::FullScan,
    }
}

/// The difference between the store and a full UID/FLAGS listing of the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderDiff {
    /// UIDs on the server that the store lacks (and that are not known to be unfetchable), ascending.
    pub new: Vec<Uid>,
    /// UIDs whose flags differ, with the server's flags.
    pub flag_changes: Vec<(Uid, Vec<String>)>,
    /// UIDs the store has and the server no longer has.
    pub expunged: Vec<Uid>,
}

/// Compares the store's `(uid -> flags)` with the server's, ignoring `\Recent` (a per-session flag).
/// `min_uid` drops server entries below it (Outlook answers `UID FETCH n:*` with a lower UID).
pub fn diff_folder(
    local: &BTreeMap<Uid, Vec<String>>,
    server: &BTreeMap<Uid, Vec<String>>,
    unfetchable: &BTreeSet<Uid>,
) -> FolderDiff {
    let mut d = FolderDiff::default();
    for (uid, flags) in server {
        match local.get(uid) {
            None if !unfetchable.contains(uid) => d.new.push(*uid),
            None => {}
            Some(mine) if normalize_flags(mine) != normalize_flags(flags) => {
                d.flag_changes.push((*uid, normalize_flags(flags)));
            }
            Some(_) => {}
        }
    }
    d.expunged = local.keys().filter(|u| !server.contains_key(u)).copied().collect();
    d
}

/// Flags as the store keeps them: sorted, deduplicated, without `\Recent`.
pub fn normalize_flags(flags: &[String]) -> Vec<String> {
    let mut v: Vec<String> =
        flags.iter().filter(|f| !f.eq_ignore_ascii_case("\\Recent")).map(|f| f.to_string()).collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uv(n: u32) -> UidValidity {
        UidValidity::try_from(n).unwrap()
    }
    fn ms(n: u64) -> ModSeq {
        ModSeq::try_from(n).unwrap()
    }
    fn local(v: Option<u32>, next: Option<u32>, m: Option<u64>, count: u32) -> LocalCursor {
        LocalCursor { uidvalidity: v.map(uv), uidnext: next, highestmodseq: m.map(ms), count }
    }
    fn server(v: u32, next: Option<u32>, exists: u32, m: Option<u64>) -> ServerFolder {
        ServerFolder { uidvalidity: uv(v), uidnext: next, exists, highestmodseq: m.map(ms) }
    }

    #[test]
    fn plan_table() {
        use FolderPlan::*;
        let rows: Vec<(&str, LocalCursor, ServerFolder, bool, FolderPlan)> = vec![
            ("first sync", local(None, None, None, 0), server(7, Some(11), 10, Some(50)), true, FullScan),
            (
                "first sync, empty folder",
                local(None, None, None, 0),
                server(7, Some(1), 0, None),
                false,
                Empty,
            ),
            (
                "uidvalidity changed",
                local(Some(6), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(50)),
                true,
                Reset,
            ),
            (
                "condstore: nothing changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(50)),
                true,
                UpToDate,
            ),
            (
                "condstore without qresync: nothing changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(50)),
                false,
                UpToDate,
            ),
            (
                "qresync: flags changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(53)),
                true,
                Qresync { from_uid: 11 },
            ),
            (
                "qresync: new mail",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(14), 13, Some(55)),
                true,
                Qresync { from_uid: 11 },
            ),
            (
                "condstore only: something changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(53)),
                false,
                FullScan,
            ),
            (
                "outlook: no modseq, same counts",
                local(Some(7), Some(11), None, 10),
                server(7, Some(11), 10, None),
                false,
                FullScan,
            ),
            (
                "outlook: new mail",
                local(Some(7), Some(11), None, 10),
                server(7, Some(12), 11, None),
                false,
                FullScan,
            ),
            (
                "everything expunged",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 0, Some(60)),
                true,
                Empty,
            ),
            (
                "empty stays empty",
                local(Some(7), Some(11), Some(50), 0),
                server(7, Some(11), 0, Some(50)),
                true,
                UpToDate,
            ),
            (
                "interrupted first sync (no cursor yet)",
                local(None, None, None, 4),
                server(7, Some(11), 10, Some(50)),
                true,
                FullScan,
            ),
            (
                "same modseq but count differs",
                local(Some(7), Some(11), Some(50), 9),
                server(7, Some(11), 10, Some(50)),
                true,
                Qresync { from_uid: 11 },
            ),
        ];
        for (name, l, s, q, want) in rows {
            assert_eq!(plan_folder(&l, &s, q), want, "{name}");
        }
    }

    fn map(entries: &[(u32, &[&str])]) -> BTreeMap<Uid, Vec<String>> {
        entries
            .iter()
            .map(|(u, f)| (Uid::try_from(*u).unwrap(), f.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn diff_finds_new_changed_and_expunged() {
        let local = map(&[(1, &["\\Seen"]), (2, &[]), (3, &["\\Flagged", "\\Seen"])]);
        let server = map(&[(2, &["\\Seen"]), (3, &["\\Seen", "\\Flagged", "\\Recent"]), (4, &[]), (5, &[])]);
        let unfetchable: BTreeSet<Uid> = [Uid::try_from(5u32).unwrap()].into();
        let d = diff_folder(&local, &server, &unfetchable);
        assert_eq!(d.new, vec![Uid::try_from(4u32).unwrap()]);
        assert_eq!(d.flag_changes, vec![(Uid::try_from(2u32).unwrap(), vec!["\\Seen".to_string()])]);
        assert_eq!(d.expunged, vec![Uid::try_from(1u32).unwrap()]);
    }

    #[test]
    fn diff_of_identical_states_is_empty() {
        let m = map(&[(1, &["\\Seen"]), (9, &[])]);
        assert_eq!(diff_folder(&m, &m, &BTreeSet::new()), FolderDiff::default());
    }
}
