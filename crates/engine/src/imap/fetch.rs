//! Judging `UID FETCH ... BODY.PEEK[]` answers by the integrity rules: [`Tracker`], the pure bookkeeping of
//! one folder's download (which UIDs each command still owes, which bodies were accepted, what becomes a gap
//! and why, a second different body that retracts the first). [`super::download`] drives it over a
//! connection.
//!
//! Must never: accept an answer that is not the message (`integrity` rule 1); let a command complete with a
//! UID that was asked for and is neither accepted nor a gap (rule 2).
//!
//! RFC 3501 sections 6.4.5 (FETCH, `BODY.PEEK[]`) and 6.4.8 (UID FETCH).

use std::collections::{HashMap, HashSet};

use mailsync_proto::imap::Fetch;
use mailsync_proto::Uid;
use mailsync_store::{NewImapMessage, Prepared};

use super::plan::normalize_flags;
use crate::integrity::{is_exchange_stand_in, message_body};

/// What to do with one FETCH answer.
#[derive(Debug)]
pub enum Verdict {
    /// The message: store it.
    Store(Box<NewImapMessage>),
    /// Not the message: record a gap for the UID, with why.
    Gap(Uid, String),
    /// A second, different body for a UID already accepted in this run: withdraw the stored copy and record
    /// a gap.
    Retract(Uid, String),
    /// Nothing to do (unsolicited, or a UID below the range that Outlook adds to `n:*`).
    Ignore,
}

/// The bookkeeping of one folder's download.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Per command (the caller's number for it): the UIDs asked for and not answered yet.
    outstanding: HashMap<usize, HashSet<Uid>>,
    /// Bodies accepted in this run, by UID: their SHA-256.
    accepted: HashMap<Uid, [u8; 32]>,
    /// UIDs that got two different bodies: nothing more is taken for them in this run.
    conflicted: HashSet<Uid>,
    /// FETCH answers with a body that could not be attributed to a UID.
    pub unattributed: u64,
}

impl Tracker {
    /// A command asking for `uids` went out.
    pub fn sent(&mut self, id: usize, uids: HashSet<Uid>) {
        self.outstanding.insert(id, uids);
    }

    /// Commands still waiting for their completion.
    pub fn in_flight(&self) -> usize {
        self.outstanding.len()
    }

    /// Judges one FETCH answer.
    pub fn on_fetch(&mut self, f: &Fetch) -> Verdict {
        let Some(uid) = f.uid else {
            if !f.bodies.is_empty() {
                self.unattributed += 1;
            }
            return Verdict::Ignore;
        };
        if self.conflicted.contains(&uid) {
            return Verdict::Ignore;
        }
        if let Some(first) = self.accepted.get(&uid) {
            let differs = message_body(f).is_ok_and(|b| Prepared::new(b).hash() != *first);
            if differs {
                self.conflicted.insert(uid);
                self.accepted.remove(&uid);
                return Verdict::Retract(uid, "the server sent two different bodies for this UID".into());
            }
            return Verdict::Ignore;
        }
        let Some(wanted) = self.outstanding.values_mut().find(|w| w.contains(&uid)) else {
            return Verdict::Ignore;
        };
        wanted.remove(&uid);
        let body = match message_body(f) {
            Ok(b) => b,
            Err(why) => return Verdict::Gap(uid, why),
        };
        let prepared = Prepared::new(body);
        if is_exchange_stand_in(body.len(), prepared.headers()) {
            return Verdict::Gap(
                uid,
                "Exchange sent its \"Retrieval using the IMAP4 protocol failed\" stand-in instead of the message"
                    .into(),
            );
        }
        self.accepted.insert(uid, prepared.hash());
        Verdict::Store(Box::new(NewImapMessage {
            uid,
            flags: f
                .flags
                .as_deref()
                .map(|fl| normalize_flags(&fl.iter().map(|x| x.to_string()).collect::<Vec<_>>()))
                .unwrap_or_default(),
            internaldate: f.internal_date.as_ref().and_then(|d| d.as_ref()).and_then(|d| d.timestamp()),
            modseq: f.modseq,
            raw: body.to_vec(),
            prepared: Some(prepared),
        }))
    }

    /// Command `id` completed: the UIDs it still owed become gaps. `refused` is the server's NO or BAD text,
    /// `unreadable` whether some answer was unreadable while it ran (the UID's answer may have been it).
    pub fn on_done(&mut self, id: usize, refused: Option<&str>, unreadable: bool) -> Vec<(Uid, String)> {
        let Some(left) = self.outstanding.remove(&id) else { return Vec::new() };
        let why = match (refused, unreadable) {
            (Some(text), _) => format!("the server refused to fetch it: {text}"),
            (None, true) => "the server's answer for this UID could not be read".to_owned(),
            (None, false) => "the server returned no data for this UID".to_owned(),
        };
        let mut left: Vec<Uid> = left.into_iter().collect();
        left.sort_unstable();
        left.into_iter().map(|u| (u, why.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use mailsync_proto::imap::{parse_response, Bytes, Response, Untagged};

    use super::*;

    fn fetch(wire: &str) -> Fetch {
        match parse_response(&Bytes::from(wire.as_bytes().to_vec())) {
            Ok(Response::Untagged(Untagged::Fetch(f))) => *f,
            other => panic!("{wire}: {other:?}"),
        }
    }
    fn body(uid: u32, text: &str) -> Fetch {
        fetch(&format!("* 1 FETCH (UID {uid} FLAGS (\\Seen) BODY[] {{{}}}\r\n{text})\r\n", text.len()))
    }
    fn uid(n: u32) -> Uid {
        Uid::try_from(n).unwrap()
    }
    fn id_of(command: usize) -> usize {
        command
    }

    fn kind(v: &Verdict) -> String {
        match v {
            Verdict::Store(m) => format!("store {}", m.uid),
            Verdict::Gap(u, why) => format!("gap {u}: {why}"),
            Verdict::Retract(u, why) => format!("retract {u}: {why}"),
            Verdict::Ignore => "ignore".into(),
        }
    }

    #[test]
    fn every_uid_asked_for_ends_stored_or_a_gap() {
        let mut t = Tracker::default();
        let (a, b) = (id_of(1), id_of(2));
        t.sent(a, [uid(1), uid(2), uid(3), uid(4)].into());
        t.sent(b, [uid(7)].into());
        let steps = [
            (body(1, "Subject: one\r\n\r\nx"), "store 1"),
            (
                fetch("* 2 FETCH (UID 2 BODY[]<0> {2}\r\nab)\r\n"),
                "gap 2: the server sent a partial BODY[]<0>",
            ),
            (fetch("* 3 FETCH (UID 3 BODY[] NIL)\r\n"), "gap 3: the server sent BODY[] NIL"),
            (fetch("* 9 FETCH (UID 9 FLAGS ())\r\n"), "ignore"),
            (body(99, "not asked for"), "ignore"),
            (fetch("* 5 FETCH (FLAGS () BODY[] {2}\r\nab)\r\n"), "ignore"),
        ];
        for (f, want) in steps {
            assert_eq!(kind(&t.on_fetch(&f)), want);
        }
        assert_eq!(t.unattributed, 1, "a body without a UID is counted");
        assert_eq!(
            t.on_done(a, None, false),
            vec![(uid(4), "the server returned no data for this UID".into())]
        );
        assert_eq!(
            t.on_done(b, Some("NO [UNAVAILABLE] try later"), false),
            vec![(uid(7), "the server refused to fetch it: NO [UNAVAILABLE] try later".into())]
        );
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn a_second_different_body_retracts_the_first_and_an_equal_one_is_harmless() {
        let mut t = Tracker::default();
        t.sent(id_of(1), [uid(1), uid(2)].into());
        assert_eq!(kind(&t.on_fetch(&body(1, "fake"))), "store 1");
        assert_eq!(
            kind(&t.on_fetch(&body(1, "real"))),
            "retract 1: the server sent two different bodies for this UID"
        );
        assert_eq!(kind(&t.on_fetch(&body(1, "real"))), "ignore", "nothing more is taken for it in this run");
        assert_eq!(kind(&t.on_fetch(&body(2, "same"))), "store 2");
        assert_eq!(kind(&t.on_fetch(&body(2, "same"))), "ignore");
    }

    #[test]
    fn unreadable_answers_name_themselves_in_the_gap() {
        let mut t = Tracker::default();
        let a = id_of(1);
        t.sent(a, [uid(5)].into());
        assert_eq!(t.on_done(a, None, true)[0].1, "the server's answer for this UID could not be read");
    }

    #[test]
    fn exchange_stand_ins_are_gaps() {
        let mut t = Tracker::default();
        t.sent(id_of(1), [uid(8)].into());
        let notice =
            "From: Microsoft Exchange Server\r\nSubject: Retrieval using the IMAP4 protocol failed for the \
                      following message: 8\r\n\r\nThe server couldn't retrieve the following message:\r\n";
        assert!(kind(&t.on_fetch(&body(8, notice))).starts_with("gap 8: Exchange sent its"));
    }
}
