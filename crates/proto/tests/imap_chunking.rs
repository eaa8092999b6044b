//! Read boundaries must not matter: any way of cutting a transcript's server bytes into chunks (with
//! the session drained after each chunk) yields the same events, client bytes and states as feeding
//! each burst whole.
//!
//! `starttls_injection.trace` is left out on purpose: injection is detected only when the injected
//! bytes are already buffered when the STARTTLS OK is read; arriving later, they belong to the TLS
//! stream in real life, which the engine's handshake would reject.

#[path = "imap_harness.rs"]
mod harness;

use harness::{load_all, replay, Replay, Trace};
use proptest::prelude::*;

fn traces() -> Vec<Trace> {
    load_all().into_iter().filter(|t| t.name != "starttls_injection.trace").collect()
}

fn whole(t: &Trace) -> Replay {
    replay(t, &mut |_| Vec::new())
}

/// A small deterministic generator (xorshift64*), so a failing case is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// Cut offsets for a burst of `len` bytes: chunks of 1 to `max_chunk` bytes.
fn cuts(rng: &mut Rng, len: usize, max_chunk: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        at += 1 + rng.below(max_chunk);
        if at >= len {
            return out;
        }
        out.push(at);
    }
}

#[test]
fn byte_at_a_time_matches_whole() {
    for t in traces() {
        let expected = whole(&t);
        let got = replay(&t, &mut |len| (1..len).collect());
        assert_eq!(got, expected, "{}", t.name);
    }
}

#[test]
fn transcripts_have_events_to_compare() {
    for t in traces() {
        assert!(whole(&t).observed.len() >= 2, "{} reports too little to be a useful check", t.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_matches_whole(seed in any::<u64>(), max_chunk in 1usize..200) {
        let mut rng = Rng(seed | 1);
        for t in traces() {
            let expected = whole(&t);
            let got = replay(&t, &mut |len| cuts(&mut rng, len, max_chunk));
            prop_assert_eq!(&got, &expected, "{} (seed {}, max chunk {})", t.name, seed, max_chunk);
        }
    }

    #[test]
    fn all_server_bytes_in_one_burst_or_random_pieces_agree(seed in any::<u64>()) {
        // Cut points anywhere at all, including inside literal headers and CRLF pairs.
        let mut rng = Rng(seed | 1);
        for t in traces() {
            let expected = whole(&t);
            let got = replay(&t, &mut |len| {
                let mut c: Vec<usize> = (0..rng.below(8)).map(|_| rng.below(len)).collect();
                c.sort_unstable();
                c
            });
            prop_assert_eq!(&got, &expected, "{} (seed {})", t.name, seed);
        }
    }
}
