//! POP3 server behaviour a stock Dovecot does not show, played by a scripted server: Outlook accepting DELE
//! but keeping the message, a server without UIDL, and login refusals with RFC 2449/3206 response codes.

mod common;

use std::sync::{Arc, Mutex};

use common::{count, stderr, World, PW_ENV};
use mailsync_testkit::scripted::{Conn, ScriptedServer};
use mailsync_testkit::Profile;

const MSGS: [&[u8]; 3] = [
    b"From: a@example.org\r\nSubject: one\r\nMessage-ID: <one@x>\r\n\r\nfirst\r\n",
    b"From: b@example.org\r\nSubject: two\r\nMessage-ID: <two@x>\r\n\r\n.dotted\r\nsecond\r\n",
    b"From: c@example.org\r\nSubject: three\r\n\r\nthird\r\n",
];

/// Plays a POP3 maildrop holding MSGS. Every command is recorded in `commands` (PASS without its
/// argument); DELEs are accepted but never applied, like Outlook's "keep a copy in a POP folder" setting;
/// `uidl` false answers UIDL with -ERR. With `pipelining`, PIPELINING is announced and the answers to USER
/// and PASS are held back until the client's next command arrives: a client that waits for them before
/// sending on never gets them.
fn maildrop(mut c: Conn, uidl: bool, pipelining: bool, commands: Arc<Mutex<Vec<String>>>) {
    c.send(b"+OK scripted POP3 ready\r\n");
    let mut caps = String::from(if uidl { "USER\r\nUIDL\r\nTOP\r\n" } else { "USER\r\nTOP\r\n" });
    if pipelining {
        caps.push_str("PIPELINING\r\n");
    }
    let mut held = Vec::new();
    while let Some(line) = c.line() {
        let up = line.to_ascii_uppercase();
        let logged = if up.starts_with("PASS") { "PASS".to_owned() } else { line.clone() };
        commands.lock().unwrap().push(logged);
        let arg = line.split(' ').nth(1).and_then(|n| n.parse::<usize>().ok());
        if pipelining && (up.starts_with("USER") || up.starts_with("PASS")) {
            held.extend_from_slice(b"+OK\r\n");
            continue;
        }
        c.send(&std::mem::take(&mut held));
        if up.starts_with("CAPA") {
            c.send(format!("+OK\r\n{caps}.\r\n").as_bytes());
        } else if up.starts_with("USER")
            || up.starts_with("PASS")
            || up.starts_with("RSET")
            || up.starts_with("NOOP")
        {
            c.send(b"+OK\r\n");
        } else if up.starts_with("UIDL") && uidl {
            let mut r = String::from("+OK\r\n");
            for i in 1..=MSGS.len() {
                r.push_str(&format!("{i} uid-{i}\r\n"));
            }
            c.send(format!("{r}.\r\n").as_bytes());
        } else if up.starts_with("LIST") {
            let mut r = String::from("+OK\r\n");
            for (i, m) in MSGS.iter().enumerate() {
                r.push_str(&format!("{} {}\r\n", i + 1, m.len()));
            }
            c.send(format!("{r}.\r\n").as_bytes());
        } else if up.starts_with("RETR") {
            let m = MSGS[arg.unwrap() - 1];
            let stuffed = String::from_utf8_lossy(m).replace("\r\n.", "\r\n..");
            c.send(format!("+OK\r\n{stuffed}.\r\n").as_bytes());
        } else if up.starts_with("DELE") {
            c.send(b"+OK marked\r\n");
        } else if up.starts_with("QUIT") {
            c.send(b"+OK bye\r\n");
            return;
        } else {
            c.send(b"-ERR unknown\r\n");
        }
    }
}

fn config_for(w: &World, server: &ScriptedServer) {
    let text = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\n\
         [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\ntimeout = 10\n",
        server.port(),
        server.ca_file().display()
    );
    std::fs::write(w.config(), text).unwrap();
}

/// One sync against the scripted maildrop: its JSON summary and the DELE commands the server received.
fn run(w: &World, uidl: bool, args: &[&str]) -> (serde_json::Value, Vec<String>) {
    let (summary, commands) = run_logged(w, uidl, args);
    (summary, commands.into_iter().filter(|c| c.to_ascii_uppercase().starts_with("DELE")).collect())
}

/// One sync against the scripted maildrop: its JSON summary and every command the server received.
fn run_logged(w: &World, uidl: bool, args: &[&str]) -> (serde_json::Value, Vec<String>) {
    run_logged_with(w, uidl, false, args)
}

fn run_logged_with(
    w: &World,
    uidl: bool,
    pipelining: bool,
    args: &[&str],
) -> (serde_json::Value, Vec<String>) {
    let commands = Arc::new(Mutex::new(Vec::new()));
    let d = commands.clone();
    let server = ScriptedServer::tls(move |c| maildrop(c, uidl, pipelining, d)).unwrap();
    config_for(w, &server);
    let mut full = vec!["--via", "pop3"];
    full.extend_from_slice(args);
    let lines = w.sync_json(&full);
    server.join();
    let d = commands.lock().unwrap().clone();
    (lines.into_iter().next().unwrap(), d)
}

#[test]
fn each_run_sends_only_the_commands_it_needs() {
    // On a real network every command is a round trip. CAPA after login (RFC 2449 section 5) is asked only
    // before downloading, where pipelining matters; a run with nothing new needs neither it nor LIST.
    let w = World::new(Profile::Dovecot);
    let (s, first) = run_logged(&w, true, &[]);
    assert_eq!(s["new"].as_u64(), Some(3));
    assert_eq!(
        first,
        ["CAPA", "USER alice", "PASS", "UIDL", "LIST", "CAPA", "RETR 1", "RETR 2", "RETR 3", "RSET", "QUIT"]
    );
    let (s, again) = run_logged(&w, true, &[]);
    assert_eq!(s["new"].as_u64(), Some(0));
    assert_eq!(again, ["CAPA", "USER alice", "PASS", "UIDL", "QUIT"]);
}

#[test]
fn where_the_server_pipelines_the_listings_go_out_behind_the_login() {
    // RFC 2449 section 6.6: USER, PASS and the run's first commands leave in one write, so the login costs no
    // round trip of its own. The server answers USER and PASS only once the next command has arrived: a client
    // that waited for those answers would hang until its timeout and fail.
    let w = World::new(Profile::Dovecot);
    let (s, first) = run_logged_with(&w, true, true, &[]);
    assert_eq!(s["new"].as_u64(), Some(3), "{s}");
    assert_eq!(
        first,
        ["CAPA", "USER alice", "PASS", "UIDL", "LIST", "CAPA", "RETR 1", "RETR 2", "RETR 3", "RSET", "QUIT"]
    );
    let (s, again) = run_logged_with(&w, true, true, &[]);
    assert_eq!(s["new"].as_u64(), Some(0), "{s}");
    assert_eq!(again, ["CAPA", "USER alice", "PASS", "UIDL", "QUIT"]);
}

#[test]
fn a_server_that_keeps_deleted_messages_causes_no_duplicates() {
    let w = World::new(Profile::Dovecot);
    let (s, deletes) = run(&w, true, &["--delete"]);
    assert_eq!((s["new"].as_u64(), s["deleted_on_server"].as_u64()), (Some(3), Some(3)));
    assert_eq!(deletes.len(), 3);
    // The server kept them (same UIDLs): nothing is downloaded again, nothing is stored twice.
    let (s, _) = run(&w, true, &["--delete"]);
    assert_eq!(s["new"].as_u64(), Some(0), "{s}");
    assert_eq!(count(&w.db(), "SELECT count(*) FROM messages"), 3);
    assert_eq!(count(&w.db(), "SELECT count(*) FROM locations"), 3);
    let stored: Vec<Vec<u8>> = {
        let c = w.store();
        let mut st = c.prepare("SELECT raw FROM message_bodies ORDER BY message_id").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(stored, MSGS.iter().map(|m| m.to_vec()).collect::<Vec<_>>(), "dot-unstuffed, byte-exact");
}

#[test]
fn without_uidl_messages_are_matched_by_content_and_never_deleted_unless_forced() {
    let w = World::new(Profile::Dovecot);
    let (s, deletes) = run(&w, false, &["--delete"]);
    assert_eq!((s["new"].as_u64(), s["deleted_on_server"].as_u64()), (Some(3), Some(0)));
    assert!(deletes.is_empty(), "deleted without UIDL: {deletes:?}");
    assert!(s["note"].as_str().unwrap().contains("no UIDL"));
    let (s, _) = run(&w, false, &["--delete"]);
    assert_eq!(s["new"].as_u64(), Some(0), "fetched again but recognised by content");
    assert_eq!(count(&w.db(), "SELECT count(*) FROM messages"), 3);
    let (s, deletes) = run(&w, false, &["--delete", "--force-delete-without-uidl"]);
    assert_eq!((s["deleted_on_server"].as_u64(), deletes.len()), (Some(3), 3));
}

fn refusing(code: &'static str) -> std::process::Output {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::tls(move |mut c| {
        c.send(b"+OK ready\r\n");
        while let Some(line) = c.line() {
            let up = line.to_ascii_uppercase();
            if up.starts_with("CAPA") {
                c.send(b"+OK\r\nUSER\r\nRESP-CODES\r\n.\r\n");
            } else if up.starts_with("USER") {
                c.send(b"+OK\r\n");
            } else if up.starts_with("PASS") {
                c.send(format!("-ERR [{code}] refused for a reason\r\n").as_bytes());
            } else {
                c.send(b"+OK\r\n");
                return;
            }
        }
    })
    .unwrap();
    config_for(&w, &server);
    w.mailsync(&["sync", "--via", "pop3"])
}

#[test]
fn login_response_codes_are_explained() {
    for (code, words) in [
        ("IN-USE", "another session holds the mailbox lock"),
        ("LOGIN-DELAY", "limits how often you may log in"),
        ("SYS/TEMP", "temporary server failure"),
        ("AUTH", "credentials were refused"),
    ] {
        let o = refusing(code);
        assert_eq!(o.status.code(), Some(3), "{code}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{code}: {}", stderr(&o));
    }
}
