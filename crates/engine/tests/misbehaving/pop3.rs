//! POP3 against a real Dovecot whose UIDL listings and RETR answers a proxy bends into those of buggy
//! servers. Each test checks what the store holds against what the server sent, and what the server still
//! holds after the client's DELEs.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mailsync_engine::pop3::Pop3Mode;
use mailsync_testkit::proxy::Proxy;
use mailsync_testkit::Profile;

use crate::support::*;

/// Rewrites the UIDL listing's line for message `msg` to `uidl`.
fn uidl_of(resp: &[u8], msg: u32, uidl: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(resp);
    let prefix = format!("{msg} ");
    text.split_inclusive("\r\n")
        .map(|l| if l.starts_with(&prefix) { format!("{msg} {uidl}\r\n") } else { l.to_owned() })
        .collect::<String>()
        .into_bytes()
}

/// The UIDL of message `msg` in a UIDL listing.
fn listed_uidl(resp: &[u8], msg: u32) -> String {
    let text = String::from_utf8_lossy(resp);
    let prefix = format!("{msg} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned)).unwrap_or_default()
}

/// The bodies of the store, as a set.
fn bodies(w: &World) -> BTreeSet<Vec<u8>> {
    w.stored_pop3().into_values().collect()
}

fn server_bodies(w: &World) -> BTreeSet<Vec<u8>> {
    w.server_pop3().into_iter().map(|(_, b)| b).collect()
}

/// Two different messages listed with the same UIDL, classic delete mode: both are stored (each by its own
/// bytes), and only then deleted; nothing is lost from server and store together.
#[test]
fn duplicate_uidls_in_delete_mode_store_both_before_deleting() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "dup", 3);
    let before = server_bodies(&w);
    let proxy = Proxy::pop3(&w.dovecot, |cmd, resp| {
        if cmd == "UIDL" && resp.starts_with(b"+OK") {
            let first = listed_uidl(&resp, 1);
            return uidl_of(&resp, 2, &first);
        }
        resp
    })
    .unwrap();
    let (r, result) = pop3_sync(&w.db(), &w.pop3_config(proxy.port(), Pop3Mode::Delete));
    result.unwrap();
    assert_eq!((r.new, r.deleted_on_server), (3, 3), "{r:?}");
    assert!(r.warnings >= 1, "the duplicate UIDL was not reported: {r:?}");
    assert_eq!(bodies(&w), before, "the store does not hold every message the server had");
    assert!(w.server_pop3().is_empty(), "the server still holds messages");
}

/// The same in keep mode, twice: both stored once, nothing deleted, nothing stored twice.
#[test]
fn duplicate_uidls_in_keep_mode_store_both_once() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "dupkeep", 3);
    let before = server_bodies(&w);
    let proxy = Proxy::pop3(&w.dovecot, |cmd, resp| {
        if cmd == "UIDL" && resp.starts_with(b"+OK") {
            let first = listed_uidl(&resp, 1);
            return uidl_of(&resp, 2, &first);
        }
        resp
    })
    .unwrap();
    let cfg = w.pop3_config(proxy.port(), Pop3Mode::Keep);
    let (r, result) = pop3_sync(&w.db(), &cfg);
    result.unwrap();
    assert_eq!((r.new, r.deleted_on_server), (3, 0), "{r:?}");
    let (again, result) = pop3_sync(&w.db(), &cfg);
    result.unwrap();
    assert_eq!(again.new, 0, "stored twice: {again:?}");
    assert_eq!(bodies(&w), before);
    assert_eq!(w.store().counts().unwrap().messages, 3);
    assert_eq!(server_bodies(&w), before, "keep mode deleted something");
}

/// UIDL lines a server should never send (a space, 1,000 characters, 8-bit, a control byte) cost only their
/// own UIDL: every message is stored, told apart by its content, and delete mode deletes exactly the stored
/// ones.
#[test]
fn odd_uidl_lines_block_nothing() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "odd", 5);
    let before = server_bodies(&w);
    let long = "x".repeat(1000);
    let proxy = Proxy::pop3(&w.dovecot, move |cmd, resp| {
        if cmd == "UIDL" && resp.starts_with(b"+OK") {
            let r = uidl_of(&resp, 2, "has space");
            let r = uidl_of(&r, 3, &long);
            let r = uidl_of(&r, 4, "caf\u{e9}");
            return uidl_of(&r, 5, "bell\u{7}");
        }
        resp
    })
    .unwrap();
    let (r, result) = pop3_sync(&w.db(), &w.pop3_config(proxy.port(), Pop3Mode::Delete));
    result.unwrap();
    assert_eq!((r.listed, r.new, r.deleted_on_server, r.warnings), (5, 5, 5, 4), "{r:?}");
    assert_eq!(bodies(&w), before);
    assert!(w.server_pop3().is_empty());
}

/// Exchange's stand-in instead of a message over POP3: not stored, not deleted, recorded; the next run,
/// with the real message, stores and deletes it.
#[test]
fn an_exchange_stand_in_is_neither_stored_nor_deleted() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "popreal", 3);
    let before = server_bodies(&w);
    let lie = Arc::new(AtomicBool::new(true));
    let on = lie.clone();
    let proxy = Proxy::pop3(&w.dovecot, move |cmd, resp| {
        if on.load(Ordering::SeqCst) && cmd == "RETR 2" && resp.starts_with(b"+OK") {
            let mut r = b"+OK message follows\r\n".to_vec();
            r.extend_from_slice(&exchange_stand_in(2, "POP3"));
            r.extend_from_slice(b".\r\n");
            return r;
        }
        resp
    })
    .unwrap();
    let cfg = w.pop3_config(proxy.port(), Pop3Mode::Delete);
    let (r, result) = pop3_sync(&w.db(), &cfg);
    result.unwrap();
    assert_eq!((r.new, r.gaps, r.deleted_on_server), (2, 1, 2), "{r:?}");
    assert_eq!(w.server_pop3().len(), 1, "the message behind the stand-in was deleted");
    let store = w.store();
    let account = store.find_account("t").unwrap().unwrap();
    let gaps = store.pop3_gaps(account).unwrap();
    assert!(gaps.len() == 1 && gaps[0].reason.contains("stand-in"), "{gaps:?}");
    drop(store);

    lie.store(false, Ordering::SeqCst);
    let (r, result) = pop3_sync(&w.db(), &cfg);
    result.unwrap();
    assert_eq!((r.new, r.gaps, r.deleted_on_server), (1, 0, 1), "{r:?}");
    assert_eq!(bodies(&w), before);
    assert!(w.server_pop3().is_empty());
    assert!(w.store().pop3_gaps(account).unwrap().is_empty());
}

/// "Deleted" is the number of DELEs the server accepted and applied, also for a message deleted before that
/// the server kept anyway (Outlook.com's "don't let apps delete"): no "deleted 3" after four DELEs.
#[test]
fn deletions_are_counted_as_the_server_applied_them() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "count", 4);
    let keep_first = Arc::new(AtomicBool::new(true));
    let on = keep_first.clone();
    // The server answers +OK to the first DELE but keeps the message (the proxy sends NOOP instead).
    let proxy = Proxy::pop3_both(
        &w.dovecot,
        |_, resp| resp,
        move |line| (on.load(Ordering::SeqCst) && line == "DELE 1").then(|| "NOOP".to_owned()),
    )
    .unwrap();
    let cfg = w.pop3_config(proxy.port(), Pop3Mode::Delete);
    let (r, result) = pop3_sync(&w.db(), &cfg);
    result.unwrap();
    assert_eq!((r.new, r.deleted_on_server), (4, 4), "{r:?}");
    assert_eq!(w.server_pop3().len(), 1, "the server kept one");
    keep_first.store(false, Ordering::SeqCst);
    let (r, result) = pop3_sync(&w.db(), &cfg);
    result.unwrap();
    assert_eq!((r.new, r.deleted_on_server), (0, 1), "{r:?}");
    assert!(w.server_pop3().is_empty());
}

/// A server that does not pipeline (Outlook's POP3 does not advertise PIPELINING): every command waits for
/// the answer before it, and the download, the no-op run and delete mode all end exact.
#[test]
fn a_server_without_pipelining_is_spoken_to_one_command_at_a_time() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "serial", 6);
    let before = server_bodies(&w);
    let proxy = Proxy::pop3(&w.dovecot, |cmd, resp| {
        if cmd == "CAPA" && resp.starts_with(b"+OK") {
            let text = String::from_utf8_lossy(&resp);
            assert!(text.contains("PIPELINING\r\n"), "Dovecot advertises PIPELINING: {text}");
            return text.replace("PIPELINING\r\n", "").into_bytes();
        }
        resp
    })
    .unwrap();
    let (r, result) = pop3_sync(&w.db(), &w.pop3_config(proxy.port(), Pop3Mode::Keep));
    result.unwrap();
    assert_eq!(r.new, 6, "{r:?}");
    let (r, result) = pop3_sync(&w.db(), &w.pop3_config(proxy.port(), Pop3Mode::Keep));
    result.unwrap();
    assert_eq!((r.new, r.deleted_on_server), (0, 0), "{r:?}");
    assert_eq!(server_bodies(&w), before, "keep mode changed the server");
    let (r, result) = pop3_sync(&w.db(), &w.pop3_config(proxy.port(), Pop3Mode::Delete));
    result.unwrap();
    assert_eq!(r.deleted_on_server, 6, "{r:?}");
    assert_eq!(bodies(&w), before);
    assert!(w.server_pop3().is_empty(), "the server still holds messages");
}
