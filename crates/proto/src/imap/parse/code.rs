//! Response text and response codes: `[CODE args] human text`.
//!
//! Owns: `resp-text` and `resp-text-code`, typed for every code the engine acts on, and a generic
//! `Other { name, args }` for everything else (including Exchange's `[Error=...]` and a known code
//! whose arguments do not parse, so an odd code never costs the whole response).
//!
//! Must never: fail a status response because of its code; lose the human text.
//!
//! RFC 3501 section 7.1 and section 9 (`resp-text`, `resp-text-code`); RFC 4315 section 3
//! (APPENDUID, COPYUID, UIDNOTSTICKY); RFC 5530 section 3 (UNAVAILABLE ... NONEXISTENT);
//! RFC 7162 section 7 (HIGHESTMODSEQ, NOMODSEQ, MODIFIED, CLOSED).

use nom::bytes::streaming::{tag, take_while, take_while1};
use nom::combinator::opt;
use nom::Parser;

use super::core::{astring, atom, crlf, lossy, mod_sequence_value, nz_number, sp, text};
use super::flag::flag_list;
use super::search::sequence_set;
use super::{reject, PResult};
use crate::imap::response::{Capabilities, Code};
use crate::types::{SeqNum, Uid, UidValidity};

/// `resp-text = ["[" resp-text-code "]" SP] text`, up to and including the line end.
///
/// Lenient: the SP after `]` may be missing or doubled, the text may be empty, and a `[` that
/// does not open a well-formed code is plain text.
pub fn resp_text(i: &[u8]) -> PResult<'_, (Option<Code>, String)> {
    let (rest, code) = match i.first() {
        Some(b'[') => match bracketed_code(i) {
            Ok((rest, code)) => (rest, Some(code)),
            Err(nom::Err::Incomplete(n)) => return Err(nom::Err::Incomplete(n)),
            Err(_) => (i, None),
        },
        _ => (i, None),
    };
    let (rest, _) = take_while(|b| b == b' ').parse(rest)?;
    let (rest, t) = text(rest)?;
    let (rest, ()) = crlf(rest)?;
    Ok((rest, (code, lossy(t.trim_ascii_end()))))
}

/// `"[" resp-text-code "]"`: finds the closing bracket on the line first, then parses the code
/// inside; a code whose typed form does not parse becomes [`Code::Other`].
fn bracketed_code(i: &[u8]) -> PResult<'_, Code> {
    let (inner, _) = tag("[").parse(i)?;
    let line_len = memchr::memchr2(b'\r', b'\n', inner).unwrap_or(inner.len());
    let line = inner.get(..line_len).unwrap_or_default();
    let Some(close) = memchr::memchr(b']', line) else {
        if line_len == inner.len() {
            return Err(nom::Err::Incomplete(nom::Needed::Unknown));
        }
        return reject(i, "response code without a closing bracket");
    };
    // The code with its closing bracket: streaming rules need a terminator to stop at.
    let code_bytes = inner.get(..=close).unwrap_or_default();
    let rest = inner.get(close + 1..).unwrap_or_default();
    let (_, (name, args)) = code_name_args(code_bytes)?;
    let code = typed_code(name, args).unwrap_or_else(|| Code::Other {
        name: lossy(name),
        args: args.map(|a| lossy(a.strip_suffix(b"]").unwrap_or(a))),
    });
    Ok((rest, code))
}

/// `atom [SP 1*<any TEXT-CHAR except "]">] "]"`, the generic shape of every code. The returned
/// arguments keep their closing `]` (typed parsers need it as a terminator).
fn code_name_args(i: &[u8]) -> PResult<'_, (&[u8], Option<&[u8]>)> {
    let (rest, name) = atom(i)?;
    if let Ok((args, _)) = sp(rest) {
        let args = if args == b"]" { None } else { Some(args) };
        return Ok((b"", (name, args)));
    }
    let (rest, _) = tag("]").parse(rest)?;
    Ok((rest, (name, None)))
}

/// The typed code for `name` and its arguments (which end in `]`), or `None` to fall back to
/// [`Code::Other`].
fn typed_code(name: &[u8], args: Option<&[u8]>) -> Option<Code> {
    let upper = name.to_ascii_uppercase();
    let Some(args) = args else {
        return bare_code(&upper);
    };
    let whole = |r: PResult<'_, Code>| match r {
        Ok((rest, code)) if rest == b"]" => Some(code),
        _ => None,
    };
    match upper.as_slice() {
        b"UIDNEXT" => whole(uid_code(args, |u| Uid::try_from(u).ok().map(Code::UidNext))),
        b"UIDVALIDITY" => whole(uid_code(args, |u| UidValidity::try_from(u).ok().map(Code::UidValidity))),
        b"UNSEEN" => whole(uid_code(args, |u| SeqNum::try_from(u).ok().map(Code::Unseen))),
        b"HIGHESTMODSEQ" => whole(mod_sequence_value.map(Code::HighestModSeq).parse(args)),
        b"PERMANENTFLAGS" => whole(flag_list.map(Code::PermanentFlags).parse(args)),
        b"CAPABILITY" => whole(capability_list.map(Code::Capability).parse(args)),
        b"BADCHARSET" => whole(badcharset(args)),
        b"APPENDUID" => whole(appenduid(args)),
        b"COPYUID" => whole(copyuid(args)),
        b"MODIFIED" => whole(sequence_set.map(Code::Modified).parse(args)),
        _ => None,
    }
}

/// A code without arguments.
fn bare_code(upper: &[u8]) -> Option<Code> {
    Some(match upper {
        b"ALERT" => Code::Alert,
        b"PARSE" => Code::Parse,
        b"READ-ONLY" => Code::ReadOnly,
        b"READ-WRITE" => Code::ReadWrite,
        b"TRYCREATE" => Code::TryCreate,
        b"NOMODSEQ" => Code::NoModSeq,
        b"AUTHENTICATIONFAILED" => Code::AuthenticationFailed,
        b"AUTHORIZATIONFAILED" => Code::AuthorizationFailed,
        b"UNAVAILABLE" => Code::Unavailable,
        b"EXPIRED" => Code::Expired,
        b"PRIVACYREQUIRED" => Code::PrivacyRequired,
        b"CONTACTADMIN" => Code::ContactAdmin,
        b"NOPERM" => Code::NoPerm,
        b"INUSE" => Code::InUse,
        b"EXPUNGEISSUED" => Code::ExpungeIssued,
        b"CORRUPTION" => Code::Corruption,
        b"SERVERBUG" => Code::ServerBug,
        b"CLIENTBUG" => Code::ClientBug,
        b"CANNOT" => Code::Cannot,
        b"LIMIT" => Code::Limit,
        b"OVERQUOTA" => Code::OverQuota,
        b"ALREADYEXISTS" => Code::AlreadyExists,
        b"NONEXISTENT" => Code::NonExistent,
        b"CLOSED" => Code::Closed,
        b"UIDNOTSTICKY" => Code::UidNotSticky,
        b"BADCHARSET" => Code::BadCharset(Vec::new()),
        b"CAPABILITY" => Code::Capability(Capabilities::default()),
        _ => return None,
    })
}

/// `"UIDNEXT" SP nz-number` and its kin: one non-zero number turned into a newtype.
fn uid_code(i: &[u8], make: impl Fn(u32) -> Option<Code>) -> PResult<'_, Code> {
    let (rest, n) = nz_number(i)?;
    match make(n.get()) {
        Some(code) => Ok((rest, code)),
        None => reject(i, "number out of range"),
    }
}

/// `capability-data = "CAPABILITY" *(SP capability)` without the keyword: `capability *(SP capability)`.
///
/// `capability = ("AUTH=" auth-type) / atom`; leniently extra spaces anywhere.
pub fn capability_list(i: &[u8]) -> PResult<'_, Capabilities> {
    let mut caps = Vec::new();
    let mut rest = i;
    loop {
        let (r, _) = take_while(|b| b == b' ').parse(rest)?;
        match take_while1::<_, _, super::PError<'_>>(super::core::is_atom_char).parse(r) {
            Ok((r, cap)) => {
                caps.push(lossy(cap));
                rest = r;
            }
            Err(nom::Err::Incomplete(n)) => return Err(nom::Err::Incomplete(n)),
            Err(_) => return Ok((r, Capabilities::new(caps))),
        }
    }
}

/// `"BADCHARSET" [SP "(" astring *(SP astring) ")"]` without the keyword.
fn badcharset(i: &[u8]) -> PResult<'_, Code> {
    let (mut rest, _) = tag("(").parse(i)?;
    let mut out = Vec::new();
    loop {
        let (r, cs) = astring(rest)?;
        out.push(lossy(&cs));
        match tag::<_, _, super::PError<'_>>(")").parse(r) {
            Ok((r, _)) => return Ok((r, Code::BadCharset(out))),
            Err(_) => (rest, _) = sp(r)?,
        }
    }
}

/// `resp-code-apnd = "APPENDUID" SP nz-number SP append-uid` without the keyword (RFC 4315).
///
/// `append-uid = uniqueid / uid-set` (the set form for MULTIAPPEND).
fn appenduid(i: &[u8]) -> PResult<'_, Code> {
    let (rest, (v, _, uids)) = (nz_number, sp, sequence_set).parse(i)?;
    match UidValidity::try_from(v.get()) {
        Ok(uid_validity) => Ok((rest, Code::AppendUid { uid_validity, uids })),
        Err(_) => reject(i, "uidvalidity out of range"),
    }
}

/// `resp-code-copy = "COPYUID" SP nz-number SP uid-set SP uid-set` without the keyword (RFC 4315).
fn copyuid(i: &[u8]) -> PResult<'_, Code> {
    let (rest, (v, _, source, _, dest)) = (nz_number, sp, sequence_set, sp, sequence_set).parse(i)?;
    match UidValidity::try_from(v.get()) {
        Ok(uid_validity) => Ok((rest, Code::CopyUid { uid_validity, source, dest })),
        Err(_) => reject(i, "uidvalidity out of range"),
    }
}

/// Leniency helper for callers: `[SP] resp-text` after a status keyword (the SP may be missing when
/// the text is empty, or doubled).
pub fn opt_sp_resp_text(i: &[u8]) -> PResult<'_, (Option<Code>, String)> {
    let (rest, _) = opt(sp).parse(i)?;
    resp_text(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::response::Flag;
    use crate::types::ModSeq;

    fn code(line: &[u8]) -> Option<Code> {
        resp_text(line).ok().and_then(|(_, (c, _))| c)
    }

    #[test]
    fn text_without_code() {
        assert_eq!(resp_text(b"LOGIN completed\r\n"), Ok((&b""[..], (None, "LOGIN completed".into()))));
        assert_eq!(resp_text(b"\r\n"), Ok((&b""[..], (None, String::new()))));
        assert_eq!(resp_text(b"trailing  \r\n").map(|(_, (_, t))| t), Ok("trailing".into()));
        assert!(matches!(resp_text(b"no line end"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn numeric_codes() {
        assert_eq!(
            code(b"[UIDNEXT 4392] Predicted next UID\r\n"),
            Uid::try_from(4392u32).ok().map(Code::UidNext)
        );
        assert_eq!(
            code(b"[UIDVALIDITY 3857529045] UIDs valid\r\n"),
            UidValidity::try_from(3_857_529_045u32).ok().map(Code::UidValidity)
        );
        assert_eq!(code(b"[unseen 12] first\r\n"), SeqNum::try_from(12u32).ok().map(Code::Unseen));
        assert_eq!(
            code(b"[HIGHESTMODSEQ 715194045007]\r\n"),
            ModSeq::try_from(715_194_045_007u64).ok().map(Code::HighestModSeq)
        );
        // A zero UIDNEXT is not a valid typed code; it is kept, not fatal.
        assert_eq!(
            code(b"[UIDNEXT 0] x\r\n"),
            Some(Code::Other { name: "UIDNEXT".into(), args: Some("0".into()) })
        );
    }

    #[test]
    fn capability_lists() {
        let (rest, c) = capability_list(b" IMAP4rev1  IDLE AUTH=PLAIN \r\n").unwrap_or_default();
        assert_eq!(
            (rest, c.iter().collect::<Vec<_>>()),
            (&b"\r\n"[..], vec!["IMAP4rev1", "IDLE", "AUTH=PLAIN"])
        );
        let (rest, c) = capability_list(b"\r\n").unwrap_or_default();
        assert_eq!((rest, c.len()), (&b"\r\n"[..], 0));
        assert!(matches!(capability_list(b" IMAP4rev1 ID"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn bare_codes() {
        assert_eq!(code(b"[READ-WRITE] SELECT completed\r\n"), Some(Code::ReadWrite));
        assert_eq!(
            code(b"[AUTHENTICATIONFAILED] Authentication failed.\r\n"),
            Some(Code::AuthenticationFailed)
        );
        assert_eq!(code(b"[NOMODSEQ] Sorry\r\n"), Some(Code::NoModSeq));
        assert_eq!(code(b"[CLOSED]\r\n"), Some(Code::Closed));
        assert_eq!(code(b"[UNAVAILABLE] try later\r\n"), Some(Code::Unavailable));
        assert_eq!(code(b"[OVERQUOTA] full\r\n"), Some(Code::OverQuota));
    }

    #[test]
    fn list_codes() {
        assert_eq!(
            code(b"[PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"),
            Some(Code::PermanentFlags(vec![Flag::Deleted, Flag::Seen, Flag::Wildcard]))
        );
        assert_eq!(code(b"[PERMANENTFLAGS ()] none\r\n"), Some(Code::PermanentFlags(vec![])));
        let caps = code(
            b"[CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] ready\r\n",
        );
        match caps {
            Some(Code::Capability(c)) => {
                assert_eq!(c.len(), 8);
                assert!(c.has("literal+"));
                assert!(c.has_auth("plain"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            code(b"[BADCHARSET (UTF-8 \"US-ASCII\")] x\r\n"),
            Some(Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]))
        );
    }

    #[test]
    fn uidplus_codes() {
        let c = code(b"[APPENDUID 38505 3955] APPEND completed\r\n");
        assert!(matches!(c, Some(Code::AppendUid { uid_validity, ref uids })
            if uid_validity.get() == 38505 && uids.to_string() == "3955"));
        let c = code(b"[COPYUID 38505 304,319:320 3956:3958] Done\r\n");
        assert!(matches!(c, Some(Code::CopyUid { ref source, ref dest, .. })
            if source.to_string() == "304,319:320" && dest.to_string() == "3956:3958"));
        let c = code(b"[MODIFIED 7,9] Conditional STORE failed\r\n");
        assert!(matches!(c, Some(Code::Modified(ref s)) if s.to_string() == "7,9"));
    }

    #[test]
    fn other_codes_keep_name_and_args() {
        assert_eq!(
            code(b"[Error=ServerError] Server Unavailable. 15\r\n"),
            Some(Code::Other { name: "Error=ServerError".into(), args: None })
        );
        assert_eq!(
            code(b"[MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok\r\n"),
            Some(Code::Other {
                name: "MAILBOXID".into(),
                args: Some("(F2212ea87-6097-4256-9d51-71338625)".into())
            })
        );
        assert_eq!(
            code(b"[ALERT extra] x\r\n"),
            Some(Code::Other { name: "ALERT".into(), args: Some("extra".into()) })
        );
        assert_eq!(code(b"[ALERT ] x\r\n"), Some(Code::Alert));
    }

    #[test]
    fn broken_brackets_are_text() {
        assert_eq!(resp_text(b"[not a code\r\n").map(|(_, r)| r), Ok((None, "[not a code".into())));
        assert_eq!(resp_text(b"[] empty\r\n").map(|(_, r)| r), Ok((None, "[] empty".into())));
        assert_eq!(
            resp_text(b"[ALERT]no space\r\n").map(|(_, r)| r),
            Ok((Some(Code::Alert), "no space".into()))
        );
        assert!(matches!(resp_text(b"[ALERT"), Err(nom::Err::Incomplete(_))));
    }
}
