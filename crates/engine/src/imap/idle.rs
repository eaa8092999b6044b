//! Waiting for a folder to change: IDLE (RFC 2177) on a connection of its own, kept up for as long as the
//! watch runs.
//!
//! Owns: one IDLE exchange ([`ImapClient::idle`]: IDLE, wait for a change, the deadline or an interruption,
//! DONE, the completion), and the idler ([`idle_folder`]): connect (with fresh credentials each time),
//! EXAMINE, IDLE again and again (re-issued every `reissue`, well inside the 29 minutes RFC 2177 allows: Exchange
//! Online is reported to drop quiet sessions without a word, and a dead connection only shows when DONE gets
//! no answer), and reconnect after any loss, for as long as it takes. It tells its account what happened
//! through a channel; it never syncs and never writes the store.
//!
//! Must never: select a folder read-write (EXAMINE only), treat a refused IDLE as a change, or give up on a
//! transient failure (a laptop may be offline for hours).
//!
//! RFC 2177 (IDLE); RFC 3501 sections 6.3.2 (EXAMINE), 7.3.1 (EXISTS), 7.4.1 (EXPUNGE), 7.4.2 (FETCH);
//! RFC 7162 section 3.2.10 (VANISHED).

use std::future::Future;
use std::time::Duration;

use mailsync_proto::imap::command::{Command, MailboxName};
use mailsync_proto::imap::{Event, Status, Untagged};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::client::ImapClient;
use crate::auth::{Credentials, Renew};
use crate::endpoint::{Endpoint, Reconnect};
use crate::EngineError;

/// How one IDLE exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idled {
    /// The server reported a change (new mail, an expunge, a flag change).
    Changed,
    /// The deadline passed without a change.
    Quiet,
    /// The caller's interruption came.
    Interrupted,
}

/// Whether an untagged response during IDLE says the folder changed. (`* OK Still here` and the like do not.)
pub fn is_change(u: &Untagged) -> bool {
    matches!(u, Untagged::Exists(_) | Untagged::Expunge(_) | Untagged::Fetch(_) | Untagged::Vanished(_))
}

impl ImapClient {
    /// IDLE on the selected folder until the server reports a change, `limit` passes or `interrupt` completes;
    /// then DONE and its completion (which must come within the read timeout, or the connection is dead).
    pub async fn idle(
        &mut self,
        limit: Duration,
        interrupt: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<Idled, EngineError> {
        let id = self.send(Command::Idle)?;
        self.flush_now().await?;
        let mut deadline = Instant::now() + limit;
        let mut ending: Option<Idled> = None;
        loop {
            let ev = tokio::select! {
                ev = self.next_event_until(deadline, "IDLE") => ev?,
                () = &mut *interrupt, if ending.is_none() => {
                    ending = Some(Idled::Interrupted);
                    self.idle_done()?;
                    deadline = Instant::now() + self.endpoint().timeouts.read;
                    continue;
                }
            };
            match ev {
                None if ending.is_none() => {
                    ending = Some(Idled::Quiet);
                    self.idle_done()?;
                    deadline = Instant::now() + self.endpoint().timeouts.read;
                }
                None => {
                    return Err(EngineError::Timeout {
                        addr: self.endpoint().addr(),
                        during: "the end of IDLE",
                        secs: self.endpoint().timeouts.read.as_secs(),
                        hint: String::new(),
                    });
                }
                Some(Event::Untagged(u)) if is_change(&u) && ending.is_none() => {
                    ending = Some(Idled::Changed);
                    self.idle_done()?;
                    deadline = Instant::now() + self.endpoint().timeouts.read;
                }
                Some(Event::Done(done)) if done.id == id => {
                    if done.status != Status::Ok {
                        self.check(&done)?;
                    }
                    return Ok(ending.unwrap_or(Idled::Quiet));
                }
                Some(_) => {}
            }
        }
    }
}

/// What an idler tells its account.
#[derive(Debug)]
pub enum IdleNote {
    /// Connected and idling on the folder (first, or again after a loss): changes meanwhile may have been
    /// missed, so the folder should be synced.
    Ready(String),
    /// The folder changed.
    Changed(String),
    /// The connection was lost or could not be made; the idler tries again after `wait`.
    Lost {
        /// The folder.
        folder: String,
        /// What happened.
        error: EngineError,
        /// The wait before the next try.
        wait: Duration,
    },
    /// The folder cannot be watched with IDLE (no IDLE capability, the folder refused, the login refused):
    /// the idler stopped; the account's sweeps still cover the folder.
    Gave {
        /// The folder.
        folder: String,
        /// Why.
        error: EngineError,
    },
}

/// How an idler reaches its server.
#[derive(Debug, Clone)]
pub struct IdleTarget {
    /// The server.
    pub endpoint: Endpoint,
    /// The login.
    pub credentials: Credentials,
    /// Fresh credentials for each connection (OAuth2 tokens expire), if they change.
    pub renew: Option<Renew>,
    /// The largest response accepted.
    pub max_response: usize,
    /// How often IDLE is ended and issued again.
    pub reissue: Duration,
    /// The waits between tries after a loss (never given up).
    pub backoff: Reconnect,
}

/// How a session of an idler ended without an error.
enum Ended {
    /// `stop` turned true (or its sender went).
    Stopped,
    /// `kick` changed: a new connection replaces this one at once.
    Kicked,
}

/// Keeps IDLE up on `folder` until `stop` turns true (or its sender goes); a change of `kick` (e.g. after the
/// machine slept) drops the connection and makes a new one at once.
pub async fn idle_folder(
    target: IdleTarget,
    folder: String,
    notes: mpsc::Sender<IdleNote>,
    mut stop: watch::Receiver<bool>,
    mut kick: watch::Receiver<u64>,
) {
    let mut fruitless = 0u32;
    while !stopped(&stop) {
        let (error, idled) = match session(&target, &folder, &notes, &mut stop, &mut kick).await {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Kicked) => continue,
            Err(failure) => failure,
        };
        if idled {
            fruitless = 0;
        }
        if !error.is_transient() {
            let _ = notes.send(IdleNote::Gave { folder: folder.clone(), error }).await;
            return;
        }
        fruitless += 1;
        let wait = match &error {
            // Outlook's throttling says how long to keep away.
            EngineError::Throttled { millis, .. } => {
                target.backoff.wait(fruitless).max(Duration::from_millis(*millis))
            }
            _ => target.backoff.wait(fruitless),
        };
        let _ = notes.send(IdleNote::Lost { folder: folder.clone(), error, wait }).await;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
            Ok(()) = kick.changed() => {}
        }
    }
}

/// Whether the idler is to stop: told so, or nobody is left to tell it.
fn stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// One connection's worth of idling; on failure the error, and whether IDLE got going on it.
async fn session(
    target: &IdleTarget,
    folder: &str,
    notes: &mpsc::Sender<IdleNote>,
    stop: &mut watch::Receiver<bool>,
    kick: &mut watch::Receiver<u64>,
) -> Result<Ended, (EngineError, bool)> {
    let credentials = match &target.renew {
        Some(renew) => renew
            .get()
            .map_err(|why| (EngineError::Config(format!("renewing the credentials: {why}")), false))?,
        None => target.credentials.clone(),
    };
    let mut client = ImapClient::connect(&target.endpoint, &credentials, target.max_response)
        .await
        .map_err(|e| (e, false))?;
    let caps = client.capabilities().await.map_err(|e| (e, false))?;
    if !caps.has("IDLE") {
        let e = EngineError::Refused {
            protocol: "IMAP",
            addr: target.endpoint.addr(),
            command: "IDLE".into(),
            status: "NO",
            text: "the server does not offer IDLE (CAPABILITY)".into(),
        };
        return Err((e, false));
    }
    let examine =
        Command::Examine { mailbox: MailboxName::Utf8(folder.to_owned()), condstore: false, qresync: None };
    client.run_ok(examine).await.map_err(|e| (e, false))?;
    kick.borrow_and_update();
    if notes.send(IdleNote::Ready(folder.to_owned())).await.is_err() {
        return Ok(Ended::Stopped); // the account is gone
    }
    loop {
        let mut interrupt = Box::pin(async {
            tokio::select! {
                _ = stop.changed() => {}
                Ok(()) = kick.changed() => {}
            }
        });
        let idled = client.idle(target.reissue, &mut interrupt).await.map_err(|e| (e, true))?;
        drop(interrupt);
        match idled {
            Idled::Changed => {
                if notes.send(IdleNote::Changed(folder.to_owned())).await.is_err() {
                    return Ok(Ended::Stopped);
                }
            }
            Idled::Quiet => {}
            Idled::Interrupted => {
                client.logout().await;
                return Ok(if stopped(stop) { Ended::Stopped } else { Ended::Kicked });
            }
        }
    }
}
