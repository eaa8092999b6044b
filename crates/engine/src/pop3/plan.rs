//! The POP3 planners: which messages to download, and which to delete once their local copies are committed.
//! Pure: the clock comes in as `now`, so `delete_after_days` is tested with any date.
//!
//! RFC 1939 section 7 (UIDL: the only stable identity of a POP3 message across sessions).

use foldhash::fast::RandomState;
use indexmap::IndexMap;

use mailsync_proto::{SeqNum, Uidl};

/// One message as the server lists it in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its number in this session.
    pub msg: SeqNum,
    /// Its UIDL, when the server supports UIDL.
    pub uidl: Option<Uidl>,
    /// Its size from LIST.
    pub size: u64,
}

/// What the store remembers of a UIDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// When its download was committed.
    pub downloaded_at: Option<i64>,
    /// When we saw it deleted on the server (`None`: still there, as far as we know).
    pub deleted_on_server_at: Option<i64>,
}

/// The UIDLs the store holds, keyed for the planners. A no-op run looks up every UIDL the server lists, tens of
/// thousands on a big mailbox: foldhash (randomly seeded per process) rather than SipHash, and an index map,
/// whose positions let [`plan_download`] mark what the server still lists without a set of its own.
pub type KnownUidls = IndexMap<Uidl, Known, RandomState>;

/// What to do with the server's copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pop3Mode {
    /// Leave everything on the server (Outlook's desktop default).
    Keep,
    /// Leave on the server, delete once downloaded more than this many days ago.
    DeleteAfterDays(u32),
    /// Classic POP: delete as soon as the local copy is committed.
    Delete,
}

/// The download part of a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DownloadPlan {
    /// Messages to RETR, in server order.
    pub download: Vec<Listed>,
    /// Stored UIDLs that the server no longer lists although we never saw them deleted: gone elsewhere, or
    /// deleted by an earlier run that stopped between QUIT and recording it.
    pub vanished: Vec<Uidl>,
}

/// Messages to download: those whose UIDL the store does not know. Without UIDL every message is listed for
/// download and deduplicated by content afterwards.
pub fn plan_download(listing: &[Listed], known: &KnownUidls) -> DownloadPlan {
    // still_listed[i]: the server lists known UIDL number i.
    let mut still_listed = vec![false; known.len()];
    let mut download = Vec::new();
    for l in listing {
        match l.uidl.as_ref().and_then(|u| known.get_index_of(u)) {
            Some(i) => {
                if let Some(seen) = still_listed.get_mut(i) {
                    *seen = true;
                }
            }
            None => download.push(l.clone()),
        }
    }
    let has_uidl = listing.iter().any(|l| l.uidl.is_some()) || listing.is_empty();
    let mut vanished: Vec<Uidl> = if has_uidl {
        known
            .iter()
            .zip(&still_listed)
            .filter(|((_, k), listed)| {
                k.deleted_on_server_at.is_none() && k.downloaded_at.is_some() && !**listed
            })
            .map(|((u, _), _)| u.clone())
            .collect()
    } else {
        Vec::new()
    };
    vanished.sort();
    DownloadPlan { download, vanished }
}

const DAY: i64 = 86_400;

/// Messages to DELE, chosen after every download is committed: only UIDLs the store holds a committed copy
/// of (`known` read back after the commit). Without UIDL nothing is deleted unless `force`.
pub fn plan_deletions(
    listing: &[Listed],
    known: &KnownUidls,
    mode: Pop3Mode,
    now: i64,
    force_without_uidl: bool,
) -> Vec<(SeqNum, Uidl)> {
    let cutoff = match mode {
        Pop3Mode::Keep => return Vec::new(),
        Pop3Mode::Delete => i64::MAX,
        Pop3Mode::DeleteAfterDays(days) => now.saturating_sub(i64::from(days).saturating_mul(DAY)),
    };
    let has_uidl = listing.iter().all(|l| l.uidl.is_some());
    if !has_uidl && !force_without_uidl {
        return Vec::new();
    }
    listing
        .iter()
        .filter_map(|l| {
            let uidl = l.uidl.as_ref()?;
            let downloaded = known.get(uidl)?.downloaded_at?;
            (downloaded <= cutoff).then(|| (l.msg, uidl.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(msg: u32, uidl: Option<&str>) -> Listed {
        Listed { msg: SeqNum::try_from(msg).unwrap(), uidl: uidl.map(|u| Uidl::new(u).unwrap()), size: 100 }
    }
    fn k(downloaded: Option<i64>, deleted: Option<i64>) -> Known {
        Known { downloaded_at: downloaded, deleted_on_server_at: deleted }
    }
    fn known(rows: &[(&str, Known)]) -> KnownUidls {
        rows.iter().map(|(u, k)| (Uidl::new(*u).unwrap(), *k)).collect()
    }
    fn uidls(v: &[(SeqNum, Uidl)]) -> Vec<&str> {
        v.iter().map(|(_, u)| u.as_str()).collect()
    }

    #[test]
    fn downloads_only_new_uidls_and_notices_vanished_ones() {
        let listing = [l(1, Some("a")), l(2, Some("b")), l(3, Some("c"))];
        let kn = known(&[("a", k(Some(10), None)), ("x", k(Some(10), None)), ("y", k(Some(10), Some(20)))]);
        let p = plan_download(&listing, &kn);
        assert_eq!(p.download.iter().map(|d| d.msg.get()).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(p.vanished, vec![Uidl::new("x").unwrap()], "y was already recorded as deleted");
    }

    #[test]
    fn vanished_is_exact_whatever_the_order_and_repeats_of_the_listing() {
        // Rows: (listing, known) -> (download, vanished). Live = downloaded and not seen deleted.
        type Row<'a> = (&'a [Listed], &'a [(&'a str, Known)], &'a [u32], &'a [&'a str]);
        let live = k(Some(10), None);
        let rows: [Row<'_>; 5] = [
            (&[l(1, Some("b")), l(2, Some("a"))], &[("a", live), ("b", live)], &[], &[]),
            (&[l(1, Some("a")), l(2, Some("a"))], &[("a", live), ("b", live)], &[], &["b"]),
            (
                &[l(1, Some("n")), l(2, Some("c"))],
                &[("a", live), ("b", live), ("c", live)],
                &[1],
                &["a", "b"],
            ),
            (&[], &[("a", live), ("z", k(None, None))], &[], &["a"]),
            (&[l(1, Some("a"))], &[], &[1], &[]),
        ];
        for (listing, kn, download, vanished) in rows {
            let p = plan_download(listing, &known(kn));
            assert_eq!(p.download.iter().map(|d| d.msg.get()).collect::<Vec<_>>(), download, "{listing:?}");
            assert_eq!(p.vanished.iter().map(Uidl::as_str).collect::<Vec<_>>(), vanished, "{listing:?}");
        }
    }

    #[test]
    fn a_message_kept_despite_dele_is_not_downloaded_again() {
        // Outlook's "move to a special POP folder": DELE + QUIT succeeded, the message is still listed.
        let listing = [l(1, Some("a"))];
        let kn = known(&[("a", k(Some(10), Some(20)))]);
        assert!(plan_download(&listing, &kn).download.is_empty());
    }

    #[test]
    fn without_uidl_everything_is_a_candidate_and_nothing_vanishes() {
        let listing = [l(1, None), l(2, None)];
        let p = plan_download(&listing, &known(&[("a", k(Some(1), None))]));
        assert_eq!(p.download.len(), 2);
        assert!(p.vanished.is_empty());
    }

    #[test]
    fn deletion_table() {
        let now = 100 * DAY;
        let listing =
            [l(1, Some("old")), l(2, Some("recent")), l(3, Some("new-uncommitted")), l(4, Some("edge"))];
        let kn = known(&[
            ("old", k(Some(now - 30 * DAY), None)),
            ("recent", k(Some(now - 2 * DAY), None)),
            ("edge", k(Some(now - 14 * DAY), None)),
        ]);
        let rows: Vec<(&str, Pop3Mode, Vec<&str>)> = vec![
            ("keep", Pop3Mode::Keep, vec![]),
            ("classic delete: every committed copy", Pop3Mode::Delete, vec!["old", "recent", "edge"]),
            ("after 14 days: old and the exact edge", Pop3Mode::DeleteAfterDays(14), vec!["old", "edge"]),
            ("after 60 days: none", Pop3Mode::DeleteAfterDays(60), vec![]),
            (
                "after 0 days: every committed copy",
                Pop3Mode::DeleteAfterDays(0),
                vec!["old", "recent", "edge"],
            ),
        ];
        for (name, mode, want) in rows {
            assert_eq!(uidls(&plan_deletions(&listing, &kn, mode, now, false)), want, "{name}");
        }
    }

    #[test]
    fn never_deletes_what_is_not_committed() {
        let listing = [l(1, Some("a"))];
        let kn = known(&[("a", k(None, None))]);
        assert!(plan_deletions(&listing, &kn, Pop3Mode::Delete, 0, false).is_empty());
    }

    #[test]
    fn without_uidl_deletes_only_when_forced() {
        let listing = [l(1, None)];
        assert!(plan_deletions(&listing, &KnownUidls::default(), Pop3Mode::Delete, 0, false).is_empty());
        // Forced, but a message without a UIDL still cannot be tied to a committed copy by this planner.
        assert!(plan_deletions(&listing, &KnownUidls::default(), Pop3Mode::Delete, 0, true).is_empty());
    }
}
