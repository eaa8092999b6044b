//! The comparison itself, pure: server entries seen over IMAP and POP3 and the store's locations, grouped into
//! messages and counted per protocol. No I/O; tested with hand-built snapshots.
//!
//! Identity across protocols (there is no shared id in the protocols): a stored location ties a server entry
//! to a stored message (IMAP: folder + UIDVALIDITY + UID; POP3: UIDL); equal Message-IDs tie anything; and
//! Dovecot's UIDL format (`%08Xu%08Xv`: UID and UIDVALIDITY in hex) ties a POP3 entry to its INBOX UID.

use std::collections::{BTreeMap, HashMap};

use mailsync_proto::{Uid, UidValidity, Uidl};
use mailsync_store::{LocationView, MessageId, Protocol};
use serde::Serialize;

use crate::pop3::plan::{plan_deletions, Known, KnownUidls, Listed, Listing, Pop3Mode};

/// A message as IMAP shows it in one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapEntry {
    /// The folder.
    pub folder: String,
    /// The folder's UIDVALIDITY.
    pub uidvalidity: UidValidity,
    /// The UID.
    pub uid: Uid,
    /// Flags, sorted, without `\Recent`.
    pub flags: Vec<String>,
    /// RFC822.SIZE.
    pub size: u64,
    /// Message-ID from the header.
    pub message_id: Option<String>,
}

/// A message as POP3 shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Entry {
    /// Its number in the session.
    pub msg: mailsync_proto::SeqNum,
    /// Its UIDL, if the server has UIDL.
    pub uidl: Option<Uidl>,
    /// LIST size.
    pub size: u64,
    /// Message-ID from TOP.
    pub message_id: Option<String>,
}

/// Everything a comparison looks at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The folders IMAP lists and mirrors (`None`: IMAP not configured or not reached).
    pub imap_folders: Option<Vec<String>>,
    /// IMAP entries.
    pub imap: Vec<ImapEntry>,
    /// POP3 entries (`None`: POP3 not configured or not reached).
    pub pop3: Option<Vec<Pop3Entry>>,
    /// The store's locations of the account.
    pub local: Vec<LocationView>,
}

/// Flag counts over the IMAP entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlagCounts {
    /// `\Seen`.
    pub seen: u64,
    /// Without `\Seen`.
    pub unseen: u64,
    /// `\Flagged`.
    pub flagged: u64,
    /// `\Answered`.
    pub answered: u64,
    /// `\Draft`.
    pub draft: u64,
}

/// What the IMAP side shows and would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImapSide {
    /// Folders visible (and mirrored).
    pub folders: Vec<String>,
    /// Messages visible, over all folders.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Flags per message.
    pub flags: FlagCounts,
    /// Messages the next IMAP sync would download.
    pub next_download: u64,
    /// Their bytes.
    pub next_download_bytes: u64,
    /// Stored IMAP copies the next sync would remove (expunged on the server).
    pub next_remove: u64,
    /// What IMAP sync deletes on the server: nothing, ever.
    pub deletes_on_server: u64,
}

/// What the POP3 side shows and would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pop3Side {
    /// Folders visible: INBOX only.
    pub folders: Vec<String>,
    /// Messages visible.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// POP3 carries no flags.
    pub flags: Option<FlagCounts>,
    /// Messages the next POP3 sync would download.
    pub next_download: u64,
    /// Their bytes.
    pub next_download_bytes: u64,
    /// Messages the next POP3 sync would delete on the server, in the configured mode.
    pub next_delete_on_server: u64,
    /// The mode.
    pub mode: String,
}

/// Where messages live, counted once per message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Whereabouts {
    /// On the server, not in the store.
    pub server_only: u64,
    /// In the store, not on the server.
    pub local_only: u64,
    /// On the server and in the store.
    pub both: u64,
}

/// The whole comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// IMAP's view (absent when IMAP was not compared).
    pub imap: Option<ImapSide>,
    /// POP3's view (absent when POP3 was not compared).
    pub pop3: Option<Pop3Side>,
    /// Messages IMAP shows that POP3 cannot (both compared), by folder.
    pub only_imap: BTreeMap<String, u64>,
    /// Total of `only_imap`.
    pub only_imap_total: u64,
    /// Where messages live, looking at IMAP's server view and every stored copy.
    pub via_imap: Whereabouts,
    /// The same, looking at POP3's server view.
    pub via_pop3: Whereabouts,
    /// The same, looking at both servers' views together.
    pub either: Whereabouts,
    /// Distinct messages in the store for this account.
    pub stored_messages: u64,
    /// Stored IMAP locations.
    pub stored_imap_locations: u64,
    /// Stored POP3 locations (including those deleted on the server).
    pub stored_pop3_locations: u64,
}

/// Union-find over node indexes.
struct Groups(Vec<usize>);

impl Groups {
    fn find(&mut self, x: usize) -> usize {
        let mut r = x;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut y = x;
        while self.0[y] != r {
            let next = self.0[y];
            self.0[y] = r;
            y = next;
        }
        r
    }
    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra] = rb;
        }
    }
}

/// Dovecot's `pop3_uidl_format = %08Xu%08Xv` (which it writes in lower case), lower-cased for comparison.
fn dovecot_uidl(uid: Uid, uidvalidity: UidValidity) -> String {
    format!("{:08x}{:08x}", uid.get(), uidvalidity.get())
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Compares; `mode` and `now` decide what the next POP3 sync would delete.
pub fn compare(s: &Snapshot, mode: Pop3Mode, now: i64) -> Comparison {
    let pop3 = s.pop3.as_deref().unwrap_or(&[]);
    let mut locals: Vec<MessageId> = s.local.iter().map(|l| l.message).collect();
    locals.sort();
    locals.dedup();
    // Nodes: IMAP entries, then POP3 entries, then stored messages.
    let (ni, np) = (s.imap.len(), pop3.len());
    let local_node: HashMap<MessageId, usize> =
        locals.iter().enumerate().map(|(i, m)| (*m, ni + np + i)).collect();
    let mut g = Groups((0..ni + np + locals.len()).collect());

    let mut by_imap: HashMap<(&str, u32, u32), MessageId> = HashMap::new();
    let mut by_uidl: HashMap<&str, MessageId> = HashMap::new();
    let mut msgid_of: HashMap<MessageId, &str> = HashMap::new();
    for l in &s.local {
        if let Some(id) = &l.message_id {
            msgid_of.insert(l.message, id);
        }
        match (l.protocol, &l.mailbox, l.uid, l.uidvalidity, &l.uidl) {
            (Protocol::Imap, Some(f), Some(u), Some(v), _) => {
                by_imap.insert((f.as_str(), v.get(), u.get()), l.message);
            }
            (Protocol::Pop3, _, _, _, Some(u)) => {
                by_uidl.insert(u.as_str(), l.message);
            }
            _ => {}
        }
    }
    let mut first_with_msgid: HashMap<String, usize> = HashMap::new();
    let mut by_msgid = |g: &mut Groups, id: Option<&str>, node: usize| {
        if let Some(id) = id {
            match first_with_msgid.get(id) {
                Some(other) => g.join(*other, node),
                None => {
                    first_with_msgid.insert(id.to_string(), node);
                }
            }
        }
    };
    let mut inbox_uidl: HashMap<String, usize> = HashMap::new();
    for (i, e) in s.imap.iter().enumerate() {
        if let Some(m) = by_imap.get(&(e.folder.as_str(), e.uidvalidity.get(), e.uid.get())) {
            g.join(i, local_node[m]);
        }
        by_msgid(&mut g, e.message_id.as_deref(), i);
        if e.folder == "INBOX" {
            inbox_uidl.insert(dovecot_uidl(e.uid, e.uidvalidity), i);
        }
    }
    for (j, e) in pop3.iter().enumerate() {
        let node = ni + j;
        if let Some(u) = &e.uidl {
            if let Some(m) = by_uidl.get(u.as_str()) {
                g.join(node, local_node[m]);
            }
            if let Some(i) = inbox_uidl.get(&u.as_str().to_ascii_lowercase()) {
                g.join(node, *i);
            }
        }
        by_msgid(&mut g, e.message_id.as_deref(), node);
    }
    for m in &locals {
        by_msgid(&mut g, msgid_of.get(m).copied(), local_node[m]);
    }

    // Per group: seen over IMAP, over POP3, stored.
    #[derive(Default, Clone, Copy)]
    struct Seen {
        imap: bool,
        pop3: bool,
        stored: bool,
    }
    let mut groups: HashMap<usize, Seen> = HashMap::new();
    for i in 0..ni {
        let r = g.find(i);
        groups.entry(r).or_default().imap = true;
    }
    for j in 0..np {
        let r = g.find(ni + j);
        groups.entry(r).or_default().pop3 = true;
    }
    for m in &locals {
        let r = g.find(local_node[m]);
        groups.entry(r).or_default().stored = true;
    }
    let tally = |on: fn(&Seen) -> bool| {
        let mut w = Whereabouts::default();
        for v in groups.values() {
            match (on(v), v.stored) {
                (true, true) => w.both += 1,
                (true, false) => w.server_only += 1,
                (false, true) => w.local_only += 1,
                (false, false) => {}
            }
        }
        w
    };

    let mut c = Comparison {
        stored_messages: count(locals.len()),
        stored_imap_locations: count(s.local.iter().filter(|l| l.protocol == Protocol::Imap).count()),
        stored_pop3_locations: count(s.local.iter().filter(|l| l.protocol == Protocol::Pop3).count()),
        ..Comparison::default()
    };
    if let Some(folders) = &s.imap_folders {
        let mut side = ImapSide { folders: folders.clone(), ..ImapSide::default() };
        for e in &s.imap {
            side.messages += 1;
            side.bytes += e.size;
            let has = |f: &str| e.flags.iter().any(|x| x.eq_ignore_ascii_case(f));
            if has("\\Seen") {
                side.flags.seen += 1;
            } else {
                side.flags.unseen += 1;
            }
            side.flags.flagged += u64::from(has("\\Flagged"));
            side.flags.answered += u64::from(has("\\Answered"));
            side.flags.draft += u64::from(has("\\Draft"));
            if !by_imap.contains_key(&(e.folder.as_str(), e.uidvalidity.get(), e.uid.get())) {
                side.next_download += 1;
                side.next_download_bytes += e.size;
            }
        }
        let on_server: std::collections::HashSet<(&str, u32, u32)> =
            s.imap.iter().map(|e| (e.folder.as_str(), e.uidvalidity.get(), e.uid.get())).collect();
        side.next_remove = count(by_imap.keys().filter(|k| !on_server.contains(*k)).count());
        c.imap = Some(side);
        c.via_imap = tally(|v| v.imap);
    }
    if let Some(entries) = &s.pop3 {
        let mut side =
            Pop3Side { folders: vec!["INBOX".into()], mode: mode_word(mode), ..Pop3Side::default() };
        let mut known = KnownUidls::default();
        for l in s.local.iter().filter(|l| l.protocol == Protocol::Pop3) {
            if let Some(u) = &l.uidl {
                known.insert(
                    u.clone(),
                    Known { downloaded_at: l.downloaded_at, deleted_on_server_at: l.deleted_on_server_at },
                );
            }
        }
        for e in entries {
            side.messages += 1;
            side.bytes += e.size;
            let is_known = e.uidl.as_ref().is_some_and(|u| known.contains_key(u));
            if !is_known {
                side.next_download += 1;
                side.next_download_bytes += e.size;
            }
        }
        // After the downloads, new UIDLs are committed "now".
        let mut after = known.clone();
        for e in entries {
            if let Some(u) = &e.uidl {
                after
                    .entry(u.clone())
                    .or_insert(Known { downloaded_at: Some(now), deleted_on_server_at: None });
            }
        }
        let listing = Listing {
            messages: entries
                .iter()
                .map(|e| Listed { msg: e.msg, uidl: e.uidl.clone(), size: e.size })
                .collect(),
            listed_uidls: entries.iter().filter_map(|e| e.uidl.clone()).collect(),
            has_uidl: entries.iter().any(|e| e.uidl.is_some()),
            problems: Vec::new(),
        };
        let no_identities = std::collections::HashMap::new();
        side.next_delete_on_server =
            count(plan_deletions(&listing, &no_identities, &after, mode, now, false).len());
        c.pop3 = Some(side);
        c.via_pop3 = tally(|v| v.pop3);
    }
    if s.imap_folders.is_some() && s.pop3.is_some() {
        for (i, e) in s.imap.iter().enumerate() {
            let r = g.find(i);
            if !groups.get(&r).is_some_and(|v| v.pop3) {
                *c.only_imap.entry(e.folder.clone()).or_default() += 1;
                c.only_imap_total += 1;
            }
        }
    }
    c.either = tally(|v| v.imap || v.pop3);
    c
}

/// The POP3 mode in words.
pub fn mode_word(mode: Pop3Mode) -> String {
    match mode {
        Pop3Mode::Keep => "leave on server".into(),
        Pop3Mode::Delete => "delete after download".into(),
        Pop3Mode::DeleteAfterDays(d) => format!("delete after {d} days"),
    }
}
