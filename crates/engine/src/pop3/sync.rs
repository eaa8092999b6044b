//! The POP3 download run: the INBOX into the store, then (per the mode) deletions on the server, never
//! before the local copies are durably committed.
//!
//! Owns: the order of a run (the account's sync lock, the run record and the store's known UIDLs while the
//! connection is set up; UIDL behind the login, with LIST and CAPA on a first sync; LIST later only when
//! something is new, CAPA only when there is something to download; the download in pipelined RETRs
//! streamed to the store writer in batches, commit, vanished UIDLs, RSET, DELE, QUIT, then recording the
//! deletions), the cross-protocol content match (a message already stored over IMAP gains a POP3 location,
//! not a second copy), and messages without a usable UIDL (no UIDL at all, a bad UIDL line, a UIDL listed
//! twice): identified by their content. Must never: DELE a message whose own bytes are not committed
//! (`integrity` rule 6); record a deletion before the server's `+OK` to QUIT (RFC 1939 section 6: only then
//! are DELEs applied); store Exchange's stand-in as the message.
//!
//! RFC 1939 sections 5-7, RFC 2449 section 6.6 (PIPELINING).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use mailsync_proto::pop3::{
    parse_scan_listings_lenient, parse_uidl_listings_lenient, CommandId, Pop3Command,
};
use mailsync_proto::{SeqNum, Uidl};
use mailsync_store::{
    content_hash, AccountId, NewPop3Message, Pop3Batch, Prepared, Protocol, RunId, RunSummary, SyncLock,
};

use super::client::{PasswordMethod, Pop3Client};
use super::plan::{
    merge_listings, plan_deletions, plan_download, vanished, Known, KnownUidls, Listed, Listing, Pop3Mode,
    CONTENT_IDENTITY,
};
use crate::auth::{Credentials, Renew};
use crate::endpoint::{reconnects_after, Endpoint, Reconnect};
use crate::imap::Observer;
use crate::integrity::is_exchange_stand_in;
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
    /// Fresh credentials for a reconnect (OAuth2 tokens expire); `None`: the same ones again.
    pub renew: Option<Renew>,
    /// How a dropped link is got past (see [`Reconnect`]).
    pub reconnect: Reconnect,
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
    /// Try every recorded gap now, whatever its back-off.
    pub retry_gaps: bool,
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
    /// Messages deleted from the server this run: DELEs the server accepted and applied at QUIT (in a dry
    /// run: that would be).
    pub deleted_on_server: u64,
    /// Stored UIDLs no longer on the server although this client did not delete them.
    pub vanished: u64,
    /// Listed messages this run tried and could not store (each recorded as a gap, tried again later).
    pub gaps: u64,
    /// Recorded gaps left alone this run because their back-off has not run out.
    pub gaps_waiting: u64,
    /// Listing lines that broke the protocol, and UIDLs listed twice (each logged).
    pub warnings: u64,
    /// How many times the run reconnected after a dropped link and carried on.
    pub reconnects: u64,
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
    // The run is recorded, and what the store holds read, while the server is reached.
    let open = Pop3Client::open(&cfg.endpoint, cfg.max_message);
    let (begun, client) = tokio::join!(begin(store, cfg), open);
    let (account, run, state) = match begun {
        Ok(b) => b,
        Err(e) => return (report, Err(e)),
    };
    let result = resume((client, state), store, cfg, obs, account, &mut report).await;
    report.seconds = start.elapsed().as_secs_f64();
    if let Some((run, lock)) = run {
        let e = finish(store, run, &report, &result).await;
        drop(lock);
        return (report, result.and(e));
    }
    (report, result)
}

/// The account, the run record and its sync lock (none in a dry run, which writes nothing), and what the
/// store holds of the account.
async fn begin(
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
) -> Result<(Option<AccountId>, Option<(RunId, SyncLock)>, Stored), EngineError> {
    let (account, run) = if cfg.dry_run {
        let name = cfg.account.clone();
        (store.call(move |s| s.find_account(&name)).await?, None)
    } else {
        let (account, run, lock) = store.begin_run(&cfg.account, Protocol::Pop3).await?;
        (Some(account), Some((run, lock)))
    };
    let state = known_state(store, account, cfg.now, cfg.retry_gaps).await?;
    Ok((account, run, state))
}

/// Runs [`run_once`] until it succeeds, reconnecting after a dropped or slow link as `cfg.reconnect` allows:
/// each try carries on from what is committed (stored UIDLs are not downloaded again; deletions are only
/// ever of committed copies), and the run gives up after so many tries in a row that committed nothing.
async fn resume(
    first: (Result<Pop3Client, EngineError>, Stored),
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
    obs: &mut dyn Observer,
    account: Option<AccountId>,
    report: &mut Pop3Report,
) -> Result<(), EngineError> {
    let mut credentials = cfg.credentials.clone();
    let mut next = Some(first);
    let mut fruitless = 0u32;
    let mut logged_in = false;
    loop {
        let before = store.committed();
        let (attempt, stored) = match next.take() {
            Some(first) => first,
            None => {
                let open = Pop3Client::open(&cfg.endpoint, cfg.max_message);
                let (client, stored) =
                    tokio::join!(open, known_state(store, account, cfg.now, cfg.retry_gaps));
                (client, stored?)
            }
        };
        let e = match attempt {
            Ok(c) => {
                let session = Session { credentials: &credentials, stored, logged_in: &mut logged_in };
                match run_once(c, session, store, cfg, obs, account, report).await {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        // What this try committed before it failed still counts.
        let done = store.drain().await?;
        report.new += done.new;
        report.already_stored += done.deduplicated;
        report.gaps += done.unfetchable;
        if !reconnects_after(&e, logged_in) {
            return Err(e);
        }
        fruitless = if store.committed() > before { 1 } else { fruitless + 1 };
        if fruitless > cfg.reconnect.attempts {
            return Err(e);
        }
        let wait = match &e {
            EngineError::Throttled { millis, .. } => std::time::Duration::from_millis(*millis),
            _ => cfg.reconnect.wait(fruitless),
        };
        report.reconnects += 1;
        tracing::warn!("{e}; reconnecting in {:.1} s (carrying on from what is stored)", wait.as_secs_f64());
        obs.reconnecting(wait, &e);
        tokio::time::sleep(wait).await;
        if let Some(renew) = &cfg.renew {
            credentials =
                renew.get().map_err(|why| EngineError::Config(format!("renewing the credentials: {why}")))?;
        }
    }
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
        gaps: report.gaps + report.gaps_waiting,
        warnings: report.warnings,
        error: result.as_ref().err().map(|e| e.to_string()),
    };
    store.call(move |s| s.finish_run(run, &summary)).await
}

/// What the store knows of the account: its stored identities, and its gaps still waiting for their back-off.
type Stored = (KnownUidls, HashSet<Uidl>);

/// One connection's try: the credentials to log in with, what the store held when it began, and where to say
/// that the login was accepted (no reconnect is tried before a run's first login).
struct Session<'a> {
    credentials: &'a Credentials,
    stored: Stored,
    logged_in: &'a mut bool,
}

/// Reads [`Stored`] for `account` (nothing, when the account is not in the store yet).
async fn known_state(
    store: &mut StoreHandle,
    account: Option<AccountId>,
    now: i64,
    retry_all: bool,
) -> Result<Stored, EngineError> {
    let Some(a) = account else { return Ok((KnownUidls::default(), HashSet::new())) };
    store
        .call(move |s| {
            let mut known = KnownUidls::default();
            s.for_each_pop3_location(a, |uidl, r| {
                known.insert(
                    uidl,
                    Known { downloaded_at: r.downloaded_at, deleted_on_server_at: r.deleted_on_server_at },
                );
            })?;
            let waiting = s
                .pop3_gaps(a)?
                .into_iter()
                .filter(|g| !retry_all && g.retry_after > now)
                .map(|g| g.uidl)
                .collect();
            Ok((known, waiting))
        })
        .await
}

async fn run_once(
    mut c: Pop3Client,
    session: Session<'_>,
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
    obs: &mut dyn Observer,
    account: Option<AccountId>,
    report: &mut Pop3Report,
) -> Result<(), EngineError> {
    let (known, waiting) = session.stored;
    let first = known.is_empty();
    let ahead = c.login(session.credentials, cfg.password_method, listing_commands(first)).await?;
    *session.logged_in = true;
    let listing = listings(&mut c, &known, &ahead).await?;
    for p in &listing.problems {
        tracing::warn!(server = %cfg.endpoint.addr(), "{p}");
    }
    report.warnings = report.warnings.max(u64::try_from(listing.problems.len()).unwrap_or(u64::MAX));
    report.listed = u64::try_from(listing.messages.len()).unwrap_or(u64::MAX);
    if !listing.has_uidl {
        report.note = Some("server has no UIDL: every message is fetched and matched by content; nothing is deleted unless forced".into());
    }
    let todo = plan_download(&listing, &known, &waiting);
    report.gaps_waiting = u64::try_from(
        listing.messages.iter().filter(|l| l.uidl.as_ref().is_some_and(|u| waiting.contains(u))).count(),
    )
    .unwrap_or(u64::MAX);

    let mut got = Got::default();
    if cfg.dry_run {
        report.new = u64::try_from(todo.len()).unwrap_or(u64::MAX);
        report.bytes = todo.iter().map(|l| l.size).sum();
    } else if let Some(a) = account {
        let total: u64 = todo.iter().map(|l| l.size).sum();
        obs.folder_started("INBOX", u64::try_from(todo.len()).unwrap_or(u64::MAX), total);
        got = download(&mut c, store, cfg, a, &todo, obs, &known).await?;
        report.new += got.new;
        report.already_stored += got.already_stored;
        report.bytes += got.bytes;
        report.gaps += got.gaps;
    }

    // What the store holds now: committed, and durable (synchronous = FULL). (When nothing was downloaded,
    // what the store holds is what it held before.)
    let refreshed;
    let known_after = if cfg.dry_run || todo.is_empty() {
        &known
    } else {
        refreshed = known_state(store, account, cfg.now, cfg.retry_gaps).await?.0;
        &refreshed
    };
    let seen: HashSet<Uidl> = got.identities.values().cloned().collect();
    let gone = vanished(&listing, known_after, &seen);
    report.vanished += u64::try_from(gone.len()).unwrap_or(u64::MAX);
    if let (Some(a), false) = (account, cfg.dry_run || gone.is_empty()) {
        let now = cfg.now;
        store.call(move |s| s.mark_pop3_deleted(a, &gone, now)).await?;
    }

    let mut to_delete = plan_deletions(
        &listing,
        &got.identities,
        known_after,
        cfg.mode,
        cfg.now,
        cfg.force_delete_without_uidl,
    );
    if cfg.dry_run {
        // A dry run deletes nothing; it reports what the mode would delete, counting messages it would download.
        if cfg.mode == Pop3Mode::Delete {
            to_delete = listing.messages.iter().filter_map(|l| Some((l.msg, l.uidl.clone()?))).collect();
        }
        report.deleted_on_server = u64::try_from(to_delete.len()).unwrap_or(u64::MAX);
        c.quit_unanswered().await;
        return Ok(());
    }

    // RSET first (Dovecot would otherwise mark every RETR'd message \Seen at QUIT), then the DELEs and QUIT,
    // all in one round trip where the server pipelines. Only QUIT's +OK proves deletions.
    if !todo.is_empty() {
        c.send(Pop3Command::Rset)?;
    }
    if to_delete.is_empty() {
        c.quit_unanswered().await;
        return Ok(());
    }
    let mut sent = Vec::new();
    for (msg, uidl) in &to_delete {
        sent.push((c.send(Pop3Command::Dele(*msg))?, *msg, uidl.clone()));
    }
    if !todo.is_empty() {
        let r = c.next_reply("to RSET").await?;
        if !r.ok {
            tracing::warn!("RSET refused: -ERR {} (the server may mark downloaded messages as read)", r.text);
        }
    }
    let mut deleted = Vec::new();
    for (id, msg, uidl) in sent {
        let r = c.next_reply("to DELE").await?;
        if r.id != id {
            return Err(c.protocol("answers out of order"));
        }
        if r.ok {
            deleted.push(uidl);
        } else {
            tracing::warn!("DELE {msg} ({uidl}) refused: {}", r.text);
        }
    }
    let applied = c.quit().await?;
    if applied && !deleted.is_empty() {
        report.deleted_on_server += u64::try_from(deleted.len()).unwrap_or(u64::MAX);
        if let Some(a) = account {
            let now = cfg.now;
            store.call(move |s| s.mark_pop3_deleted(a, &deleted, now)).await?;
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

/// The commands that go out behind the login: UIDL, and on a first sync (nothing stored: everything is new)
/// LIST and the CAPA a download needs, all in the login's round trip where the server pipelines.
fn listing_commands(first: bool) -> Vec<Pop3Command> {
    if first {
        vec![Pop3Command::Uidl(None), Pop3Command::List(None), Pop3Command::Capa]
    } else {
        vec![Pop3Command::Uidl(None)]
    }
}

/// The UIDL listing and LIST, merged by message number, from the answers to [`listing_commands`] (`sent`:
/// their ids). On a first sync LIST's answer is already on its way. Otherwise LIST follows only when something
/// is new or unidentifiable: when every UIDL is valid, listed once and already known, nothing will be
/// downloaded and LIST (which makes the server compute every size) is skipped.
async fn listings(
    c: &mut Pop3Client,
    known: &KnownUidls,
    sent: &[CommandId],
) -> Result<Listing, EngineError> {
    let mut answers = Vec::with_capacity(sent.len());
    for id in sent {
        let r = c.next_reply("to the listings").await?;
        if r.id != *id {
            return Err(c.protocol("answers out of order"));
        }
        answers.push(r);
    }
    let mut answers = answers.into_iter();
    let uidl = answers.next().ok_or_else(|| c.protocol("no answer to UIDL"))?;
    let uidls = match (uidl.ok, uidl.body) {
        (true, Some(body)) => Some(parse_uidl_listings_lenient(&body)),
        _ => None,
    };
    // The CAPA behind LIST (a first sync) was read by the session: the capabilities after login.
    let list = if let Some(list) = answers.next() {
        list
    } else {
        if let Some(u) = &uidls {
            let quick = merge_listings(Some(u), None);
            let all_known = !u.listings.is_empty()
                && u.bad.is_empty()
                && !quick.has_unidentified()
                && u.listings.iter().all(|l| known.contains_key(&l.uidl));
            if all_known {
                return Ok(quick);
            }
        }
        c.run(Pop3Command::List(None)).await?
    };
    if !list.ok {
        return Err(c.protocol(&format!("LIST failed: -ERR {}", list.text)));
    }
    let scans = parse_scan_listings_lenient(&list.body.unwrap_or_default());
    Ok(merge_listings(uidls.as_ref(), Some(&scans)))
}

/// The identity of a message without a usable UIDL: `sha256:` and 60 hex digits of its content hash (within
/// RFC 1939's 70 characters).
fn content_identity(raw: &[u8]) -> Option<Uidl> {
    let hex: String = content_hash(raw).iter().map(|b| format!("{b:02x}")).collect();
    Uidl::new(format!("{CONTENT_IDENTITY}{}", hex.get(..60)?)).ok()
}

/// What a download did.
#[derive(Debug, Default)]
struct Got {
    new: u64,
    already_stored: u64,
    bytes: u64,
    gaps: u64,
    /// Messages without a usable UIDL whose bytes RETR gave in this session: number -> content identity.
    identities: HashMap<SeqNum, Uidl>,
}

/// How far RETRs run ahead of their answers (announced bytes, and commands). Answers wait in the server's
/// and the network's buffers, not in ours (one is read at a time), so this costs no memory; it keeps the link
/// busy across the round trip (a window smaller than a round trip's worth of bytes would stall each time).
const RETR_AHEAD_BYTES: u64 = 64 << 20;
const RETR_AHEAD_COMMANDS: usize = 1000;

async fn download(
    c: &mut Pop3Client,
    store: &mut StoreHandle,
    cfg: &Pop3SyncConfig,
    account: AccountId,
    todo: &[Listed],
    obs: &mut dyn Observer,
    known: &KnownUidls,
) -> Result<Got, EngineError> {
    let mut got = Got::default();
    if todo.is_empty() {
        return Ok(got);
    }
    let pipelined = c.pipelining().await?;
    let mut next = 0usize;
    // RETRs in flight, in order: (message, bytes announced by LIST).
    let mut in_flight: VecDeque<&Listed> = VecDeque::new();
    let mut in_flight_bytes = 0u64;
    let mut batch = Pop3Batch::default();
    let mut batch_bytes = 0usize;
    let window = RETR_AHEAD_BYTES.max(u64::try_from(cfg.batch_bytes).unwrap_or(u64::MAX));
    // A link error ends the loop with the error, after which every message received whole is still committed:
    // the next try goes on from there.
    let failed = 'download: loop {
        // Keep RETRs flowing while the answers in flight stay under the window (always at least one).
        while let Some(l) = todo.get(next) {
            let room = in_flight.is_empty()
                || (pipelined && in_flight_bytes + l.size <= window && in_flight.len() < RETR_AHEAD_COMMANDS);
            if !room {
                break;
            }
            if let Err(e) = c.send(Pop3Command::Retr(l.msg)) {
                break 'download Some(e);
            }
            in_flight.push_back(l);
            in_flight_bytes += l.size;
            next += 1;
        }
        let Some(l) = in_flight.pop_front() else { break None };
        in_flight_bytes = in_flight_bytes.saturating_sub(l.size);
        let r = match c.next_reply("to RETR").await {
            Ok(r) => r,
            Err(e) => break Some(e),
        };
        let raw =
            if r.ok { Some(same_bytes_as_stored(store, l, r.body.unwrap_or_default()).await?) } else { None };
        // The identity the message is stored (or recorded as a gap) under.
        let identity = match (&l.uidl, &raw) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(raw)) => content_identity(raw),
            (None, None) => None,
        };
        let Some(raw) = raw else {
            tracing::warn!("RETR {} refused: -ERR {}", l.msg, r.text);
            got.gaps += 1;
            if let Some(id) = identity {
                batch.gaps.push((id, format!("the server refused RETR: -ERR {}", r.text)));
            }
            continue;
        };
        let Some(identity) = identity else { continue };
        let prepared = Prepared::new(&raw);
        if is_exchange_stand_in(raw.len(), prepared.headers()) {
            tracing::warn!(
                "message {}: Exchange sent its stand-in instead of the message; not stored",
                l.msg
            );
            got.gaps += 1;
            let why = "Exchange sent its \"Retrieval using the POP3 protocol failed\" stand-in instead of the message";
            batch.gaps.push((identity, why.into()));
            continue;
        }
        if l.uidl.is_none() {
            got.identities.insert(l.msg, identity.clone());
            if known.contains_key(&identity) {
                continue; // these very bytes are stored under this identity already
            }
        }
        let len = raw.len();
        got.bytes += u64::try_from(len).unwrap_or(u64::MAX);
        obs.message_fetched(u64::try_from(len).unwrap_or(u64::MAX));
        batch.new.push(NewPop3Message { uidl: identity, raw: raw.to_vec(), prepared: Some(prepared) });
        batch_bytes += len;
        if batch.new.len() >= cfg.batch_messages || batch_bytes >= cfg.batch_bytes {
            let full = std::mem::take(&mut batch);
            store.submit(move |s| s.apply_pop3_batch(account, full)).await?;
            batch_bytes = 0;
        }
    };
    if !batch.new.is_empty() || !batch.gaps.is_empty() {
        store.submit(move |s| s.apply_pop3_batch(account, batch)).await?;
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let outcome = store.drain().await?;
    got.new = outcome.new;
    got.already_stored = outcome.deduplicated;
    Ok(got)
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
    if l.size == 0 || len != l.size + 2 || !body.ends_with(b"\r\n") {
        return Ok(body);
    }
    let trimmed = body.slice(..body.len() - 2);
    let hash = content_hash(&trimmed);
    let found = store.call(move |s| s.find_by_hash(&hash)).await?;
    Ok(if found.is_some() { trimmed } else { body })
}
