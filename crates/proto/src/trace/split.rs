//! One direction's bytes as the protocols frame them: lines ending in CRLF and, where a line announced one,
//! the IMAP literal that follows it.
//!
//! Owns: finding line ends across reads, switching to a literal's byte count when the policy says a line
//! announced one (RFC 3501 section 4.3), and cutting a line that outgrows [`super::display::LINE_CAP`] into
//! parts (keeping its last bytes, where a literal announcement would be). Must never: hold more than the cap;
//! drop or reorder a byte.

use memchr::memmem;

use super::display::LINE_CAP;

/// A line part keeps at least this much of the line for the next part.
const HOLD_BACK: usize = 64;

/// A piece of one direction's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit<'a> {
    /// Line bytes, CRLF not included.
    Line {
        /// The bytes.
        bytes: &'a [u8],
        /// Whether they start a line (false for the later parts of a line cut at the cap).
        first: bool,
        /// Whether the CRLF came (false for a part).
        end: bool,
    },
    /// Bytes of a literal.
    Literal {
        /// The bytes.
        bytes: &'a [u8],
        /// Whether they complete it.
        last: bool,
    },
}

/// Splits a stream; the callback gets each unit and returns, for a complete line, the size of the literal
/// that follows it (0 for none).
#[derive(Debug)]
pub struct Splitter {
    line: Vec<u8>,
    literal: u64,
    first: bool,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter { line: Vec::new(), literal: 0, first: true }
    }
}

impl Splitter {
    /// The next bytes of the stream.
    pub fn feed(&mut self, mut data: &[u8], f: &mut dyn FnMut(Unit<'_>) -> u64) {
        while !data.is_empty() {
            if self.literal > 0 {
                let n = usize::try_from(self.literal).unwrap_or(usize::MAX).min(data.len());
                let (now, rest) = data.split_at(n);
                self.literal -= u64::try_from(n).unwrap_or(u64::MAX);
                f(Unit::Literal { bytes: now, last: self.literal == 0 });
                data = rest;
                continue;
            }
            // A CR that ended the last read and the LF that starts this one.
            if self.line.last() == Some(&b'\r') && data.first() == Some(&b'\n') {
                self.line.pop();
                let line = std::mem::take(&mut self.line);
                self.end_line(&line, f);
                data = &data[1..];
                continue;
            }
            let Some(i) = memmem::find(data, b"\r\n") else {
                self.line.extend_from_slice(data);
                if self.line.len() > LINE_CAP {
                    let keep = self.line.split_off(self.line.len() - HOLD_BACK);
                    let part = std::mem::replace(&mut self.line, keep);
                    f(Unit::Line { bytes: &part, first: self.first, end: false });
                    self.first = false;
                }
                return;
            };
            if self.line.is_empty() {
                self.end_line(&data[..i], f);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&data[..i]);
                self.end_line(&line, f);
            }
            data = &data[i + 2..];
        }
    }

    fn end_line(&mut self, line: &[u8], f: &mut dyn FnMut(Unit<'_>) -> u64) {
        self.literal = f(Unit::Line { bytes: line, first: self.first, end: true });
        self.first = true;
    }

    /// The stream ended: an unfinished line goes out as a part.
    pub fn finish(&mut self, f: &mut dyn FnMut(Unit<'_>) -> u64) {
        if !self.line.is_empty() {
            let part = std::mem::take(&mut self.line);
            f(Unit::Line { bytes: &part, first: self.first, end: false });
        }
        self.first = true;
    }
}

/// The size of the literal a line announces at its end: `{N}`, `{N+}` (RFC 7888) or `~{N}` (RFC 3516).
pub fn literal_at_end(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        let mut f = |u: Unit<'_>| -> u64 {
            match u {
                Unit::Line { bytes, first, end } => {
                    out.push(format!(
                        "L{}{} {}",
                        u8::from(first),
                        u8::from(end),
                        String::from_utf8_lossy(bytes)
                    ));
                    if end {
                        literal_at_end(bytes).unwrap_or(0)
                    } else {
                        0
                    }
                }
                Unit::Literal { bytes, last } => {
                    out.push(format!("B{} {}", u8::from(last), String::from_utf8_lossy(bytes)));
                    0
                }
            }
        };
        for c in chunks {
            s.feed(c, &mut f);
        }
        s.finish(&mut f);
        out
    }

    #[test]
    fn lines_and_literals_across_any_reads() {
        let text: &[u8] = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n* LIST () \"/\" {3+}\r\n{1}\r\nA1 OK\r\n";
        let whole = units(&[text]);
        assert_eq!(
            whole,
            [
                "L11 * 1 FETCH (BODY[] {5}",
                "B1 ab\r\nc",
                "L11 )",
                "L11 * LIST () \"/\" {3+}",
                "B1 {1}",
                "L11 ",
                "L11 A1 OK"
            ]
        );
        for step in 1..text.len() {
            let chunks: Vec<&[u8]> = text.chunks(step).collect();
            let got = units(&chunks);
            // Literal bytes may come in several units; joined they are the same.
            let mut joined: Vec<String> = Vec::new();
            for u in got {
                match (joined.last_mut(), u.strip_prefix("B")) {
                    (Some(prev), Some(rest)) if prev.starts_with('B') => {
                        prev.replace_range(1..2, &rest[..1]);
                        prev.push_str(&rest[2..]);
                    }
                    _ => joined.push(u),
                }
            }
            assert_eq!(joined, whole, "reads of {step}");
        }
    }

    #[test]
    fn an_unfinished_line_is_a_part_at_the_end() {
        assert_eq!(units(&[b"+OK ready\r\nhalf"]), ["L11 +OK ready", "L10 half"]);
    }

    #[test]
    fn a_line_longer_than_the_cap_comes_in_parts_with_its_end_whole() {
        let mut s = Splitter::default();
        let mut parts = Vec::new();
        let mut f = |u: Unit<'_>| -> u64 {
            if let Unit::Line { bytes, first, end } = u {
                parts.push((bytes.len(), first, end, end.then(|| literal_at_end(bytes))));
            }
            0
        };
        let chunk = vec![b'1'; 256 * 1024];
        for _ in 0..9 {
            s.feed(&chunk, &mut f);
        }
        s.feed(b" {12}\r\n", &mut f);
        assert!(parts.len() >= 2, "{parts:?}");
        assert!(parts.iter().all(|p| p.0 <= LINE_CAP + chunk.len()));
        assert!(parts[0].1);
        assert!(parts[1..].iter().all(|p| !p.1));
        assert_eq!(parts.last().map(|p| (p.2, p.3)), Some((true, Some(Some(12)))));
        assert_eq!(parts.iter().map(|p| p.0).sum::<usize>(), 9 * chunk.len() + 5);
    }

    #[test]
    fn literal_announcements() {
        // (line, literal size)
        let rows: &[(&[u8], Option<u64>)] = &[
            (b"* 1 FETCH (BODY[] {123}", Some(123)),
            (b"A1 LOGIN {5+}", Some(5)),
            (b"* 1 FETCH (BINARY[] ~{0}", Some(0)),
            (b"* OK {x}", None),
            (b"* OK {}", None),
            (b"* OK }", None),
            (b"* OK {99999999999999999999}", None),
            (b"{12} trailing", None),
        ];
        for (line, want) in rows {
            assert_eq!(literal_at_end(line), *want, "{}", String::from_utf8_lossy(line));
        }
    }
}
