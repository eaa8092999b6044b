//! The first look at a folder: its EXAMINE, and right behind it (pipelined, in the same round trip) the one
//! command its contents will most likely be compared with. Every folder of an account is probed at once.
//!
//! Owns: which commands probe a folder ([`probe_for`], pure), and reading their answers into the facts the
//! folder plan needs ([`FolderProbe`]). Must never: use an answer that followed a failed EXAMINE (no folder
//! was selected, or worse, another one still was); call a listing complete that does not add up
//! (`integrity` rule 4): a folder whose probe lacks what its plan needs is looked at again on its own.
//!
//! RFC 3501 sections 5.5 (pipelining), 6.3.2 (EXAMINE), 6.4.4 (UID SEARCH), 6.4.5 (FETCH); RFC 7162 section
//! 3.2.5 (EXAMINE with QRESYNC).

use mailsync_proto::imap::command::{Command, FetchAttr, QresyncParams, SearchKey};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{Completion, Status, Untagged};
use mailsync_proto::Uid;
use mailsync_store::MailboxRow;

use super::examine::{ExamineReader, Examined};
use super::folders::Listed;
use super::pipeline::Stepped;
use super::plan::{normalize_flags, ServerListing};
use crate::integrity::listing_adds_up;

/// The command sent behind a folder's EXAMINE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// None: only the EXAMINE answer decides (CONDSTORE without QRESYNC: most folders are unchanged).
    Nothing,
    /// `UID FETCH 1:* (UID FLAGS)`: every UID and its flags (a first sync, a server without CONDSTORE).
    Listing,
    /// `UID SEARCH UID n:*`: the UIDs from the stored UIDNEXT on (QRESYNC brought the rest with EXAMINE).
    SearchFrom(u32),
}

/// How one folder is probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCommands {
    /// The EXAMINE.
    pub examine: Command,
    /// Whether the EXAMINE carries the stored UIDVALIDITY and mod-sequence (QRESYNC).
    pub used_qresync: bool,
    /// The command behind it.
    pub follow: Follow,
}

/// What probes a folder, from what the store knows of it and what the session enabled.
pub fn probe_for(f: &Listed, local: Option<&MailboxRow>, qresync: bool, condstore: bool) -> ProbeCommands {
    let known = local.filter(|m| m.uidvalidity.is_some());
    let qparams = known.filter(|_| qresync).and_then(|m| {
        Some(QresyncParams { uidvalidity: m.uidvalidity?, modseq: m.highestmodseq?, known_uids: None })
    });
    let follow = match (known, &qparams) {
        (Some(m), Some(_)) => match m.uidnext {
            Some(next) => Follow::SearchFrom(next.get()),
            None => Follow::Listing,
        },
        (Some(m), None) if condstore && m.highestmodseq.is_some() => Follow::Nothing,
        _ => Follow::Listing,
    };
    let used_qresync = qparams.is_some();
    let examine = Command::Examine {
        mailbox: f.command_name(),
        condstore: condstore && !used_qresync,
        qresync: qparams,
    };
    ProbeCommands { examine, used_qresync, follow }
}

impl Follow {
    /// The command, if any.
    pub fn command(self) -> Option<Command> {
        match self {
            Follow::Nothing => None,
            Follow::Listing => Some(Command::UidFetch {
                set: SequenceSet::all(),
                items: vec![FetchAttr::Uid, FetchAttr::Flags],
                changed_since: None,
                vanished: false,
            }),
            Follow::SearchFrom(n) => {
                Some(Command::UidSearch { criteria: SearchKey::Uid(SequenceSet::range_from(n)) })
            }
        }
    }
}

/// What a folder's probe established.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Every UID with its flags, when a listing was asked for, answered OK and adds up to the folder's size.
    pub listing: Option<ServerListing>,
    /// `n` and the UIDs `UID SEARCH UID n:*` found, ascending, when it was asked for and answered OK.
    pub searched: Option<(u32, Vec<Uid>)>,
    /// No answer of the folder's commands was unreadable.
    pub read_whole: bool,
    /// Responses stepped over while the folder's commands were answered.
    pub warnings: u64,
}

/// A folder's probe answers, read as they arrive.
#[derive(Debug)]
pub struct FolderProbe {
    /// The commands.
    pub commands: ProbeCommands,
    examine: ExamineReader,
    examined: Option<Result<Examined, String>>,
    refused: Option<Completion>,
    listing: ServerListing,
    /// EXISTS as the listing's answer left it (new mail and expunges may arrive meanwhile).
    exists: Option<u32>,
    searched: Vec<Uid>,
    follow_ok: Option<bool>,
    stepped: Stepped,
}

/// How a folder's probe ended.
#[derive(Debug)]
pub enum Probed {
    /// EXAMINE answered OK.
    Examined(Examined, Facts),
    /// EXAMINE was refused: its completion.
    Refused(Completion),
    /// EXAMINE's answer could not be used: why.
    Unusable(String),
}

impl FolderProbe {
    /// A probe about to send `commands`.
    pub fn new(commands: ProbeCommands) -> FolderProbe {
        FolderProbe {
            commands,
            examine: ExamineReader::default(),
            examined: None,
            refused: None,
            listing: ServerListing::new(),
            exists: None,
            searched: Vec::new(),
            follow_ok: None,
            stepped: Stepped::default(),
        }
    }

    /// Untagged data of the EXAMINE (`follow` false) or of the command behind it.
    pub fn data(&mut self, follow: bool, u: Untagged) {
        if !follow {
            self.examine.take(u);
            return;
        }
        if self.refused.is_some() {
            return; // no folder (or another one) was selected: not this folder's data
        }
        match u {
            Untagged::Fetch(f) if self.commands.follow == Follow::Listing => {
                if let Some(uid) = f.uid {
                    let flags = f.flags.map(|fl| fl.iter().map(|x| x.to_string()).collect::<Vec<_>>());
                    self.listing.insert(uid, flags.map(|fl| normalize_flags(&fl)));
                }
            }
            Untagged::Exists(n) => self.exists = Some(n),
            Untagged::Expunge(_) => self.exists = self.exists.map(|e| e.saturating_sub(1)),
            Untagged::Search(s) => self.searched.extend(s.uids()),
            _ => {}
        }
    }

    /// The EXAMINE (`follow` false) or the command behind it completed.
    pub fn done(&mut self, follow: bool, done: Completion, stepped: Stepped) {
        self.stepped.unreadable += stepped.unreadable;
        self.stepped.odd += stepped.odd;
        if follow {
            self.follow_ok = Some(done.status == Status::Ok);
            return;
        }
        if done.status != Status::Ok {
            self.refused = Some(done);
            return;
        }
        let reader = std::mem::take(&mut self.examine);
        let examined = reader.finish(done.code.as_ref());
        if let Ok(ex) = &examined {
            self.exists = Some(ex.folder.exists);
        }
        self.examined = Some(examined);
    }

    /// EXISTS as the EXAMINE answered it, once it did.
    pub fn exists(&self) -> Option<u32> {
        self.exists
    }

    /// Whether every command of the probe completed.
    pub fn complete(&self) -> bool {
        let examine_done = self.refused.is_some() || self.examined.is_some();
        examine_done && (self.commands.follow == Follow::Nothing || self.follow_ok.is_some())
    }

    /// What the probe established (once [`FolderProbe::complete`]).
    pub fn finish(self) -> Probed {
        if let Some(done) = self.refused {
            return Probed::Refused(done);
        }
        let ex = match self.examined {
            Some(Ok(ex)) => ex,
            Some(Err(why)) => return Probed::Unusable(why),
            None => return Probed::Unusable("no answer to EXAMINE".into()),
        };
        let answered = self.follow_ok == Some(true);
        let exists = self.exists.unwrap_or(ex.folder.exists);
        let listing = (answered
            && self.commands.follow == Follow::Listing
            && listing_adds_up(self.listing.len(), exists).is_ok())
        .then_some(self.listing);
        let searched = match self.commands.follow {
            Follow::SearchFrom(from) if answered => {
                let mut s = self.searched;
                s.sort_unstable();
                s.dedup();
                Some((from, s))
            }
            _ => None,
        };
        let facts = Facts {
            listing,
            searched,
            read_whole: self.stepped.unreadable == 0,
            warnings: self.stepped.warnings(),
        };
        Probed::Examined(ex, facts)
    }
}

#[cfg(test)]
mod tests {
    use mailsync_proto::imap::{parse_response, Bytes, Response};
    use mailsync_proto::{ModSeq, UidValidity};
    use mailsync_store::{AccountId, MailboxId};

    use super::*;

    fn listed(name: &str) -> Listed {
        Listed {
            name: name.into(),
            wire: name.as_bytes().to_vec(),
            delimiter: Some('/'),
            attributes: Vec::new(),
            special_use: None,
            selectable: true,
            lossy_name: false,
        }
    }
    fn row(uidvalidity: Option<u32>, uidnext: Option<u32>, modseq: Option<u64>) -> MailboxRow {
        MailboxRow {
            id: MailboxId::new(1),
            account: AccountId::new(1),
            name: "INBOX".into(),
            delimiter: Some('/'),
            attributes: Vec::new(),
            special_use: None,
            uidvalidity: uidvalidity.map(|v| UidValidity::try_from(v).unwrap()),
            uidnext: uidnext.map(|v| Uid::try_from(v).unwrap()),
            highestmodseq: modseq.map(|v| ModSeq::try_from(v).unwrap()),
            last_sync_at: None,
        }
    }
    fn untagged(line: &'static str) -> Untagged {
        match parse_response(&Bytes::from_static(line.as_bytes())) {
            Ok(Response::Untagged(u)) => u,
            other => panic!("{line}: {other:?}"),
        }
    }
    fn completion(status: Status) -> Completion {
        let id = mailsync_proto::imap::ImapSession::default().send(Command::Noop).unwrap();
        Completion { id, tag: "a1".into(), command: "EXAMINE", status, code: None, text: "t".into() }
    }

    #[test]
    fn what_probes_a_folder() {
        let f = listed("INBOX");
        // (local row, qresync enabled, condstore) -> (QRESYNC used, follow)
        let rows: [(Option<MailboxRow>, bool, bool, bool, Follow); 7] = [
            (None, true, true, false, Follow::Listing),
            (Some(row(None, None, None)), true, true, false, Follow::Listing),
            (Some(row(Some(7), Some(40), Some(900))), true, true, true, Follow::SearchFrom(40)),
            (Some(row(Some(7), None, Some(900))), true, true, true, Follow::Listing),
            (Some(row(Some(7), Some(40), Some(900))), false, true, false, Follow::Nothing),
            (Some(row(Some(7), Some(40), None)), false, true, false, Follow::Listing),
            (Some(row(Some(7), Some(40), None)), false, false, false, Follow::Listing),
        ];
        for (local, qresync, condstore, used, follow) in rows {
            let p = probe_for(&f, local.as_ref(), qresync, condstore);
            assert_eq!((p.used_qresync, p.follow), (used, follow), "{local:?} qresync={qresync}");
            if let Command::Examine { qresync: q, condstore: c, .. } = &p.examine {
                assert_eq!(q.is_some(), used);
                assert_eq!(*c, condstore && !used, "CONDSTORE is implied by QRESYNC parameters");
            } else {
                panic!("not an EXAMINE: {:?}", p.examine);
            }
        }
    }

    fn examined_ok(p: &mut FolderProbe, exists: &'static str) {
        p.data(false, untagged(exists));
        p.data(false, untagged("* OK [UIDVALIDITY 7] v\r\n"));
        p.data(false, untagged("* OK [UIDNEXT 9] n\r\n"));
        p.done(false, completion(Status::Ok), Stepped::default());
    }

    #[test]
    fn a_listing_is_used_only_when_it_adds_up_and_was_answered_ok() {
        let commands = probe_for(&listed("A"), None, false, false);
        let mut p = FolderProbe::new(commands.clone());
        examined_ok(&mut p, "* 2 EXISTS\r\n");
        p.data(true, untagged("* 1 FETCH (UID 4 FLAGS (\\Seen))\r\n"));
        assert!(!p.complete(), "the listing has not completed");
        p.data(true, untagged("* 2 FETCH (UID 8 FLAGS ())\r\n"));
        p.done(true, completion(Status::Ok), Stepped::default());
        assert!(p.complete());
        let Probed::Examined(_, facts) = p.finish() else { panic!() };
        assert_eq!(facts.listing.map(|l| l.len()), Some(2));

        // One message missing from the listing (Exchange leaves out what it cannot serve): not a listing.
        let mut p = FolderProbe::new(commands.clone());
        examined_ok(&mut p, "* 2 EXISTS\r\n");
        p.data(true, untagged("* 1 FETCH (UID 4 FLAGS (\\Seen))\r\n"));
        p.done(true, completion(Status::Ok), Stepped::default());
        let Probed::Examined(_, facts) = p.finish() else { panic!() };
        assert!(facts.listing.is_none());

        // New mail during the listing is counted in.
        let mut p = FolderProbe::new(commands.clone());
        examined_ok(&mut p, "* 1 EXISTS\r\n");
        p.data(true, untagged("* 1 FETCH (UID 4 FLAGS (\\Seen))\r\n"));
        p.data(true, untagged("* 2 EXISTS\r\n"));
        p.data(true, untagged("* 2 FETCH (UID 9 FLAGS ())\r\n"));
        p.done(true, completion(Status::Ok), Stepped { unreadable: 1, ..Stepped::default() });
        let Probed::Examined(_, facts) = p.finish() else { panic!() };
        assert_eq!(facts.listing.map(|l| l.len()), Some(2));
        assert!(!facts.read_whole, "an unreadable answer is remembered");

        // Refused listing: no listing.
        let mut p = FolderProbe::new(commands);
        examined_ok(&mut p, "* 0 EXISTS\r\n");
        p.done(true, completion(Status::No), Stepped::default());
        let Probed::Examined(_, facts) = p.finish() else { panic!() };
        assert!(facts.listing.is_none());
    }

    #[test]
    fn data_behind_a_refused_examine_is_never_this_folders() {
        let mut p = FolderProbe::new(probe_for(&listed("Gone"), None, false, false));
        p.done(false, completion(Status::No), Stepped::default());
        // The previous folder may still be selected on a lax server: its listing must not be taken.
        p.data(true, untagged("* 1 FETCH (UID 4 FLAGS (\\Seen))\r\n"));
        p.done(true, completion(Status::Bad), Stepped::default());
        assert!(p.complete());
        assert!(matches!(p.finish(), Probed::Refused(_)));
    }

    #[test]
    fn an_examine_without_exists_is_unusable() {
        let mut p = FolderProbe::new(probe_for(&listed("A"), None, false, false));
        p.data(false, untagged("* OK [UIDVALIDITY 7] v\r\n"));
        p.done(false, completion(Status::Ok), Stepped::default());
        p.done(true, completion(Status::Ok), Stepped::default());
        assert!(matches!(p.finish(), Probed::Unusable(why) if why.contains("no EXISTS")));
    }
}
