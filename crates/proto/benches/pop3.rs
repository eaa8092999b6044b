//! POP3 RETR throughput: large messages with many dot-stuffed lines, fed to the session in 16 KiB
//! reads, as the engine's socket loop would. Criterion reports the wire bytes per second; the target
//! is at least 500 MB/s.
//!
//! `cargo bench -p mailsync-proto --bench pop3`

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mailsync_proto::pop3::{dot_stuff, Pop3Command, Pop3Config, Pop3Event, Pop3Session};
use mailsync_proto::SeqNum;
use std::hint::black_box;

const READ: usize = 16 * 1024;

/// A message of about `size` bytes of 76-column lines; every `dot_every`-th line starts with a dot
/// (0: none do).
fn message(size: usize, dot_every: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 128);
    out.extend_from_slice(b"From: bench@example.com\r\nSubject: throughput\r\n\r\n");
    let mut n = 0usize;
    while out.len() < size {
        if dot_every != 0 && n % dot_every == 0 {
            out.push(b'.');
        }
        let shift = u8::try_from(n % 26).unwrap_or(0);
        for k in 0..74u8 {
            out.push(b'A' + (k + shift) % 26);
        }
        out.extend_from_slice(b"\r\n");
        n += 1;
    }
    out
}

fn wire_for(msg: &[u8]) -> Vec<u8> {
    let mut wire = BytesMut::from(&b"+OK message follows\r\n"[..]);
    dot_stuff(msg, &mut wire);
    wire.to_vec()
}

/// One session, one RETR, the response fed in 16 KiB reads; returns the body length.
fn retr(wire: &[u8]) -> usize {
    let mut s = Pop3Session::new(Pop3Config { max_body: 256 * 1024 * 1024, ..Pop3Config::default() });
    s.feed(b"+OK ready\r\n");
    let _ = s.poll_event();
    let Ok(one) = SeqNum::try_from(1u32) else { return 0 };
    let _ = s.send(Pop3Command::Retr(one));
    let _ = s.poll_transmit();
    for read in wire.chunks(READ) {
        s.feed(read);
    }
    match s.poll_event() {
        Ok(Some(Pop3Event::Response { body: Some(body), .. })) => body.len(),
        _ => 0,
    }
}

fn bench_retr(c: &mut Criterion) {
    let mut group = c.benchmark_group("pop3_retr_16k_reads");
    for (name, size, dot_every) in [
        ("8MiB_every_4th_line_stuffed", 8 << 20, 4),
        ("8MiB_every_line_stuffed", 8 << 20, 1),
        ("8MiB_no_stuffing", 8 << 20, 0),
        ("64KiB_every_4th_line_stuffed", 64 << 10, 4),
    ] {
        let msg = message(size, dot_every);
        let wire = wire_for(&msg);
        assert_eq!(retr(&wire), msg.len(), "the bench message must decode whole");
        group.throughput(Throughput::Bytes(u64::try_from(wire.len()).unwrap_or(u64::MAX)));
        group.bench_with_input(BenchmarkId::from_parameter(name), &wire, |b, wire| {
            b.iter(|| retr(black_box(wire)))
        });
    }
    group.finish();
}

fn bench_listing(c: &mut Criterion) {
    let mut body = Vec::new();
    for n in 1..=20_000u32 {
        body.extend_from_slice(format!("{n} {:08X}{:08X}\r\n", n, 0x6650_f1a2u32).as_bytes());
    }
    let mut group = c.benchmark_group("pop3_uidl_parse");
    group.throughput(Throughput::Bytes(u64::try_from(body.len()).unwrap_or(u64::MAX)));
    group.bench_function("20000_listings", |b| {
        b.iter(|| mailsync_proto::pop3::parse_uidl_listings(black_box(&body)).map(|v| v.len()))
    });
    group.finish();
}

criterion_group!(benches, bench_retr, bench_listing);
criterion_main!(benches);
