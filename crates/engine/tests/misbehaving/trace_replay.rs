//! A protocol trace of what the engine saw, replayed through the sessions, gives the same events: the path by
//! which a user's trace becomes a regression test (crates/proto/README.md). In-process against the real
//! Dovecot: the events the IMAP and POP3 clients returned are recorded as they come, the trace (content
//! `full`) is read back and replayed with `mailsync_testkit::replay`, and the two lists must be equal.

use std::io::Write;
use std::sync::{Arc, Mutex};

use mailsync_engine::imap::client::{Budget, ImapClient};
use mailsync_engine::pop3::client::Pop3Client;
use mailsync_engine::trace::{Content, DEFAULT_LIMIT};
use mailsync_engine::{Trace, TraceOptions};
use mailsync_proto::imap::command::{Command, FetchAttr, SearchKey};
use mailsync_proto::imap::seqset::SequenceSet;
use mailsync_proto::imap::Event;
use mailsync_proto::pop3::{Pop3Command, Pop3Event};
use mailsync_proto::SeqNum;
use mailsync_testkit::replay::{self, Replayed};
use mailsync_testkit::{Flag, Profile};

use crate::support::World;

/// Where the trace goes: memory the test reads back.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Messages whose bytes look like protocol: a literal announcement, a dot line, 8-bit and control bytes.
fn seed(w: &World) {
    let messages: [&[u8]; 3] = [
        b"Subject: plain\r\n\r\nhello\r\n",
        b"Subject: looks like IMAP {5}\r\n\r\n* 1 FETCH (BODY[] {3}\r\nA0001 OK\r\n.\r\n..\r\n",
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\ncaf\xc3\xa9 \x1b[2J \\x41\r\nno final line end",
    ];
    let seeded: Vec<(&[u8], &[Flag])> = messages.iter().map(|m| (*m, &[Flag::Seen][..])).collect();
    w.dovecot.seed("alice", "INBOX", &seeded).unwrap();
}

fn traced(w: &World, port: u16) -> (mailsync_engine::Endpoint, Buf) {
    let buf = Buf::default();
    let options = TraceOptions {
        content: Content::Full,
        limit: DEFAULT_LIMIT,
        program: "test".into(),
        command: "replay".into(),
    };
    let mut ep = w.endpoint(port);
    ep.trace = Some(Trace::to_writer(Box::new(buf.clone()), "memory", options));
    (ep, buf)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn an_imap_trace_replays_into_the_events_the_client_saw() {
    let w = World::new(Profile::Dovecot);
    seed(&w);
    let (ep, buf) = traced(&w, w.dovecot.ports().imaps);
    let mut live: Vec<Event> = Vec::new();
    runtime().block_on(async {
        let mut c = ImapClient::connect(&ep, &w.credentials(), 1 << 24).await.unwrap();
        let commands = [
            Command::List { reference: String::new(), pattern: "*".into(), return_special_use: true },
            Command::Examine { mailbox: "INBOX".into(), condstore: false, qresync: None },
            Command::UidFetch {
                set: SequenceSet::range_from(1),
                items: vec![FetchAttr::Uid, FetchAttr::Flags, FetchAttr::Rfc822Size, FetchAttr::BodyPeek],
                changed_since: None,
                vanished: false,
            },
            Command::UidSearch { criteria: SearchKey::All },
        ];
        for cmd in commands {
            let done = c.run_each(cmd, Budget::DEFAULT, |u| live.push(Event::Untagged(u))).await.unwrap();
            live.push(Event::Done(done));
        }
        c.logout().await;
    });
    let text = buf.text();
    assert!(!text.contains(w.dovecot.password("alice")), "{text}");
    let conversations = mailsync_proto::trace::read(&text).unwrap();
    assert_eq!(conversations.len(), 1, "{text}");
    assert!(!conversations[0].elided);
    let replayed = replay::imap(&conversations[0]);
    let errors: Vec<&Replayed<Event>> = replayed.iter().filter(|r| matches!(r, Replayed::Error(_))).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let events: Vec<Event> = replayed
        .into_iter()
        .filter_map(|r| match r {
            Replayed::Event(e) => Some(e),
            Replayed::Error(_) => None,
        })
        .collect();
    // The greeting and the login happen inside connect; the live list starts after the login's completion.
    let login = events
        .iter()
        .position(|e| matches!(e, Event::Done(d) if d.command == "LOGIN"))
        .unwrap_or_else(|| panic!("no LOGIN in {events:#?}"));
    let after = &events[login + 1..];
    assert!(after.len() > live.len(), "the replay also has LOGOUT's answer: {after:#?}");
    assert_eq!(after[..live.len()], live[..]);
    let bodies = live
        .iter()
        .filter(|e| matches!(e, Event::Untagged(mailsync_proto::imap::Untagged::Fetch(_))))
        .count();
    assert_eq!(bodies, 3);
}

#[test]
fn a_pop3_trace_replays_into_the_events_the_client_saw() {
    let w = World::new(Profile::Dovecot);
    seed(&w);
    let (ep, buf) = traced(&w, w.dovecot.ports().pop3s);
    let mut live: Vec<Pop3Event> = Vec::new();
    runtime().block_on(async {
        let mut c = Pop3Client::connect(&ep, &w.credentials(), 1 << 24).await.unwrap();
        let n = |i: u32| SeqNum::try_from(i).unwrap();
        let commands = [
            Pop3Command::Stat,
            Pop3Command::Uidl(None),
            Pop3Command::List(None),
            Pop3Command::Retr(n(1)),
            Pop3Command::Retr(n(2)),
            Pop3Command::Retr(n(3)),
            Pop3Command::Top { msg: n(2), lines: 1 },
            Pop3Command::Rset,
        ];
        for cmd in commands {
            let r = c.run(cmd).await.unwrap();
            live.push(Pop3Event::Response { id: r.id, ok: r.ok, code: r.code, text: r.text, body: r.body });
        }
        c.quit_unanswered().await;
    });
    let text = buf.text();
    let conversations = mailsync_proto::trace::read(&text).unwrap();
    let replayed = replay::pop3(&conversations[0]);
    let events: Vec<Pop3Event> = replayed
        .into_iter()
        .map(|r| match r {
            Replayed::Event(e) => e,
            Replayed::Error(e) => panic!("replay error {e}"),
        })
        .collect();
    // Greeting, CAPA, the login's answers, then the live list.
    let start = events.len() - live.len();
    assert_eq!(events[start..], live[..], "{text}");
    assert!(matches!(events[0], Pop3Event::Greeting(_)));
}
