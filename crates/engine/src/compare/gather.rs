//! Reading both servers' views for a comparison, strictly read-only: IMAP with EXAMINE and
//! `BODY.PEEK[HEADER]`; POP3 with UIDL, LIST and `TOP n 0`, then RSET before QUIT so that nothing is marked
//! read or deleted.
//!
//! RFC 3501 sections 6.3.2 and 6.4.5; RFC 1939 sections 7 (TOP, UIDL) and 5 (RSET).

use mailsync_proto::imap::command::{Command, FetchAttr};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{Code, Section, StatusKind, Untagged};
use mailsync_proto::pop3::{parse_scan_listings_lenient, parse_uidl_listings_lenient, Pop3Command};

use super::matching::{ImapEntry, Pop3Entry};
use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::imap::folders::{FolderFilter, Listed};
use crate::imap::plan::{normalize_flags, plan_account};
use crate::imap::ImapClient;
use crate::pop3::plan::merge_listings;
use crate::pop3::Pop3Client;
use crate::EngineError;

fn message_id(header: &[u8]) -> Option<String> {
    mailsync_store::index_message(header).message_id
}

/// Every wanted folder's messages: flags, size, Message-ID. Returns the folder names too.
pub async fn imap_view(
    ep: &Endpoint,
    creds: &Credentials,
    filter: &FolderFilter,
    max_response: usize,
) -> Result<(Vec<String>, Vec<ImapEntry>), EngineError> {
    let mut c = ImapClient::connect(ep, creds, max_response).await?;
    let caps = c.capabilities().await?;
    let list = Command::List {
        reference: String::new(),
        pattern: "*".into(),
        return_special_use: caps.has("SPECIAL-USE"),
    };
    let listed: Vec<Listed> = c
        .run_ok(list)
        .await?
        .iter()
        .filter_map(|u| match u {
            Untagged::List(item) => Some(Listed::from_list(item)),
            _ => None,
        })
        .collect();
    // The same choice of folders as a sync's.
    let folders: Vec<Listed> =
        plan_account(&listed, &[], filter, true).folders.into_iter().map(|(f, _)| f).collect();
    let mut entries = Vec::new();
    for f in &folders {
        let folder = &f.name;
        let data =
            c.run_ok(Command::Examine { mailbox: f.command_name(), condstore: false, qresync: None }).await?;
        let mut uidvalidity = None;
        let mut exists = 0;
        for u in data {
            match u {
                Untagged::Exists(n) => exists = n,
                Untagged::Status(s) if s.kind == StatusKind::Ok => {
                    if let Some(Code::UidValidity(v)) = s.code {
                        uidvalidity = Some(v);
                    }
                }
                _ => {}
            }
        }
        let Some(uidvalidity) = uidvalidity else { continue };
        if exists == 0 {
            continue;
        }
        let items = vec![FetchAttr::Uid, FetchAttr::Flags, FetchAttr::Rfc822Size, FetchAttr::BodyPeekHeader];
        let cmd = Command::UidFetch { set: SequenceSet::all(), items, changed_since: None, vanished: false };
        for u in c.run_ok(cmd).await? {
            let Untagged::Fetch(f) = u else { continue };
            let Some(uid) = f.uid else { continue };
            let flags: Vec<String> =
                f.flags.as_deref().unwrap_or_default().iter().map(|x| x.to_string()).collect();
            entries.push(ImapEntry {
                folder: folder.clone(),
                uidvalidity,
                uid,
                flags: normalize_flags(&flags),
                size: u64::from(f.rfc822_size.unwrap_or(0)),
                message_id: f.body(&Section::Header).and_then(|h| message_id(h)),
            });
        }
    }
    c.logout().await;
    Ok((folders.into_iter().map(|f| f.name).collect(), entries))
}

/// The INBOX as POP3 shows it: UIDL, size, Message-ID (from `TOP n 0`). Ends with RSET and QUIT.
pub async fn pop3_view(
    ep: &Endpoint,
    creds: &Credentials,
    max_message: usize,
) -> Result<Vec<Pop3Entry>, EngineError> {
    let mut c = Pop3Client::connect(ep, creds, max_message).await?;
    let addr = ep.addr();
    let uidl = c.run(Pop3Command::Uidl(None)).await?;
    let uidls = match (uidl.ok, uidl.body) {
        (true, Some(b)) => Some(parse_uidl_listings_lenient(&b)),
        _ => None,
    };
    let list = c.run_ok(Pop3Command::List(None)).await?;
    let scans = parse_scan_listings_lenient(&list.body.unwrap_or_default());
    // The same reading of the listings as a sync's: a UIDL listed twice or on a bad line identifies nothing.
    let listing = merge_listings(uidls.as_ref(), Some(&scans));
    for p in &listing.problems {
        tracing::warn!(server = %addr, "{p}");
    }
    let scans = listing.messages;
    // TOP answers are small: pipeline them when the server allows it.
    let caps = c.capabilities_after_login().await?;
    let (top, pipelining) = (caps.top(), caps.pipelining());
    let mut ids = Vec::new();
    if top {
        for s in &scans {
            ids.push(c.send(Pop3Command::Top { msg: s.msg, lines: 0 })?);
            if !pipelining {
                break;
            }
        }
    }
    let mut entries = Vec::new();
    let mut next = ids.len();
    for (k, s) in scans.iter().enumerate() {
        let mut mid = None;
        if top {
            if k >= next {
                c.send(Pop3Command::Top { msg: s.msg, lines: 0 })?;
                next += 1;
            }
            let r = c.next_reply("to TOP").await?;
            if r.ok {
                mid = r.body.as_deref().and_then(message_id);
            }
        }
        entries.push(Pop3Entry { msg: s.msg, uidl: s.uidl.clone(), size: s.size, message_id: mid });
    }
    c.run_ok(Pop3Command::Rset).await?;
    c.quit().await?;
    Ok(entries)
}
