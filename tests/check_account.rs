//! `mailsync check` against real servers: the harness's Dovecot (IMAPS, POP3 with STLS) and a private Postfix
//! (submission with STARTTLS and AUTH, delivering into the Dovecot): all green with a password and with
//! XOAUTH2, and `--send-test` delivers into the mailbox. Then each known failure with its hint: wrong password
//! (and under an Outlook preset, the POP/IMAP-off and basic-auth hints), TLS on a STARTTLS port and the
//! reverse, a closed port, the wrong CA, a certificate for another name, and Exchange's "User is
//! authenticated but not connected".

mod oauth_support;

use mailsync_testkit::oracle::OracleImap;
use mailsync_testkit::scripted::{Conn, ScriptedServer};
use mailsync_testkit::{Profile, TestCa};
use oauth_support::{code, json_lines, stderr, stdout, step, World, PW_ENV};

fn results(lines: &[serde_json::Value]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .filter(|v| v.get("step").is_some())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("protocol"), s("step"), s("result"))
        })
        .collect()
}

fn hint_of(lines: &[serde_json::Value], protocol: &str, name: &str) -> String {
    step(lines, protocol, name)["hint"].as_str().unwrap_or_default().to_string()
}

#[test]
fn all_green_with_a_password_and_send_test_delivers_into_the_mailbox() {
    let w = World::new(Profile::Dovecot, true);
    w.write_password_account();
    let o = w.run(&["--json", "check", "t", "--send-test"]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let lines = json_lines(&o);
    let expected: Vec<(String, String, String)> = [
        ("account", "credentials"),
        ("imap", "resolve"),
        ("imap", "connect"),
        ("imap", "tls"),
        ("imap", "authenticate"),
        ("imap", "capabilities"),
        ("imap", "mailbox"),
        ("pop3", "resolve"),
        ("pop3", "connect"),
        ("pop3", "starttls"),
        ("pop3", "authenticate"),
        ("pop3", "capabilities"),
        ("pop3", "mailbox"),
        ("smtp", "resolve"),
        ("smtp", "connect"),
        ("smtp", "ehlo"),
        ("smtp", "starttls"),
        ("smtp", "capabilities"),
        ("smtp", "authenticate"),
        ("smtp", "send test"),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string(), "ok".to_string()))
    .collect();
    assert_eq!(results(&lines), expected);
    assert_eq!(
        step(&lines, "smtp", "capabilities")["detail"],
        "8BITMIME, SMTPUTF8, AUTH PLAIN LOGIN XOAUTH2"
    );
    assert!(step(&lines, "imap", "tls")["millis"].is_u64());
    let summary = lines.last().unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["passed"], 20);

    let postfix = w.postfix.as_ref().unwrap();
    assert!(postfix.wait_queue_empty(std::time::Duration::from_secs(20)), "{}", postfix.log());
    let mut imap = OracleImap::login(&w.dovecot, "alice").unwrap();
    let inbox = imap.fetch_all("INBOX").unwrap();
    assert_eq!(inbox.len(), 1, "{}", postfix.log());
    let body = String::from_utf8_lossy(&inbox[0].1).into_owned();
    assert!(body.contains("Subject: mailsync check t: test message\r\n"), "{body}");
    assert!(body.contains("From: \"mailsync check\" <alice@example.test>\r\n"), "{body}");
    assert!(body.contains("To: alice@example.test\r\n"), "{body}");

    // The plain checklist: one line per step, and the summary.
    let o = w.run(&["check", "t"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok      IMAP     tls ")
                && l.contains("certificate verified for 127.0.0.1")),
        "{out}"
    );
    assert!(out.trim_end().ends_with("t: all 19 checks passed"), "{out}");
}

#[test]
fn all_green_with_xoauth2_over_imap_pop3_and_smtp() {
    let w = World::new(Profile::Outlook, true);
    let file = w.dir.path().join("token.txt");
    std::fs::write(&file, format!("{}\n", w.token())).unwrap();
    w.write(&format!("auth = \"xoauth2\"\ntoken_command = \"cat {}\"", file.display()), &w.endpoints());
    let o = w.run(&["--json", "check", "t"]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let lines = json_lines(&o);
    assert!(results(&lines).iter().all(|(_, _, r)| r == "ok"), "{lines:#?}");
    assert_eq!(
        step(&lines, "smtp", "authenticate")["detail"],
        "OAuth2 token (XOAUTH2) accepted for alice@example.test"
    );
    assert_eq!(
        step(&lines, "account", "credentials")["detail"],
        "OAuth2 access token from token_command, for alice@example.test"
    );
}

#[test]
fn a_wrong_password_fails_every_login_with_the_right_hint_and_exit_3() {
    let w = World::new(Profile::Dovecot, true);
    w.write_password_account();
    let o = w.run_env(&["--json", "check", "t"], &[(PW_ENV, "not-the-password")]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let lines = json_lines(&o);
    for p in ["imap", "pop3", "smtp"] {
        assert_eq!(step(&lines, p, "authenticate")["result"], "failed", "{p}");
        assert_eq!(
            hint_of(&lines, p, "authenticate"),
            "the user name or password was refused: check user and password_command / password_env",
            "{p}"
        );
    }
    assert_eq!(step(&lines, "imap", "mailbox")["result"], "skipped");
    assert!(stderr(&o).starts_with("mailsync: check of account t: 3 of "), "{}", stderr(&o));
    assert!(!stdout(&o).contains("not-the-password") && !stderr(&o).contains("not-the-password"));
}

#[test]
fn under_an_outlook_preset_a_refused_password_gets_the_outlook_hints() {
    let w = World::new(Profile::Outlook, true);
    w.write(
        &format!("preset = \"outlook\"\nauth = \"password\"\npassword_env = \"{PW_ENV}\""),
        &w.endpoints(),
    );
    let o = w.run_env(&["--json", "check", "t"], &[(PW_ENV, "wrong")]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let lines = json_lines(&o);
    for p in ["imap", "pop3"] {
        let h = hint_of(&lines, p, "authenticate");
        assert!(h.starts_with("Microsoft no longer accepts passwords for IMAP, POP or SMTP"), "{p}: {h}");
        assert!(h.contains("Outlook.com turns POP and IMAP off by default"), "{p}: {h}");
    }
    let smtp = hint_of(&lines, "smtp", "authenticate");
    assert!(
        smtp.starts_with("Microsoft no longer accepts passwords") && !smtp.contains("off by default"),
        "{smtp}"
    );
}

#[test]
fn the_wrong_security_for_a_port_is_named_both_ways() {
    let w = World::new(Profile::Dovecot, true);
    let p = w.dovecot.ports();
    let smtp = w.postfix.as_ref().unwrap().submission_port();
    // IMAP: TLS on the STARTTLS port. POP3: STARTTLS on the implicit-TLS port. SMTP: TLS on submission.
    let tables = format!(
        "[accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = 3\n\n\
         [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout = 2\n\n\
         [accounts.t.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"tls\"\ntimeout = 3\n",
        p.imap, p.pop3s
    );
    w.write(&format!("auth = \"password\"\npassword_env = \"{PW_ENV}\""), &tables);
    let o = w.run(&["--json", "check", "t"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let lines = json_lines(&o);
    let imap = hint_of(&lines, "imap", "tls");
    assert!(
        imap.starts_with(&format!("port {} did not answer with TLS", p.imap))
            && imap.contains("security = \"starttls\""),
        "{imap}"
    );
    let pop = hint_of(&lines, "pop3", "starttls");
    assert!(
        pop.starts_with(&format!("no greeting on port {}", p.pop3s)) && pop.contains("security = \"tls\""),
        "{pop}"
    );
    let s = hint_of(&lines, "smtp", "tls");
    assert!(s.starts_with(&format!("port {smtp} did not answer with TLS")) && s.contains("SMTP: 587"), "{s}");
    assert_eq!(step(&lines, "imap", "authenticate")["result"], "skipped");
}

#[test]
fn a_closed_port_and_an_unknown_ca_get_their_hints() {
    let w = World::new(Profile::Dovecot, false);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let other_ca = w.dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, TestCa::generate("someone else's CA").unwrap().ca_pem).unwrap();
    let tables = format!(
        "[accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {closed}\nsecurity = \"tls\"\ntimeout = 3\n\n\
         [accounts.t.pop3]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\ntimeout = 3\n",
        w.dovecot.ports().pop3s,
        other_ca.display()
    );
    w.write(&format!("auth = \"password\"\npassword_env = \"{PW_ENV}\""), &tables);
    let o = w.run(&["--json", "check", "t"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(hint_of(&lines, "imap", "connect").starts_with(&format!("nothing listens on port {closed}")));
    let tls = step(&lines, "pop3", "tls");
    assert!(tls["detail"].as_str().unwrap_or_default().contains("is not trusted"), "{tls}");
    assert!(hint_of(&lines, "pop3", "tls").contains("add ca_file = \"/path/to/ca.pem\" to [accounts.t]"));
}

/// An IMAP server that greets, lets XOAUTH2 through, and then says what Exchange says to a token without
/// mailbox access.
fn not_connected(mut c: Conn) {
    c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] Exchange-ish ready\r\n");
    while let Some(line) = c.line() {
        let Some((tag, rest)) = line.split_once(' ') else { return };
        let verb = rest.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "AUTHENTICATE" => c.send(format!("{tag} OK AUTHENTICATE completed.\r\n").as_bytes()),
            "CAPABILITY" => {
                c.send(format!("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR\r\n{tag} OK done\r\n").as_bytes())
            }
            "LOGOUT" => {
                c.send(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes());
                return;
            }
            _ => c.send(format!("{tag} BAD User is authenticated but not connected.\r\n").as_bytes()),
        }
    }
}

#[test]
fn user_is_authenticated_but_not_connected_is_explained() {
    let w = World::new(Profile::Dovecot, false);
    let server = ScriptedServer::tls_many(3, not_connected).unwrap();
    let tables = format!(
        "[accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\ntimeout = 5\n",
        server.port(),
        server.ca_file().display()
    );
    w.write("auth = \"xoauth2\"\ntoken_command = \"echo some-token\"", &tables);
    let o = w.run(&["--json", "check", "t"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(step(&lines, "imap", "authenticate")["result"], "ok");
    let mailbox = step(&lines, "imap", "mailbox");
    assert_eq!(mailbox["result"], "failed");
    assert!(mailbox["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("User is authenticated but not connected"));
    assert!(hint_of(&lines, "imap", "mailbox")
        .starts_with("the sign-in worked but the token gives no access to this mailbox"));
}

#[test]
fn a_certificate_for_another_name_is_named() {
    let w = World::new(Profile::Dovecot, false);
    let ca = TestCa::generate_for("other name CA", &["mail.example.test"], false).unwrap();
    let server = ScriptedServer::tls_many_with(ca, 2, |mut c| {
        c.send(b"* OK ready\r\n");
        let _ = c.line();
    })
    .unwrap();
    let tables = format!(
        "[accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = \"{}\"\ntimeout = 5\n",
        server.port(),
        server.ca_file().display()
    );
    w.write(&format!("auth = \"password\"\npassword_env = \"{PW_ENV}\""), &tables);
    let o = w.run(&["--json", "check", "t"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(step(&lines, "imap", "tls")["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("is not valid for 127.0.0.1"));
    assert!(hint_of(&lines, "imap", "tls")
        .starts_with("the server's certificate is for another name than 127.0.0.1"));
}
