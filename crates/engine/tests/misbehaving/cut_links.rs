//! Links that drop: every connection cut (or reset) after a random 20 KB to a few MB, as on a train. Each
//! run must finish in one invocation, reconnecting as often as it takes, with the store exact (every message
//! once, byte for byte) and, for POP3 in delete mode, the server emptied of exactly what was stored. The
//! campaigns are seeded; a failure names its seed (re-run one with `MAILSYNC_CUT_SEED`).

use std::collections::BTreeSet;

use mailsync_engine::pop3::Pop3Mode;
use mailsync_testkit::corpus::{messages, SizeMix};
use mailsync_testkit::link::{Faults, Link, LinkSpec};
use mailsync_testkit::Profile;

use crate::support::*;

/// How many runs each campaign makes in the suite; `MAILSYNC_CUT_RUNS` asks for more (scripts/cut-campaign).
const RUNS: u64 = 30;

fn runs() -> u64 {
    std::env::var("MAILSYNC_CUT_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(RUNS).max(RUNS)
}

fn seeds(base: u64) -> Vec<u64> {
    match std::env::var("MAILSYNC_CUT_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        // A longer campaign starts with the suite's seeds and goes on from there.
        None => (0..runs()).map(|i| base + i).collect(),
    }
}

/// A link that cuts each connection after between 20 KB and `max` bytes.
fn cutting(target: u16, seed: u64, max: u64) -> Link {
    let spec = LinkSpec {
        rtt: std::time::Duration::ZERO,
        rate: None,
        faults: Faults::RandomCut { seed, min: 20_000, max },
    };
    Link::start(target, spec).unwrap()
}

#[test]
fn an_imap_mirror_over_a_link_that_keeps_dropping_finishes_in_one_run() {
    let w = World::new(Profile::Dovecot);
    let corpus = messages(7, 400, SizeMix::Realistic);
    let (inbox, rest) = corpus.split_at(250);
    let (archive, sent) = rest.split_at(100);
    for (folder, msgs) in [("INBOX", inbox), ("Archive", archive), ("Sent", sent)] {
        if folder != "INBOX" {
            w.dovecot.create_folder("alice", folder).unwrap();
        }
        let refs: Vec<(&[u8], &[mailsync_testkit::Flag])> =
            msgs.iter().map(|m| (m.as_slice(), &[][..])).collect();
        w.dovecot.seed("alice", folder, &refs).unwrap();
    }
    let server: Vec<_> = ["INBOX", "Archive", "Sent"].iter().map(|f| (*f, w.server_imap(f))).collect();
    let total_bytes: usize = server.iter().flat_map(|(_, m)| m.values()).map(Vec::len).sum();
    let mut reconnects = 0;
    for seed in seeds(1000) {
        let db = w.dir.path().join(format!("cut-{seed}.db"));
        let link = cutting(w.dovecot.ports().imaps, seed, u64::try_from(total_bytes).unwrap_or(u64::MAX));
        let (report, result) = imap_sync(&db, &w.imap_config(link.port()));
        result.unwrap_or_else(|e| {
            panic!("seed {seed}: the run failed after {} reconnects: {e}", report.reconnects)
        });
        assert!(report.folders.iter().all(|f| f.error.is_none()), "seed {seed}: {report:#?}");
        for (folder, want) in &server {
            let got = stored_in(&db, folder);
            assert_eq!(got.len(), want.len(), "seed {seed}: {folder}");
            assert!(got == *want, "seed {seed}: {folder} differs from the server");
        }
        assert_eq!(
            report.reconnects,
            u64::try_from(link.cuts()).unwrap_or(0),
            "seed {seed}: every cut is one reconnect"
        );
        reconnects += report.reconnects;
    }
    eprintln!("IMAP cut campaign: {} runs, {reconnects} reconnects, all exact", seeds(1000).len());
    let runs = u64::try_from(seeds(1000).len()).unwrap_or(0);
    assert!(runs < RUNS || reconnects >= runs, "the campaign hardly cut anything ({reconnects} reconnects)");
    assert!(w.server_flags("INBOX").values().all(|f| f.is_empty()), "the server was changed");
}

#[test]
fn pop3_delete_mode_over_a_link_that_keeps_dropping_deletes_only_what_it_stored() {
    let w = World::new(Profile::Dovecot);
    let mut reconnects = 0;
    for seed in seeds(2000) {
        let corpus = messages(seed, 150, SizeMix::Realistic);
        let refs: Vec<(&[u8], &[mailsync_testkit::Flag])> =
            corpus.iter().map(|m| (m.as_slice(), &[][..])).collect();
        w.dovecot.seed("alice", "INBOX", &refs).unwrap();
        let on_server: BTreeSet<Vec<u8>> = w.server_pop3().into_iter().map(|(_, b)| b).collect();
        let db = w.dir.path().join(format!("pop-{seed}.db"));
        let link = cutting(w.dovecot.ports().pop3s, seed, 8_000_000);
        let (report, result) = pop3_sync(&db, &w.pop3_config(link.port(), Pop3Mode::Delete));
        result.unwrap_or_else(|e| {
            panic!("seed {seed}: the run failed after {} reconnects: {e}", report.reconnects)
        });
        let stored: BTreeSet<Vec<u8>> = pop3_bodies(&db);
        assert_eq!(stored, on_server, "seed {seed}: the store is not what the server had");
        assert!(w.server_pop3().is_empty(), "seed {seed}: the server kept messages");
        assert_eq!(report.deleted_on_server, 150, "seed {seed}: {report:?}");
        reconnects += report.reconnects;
    }
    eprintln!("POP3 cut campaign: {} runs, {reconnects} reconnects, all exact", seeds(2000).len());
    let runs = u64::try_from(seeds(2000).len()).unwrap_or(0);
    assert!(
        runs < RUNS || reconnects >= runs / 2,
        "the campaign hardly cut anything ({reconnects} reconnects)"
    );
}

/// Every connection cut after 150 KB: far more cuts than `attempts`, but each connection commits something,
/// so the run goes on to the end (the limit counts tries in a row *without progress*).
#[test]
fn cuts_that_each_leave_progress_behind_never_exhaust_the_reconnect_limit() {
    let w = World::new(Profile::Dovecot);
    let corpus = messages(11, 600, SizeMix::Small);
    let refs: Vec<(&[u8], &[mailsync_testkit::Flag])> =
        corpus.iter().map(|m| (m.as_slice(), &[][..])).collect();
    w.dovecot.seed("alice", "INBOX", &refs).unwrap();
    let spec = LinkSpec {
        rtt: std::time::Duration::ZERO,
        rate: None,
        faults: Faults::Every(mailsync_testkit::link::Fault::CutAfter(150_000)),
    };

    let link = Link::start(w.dovecot.ports().imaps, spec).unwrap();
    let db = w.dir.path().join("imap.db");
    let cfg = w.imap_config(link.port());
    let (report, result) = imap_sync(&db, &cfg);
    result.unwrap_or_else(|e| panic!("the IMAP run gave up after {} reconnects: {e}", report.reconnects));
    assert!(report.reconnects > u64::from(cfg.limits.reconnect.attempts), "{} reconnects", report.reconnects);
    assert!(stored_in(&db, "INBOX") == w.server_imap("INBOX"), "the mirror differs from the server");

    let link = Link::start(w.dovecot.ports().pop3s, spec).unwrap();
    let db = w.dir.path().join("pop.db");
    let on_server: BTreeSet<Vec<u8>> = w.server_pop3().into_iter().map(|(_, b)| b).collect();
    let cfg = w.pop3_config(link.port(), Pop3Mode::Keep);
    let (report, result) = pop3_sync(&db, &cfg);
    result.unwrap_or_else(|e| panic!("the POP3 run gave up after {} reconnects: {e}", report.reconnects));
    assert!(report.reconnects > u64::from(cfg.reconnect.attempts), "{} reconnects", report.reconnects);
    assert_eq!(pop3_bodies(&db), on_server);
}
