//! A message the server lists but will not serve, as the user sees it: the sync exits 0 and says how many
//! messages it could not store; `status` and `compare` show the gap with its reason; later syncs try again
//! after a back-off, `sync --retry` at once; when the server serves it, it is stored and the gap is gone.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::World;
use mailsync_testkit::proxy::Proxy;
use mailsync_testkit::Profile;

#[test]
fn a_gap_is_reported_everywhere_and_retried_until_stored() {
    let w = World::new(Profile::Outlook);
    let msgs: Vec<Vec<u8>> = (1..=3)
        .map(|i| format!("Subject: gap {i}\r\nMessage-ID: <gap-{i}@x>\r\n\r\nbody {i}\r\n").into_bytes())
        .collect();
    w.dovecot
        .seed("alice", "INBOX", &msgs.iter().map(|m| (m.as_slice(), &[][..])).collect::<Vec<_>>())
        .unwrap();
    let refuse = Arc::new(AtomicBool::new(true));
    let on = refuse.clone();
    // The server answers UID FETCH for UID 2 with nothing, as Exchange does for some messages.
    let proxy = Proxy::imap(&w.dovecot, move |cmd, resp| {
        let for_uid_2 = String::from_utf8_lossy(&resp[..resp.len().min(40)]).contains("(UID 2 ");
        if on.load(Ordering::SeqCst) && cmd.contains("BODY.PEEK[]") && for_uid_2 {
            return Vec::new();
        }
        resp
    })
    .unwrap();
    let config = std::fs::read_to_string(w.config()).unwrap();
    let config =
        config.replace(&format!("port = {}", w.dovecot.ports().imaps), &format!("port = {}", proxy.port()));
    std::fs::write(w.config(), config).unwrap();

    let lines = w.sync_json(&[]);
    let inbox = common::summary(&lines, "INBOX");
    assert_eq!((inbox["new"].as_u64(), inbox["gaps"].as_u64()), (Some(2), Some(1)), "{inbox}");
    let text = w.mailsync(&["sync"]);
    assert!(text.status.success());
    let out = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(out.contains("1 not stored (recorded; tried again later)"), "{out}");

    let status = common::json_lines(&w.mailsync(&["--json", "status"]).stdout);
    let imap = status.iter().find(|v| v["via"] == "imap").unwrap();
    assert_eq!(imap["gaps"][0]["reason"], "the server returned no data for this UID", "{imap}");
    assert_eq!(imap["gaps"][0]["messages"], 1);
    let compare = w.mailsync(&["--json", "compare", "t"]);
    assert!(compare.status.success(), "{}", common::stderr(&compare));
    let c = &common::json_lines(&compare.stdout)[0];
    assert_eq!(c["gaps"]["imap"][0][1], 1, "{c}");
    let table = String::from_utf8_lossy(&w.mailsync(&["compare", "t"]).stdout).into_owned();
    assert!(table.contains("listed but not stored (retried)"), "{table}");

    // Two attempts made: the third waits for its back-off, unless asked.
    let waiting = w.sync_json(&[]);
    assert_eq!(common::total(&waiting, "gaps_waiting"), 1, "{waiting:?}");
    refuse.store(false, Ordering::SeqCst);
    let still = w.sync_json(&[]);
    assert_eq!(common::total(&still, "new"), 0, "tried before its back-off ran out");
    let retried = w.sync_json(&["--retry"]);
    assert_eq!((common::total(&retried, "new"), common::total(&retried, "gaps")), (1, 0), "{retried:?}");
    assert_eq!(w.stored("INBOX").len(), 3);
    let status = common::json_lines(&w.mailsync(&["--json", "status"]).stdout);
    let imap = status.iter().find(|v| v["via"] == "imap").unwrap();
    assert_eq!(imap["gaps"], serde_json::json!([]), "{imap}");
}
