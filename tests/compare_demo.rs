//! The demo's scenario against the harness, with every number of `mailsync compare --json` asserted at each
//! step: before any sync, after the IMAP mirror, after another device's changes, after POP3 in classic delete
//! mode, and after IMAP mirrors the emptied INBOX. Both servers must be unchanged by every compare.

mod common;

use common::{server_flags, World};
use mailsync_testkit::{seed_demo, Flag, Profile};
use serde_json::{json, Value};

fn compare(w: &World, extra: &[&str]) -> Value {
    let before: Vec<_> = ["INBOX", "Sent", "Archive"].iter().map(|f| server_flags(&w.dovecot, f)).collect();
    let mut args = vec!["--json", "compare", "t"];
    args.extend_from_slice(extra);
    let out = w.mailsync(&args);
    assert!(out.status.success(), "compare failed: {}", common::stderr(&out));
    let after: Vec<_> = ["INBOX", "Sent", "Archive"].iter().map(|f| server_flags(&w.dovecot, f)).collect();
    assert_eq!(before, after, "compare changed the server");
    let lines = common::json_lines(&out.stdout);
    assert_eq!(lines.len(), 1);
    lines.into_iter().next().unwrap()
}

/// The numbers that matter, in one comparable value.
fn facts(c: &Value) -> Value {
    let i = &c["imap"];
    let p = &c["pop3"];
    json!({
        "imap": [i["folders"].as_array().map(Vec::len), i["messages"], i["flags"]["seen"], i["flags"]["unseen"],
                 i["flags"]["flagged"], i["next_download"], i["next_remove"], i["deletes_on_server"]],
        "pop3": [p["folders"], p["messages"], p["next_download"], p["next_delete_on_server"], p["flags"]],
        "only_imap": [c["only_imap_total"], c["only_imap"]],
        "either": [c["either"]["server_only"], c["either"]["local_only"], c["either"]["both"]],
        "via_pop3": [c["via_pop3"]["server_only"], c["via_pop3"]["local_only"], c["via_pop3"]["both"]],
        "stored": [c["stored_messages"], c["stored_imap_locations"], c["stored_pop3_locations"]],
    })
}

#[test]
fn the_demo_scenario_compare_numbers_at_every_step() {
    let w = World::new(Profile::Dovecot);
    seed_demo(&w.dovecot).unwrap();
    // 24 fixtures: INBOX 19, Sent 2, Archive 3; by i % 4 read / unread / read+flagged / read+answered.

    // 0. Nothing synced yet. In delete mode POP3 would download and then delete the whole INBOX.
    let c = compare(&w, &["--delete"]);
    assert_eq!(c["pop3"]["mode"], "delete after download");
    assert_eq!(
        facts(&c),
        json!({
            "imap": [3, 24, 18, 6, 6, 24, 0, 0],
            "pop3": [["INBOX"], 19, 19, 19, null],
            "only_imap": [5, {"Archive": 3, "Sent": 2}],
            "either": [24, 0, 0],
            "via_pop3": [19, 0, 0],
            "stored": [0, 0, 0],
        })
    );
    let c = compare(&w, &[]);
    assert_eq!(
        (c["pop3"]["mode"].as_str(), c["pop3"]["next_delete_on_server"].as_u64()),
        (Some("leave on server"), Some(0))
    );

    // 1. IMAP mirror: everything stored, nothing left to download over IMAP; POP3 has not downloaded anything.
    w.sync_json(&[]);
    let c = compare(&w, &["--delete"]);
    assert_eq!(
        facts(&c),
        json!({
            "imap": [3, 24, 18, 6, 6, 0, 0, 0],
            "pop3": [["INBOX"], 19, 19, 19, null],
            "only_imap": [5, {"Archive": 3, "Sent": 2}],
            "either": [0, 0, 24],
            "via_pop3": [0, 5, 19],
            "stored": [24, 24, 0],
        })
    );

    // 2. Another device: reads INBOX uid 2 (already read), flags uid 3, moves uid 4 (unread, with a
    //    Message-ID) to Archive, deletes uid 6 (read), and new unread mail arrives.
    let d = &w.dovecot;
    d.flags_add("alice", "INBOX", 2, &[Flag::Seen]).unwrap();
    d.flags_add("alice", "INBOX", 3, &[Flag::Flagged]).unwrap();
    d.move_message("alice", "INBOX", 4, "Archive").unwrap();
    d.expunge("alice", "INBOX", 6).unwrap();
    d.save("alice", "INBOX", b"From: Bob <bob@example.net>\r\nSubject: Lunch on Friday?\r\nMessage-ID: <lunch@example.net>\r\n\r\nPizza?\r\n").unwrap();
    let c = compare(&w, &["--delete"]);
    assert_eq!(
        facts(&c),
        json!({
            // The moved message and the new one to download; the moved and the deleted INBOX copies to remove.
            "imap": [3, 24, 17, 7, 7, 2, 2, 0],
            "pop3": [["INBOX"], 18, 18, 18, null],
            "only_imap": [6, {"Archive": 4, "Sent": 2}],
            // New mail only on the server; the deleted message only in the store; the moved one matched by Message-ID.
            "either": [1, 1, 23],
            // Not on POP3: Sent 2 and Archive 4 (stored), and the deleted message (stored until IMAP re-syncs).
            "via_pop3": [1, 7, 17],
            "stored": [24, 24, 0],
        })
    );

    // 3. IMAP re-sync mirrors all of it.
    w.sync_json(&[]);
    let c = compare(&w, &["--delete"]);
    assert_eq!(
        facts(&c),
        json!({
            "imap": [3, 24, 17, 7, 7, 0, 0, 0],
            "pop3": [["INBOX"], 18, 18, 18, null],
            "only_imap": [6, {"Archive": 4, "Sent": 2}],
            "either": [0, 0, 24],
            "via_pop3": [0, 6, 18],
            "stored": [24, 24, 0],
        })
    );

    // 4. POP3, classic delete mode: INBOX downloaded (already stored via IMAP: locations only), then deleted.
    let lines = w.sync_json(&["--via", "pop3", "--delete"]);
    assert_eq!((lines[0]["new"].as_u64(), lines[0]["deleted_on_server"].as_u64()), (Some(18), Some(18)));
    assert_eq!(w.dovecot.status("alice", "INBOX").unwrap().messages, 0);
    let c = compare(&w, &["--delete"]);
    assert_eq!(
        facts(&c),
        json!({
            // IMAP would now remove its 18 INBOX copies; POP3 sees an empty INBOX.
            "imap": [3, 6, 4, 2, 2, 0, 18, 0],
            "pop3": [["INBOX"], 0, 0, 0, null],
            "only_imap": [6, {"Archive": 4, "Sent": 2}],
            "either": [0, 18, 6],
            "via_pop3": [0, 24, 0],
            "stored": [24, 24, 18],
        })
    );

    // 5. IMAP mirrors the emptiness; the POP3 copies stay: 18 messages now live only in the local store.
    let lines = w.sync_json(&[]);
    assert_eq!(common::summary(&lines, "INBOX")["removed"].as_u64(), Some(18));
    let c = compare(&w, &[]);
    assert_eq!(
        facts(&c),
        json!({
            "imap": [3, 6, 4, 2, 2, 0, 0, 0],
            "pop3": [["INBOX"], 0, 0, 0, null],
            "only_imap": [6, {"Archive": 4, "Sent": 2}],
            "either": [0, 18, 6],
            "via_pop3": [0, 24, 0],
            "stored": [24, 6, 18],
        })
    );
}
