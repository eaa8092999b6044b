//! What an EXAMINE answer says about a folder: the facts the folder plan needs, read from its untagged data
//! and response codes. Pure; tested with parsed responses.
//!
//! Must never: guess a value the server did not send (no EXISTS is an error, not an empty folder:
//! `integrity` rule 4), or expand a hostile VANISHED set without a bound.
//!
//! RFC 3501 sections 6.3.2 (EXAMINE) and 7.3.1 (EXISTS); RFC 7162 sections 3.1.2.1 (HIGHESTMODSEQ), 3.1.2.2
//! (NOMODSEQ) and 3.2.5.1 (the QRESYNC answer: VANISHED (EARLIER) and FETCH with FLAGS and MODSEQ).

use mailsync_proto::imap::{Code, StatusKind, Untagged};
use mailsync_proto::{ModSeq, Uid, UidValidity};

use super::plan::{normalize_flags, ServerFolder};

/// Most UIDs one VANISHED response may expand to before it is refused as hostile.
const MAX_EXPANDED_UIDS: usize = 50_000_000;

/// What EXAMINE reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Examined {
    /// UIDVALIDITY, EXISTS, UIDNEXT and HIGHESTMODSEQ.
    pub folder: ServerFolder,
    /// QRESYNC: UIDs expunged since the known mod-sequence.
    pub vanished: Vec<Uid>,
    /// QRESYNC: messages whose flags changed since the known mod-sequence, with their flags.
    pub changed: Vec<(Uid, Vec<String>)>,
    /// QRESYNC: FETCH answers that could not be used (no UID, or FLAGS that did not parse): their changes
    /// are unknown, so the cursor must not move past them.
    pub unusable_changes: usize,
}

/// EXAMINE's answer read one response at a time (nothing but the facts is kept).
#[derive(Debug, Default)]
pub struct ExamineReader {
    exists: Option<u32>,
    uidvalidity: Option<UidValidity>,
    uidnext: Option<u32>,
    highestmodseq: Option<ModSeq>,
    nomodseq: bool,
    vanished: Vec<Uid>,
    changed: Vec<(Uid, Vec<String>)>,
    unusable_changes: usize,
    error: Option<String>,
}

impl ExamineReader {
    /// Takes one untagged response of the answer.
    pub fn take(&mut self, u: Untagged) {
        match u {
            Untagged::Exists(n) => self.exists = Some(n),
            Untagged::Status(st) if st.kind == StatusKind::Ok => {
                if let Some(c) = st.code {
                    self.code(&c);
                }
            }
            Untagged::Vanished(v) => match v.uids.iter(u32::MAX, MAX_EXPANDED_UIDS) {
                Ok(uids) => self.vanished.extend(uids.filter_map(|n| Uid::try_from(n).ok())),
                Err(e) => self.error = Some(e.to_string()),
            },
            Untagged::Fetch(f) => match (f.uid, &f.flags) {
                (Some(uid), Some(flags)) => {
                    let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
                    self.changed.push((uid, normalize_flags(&flags)));
                }
                _ => self.unusable_changes += 1,
            },
            _ => {}
        }
    }

    fn code(&mut self, c: &Code) {
        match c {
            Code::UidValidity(v) => self.uidvalidity = Some(*v),
            Code::UidNext(n) => self.uidnext = Some(n.get()),
            Code::HighestModSeq(m) => self.highestmodseq = Some(*m),
            Code::NoModSeq => self.nomodseq = true,
            _ => {}
        }
    }

    /// The facts, once the completion (with its `code`) arrived.
    pub fn finish(mut self, code: Option<&Code>) -> Result<Examined, String> {
        if let Some(c) = code {
            self.code(c);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        let uidvalidity = self.uidvalidity.ok_or("the answer gave no UIDVALIDITY")?;
        let exists = self.exists.ok_or("the answer gave no EXISTS: the folder's size is unknown")?;
        let highestmodseq = if self.nomodseq { None } else { self.highestmodseq };
        Ok(Examined {
            folder: ServerFolder { uidvalidity, uidnext: self.uidnext, exists, highestmodseq },
            vanished: self.vanished,
            changed: self.changed,
            unusable_changes: self.unusable_changes,
        })
    }
}

impl Examined {
    /// Reads EXAMINE's untagged `data` and its completion `code`.
    pub fn from(data: &[Untagged], code: Option<&Code>) -> Result<Examined, String> {
        let mut r = ExamineReader::default();
        for u in data {
            r.take(u.clone());
        }
        r.finish(code)
    }
}

#[cfg(test)]
mod tests {
    use mailsync_proto::imap::{parse_response, Bytes, Response};

    use super::*;

    fn untagged(lines: &[&'static str]) -> Vec<Untagged> {
        lines
            .iter()
            .map(|l| match parse_response(&Bytes::from_static(l.as_bytes())) {
                Ok(Response::Untagged(u)) => u,
                other => panic!("{l}: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_qresync_answer() {
        let data = untagged(&[
            "* 3 EXISTS\r\n",
            "* OK [UIDVALIDITY 7] ok\r\n",
            "* OK [UIDNEXT 12] ok\r\n",
            "* OK [HIGHESTMODSEQ 90] ok\r\n",
            "* VANISHED (EARLIER) 2:3,5\r\n",
            "* 1 FETCH (UID 4 FLAGS (\\Seen \\Recent) MODSEQ (88))\r\n",
            "* 2 FETCH (FLAGS (\\Seen))\r\n",
            "* 3 FETCH (UID 9 FLAGS \\Seen MODSEQ (89))\r\n",
        ]);
        let ex = Examined::from(&data, None).unwrap();
        assert_eq!(
            (ex.folder.exists, ex.folder.uidnext, ex.folder.highestmodseq.map(ModSeq::get)),
            (3, Some(12), Some(90))
        );
        assert_eq!(ex.vanished.iter().map(|u| u.get()).collect::<Vec<_>>(), [2, 3, 5]);
        assert_eq!(ex.changed, vec![(Uid::try_from(4u32).unwrap(), vec!["\\Seen".to_string()])]);
        assert_eq!(ex.unusable_changes, 2, "no UID; FLAGS that did not parse");
    }

    #[test]
    fn no_exists_or_no_uidvalidity_is_an_error_not_an_empty_folder() {
        let data = untagged(&["* OK [UIDVALIDITY 7] ok\r\n", "* OK [UIDNEXT 12] ok\r\n"]);
        assert_eq!(
            Examined::from(&data, None).unwrap_err(),
            "the answer gave no EXISTS: the folder's size is unknown"
        );
        let data = untagged(&["* 0 EXISTS\r\n"]);
        assert_eq!(Examined::from(&data, None).unwrap_err(), "the answer gave no UIDVALIDITY");
        let data = untagged(&["* 0 EXISTS\r\n", "* OK [UIDVALIDITY 7] ok\r\n", "* OK [NOMODSEQ] x\r\n"]);
        let ex = Examined::from(&data, None).unwrap();
        assert_eq!((ex.folder.exists, ex.folder.highestmodseq), (0, None));
    }
}
