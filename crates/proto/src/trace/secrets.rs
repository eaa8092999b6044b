//! The secrets a connection has sent, learned from the client's own login lines, and their removal from
//! every line of the trace, in both directions: a server that echoes a password or a token in an error, or a
//! body that quotes one, still leaves none in the file.
//!
//! Owns: what counts as a secret's form (the bytes themselves, the base64 the SASL line carried, and the
//! base64 of the secret at each of the three byte alignments it can have inside a larger base64 text) and
//! replacing every occurrence with `<redacted>`. Must never: keep a secret longer than the connection, or
//! print one. Secrets shorter than [`MIN_SECRET`] bytes are removed where the protocol puts them (the
//! recorder's structural redaction) but not searched for in other text, where they would match by chance.
//!
//! RFC 4648 section 4 (base64), RFC 4616 (PLAIN), the XOAUTH2 and OAUTHBEARER (RFC 7628) initial responses.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use memchr::memmem;

/// The shortest secret searched for in all text.
pub const MIN_SECRET: usize = 4;

/// The shortest base64 core (the part of a secret's base64 that does not depend on its neighbours)
/// searched for.
const MIN_CORE: usize = 8;

/// What replaces a secret.
pub const REDACTED: &[u8] = b"<redacted>";

/// The secret forms of one connection.
#[derive(Default)]
pub struct Secrets {
    forms: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} forms)", self.forms.len())
    }
}

impl Secrets {
    /// A password or a token, as bytes.
    pub fn learn(&mut self, secret: &[u8]) {
        if secret.len() < MIN_SECRET {
            return;
        }
        self.add(secret.to_vec());
        self.add(STANDARD.encode(secret).into_bytes());
        for form in base64_cores(secret) {
            self.add(form);
        }
    }

    /// A SASL response line as sent (base64): the line itself, and the secrets inside its decoding (the
    /// token of `auth=Bearer TOKEN`, the password of `authzid NUL user NUL password`, or the whole of it).
    pub fn learn_sasl(&mut self, line: &[u8]) {
        let line = line.trim_ascii();
        if line.len() >= MIN_SECRET {
            self.add(line.to_vec());
        }
        let Ok(raw) = STANDARD.decode(line).or_else(|_| STANDARD_NO_PAD.decode(line)) else { return };
        self.learn_decoded(&raw);
    }

    fn learn_decoded(&mut self, raw: &[u8]) {
        if raw.contains(&0x01) {
            // XOAUTH2 `user=U ^A auth=Bearer T ^A ^A`, OAUTHBEARER `n,a=U, ^A host=H ^A auth=Bearer T ^A ^A`.
            for part in raw.split(|b| *b == 0x01) {
                if let Some(value) = strip_prefix_ignore_case(part, b"auth=") {
                    self.learn(value);
                    if let Some(token) = strip_prefix_ignore_case(value, b"bearer ") {
                        self.learn(token.trim_ascii());
                    }
                }
            }
        } else if let Some(password) = raw.split(|b| *b == 0).nth(2) {
            // PLAIN: authzid NUL authcid NUL passwd.
            self.learn(password);
        } else {
            // LOGIN's answers, or any other mechanism: all of it.
            self.learn(raw);
        }
        self.learn(raw);
    }

    fn add(&mut self, form: Vec<u8>) {
        if !self.forms.contains(&form) {
            self.forms.push(form);
            self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        }
    }

    /// `bytes` with every known form replaced by `<redacted>`, longest forms first.
    pub fn scrub(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for form in &self.forms {
            if memmem::find(&out, form).is_none() {
                continue;
            }
            let mut next = Vec::with_capacity(out.len());
            let mut at = 0;
            for i in memmem::find_iter(&out, form) {
                if i < at {
                    continue;
                }
                next.extend_from_slice(&out[at..i]);
                next.extend_from_slice(REDACTED);
                at = i + form.len();
            }
            next.extend_from_slice(&out[at..]);
            out = next;
        }
        out
    }
}

/// The base64 characters that encode `secret` whatever surrounds it, for each of the three offsets (mod 3)
/// at which it can start inside a larger encoded text: the characters that also carry a neighbour's bits are
/// left out at both ends.
fn base64_cores(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut cores = Vec::new();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(secret);
        let encoded = STANDARD_NO_PAD.encode(&padded).into_bytes();
        let start = (offset * 8).div_ceil(6);
        let end = ((offset + secret.len()) * 8) / 6;
        if let Some(core) = encoded.get(start..end) {
            if core.len() >= MIN_CORE {
                cores.push(core.to_vec());
            }
        }
    }
    cores
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(s: &Secrets, text: &[u8]) -> String {
        String::from_utf8_lossy(&s.scrub(text)).into_owned()
    }

    #[test]
    fn a_learned_password_goes_from_any_text_and_from_any_base64_around_it() {
        let mut s = Secrets::default();
        s.learn(b"hunter2-pw");
        assert_eq!(scrubbed(&s, b"NO bad password hunter2-pw!"), "NO bad password <redacted>!");
        // Inside a base64 text at every alignment (what PLAIN sends, or a server echoing it).
        for prefix in ["", "a", "ab", "\0alice\0"] {
            let blob = STANDARD.encode(format!("{prefix}hunter2-pw and more"));
            let out = scrubbed(&s, blob.as_bytes());
            assert!(out.contains("<redacted>"), "{prefix:?}: {out}");
            for core in base64_cores(b"hunter2-pw") {
                assert!(!out.as_bytes().windows(core.len()).any(|w| w == core.as_slice()), "{out}");
            }
        }
    }

    #[test]
    fn sasl_lines_teach_the_token_the_password_or_the_whole_answer() {
        // (raw SASL response, secret it must teach, text that must stay)
        let rows: &[(&[u8], &[u8], &str)] = &[
            (b"user=alice\x01auth=Bearer eyJhbGciOi.tok-en_1\x01\x01", b"eyJhbGciOi.tok-en_1", "alice"),
            (b"n,a=alice,\x01host=h\x01port=993\x01auth=Bearer T0KEN-xyz\x01\x01", b"T0KEN-xyz", "alice"),
            (b"\0alice\0pa55word", b"pa55word", "alice"),
            (b"authz\0alice\0pa55word", b"pa55word", "alice"),
            (b"pa55word", b"pa55word", "alice"),
        ];
        for (raw, secret, kept) in rows {
            let mut s = Secrets::default();
            let line = STANDARD.encode(raw);
            s.learn_sasl(line.as_bytes());
            let echo = [b"x ".as_slice(), secret, b" ", kept.as_bytes(), b" ", line.as_bytes()].concat();
            let out = scrubbed(&s, &echo);
            assert_eq!(out, format!("x <redacted> {kept} <redacted>"), "{raw:?}");
        }
    }

    #[test]
    fn short_secrets_are_not_searched_for() {
        let mut s = Secrets::default();
        s.learn(b"abc");
        assert_eq!(scrubbed(&s, b"abcdef"), "abcdef");
    }

    #[test]
    fn overlapping_and_repeated_forms() {
        let mut s = Secrets::default();
        s.learn(b"aaaa");
        assert_eq!(scrubbed(&s, b"aaaaaaaaa"), "<redacted><redacted>a");
        assert!(format!("{s:?}").starts_with("Secrets("), "no secret in Debug");
    }

    #[test]
    fn not_base64_is_still_learned_as_it_was_sent() {
        let mut s = Secrets::default();
        s.learn_sasl(b"not base64 at all!");
        assert_eq!(scrubbed(&s, b"echo: not base64 at all!"), "echo: <redacted>");
    }
}
