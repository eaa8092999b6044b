//! Insert throughput of the store: an initial sync of 5,000 synthetic messages (about 228 MB, like the
//! reference mailbox) pushed through `apply_imap_batch` in batches of 250 into a file database (WAL,
//! `synchronous = FULL`), with and without the full-text index (text extraction included; what indexing
//! costs a whole sync, at most 15% by the budget, is measured by scripts/bench), compared with hashing + header indexing alone; and the planners'
//! read of a 100,000-location mailbox.
//!
//! Run: `cargo bench -p mailsync-store --bench insert`. Prints messages/s and MB/s (1 MB = 10^6 bytes)
//! next to criterion's own report.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mailsync_proto::types::{Uid, UidValidity};
use mailsync_store::{
    content_hash, index_message, ImapBatch, MailboxCursor, MailboxInfo, NewImapMessage, Store,
};

const MESSAGES: u32 = 5_000;
const BATCH: usize = 250;

/// A small deterministic generator (xorshift64*), so every run stores the same bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Message `n`: headers, a text part, and (every 10th message) a large base64 "attachment", so that
/// the average size is about 45.6 KB.
fn synthetic(n: u32, rng: &mut Rng) -> Vec<u8> {
    let mut m = format!(
        "Return-Path: <sender{n}@example.org>\r\nReceived: from mx.example.org by mx.example.com; \
         Tue, 1 Oct 2024 10:00:00 +0000\r\nMessage-ID: <{n}.synthetic@example.org>\r\n\
         Date: Tue, 1 Oct 2024 10:{:02}:00 +0000\r\nFrom: =?UTF-8?Q?S=C3=A9nder_{n}?= <sender{n}@example.org>\r\n\
         To: Me <me@example.com>\r\nSubject: =?UTF-8?B?UmFwcG9ydCBtZW5zdWVs?= {n}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_b{n}\"\r\n\r\n--=_b{n}\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
        n % 60
    )
    .into_bytes();
    let words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"];
    while m.len() < 8_000 {
        let w = words.get(usize::try_from(rng.next() % 8).unwrap_or(0)).copied().unwrap_or("x");
        m.extend_from_slice(w.as_bytes());
        m.extend_from_slice(if rng.next() % 12 == 0 { b"\r\n" } else { b" " });
    }
    let attachment = if n % 10 == 0 { 330_000 } else { 6_000 };
    m.extend_from_slice(
        format!(
            "\r\n--=_b{n}\r\nContent-Type: application/pdf; name=\"r{n}.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"r{n}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut line = 0;
    for _ in 0..attachment {
        let i = usize::try_from(rng.next() % 64).unwrap_or(0);
        m.push(B64.get(i).copied().unwrap_or(b'A'));
        line += 1;
        if line == 76 {
            m.extend_from_slice(b"\r\n");
            line = 0;
        }
    }
    m.extend_from_slice(format!("\r\n--=_b{n}--\r\n").as_bytes());
    m
}

fn corpus() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (1..=MESSAGES).map(|n| synthetic(n, &mut rng)).collect()
}

fn batches(mailbox: mailsync_store::MailboxId, corpus: &[Vec<u8>]) -> Vec<ImapBatch> {
    let validity = UidValidity::try_from(1u32).ok();
    corpus
        .chunks(BATCH)
        .enumerate()
        .map(|(c, chunk)| {
            let mut b = ImapBatch::new(mailbox);
            for (i, raw) in chunk.iter().enumerate() {
                let uid = u32::try_from(c * BATCH + i + 1).ok().and_then(|u| Uid::try_from(u).ok());
                if let Some(uid) = uid {
                    b.new.push(NewImapMessage {
                        uid,
                        flags: vec!["\\Seen".to_owned()],
                        internaldate: Some(1_727_776_800),
                        modseq: None,
                        raw: raw.clone(),
                        prepared: None,
                    });
                }
            }
            b.cursor = validity.map(|uidvalidity| MailboxCursor {
                uidvalidity,
                uidnext: b.new.last().and_then(|m| Uid::try_from(m.uid.get() + 1).ok()),
                highestmodseq: None,
            });
            b
        })
        .collect()
}

fn report(what: &str, bytes: u64, samples: &mut [Duration]) {
    samples.sort();
    let Some(median) = samples.get(samples.len() / 2).copied() else { return };
    let secs = median.as_secs_f64();
    println!(
        "{what}: {MESSAGES} messages, {:.1} MB: median {secs:.3} s = {:.0} messages/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        f64::from(MESSAGES) / secs,
        bytes as f64 / 1e6 / secs
    );
}

fn bench_insert(c: &mut Criterion) {
    let corpus = corpus();
    let bytes: u64 = corpus.iter().map(|m| u64::try_from(m.len()).unwrap_or(0)).sum();
    let mut group = c.benchmark_group("initial_sync_5000");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::BytesDecimal(bytes));

    let mut cpu = Vec::new();
    group.bench_function("hash_and_index_only", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for raw in &corpus {
                    black_box(content_hash(raw));
                    black_box(index_message(raw));
                }
            }
            let t = start.elapsed();
            cpu.push(t / u32::try_from(iters).unwrap_or(1));
            t
        })
    });

    let mut full = Vec::new();
    group.bench_function("apply_imap_batch_file_wal_full", |b| {
        b.iter_custom(|iters| initial_syncs(iters, &corpus, true, &mut full))
    });
    let mut bare = Vec::new();
    group.bench_function("apply_imap_batch_without_text_index", |b| {
        b.iter_custom(|iters| initial_syncs(iters, &corpus, false, &mut bare))
    });
    group.finish();
    report("hash + index only", bytes, &mut cpu);
    report("apply_imap_batch (file, WAL, synchronous=FULL, batches of 250)", bytes, &mut full);
    report("the same without the full-text index", bytes, &mut bare);
    full.sort();
    bare.sort();
    if let (Some(with), Some(without)) = (full.get(full.len() / 2), bare.get(bare.len() / 2)) {
        let share = (with.as_secs_f64() - without.as_secs_f64()) / with.as_secs_f64() * 100.0;
        println!(
            "full-text indexing: {share:.1}% of the store's time (median with vs without; text extraction \
             included, which a real sync does off the writer: scripts/bench measures the share of a sync)"
        );
    }
}

/// `iters` initial syncs of `corpus` into fresh file stores; records each one's time in `times`.
fn initial_syncs(iters: u64, corpus: &[Vec<u8>], text_index: bool, times: &mut Vec<Duration>) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path().join("bench.db")).expect("open");
        store.set_text_index(text_index);
        let account = store.account("bench").expect("account");
        let info =
            MailboxInfo { name: "INBOX".into(), delimiter: Some('/'), attributes: vec![], special_use: None };
        let mailbox = store.upsert_mailbox(account, &info).expect("mailbox");
        let work = batches(mailbox, corpus);
        let start = Instant::now();
        for batch in work {
            black_box(store.apply_imap_batch(batch).expect("apply"));
        }
        let t = start.elapsed();
        total += t;
        times.push(t);
    }
    total
}

fn bench_planner_read(c: &mut Criterion) {
    let mut store = Store::open_in_memory().expect("open");
    let account = store.account("bench").expect("account");
    let info = MailboxInfo { name: "INBOX".into(), delimiter: None, attributes: vec![], special_use: None };
    let mailbox = store.upsert_mailbox(account, &info).expect("mailbox");
    for chunk in 0..100u32 {
        let mut b = ImapBatch::new(mailbox);
        for i in 0..1000u32 {
            let n = chunk * 1000 + i + 1;
            if let Ok(uid) = Uid::try_from(n) {
                b.new.push(NewImapMessage {
                    uid,
                    flags: vec!["\\Seen".into()],
                    internaldate: None,
                    modseq: None,
                    raw: format!("Subject: {n}\r\n\r\n{n}").into_bytes(),
                    prepared: None,
                });
            }
        }
        store.apply_imap_batch(b).expect("apply");
    }
    let mut group = c.benchmark_group("planner");
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("imap_locations_100k", |b| {
        b.iter_batched(
            || (),
            |()| black_box(store.imap_locations(mailbox).expect("read")),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_insert, bench_planner_read);
criterion_main!(benches);
