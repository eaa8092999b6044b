//! Reading both servers' views for a comparison, strictly read-only: IMAP with EXAMINE and
//! `BODY.PEEK[HEADER]`; POP3 with UIDL, LIST and `TOP n 0`, then RSET before QUIT so that nothing is marked
//! read or deleted.
//!
//! RFC 3501 sections 6.3.2 and 6.4.5; RFC 1939 sections 7 (TOP, UIDL) and 5 (RSET).

use mailsync_proto::imap::command::{Command, FetchAttr};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::{Code, Section, StatusKind, Untagged};
use mailsync_proto::pop3::{parse_scan_listings, parse_uidl_listings, Pop3Command};
use mailsync_proto::{SeqNum, Uidl};

use super::matching::{ImapEntry, Pop3Entry};
use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::imap::folders::FolderFilter;
use crate::imap::plan::normalize_flags;
use crate::imap::ImapClient;
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
    let mut folders = Vec::new();
    for u in c.run_ok(list).await? {
        let Untagged::List(item) = u else { continue };
        let selectable = !item.has(&mailsync_proto::imap::MailboxAttr::NoSelect)
            && !item.has(&mailsync_proto::imap::MailboxAttr::NonExistent);
        let name = if item.is_inbox() {
            "INBOX".to_string()
        } else {
            match mailsync_proto::imap::mutf7::decode(&item.name) {
                Ok(n) => n,
                Err(_) => continue,
            }
        };
        if selectable && filter.wants(&name, item.delimiter) && !folders.contains(&name) {
            folders.push(name);
        }
    }
    folders.sort_by(|a, b| (a != "INBOX", a).cmp(&(b != "INBOX", b)));
    let mut entries = Vec::new();
    for folder in &folders {
        let data = c
            .run_ok(Command::Examine { mailbox: folder.clone().into(), condstore: false, qresync: None })
            .await?;
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
    Ok((folders, entries))
}

/// The INBOX as POP3 shows it: UIDL, size, Message-ID (from `TOP n 0`). Ends with RSET and QUIT.
pub async fn pop3_view(
    ep: &Endpoint,
    creds: &Credentials,
    max_message: usize,
) -> Result<Vec<Pop3Entry>, EngineError> {
    let mut c = Pop3Client::connect(ep, creds, max_message).await?;
    let addr = ep.addr();
    let bad = |e: mailsync_proto::pop3::Pop3Error| EngineError::Protocol {
        protocol: "POP3",
        addr: addr.clone(),
        detail: e.to_string(),
    };
    let uidl = c.run(Pop3Command::Uidl(None)).await?;
    let uidls: std::collections::HashMap<SeqNum, Uidl> = match (uidl.ok, uidl.body) {
        (true, Some(b)) => {
            parse_uidl_listings(&b).map_err(bad)?.into_iter().map(|l| (l.msg, l.uidl)).collect()
        }
        _ => Default::default(),
    };
    let list = c.run_ok(Pop3Command::List(None)).await?;
    let scans = parse_scan_listings(&list.body.unwrap_or_default()).map_err(bad)?;
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
        entries.push(Pop3Entry {
            msg: s.msg,
            uidl: uidls.get(&s.msg).cloned(),
            size: s.size,
            message_id: mid,
        });
    }
    c.run_ok(Pop3Command::Rset).await?;
    c.quit().await?;
    Ok(entries)
}
