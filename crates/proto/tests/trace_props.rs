//! Property tests of the protocol trace recorder: any bytes, either way, in any pieces, never make it panic;
//! how the bytes are cut into reads never changes the records; a secret the client sent never comes out,
//! whatever the server wraps around it (echoes, base64, literals); and reading any text back never panics.

use base64::Engine as _;
use mailsync_proto::trace::{read, Content, Protocol, Record, Recorder};
use proptest::prelude::*;

/// Bytes rich in the ones that matter to the framing and to the redaction.
fn tricky(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            2 => Just(b'{'),
            2 => Just(b'}'),
            2 => Just(b'+'),
            2 => Just(b' '),
            1 => Just(b'.'),
            1 => Just(b'*'),
            6 => any::<u8>(),
        ],
        0..max,
    )
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Imap), Just(Protocol::Pop3), Just(Protocol::Smtp)]
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![Just(Content::None), Just(Content::Headers), Just(Content::Full)]
}

/// Feeds the steps (`true`: client), each cut into pieces of `cut` bytes; returns every record.
fn run(p: Protocol, c: Content, steps: &[(bool, Vec<u8>)], cut: usize) -> Vec<Record> {
    let mut r = Recorder::new(p, c);
    let mut out = Vec::new();
    for (client, bytes) in steps {
        for piece in bytes.chunks(cut.max(1)) {
            out.extend(if *client { r.client(piece) } else { r.server(piece) });
        }
    }
    out.extend(r.finish());
    out
}

/// The text of the records, as a trace shows it.
fn text(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| {
            let (k, t) = r.render();
            format!("{} {t}\n", k.as_str())
        })
        .collect()
}

proptest! {
    #[test]
    fn any_bytes_in_any_pieces_give_the_same_records(
        p in protocol(),
        c in content(),
        steps in prop::collection::vec((any::<bool>(), tricky(300)), 0..12),
        cut in 1usize..64,
    ) {
        let whole = run(p, c, &steps, usize::MAX);
        let pieces = run(p, c, &steps, cut);
        prop_assert_eq!(text(&whole), text(&pieces));
    }

    #[test]
    fn a_secret_sent_never_comes_out_whatever_the_server_wraps_it_in(
        p in protocol(),
        c in content(),
        before in tricky(200),
        after in tricky(200),
        secret in "[A-Za-z0-9._~-]{8,40}",
        cut in 1usize..64,
        b64 in any::<bool>(),
    ) {
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let login: Vec<u8> = match p {
            Protocol::Imap => format!("A0001 LOGIN alice {secret}\r\n").into_bytes(),
            Protocol::Pop3 => format!("USER alice\r\nPASS {secret}\r\n").into_bytes(),
            Protocol::Smtp => format!("AUTH PLAIN {}\r\n", b(&format!("\0alice\0{secret}"))).into_bytes(),
        };
        let echoed = if b64 { b(&format!("xx{secret}yy")) } else { secret.clone() };
        let server = [before.as_slice(), echoed.as_bytes(), after.as_slice(), b"\r\n"].concat();
        let steps = vec![(false, b"greeting\r\n".to_vec()), (true, login), (false, server)];
        let out = text(&run(p, c, &steps, cut));
        prop_assert!(!out.contains(&secret), "{}", out);
        let core = &b(&format!("xx{secret}yy"))[4..12];
        prop_assert!(!out.contains(core), "{}", out);
    }

    #[test]
    fn reading_any_text_never_panics(s in "(.{0,40}\n){0,10}") {
        let _ = read(&s);
    }
}
