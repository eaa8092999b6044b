//! A deterministic generated mailbox: realistic messages (multipart text + HTML, some attachments) from a
//! seed, for crash tests and benchmarks. The same seed gives the same bytes on every machine.

/// A small, fast, seedable generator (SplitMix64): enough for test data, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo)
        }
    }
}

/// Which sizes to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeMix {
    /// 1-8 KB text messages: many messages quickly.
    Small,
    /// The benchmark mix: mostly 2-20 KB multiparts, about 3% with a 100 KB-2 MB attachment (about 45 KB on
    /// average, like the reference mailbox of 5,000 messages in 228 MB).
    Realistic,
}

const WORDS: [&str; 32] = [
    "meeting", "report", "quarter", "budget", "invoice", "schedule", "project", "review", "draft", "update",
    "customer", "release", "server", "mailbox", "folder", "sync", "agenda", "minutes", "travel", "holiday",
    "contract", "proposal", "deadline", "feedback", "design", "lunch", "office", "team", "weekly", "summary",
    "launch", "notes",
];

fn words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n * 8);
    for i in 0..n {
        if i > 0 {
            s.push(if rng.range(0, 12) == 0 { '\n' } else { ' ' });
        }
        s.push_str(WORDS[usize::try_from(rng.range(0, 32)).unwrap_or(0)]);
    }
    s
}

/// Message number `i` of the corpus with `seed`: CRLF line endings, unique Message-ID.
pub fn message(seed: u64, i: u64, mix: SizeMix) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let day = 1 + rng.range(0, 28);
    let subject = words(&mut rng, 4).replace('\n', " ");
    let from = WORDS[usize::try_from(rng.range(0, 32)).unwrap_or(0)];
    let (text_words, attachment) = match mix {
        SizeMix::Small => (rng.range(60, 450), 0),
        SizeMix::Realistic => {
            let big = rng.range(0, 30) == 0;
            (rng.range(120, 1200), if big { rng.range(100_000, 2_000_000) } else { 0 })
        }
    };
    let body = words(&mut rng, usize::try_from(text_words).unwrap_or(0));
    let mut m = format!(
        "From: {from} <{from}@example.com>\r\nTo: alice@example.org\r\nSubject: {subject} #{i}\r\n\
         Date: {day:02} Mar 2026 {h:02}:{min:02}:00 +0000\r\nMessage-ID: <gen-{seed}-{i}@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b-{i}\"\r\n\r\n\
         --b-{i}\r\nContent-Type: multipart/alternative; boundary=\"a-{i}\"\r\n\r\n\
         --a-{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --a-{i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{html}</p></body></html>\r\n\
         --a-{i}--\r\n",
        h = rng.range(0, 24),
        min = rng.range(0, 60),
        text = body.replace('\n', "\r\n"),
        html = body.replace('\n', "</p>\r\n<p>"),
    );
    if attachment > 0 {
        m.push_str(&format!(
            "--b-{i}\r\nContent-Type: application/octet-stream; name=\"data-{i}.bin\"\r\n\
             Content-Disposition: attachment; filename=\"data-{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut line = Vec::with_capacity(78);
        let mut left = attachment;
        while left > 0 {
            line.clear();
            for _ in 0..76.min(left) {
                line.push(alphabet[usize::try_from(rng.next_u64() % 64).unwrap_or(0)]);
            }
            left = left.saturating_sub(76);
            m.push_str(std::str::from_utf8(&line).unwrap_or(""));
            m.push_str("\r\n");
        }
    }
    m.push_str(&format!("--b-{i}--\r\n"));
    m.into_bytes()
}

/// Messages `0..n` of the corpus with `seed`.
pub fn messages(seed: u64, n: u64, mix: SizeMix) -> Vec<Vec<u8>> {
    (0..n).map(|i| message(seed, i, mix)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        assert_eq!(message(7, 3, SizeMix::Realistic), message(7, 3, SizeMix::Realistic));
        assert_ne!(message(7, 3, SizeMix::Small), message(7, 4, SizeMix::Small));
        let m = message(7, 3, SizeMix::Small);
        assert!(m.windows(2).filter(|w| w == b"\r\n").count() > 5);
        assert!(!m.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'), "bare LF in generated mail");
    }

    #[test]
    fn realistic_mix_has_attachments_and_small_mix_does_not() {
        let sizes: Vec<usize> = messages(1, 500, SizeMix::Realistic).iter().map(Vec::len).collect();
        assert!(sizes.iter().any(|s| *s > 100_000));
        assert!(sizes.iter().filter(|s| **s < 25_000).count() > 450);
        assert!(messages(1, 200, SizeMix::Small).iter().all(|m| m.len() < 12_000));
    }
}
