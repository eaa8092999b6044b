//! A dropped link within a run, as the user sees it: through a link that cuts every connection after a
//! while, one `mailsync sync` reconnects, carries on from what it stored, exits 0 and says how often it
//! reconnected; `reconnect_attempts = 0` gives up at the first cut instead.

mod common;

use common::World;
use mailsync_testkit::corpus::{messages, SizeMix};
use mailsync_testkit::link::{Fault, Faults, Link, LinkSpec};
use mailsync_testkit::Profile;

fn through(w: &World, link: &Link, extra: &str) {
    let config = std::fs::read_to_string(w.config()).unwrap();
    let config =
        config.replace(&format!("port = {}", w.dovecot.ports().imaps), &format!("port = {}", link.port()));
    let config = config.replace("[accounts.t.imap]", &format!("{extra}\n[accounts.t.imap]"));
    std::fs::write(w.config(), config).unwrap();
}

fn cut_every(after: u64, imaps: u16) -> Link {
    Link::start(
        imaps,
        LinkSpec {
            rtt: std::time::Duration::ZERO,
            rate: None,
            faults: Faults::Every(Fault::CutAfter(after)),
        },
    )
    .unwrap()
}

#[test]
fn one_sync_gets_past_a_link_that_keeps_dropping() {
    let w = World::new(Profile::Dovecot);
    let corpus = messages(11, 60, SizeMix::Small);
    w.dovecot
        .seed("alice", "INBOX", &corpus.iter().map(|m| (m.as_slice(), &[][..])).collect::<Vec<_>>())
        .unwrap();
    // Every connection dies after 150 KB: the 60 messages (about 270 KB) need a few.
    let link = cut_every(150_000, w.dovecot.ports().imaps);
    through(&w, &link, "");
    let lines = w.sync_json(&[]);
    assert_eq!(common::total(&lines, "new"), 60, "{lines:?}");
    let reconnects = lines.iter().find_map(|v| v["reconnects"].as_u64()).unwrap_or(0);
    assert!(reconnects >= 1, "{lines:?}");
    assert_eq!(reconnects, u64::try_from(link.cuts()).unwrap(), "one reconnect per cut");
    assert_eq!(w.stored("INBOX").len(), 60);
}

#[test]
fn without_reconnects_the_first_cut_ends_the_run_with_what_it_stored() {
    let w = World::new(Profile::Dovecot);
    let corpus = messages(12, 60, SizeMix::Small);
    w.dovecot
        .seed("alice", "INBOX", &corpus.iter().map(|m| (m.as_slice(), &[][..])).collect::<Vec<_>>())
        .unwrap();
    let link = cut_every(150_000, w.dovecot.ports().imaps);
    through(&w, &link, "reconnect_attempts = 0");
    let o = w.mailsync(&["sync"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
    let kept = w.stored("INBOX").len();
    assert!(kept > 0 && kept < 60, "kept {kept}: what was received before the cut is stored");
}
