//! IMAP receive-path benchmarks (`cargo bench -p mailsync-proto --bench imap`).
//!
//! (a) Frame + parse a FETCH stream of 1,000 messages of 50 KB each, fed in 16 KiB chunks: through
//!     the framer and parser alone, and through the whole session (target: 1 GB/s or more).
//! (b) One 100 MB literal fed in 4 KiB chunks versus in one piece (target: at most 2x apart).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mailsync_proto::imap::{parse_response, Event, Framer, ImapSession, Response, SessionConfig, Untagged};

const MESSAGES: usize = 1_000;
const MESSAGE_SIZE: usize = 50_000;
const LITERAL_SIZE: usize = 100_000_000;

/// A message body of `size` bytes: header lines, then 76-column text lines.
fn message(size: usize, n: usize) -> Vec<u8> {
    let mut m = format!("Subject: message {n}\r\nFrom: a@example.org\r\n\r\n").into_bytes();
    let line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\r\n";
    while m.len() + line.len() <= size {
        m.extend_from_slice(line);
    }
    m.resize(size, b'x');
    m
}

/// `* n FETCH (UID n FLAGS (\Seen) RFC822.SIZE s BODY[] {s}...)` for every message, then a tagged OK.
fn fetch_stream() -> Vec<u8> {
    let mut out = Vec::with_capacity(MESSAGES * (MESSAGE_SIZE + 100));
    for n in 1..=MESSAGES {
        let body = message(MESSAGE_SIZE, n);
        out.extend_from_slice(
            format!(
                "* {n} FETCH (UID {} FLAGS (\\Seen) RFC822.SIZE {} BODY[] {{{}}}\r\n",
                n + 1000,
                body.len(),
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&body);
        out.extend_from_slice(b")\r\n");
    }
    out
}

fn bench_fetch_stream(c: &mut Criterion) {
    let stream = fetch_stream();
    let mut group = c.benchmark_group("fetch_stream_1000x50KB_16KiB_chunks");
    group.throughput(Throughput::Bytes(u64::try_from(stream.len()).unwrap_or(u64::MAX)));
    group.sample_size(20);
    group.bench_function("framer+parser", |b| {
        b.iter(|| {
            let mut framer = Framer::default();
            let mut buf = BytesMut::new();
            let mut bodies = 0usize;
            for chunk in stream.chunks(16 * 1024) {
                buf.extend_from_slice(chunk);
                while let Some(frame) = framer.decode(&mut buf).expect("frame") {
                    if let Ok(Response::Untagged(Untagged::Fetch(f))) = parse_response(&frame) {
                        bodies +=
                            f.bodies.iter().filter_map(|b| b.data.as_ref()).map(Bytes::len).sum::<usize>();
                    }
                }
            }
            assert_eq!(bodies, MESSAGES * MESSAGE_SIZE);
            black_box(bodies)
        })
    });
    group.bench_function("session", |b| {
        b.iter(|| {
            let mut s = ImapSession::new(SessionConfig::default());
            s.feed(b"* OK ready\r\n");
            let mut fetches = 0usize;
            for chunk in stream.chunks(16 * 1024) {
                s.feed(chunk);
                while let Some(e) = s.poll_event().expect("event") {
                    if let Event::Untagged(Untagged::Fetch(f)) = e {
                        fetches += 1;
                        black_box(&f.bodies);
                    }
                }
            }
            assert_eq!(fetches, MESSAGES);
            black_box(fetches)
        })
    });
    group.finish();
}

fn bench_big_literal(c: &mut Criterion) {
    let mut wire = format!("* 1 FETCH (UID 7 BODY[] {{{LITERAL_SIZE}}}\r\n").into_bytes();
    wire.extend(std::iter::repeat_n(b'a', LITERAL_SIZE));
    wire.extend_from_slice(b")\r\n");
    let mut group = c.benchmark_group("literal_100MB");
    group.throughput(Throughput::Bytes(u64::try_from(wire.len()).unwrap_or(u64::MAX)));
    group.sample_size(10);
    let run = |chunk: usize, wire: &[u8]| {
        let mut s = ImapSession::new(SessionConfig::default());
        s.feed(b"* OK ready\r\n");
        let _ = s.poll_event();
        let mut got = 0usize;
        for piece in wire.chunks(chunk) {
            s.feed(piece);
            while let Some(e) = s.poll_event().expect("event") {
                if let Event::Untagged(Untagged::Fetch(f)) = e {
                    got += f.bodies.iter().filter_map(|b| b.data.as_ref()).map(Bytes::len).sum::<usize>();
                }
            }
        }
        assert_eq!(got, LITERAL_SIZE);
        got
    };
    group.bench_function("4KiB_chunks", |b| {
        b.iter_batched(|| (), |()| black_box(run(4096, &wire)), BatchSize::PerIteration)
    });
    group.bench_function("one_piece", |b| {
        b.iter_batched(|| (), |()| black_box(run(wire.len(), &wire)), BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group!(benches, bench_fetch_stream, bench_big_literal);
criterion_main!(benches);
