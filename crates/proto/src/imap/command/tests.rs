//! Byte-literal tests for every command, every argument form and the log rendering.

use super::*;
use crate::types::Uid;

const PLAIN: EncodeOptions = EncodeOptions { literal_plus: false, sasl_ir: false };
const PLUS: EncodeOptions = EncodeOptions { literal_plus: true, sasl_ir: false };
const SASL_IR: EncodeOptions = EncodeOptions { literal_plus: false, sasl_ir: true };

fn chunks(cmd: &Command, opts: EncodeOptions) -> Vec<Vec<u8>> {
    cmd.encode("A1", opts).chunks
}

/// The command's bytes, asserting they form a single chunk.
fn line(cmd: &Command, opts: EncodeOptions) -> Vec<u8> {
    let chunks = chunks(cmd, opts);
    assert_eq!(chunks.len(), 1, "expected one chunk for {cmd:?}, got {chunks:?}");
    chunks.concat()
}

fn modseq(n: u64) -> ModSeq {
    ModSeq::try_from(n).unwrap_or_else(|e| panic!("{e}"))
}

fn uidvalidity(n: u32) -> UidValidity {
    UidValidity::try_from(n).unwrap_or_else(|e| panic!("{e}"))
}

fn set(text: &[u8]) -> SequenceSet {
    SequenceSet::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn login(user: &str, password: &str) -> Command {
    Command::Login { user: user.to_owned(), password: Secret::from(password) }
}

#[test]
fn commands_without_arguments() {
    let table: &[(Command, &[u8], &str)] = &[
        (Command::Capability, b"A1 CAPABILITY\r\n", "CAPABILITY"),
        (Command::Noop, b"A1 NOOP\r\n", "NOOP"),
        (Command::Logout, b"A1 LOGOUT\r\n", "LOGOUT"),
        (Command::StartTls, b"A1 STARTTLS\r\n", "STARTTLS"),
        (Command::Namespace, b"A1 NAMESPACE\r\n", "NAMESPACE"),
        (Command::Idle, b"A1 IDLE\r\n", "IDLE"),
        (Command::Unselect, b"A1 UNSELECT\r\n", "UNSELECT"),
        (Command::Close, b"A1 CLOSE\r\n", "CLOSE"),
    ];
    for (cmd, wire, name) in table {
        assert_eq!(line(cmd, PLAIN), *wire);
        assert_eq!(line(cmd, PLUS), *wire);
        assert_eq!(cmd.name(), *name);
    }
}

#[test]
fn idle_done_line() {
    assert_eq!(IDLE_DONE, b"DONE\r\n");
}

#[test]
fn id_nil_and_parameter_list() {
    assert_eq!(line(&Command::Id(None), PLAIN), b"A1 ID NIL\r\n");
    assert_eq!(line(&Command::Id(Some(Vec::new())), PLAIN), b"A1 ID NIL\r\n");
    let params = vec![("name".to_owned(), "mailsync".to_owned()), ("version".to_owned(), "0.1.0".to_owned())];
    assert_eq!(
        line(&Command::Id(Some(params)), PLAIN),
        b"A1 ID (\"name\" \"mailsync\" \"version\" \"0.1.0\")\r\n"
    );
    let odd = vec![("os".to_owned(), "Lin\"ux".to_owned()), ("nil".to_owned(), "NIL".to_owned())];
    assert_eq!(line(&Command::Id(Some(odd)), PLAIN), b"A1 ID (\"os\" \"Lin\\\"ux\" \"nil\" \"NIL\")\r\n");
    let eight_bit = Command::Id(Some(vec![("vendor".to_owned(), "Müller".to_owned())]));
    assert_eq!(
        chunks(&eight_bit, PLAIN),
        [b"A1 ID (\"vendor\" {7}\r\n".to_vec(), b"M\xc3\xbcller)\r\n".to_vec()]
    );
    assert_eq!(Command::Id(None).name(), "ID");
}

#[test]
fn login_with_atoms() {
    assert_eq!(line(&login("alice", "hunter2"), PLAIN), b"A1 LOGIN alice hunter2\r\n");
    assert_eq!(
        line(&login("alice@example.com", "s3cr3t!"), PLAIN),
        b"A1 LOGIN alice@example.com s3cr3t!\r\n"
    );
    assert_eq!(login("a", "b").name(), "LOGIN");
}

#[test]
fn login_quotes_what_atoms_cannot_carry() {
    assert_eq!(line(&login("", "two words"), PLAIN), b"A1 LOGIN \"\" \"two words\"\r\n");
    assert_eq!(line(&login("NIL", "(x)"), PLAIN), b"A1 LOGIN \"NIL\" \"(x)\"\r\n");
    assert_eq!(line(&login("my\"user", "p%*"), PLAIN), b"A1 LOGIN \"my\\\"user\" \"p%*\"\r\n");
    assert_eq!(line(&login("back\\slash", "x"), PLAIN), b"A1 LOGIN \"back\\\\slash\" x\r\n");
}

#[test]
fn login_password_round_trips_through_a_literal() {
    let table: &[(&str, &[u8], &[u8])] = &[
        ("pa\"ss", b"A1 LOGIN alice {5}\r\n", b"pa\"ss\r\n"),
        ("pa\\ss", b"A1 LOGIN alice {5}\r\n", b"pa\\ss\r\n"),
        ("pässwörd", b"A1 LOGIN alice {10}\r\n", b"p\xc3\xa4ssw\xc3\xb6rd\r\n"),
        ("line\r\nbreak", b"A1 LOGIN alice {11}\r\n", b"line\r\nbreak\r\n"),
        ("nul\0", b"A1 LOGIN alice {4}\r\n", b"nul\0\r\n"),
    ];
    for &(password, head, tail) in table {
        let cmd = login("alice", password);
        assert_eq!(chunks(&cmd, PLAIN), [head.to_vec(), tail.to_vec()], "password {password:?}");
        let mut plus = head.to_vec();
        let brace = plus.len() - 3;
        plus.insert(brace, b'+');
        plus.extend_from_slice(tail);
        assert_eq!(line(&cmd, PLUS), plus, "password {password:?}");
    }
}

#[test]
fn login_with_two_literals_needs_two_continuations() {
    let cmd = login("jürgen", "gänse");
    assert_eq!(
        chunks(&cmd, PLAIN),
        [b"A1 LOGIN {7}\r\n".to_vec(), b"j\xc3\xbcrgen {6}\r\n".to_vec(), b"g\xc3\xa4nse\r\n".to_vec()]
    );
    assert_eq!(line(&cmd, PLUS), b"A1 LOGIN {7+}\r\nj\xc3\xbcrgen {6+}\r\ng\xc3\xa4nse\r\n");
}

#[test]
fn authenticate_with_and_without_sasl_ir() {
    let plain = Command::Authenticate {
        mechanism: "PLAIN".to_owned(),
        initial_response: Some(Secret::new(b"\0alice\0hunter2".to_vec())),
    };
    assert_eq!(line(&plain, SASL_IR), b"A1 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=\r\n");
    // Without SASL-IR the initial response waits for the server's "+".
    assert_eq!(line(&plain, PLAIN), b"A1 AUTHENTICATE PLAIN\r\n");
    let empty = Command::Authenticate {
        mechanism: "EXTERNAL".to_owned(),
        initial_response: Some(Secret::new(Vec::new())),
    };
    assert_eq!(line(&empty, SASL_IR), b"A1 AUTHENTICATE EXTERNAL =\r\n");
    assert_eq!(line(&empty, PLAIN), b"A1 AUTHENTICATE EXTERNAL\r\n");
    let none = Command::Authenticate { mechanism: "XOAUTH2".to_owned(), initial_response: None };
    assert_eq!(line(&none, SASL_IR), b"A1 AUTHENTICATE XOAUTH2\r\n");
    assert_eq!(none.name(), "AUTHENTICATE");
}

#[test]
fn authenticate_mechanism_cannot_inject_a_line() {
    let evil = Command::Authenticate { mechanism: "PLAIN\r\nA2 LOGOUT".to_owned(), initial_response: None };
    assert_eq!(
        chunks(&evil, PLAIN),
        [b"A1 AUTHENTICATE {16}\r\n".to_vec(), b"PLAIN\r\nA2 LOGOUT\r\n".to_vec()]
    );
}

#[test]
fn sasl_response_after_continuation() {
    assert_eq!(sasl_response(b"\0alice\0hunter2"), b"AGFsaWNlAGh1bnRlcjI=\r\n");
    assert_eq!(sasl_response(b""), b"\r\n");
}

#[test]
fn enable_capabilities() {
    let cmd = Command::Enable(vec!["CONDSTORE".to_owned(), "QRESYNC".to_owned()]);
    assert_eq!(line(&cmd, PLAIN), b"A1 ENABLE CONDSTORE QRESYNC\r\n");
    assert_eq!(line(&Command::Enable(vec!["UTF8=ACCEPT".to_owned()]), PLAIN), b"A1 ENABLE UTF8=ACCEPT\r\n");
    assert_eq!(cmd.name(), "ENABLE");
}

fn list(reference: &str, pattern: &str, return_special_use: bool) -> Command {
    Command::List { reference: reference.to_owned(), pattern: pattern.to_owned(), return_special_use }
}

#[test]
fn list_patterns_keep_wildcards() {
    let table: &[(Command, &[u8])] = &[
        (list("", "*", false), b"A1 LIST \"\" *\r\n"),
        (list("", "%", false), b"A1 LIST \"\" %\r\n"),
        (list("", "*", true), b"A1 LIST \"\" * RETURN (SPECIAL-USE)\r\n"),
        (list("", "", false), b"A1 LIST \"\" \"\"\r\n"),
        (list("inbox", "%", false), b"A1 LIST INBOX %\r\n"),
        (list("~/Mail/", "%", false), b"A1 LIST ~/Mail/ %\r\n"),
        (list("", "Sent Items/*", false), b"A1 LIST \"\" \"Sent Items/*\"\r\n"),
        (list("", "Entwürfe/*", false), b"A1 LIST \"\" Entw&APw-rfe/*\r\n"),
        (list("Gelöschte Elemente", "%", false), b"A1 LIST \"Gel&APY-schte Elemente\" %\r\n"),
    ];
    for (cmd, wire) in table {
        assert_eq!(line(cmd, PLAIN), *wire);
    }
    assert_eq!(list("", "*", true).name(), "LIST");
}

#[test]
fn status_items() {
    let cmd = Command::Status {
        mailbox: "INBOX".into(),
        items: vec![
            StatusItem::Messages,
            StatusItem::Recent,
            StatusItem::UidNext,
            StatusItem::UidValidity,
            StatusItem::Unseen,
            StatusItem::HighestModSeq,
            StatusItem::Size,
        ],
    };
    assert_eq!(
        line(&cmd, PLAIN),
        b"A1 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)\r\n"
    );
    assert_eq!(cmd.name(), "STATUS");
    let intl = Command::Status { mailbox: "台北".into(), items: vec![StatusItem::UidNext] };
    assert_eq!(line(&intl, PLAIN), b"A1 STATUS &U,BTFw- (UIDNEXT)\r\n");
}

#[test]
fn mailbox_names_inbox_any_case_and_mutf7() {
    let table: &[(&str, &[u8])] = &[
        ("INBOX", b"A1 SELECT INBOX\r\n"),
        ("inbox", b"A1 SELECT INBOX\r\n"),
        ("InBoX", b"A1 SELECT INBOX\r\n"),
        ("INBOX.Sent", b"A1 SELECT INBOX.Sent\r\n"),
        ("Sent Items", b"A1 SELECT \"Sent Items\"\r\n"),
        ("Tom & Jerry", b"A1 SELECT \"Tom &- Jerry\"\r\n"),
        ("~peter/mail/台北/日本語", b"A1 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n"),
        ("Nil", b"A1 SELECT \"Nil\"\r\n"),
        ("a\"b", b"A1 SELECT \"a\\\"b\"\r\n"),
        ("line\r\nbreak", b"A1 SELECT line&AA0ACg-break\r\n"),
        ("", b"A1 SELECT \"\"\r\n"),
    ];
    for &(mailbox, wire) in table {
        let cmd = Command::Select { mailbox: mailbox.into(), condstore: false, qresync: None };
        assert_eq!(line(&cmd, PLAIN), wire, "mailbox {mailbox:?}");
    }
}

#[test]
fn wire_names_go_back_as_the_server_spelled_them() {
    use crate::imap::command::MailboxName;
    let table: &[(&[u8], &[&[u8]])] = &[
        (b"Tab\there", &[b"A1 EXAMINE {8}\r\n", b"Tab\there\r\n"]),
        (b"&-broken", &[b"A1 EXAMINE &-broken\r\n"]),
        (b"caf\xc3\xa9", &[b"A1 EXAMINE {5}\r\n", b"caf\xc3\xa9\r\n"]),
    ];
    for &(name, wire) in table {
        let cmd =
            Command::Examine { mailbox: MailboxName::Wire(name.to_vec()), condstore: false, qresync: None };
        assert_eq!(chunks(&cmd, PLAIN), wire, "mailbox {name:?}");
    }
}

#[test]
fn select_and_examine_parameters() {
    let qresync = QresyncParams {
        uidvalidity: uidvalidity(67890007),
        modseq: modseq(20050715194045000),
        known_uids: None,
    };
    let with_known = QresyncParams { known_uids: Some(set(b"41,43:211,214:541")), ..qresync.clone() };
    let select = |condstore, qresync| Command::Select { mailbox: "INBOX".into(), condstore, qresync };
    let examine = |condstore, qresync| Command::Examine { mailbox: "INBOX".into(), condstore, qresync };
    let table: &[(Command, &[u8])] = &[
        (select(false, None), b"A1 SELECT INBOX\r\n"),
        (select(true, None), b"A1 SELECT INBOX (CONDSTORE)\r\n"),
        (select(false, Some(qresync.clone())), b"A1 SELECT INBOX (QRESYNC (67890007 20050715194045000))\r\n"),
        (select(true, Some(qresync.clone())), b"A1 SELECT INBOX (QRESYNC (67890007 20050715194045000))\r\n"),
        (
            select(false, Some(with_known.clone())),
            b"A1 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
        ),
        (examine(false, None), b"A1 EXAMINE INBOX\r\n"),
        (examine(true, None), b"A1 EXAMINE INBOX (CONDSTORE)\r\n"),
        (
            examine(false, Some(with_known)),
            b"A1 EXAMINE INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
        ),
    ];
    for (cmd, wire) in table {
        assert_eq!(line(cmd, PLAIN), *wire);
    }
    assert_eq!(select(false, None).name(), "SELECT");
    assert_eq!(examine(false, None).name(), "EXAMINE");
}

fn fetch(set_text: &[u8], items: Vec<FetchAttr>, changed_since: Option<ModSeq>, vanished: bool) -> Command {
    Command::UidFetch { set: set(set_text), items, changed_since, vanished }
}

#[test]
fn uid_fetch_items_and_modifiers() {
    use FetchAttr::*;
    let all = vec![Uid, Flags, InternalDate, Rfc822Size, ModSeq, BodyPeek, BodyPeekHeader];
    let table: &[(Command, &[u8])] = &[
        (fetch(b"1:*", vec![Uid, Flags], None, false), b"A1 UID FETCH 1:* (UID FLAGS)\r\n"),
        (
            fetch(b"1:500,502", all, None, false),
            b"A1 UID FETCH 1:500,502 (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[] BODY.PEEK[HEADER])\r\n",
        ),
        (fetch(b"7", vec![BodyPeek], None, false), b"A1 UID FETCH 7 (BODY.PEEK[])\r\n"),
        (
            fetch(b"1:*", vec![Flags], Some(modseq(12345)), false),
            b"A1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
        ),
        (
            fetch(b"300:500", vec![Uid, Flags, ModSeq], Some(modseq(12345)), true),
            b"A1 UID FETCH 300:500 (UID FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)\r\n",
        ),
        // Servers reject VANISHED without CHANGEDSINCE; it is still written as asked.
        (fetch(b"1:*", vec![Flags], None, true), b"A1 UID FETCH 1:* (FLAGS) (VANISHED)\r\n"),
    ];
    for (cmd, wire) in table {
        assert_eq!(line(cmd, PLAIN), *wire);
    }
    assert_eq!(fetch(b"1", vec![Uid], None, false).name(), "UID FETCH");
}

#[test]
fn uid_fetch_of_a_compacted_set() {
    let uids = [3u32, 1, 2, 10, 11, 20].iter().filter_map(|&n| Uid::try_from(n).ok());
    let Some(set) = SequenceSet::from_uids(uids) else { panic!("non-empty set") };
    let cmd = Command::UidFetch { set, items: vec![FetchAttr::Uid], changed_since: None, vanished: false };
    assert_eq!(line(&cmd, PLAIN), b"A1 UID FETCH 1:3,10:11,20 (UID)\r\n");
}

fn search(criteria: SearchKey) -> Command {
    Command::UidSearch { criteria }
}

#[test]
fn uid_search_keys() {
    use SearchKey::*;
    let table: &[(Command, &[u8])] = &[
        (search(All), b"A1 UID SEARCH ALL\r\n"),
        (search(Uid(set(b"1:5,9"))), b"A1 UID SEARCH UID 1:5,9\r\n"),
        (search(ModSeqSince(modseq(620162338))), b"A1 UID SEARCH MODSEQ 620162338\r\n"),
        (search(Not(Box::new(Uid(set(b"3"))))), b"A1 UID SEARCH NOT UID 3\r\n"),
        (
            search(And(vec![Uid(set(b"1:*")), Not(Box::new(ModSeqSince(modseq(5))))])),
            b"A1 UID SEARCH UID 1:* NOT MODSEQ 5\r\n",
        ),
        (search(And(Vec::new())), b"A1 UID SEARCH ALL\r\n"),
        (search(And(vec![ModSeqSince(modseq(7))])), b"A1 UID SEARCH MODSEQ 7\r\n"),
        (
            search(Not(Box::new(And(vec![Uid(set(b"1")), ModSeqSince(modseq(2))])))),
            b"A1 UID SEARCH NOT (UID 1 MODSEQ 2)\r\n",
        ),
        (
            search(And(vec![All, And(vec![Uid(set(b"2")), Uid(set(b"3"))])])),
            b"A1 UID SEARCH ALL (UID 2 UID 3)\r\n",
        ),
        (search(Not(Box::new(And(Vec::new())))), b"A1 UID SEARCH NOT ALL\r\n"),
    ];
    for (cmd, wire) in table {
        assert_eq!(line(cmd, PLAIN), *wire);
    }
    assert_eq!(search(All).name(), "UID SEARCH");
}

#[test]
fn the_tag_comes_first() {
    assert_eq!(Command::Noop.encode("x42", PLAIN).chunks, [b"x42 NOOP\r\n".to_vec()]);
}

#[test]
fn redacted_hides_passwords() {
    let cmd = login("alice", "hunter2");
    assert_eq!(cmd.redacted("A1"), "A1 LOGIN alice <redacted>");
    let cmd = login("alice", "pa\"ss");
    assert_eq!(cmd.redacted("A1"), "A1 LOGIN alice <redacted>");
    let cmd = login("jürgen", "gänse");
    assert_eq!(cmd.redacted("A7"), "A7 LOGIN <literal 7 bytes> <redacted>");
}

#[test]
fn redacted_hides_initial_responses() {
    let cmd = Command::Authenticate {
        mechanism: "XOAUTH2".to_owned(),
        initial_response: Some(Secret::new(b"user=a\x01auth=Bearer tok\x01\x01".to_vec())),
    };
    assert_eq!(cmd.redacted("A2"), "A2 AUTHENTICATE XOAUTH2 <redacted>");
    assert_eq!(line(&cmd, SASL_IR), b"A1 AUTHENTICATE XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHRvawEB\r\n");
}

#[test]
fn redacted_reads_like_the_wire_otherwise() {
    let cmd = Command::Select { mailbox: "Sent Items".into(), condstore: true, qresync: None };
    assert_eq!(cmd.redacted("A3"), "A3 SELECT \"Sent Items\" (CONDSTORE)");
    let cmd = fetch(b"1:*", vec![FetchAttr::Flags], Some(modseq(9)), true);
    assert_eq!(cmd.redacted("A4"), "A4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 9 VANISHED)");
    let cmd = Command::Id(Some(vec![("vendor".to_owned(), "Müller\r\n".to_owned())]));
    assert_eq!(cmd.redacted("A5"), "A5 ID (\"vendor\" <literal 9 bytes>)");
}
