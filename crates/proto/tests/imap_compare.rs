//! Differential comparison of one server response between our parser and `imap-proto` 0.17.
//!
//! Both results are reduced to the facts both parsers model (UIDs, sequence numbers, flags, sizes,
//! dates, mod-sequences, body bytes, mailbox names and attributes, STATUS items, capabilities, the
//! response codes both know); where both accept a response, those facts must be equal.
//!
//! Included as a module by `imap_differential.rs` and by the `imap_differential` fuzz target.
//! `imap-proto` is known to panic on some inputs (IMAP-PARSING.md); its call is wrapped in
//! `catch_unwind` here and only here, and inputs nested deeper than it can survive (it recurses
//! without a limit and would overflow the stack) are not given to it at all.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mailsync_proto::imap::{self, Bytes, Code, Response, Section, Untagged};

/// The facts of one response that both parsers model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    Tagged {
        tag: String,
        status: String,
        code: CodeFact,
    },
    Status {
        status: String,
        code: CodeFact,
    },
    Continue,
    Capabilities(Vec<String>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Flags(Vec<String>),
    /// Names compare as text: imap-proto decodes them as lossy UTF-8, ours keeps the raw bytes.
    List {
        attrs: Vec<String>,
        delimiter: Option<String>,
        name: String,
    },
    MailboxStatus {
        name: String,
        items: BTreeMap<&'static str, u64>,
    },
    Search(Vec<u32>),
    Fetch(FetchFacts),
    Vanished {
        earlier: bool,
        uids: Vec<u32>,
    },
    Id(Option<BTreeMap<String, String>>),
}

/// A response code as far as both parsers know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeFact {
    None,
    Known(String),
    /// A code only one side types (e.g. CLOSED, NOMODSEQ, Exchange's `[Error=...]`): not compared.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchFacts {
    pub seq: u32,
    pub uid: Option<u32>,
    pub flags: Option<Vec<String>>,
    pub size: Option<u32>,
    pub internal_date: Option<String>,
    pub modseq: Option<u64>,
    pub bodies: Vec<(String, Option<Vec<u8>>)>,
}

/// The verdict on one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Both accept and the common facts are equal.
    Agree,
    /// Both accept and some common fact differs.
    Disagree {
        ours: String,
        theirs: String,
    },
    /// Both accept, but one side models nothing the other does (e.g. ESEARCH, NAMESPACE).
    NotComparable,
    OnlyOurs,
    OnlyTheirs,
    Neither,
    /// imap-proto panicked.
    TheirsPanicked,
    /// Nesting too deep to hand to imap-proto safely.
    TooDeepForTheirs,
}

/// How deep parentheses may nest before imap-proto risks a stack overflow in a test thread.
const THEIR_SAFE_DEPTH: usize = 24;

fn max_depth(frame: &[u8]) -> usize {
    let (mut d, mut max) = (0usize, 0usize);
    for &b in frame {
        match b {
            b'(' => {
                d += 1;
                max = max.max(d);
            }
            b')' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn up(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// Compares the two parsers on one complete frame.
pub fn compare(frame: &[u8]) -> Verdict {
    let bytes = Bytes::copy_from_slice(frame);
    let ours = imap::parse_response(&bytes).ok();
    if max_depth(frame) > THEIR_SAFE_DEPTH {
        return Verdict::TooDeepForTheirs;
    }
    let theirs = catch_unwind(AssertUnwindSafe(|| match imap_proto::Response::parse(frame) {
        Ok(([], r)) => Some(theirs_facts(&r)),
        _ => None,
    }));
    let theirs = match theirs {
        Ok(t) => t,
        Err(_) => return Verdict::TheirsPanicked,
    };
    match (ours, theirs) {
        (None, None) => Verdict::Neither,
        (Some(_), None) => Verdict::OnlyOurs,
        (None, Some(_)) => Verdict::OnlyTheirs,
        (Some(o), Some(t)) => match (ours_facts(&o), t) {
            (Some(o), Some(t)) => {
                if agree(&o, &t) {
                    Verdict::Agree
                } else {
                    Verdict::Disagree { ours: format!("{o:?}"), theirs: format!("{t:?}") }
                }
            }
            _ => Verdict::NotComparable,
        },
    }
}

/// Equal, except that a code one side does not know is not compared.
fn agree(o: &Facts, t: &Facts) -> bool {
    let code_ok = |a: &CodeFact, b: &CodeFact| {
        matches!((a, b), (CodeFact::Unknown, _) | (_, CodeFact::Unknown)) || a == b
    };
    match (o, t) {
        (Facts::Tagged { tag: a, status: s, code: c }, Facts::Tagged { tag: b, status: s2, code: c2 }) => {
            a == b && s == s2 && code_ok(c, c2)
        }
        (Facts::Status { status: s, code: c }, Facts::Status { status: s2, code: c2 }) => {
            s == s2 && code_ok(c, c2)
        }
        _ => o == t,
    }
}

// ---- our side ---------------------------------------------------------------------------------

fn our_code(c: &Option<Code>) -> CodeFact {
    let Some(c) = c else { return CodeFact::None };
    let s = match c {
        Code::Alert => "ALERT".to_owned(),
        Code::Parse => "PARSE".to_owned(),
        Code::ReadOnly => "READ-ONLY".to_owned(),
        Code::ReadWrite => "READ-WRITE".to_owned(),
        Code::TryCreate => "TRYCREATE".to_owned(),
        Code::UidNotSticky => "UIDNOTSTICKY".to_owned(),
        Code::UidNext(u) => format!("UIDNEXT {u}"),
        Code::UidValidity(u) => format!("UIDVALIDITY {u}"),
        Code::Unseen(n) => format!("UNSEEN {n}"),
        Code::HighestModSeq(m) => format!("HIGHESTMODSEQ {m}"),
        Code::PermanentFlags(f) => {
            format!("PERMANENTFLAGS {}", f.iter().map(|f| up(&f.to_string())).collect::<Vec<_>>().join(" "))
        }
        Code::Capability(c) => format!("CAPABILITY {}", c.iter().map(up).collect::<Vec<_>>().join(" ")),
        Code::BadCharset(v) => format!("BADCHARSET {}", v.join(" ")),
        Code::AppendUid { uid_validity, uids } => {
            format!("APPENDUID {uid_validity} {}", expand(&uids.to_string()))
        }
        Code::CopyUid { uid_validity, source, dest } => {
            format!("COPYUID {uid_validity} {} {}", expand(&source.to_string()), expand(&dest.to_string()))
        }
        _ => return CodeFact::Unknown,
    };
    CodeFact::Known(s)
}

/// A sequence set's numbers, ascending, as text (small sets only; `*` kept).
fn expand(set: &str) -> String {
    let mut out: Vec<u32> = Vec::new();
    for part in set.split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else { return set.to_owned() };
        let (lo, hi) = (a.min(b), a.max(b));
        if hi - lo > 100_000 {
            return set.to_owned();
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    out.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

fn our_section(s: &Section) -> String {
    match s {
        Section::Full => String::new(),
        Section::Header => "HEADER".into(),
        Section::Text => "TEXT".into(),
        Section::Other(o) => up(o),
    }
}

fn ours_facts(r: &Response) -> Option<Facts> {
    Some(match r {
        Response::Continuation(_) => Facts::Continue,
        Response::Tagged(t) => {
            Facts::Tagged { tag: t.tag.clone(), status: t.status.to_string(), code: our_code(&t.code) }
        }
        Response::Untagged(u) => {
            match u {
                Untagged::Status(s) => {
                    Facts::Status { status: up(&format!("{:?}", s.kind)), code: our_code(&s.code) }
                }
                Untagged::Capability(c) => Facts::Capabilities(c.iter().map(up).collect()),
                Untagged::Enabled(v) => Facts::Capabilities(v.iter().map(|s| up(s)).collect()),
                Untagged::Exists(n) => Facts::Exists(*n),
                Untagged::Recent(n) => Facts::Recent(*n),
                Untagged::Expunge(n) => Facts::Expunge(n.get()),
                Untagged::Flags(f) => Facts::Flags(f.iter().map(|f| up(&f.to_string())).collect()),
                Untagged::List(l) => Facts::List {
                    attrs: l
                        .attributes
                        .iter()
                        .map(|a| match a {
                            imap::MailboxAttr::Other(o) => up(o),
                            a => up(&format!("\\{a:?}")),
                        })
                        .collect(),
                    delimiter: l.delimiter.map(|d| d.to_string()),
                    name: if l.is_inbox() {
                        "INBOX".to_owned()
                    } else {
                        String::from_utf8_lossy(&l.name).into_owned()
                    },
                },
                Untagged::MailboxStatus(s) => {
                    let mut items = BTreeMap::new();
                    let mut put = |k, v: Option<u64>| {
                        if let Some(v) = v {
                            items.insert(k, v);
                        }
                    };
                    put("MESSAGES", s.messages.map(u64::from));
                    put("RECENT", s.recent.map(u64::from));
                    put("UIDNEXT", s.uid_next.map(|u| u64::from(u.get())));
                    put("UIDVALIDITY", s.uid_validity.map(|u| u64::from(u.get())));
                    put("UNSEEN", s.unseen.map(u64::from));
                    put("HIGHESTMODSEQ", s.highest_modseq.map(|m| m.get()));
                    Facts::MailboxStatus {
                        name: if s.mailbox.eq_ignore_ascii_case(b"INBOX") {
                            "INBOX".to_owned()
                        } else {
                            String::from_utf8_lossy(&s.mailbox).into_owned()
                        },
                        items,
                    }
                }
                Untagged::Search(s) if s.modseq.is_none() => {
                    Facts::Search(s.numbers.iter().map(|n| n.get()).collect())
                }
                Untagged::Fetch(f) => Facts::Fetch(FetchFacts {
                    seq: f.seq.get(),
                    uid: f.uid.map(|u| u.get()),
                    flags: f.flags.as_ref().map(|v| v.iter().map(|f| up(&f.to_string())).collect()),
                    size: f.rfc822_size,
                    internal_date: f.internal_date.as_ref().and_then(|d| d.as_ref().map(|d| d.raw.clone())),
                    modseq: f.modseq.map(|m| m.get()),
                    bodies: f
                        .bodies
                        .iter()
                        .map(|b| (our_section(&b.section), b.data.as_ref().map(|d| d.to_vec())))
                        .collect(),
                }),
                Untagged::Vanished(v) => Facts::Vanished {
                    earlier: v.earlier,
                    uids: v.uids.iter(0, 1_000_000).map(|i| i.collect()).unwrap_or_default(),
                },
                Untagged::Id(p) => Facts::Id(p.as_ref().map(|p| {
                    p.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone()))).collect()
                })),
                _ => return None,
            }
        }
    })
}

// ---- their side -------------------------------------------------------------------------------

fn their_caps(caps: &[imap_proto::Capability<'_>]) -> Vec<String> {
    caps.iter()
        .map(|c| match c {
            imap_proto::Capability::Imap4rev1 => "IMAP4REV1".to_owned(),
            imap_proto::Capability::Auth(m) => up(&format!("AUTH={m}")),
            imap_proto::Capability::Atom(a) => up(a),
        })
        .collect()
}

fn their_set(set: &[imap_proto::rfc4315::UidSetMember]) -> String {
    let text = set
        .iter()
        .map(|m| match m {
            imap_proto::rfc4315::UidSetMember::Uid(u) => u.to_string(),
            imap_proto::rfc4315::UidSetMember::UidRange(r) => format!("{}:{}", r.start(), r.end()),
        })
        .collect::<Vec<_>>()
        .join(",");
    expand(&text)
}

fn their_code(c: &Option<imap_proto::ResponseCode<'_>>) -> CodeFact {
    use imap_proto::ResponseCode as R;
    let Some(c) = c else { return CodeFact::None };
    let s = match c {
        R::Alert => "ALERT".to_owned(),
        R::Parse => "PARSE".to_owned(),
        R::ReadOnly => "READ-ONLY".to_owned(),
        R::ReadWrite => "READ-WRITE".to_owned(),
        R::TryCreate => "TRYCREATE".to_owned(),
        R::UidNotSticky => "UIDNOTSTICKY".to_owned(),
        R::UidNext(u) => format!("UIDNEXT {u}"),
        R::UidValidity(u) => format!("UIDVALIDITY {u}"),
        R::Unseen(n) => format!("UNSEEN {n}"),
        R::HighestModSeq(m) => format!("HIGHESTMODSEQ {m}"),
        R::PermanentFlags(f) => {
            format!("PERMANENTFLAGS {}", f.iter().map(|f| up(f)).collect::<Vec<_>>().join(" "))
        }
        R::Capabilities(c) => format!("CAPABILITY {}", their_caps(c).join(" ")),
        R::BadCharset(v) => format!(
            "BADCHARSET {}",
            v.as_ref()
                .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        ),
        R::AppendUid(v, set) => format!("APPENDUID {v} {}", their_set(set)),
        R::CopyUid(v, a, b) => format!("COPYUID {v} {} {}", their_set(a), their_set(b)),
        _ => return CodeFact::Unknown,
    };
    CodeFact::Known(s)
}

fn their_status(s: &imap_proto::Status) -> String {
    match s {
        imap_proto::Status::Ok => "OK",
        imap_proto::Status::No => "NO",
        imap_proto::Status::Bad => "BAD",
        imap_proto::Status::PreAuth => "PREAUTH",
        imap_proto::Status::Bye => "BYE",
    }
    .to_owned()
}

fn their_section(s: &Option<imap_proto::SectionPath>) -> String {
    use imap_proto::{MessageSection as M, SectionPath as P};
    let text = |m: &M| match m {
        M::Header => "HEADER",
        M::Mime => "MIME",
        M::Text => "TEXT",
    };
    match s {
        None => String::new(),
        Some(P::Full(m)) => text(m).to_owned(),
        Some(P::Part(parts, m)) => {
            let mut out = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            if let Some(m) = m {
                out.push('.');
                out.push_str(text(m));
            }
            out
        }
    }
}

fn theirs_facts(r: &imap_proto::Response<'_>) -> Option<Facts> {
    use imap_proto::{AttributeValue as A, MailboxDatum as D, Response as R};
    Some(match r {
        R::Continue(_) => Facts::Continue,
        R::Done { tag, status, outcome } => Facts::Tagged {
            tag: tag.0.clone(),
            status: their_status(status),
            code: their_code(&outcome.code),
        },
        R::Data { status, outcome } => {
            Facts::Status { status: their_status(status), code: their_code(&outcome.code) }
        }
        R::Capabilities(c) => Facts::Capabilities(their_caps(c)),
        R::Expunge(n) => Facts::Expunge(*n),
        R::Vanished { earlier, uids } => {
            let mut v: Vec<u32> = uids.iter().flat_map(|r| r.clone()).collect();
            v.sort_unstable();
            v.dedup();
            Facts::Vanished { earlier: *earlier, uids: v }
        }
        R::Id(map) => {
            Facts::Id(map.as_ref().map(|m| m.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
        }
        R::MailboxData(d) => match d {
            D::Exists(n) => Facts::Exists(*n),
            D::Recent(n) => Facts::Recent(*n),
            D::Flags(f) => Facts::Flags(f.iter().map(|f| up(f)).collect()),
            D::Search(v) => Facts::Search(v.clone()),
            D::List(l) => Facts::List {
                attrs: l
                    .name_attributes
                    .iter()
                    .map(|a| match a {
                        imap_proto::NameAttribute::Extension(e) => up(e),
                        a => up(&format!("\\{a:?}")),
                    })
                    .collect(),
                delimiter: l.delimiter.as_ref().map(|d| d.to_string()),
                name: l.name.to_string(),
            },
            D::Status { mailbox, status } => {
                use imap_proto::StatusAttribute as S;
                let items = status
                    .iter()
                    .filter_map(|s| match s {
                        S::HighestModSeq(v) => Some(("HIGHESTMODSEQ", *v)),
                        S::Messages(v) => Some(("MESSAGES", u64::from(*v))),
                        S::Recent(v) => Some(("RECENT", u64::from(*v))),
                        S::UidNext(v) => Some(("UIDNEXT", u64::from(*v))),
                        S::UidValidity(v) => Some(("UIDVALIDITY", u64::from(*v))),
                        S::Unseen(v) => Some(("UNSEEN", u64::from(*v))),
                        _ => None,
                    })
                    .collect();
                Facts::MailboxStatus { name: mailbox.to_string(), items }
            }
            _ => return None,
        },
        R::Fetch(seq, attrs) => {
            let mut f = FetchFacts { seq: *seq, ..FetchFacts::default() };
            for a in attrs {
                match a {
                    A::Uid(u) => f.uid = Some(*u),
                    A::Flags(v) => f.flags = Some(v.iter().map(|x| up(x)).collect()),
                    A::Rfc822Size(n) => f.size = Some(*n),
                    A::InternalDate(d) => f.internal_date = Some(d.to_string()),
                    A::ModSeq(m) => f.modseq = Some(*m),
                    A::BodySection { section, data, .. } => {
                        f.bodies.push((their_section(section), data.as_ref().map(|d| d.to_vec())))
                    }
                    A::Rfc822(d) => f.bodies.push((String::new(), d.as_ref().map(|d| d.to_vec()))),
                    A::Rfc822Header(d) => f.bodies.push(("HEADER".into(), d.as_ref().map(|d| d.to_vec()))),
                    A::Rfc822Text(d) => f.bodies.push(("TEXT".into(), d.as_ref().map(|d| d.to_vec()))),
                    _ => {}
                }
            }
            Facts::Fetch(f)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod compare_tests {
    use super::*;

    #[test]
    fn expand_normalises_sets() {
        assert_eq!(expand("3,1:2,2"), "1,2,3");
        assert_eq!(expand("5:3"), "3,4,5");
        assert_eq!(expand("1:*"), "1:*");
    }

    #[test]
    fn verdicts() {
        assert_eq!(compare(b"* 3 EXISTS\r\n"), Verdict::Agree);
        assert_eq!(
            compare(b"* 1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 3 BODY[] {3}\r\nabc)\r\n"),
            Verdict::Agree
        );
        assert_eq!(compare(b"A1 OK [UIDNEXT 5] x\r\n"), Verdict::Agree);
        assert_eq!(compare(b"* SEARCH 1 (MODSEQ 5)\r\n"), Verdict::OnlyOurs);
        assert_eq!(compare(b"* 3 EXISTS junk\r\n"), Verdict::Neither);
        assert!(matches!(compare(b"* 2 FETCH (RFC822.TEXT \"a\\\\b\")\r\n"), Verdict::Disagree { .. }));
    }
}
