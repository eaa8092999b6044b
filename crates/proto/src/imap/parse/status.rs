//! The top of the grammar: which kind of response a frame is, and status responses.
//!
//! Owns: `response` dispatch (continuation, tagged, untagged), `greeting`, `response-tagged`,
//! `resp-cond-state`, `resp-cond-bye`, `resp-cond-auth`, `continue-req`, and the untagged dispatch by
//! keyword to the data rules. Unknown untagged responses (`* QUOTA ...`, `* 5 XYZ`) are kept whole as
//! [`Untagged::Other`] instead of failing.
//!
//! Must never: treat a prefix of a keyword as the keyword (`* OKAY` is not OK; keywords are whole
//! atoms, matched ignoring case).
//!
//! RFC 3501 section 9: `response`, `response-data`, `response-tagged`, `response-done`, `greeting`,
//! `resp-cond-auth`, `resp-cond-bye`, `resp-cond-state`, `continue-req`, `message-data`,
//! `mailbox-data`; section 7.5 (continuation requests).

use bytes::Bytes;
use nom::bytes::streaming::tag;
use nom::combinator::opt;
use nom::Parser;

use super::code::{capability_list, opt_sp_resp_text};
use super::core::{atom, crlf, lossy, number, sp, tag_word, text};
use super::flag::flag_list;
use super::{fetch, id, mailbox, namespace, reject, search, share, PResult};
use crate::imap::response::{
    Continuation, Greeting, GreetingKind, ListKind, Response, Status, StatusKind, StatusResponse, Tagged,
    Untagged,
};
use crate::types::SeqNum;

/// `response = continue-req / response-data / response-tagged` (one response; `frame` is the whole
/// frame `i` was cut from, for zero-copy slices).
pub fn response<'a>(frame: &Bytes, i: &'a [u8]) -> PResult<'a, Response> {
    match i.first() {
        None => Err(nom::Err::Incomplete(nom::Needed::new(1))),
        Some(b'+') => continue_req(frame, i).map(|(r, c)| (r, Response::Continuation(c))),
        Some(b'*') => response_data(frame, i).map(|(r, u)| (r, Response::Untagged(u))),
        Some(_) => response_tagged(i).map(|(r, t)| (r, Response::Tagged(t))),
    }
}

/// `continue-req = "+" SP (resp-text / base64) CRLF`; leniently a bare `+` or `+` without a space.
pub fn continue_req<'a>(frame: &Bytes, i: &'a [u8]) -> PResult<'a, Continuation> {
    let (rest, _) = (tag("+"), opt(tag(" "))).parse(i)?;
    let (rest, data) = text(rest)?;
    let (rest, ()) = crlf(rest)?;
    Ok((rest, Continuation { data: share(frame, data.trim_ascii_end()) }))
}

/// `response-tagged = tag SP resp-cond-state CRLF`
///
/// `resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text`
pub fn response_tagged(i: &[u8]) -> PResult<'_, Tagged> {
    let (rest, (t, _, word)) = (tag_word, sp, atom).parse(i)?;
    let status = match word.to_ascii_uppercase().as_slice() {
        b"OK" => Status::Ok,
        b"NO" => Status::No,
        b"BAD" => Status::Bad,
        _ => return reject(i, "tagged response is not OK, NO or BAD"),
    };
    let (rest, (code, text)) = opt_sp_resp_text(rest)?;
    Ok((rest, Tagged { tag: lossy(t), status, code, text }))
}

/// `greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF`
///
/// `resp-cond-auth = ("OK" / "PREAUTH") SP resp-text`, `resp-cond-bye = "BYE" SP resp-text`
pub fn greeting(i: &[u8]) -> PResult<'_, Greeting> {
    let (rest, (_, _, word)) = (tag("*"), sp, atom).parse(i)?;
    let kind = match word.to_ascii_uppercase().as_slice() {
        b"OK" => GreetingKind::Ok,
        b"PREAUTH" => GreetingKind::PreAuth,
        b"BYE" => GreetingKind::Bye,
        _ => return reject(i, "greeting is not OK, PREAUTH or BYE"),
    };
    let (rest, (code, text)) = opt_sp_resp_text(rest)?;
    Ok((rest, Greeting { kind, code, text }))
}

/// `response-data = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data / message-data /
/// capability-data / enable-data / id-response / namespace-response / esearch-response /
/// expunged-resp) CRLF`
pub fn response_data<'a>(frame: &Bytes, i: &'a [u8]) -> PResult<'a, Untagged> {
    let (rest, _) = (tag("*"), sp).parse(i)?;
    match rest.first() {
        Some(b) if b.is_ascii_digit() => message_data(frame, rest),
        _ => keyword_data(frame, rest),
    }
}

/// `message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))`, and the numbered mailbox-data
/// `number SP "EXISTS"` / `number SP "RECENT"`.
fn message_data<'a>(frame: &Bytes, i: &'a [u8]) -> PResult<'a, Untagged> {
    let (rest, (n, _, word)) = (number, sp, atom).parse(i)?;
    match word.to_ascii_uppercase().as_slice() {
        b"EXISTS" => crlf.map(|()| Untagged::Exists(n)).parse(rest),
        b"RECENT" => crlf.map(|()| Untagged::Recent(n)).parse(rest),
        b"EXPUNGE" => {
            let Ok(seq) = SeqNum::try_from(n) else {
                return reject(i, "EXPUNGE of message 0");
            };
            crlf.map(|()| Untagged::Expunge(seq)).parse(rest)
        }
        b"FETCH" => {
            let Ok(seq) = SeqNum::try_from(n) else {
                return reject(i, "FETCH of message 0");
            };
            let (rest, _) = opt(sp).parse(rest)?;
            let (rest, f) = fetch::msg_att(frame, seq, rest)?;
            let (rest, ()) = crlf(rest)?;
            Ok((rest, Untagged::Fetch(Box::new(f))))
        }
        other => other_response(frame, i, other),
    }
}

/// The untagged responses that start with a keyword.
fn keyword_data<'a>(frame: &Bytes, i: &'a [u8]) -> PResult<'a, Untagged> {
    let (rest, word) = atom(i)?;
    let upper = word.to_ascii_uppercase();
    let cond = |kind| {
        opt_sp_resp_text.map(move |(code, text)| Untagged::Status(StatusResponse { kind, code, text }))
    };
    match upper.as_slice() {
        b"OK" => cond(StatusKind::Ok).parse(rest),
        b"NO" => cond(StatusKind::No).parse(rest),
        b"BAD" => cond(StatusKind::Bad).parse(rest),
        b"PREAUTH" => cond(StatusKind::PreAuth).parse(rest),
        b"BYE" => cond(StatusKind::Bye).parse(rest),
        b"CAPABILITY" => (capability_list, crlf).map(|(c, ())| Untagged::Capability(c)).parse(rest),
        b"ENABLED" => (capability_list, crlf)
            .map(|(c, ())| Untagged::Enabled(c.iter().map(str::to_owned).collect()))
            .parse(rest),
        b"LIST" => list_like(rest, ListKind::List),
        b"LSUB" => list_like(rest, ListKind::Lsub),
        b"XLIST" => list_like(rest, ListKind::Xlist),
        b"STATUS" => {
            (sp, mailbox::status_data, crlf).map(|(_, s, ())| Untagged::MailboxStatus(s)).parse(rest)
        }
        b"FLAGS" => (opt(sp), flag_list, crlf).map(|(_, f, ())| Untagged::Flags(f)).parse(rest),
        b"SEARCH" => (search::search_data, crlf).map(|(s, ())| Untagged::Search(s)).parse(rest),
        b"ESEARCH" => (search::esearch_data, crlf).map(|(s, ())| Untagged::ESearch(s)).parse(rest),
        b"VANISHED" => (search::vanished_data, crlf).map(|(v, ())| Untagged::Vanished(v)).parse(rest),
        b"ID" => (sp, id::id_params_list, crlf).map(|(_, p, ())| Untagged::Id(p)).parse(rest),
        b"NAMESPACE" => {
            (sp, namespace::namespace_data, crlf).map(|(_, n, ())| Untagged::Namespace(n)).parse(rest)
        }
        _ => other_response(frame, i, &upper),
    }
}

/// `"LIST" SP mailbox-list` and its LSUB / XLIST twins.
fn list_like(i: &[u8], kind: ListKind) -> PResult<'_, Untagged> {
    (sp, |x| mailbox::mailbox_list(x, kind), crlf).map(|(_, l, ())| Untagged::List(l)).parse(i)
}

/// An untagged response nobody parses: kept whole. The rest of the frame is consumed, but only once
/// it is complete (ends in LF), so a truncated one still reads as incomplete.
fn other_response<'a>(frame: &Bytes, i: &'a [u8], name: &[u8]) -> PResult<'a, Untagged> {
    if i.last() != Some(&b'\n') {
        return Err(nom::Err::Incomplete(nom::Needed::Unknown));
    }
    let rest = i.get(i.len()..).unwrap_or_default();
    Ok((rest, Untagged::Other { name: lossy(&name.to_ascii_uppercase()), raw: frame.clone() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::response::Code;

    fn parse(wire: &'static [u8]) -> Result<Response, String> {
        let frame = Bytes::from_static(wire);
        match response(&frame, wire) {
            Ok(([], r)) => Ok(r),
            Ok((rest, _)) => Err(format!("trailing {rest:?}")),
            Err(e) => Err(format!("{e:?}")),
        }
    }

    #[test]
    fn continuation_forms() {
        let data = |wire| match parse(wire) {
            Ok(Response::Continuation(c)) => Some(c.data),
            _ => None,
        };
        assert_eq!(data(b"+ Ready for literal data\r\n").as_deref(), Some(&b"Ready for literal data"[..]));
        assert_eq!(data(b"+ \r\n").as_deref(), Some(&b""[..]));
        assert_eq!(data(b"+\r\n").as_deref(), Some(&b""[..]));
        assert_eq!(data(b"+idling\r\n").as_deref(), Some(&b"idling"[..]));
        assert_eq!(
            data(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n").as_deref(),
            Some(&b"eyJzdGF0dXMiOiI0MDEifQ=="[..])
        );
        let frame = Bytes::from_static(b"+\r");
        assert!(matches!(continue_req(&frame, b"+\r"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn tagged_forms() {
        assert_eq!(
            parse(b"A0001 OK [READ-WRITE] SELECT completed\r\n"),
            Ok(Response::Tagged(Tagged {
                tag: "A0001".into(),
                status: Status::Ok,
                code: Some(Code::ReadWrite),
                text: "SELECT completed".into()
            }))
        );
        assert_eq!(
            parse(b"a2 no  Request is throttled.\r\n"),
            Ok(Response::Tagged(Tagged {
                tag: "a2".into(),
                status: Status::No,
                code: None,
                text: "Request is throttled.".into()
            }))
        );
        assert!(matches!(parse(b"A3 BAD\r\n"), Ok(Response::Tagged(Tagged { status: Status::Bad, .. }))));
        assert!(parse(b"A4 MAYBE fine\r\n").is_err());
        assert!(parse(b"A4 OKAY fine\r\n").is_err());
        assert!(matches!(response_tagged(b"A5 OK done"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn greetings() {
        assert_eq!(
            greeting(b"* OK IMAP4rev1 Service Ready\r\n").map(|(_, g)| (g.kind, g.text)),
            Ok((GreetingKind::Ok, "IMAP4rev1 Service Ready".to_owned()))
        );
        assert_eq!(
            greeting(b"* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n").map(|(_, g)| g.kind),
            Ok(GreetingKind::PreAuth)
        );
        assert_eq!(greeting(b"* BYE Autologout\r\n").map(|(_, g)| g.kind), Ok(GreetingKind::Bye));
        assert!(matches!(greeting(b"* NO busy\r\n"), Err(nom::Err::Error(_))));
        assert!(matches!(greeting(b"* OK"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn untagged_status() {
        assert_eq!(
            parse(b"* BYE IMAP4rev1 Server logging out\r\n"),
            Ok(Response::Untagged(Untagged::Status(StatusResponse {
                kind: StatusKind::Bye,
                code: None,
                text: "IMAP4rev1 Server logging out".into()
            })))
        );
        assert!(matches!(
            parse(b"*  ok [ALERT] System shutdown in 10 minutes\r\n"),
            Ok(Response::Untagged(Untagged::Status(StatusResponse {
                kind: StatusKind::Ok,
                code: Some(Code::Alert),
                ..
            })))
        ));
        assert!(matches!(
            parse(b"* OK\r\n"),
            Ok(Response::Untagged(Untagged::Status(StatusResponse { kind: StatusKind::Ok, code: None, .. })))
        ));
    }

    #[test]
    fn numbered_data() {
        assert_eq!(parse(b"* 23 EXISTS\r\n"), Ok(Response::Untagged(Untagged::Exists(23))));
        assert_eq!(parse(b"* 0 exists\r\n"), Ok(Response::Untagged(Untagged::Exists(0))));
        assert_eq!(parse(b"* 5 RECENT\r\n"), Ok(Response::Untagged(Untagged::Recent(5))));
        assert_eq!(
            parse(b"* 44 EXPUNGE\r\n"),
            Ok(Response::Untagged(Untagged::Expunge(
                SeqNum::try_from(44u32).unwrap_or_else(|_| unreachable!())
            )))
        );
        assert!(parse(b"* 0 EXPUNGE\r\n").is_err());
        assert!(parse(b"* 3 EXISTS extra\r\n").is_err());
        assert!(parse(b"* 99999999999 EXISTS\r\n").is_err());
    }

    #[test]
    fn capability_and_enabled() {
        match parse(b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED \r\n") {
            Ok(Response::Untagged(Untagged::Capability(c))) => {
                assert_eq!(
                    c.iter().collect::<Vec<_>>(),
                    ["IMAP4rev1", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"]
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(b"* ENABLED CONDSTORE QRESYNC\r\n"),
            Ok(Response::Untagged(Untagged::Enabled(vec!["CONDSTORE".into(), "QRESYNC".into()])))
        );
        assert_eq!(parse(b"* ENABLED\r\n"), Ok(Response::Untagged(Untagged::Enabled(vec![]))));
    }

    #[test]
    fn unknown_untagged_is_kept() {
        match parse(b"* QUOTA \"\" (STORAGE 10 512)\r\n") {
            Ok(Response::Untagged(Untagged::Other { name, raw })) => {
                assert_eq!(name, "QUOTA");
                assert_eq!(&raw[..], b"* QUOTA \"\" (STORAGE 10 512)\r\n");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(b"* 5 XSOMETHING (a b)\r\n"),
            Ok(Response::Untagged(Untagged::Other { ref name, .. })) if name == "XSOMETHING"
        ));
        assert!(matches!(parse(b"* OKAY\r\n"), Ok(Response::Untagged(Untagged::Other { .. }))));
        let frame = Bytes::from_static(b"* QUOTA x");
        assert!(matches!(response_data(&frame, b"* QUOTA x"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn flags_response() {
        use crate::imap::response::Flag;
        assert_eq!(
            parse(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n"),
            Ok(Response::Untagged(Untagged::Flags(vec![
                Flag::Answered,
                Flag::Flagged,
                Flag::Deleted,
                Flag::Seen,
                Flag::Draft,
                Flag::Keyword("$Forwarded".into())
            ])))
        );
        assert!(parse(b"* FLAGS \\Seen\r\n").is_err());
    }
}
