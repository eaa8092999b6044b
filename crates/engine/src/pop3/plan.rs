//! The POP3 planners: how the server's listings read as one listing, which messages to download, which stored
//! ones vanished, and which to delete once their local copies are committed (`integrity` rule 6). Pure: the
//! clock comes in as `now`, so `delete_after_days` is tested with any date.
//!
//! RFC 1939 sections 5 (LIST) and 7 (UIDL: the only stable identity of a POP3 message across sessions, when
//! the server keeps it unique, which broken servers do not).

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;
use indexmap::IndexMap;
use mailsync_proto::pop3::{Lenient, ScanListing, UidlListing};
use mailsync_proto::{SeqNum, Uidl};

use crate::integrity::committed_copy;

/// One message as the server lists it in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its number in this session.
    pub msg: SeqNum,
    /// Its UIDL, when it has a usable one: the server supports UIDL, its line was valid, and no other message
    /// of the listing has the same UIDL. `None`: the message is identified by its content (`integrity` rule 6).
    pub uidl: Option<Uidl>,
    /// Its size from LIST (0 when LIST did not say).
    pub size: u64,
}

/// The server's listing of the maildrop, read from UIDL and LIST.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// Every message, by number.
    pub messages: Vec<Listed>,
    /// Every valid UIDL the server listed (one listed twice included): what proves a stored UIDL still there.
    pub listed_uidls: Vec<Uidl>,
    /// Whether the server supports UIDL at all.
    pub has_uidl: bool,
    /// What was wrong with the listing (bad lines, UIDLs listed twice), one line each, for warnings.
    pub problems: Vec<String>,
}

impl Listing {
    /// Whether some message has no usable UIDL.
    pub fn has_unidentified(&self) -> bool {
        self.messages.iter().any(|l| l.uidl.is_none())
    }
}

/// Merges the UIDL listing (`None`: the server refused UIDL) and the LIST listing (`None`: not asked, because
/// every UIDL was already known) into one listing. A message found in either is listed; a UIDL listed for
/// two different messages identifies neither, and a bad line costs only its own message's UIDL.
pub fn merge_listings(uidl: Option<&Lenient<UidlListing>>, scan: Option<&Lenient<ScanListing>>) -> Listing {
    let mut out = Listing { has_uidl: uidl.is_some(), ..Listing::default() };
    let mut by_msg: std::collections::BTreeMap<SeqNum, Listed> = std::collections::BTreeMap::new();
    if let Some(u) = uidl {
        let mut holders: std::collections::HashMap<&Uidl, Vec<SeqNum>> = std::collections::HashMap::new();
        for l in &u.listings {
            holders.entry(&l.uidl).or_default().push(l.msg);
        }
        for l in &u.listings {
            out.listed_uidls.push(l.uidl.clone());
            let shared = holders.get(&l.uidl).is_some_and(|h| h.len() > 1);
            let entry = by_msg.entry(l.msg).or_insert(Listed { msg: l.msg, uidl: None, size: 0 });
            entry.uidl = (!shared).then(|| l.uidl.clone());
        }
        let mut shared: Vec<(&Uidl, &Vec<SeqNum>)> =
            holders.iter().filter(|(_, h)| h.len() > 1).map(|(u, h)| (*u, h)).collect();
        shared.sort();
        for (u, msgs) in shared {
            let msgs: Vec<String> = msgs.iter().map(|m| m.get().to_string()).collect();
            out.problems.push(format!(
                "UIDL {u} is listed for messages {}: they are told apart by their content",
                msgs.join(", ")
            ));
        }
        for bad in &u.bad {
            if let Some(msg) = bad.msg {
                by_msg.entry(msg).or_insert(Listed { msg, uidl: None, size: 0 });
            }
            out.problems.push(format!("{} (that message is told apart by its content)", bad.error));
        }
    }
    if let Some(s) = scan {
        for l in &s.listings {
            by_msg.entry(l.msg).or_insert(Listed { msg: l.msg, uidl: None, size: 0 }).size = l.size;
        }
        for bad in &s.bad {
            if let Some(msg) = bad.msg {
                by_msg.entry(msg).or_insert(Listed { msg, uidl: None, size: 0 });
            }
            out.problems.push(bad.error.to_string());
        }
    }
    out.listed_uidls.sort();
    out.listed_uidls.dedup();
    out.messages = by_msg.into_values().collect();
    out
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
/// thousands on a big mailbox: foldhash (randomly seeded per process) rather than SipHash, and an index map.
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

/// Messages to RETR, in server order: those whose UIDL the store does not know, and every message without a
/// usable UIDL (only its content can tell whether it is stored), except those whose UIDL is a gap still
/// waiting for its back-off.
pub fn plan_download(listing: &Listing, known: &KnownUidls, waiting: &HashSet<Uidl>) -> Vec<Listed> {
    listing
        .messages
        .iter()
        .filter(|l| match &l.uidl {
            Some(u) => !known.contains_key(u) && !waiting.contains(u),
            None => true,
        })
        .cloned()
        .collect()
}

/// Prefix of the identity given to a message without a usable UIDL: its content hash.
pub const CONTENT_IDENTITY: &str = "sha256:";

/// Stored identities that the server no longer lists although we never saw them deleted: gone elsewhere, or
/// deleted by an earlier run that stopped between QUIT and recording it. A content identity counts as listed
/// when this session's download saw those bytes (`seen`). Nothing vanishes on a server without UIDL.
pub fn vanished(listing: &Listing, known: &KnownUidls, seen: &HashSet<Uidl>) -> Vec<Uidl> {
    if !listing.has_uidl {
        return Vec::new();
    }
    let listed: HashSet<&Uidl> = listing.listed_uidls.iter().collect();
    let mut out: Vec<Uidl> = known
        .iter()
        .filter(|(u, k)| {
            k.deleted_on_server_at.is_none()
                && k.downloaded_at.is_some()
                && !listed.contains(u)
                && !seen.contains(*u)
        })
        .map(|(u, _)| u.clone())
        .collect();
    out.sort();
    out
}

const DAY: i64 = 86_400;

/// Messages to DELE, chosen after every download is committed, each with the identity that proves it
/// (`integrity::committed_copy`): its UIDL, or for a message without one the content identity of the bytes
/// RETR gave in this session (`identities`). On a server without any UIDL, nothing unless `force`.
pub fn plan_deletions(
    listing: &Listing,
    identities: &HashMap<SeqNum, Uidl>,
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
    if !listing.has_uidl && !force_without_uidl {
        return Vec::new();
    }
    listing
        .messages
        .iter()
        .filter_map(|l| {
            let identity = l.uidl.as_ref().or_else(|| identities.get(&l.msg))?;
            let downloaded = committed_copy(Some(identity), known)?;
            (downloaded <= cutoff).then(|| (l.msg, identity.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use mailsync_proto::pop3::{parse_scan_listings_lenient, parse_uidl_listings_lenient};

    use super::*;

    fn seq(n: u32) -> SeqNum {
        SeqNum::try_from(n).unwrap()
    }
    fn u(s: &str) -> Uidl {
        Uidl::new(s).unwrap()
    }
    fn l(msg: u32, uidl: Option<&str>) -> Listed {
        Listed { msg: seq(msg), uidl: uidl.map(u), size: 100 }
    }
    fn k(downloaded: Option<i64>, deleted: Option<i64>) -> Known {
        Known { downloaded_at: downloaded, deleted_on_server_at: deleted }
    }
    fn known(rows: &[(&str, Known)]) -> KnownUidls {
        rows.iter().map(|(x, k)| (u(x), *k)).collect()
    }
    fn listing(messages: Vec<Listed>) -> Listing {
        let listed_uidls = messages.iter().filter_map(|m| m.uidl.clone()).collect();
        Listing { messages, listed_uidls, has_uidl: true, problems: Vec::new() }
    }
    fn uidls(v: &[(SeqNum, Uidl)]) -> Vec<&str> {
        v.iter().map(|(_, x)| x.as_str()).collect()
    }
    fn msgs(v: &[Listed]) -> Vec<u32> {
        v.iter().map(|d| d.msg.get()).collect()
    }

    #[test]
    fn listings_merge_and_odd_lines_cost_only_their_uidl() {
        let uidl = parse_uidl_listings_lenient(b"1 a\r\n2 dup\r\n3 dup\r\n4 has space\r\n5 e\r\n");
        let scan = parse_scan_listings_lenient(b"1 10\r\n2 20\r\n3 30\r\n4 40\r\n5 50\r\n6 60\r\n");
        let m = merge_listings(Some(&uidl), Some(&scan));
        let got: Vec<(u32, Option<&str>, u64)> =
            m.messages.iter().map(|l| (l.msg.get(), l.uidl.as_ref().map(Uidl::as_str), l.size)).collect();
        assert_eq!(
            got,
            [
                (1, Some("a"), 10),
                (2, None, 20),
                (3, None, 30),
                (4, None, 40),
                (5, Some("e"), 50),
                (6, None, 60)
            ]
        );
        assert_eq!(m.listed_uidls, [u("a"), u("dup"), u("e")]);
        assert_eq!(m.problems.len(), 2);
        assert!(m.problems[0].starts_with("UIDL dup is listed for messages 2, 3"), "{:?}", m.problems);
        assert!(m.has_unidentified());
        let without_uidl = merge_listings(None, Some(&scan));
        assert!(!without_uidl.has_uidl && without_uidl.messages.iter().all(|l| l.uidl.is_none()));
        let without_list = merge_listings(Some(&parse_uidl_listings_lenient(b"1 a\r\n")), None);
        assert_eq!(without_list.messages, [Listed { msg: seq(1), uidl: Some(u("a")), size: 0 }]);
    }

    #[test]
    fn downloads_unknown_and_unidentified_messages_but_not_waiting_gaps() {
        let lst = listing(vec![l(1, Some("a")), l(2, Some("b")), l(3, Some("c")), l(4, None)]);
        let kn = known(&[("a", k(Some(10), None))]);
        let waiting: HashSet<Uidl> = [u("c")].into();
        assert_eq!(msgs(&plan_download(&lst, &kn, &waiting)), [2, 4]);
    }

    #[test]
    fn vanished_table() {
        // Rows: (listing, known, seen this session) -> vanished. Live = downloaded and not seen deleted.
        let live = k(Some(10), None);
        let content = "sha256:0000";
        type Row<'a> = (Vec<Listed>, Vec<(&'a str, Known)>, Vec<&'a str>, Vec<&'a str>);
        let rows: Vec<Row<'_>> = vec![
            (vec![l(1, Some("b")), l(2, Some("a"))], vec![("a", live), ("b", live)], vec![], vec![]),
            (
                vec![l(1, Some("a"))],
                vec![("a", live), ("b", live), ("y", k(Some(1), Some(2)))],
                vec![],
                vec!["b"],
            ),
            (vec![], vec![("a", live), ("z", k(None, None))], vec![], vec!["a"]),
            (vec![l(1, None)], vec![(content, live)], vec![content], vec![]),
            (vec![l(1, Some("a"))], vec![(content, live), ("a", live)], vec![], vec![content]),
        ];
        for (messages, kn, seen, want) in rows {
            let seen: HashSet<Uidl> = seen.into_iter().map(u).collect();
            let got = vanished(&listing(messages.clone()), &known(&kn), &seen);
            assert_eq!(got.iter().map(Uidl::as_str).collect::<Vec<_>>(), want, "{messages:?}");
        }
        let no_uidl = Listing { messages: vec![l(1, None)], has_uidl: false, ..Listing::default() };
        assert!(vanished(&no_uidl, &known(&[("a", live)]), &HashSet::new()).is_empty());
    }

    #[test]
    fn deletion_table() {
        let now = 100 * DAY;
        let lst = listing(vec![
            l(1, Some("old")),
            l(2, Some("recent")),
            l(3, Some("new-uncommitted")),
            l(4, Some("edge")),
        ]);
        let kn = known(&[
            ("old", k(Some(now - 30 * DAY), None)),
            ("recent", k(Some(now - 2 * DAY), None)),
            ("edge", k(Some(now - 14 * DAY), None)),
        ]);
        let none = HashMap::new();
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
            assert_eq!(uidls(&plan_deletions(&lst, &none, &kn, mode, now, false)), want, "{name}");
        }
    }

    #[test]
    fn a_duplicate_uidl_is_deleted_only_by_its_own_committed_bytes() {
        // Messages 1 and 2 share UIDL "dup"; this session's RETR gave 1 the content identity c1 (committed)
        // and 2 the content identity c2 (not committed: say, an Exchange stand-in). The stored "dup" proves
        // nothing for either.
        let lst = Listing {
            messages: vec![l(1, None), l(2, None), l(3, Some("a"))],
            listed_uidls: vec![u("a"), u("dup")],
            has_uidl: true,
            problems: vec![],
        };
        let ids: HashMap<SeqNum, Uidl> = [(seq(1), u("sha256:c1")), (seq(2), u("sha256:c2"))].into();
        let kn =
            known(&[("dup", k(Some(1), None)), ("sha256:c1", k(Some(1), None)), ("a", k(Some(1), None))]);
        let del = plan_deletions(&lst, &ids, &kn, Pop3Mode::Delete, 10, false);
        assert_eq!(
            del.iter().map(|(m, x)| (m.get(), x.as_str())).collect::<Vec<_>>(),
            [(1, "sha256:c1"), (3, "a")]
        );
    }

    #[test]
    fn never_deletes_what_is_not_committed() {
        let lst = listing(vec![l(1, Some("a"))]);
        let kn = known(&[("a", k(None, None))]);
        assert!(plan_deletions(&lst, &HashMap::new(), &kn, Pop3Mode::Delete, 0, false).is_empty());
    }

    #[test]
    fn without_uidl_deletes_only_when_forced_and_only_what_this_session_committed() {
        let lst = Listing { messages: vec![l(1, None), l(2, None)], has_uidl: false, ..Listing::default() };
        let ids: HashMap<SeqNum, Uidl> = [(seq(1), u("sha256:c1")), (seq(2), u("sha256:c2"))].into();
        let kn = known(&[("sha256:c1", k(Some(1), None))]);
        assert!(plan_deletions(&lst, &ids, &kn, Pop3Mode::Delete, 10, false).is_empty());
        let forced = plan_deletions(&lst, &ids, &kn, Pop3Mode::Delete, 10, true);
        assert_eq!(uidls(&forced), ["sha256:c1"]);
    }
}
