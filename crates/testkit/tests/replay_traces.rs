//! Every protocol trace in `fixtures/traces/` (a `mailsync ... --trace FILE` of a real conversation, such as one
//! a user attached to a bug report) replayed through the sessions: it must read, every conversation must
//! replay without a session error, and every command must be answered. A user's trace of a server quirk
//! goes in there, with a test below that states what the sessions must make of it (crates/proto/README.md).

use std::path::{Path, PathBuf};

use mailsync_proto::imap::{Event, Status};
use mailsync_proto::pop3::Pop3Event;
use mailsync_proto::trace::{read, Conversation, Protocol};
use mailsync_testkit::replay::{self, Replayed};

fn traces() -> Vec<(String, Vec<Conversation>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/traces");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let conversations = read(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, conversations)
        })
        .collect()
}

#[test]
fn every_fixture_trace_replays_without_an_error_and_every_command_is_answered() {
    let all = traces();
    assert!(all.len() >= 2, "{}", all.len());
    for (name, conversations) in &all {
        assert!(!conversations.is_empty(), "{name}");
        for c in conversations {
            let at = format!("{name} {}", c.label);
            match c.protocol {
                Some(Protocol::Imap) => {
                    let r = replay::imap(c);
                    assert!(matches!(r.first(), Some(Replayed::Event(Event::Greeting(_)))), "{at}: {r:?}");
                    let sent =
                        c.client_bytes().split(|b| *b == b'\n').filter(|l| l.starts_with(b"A0")).count();
                    let mut done = 0;
                    for e in &r {
                        match e {
                            Replayed::Error(e) => panic!("{at}: {e}"),
                            Replayed::Event(Event::Done(d)) => {
                                assert_eq!(d.status, Status::Ok, "{at}: {d:?}");
                                done += 1;
                            }
                            _ => {}
                        }
                    }
                    assert_eq!(done, sent, "{at}: every command answered");
                }
                Some(Protocol::Pop3) => {
                    let r = replay::pop3(c);
                    assert!(
                        matches!(r.first(), Some(Replayed::Event(Pop3Event::Greeting(_)))),
                        "{at}: {r:?}"
                    );
                    for e in &r {
                        match e {
                            Replayed::Error(e) => panic!("{at}: {e}"),
                            Replayed::Event(Pop3Event::Response { ok, text, .. }) => {
                                assert!(ok, "{at}: {text}")
                            }
                            _ => {}
                        }
                    }
                }
                Some(Protocol::Smtp) => {
                    let r = replay::smtp(c);
                    assert!(r.iter().all(|e| matches!(e, Replayed::Event(_))), "{at}: {r:?}");
                }
                None => panic!("{at}: no protocol in the label"),
            }
        }
    }
}

#[test]
fn the_dovecot_sync_trace_gives_each_message_its_size() {
    // With the default content the bodies are filler of their size: a FETCH still yields the body it
    // announced, byte for byte as long, under the right UID.
    let (_, conversations) = traces().into_iter().find(|(n, _)| n == "dovecot_sync.trace").unwrap();
    let imap = conversations.iter().find(|c| c.protocol == Some(Protocol::Imap)).unwrap();
    assert!(imap.elided);
    let mut sizes = Vec::new();
    for e in replay::imap(imap) {
        if let Replayed::Event(Event::Untagged(mailsync_proto::imap::Untagged::Fetch(f))) = e {
            for b in f.bodies {
                if let (Some(uid), Some(data)) = (f.uid, b.data) {
                    sizes.push((uid.get(), data.len()));
                }
            }
        }
    }
    assert_eq!(sizes.len(), 24, "{sizes:?}");
    assert_eq!(sizes[0], (1, 396));
}
