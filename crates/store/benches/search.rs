//! Search over 100,000 generated messages in a file store (WAL): a two-word query with a date range
//! returning its first page (50 rows, newest first), and the empty query streaming every row with its
//! locations. The budget: first page under 20 ms median, all 100,000 rows under 1 s.
//!
//! Run: `cargo bench -p mailsync-store --bench search`. Building the store takes a while (it goes
//! through `apply_imap_batch`, index included); the medians are printed after criterion's report.
//! With `MAILSYNC_BENCH_DB=PATH` the store is built at PATH (or reused from there) and kept, e.g. to
//! time the CLI on it: `mailsync --db PATH --json search > /dev/null`.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use mailsync_proto::types::{Uid, UidValidity};
use mailsync_store::query::Query;
use mailsync_store::{
    ImapBatch, MailboxCursor, MailboxInfo, NewImapMessage, SearchOptions, Store, StoreError,
};

const MESSAGES: u32 = 100_000;
const BATCH: u32 = 1_000;
/// 2020-01-01T00:00:00Z and five years of seconds: the generated dates.
const START: i64 = 1_577_836_800;
const SPAN: i64 = 5 * 365 * 86_400;

/// A small deterministic generator (xorshift64*), so every run stores the same messages.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
    }
}

/// 3,000 pseudo-words, picked with a skewed distribution (low indexes are common, like real text).
fn vocabulary() -> Vec<String> {
    let syllables =
        ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "do", "fe", "gi", "ho", "ju"];
    let mut rng = Rng(0x51_7c_c1_b7_27_22_0a_95);
    (0..3_000)
        .map(|_| {
            let n = 2 + rng.below(3);
            (0..n).map(|_| syllables[rng.below(syllables.len())]).collect::<String>()
        })
        .collect()
}

fn pick<'a>(words: &'a [String], rng: &mut Rng) -> &'a str {
    // The minimum of two uniform picks: word i has probability ~ 2(n-i)/n².
    let i = rng.below(words.len()).min(rng.below(words.len()));
    words.get(i).map_or("x", String::as_str)
}

fn date_header(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let weekday = t.weekday().to_string();
    let month = t.month().to_string();
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        weekday.get(..3).unwrap_or("Mon"),
        t.day(),
        month.get(..3).unwrap_or("Jan"),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn message(n: u32, words: &[String], rng: &mut Rng) -> Vec<u8> {
    let date = START + i64::try_from(rng.next() % u64::try_from(SPAN).unwrap_or(1)).unwrap_or(0);
    let subject: Vec<&str> = (0..5).map(|_| pick(words, rng)).collect();
    let mut body = String::new();
    for i in 0..120 {
        body.push_str(pick(words, rng));
        body.push_str(if i % 12 == 11 { "\r\n" } else { " " });
    }
    format!(
        "Message-ID: <{n}.bench@example.org>\r\nDate: {}\r\nFrom: Sender {} <s{}@example.org>\r\n\
         To: me@example.com\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        date_header(date),
        n % 500,
        n % 500,
        subject.join(" ")
    )
    .into_bytes()
}

fn build(path: &std::path::Path) -> Store {
    let words = vocabulary();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut store = Store::open(path).expect("open");
    let account = store.account("bench").expect("account");
    let info =
        MailboxInfo { name: "INBOX".into(), delimiter: Some('/'), attributes: vec![], special_use: None };
    let mailbox = store.upsert_mailbox(account, &info).expect("mailbox");
    let started = Instant::now();
    for chunk in 0..MESSAGES / BATCH {
        let mut b = ImapBatch::new(mailbox);
        for i in 0..BATCH {
            let n = chunk * BATCH + i + 1;
            let Ok(uid) = Uid::try_from(n) else { continue };
            b.new.push(NewImapMessage {
                uid,
                flags: if n % 3 == 0 { vec![] } else { vec!["\\Seen".into()] },
                internaldate: None,
                modseq: None,
                raw: message(n, &words, &mut rng),
                prepared: None,
            });
        }
        b.cursor = UidValidity::try_from(1u32).ok().map(|uidvalidity| MailboxCursor {
            uidvalidity,
            uidnext: Uid::try_from((chunk + 1) * BATCH + 1).ok(),
            highestmodseq: None,
        });
        store.apply_imap_batch(b).expect("apply");
    }
    println!("built {MESSAGES} messages in {:.1} s", started.elapsed().as_secs_f64());
    store
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn bench_search(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = match std::env::var_os("MAILSYNC_BENCH_DB").map(std::path::PathBuf::from) {
        Some(path) if path.exists() => Store::open(&path).expect("open"),
        Some(path) => build(&path),
        None => build(&dir.path().join("search.db")),
    };
    let words = vocabulary();
    // Two words of middling frequency, and half a year.
    let two_words = format!("{} {} date:2022-01-01..2022-06-30", words[40], words[90]);
    let query = Query::parse(&two_words).expect("query");
    let all = Query::parse("").expect("query");
    let first_page = SearchOptions { limit: Some(50), ..SearchOptions::default() };
    let total = store.count_matches(&query).expect("count");
    println!("query {two_words:?} matches {total} messages");

    let mut group = c.benchmark_group("search_100k");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    let mut page = Vec::new();
    group.bench_function("two_words_date_range_first_page", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let t = Instant::now();
                let n = store
                    .search(&query, &first_page, |hit| {
                        black_box(hit);
                        Ok::<_, StoreError>(())
                    })
                    .expect("search");
                page.push(t.elapsed());
                black_box(n);
            }
            start.elapsed()
        })
    });
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    let mut stream = Vec::new();
    let mut rows = 0;
    group.bench_function("empty_query_streams_all_rows", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let t = Instant::now();
                let mut out = std::io::BufWriter::new(std::io::sink());
                rows = store
                    .search(&all, &SearchOptions::default(), |hit| {
                        // What `mailsync --json search` prints per row (a serde_json Value here, which
                        // costs more than the CLI's derived struct).
                        let first = hit.locations.first();
                        let row = serde_json::json!({
                            "id": hit.id.get(),
                            "account": first.map(|l| l.account.as_str()),
                            "via": first.map(|l| l.protocol.as_str()),
                            "folder": first.and_then(|l| l.folder.as_deref()),
                            "uid": first.and_then(|l| l.uid).map(|u| u.get()),
                            "message_id": hit.message_id,
                            "date": hit.date,
                            "from": hit.from,
                            "to": hit.to,
                            "subject": hit.subject,
                            "flags": hit.flags(),
                            "size": hit.size,
                            "sha256": hit.sha256_hex(),
                        });
                        let _ = serde_json::to_writer(&mut out, &row);
                        let _ = out.write_all(b"\n");
                        Ok::<_, StoreError>(())
                    })
                    .expect("search");
                stream.push(t.elapsed());
            }
            start.elapsed()
        })
    });
    group.finish();
    println!(
        "two words + date range, first page of 50 (of {total}): median {:.2} ms",
        median(&mut page).as_secs_f64() * 1e3
    );
    println!("empty query, {rows} rows streamed: median {:.0} ms", median(&mut stream).as_secs_f64() * 1e3);
}

criterion_group!(benches, bench_search);
criterion_main!(benches);
