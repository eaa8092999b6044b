//! Hostile or broken peers never take the machine: an endless LIST or FETCH stream, a greeting that never
//! ends its line, a server that trickles a byte now and then, an endless POP3 listing. Each ends by itself
//! with a clear error and exit code, within a time bound, and the process's peak memory stays far below
//! 300 MB (measured from /proc while it runs).

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, World, PW_ENV};
use mailsync_testkit::scripted::{Conn, ScriptedServer};
use mailsync_testkit::Profile;

/// The bound the README states for any hostile peer.
const PEAK_LIMIT_KB: u64 = 300 * 1024;

/// Runs mailsync with `args`; returns its output, its peak RSS (VmHWM, sampled until it exits) and how long
/// it ran.
fn measured(w: &World, args: &[&str]) -> (Output, u64, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .arg("--config")
        .arg(w.config())
        .arg("--db")
        .arg(w.db())
        .args(args)
        .env(PW_ENV, w.dovecot.password("alice"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("VmHWM:") {
                    let kb = v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0);
                    peak = peak.max(kb);
                }
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "mailsync did not give up on its own");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut err) = (Vec::new(), Vec::new());
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    let took = start.elapsed();
    eprintln!(
        "mailsync {args:?}: exit {:?}, peak RSS {peak} kB, {took:?}: {}",
        status.code(),
        String::from_utf8_lossy(&err).trim()
    );
    (Output { status, stdout, stderr: err }, peak, took)
}

fn point_imap_at(w: &World, server: &ScriptedServer, extra: &str) {
    point_imap_at_with(w, server, "", extra);
}

fn point_imap_at_with(w: &World, server: &ScriptedServer, account_extra: &str, extra: &str) {
    let t = format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\n{extra}",
        server.port(),
        server.ca_file().display()
    );
    w.write_raw_imap_config(account_extra, &t);
}

/// A scripted IMAP server that logs in, lists INBOX, examines it with 5 messages, and hands every other
/// command to `rest` (which returns false when the connection is over).
fn imap_server(rest: impl Fn(&mut Conn, &str, &str) -> bool + Send + Sync + 'static) -> ScriptedServer {
    ScriptedServer::tls(move |mut c: Conn| {
        c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hostile\r\n");
        while let Some(line) = c.line() {
            let (tag, cmd) = line.split_once(' ').unwrap_or((&line, ""));
            let upper = cmd.to_ascii_uppercase();
            let reply = if upper.starts_with("LOGIN") {
                format!("{tag} OK [CAPABILITY IMAP4rev1] in\r\n")
            } else if upper.starts_with("CAPABILITY") {
                format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n")
            } else if upper.starts_with("EXAMINE") {
                format!("* 5 EXISTS\r\n* OK [UIDVALIDITY 9] v\r\n* OK [UIDNEXT 6] n\r\n{tag} OK [READ-ONLY] done\r\n")
            } else {
                if !rest(&mut c, tag, &upper) {
                    return;
                }
                continue;
            };
            c.send(reply.as_bytes());
        }
    })
    .unwrap()
}

fn list_inbox(c: &mut Conn, tag: &str) -> bool {
    c.try_send(format!("* LIST () \"/\" INBOX\r\n{tag} OK done\r\n").as_bytes())
}

/// A sync against a server that answers LIST with `line` over and over: it must end by itself, exit 4 with
/// `error`, under the memory bound.
fn endless_list_answer(line: &'static [u8], error: &str) {
    let w = World::new(Profile::Dovecot);
    let server = imap_server(move |c, _, cmd| {
        if cmd.starts_with("LIST") {
            let chunk: Vec<u8> = line.iter().copied().cycle().take(line.len() * 1000).collect();
            while c.try_send(&chunk) {}
            return false;
        }
        true
    });
    point_imap_at(&w, &server, "timeout = 20");
    let (o, peak, took) = measured(&w, &["sync"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains(error), "{}", stderr(&o));
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn an_endless_list_is_cut_off() {
    endless_list_answer(
        b"* LIST (\\HasNoChildren) \"/\" \"Folder with a long name to make each response bigger\"\r\n",
        "cut off",
    );
}

#[test]
fn an_endless_stream_of_unreadable_lines_is_cut_off() {
    // Each line is skipped as unreadable (leniency); an endless run of them must still end the connection.
    endless_list_answer(b"* LIST ((( this is not a LIST line\r\n", "in a row could not be read: cut off");
}

#[test]
fn an_endless_stream_of_flag_lines_is_cut_off() {
    let w = World::new(Profile::Dovecot);
    let server = imap_server(|c, tag, cmd| {
        if cmd.starts_with("LIST") {
            return list_inbox(c, tag);
        }
        if cmd.starts_with("UID FETCH") {
            let mut n = 0u64;
            loop {
                let mut chunk = Vec::with_capacity(64 * 1024);
                for _ in 0..1000 {
                    n += 1;
                    chunk.extend_from_slice(
                        format!("* {} FETCH (UID {} FLAGS (\\Seen))\r\n", n % 5 + 1, n).as_bytes(),
                    );
                }
                if !c.try_send(&chunk) {
                    return false;
                }
            }
        }
        c.try_send(format!("{tag} OK done\r\n").as_bytes())
    });
    point_imap_at(&w, &server, "timeout = 20");
    let (o, peak, took) = measured(&w, &["sync"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("cut off"), "{}", stderr(&o));
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_greeting_that_never_ends_its_line_is_cut_off() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::tls(|mut c: Conn| {
        let chunk = vec![b'x'; 64 * 1024];
        if c.try_send(b"* OK ") {
            while c.try_send(&chunk) {}
        }
    })
    .unwrap();
    point_imap_at(&w, &server, "timeout = 20");
    let (o, peak, took) = measured(&w, &["sync"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("line longer than"), "{}", stderr(&o));
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// One byte every 200 ms: each read comes well within `timeout = 3`, yet the sync must end by itself.
#[test]
fn a_trickling_greeting_is_cut_off() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::tls(|mut c: Conn| {
        for b in b"* OK ".iter().cycle() {
            if !c.try_send(&[*b]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .unwrap();
    point_imap_at(&w, &server, "timeout = 3");
    let (o, _, took) = measured(&w, &["sync"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("slower than"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("reconnecting"), "nothing to resume before the first login: {}", stderr(&o));
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_message_that_trickles_in_is_cut_off() {
    // Slowness after the login may be the link's: the run tries once more (as allowed), then gives up.
    let w = World::new(Profile::Dovecot);
    let server = imap_server(|c, tag, cmd| {
        if cmd.starts_with("LIST") {
            return list_inbox(c, tag);
        }
        if cmd.starts_with("UID FETCH") && !cmd.contains("BODY") {
            return c.try_send(format!("* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\n* 3 FETCH (UID 3 FLAGS ())\r\n* 4 FETCH (UID 4 FLAGS ())\r\n* 5 FETCH (UID 5 FLAGS ())\r\n{tag} OK done\r\n").as_bytes());
        }
        if cmd.starts_with("UID FETCH") {
            if !c.try_send(b"* 1 FETCH (UID 1 BODY[] {100000}\r\n") {
                return false;
            }
            loop {
                if !c.try_send(b"x") {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        c.try_send(format!("{tag} OK done\r\n").as_bytes())
    });
    point_imap_at_with(&w, &server, "reconnect_attempts = 1", "timeout = 3");
    let (o, _, took) = measured(&w, &["sync"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("slower than"), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("reconnecting in").count(), 1, "{}", stderr(&o));
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn an_endless_uidl_listing_is_cut_off() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::tls(|mut c: Conn| {
        c.send(b"+OK hostile POP3\r\n");
        while let Some(line) = c.line() {
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("UIDL") {
                if !c.try_send(b"+OK\r\n") {
                    return;
                }
                let mut n = 0u64;
                loop {
                    let mut chunk = Vec::with_capacity(64 * 1024);
                    for _ in 0..2000 {
                        n += 1;
                        chunk.extend_from_slice(format!("{n} uid{n}\r\n").as_bytes());
                    }
                    if !c.try_send(&chunk) {
                        return;
                    }
                }
            }
            let reply: &[u8] =
                if upper.starts_with("CAPA") { b"+OK\r\nUSER\r\nUIDL\r\n.\r\n" } else { b"+OK\r\n" };
            c.send(reply);
        }
    })
    .unwrap();
    let text = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\n\n\
         [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\ntimeout = 20\n",
        server.port(),
        server.ca_file().display()
    );
    std::fs::write(w.config(), text).unwrap();
    let (o, peak, took) = measured(&w, &["sync", "--via", "pop3"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("cap"), "{}", stderr(&o));
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// `check` against an SMTP server on port 587's role whose greeting never ends its line (in plain text,
/// before STARTTLS: anyone on the path can do it).
#[test]
fn an_smtp_greeting_that_never_ends_is_cut_off_in_check() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::plain(|mut c: Conn, _| {
        let chunk = vec![b'x'; 64 * 1024];
        if c.try_send(b"220 ") {
            while c.try_send(&chunk) {}
        }
    })
    .unwrap();
    let text = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\n\n\
         [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\n\n\
         [accounts.t.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout = 20\n",
        w.dovecot.ports().imaps,
        w.dovecot.ca_file().display(),
        server.port()
    );
    std::fs::write(w.config(), text).unwrap();
    let (o, peak, took) = measured(&w, &["--json", "check", "t"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("reply line longer than"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// `check` against an SMTP server that trickles its greeting.
#[test]
fn a_trickling_smtp_greeting_is_cut_off_in_check() {
    let w = World::new(Profile::Dovecot);
    let server = ScriptedServer::plain(|mut c: Conn, _| {
        for b in b"220-".iter().cycle() {
            if !c.try_send(&[*b]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .unwrap();
    let text = format!(
        "[accounts.t]\nuser = \"alice\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\"\n\n\
         [accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\n\n\
         [accounts.t.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout = 3\n",
        w.dovecot.ports().imaps,
        w.dovecot.ca_file().display(),
        server.port()
    );
    std::fs::write(w.config(), text).unwrap();
    let (o, _, took) = measured(&w, &["--json", "check", "t"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("slower than"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}
