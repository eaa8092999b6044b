//! IMAP against a real Dovecot whose answers a proxy bends into those of buggy servers. Each test checks
//! the store against what the server really holds, that the server was left unchanged, and what the run
//! reported.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mailsync_engine::EngineError;
use mailsync_store::StoreError;
use mailsync_testkit::proxy::Proxy;
use mailsync_testkit::Profile;

use crate::support::*;

/// A QRESYNC server whose answer for one new message cannot be parsed: the message becomes a gap (not a
/// silent skip), the folder's cursor does not move past it, and the next run stores it.
#[test]
fn an_unreadable_fetch_answer_never_moves_the_cursor_past_its_message() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "first", 3);
    let plain = w.imap_config(w.dovecot.ports().imaps);
    imap_ok(&w.db(), &plain);
    w.seed("INBOX", "later", 2);
    let uidnext_before = w.dovecot.status("alice", "INBOX").unwrap().uidnext;
    let broken_uid = uidnext_before - 2; // the first of the two new messages
    let break_it = Arc::new(AtomicBool::new(true));
    let on = break_it.clone();
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        if on.load(Ordering::SeqCst) && cmd.contains("BODY.PEEK[]") && fetch_uid(&resp) == Some(broken_uid) {
            // Unbalanced: the whole response is unreadable.
            let mut r = resp;
            r.truncate(r.len() - 2);
            r.extend_from_slice(b" ((\r\n");
            return r;
        }
        resp
    })
    .unwrap();
    let via_proxy = w.imap_config(proxy.port());
    let r = imap_ok(&w.db(), &via_proxy);
    let inbox = folder(&r, "INBOX");
    assert_eq!((inbox.new, inbox.gaps), (1, 1), "{inbox:?}");
    assert!(inbox.warnings >= 1, "the unreadable answer was not counted: {inbox:?}");
    assert_eq!(w.stored("INBOX").len(), 4);
    let gaps = w.gaps("INBOX");
    assert_eq!(
        gaps.get(&broken_uid).map(|(r, _)| r.as_str()),
        Some("the server's answer for this UID could not be read")
    );
    let store = w.store();
    let account = store.find_account("t").unwrap().unwrap();
    let cursor = store.mailboxes(account).unwrap().into_iter().find(|m| m.name == "INBOX").unwrap();
    assert!(
        cursor.uidnext.map(|u| u.get()) < Some(uidnext_before),
        "the cursor moved past the unread message: {cursor:?}"
    );
    drop(store);

    break_it.store(false, Ordering::SeqCst);
    let r = imap_ok(&w.db(), &via_proxy);
    assert_eq!(folder(&r, "INBOX").new, 1);
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"), "the store is not the server's INBOX");
    assert!(w.gaps("INBOX").is_empty());
    assert!(w.server_flags("INBOX").values().all(|f| f.is_empty()), "the server was changed");
}

/// One session with Zoho's `MODSEQ (0)` and `(-1)`, Domino's item groups, Yandex's `BODY[2]` without a value
/// and Exchange's bare `[COPYUID ...]` line: every message is stored, byte for byte, and the oddities are
/// counted.
#[test]
fn real_server_quirks_in_one_session_cost_no_message() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "quirk", 5);
    let proxy = Proxy::imap(&w.dovecot, |cmd, resp| {
        if !cmd.contains("BODY.PEEK[]") {
            return resp;
        }
        match fetch_uid(&resp) {
            Some(1) => insert_item(&resp, "MODSEQ (0) "),
            Some(2) => insert_item(&resp, "(ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) "),
            Some(3) => {
                let at = find(&resp, b"BODY[] {").unwrap();
                let mut r = resp[..at].to_vec();
                r.extend_from_slice(b"BODY[2] ");
                r.extend_from_slice(&resp[at..]);
                r
            }
            Some(4) => {
                let mut r = b"[COPYUID 1 1:2 3:4] copied\r\n".to_vec();
                r.extend_from_slice(&resp);
                r
            }
            Some(5) => insert_item(&resp, "MODSEQ (-1) "),
            _ => resp,
        }
    })
    .unwrap();
    let r = imap_ok(&w.db(), &w.imap_config(proxy.port()));
    let inbox = folder(&r, "INBOX");
    assert_eq!((inbox.new, inbox.gaps), (5, 0), "{inbox:?}");
    assert!(inbox.warnings >= 5, "quirks were passed over without a count: {inbox:?}");
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"));
}

/// LIST with an empty delimiter and a folder name with a TAB: no folder is silently missing. The odd name
/// is listed, tried, and reported; the other folder is mirrored.
#[test]
fn odd_list_lines_leave_no_folder_silently_missing() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "in", 1);
    w.seed("Archive", "arch", 2);
    w.seed("Sent", "sent", 1);
    let proxy = Proxy::imap(&w.dovecot, |cmd, resp| {
        if !cmd.starts_with("LIST") {
            return resp;
        }
        let text = String::from_utf8_lossy(&resp).into_owned();
        let Some((head, name)) = text.trim_end().rsplit_once(' ') else { return resp };
        match name.trim_matches('"') {
            "Archive" => format!("{} {name}\r\n", head.replace("\"/\"", "\"\"")).into_bytes(),
            "Sent" => format!("{head} \"Se\tnt\"\r\n").into_bytes(),
            _ => resp,
        }
    })
    .unwrap();
    let (r, result) = imap_sync(&w.db(), &w.imap_config(proxy.port()));
    result.unwrap();
    assert_eq!(w.stored("Archive"), w.server_imap("Archive"), "the folder with an empty delimiter");
    let odd = folder(&r, "Se\tnt");
    assert!(odd.error.is_some(), "the folder with the TAB was not reported: {r:#?}");
}

/// Wrong answers are never stored as the message: a partial `BODY[]<0>`, `BODY[HEADER]`, `BODY[] NIL`, an
/// answer without UID and two different bodies for one UID each leave a gap, retried; when the server answers
/// correctly the next time, every message is stored.
#[test]
fn wrong_answers_are_gaps_and_the_right_answer_later_is_stored() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "wrong", 6);
    let lie = Arc::new(AtomicBool::new(true));
    let on = lie.clone();
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        if !on.load(Ordering::SeqCst) || !cmd.contains("BODY.PEEK[]") {
            return resp;
        }
        let text = |s: &str| s.as_bytes().to_vec();
        match fetch_uid(&resp) {
            Some(1) => {
                replace_body(&resp, &[text("BODY[]<0> "), body_item(b"partial")[7..].to_vec()].concat())
            }
            Some(2) => replace_body(
                &resp,
                &[text("BODY[HEADER] "), body_item(b"Subject: x\r\n\r\n")[7..].to_vec()].concat(),
            ),
            Some(3) => replace_body(&resp, b"BODY[] NIL"),
            Some(4) => String::from_utf8_lossy(&resp).replacen("UID 4 ", "", 1).into_bytes(),
            Some(5) => {
                let fake = b"* 5 FETCH (UID 5 BODY[] {4}\r\nfake)\r\n".to_vec();
                [fake, resp].concat()
            }
            _ => resp,
        }
    })
    .unwrap();
    let cfg = w.imap_config(proxy.port());
    let r = imap_ok(&w.db(), &cfg);
    let inbox = folder(&r, "INBOX");
    assert_eq!((inbox.new, inbox.gaps), (1, 5), "{inbox:?}");
    let gaps = w.gaps("INBOX");
    let reasons: Vec<&str> = gaps.values().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "the server sent a partial BODY[]<0>",
            "the server sent BODY[HEADER] instead of BODY[]",
            "the server sent BODY[] NIL",
            "the server returned no data for this UID",
            "the server sent two different bodies for this UID",
        ]
    );
    assert_eq!(w.stored("INBOX").keys().copied().collect::<Vec<_>>(), [6], "only the right answer is stored");

    lie.store(false, Ordering::SeqCst);
    let r = imap_ok(&w.db(), &cfg);
    assert_eq!(folder(&r, "INBOX").new, 5);
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"));
    assert!(w.gaps("INBOX").is_empty());
}

/// A folder that vanished and a different folder that appeared with the same UIDVALIDITY (RFC 3501 allows it
/// across names) are not a rename: the old mirror goes, the new folder is downloaded with its own messages.
/// A real rename is still recognised, without downloading anything again.
#[test]
fn a_replaced_folder_with_the_same_uidvalidity_is_not_a_rename() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "in", 1);
    w.seed("Old", "old", 2);
    let old_validity = w.dovecot.status("alice", "Old").unwrap().uidvalidity;
    imap_ok(&w.db(), &w.imap_config(w.dovecot.ports().imaps));
    w.dovecot.delete_folder("alice", "Old").unwrap();
    w.seed("New", "new", 2);
    // Every folder but INBOX answers EXAMINE with the vanished folder's UIDVALIDITY.
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        if cmd.starts_with("EXAMINE") && !cmd.starts_with("EXAMINE INBOX") {
            let text = String::from_utf8_lossy(&resp).into_owned();
            if let Some(at) = text.find("[UIDVALIDITY ") {
                let end = text[at..].find(']').unwrap() + at;
                return format!("{}[UIDVALIDITY {old_validity}{}", &text[..at], &text[end..]).into_bytes();
            }
        }
        resp
    })
    .unwrap();
    let r = imap_ok(&w.db(), &w.imap_config(proxy.port()));
    let new = folder(&r, "New");
    assert_eq!((new.new, new.note.as_deref()), (2, None), "{new:?}");
    assert_eq!(r.deleted_folders, ["Old"]);
    assert_eq!(w.stored("New"), w.server_imap("New"));
    assert_eq!(w.folders(), ["INBOX", "New"]);

    // A real rename keeps UIDs and bytes: recognised, nothing downloaded again.
    w.dovecot.rename_folder("alice", "New", "Renamed").unwrap();
    let r = imap_ok(&w.db(), &w.imap_config(proxy.port()));
    let renamed = folder(&r, "Renamed");
    assert_eq!((renamed.new, renamed.bytes, renamed.note.as_deref()), (0, 0, Some("renamed from New")));
    assert_eq!(w.stored("Renamed"), w.server_imap("Renamed"));
}

/// An EXAMINE without `* n EXISTS`: the folder fails and keeps its local mirror.
#[test]
fn an_examine_without_exists_removes_nothing() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "keep", 3);
    imap_ok(&w.db(), &w.imap_config(w.dovecot.ports().imaps));
    let proxy = Proxy::imap(&w.dovecot, |cmd, resp| {
        if cmd.starts_with("EXAMINE") && resp.ends_with(b" EXISTS\r\n") && resp.starts_with(b"* ") {
            return Vec::new();
        }
        resp
    })
    .unwrap();
    let (r, result) = imap_sync(&w.db(), &w.imap_config(proxy.port()));
    result.unwrap();
    let inbox = folder(&r, "INBOX");
    assert!(inbox.error.as_deref().unwrap_or_default().contains("no EXISTS"), "{inbox:?}");
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"), "local mail was removed");
}

/// Outlook's profile (no CONDSTORE: a full UID listing every time). A listing with fewer UIDs than EXISTS is
/// not evidence of expunges: with SEARCH answering too little as well, the folder fails and keeps its mirror;
/// with SEARCH right, it is the source of the UIDs and nothing is lost.
#[test]
fn a_listing_that_does_not_add_up_removes_nothing() {
    let w = World::new(Profile::Outlook);
    w.seed("INBOX", "listing", 5);
    imap_ok(&w.db(), &w.imap_config(w.dovecot.ports().imaps));
    let hide_search = Arc::new(AtomicBool::new(true));
    let hide = hide_search.clone();
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        let listing = cmd.starts_with("UID FETCH 1:* (UID FLAGS)") && resp.starts_with(b"* ");
        let search = cmd.starts_with("UID SEARCH") && resp.starts_with(b"* SEARCH");
        if listing || (search && hide.load(Ordering::SeqCst)) {
            return Vec::new();
        }
        resp
    })
    .unwrap();
    let (r, result) = imap_sync(&w.db(), &w.imap_config(proxy.port()));
    result.unwrap();
    let inbox = folder(&r, "INBOX");
    assert!(inbox.error.as_deref().unwrap_or_default().contains("listed 0 UIDs"), "{inbox:?}");
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"), "local mail was removed");

    hide_search.store(false, Ordering::SeqCst);
    let r = imap_ok(&w.db(), &w.imap_config(proxy.port()));
    assert_eq!((folder(&r, "INBOX").removed, folder(&r, "INBOX").new), (0, 0));
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"));
}

/// Exchange's stand-in for a message it cannot convert is never stored as the message: a gap with the reason;
/// when the real message comes later, it is stored.
#[test]
fn an_exchange_stand_in_is_a_gap_not_the_message() {
    let w = World::new(Profile::Outlook);
    w.seed("INBOX", "real", 3);
    let lie = Arc::new(AtomicBool::new(true));
    let on = lie.clone();
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        if on.load(Ordering::SeqCst) && cmd.contains("BODY.PEEK[]") && fetch_uid(&resp) == Some(2) {
            return replace_body(&resp, &body_item(&exchange_stand_in(2, "IMAP4")));
        }
        resp
    })
    .unwrap();
    let cfg = w.imap_config(proxy.port());
    let r = imap_ok(&w.db(), &cfg);
    assert_eq!((folder(&r, "INBOX").new, folder(&r, "INBOX").gaps), (2, 1));
    assert!(w.gaps("INBOX")[&2].0.contains("stand-in"), "{:?}", w.gaps("INBOX"));
    assert!(!w.stored("INBOX").contains_key(&2));
    lie.store(false, Ordering::SeqCst);
    imap_ok(&w.db(), &cfg);
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"));
}

/// Two syncs of one account on one store at the same time: the second is refused with a clear error, the
/// first stores every message once and says so.
#[test]
fn a_second_sync_of_the_same_account_is_refused_while_one_runs() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "busy", 4);
    let examines = Arc::new(AtomicUsize::new(0));
    let seen = examines.clone();
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        if cmd.starts_with("EXAMINE") && resp.starts_with(b"* ") && seen.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1500));
        }
        resp
    })
    .unwrap();
    let cfg = w.imap_config(proxy.port());
    let db = w.db();
    let first = std::thread::spawn({
        let (db, cfg) = (db.clone(), cfg.clone());
        move || imap_sync(&db, &cfg)
    });
    while examines.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (_, second) = imap_sync(&db, &cfg);
    match second {
        Err(EngineError::Store(StoreError::AccountBusy { account })) => assert_eq!(account, "t"),
        other => panic!("expected the account to be busy, got {other:?}"),
    }
    let (r, result) = first.join().unwrap();
    result.unwrap();
    assert_eq!(folder(&r, "INBOX").new, 4);
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"));
}

/// The folder is recreated between the probe and the download (its EXAMINE for the download shows another
/// UIDVALIDITY): the planned UIDs would name other messages, so nothing is downloaded into the old folder, the
/// folder's cursor stays, the folder reports why, and the next run mirrors the folder as it is.
#[test]
fn a_uidvalidity_that_changes_before_the_download_stores_nothing_under_the_old_uids() {
    let w = World::new(Profile::Dovecot);
    w.seed("INBOX", "first", 3);
    let examines = Arc::new(AtomicUsize::new(0));
    let seen = examines.clone();
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        let text = String::from_utf8_lossy(&resp).into_owned();
        if !cmd.starts_with("EXAMINE") || !text.contains("[UIDVALIDITY ") {
            return resp;
        }
        if seen.fetch_add(1, Ordering::SeqCst) != 1 {
            return resp;
        }
        // The second EXAMINE of the run (the download's): another generation of the folder.
        let start = text.find("[UIDVALIDITY ").unwrap() + "[UIDVALIDITY ".len();
        let end = start + text[start..].find(']').unwrap();
        let other: u64 = text[start..end].parse::<u64>().unwrap() + 1;
        format!("{}{other}{}", &text[..start], &text[end..]).into_bytes()
    })
    .unwrap();
    let (r, result) = imap_sync(&w.db(), &w.imap_config(proxy.port()));
    result.unwrap();
    assert_eq!(examines.load(Ordering::SeqCst), 2, "a probe and a download EXAMINE");
    let inbox = folder(&r, "INBOX");
    assert_eq!(inbox.new, 0, "{inbox:?}");
    assert!(inbox.error.as_deref().is_some_and(|e| e.contains("UIDVALIDITY changed")), "{inbox:?}");
    assert!(w.stored("INBOX").is_empty());
    let store = w.store();
    let account = store.find_account("t").unwrap().unwrap();
    let row = store.mailboxes(account).unwrap().into_iter().find(|m| m.name == "INBOX").unwrap();
    assert_eq!((row.uidvalidity, row.uidnext), (None, None), "the cursor moved: {row:?}");
    drop(store);

    let r = imap_ok(&w.db(), &w.imap_config(w.dovecot.ports().imaps));
    assert_eq!(folder(&r, "INBOX").new, 3);
    assert_eq!(w.stored("INBOX"), w.server_imap("INBOX"));
}
