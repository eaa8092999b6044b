//! `mailsync auth login` against a scripted OAuth2 endpoint on 127.0.0.1 playing Microsoft's v2.0 device-code
//! and token endpoints: the user is shown the URL and code; polling waits the interval, keeps it on
//! `authorization_pending` and adds 5 s on `slow_down`; `expired_token`, the code's own deadline and
//! `access_denied` end it with exit 3; the refresh token lands in a 0600 file beside the database; `sync` then
//! refreshes the access token when it is about to expire, and a refused refresh says to sign in again.

mod oauth_support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use mailsync_testkit::{Flag, Profile};
use oauth_support::{
    code, device_code, error, granted, json_lines, pending, stderr, stdout, IdentityServer, World,
};

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

fn oauth_account(w: &World, server: &IdentityServer, tables: &str) {
    w.write(
        &format!(
            "auth = \"xoauth2\"\nclient_id = \"{CLIENT_ID}\"\ntenant = \"consumers\"\nauthority = \"{}\"",
            server.authority()
        ),
        tables,
    );
}

fn imap_only(w: &World) -> String {
    format!(
        "[accounts.t.imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = 5\n",
        w.dovecot.ports().imaps
    )
}

#[test]
fn pending_then_slow_down_then_granted_stores_the_refresh_token_0600() {
    let w = World::new(Profile::Outlook, false);
    let access = w.token();
    let server = IdentityServer::start(vec![
        device_code(1, 900),
        pending(),
        error("slow_down", "slow down"),
        granted(&access, "REFRESH-1", 3600),
    ]);
    oauth_account(&w, &server, &imap_only(&w));
    let o = w.run(&["auth", "login", "t"]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("open    https://microsoft.com/devicelogin\n"), "{out}");
    assert!(out.contains("enter   WXYZ-1234\n"), "{out}");
    assert!(out.contains("signed in; the refresh token is stored in "), "{out}");
    assert!(!out.contains("DEVICE-CODE") && !stderr(&o).contains("DEVICE-CODE"), "the device code was shown");

    let seen = server.requests();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0].path, "/consumers/oauth2/v2.0/devicecode");
    assert_eq!(seen[0].field("client_id"), Some(CLIENT_ID));
    assert_eq!(
        seen[0].field("scope"),
        Some(
            "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/POP.AccessAsUser.All \
             https://outlook.office.com/SMTP.Send offline_access"
        )
    );
    for poll in &seen[1..] {
        assert_eq!(poll.path, "/consumers/oauth2/v2.0/token");
        assert_eq!(poll.field("grant_type"), Some("urn:ietf:params:oauth:grant-type:device_code"));
        assert_eq!(poll.field("device_code"), Some("DEVICE-CODE-never-shown"));
        assert_eq!(poll.field("client_id"), Some(CLIENT_ID));
    }
    // Polite: the interval before each poll, 5 s more after slow_down.
    let gap = |i: usize| seen[i].at.duration_since(seen[i - 1].at);
    assert!(gap(1) >= Duration::from_millis(950), "{:?}", gap(1));
    assert!(gap(2) >= Duration::from_millis(950), "{:?}", gap(2));
    assert!(gap(3) >= Duration::from_millis(5950), "slow_down ignored: {:?}", gap(3));

    let file = w.token_file("t");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(stored["refresh_token"], "REFRESH-1");
    assert_eq!(stored["client_id"], CLIENT_ID);
    assert_eq!(stored["tenant"], "consumers");

    // The stored sign-in is what sync uses: the access token is still fresh, so no request is made.
    w.dovecot.seed("alice", "INBOX", &[(b"Subject: s\r\n\r\ns\r\n".as_slice(), &[Flag::Seen][..])]).unwrap();
    let o = w.run(&["--json", "sync"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_lines(&o).iter().map(|v| v["new"].as_u64().unwrap_or(0)).sum::<u64>(), 1);
    assert_eq!(server.requests().len(), 4, "a fresh token must not be refreshed");
}

#[test]
fn an_access_token_near_expiry_is_refreshed_and_the_rotated_refresh_token_kept() {
    let w = World::new(Profile::Outlook, false);
    let fresh = w.token();
    let server = IdentityServer::start(vec![
        device_code(1, 900),
        // Valid for 60 s only: less than the 5 minutes a run needs, so the next use refreshes it.
        granted("short-lived-token-not-valid-at-the-server", "REFRESH-1", 60),
        granted(&fresh, "REFRESH-2", 3600),
    ]);
    oauth_account(&w, &server, &imap_only(&w));
    assert_eq!(code(&w.run(&["auth", "login", "t"])), 0);
    let o = w.run(&["--json", "sync"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let seen = server.requests();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[2].field("grant_type"), Some("refresh_token"));
    assert_eq!(seen[2].field("refresh_token"), Some("REFRESH-1"));
    assert_eq!(seen[2].field("client_id"), Some(CLIENT_ID));
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.token_file("t")).unwrap()).unwrap();
    assert_eq!(stored["refresh_token"], "REFRESH-2");
    assert_eq!(stored["access_token"], fresh.as_str());
}

#[test]
fn a_refused_refresh_says_to_sign_in_again() {
    let w = World::new(Profile::Outlook, false);
    let server = IdentityServer::start(vec![
        device_code(1, 900),
        granted("expiring", "REFRESH-1", 10),
        error("invalid_grant", "AADSTS70000: The refresh token has been revoked.\r\nTrace ID: 9"),
    ]);
    oauth_account(&w, &server, &imap_only(&w));
    assert_eq!(code(&w.run(&["auth", "login", "t"])), 0);
    let o = w.run(&["sync"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "mailsync: the stored OAuth2 sign-in of account t was refused (invalid_grant: AADSTS70000: The refresh \
         token has been revoked.): run `mailsync auth login t` again"
    );
}

#[test]
fn expired_token_and_access_denied_end_the_sign_in_with_exit_3() {
    let w = World::new(Profile::Outlook, false);
    let server = IdentityServer::start(vec![device_code(1, 900), pending(), error("expired_token", "")]);
    oauth_account(&w, &server, &imap_only(&w));
    let o = w.run(&["auth", "login", "t"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("the sign-in code expired after 900 s"), "{}", stderr(&o));
    assert!(stderr(&o).contains("run `mailsync auth login t` again"), "{}", stderr(&o));
    assert!(!w.token_file("t").exists());

    let server = IdentityServer::start(vec![
        device_code(1, 900),
        error("access_denied", "AADSTS70000: The user has declined to authorize the application."),
    ]);
    oauth_account(&w, &server, &imap_only(&w));
    let o = w.run(&["auth", "login", "t"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains(": access_denied: AADSTS70000: The user has declined to authorize the application."),
        "{}",
        stderr(&o)
    );
    assert!(!w.token_file("t").exists());
}

#[test]
fn the_codes_own_deadline_stops_polling() {
    let w = World::new(Profile::Outlook, false);
    let server = IdentityServer::start(vec![device_code(1, 3), pending(), pending(), pending(), pending()]);
    oauth_account(&w, &server, &imap_only(&w));
    let o = w.run(&["auth", "login", "t"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("the sign-in code expired after 3 s"), "{}", stderr(&o));
    // Polls at 1 s and 2 s; a third would land at 3 s, past the deadline.
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn without_a_client_id_or_a_sign_in_the_errors_say_what_to_do() {
    let w = World::new(Profile::Outlook, false);
    w.write("auth = \"xoauth2\"\ntoken_command = \"false\"", &imap_only(&w));
    let o = w.run(&["auth", "login", "t"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("mailsync: account t has no client_id: register an application"),
        "{}",
        stderr(&o)
    );

    let server = IdentityServer::start(vec![]);
    oauth_account(&w, &server, &imap_only(&w));
    let o = w.run(&["sync"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("account t has no stored OAuth2 sign-in ("), "{}", stderr(&o));
    assert!(stderr(&o).trim_end().ends_with("run `mailsync auth login t`"), "{}", stderr(&o));
    assert!(server.requests().is_empty());
}

#[test]
fn plain_http_authorities_other_than_loopback_are_refused() {
    let w = World::new(Profile::Outlook, false);
    w.write(
        &format!(
            "auth = \"xoauth2\"\nclient_id = \"{CLIENT_ID}\"\nauthority = \"http://login.example.test\""
        ),
        &imap_only(&w),
    );
    let o = w.run(&["auth", "login", "t"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("plain http authority `http://login.example.test` is only allowed for 127.0.0.1 in accounts.t.authority"),
        "{}",
        stderr(&o)
    );
}
