//! The integrity rules of a sync, stated once and enforced here. A misbehaving server is the normal case:
//! every rule below assumes the server may lie, repeat itself, leave things out or break the grammar, and
//! none of that may cost a message, store a wrong copy, or hide a gap.
//!
//! 1. **What counts as the message.** Over IMAP, a FETCH answer that carries exactly one complete `BODY[]`
//!    (no `<origin>`, not NIL, no other section in its place) for a UID that was asked for, and no second,
//!    different body for the same UID in the same run ([`message_body`]). Over POP3, the body of a `+OK`
//!    answer to RETR. On both, never Exchange's stand-in for a message it cannot convert
//!    ([`is_exchange_stand_in`]). Anything else is a gap of that message, never a stored copy.
//! 2. **A gap is recorded, retried and shown.** A message the server lists that is not stored gets a row with
//!    the reason (store `unfetchable` / `pop3_gaps`), is tried again on a later run (next run first, then
//!    with a growing back-off, `mailsync_store::retry_delay`; `sync --retry` tries every gap now), and is
//!    counted in the sync summary and `status` until it is stored or leaves the server.
//! 3. **A cursor never passes a gap it does not know about** ([`cursor_after`]). A folder's UIDNEXT and
//!    HIGHESTMODSEQ are committed with the folder's last batch, and only as far as every UID below them is
//!    stored or recorded as a gap; when an answer of the folder could not be read at all, the cursor keeps its
//!    old values, so the next run looks again.
//! 4. **A local removal needs evidence that adds up** ([`listing_adds_up`]). A message leaves the local
//!    mirror only when the server said so (VANISHED, EXPUNGE) or when a listing of the folder's UIDs is
//!    complete: as many distinct UIDs as the folder EXISTS. No EXISTS, or fewer UIDs without an explanation,
//!    fails the folder and removes nothing. A folder leaves the mirror only when LIST was read whole.
//! 5. **A rename needs matching contents** ([`is_rename`]). UIDVALIDITY is unique per mailbox name only: a
//!    vanished folder and a new one with the same UIDVALIDITY are one folder renamed only when a sample of the
//!    old folder's messages is found under the same UIDs with the same bytes.
//! 6. **A POP3 deletion needs proof** ([`committed_copy`]). DELE only for a message whose exact bytes are
//!    committed under that message's own identity: its UIDL when the server lists that UIDL once, or, for a
//!    message without a usable UIDL (none, invalid, or listed twice), the content identity of the bytes RETR
//!    gave in this very session.
//! 7. **Counts are what was committed.** The numbers a run reports come from the store's outcome of the
//!    batches it committed, not from plans; a run holds its account's sync lock, so two syncs of one account on
//!    one store do not both report the same work.

use mailsync_proto::imap::{Bytes, Fetch, Section};
use mailsync_proto::{ModSeq, Uid, UidValidity, Uidl};
use mailsync_store::{HeaderIndex, MailboxCursor};

use crate::pop3::plan::KnownUidls;

/// Rule 1: the message bytes of a FETCH answer, or why the answer is not the message.
pub fn message_body(f: &Fetch) -> Result<&Bytes, String> {
    let full: Vec<_> = f.bodies.iter().filter(|b| b.section == Section::Full).collect();
    match full.as_slice() {
        [] => Err(match f.bodies.first() {
            Some(b) => format!("the server sent {} instead of BODY[]", section_name(&b.section)),
            None if f.malformed.iter().any(|m| m.starts_with("BODY[]")) => {
                format!("the BODY[] item did not parse ({})", f.malformed.join("; "))
            }
            None => "the answer had no BODY[]".to_owned(),
        }),
        [one] => match (one.origin, &one.data) {
            (Some(origin), _) => Err(format!("the server sent a partial BODY[]<{origin}>")),
            (None, None) => Err("the server sent BODY[] NIL".to_owned()),
            (None, Some(data)) => Ok(data),
        },
        [first, rest @ ..] => {
            if rest.iter().all(|b| b.origin.is_none() && b.data == first.data && first.origin.is_none()) {
                first.data.as_ref().ok_or_else(|| "the server sent BODY[] NIL".to_owned())
            } else {
                Err("the answer carried several different BODY[] items".to_owned())
            }
        }
    }
}

fn section_name(s: &Section) -> String {
    match s {
        Section::Full => "BODY[]".into(),
        Section::Header => "BODY[HEADER]".into(),
        Section::Text => "BODY[TEXT]".into(),
        Section::Other(spec) => format!("BODY[{spec}]"),
    }
}

/// The largest stand-in Exchange sends: a short text notice (a real message may be any size).
const STAND_IN_MAX: usize = 64 * 1024;

/// Rule 1: whether a message is Exchange's stand-in for one it could not convert, as described in public bug
/// reports of several IMAP clients (Mailspring #2038, FreeScout #3203, MailKit's Office 365 threads): a small
/// message from "Microsoft Exchange Server" (some clients show it without an address) whose subject is
/// "Retrieval using the IMAP4 protocol failed for the following message: N" (POP3: "... the POP3 protocol
/// ..."), with a body saying the server couldn't retrieve the message and that it was not deleted. A user
/// forwarding such a notice sends it with their own From and a "Fwd:" subject, which this does not match.
pub fn is_exchange_stand_in(size: usize, headers: &HeaderIndex) -> bool {
    if size > STAND_IN_MAX {
        return false;
    }
    let Some(subject) = headers.subject.as_deref().map(str::trim) else { return false };
    let subject_matches = subject.starts_with("Retrieval using the ")
        && subject.contains(" protocol failed for the following message");
    let from = headers.from.as_deref().unwrap_or_default();
    let from_exchange = from.to_ascii_lowercase().contains("microsoft exchange") || !from.contains('@');
    subject_matches && from_exchange
}

/// Rule 4: whether a listing of `listed` distinct UIDs can stand for a folder that EXISTS `exists`.
pub fn listing_adds_up(listed: usize, exists: u32) -> Result<(), String> {
    let exists_n = usize::try_from(exists).unwrap_or(usize::MAX);
    if listed == exists_n {
        Ok(())
    } else {
        Err(format!(
            "the server listed {listed} UIDs for a folder it says has {exists} messages: nothing is removed \
             locally on such an answer"
        ))
    }
}

/// What a folder's sync found, for [`cursor_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderOutcome {
    /// Every answer of the folder's commands was read (no unreadable response, no FETCH that could not be
    /// attributed to a UID).
    pub answers_read: bool,
    /// The lowest UID that should have been stored but is neither stored nor recorded as a gap.
    pub lowest_unaccounted: Option<Uid>,
}

/// Rule 3: the cursor to commit with a folder's last batch. `old` is the cursor the folder had (`None` on its
/// first sync or after a UIDVALIDITY reset).
pub fn cursor_after(
    uidvalidity: UidValidity,
    server_uidnext: Option<Uid>,
    server_modseq: Option<ModSeq>,
    old: Option<(Option<Uid>, Option<ModSeq>)>,
    outcome: FolderOutcome,
) -> MailboxCursor {
    if !outcome.answers_read {
        let (uidnext, highestmodseq) = old.unwrap_or((None, None));
        return MailboxCursor { uidvalidity, uidnext, highestmodseq };
    }
    let uidnext = match (server_uidnext, outcome.lowest_unaccounted) {
        (Some(next), Some(gap)) => Some(next.min(gap)),
        (None, _) => None,
        (next, None) => next,
    };
    MailboxCursor { uidvalidity, uidnext, highestmodseq: server_modseq }
}

/// Rule 5: whether a folder is the renamed form of a vanished one, given a sample of the vanished folder's
/// stored messages (UID, SHA-256) and what the new folder holds under those UIDs. A rename keeps UIDs and
/// bytes: every sampled UID the new folder still has must hold the same bytes, and at least half of the
/// sample must still be there (a few may have been expunged meanwhile). An empty sample proves nothing: the
/// new folder is then synced as new, which loses nothing.
pub fn is_rename(sample: &[(Uid, [u8; 32])], found: &std::collections::BTreeMap<Uid, [u8; 32]>) -> bool {
    let mut matches = 0usize;
    for (uid, hash) in sample {
        match found.get(uid) {
            Some(h) if h == hash => matches += 1,
            Some(_) => return false,
            None => {}
        }
    }
    matches > 0 && matches * 2 >= sample.len()
}

/// Rule 6: when the exact bytes of a listed POP3 message were committed, under `identity` (its unique UIDL,
/// or the content identity of what RETR gave in this session): the proof a DELE needs. `None`: no proof.
pub fn committed_copy(identity: Option<&Uidl>, known: &KnownUidls) -> Option<i64> {
    known.get(identity?)?.downloaded_at
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mailsync_proto::imap::{parse_response, Response, Untagged};

    use super::*;

    fn fetch(wire: &'static [u8]) -> Fetch {
        match parse_response(&Bytes::from_static(wire)) {
            Ok(Response::Untagged(Untagged::Fetch(f))) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_one_complete_body_is_the_message() {
        type Row = (&'static [u8], Result<&'static [u8], &'static str>);
        let rows: [Row; 9] = [
            (b"* 1 FETCH (UID 1 BODY[] {2}\r\nab)\r\n", Ok(b"ab")),
            (b"* 1 FETCH (UID 1 BODY[] {2}\r\nab BODY[] {2}\r\nab)\r\n", Ok(b"ab")),
            (b"* 1 FETCH (UID 1 BODY[]<0> {2}\r\nab)\r\n", Err("the server sent a partial BODY[]<0>")),
            (b"* 1 FETCH (UID 1 BODY[] NIL)\r\n", Err("the server sent BODY[] NIL")),
            (
                b"* 1 FETCH (UID 1 BODY[HEADER] {2}\r\nab)\r\n",
                Err("the server sent BODY[HEADER] instead of BODY[]"),
            ),
            (b"* 1 FETCH (UID 1 FLAGS ())\r\n", Err("the answer had no BODY[]")),
            (
                b"* 1 FETCH (UID 1 BODY[] {2}\r\nab BODY[] {2}\r\ncd)\r\n",
                Err("the answer carried several different BODY[] items"),
            ),
            (b"* 1 FETCH (UID 1 BODY[] x)\r\n", Err("the BODY[] item did not parse (BODY[] (expected NIL))")),
            // Yandex: an empty section item before the real body.
            (b"* 1 FETCH (UID 1 BODY[2] BODY[] {2}\r\nab)\r\n", Ok(b"ab")),
        ];
        for (wire, want) in rows {
            let f = fetch(wire);
            let got = message_body(&f).map(|b| &b[..]).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_owned), "{}", String::from_utf8_lossy(wire));
        }
    }

    fn headers(from: &str, subject: &str) -> HeaderIndex {
        HeaderIndex { from: Some(from.into()), subject: Some(subject.into()), ..HeaderIndex::default() }
    }

    #[test]
    fn exchange_stand_ins_are_recognised_and_nothing_else() {
        let s = "Retrieval using the IMAP4 protocol failed for the following message: 205";
        let rows: [(usize, HeaderIndex, bool); 7] = [
            (1500, headers("Microsoft Exchange Server", s), true),
            (1500, headers("\"Microsoft Exchange Server\" <>", s), true),
            (
                900,
                headers(
                    "Microsoft Exchange Server",
                    "Retrieval using the POP3 protocol failed for the following message: 3",
                ),
                true,
            ),
            (1500, headers("Ada <ada@example.org>", &format!("Fwd: {s}")), false),
            (1500, headers("Ada <ada@example.org>", s), false),
            (1500, headers("Microsoft Exchange Server", "Your mailbox is almost full"), false),
            (200_000, headers("Microsoft Exchange Server", s), false),
        ];
        for (size, h, want) in rows {
            assert_eq!(is_exchange_stand_in(size, &h), want, "{h:?}");
        }
    }

    fn uid(n: u32) -> Uid {
        Uid::try_from(n).unwrap()
    }

    #[test]
    fn the_cursor_stops_at_the_first_unaccounted_uid_and_stays_put_on_unread_answers() {
        let v = UidValidity::try_from(7u32).unwrap();
        let m = |n: u64| ModSeq::try_from(n).unwrap();
        let ok = FolderOutcome { answers_read: true, lowest_unaccounted: None };
        let gap = FolderOutcome { answers_read: true, lowest_unaccounted: Some(uid(4)) };
        let unread = FolderOutcome { answers_read: false, lowest_unaccounted: None };
        let old = Some((Some(uid(3)), Some(m(40))));
        let rows = [
            (ok, old, (Some(10), Some(50))),
            (gap, old, (Some(4), Some(50))),
            (unread, old, (Some(3), Some(40))),
            (unread, None, (None, None)),
            (
                FolderOutcome { answers_read: true, lowest_unaccounted: Some(uid(12)) },
                old,
                (Some(10), Some(50)),
            ),
        ];
        for (outcome, old, (next, modseq)) in rows {
            let c = cursor_after(v, Some(uid(10)), Some(m(50)), old, outcome);
            assert_eq!(
                (c.uidnext.map(Uid::get), c.highestmodseq.map(ModSeq::get)),
                (next, modseq),
                "{outcome:?}"
            );
            assert_eq!(c.uidvalidity, v);
        }
    }

    #[test]
    fn listings_must_add_up() {
        assert!(listing_adds_up(5, 5).is_ok());
        assert!(listing_adds_up(0, 0).is_ok());
        assert!(listing_adds_up(0, 5).is_err());
        assert!(listing_adds_up(6, 5).is_err());
    }

    #[test]
    fn a_rename_needs_the_same_bytes_under_the_same_uids() {
        let h = |b: u8| [b; 32];
        let sample = [(uid(1), h(1)), (uid(5), h(5)), (uid(9), h(9))];
        let found =
            |rows: &[(u32, u8)]| rows.iter().map(|&(u, b)| (uid(u), h(b))).collect::<BTreeMap<_, _>>();
        assert!(is_rename(&sample, &found(&[(1, 1), (5, 5), (9, 9)])));
        assert!(is_rename(&sample, &found(&[(1, 1), (5, 5)])), "one expunged meanwhile");
        assert!(!is_rename(&sample, &found(&[(1, 1)])), "most of it gone: not shown to be the same folder");
        assert!(!is_rename(&sample, &found(&[(1, 1), (5, 6), (9, 9)])), "one different message");
        assert!(!is_rename(&sample, &found(&[])), "a different folder with the same UIDVALIDITY");
        assert!(!is_rename(&[], &found(&[(1, 1)])), "an empty sample proves nothing");
    }
}
