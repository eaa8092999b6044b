//! What an IMAP conversation may show: the client's commands with their secrets taken out, the server's
//! responses with message content left out per [`Content`].
//!
//! Owns: the client side (LOGIN's password and any literal of LOGIN, AUTHENTICATE's initial response, every
//! line of an AUTHENTICATE exchange but an empty answer or `*`, and the arguments of a command this client
//! never sends, all become `<redacted>`; the secrets are learned for [`Secrets::scrub`]), and the server side
//! (the literals of a FETCH response are message content; other literals, such as a mailbox name, are shown).
//! Must never: show a client line of an AUTHENTICATE exchange that is not empty or `*`; decide from a line's
//! look alone that a secret is not one (commands are allow-listed by name).
//!
//! RFC 3501 sections 2.2.1 (tags), 4.3 (literals), 6.2.2 (AUTHENTICATE and its continuations), 6.2.3 (LOGIN),
//! 7.4.2 (FETCH response); RFC 4959 (SASL-IR); RFC 7888 (LITERAL+); RFC 2177 (IDLE, `DONE`).

use super::content::Body;
use super::display::Display;
use super::secrets::{Secrets, REDACTED};
use super::split::{literal_at_end, Unit};
use super::{Content, Policy};

/// The commands this client sends; any other has its arguments redacted.
const KNOWN: &[&str] = &[
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "STARTTLS",
    "NAMESPACE",
    "IDLE",
    "UNSELECT",
    "CLOSE",
    "ID",
    "ENABLE",
    "LIST",
    "LSUB",
    "STATUS",
    "SELECT",
    "EXAMINE",
    "FETCH",
    "SEARCH",
    "UID",
];

/// How the rest of the current client command is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// As it is.
    Plain,
    /// `<redacted>` for each line and literal.
    Redacted,
}

/// The IMAP policy of one connection.
#[derive(Debug)]
pub struct Imap {
    content: Content,
    /// The client command that continues after a literal, and how it is written.
    command: Option<Shown>,
    /// How the current client line (when cut into parts) is written.
    line: Shown,
    /// The literal the client is sending for a redacted command, to learn from.
    secret_literal: Option<Vec<u8>>,
    /// The tag of the AUTHENTICATE in progress.
    sasl: Option<Vec<u8>>,
    /// Whether the current server response (continued after a literal) is a FETCH.
    fetch: Option<bool>,
    /// The FETCH literal being left out.
    body: Option<Body>,
}

impl Imap {
    /// A connection's policy.
    pub fn new(content: Content) -> Imap {
        Imap {
            content,
            command: None,
            line: Shown::Plain,
            secret_literal: None,
            sasl: None,
            fetch: None,
            body: None,
        }
    }

    /// The first part of a new client line: decides how it and its command are written.
    fn command_line(&mut self, bytes: &[u8], out: &mut Display, secrets: &mut Secrets) -> Shown {
        if let Some(shown) = self.command {
            // The line that continues a command after its literal.
            if shown == Shown::Redacted {
                out.mark(REDACTED);
            } else {
                out.show(bytes);
            }
            return shown;
        }
        if self.sasl.is_some() {
            return sasl_answer(bytes, out, secrets);
        }
        if bytes.eq_ignore_ascii_case(b"DONE") {
            out.show(bytes);
            return Shown::Plain;
        }
        let mut words = bytes.splitn(3, |b| *b == b' ');
        let (tag, name, rest) = (words.next().unwrap_or_default(), words.next(), words.next());
        let Some(name) = name.filter(|n| is_atom(tag) && is_atom(n)) else {
            out.mark(REDACTED);
            return Shown::Redacted;
        };
        let upper = name.to_ascii_uppercase();
        let head = [tag, b" ", name].concat();
        match upper.as_slice() {
            b"LOGIN" => {
                out.show(&head);
                let args = rest.unwrap_or_default();
                let (user, password) = split_astring(args);
                if let Some(user) = user {
                    out.show(b" ");
                    out.show(user);
                }
                if let Some(p) = password {
                    secrets.learn(&unquote(p));
                }
                out.show(b" ");
                out.mark(REDACTED);
                Shown::Redacted
            }
            b"AUTHENTICATE" => {
                self.sasl = Some(tag.to_vec());
                let mut args = rest.unwrap_or_default().splitn(2, |b| *b == b' ');
                let mechanism = args.next().unwrap_or_default();
                out.show(&head);
                if !mechanism.is_empty() {
                    out.show(b" ");
                    out.show(mechanism);
                }
                if let Some(ir) = args.next() {
                    secrets.learn_sasl(ir);
                    out.show(b" ");
                    out.mark(REDACTED);
                }
                Shown::Redacted
            }
            known if KNOWN.iter().any(|k| k.as_bytes() == known) => {
                out.show(bytes);
                Shown::Plain
            }
            _ => {
                out.show(&head);
                if rest.is_some() {
                    out.show(b" ");
                    out.mark(REDACTED);
                }
                Shown::Redacted
            }
        }
    }
}

/// A client line inside an AUTHENTICATE exchange: only an empty answer (acknowledging an error challenge) or
/// `*` (cancel) is shown.
fn sasl_answer(bytes: &[u8], out: &mut Display, secrets: &mut Secrets) -> Shown {
    if bytes.is_empty() || bytes == b"*" {
        out.show(bytes);
        Shown::Plain
    } else {
        secrets.learn_sasl(bytes);
        out.mark(REDACTED);
        Shown::Redacted
    }
}

impl Policy for Imap {
    fn client(&mut self, unit: Unit<'_>, out: &mut Display, secrets: &mut Secrets) -> u64 {
        match unit {
            Unit::Literal { bytes, last } => {
                if let Some(buf) = &mut self.secret_literal {
                    if buf.len() < 64 * 1024 {
                        buf.extend_from_slice(bytes);
                    }
                    if last {
                        secrets.learn(buf);
                        self.secret_literal = None;
                    }
                } else {
                    out.show(bytes);
                }
                0
            }
            Unit::Line { bytes, first, end } => {
                if first {
                    self.line = self.command_line(bytes, out, secrets);
                } else if self.line == Shown::Plain {
                    out.show(bytes);
                }
                if !end {
                    return 0;
                }
                out.show(b"\r\n");
                match literal_at_end(bytes) {
                    Some(n) => {
                        self.command = Some(self.line);
                        if self.line == Shown::Redacted && n > 0 {
                            self.secret_literal = Some(Vec::new());
                        }
                        n
                    }
                    None => {
                        self.command = None;
                        0
                    }
                }
            }
        }
    }

    fn server(&mut self, unit: Unit<'_>, out: &mut Display) -> u64 {
        match unit {
            Unit::Literal { bytes, last } => {
                match &mut self.body {
                    Some(body) => body.feed(bytes, out),
                    None => out.show(bytes),
                }
                if last {
                    if let Some(body) = self.body.take() {
                        body.finish(out);
                    }
                }
                0
            }
            Unit::Line { bytes, first, end } => {
                let fetch = match self.fetch {
                    Some(f) => f,
                    None => {
                        if first {
                            self.end_sasl(bytes);
                        }
                        is_fetch(bytes)
                    }
                };
                out.show(bytes);
                if !end {
                    return 0;
                }
                out.show(b"\r\n");
                match literal_at_end(bytes) {
                    Some(n) => {
                        self.fetch = Some(fetch);
                        if fetch && self.content != Content::Full {
                            let body = Body::new(self.content);
                            if n == 0 {
                                body.finish(out);
                            } else {
                                self.body = Some(body);
                            }
                        }
                        n
                    }
                    None => {
                        self.fetch = None;
                        0
                    }
                }
            }
        }
    }
}

impl Imap {
    /// The server's tagged answer to AUTHENTICATE ends the exchange.
    fn end_sasl(&mut self, line: &[u8]) {
        if let Some(tag) = &self.sasl {
            let tagged = line.strip_prefix(tag.as_slice()).is_some_and(|r| r.first() == Some(&b' '));
            if tagged {
                self.sasl = None;
            }
        }
    }
}

/// `* N FETCH ...`.
fn is_fetch(line: &[u8]) -> bool {
    let mut w = line.split(|b| *b == b' ');
    w.next() == Some(b"*")
        && w.next().is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
        && w.next().is_some_and(|n| n.eq_ignore_ascii_case(b"FETCH"))
}

/// A tag or command name: ASTRING-CHARs only (RFC 3501 section 9), no `{` (a literal is no name).
fn is_atom(w: &[u8]) -> bool {
    !w.is_empty() && w.iter().all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(b))
}

/// LOGIN's arguments as far as they are on this line: the user (an atom or a quoted string) and the
/// password after it. A literal is neither (its bytes come later).
fn split_astring(args: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let Some(end) = astring_end(args) else { return (None, None) };
    let user = &args[..end];
    let rest = args[end..].strip_prefix(b" ").unwrap_or_default();
    let password = astring_end(rest).map(|e| &rest[..e]);
    (Some(user), password)
}

/// Where the atom or quoted string at the start of `s` ends; `None` for a literal or nothing.
fn astring_end(s: &[u8]) -> Option<usize> {
    match s.first()? {
        b'{' => None,
        b'"' => {
            let mut i = 1;
            while i < s.len() {
                match s[i] {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
            Some(s.len())
        }
        _ => Some(s.iter().position(|b| *b == b' ').unwrap_or(s.len())),
    }
}

/// A quoted string's content, unescaped; an atom as it is.
fn unquote(s: &[u8]) -> Vec<u8> {
    let Some(inner) = s.strip_prefix(b"\"") else { return s.to_vec() };
    let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &b in inner {
        if b == b'\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Direction, Protocol, Record, Recorder};
    use super::*;

    fn trace(content: Content, steps: &[(char, &[u8])]) -> Vec<String> {
        super::super::testing::rendered(Protocol::Imap, content, steps)
    }

    fn no_secret(lines: &[String], secrets: &[&str]) {
        let all = lines.join("\n");
        for s in secrets {
            assert!(!all.contains(s), "{s:?} leaked:\n{all}");
        }
    }

    #[test]
    fn login_keeps_the_user_and_loses_the_password_in_every_form() {
        // (the LOGIN as sent, and the password)
        let rows: &[(&[u8], &str, &str)] = &[
            (b"A0001 LOGIN alice s3cr3t-pw\r\n", "s3cr3t-pw", "C: A0001 LOGIN alice <redacted>"),
            (b"A0001 LOGIN \"alice\" \"pa ss\\\"w\"\r\n", "pa ss\"w", "C: A0001 LOGIN \"alice\" <redacted>"),
            (b"a1 login alice {8+}\r\nlit-pass\r\n", "lit-pass", "C: a1 login alice <redacted>"),
            (b"A0001 LOGIN {5+}\r\nalice {9+}\r\nlit2-pass\r\n", "lit2-pass", "C: A0001 LOGIN <redacted>"),
        ];
        for (login, password, first) in rows {
            let t = trace(
                Content::None,
                &[
                    ('S', b"* OK ready\r\n"),
                    ('C', login),
                    ('S', format!("A0001 NO [AUTHENTICATIONFAILED] no {password}\r\n").as_bytes()),
                ],
            );
            assert_eq!(t[1], *first, "{t:?}");
            no_secret(&t, &[password, "pass"]);
            assert!(t.last().is_some_and(|l| l.ends_with("no <redacted>")), "server echo scrubbed: {t:?}");
        }
    }

    #[test]
    fn a_synchronising_literal_password_after_the_server_go_ahead() {
        let t = trace(
            Content::None,
            &[
                ('C', b"A0001 LOGIN alice {11}\r\n"),
                ('S', b"+ Ready for literal data\r\n"),
                ('C', b"syncpass-42\r\n"),
                ('S', b"A0001 OK Logged in\r\n"),
            ],
        );
        assert_eq!(
            t,
            [
                "C: A0001 LOGIN alice <redacted>",
                "S: + Ready for literal data",
                "C: <redacted>",
                "S: A0001 OK Logged in"
            ]
        );
    }

    #[test]
    fn authenticate_hides_the_initial_response_and_every_answer_but_the_empty_one() {
        let token = "eyJhbGciOiJIUzI1NiJ9.payload.sig";
        let ir = base64_of(&format!("user=alice\x01auth=Bearer {token}\x01\x01"));
        let challenge = base64_of("{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"}");
        let t = trace(
            Content::None,
            &[
                ('S', b"* OK ready\r\n"),
                ('C', format!("A0001 AUTHENTICATE XOAUTH2 {ir}\r\n").as_bytes()),
                ('S', format!("+ {challenge}\r\n").as_bytes()),
                ('C', b"\r\n"),
                ('S', b"A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
                // Without SASL-IR: the response goes after the first "+", and a second answer too.
                ('C', b"A0002 AUTHENTICATE PLAIN\r\n"),
                ('S', b"+ \r\n"),
                ('C', format!("{}\r\n", base64_of("\0alice\0plain-pw-9")).as_bytes()),
                ('S', b"+ more?\r\n"),
                ('C', b"c29tZXRoaW5nIGVsc2U=\r\n"),
                ('S', b"A0002 OK done\r\n"),
                ('C', b"A0003 CAPABILITY\r\n"),
            ],
        );
        assert_eq!(
            t,
            [
                "S: * OK ready",
                "C: A0001 AUTHENTICATE XOAUTH2 <redacted>",
                &format!("S: + {challenge}"),
                "C: ",
                "S: A0001 NO [AUTHENTICATIONFAILED] Authentication failed.",
                "C: A0002 AUTHENTICATE PLAIN",
                "S: + ",
                "C: <redacted>",
                "S: + more?",
                "C: <redacted>",
                "S: A0002 OK done",
                "C: A0003 CAPABILITY",
            ]
        );
        no_secret(&t, &[token, &ir, "plain-pw-9"]);
    }

    #[test]
    fn unknown_commands_and_lines_that_are_no_command_lose_their_arguments() {
        let t = trace(
            Content::None,
            &[(
                'C',
                b"A0001 XSECRET top secret\r\nbm90IGEgY29tbWFuZA==\r\nDONE\r\nA0002 UID FETCH 1:* (UID)\r\n",
            )],
        );
        assert_eq!(
            t,
            ["C: A0001 XSECRET <redacted>", "C: <redacted>", "C: DONE", "C: A0002 UID FETCH 1:* (UID)"]
        );
    }

    #[test]
    fn fetch_literals_are_content_and_other_literals_are_shown() {
        let msg = b"From: a@b\r\nSubject: hush\r\n\r\nBODYMARK\r\n";
        let fetch = [
            format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", msg.len()).into_bytes(),
            msg.to_vec(),
            b" FLAGS (\\Seen))\r\n* LIST () \"/\" {4}\r\nName\r\nA0005 OK done\r\n".to_vec(),
        ]
        .concat();
        let none = trace(Content::None, &[('S', &fetch)]);
        assert_eq!(
            none,
            [
                "S: * 1 FETCH (UID 7 BODY[] {38}",
                "S= <38 bytes> header names: From Subject",
                "S:  FLAGS (\\Seen))",
                "S: * LIST () \"/\" {4}",
                "S: Name",
                "S: A0005 OK done"
            ]
        );
        let headers = trace(Content::Headers, &[('S', &fetch)]);
        assert_eq!(headers[1..5], ["S: From: a@b", "S: Subject: hush", "S: ", "S= <10 bytes>"]);
        let full = trace(Content::Full, &[('S', &fetch)]);
        assert!(full.contains(&"S: BODYMARK".to_owned()), "{full:?}");
        for t in [&none, &headers] {
            no_secret(t, &["BODYMARK"]);
        }
        no_secret(&none, &["hush", "a@b"]);
    }

    #[test]
    fn a_server_that_puts_the_password_in_a_header_name_still_leaves_none() {
        let msg = b"X-Got-hunter2-pw: 1\r\n\r\nbody\r\n";
        let fetch = [format!("* 1 FETCH (BODY[] {{{}}}\r\n", msg.len()).as_bytes(), msg, b")\r\n"].concat();
        let t = trace(Content::None, &[('C', b"A0001 LOGIN alice hunter2-pw\r\n"), ('S', &fetch)]);
        assert_eq!(t[2], "S= <29 bytes> header names: X-Got-<redacted>", "{t:?}");
    }

    #[test]
    fn an_empty_fetch_literal_and_a_literal_split_over_reads() {
        let t = trace(
            Content::None,
            &[('S', b"* 2 FETCH (BODY[] {0}\r\n)\r\n* 3 FETCH (BODY[] {6}\r\nab"), ('S', b"cd\r\n)\r\n")],
        );
        assert_eq!(
            t,
            [
                "S: * 2 FETCH (BODY[] {0}",
                "S= <0 bytes>",
                "S: )",
                "S: * 3 FETCH (BODY[] {6}",
                "S= <6 bytes>",
                "S: )"
            ]
        );
    }

    #[test]
    fn a_client_literal_that_is_no_secret_is_shown() {
        let t = trace(Content::None, &[('C', b"A0004 EXAMINE {5+}\r\nInbox\r\n")]);
        assert_eq!(t, ["C: A0004 EXAMINE {5+}", "C: Inbox"]);
    }

    #[test]
    fn records_are_on_the_right_side() {
        let mut r = Recorder::new(Protocol::Imap, Content::None);
        assert!(matches!(r.client(b"A1 NOOP\r\n")[..], [Record::Data { dir: Direction::Client, .. }]));
        assert!(matches!(r.server(b"A1 OK\r\n")[..], [Record::Data { dir: Direction::Server, .. }]));
    }

    fn base64_of(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    }
}
