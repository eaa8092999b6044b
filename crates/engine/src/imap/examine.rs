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

impl Examined {
    /// Reads EXAMINE's untagged `data` and its completion `code`.
    pub fn from(data: &[Untagged], code: Option<&Code>) -> Result<Examined, String> {
        let mut exists = None;
        let (mut uidvalidity, mut uidnext, mut highestmodseq) = (None, None, None);
        let (mut vanished, mut changed, mut unusable_changes) = (Vec::new(), Vec::new(), 0);
        let mut codes: Vec<&Code> = code.into_iter().collect();
        for u in data {
            match u {
                Untagged::Exists(n) => exists = Some(*n),
                Untagged::Status(st) if st.kind == StatusKind::Ok => codes.extend(st.code.as_ref()),
                Untagged::Vanished(v) => {
                    let uids = v.uids.iter(u32::MAX, MAX_EXPANDED_UIDS).map_err(|e| e.to_string())?;
                    vanished.extend(uids.filter_map(|n| Uid::try_from(n).ok()));
                }
                Untagged::Fetch(f) => match (f.uid, &f.flags) {
                    (Some(uid), Some(flags)) => {
                        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
                        changed.push((uid, normalize_flags(&flags)));
                    }
                    _ => unusable_changes += 1,
                },
                _ => {}
            }
        }
        for c in codes {
            match c {
                Code::UidValidity(v) => uidvalidity = Some(*v),
                Code::UidNext(n) => uidnext = Some(n.get()),
                Code::HighestModSeq(m) => highestmodseq = Some(*m),
                Code::NoModSeq => highestmodseq = None,
                _ => {}
            }
        }
        let uidvalidity: UidValidity = uidvalidity.ok_or("the answer gave no UIDVALIDITY")?;
        let exists = exists.ok_or("the answer gave no EXISTS: the folder's size is unknown")?;
        let highestmodseq: Option<ModSeq> = highestmodseq;
        Ok(Examined {
            folder: ServerFolder { uidvalidity, uidnext, exists, highestmodseq },
            vanished,
            changed,
            unusable_changes,
        })
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
