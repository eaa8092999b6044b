//! The POP3 download run: the INBOX into the store, then (per the mode) deletions on the server, never
//! before the local copies are durably committed.
//!
//! Owns: the order of a run (login and the run record at once, UIDL and the store's known UIDLs at once,
//! LIST, CAPA only when there is something to download, the download in pipelined RETRs streamed to the store
//! writer in batches, commit, RSET, DELE, QUIT, then recording the deletions), the cross-protocol content
//! match (a message already stored over IMAP gains a POP3 location, not a second copy), and servers without
//! UIDL (content hash as identity, no deletion unless forced). Must never: DELE a message whose copy is not
//! committed; record a deletion before the server's `+OK` to QUIT (RFC 1939 section 6: only then are DELEs
//! applied).
//!
//! RFC 1939 sections 5-7, RFC 2449 section 6.6 (PIPELINING).

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use mailsync_proto::pop3::{parse_scan_listings, parse_uidl_listings, Pop3Command, UidlListing};
use mailsync_proto::{SeqNum, Uidl};
use mailsync_store::{
    content_hash, AccountId, NewPop3Message, Pop3Batch, Prepared, Protocol, RunId, RunSummary,
};

use super::client::{PasswordMethod, Pop3Client};
use super::plan::{plan_deletions, plan_download, Known, KnownUidls, Listed, Pop3Mode};
use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::imap::sync::Observer;
use crate::writer::StoreHandle;
use crate::EngineError;

/// What a POP3 run needs to know.
#[derive(Debug, Clone)]
pub struct Pop3SyncConfig {
    /// The account's name in the store.
    pub account: String,
    /// Where the server is.
    pub endpoint: Endpoint,
    /// How to log in.
    pub credentials: Credentials,
    /// APOP instead of USER/PASS.
    pub password_method: PasswordMethod,
    /// Keep, delete after N days, or delete.
    pub mode: Pop3Mode,
    /// Delete even on a server without UIDL (identity then rests on content hashes).
    pub force_delete_without_uidl: bool,
    /// Report what would be downloaded and deleted; change nothing.
    pub dry_run: bool,
    /// The time, in unix seconds (a parameter, so tests control it).
    pub now: i64,
    /// The largest message accepted.
    pub max_message: usize,
    /// Messages per store transaction.
    pub batch_messages: usize,
    /// Bytes per store transaction, and the most bytes of RETR answers in flight at once.
    pub batch_bytes: usize,
}

/// What a POP3 run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pop3Report {
    /// The account.
    pub account: String,
    /// Messages the server lists.
    pub listed: u64,
    /// Messages downloaded and stored (in a dry run: that would be).
    pub new: u64,
    /// Bytes downloaded (in a dry run: LIST sizes).
    pub bytes: u64,
    /// Of the new ones, messages whose bytes were already stored (e.g. over IMAP): a location only.
    pub already_stored: u64,
    /// Messages deleted from the server this run (in a dry run: that would be).
    pub deleted_on_server: u64,
    /// Stored UIDLs no longer on the server although this client did not delete them.
    pub vanished: u64,
    /// Wall time.
    pub seconds: f64,
    /// Something worth saying (no UIDL support, ...).
    pub note: Option<String>,
}

/// Downloads the INBOX and applies the deletion mode. Returns the report even when the run failed part-way.
pub async fn sync_pop3(
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
    obs: &mut dyn Observer,
) -> (Pop3Report, Result<(), EngineError>) {
    let start = Instant::now();
    let mut report = Pop3Report { account: cfg.account.clone(), ..Pop3Report::default() };
    // The run is recorded while the server is reached.
    let connect =
        Pop3Client::connect_with(&cfg.endpoint, &cfg.credentials, cfg.max_message, cfg.password_method);
    let (run, client) = tokio::join!(begin_run(store, cfg), connect);
    let run = match run {
        Ok(r) => r,
        Err(e) => return (report, Err(e)),
    };
    let result = match client {
        Ok(c) => run_once(c, store, cfg, obs, run.map(|(a, _)| a), &mut report).await,
        Err(e) => Err(e),
    };
    report.seconds = start.elapsed().as_secs_f64();
    if let Some((_, run)) = run {
        let e = finish(store, run, &report, &result).await;
        return (report, result.and(e));
    }
    (report, result)
}

/// The account and a new run record, or nothing in a dry run (which writes nothing).
async fn begin_run(
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
) -> Result<Option<(AccountId, RunId)>, EngineError> {
    if cfg.dry_run {
        return Ok(None);
    }
    Ok(Some(store.begin_run(&cfg.account, Protocol::Pop3).await?))
}

async fn finish(
    store: &mut StoreHandle,
    run: RunId,
    report: &Pop3Report,
    result: &Result<(), EngineError>,
) -> Result<(), EngineError> {
    let summary = RunSummary {
        new: report.new,
        updated: 0,
        removed: 0,
        deleted_on_server: report.deleted_on_server,
        bytes: report.bytes,
        error: result.as_ref().err().map(|e| e.to_string()),
    };
    store.call(move |s| s.finish_run(run, &summary)).await
}

async fn known_uidls(store: &mut StoreHandle, account: Option<AccountId>) -> Result<KnownUidls, EngineError> {
    let Some(a) = account else { return Ok(KnownUidls::default()) };
    store
        .call(move |s| {
            let mut known = KnownUidls::default();
            s.for_each_pop3_location(a, |uidl, r| {
                known.insert(
                    uidl,
                    Known { downloaded_at: r.downloaded_at, deleted_on_server_at: r.deleted_on_server_at },
                );
            })?;
            Ok(known)
        })
        .await
}

async fn run_once(
    mut c: Pop3Client,
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
    obs: &mut dyn Observer,
    account: Option<AccountId>,
    report: &mut Pop3Report,
) -> Result<(), EngineError> {
    let account = match account {
        Some(a) => Some(a),
        None => {
            let name = cfg.account.clone();
            store.call(move |s| s.find_account(&name)).await?
        }
    };
    // The store reads what it knows while the server computes its UIDL listing.
    let (uidls, known) = tokio::join!(uidl_listing(&mut c), known_uidls(store, account));
    let known = known?;
    let listing = list(&mut c, uidls?, &known).await?;
    report.listed = u64::try_from(listing.len()).unwrap_or(u64::MAX);
    let has_uidl = listing.iter().all(|l| l.uidl.is_some());
    if !has_uidl {
        report.note = Some("server has no UIDL: every message is fetched and matched by content; nothing is deleted unless forced".into());
    }
    let plan = plan_download(&listing, &known);
    report.vanished = u64::try_from(plan.vanished.len()).unwrap_or(u64::MAX);
    if let (Some(a), false) = (account, cfg.dry_run || plan.vanished.is_empty()) {
        let (vanished, now) = (plan.vanished.clone(), cfg.now);
        store.call(move |s| s.mark_pop3_deleted(a, &vanished, now)).await?;
    }

    let mut synthesized: HashMap<SeqNum, Uidl> = HashMap::new();
    if cfg.dry_run {
        report.new = u64::try_from(plan.download.len()).unwrap_or(u64::MAX);
        report.bytes = plan.download.iter().map(|l| l.size).sum();
    } else if let Some(a) = account {
        let total: u64 = plan.download.iter().map(|l| l.size).sum();
        obs.folder_started("INBOX", u64::try_from(plan.download.len()).unwrap_or(u64::MAX), total);
        download(&mut c, store, cfg, a, &plan.download, obs, report, &mut synthesized, &known).await?;
    }

    // Deletions are chosen from what the store holds now: committed, and durable (synchronous = FULL).
    // (When nothing was downloaded, what the store holds is what it held before.)
    let refreshed;
    let known_after = if cfg.dry_run || plan.download.is_empty() {
        &known
    } else {
        refreshed = known_uidls(store, account).await?;
        &refreshed
    };
    let deletable: std::borrow::Cow<'_, [Listed]> = if has_uidl {
        std::borrow::Cow::Borrowed(&listing)
    } else {
        // Without UIDL, identities exist only for messages fetched in this very session.
        std::borrow::Cow::Owned(
            listing
                .iter()
                .map(|l| Listed { uidl: synthesized.get(&l.msg).cloned(), ..l.clone() })
                .filter(|l| cfg.force_delete_without_uidl && l.uidl.is_some())
                .collect(),
        )
    };
    let mut to_delete =
        plan_deletions(&deletable, known_after, cfg.mode, cfg.now, cfg.force_delete_without_uidl);
    if cfg.dry_run {
        // A dry run deletes nothing; it reports what the mode would delete, counting messages it would download.
        if cfg.mode == Pop3Mode::Delete {
            to_delete = listing.iter().filter_map(|l| Some((l.msg, l.uidl.clone()?))).collect();
        }
        report.deleted_on_server = u64::try_from(to_delete.len()).unwrap_or(u64::MAX);
        c.quit().await?;
        return Ok(());
    }

    // RSET first: Dovecot would otherwise mark every RETR'd message \Seen at QUIT.
    if !plan.download.is_empty() {
        c.run_ok(Pop3Command::Rset).await?;
    }
    let mut deleted = Vec::new();
    for (msg, uidl) in &to_delete {
        let r = c.run(Pop3Command::Dele(*msg)).await?;
        if r.ok {
            deleted.push(uidl.clone());
        } else {
            tracing::warn!("DELE {msg} ({uidl}) refused: {}", r.text);
        }
    }
    let applied = c.quit().await?;
    if applied && !deleted.is_empty() {
        if let Some(a) = account {
            let now = cfg.now;
            report.deleted_on_server = store.call(move |s| s.mark_pop3_deleted(a, &deleted, now)).await?;
        }
    } else if !applied && !deleted.is_empty() {
        return Err(EngineError::Protocol {
            protocol: "POP3",
            addr: cfg.endpoint.addr(),
            detail: "QUIT was not acknowledged: the server keeps every message (nothing was deleted)".into(),
        });
    }
    Ok(())
}

/// The server's UIDL listing, in its order; empty when the server has no UIDL.
async fn uidl_listing(c: &mut Pop3Client) -> Result<Vec<UidlListing>, EngineError> {
    let uidl = c.run(Pop3Command::Uidl(None)).await?;
    match (uidl.ok, uidl.body) {
        (true, Some(body)) => parse_uidl_listings(&body).map_err(|e| EngineError::Protocol {
            protocol: "POP3",
            addr: String::new(),
            detail: e.to_string(),
        }),
        _ => Ok(Vec::new()),
    }
}

/// The UIDL listing and LIST, merged by message number. When every UIDL is already known, nothing will be
/// downloaded and LIST (which makes the server compute every size) is skipped: sizes are then 0.
async fn list(
    c: &mut Pop3Client,
    uidls: Vec<UidlListing>,
    known: &KnownUidls,
) -> Result<Vec<Listed>, EngineError> {
    if !uidls.is_empty() && uidls.iter().all(|l| known.contains_key(&l.uidl)) {
        let mut listing: Vec<Listed> =
            uidls.into_iter().map(|l| Listed { msg: l.msg, uidl: Some(l.uidl), size: 0 }).collect();
        // Servers list in order (then this costs one pass); a number listed twice counts once.
        listing.sort_by_key(|l| l.msg);
        listing.dedup_by_key(|l| l.msg);
        return Ok(listing);
    }
    let by_msg: HashMap<SeqNum, Uidl> = uidls.into_iter().map(|l| (l.msg, l.uidl)).collect();
    let list = c.run_ok(Pop3Command::List(None)).await?;
    let body = list.body.unwrap_or_default();
    let scans = parse_scan_listings(&body).map_err(|e| EngineError::Protocol {
        protocol: "POP3",
        addr: String::new(),
        detail: e.to_string(),
    })?;
    Ok(scans
        .into_iter()
        .map(|s| Listed { msg: s.msg, uidl: by_msg.get(&s.msg).cloned(), size: s.size })
        .collect())
}

/// A UIDL made from content, for servers without UIDL: `sha256:` and 60 hex digits (within RFC 1939's 70).
fn content_uidl(raw: &[u8]) -> Option<Uidl> {
    let hex: String = content_hash(raw).iter().map(|b| format!("{b:02x}")).collect();
    Uidl::new(format!("sha256:{}", hex.get(..60)?)).ok()
}

#[allow(clippy::too_many_arguments)]
async fn download(
    c: &mut Pop3Client,
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
    account: AccountId,
    todo: &[Listed],
    obs: &mut dyn Observer,
    report: &mut Pop3Report,
    synthesized: &mut HashMap<SeqNum, Uidl>,
    known: &KnownUidls,
) -> Result<(), EngineError> {
    if todo.is_empty() {
        return Ok(());
    }
    let pipelined = c.pipelining().await?;
    let mut next = 0usize;
    // RETRs in flight, in order: (message, bytes announced by LIST).
    let mut in_flight: std::collections::VecDeque<&Listed> = std::collections::VecDeque::new();
    let mut in_flight_bytes = 0u64;
    let mut batch = Pop3Batch::default();
    let mut batch_bytes = 0usize;
    let window = u64::try_from(cfg.batch_bytes).unwrap_or(u64::MAX);
    loop {
        // Keep RETRs flowing while the answers in flight stay under the window (always at least one).
        while let Some(l) = todo.get(next) {
            let room = in_flight.is_empty() || (pipelined && in_flight_bytes + l.size <= window);
            if !room {
                break;
            }
            c.send(Pop3Command::Retr(l.msg))?;
            in_flight.push_back(l);
            in_flight_bytes += l.size;
            next += 1;
        }
        let Some(l) = in_flight.pop_front() else { break };
        in_flight_bytes = in_flight_bytes.saturating_sub(l.size);
        let r = c.next_reply("to RETR").await?;
        if !r.ok {
            return Err(EngineError::Protocol {
                protocol: "POP3",
                addr: cfg.endpoint.addr(),
                detail: format!("RETR {} failed: -ERR {}", l.msg, r.text),
            });
        }
        let body = r.body.unwrap_or_default();
        let raw = same_bytes_as_stored(store, l, body).await?;
        let uidl = match &l.uidl {
            Some(u) => u.clone(),
            None => {
                let Some(u) = content_uidl(&raw) else { continue };
                synthesized.insert(l.msg, u.clone());
                if known.contains_key(&u) {
                    continue; // fetched before: a server without UIDL offers no other way to tell
                }
                u
            }
        };
        let len = raw.len();
        report.bytes += u64::try_from(len).unwrap_or(u64::MAX);
        obs.message_fetched(u64::try_from(len).unwrap_or(u64::MAX));
        // Hash and index here, on the network side, while the writer thread does SQLite work.
        let raw = raw.to_vec();
        let prepared = Some(Prepared::new(&raw));
        batch.new.push(NewPop3Message { uidl, raw, prepared });
        batch_bytes += len;
        if batch.new.len() >= cfg.batch_messages || batch_bytes >= cfg.batch_bytes {
            let full = std::mem::take(&mut batch);
            store.submit(move |s| s.apply_pop3_batch(account, full)).await?;
            batch_bytes = 0;
        }
    }
    if !batch.new.is_empty() {
        store.submit(move |s| s.apply_pop3_batch(account, batch)).await?;
    }
    let outcome = store.drain().await?;
    report.new = outcome.new;
    report.already_stored = outcome.deduplicated;
    Ok(())
}

/// RFC 1939 makes a server end every multi-line answer with CRLF, so a message stored without a final line
/// break comes back over POP3 with one added, while LIST (Dovecot) still counts the original size. When the
/// answer is exactly LIST's size plus that CRLF and the store already holds the bytes without it (from IMAP),
/// those are the message's bytes: one message, two locations, not two copies.
async fn same_bytes_as_stored(
    store: &mut StoreHandle,
    l: &Listed,
    body: Bytes,
) -> Result<Bytes, EngineError> {
    let len = u64::try_from(body.len()).unwrap_or(u64::MAX);
    if len != l.size + 2 || !body.ends_with(b"\r\n") {
        return Ok(body);
    }
    let trimmed = body.slice(..body.len() - 2);
    let hash = content_hash(&trimmed);
    let found = store.call(move |s| s.find_by_hash(&hash)).await?;
    Ok(if found.is_some() { trimmed } else { body })
}
