//! The IMAP planners: pure functions from (local state, server state, capabilities) to what a sync must do.
//! No I/O, no clock (the time comes in as a number); tested row by row. The runner (`sync.rs`) only executes
//! what these decide; the rules they apply are those of [`crate::integrity`].
//!
//! Owns: the account plan (which listed folders are synced, skipped, and which local folders are gone), the
//! folder plan (up to date, full scan, QRESYNC, empty, and whether a UIDVALIDITY change resets the folder
//! first), the differences between the store and the server (from a full UID listing or from QRESYNC data),
//! and which recorded gaps are due for another try.
//!
//! RFC 3501 section 2.3.1.1 (UIDVALIDITY voids cached UIDs), RFC 7162 sections 3.1 (CONDSTORE:
//! HIGHESTMODSEQ says whether anything changed) and 3.2.5 (QRESYNC: changes and VANISHED at EXAMINE).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use mailsync_proto::{ModSeq, Uid, UidValidity};
use mailsync_store::{ImapGap, MailboxRow};

use super::folders::{FolderFilter, Listed};

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

/// How the folder's contents are compared with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Nothing changed since the last sync: no command beyond EXAMINE (due gaps are still retried).
    UpToDate,
    /// Read every UID and its flags (`UID FETCH 1:* (UID FLAGS)`), diff with the store, download the new ones.
    /// The only way without CONDSTORE (Outlook), and the first sync everywhere.
    FullScan,
    /// Flag changes and expunges came with the QRESYNC EXAMINE; only UIDs from `from_uid` on may be new.
    Qresync {
        /// First UID that can be new.
        from_uid: u32,
    },
    /// The folder is empty on the server (`* 0 EXISTS`): every local message of it is gone.
    Empty,
}

/// How a folder is brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderPlan {
    /// UIDVALIDITY changed: every stored UID of the folder is void; the folder is reset (local copies are
    /// kept and re-matched by content) before the scan, which then starts from an empty folder.
    pub reset: bool,
    /// How to compare.
    pub scan: Scan,
}

/// Decides how to sync one folder. `qresync` is true when QRESYNC was enabled and the EXAMINE carried our
/// known UIDVALIDITY and mod-sequence (so the server already sent VANISHED and changed FLAGS).
pub fn plan_folder(local: &LocalCursor, server: &ServerFolder, qresync: bool) -> FolderPlan {
    if local.uidvalidity.is_some_and(|v| v != server.uidvalidity) {
        let scan = if server.exists == 0 { Scan::Empty } else { Scan::FullScan };
        return FolderPlan { reset: true, scan };
    }
    FolderPlan { reset: false, scan: scan_of(local, server, qresync) }
}

fn scan_of(local: &LocalCursor, server: &ServerFolder, qresync: bool) -> Scan {
    if server.exists == 0 {
        return if local.count == 0 && local.uidvalidity.is_some() { Scan::UpToDate } else { Scan::Empty };
    }
    let known = local.uidvalidity.is_some();
    let same_uidnext = known && server.uidnext.is_some() && local.uidnext == server.uidnext;
    let same_modseq = known && server.highestmodseq.is_some() && local.highestmodseq == server.highestmodseq;
    if same_uidnext && same_modseq && server.exists == local.count {
        // CONDSTORE proves that no flag changed and nothing was expunged or added.
        return Scan::UpToDate;
    }
    match (qresync && known && local.highestmodseq.is_some(), local.uidnext) {
        (true, Some(from_uid)) => Scan::Qresync { from_uid },
        _ => Scan::FullScan,
    }
}

/// The recorded gaps of a folder, split by whether they are due for another try.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gaps {
    /// Gaps to try again in this run.
    pub due: BTreeSet<Uid>,
    /// Gaps whose back-off has not run out: left alone (and not reported as new).
    pub waiting: BTreeSet<Uid>,
}

impl Gaps {
    /// Splits `gaps` at `now`; with `retry_all` every gap is due.
    pub fn split(gaps: &[ImapGap], now: i64, retry_all: bool) -> Gaps {
        let mut out = Gaps::default();
        for g in gaps {
            if retry_all || g.retry_after <= now {
                out.due.insert(g.uid);
            } else {
                out.waiting.insert(g.uid);
            }
        }
        out
    }

    fn contains(&self, uid: &Uid) -> bool {
        self.due.contains(uid) || self.waiting.contains(uid)
    }
}

/// A listing of the folder's UIDs as the server gave it: each UID with its flags, or `None` when its flags
/// are not known (the FLAGS item did not parse, or the UID came from SEARCH).
pub type ServerListing = BTreeMap<Uid, Option<Vec<String>>>;

/// What a folder sync changes in the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderDiff {
    /// UIDs to download, ascending: on the server, not stored, and not a gap still waiting for its back-off
    /// (a due gap is here).
    pub new: Vec<Uid>,
    /// UIDs whose flags differ, with the server's flags.
    pub flag_changes: Vec<(Uid, Vec<String>)>,
    /// UIDs the store has (as a message or as a gap) and the server no longer has.
    pub expunged: Vec<Uid>,
}

/// Compares the store's `(uid -> flags)` with a complete server listing (`integrity::listing_adds_up`
/// holds), ignoring `\Recent` (a per-session flag).
pub fn diff_folder(local: &BTreeMap<Uid, Vec<String>>, server: &ServerListing, gaps: &Gaps) -> FolderDiff {
    let mut d = FolderDiff::default();
    for (uid, flags) in server {
        match (local.get(uid), flags) {
            (None, _) if !gaps.waiting.contains(uid) => d.new.push(*uid),
            (None, _) | (Some(_), None) => {}
            (Some(mine), Some(theirs)) if normalize_flags(mine) != normalize_flags(theirs) => {
                d.flag_changes.push((*uid, normalize_flags(theirs)));
            }
            (Some(_), Some(_)) => {}
        }
    }
    let gone = |u: &&Uid| !server.contains_key(u);
    d.expunged =
        local.keys().chain(gaps.due.iter()).chain(gaps.waiting.iter()).filter(gone).copied().collect();
    d.expunged.sort_unstable();
    d.expunged.dedup();
    d
}

/// The same difference from QRESYNC data: `vanished` and `changed` came with the EXAMINE, `searched` are the
/// UIDs `UID SEARCH UID from:*` found (Outlook-style servers include the highest UID even when it is below
/// `from`: it is filtered here). Due gaps below `from` are retried unless VANISHED names them.
pub fn diff_qresync(
    local: &BTreeMap<Uid, Vec<String>>,
    vanished: &[Uid],
    changed: &[(Uid, Vec<String>)],
    searched: &[Uid],
    from_uid: u32,
    gaps: &Gaps,
) -> FolderDiff {
    let vanished_set: HashSet<&Uid> = vanished.iter().collect();
    let expunged: Vec<Uid> = {
        let mut v: Vec<Uid> =
            vanished.iter().filter(|u| local.contains_key(u) || gaps.contains(u)).copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let flag_changes = changed
        .iter()
        .filter(|(u, flags)| local.get(u).is_some_and(|mine| normalize_flags(mine) != normalize_flags(flags)))
        .map(|(u, flags)| (*u, normalize_flags(flags)))
        .collect();
    let mut new: Vec<Uid> = searched
        .iter()
        .filter(|u| u.get() >= from_uid && !local.contains_key(u) && !gaps.waiting.contains(u))
        .chain(gaps.due.iter().filter(|u| !vanished_set.contains(u) && !local.contains_key(u)))
        .copied()
        .collect();
    new.sort_unstable();
    new.dedup();
    FolderDiff { new, flag_changes, expunged }
}

/// Flags as the store keeps them: sorted, deduplicated, without `\Recent`.
pub fn normalize_flags(flags: &[String]) -> Vec<String> {
    let mut v: Vec<String> =
        flags.iter().filter(|f| !f.eq_ignore_ascii_case("\\Recent")).map(|f| f.to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// What a run does with the account's folders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountPlan {
    /// Folders to sync, INBOX first, then by name, each with its local row when the store knows it.
    pub folders: Vec<(Listed, Option<MailboxRow>)>,
    /// Folders the server lists that are not synced, with why.
    pub skipped: Vec<(String, String)>,
    /// Local folders the server no longer lists: removed locally at the end of the run, unless one turns
    /// out to be a renamed folder. Empty when LIST could not be read whole (rule 4).
    pub gone: Vec<MailboxRow>,
    /// Local folders the server may no longer list, kept because LIST could not be read whole.
    pub kept_unlisted: Vec<String>,
}

/// Plans the account from LIST (`list_read_whole`: no LIST line was unreadable) and the store's folders.
pub fn plan_account(
    listed: &[Listed],
    locals: &[MailboxRow],
    filter: &FolderFilter,
    list_read_whole: bool,
) -> AccountPlan {
    let mut plan = AccountPlan::default();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut order: Vec<&Listed> = listed.iter().collect();
    order.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
    for f in order {
        if !seen.insert(f.name.as_str()) {
            if f.lossy_name {
                plan.skipped
                    .push((f.name.clone(), "its name reads like another folder's once decoded".into()));
            }
            continue;
        }
        if !f.selectable {
            continue;
        }
        if !filter.wants(&f.name, f.delimiter) {
            plan.skipped.push((f.name.clone(), "excluded (non-mail folder or folder pattern)".into()));
            continue;
        }
        let local = locals.iter().find(|m| m.name == f.name).cloned();
        plan.folders.push((f.clone(), local));
    }
    let unlisted = locals.iter().filter(|m| !seen.contains(m.name.as_str()));
    if list_read_whole {
        plan.gone = unlisted.cloned().collect();
    } else {
        plan.kept_unlisted = unlisted.map(|m| m.name.clone()).collect();
    }
    plan
}

/// The vanished folders a new folder with `uidvalidity` may have been renamed from (rule 5 then decides).
pub fn rename_candidates(gone: &[MailboxRow], uidvalidity: UidValidity) -> Vec<usize> {
    gone.iter().enumerate().filter(|(_, m)| m.uidvalidity == Some(uidvalidity)).map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use mailsync_store::{AccountId, MailboxId};

    use super::*;

    fn uv(n: u32) -> UidValidity {
        UidValidity::try_from(n).unwrap()
    }
    fn ms(n: u64) -> ModSeq {
        ModSeq::try_from(n).unwrap()
    }
    fn uid(n: u32) -> Uid {
        Uid::try_from(n).unwrap()
    }
    fn uids(v: &[u32]) -> Vec<Uid> {
        v.iter().map(|&n| uid(n)).collect()
    }
    fn local(v: Option<u32>, next: Option<u32>, m: Option<u64>, count: u32) -> LocalCursor {
        LocalCursor { uidvalidity: v.map(uv), uidnext: next, highestmodseq: m.map(ms), count }
    }
    fn server(v: u32, next: Option<u32>, exists: u32, m: Option<u64>) -> ServerFolder {
        ServerFolder { uidvalidity: uv(v), uidnext: next, exists, highestmodseq: m.map(ms) }
    }

    #[test]
    fn plan_table() {
        use Scan::*;
        let plain = |scan| FolderPlan { reset: false, scan };
        let reset = |scan| FolderPlan { reset: true, scan };
        let rows: Vec<(&str, LocalCursor, ServerFolder, bool, FolderPlan)> = vec![
            (
                "first sync",
                local(None, None, None, 0),
                server(7, Some(11), 10, Some(50)),
                true,
                plain(FullScan),
            ),
            (
                "first sync, empty folder",
                local(None, None, None, 0),
                server(7, Some(1), 0, None),
                false,
                plain(Empty),
            ),
            (
                "uidvalidity changed",
                local(Some(6), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(50)),
                true,
                reset(FullScan),
            ),
            (
                "uidvalidity changed, folder now empty",
                local(Some(6), Some(11), Some(50), 10),
                server(7, Some(1), 0, None),
                true,
                reset(Empty),
            ),
            (
                "condstore: nothing changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(50)),
                true,
                plain(UpToDate),
            ),
            (
                "condstore without qresync: nothing changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(50)),
                false,
                plain(UpToDate),
            ),
            (
                "qresync: flags changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(53)),
                true,
                plain(Qresync { from_uid: 11 }),
            ),
            (
                "qresync: new mail",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(14), 13, Some(55)),
                true,
                plain(Qresync { from_uid: 11 }),
            ),
            (
                "qresync: a gap held the cursor back",
                local(Some(7), Some(4), Some(50), 9),
                server(7, Some(11), 10, Some(50)),
                true,
                plain(Qresync { from_uid: 4 }),
            ),
            (
                "condstore only: something changed",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 10, Some(53)),
                false,
                plain(FullScan),
            ),
            (
                "outlook: no modseq, same counts",
                local(Some(7), Some(11), None, 10),
                server(7, Some(11), 10, None),
                false,
                plain(FullScan),
            ),
            (
                "outlook: new mail",
                local(Some(7), Some(11), None, 10),
                server(7, Some(12), 11, None),
                false,
                plain(FullScan),
            ),
            (
                "everything expunged",
                local(Some(7), Some(11), Some(50), 10),
                server(7, Some(11), 0, Some(60)),
                true,
                plain(Empty),
            ),
            (
                "empty stays empty",
                local(Some(7), Some(11), Some(50), 0),
                server(7, Some(11), 0, Some(50)),
                true,
                plain(UpToDate),
            ),
            (
                "interrupted first sync (no cursor yet)",
                local(None, None, None, 4),
                server(7, Some(11), 10, Some(50)),
                true,
                plain(FullScan),
            ),
            (
                "same modseq but count differs",
                local(Some(7), Some(11), Some(50), 9),
                server(7, Some(11), 10, Some(50)),
                true,
                plain(Qresync { from_uid: 11 }),
            ),
        ];
        for (name, l, s, q, want) in rows {
            assert_eq!(plan_folder(&l, &s, q), want, "{name}");
        }
    }

    fn map(entries: &[(u32, &[&str])]) -> BTreeMap<Uid, Vec<String>> {
        entries.iter().map(|(u, f)| (uid(*u), f.iter().map(|s| s.to_string()).collect())).collect()
    }
    fn listing(entries: &[(u32, Option<&[&str]>)]) -> ServerListing {
        entries.iter().map(|(u, f)| (uid(*u), f.map(|f| f.iter().map(|s| s.to_string()).collect()))).collect()
    }
    fn gaps(due: &[u32], waiting: &[u32]) -> Gaps {
        Gaps { due: uids(due).into_iter().collect(), waiting: uids(waiting).into_iter().collect() }
    }

    #[test]
    fn diff_finds_new_changed_and_expunged() {
        let local = map(&[(1, &["\\Seen"]), (2, &[]), (3, &["\\Flagged", "\\Seen"])]);
        let server = listing(&[
            (2, Some(&["\\Seen"])),
            (3, Some(&["\\Seen", "\\Flagged", "\\Recent"])),
            (4, Some(&[])),
            (5, Some(&[])),
            (6, None),
        ]);
        let d = diff_folder(&local, &server, &gaps(&[6], &[5]));
        assert_eq!(d.new, uids(&[4, 6]), "5 waits for its back-off; 6 is a due gap, flags unknown");
        assert_eq!(d.flag_changes, vec![(uid(2), vec!["\\Seen".to_string()])]);
        assert_eq!(d.expunged, uids(&[1]));
    }

    #[test]
    fn unknown_flags_change_nothing_and_gaps_that_left_are_cleared() {
        let local = map(&[(1, &["\\Seen"])]);
        let d = diff_folder(&local, &listing(&[(1, None)]), &gaps(&[7], &[8]));
        assert_eq!(d, FolderDiff { expunged: uids(&[7, 8]), ..FolderDiff::default() });
    }

    #[test]
    fn diff_of_identical_states_is_empty() {
        let m = map(&[(1, &["\\Seen"]), (9, &[])]);
        let server: ServerListing = m.iter().map(|(u, f)| (*u, Some(f.clone()))).collect();
        assert_eq!(diff_folder(&m, &server, &Gaps::default()), FolderDiff::default());
    }

    #[test]
    fn qresync_diff_table() {
        let local = map(&[(1, &[]), (2, &["\\Seen"]), (3, &[])]);
        let changed = vec![(uid(2), vec!["\\Seen".to_string()]), (uid(3), vec!["\\Flagged".to_string()])];
        // vanished 1 and gap 5; search from 10 found 9 (below from: Outlook's n:*), 10, 11; gap 6 due, 7 waiting.
        let d =
            diff_qresync(&local, &uids(&[1, 5, 40]), &changed, &uids(&[9, 10, 11]), 10, &gaps(&[5, 6], &[7]));
        assert_eq!(d.expunged, uids(&[1, 5]));
        assert_eq!(d.flag_changes, vec![(uid(3), vec!["\\Flagged".to_string()])]);
        assert_eq!(d.new, uids(&[6, 10, 11]));
    }

    #[test]
    fn gaps_split_at_now() {
        let g = |u: u32, retry_after: i64| ImapGap {
            uid: uid(u),
            reason: "r".into(),
            attempts: 1,
            retry_after,
            seen_at: 0,
        };
        let all = [g(1, 0), g(2, 100), g(3, 101)];
        assert_eq!(Gaps::split(&all, 100, false), gaps(&[1, 2], &[3]));
        assert_eq!(Gaps::split(&all, 100, true), gaps(&[1, 2, 3], &[]));
    }

    fn listed(name: &str, selectable: bool) -> Listed {
        Listed {
            name: name.into(),
            wire: name.as_bytes().to_vec(),
            delimiter: Some('/'),
            attributes: Vec::new(),
            special_use: None,
            selectable,
            lossy_name: false,
        }
    }
    fn row(id: i64, name: &str, v: Option<u32>) -> MailboxRow {
        MailboxRow {
            id: MailboxId::new(id),
            account: AccountId::new(1),
            name: name.into(),
            delimiter: Some('/'),
            attributes: Vec::new(),
            special_use: None,
            uidvalidity: v.map(uv),
            uidnext: None,
            highestmodseq: None,
            last_sync_at: None,
        }
    }

    #[test]
    fn account_plan_table() {
        let filter = FolderFilter::default();
        let server = [
            listed("Sent", true),
            listed("INBOX", true),
            listed("Calendar", true),
            listed("Archive", false),
            listed("Archive/2024", true),
            listed("Sent", true),
        ];
        let locals = [row(1, "INBOX", Some(1)), row(2, "Old", Some(9)), row(3, "Calendar", Some(3))];
        let p = plan_account(&server, &locals, &filter, true);
        let names: Vec<&str> = p.folders.iter().map(|(f, _)| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["INBOX", "Archive/2024", "Sent"],
            "INBOX first, containers and duplicates left out"
        );
        assert_eq!(p.folders[0].1.as_ref().map(|m| m.id), Some(MailboxId::new(1)));
        assert_eq!(
            p.skipped,
            vec![("Calendar".to_string(), "excluded (non-mail folder or folder pattern)".to_string())]
        );
        assert_eq!(p.gone.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["Old"]);
        assert!(p.kept_unlisted.is_empty());

        let partial = plan_account(&server, &locals, &filter, false);
        assert!(partial.gone.is_empty(), "an unreadable LIST line proves no folder gone");
        assert_eq!(partial.kept_unlisted, ["Old"]);
    }

    #[test]
    fn rename_candidates_share_the_uidvalidity() {
        let gone = [row(1, "A", Some(5)), row(2, "B", Some(6)), row(3, "C", Some(5)), row(4, "D", None)];
        assert_eq!(rename_candidates(&gone, uv(5)), [0, 2]);
        assert!(rename_candidates(&gone, uv(7)).is_empty());
    }
}
