//! Message content in a trace: what of a message body (an IMAP FETCH literal, a POP3 RETR or TOP body, an
//! SMTP DATA body) is written, per [`Content`].
//!
//! Owns: [`Body`], which takes a body's bytes as they come and shows all of them (`full`), its header section
//! then `<N bytes>` (`headers`), or only `<N bytes>` with the header names it began with (`none`); the header
//! names; and the filler that stands for an elided body when a trace is replayed. Must never: show a byte of
//! a header value or of the body text in `none`, or of the body text in `headers`; hold more than
//! [`HEAD_CAP`] bytes of a body.
//!
//! RFC 5322 section 2.2 (header fields: a name of printable characters up to the colon; folded lines start
//! with white space), section 2.1 (the header section ends at the first empty line).

use memchr::memmem;

use super::display::Display;
use super::Content;

/// The most of a body's beginning kept to find its header section and names.
pub const HEAD_CAP: usize = 64 * 1024;

/// The most header names written for one body.
const MAX_NAMES: usize = 32;

/// One body on its way through: bytes in, shown or counted out.
#[derive(Debug)]
pub struct Body {
    mode: Content,
    /// The beginning, until the header section is complete or the cap is reached.
    head: Vec<u8>,
    /// Whether the head is still being collected.
    collecting: bool,
    /// Bytes not shown.
    elided: u64,
}

impl Body {
    /// A body to be shown per `mode`.
    pub fn new(mode: Content) -> Body {
        Body { mode, head: Vec::new(), collecting: mode != Content::Full, elided: 0 }
    }

    /// The next bytes of the body.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Display) {
        if self.mode == Content::Full {
            out.show(bytes);
            return;
        }
        if !self.collecting {
            self.elided += len64(bytes);
            return;
        }
        let room = HEAD_CAP - self.head.len();
        let (now, later) = bytes.split_at(bytes.len().min(room));
        self.head.extend_from_slice(now);
        let end = header_end(&self.head);
        if end.is_some() || self.head.len() >= HEAD_CAP {
            self.collecting = false;
            if self.mode == Content::Headers {
                // Shown up to the empty line, or (no empty line within the cap) up to the last whole line.
                let cut = end.or_else(|| memmem::rfind(&self.head, b"\r\n").map(|i| i + 2)).unwrap_or(0);
                out.show(&self.head[..cut]);
                self.elided += len64(&self.head[cut..]);
                self.head.clear();
            }
        }
        if !later.is_empty() {
            self.feed(later, out);
        }
    }

    /// The body is complete: writes what stands for the part not shown.
    pub fn finish(self, out: &mut Display) {
        match self.mode {
            Content::Full => {}
            Content::Headers => {
                if self.collecting {
                    // A body that ended inside its header section (a BODY[HEADER] literal, or a truncated
                    // body): all of it is header lines.
                    out.show(&self.head);
                }
                out.elide(self.elided, Vec::new());
            }
            Content::None => {
                let total = self.elided + len64(&self.head);
                out.elide(total, header_names(&self.head));
            }
        }
    }
}

fn len64(b: &[u8]) -> u64 {
    u64::try_from(b.len()).unwrap_or(u64::MAX)
}

/// Where the header section ends (after its empty line), if it does within `head`.
fn header_end(head: &[u8]) -> Option<usize> {
    if head.starts_with(b"\r\n") {
        return Some(2);
    }
    memmem::find(head, b"\r\n\r\n").map(|i| i + 4)
}

/// The names of the header fields at the start of `head`, in order, up to [`MAX_NAMES`]: a line that starts
/// with a printable, non-space character and has a colon after a valid name.
pub fn header_names(head: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if names.len() == MAX_NAMES {
            names.push("...".to_owned());
            break;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let name = &line[..colon];
        let valid = !name.is_empty() && name.len() <= 76 && name.iter().all(|b| (33..=126).contains(b));
        if valid {
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    names
}

/// `n` bytes that stand for an elided body in a replay: lines of `x` with CRLF (never a line that is `.`),
/// the last one shorter.
pub fn filler(n: u64) -> Vec<u8> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let left = n - out.len();
        if left <= 2 {
            out.extend(std::iter::repeat_n(b'x', left));
            break;
        }
        let body = (left - 2).min(76);
        out.extend(std::iter::repeat_n(b'x', body));
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Direction, Record};
    use super::*;

    const MSG: &[u8] =
        b"Return-Path: <a@b>\r\nSubject: private plans\r\n\tfolded\r\nX-Odd Name: v\r\n\r\nsecret body\r\n";

    fn run(mode: Content, chunks: &[&[u8]]) -> Vec<Record> {
        let mut d = Display::new(Direction::Server);
        let mut b = Body::new(mode);
        for c in chunks {
            b.feed(c, &mut d);
        }
        b.finish(&mut d);
        d.flush_part();
        d.take()
    }

    #[test]
    fn none_keeps_the_size_and_the_header_names_only() {
        for cut in [1, 7, 40, MSG.len()] {
            let (a, b) = MSG.split_at(cut.min(MSG.len()));
            let r = run(Content::None, &[a, b]);
            let want = Record::Elided {
                dir: Direction::Server,
                bytes: MSG.len() as u64,
                headers: vec!["Return-Path".into(), "Subject".into()],
            };
            assert_eq!(r, vec![want], "cut at {cut}");
        }
    }

    #[test]
    fn headers_shows_the_header_section_and_counts_the_body() {
        let r = run(Content::Headers, &[&MSG[..10], &MSG[10..]]);
        let text: Vec<String> = r
            .iter()
            .map(|r| match r {
                Record::Data { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
                Record::Elided { bytes, .. } => format!("<{bytes}>"),
            })
            .collect();
        assert_eq!(
            text,
            ["Return-Path: <a@b>", "Subject: private plans", "\tfolded", "X-Odd Name: v", "", "<13>"]
        );
    }

    #[test]
    fn full_shows_everything() {
        let r = run(Content::Full, &[MSG]);
        assert_eq!(r.len(), 6, "{r:?}");
        assert!(r.iter().all(|r| matches!(r, Record::Data { end: true, .. })));
    }

    #[test]
    fn a_body_without_an_empty_line_within_the_cap() {
        let big = b"A: b\r\n".repeat(HEAD_CAP / 6 + 10);
        let r = run(Content::None, &[&big]);
        match &r[..] {
            [Record::Elided { bytes, headers, .. }] => {
                assert_eq!(*bytes, big.len() as u64);
                assert_eq!(headers.len(), MAX_NAMES + 1);
                assert_eq!(headers.last().map(String::as_str), Some("..."));
            }
            other => panic!("{other:?}"),
        }
        let r = run(Content::Headers, &[&big]);
        let shown: usize = r
            .iter()
            .map(|r| match r {
                Record::Data { bytes, .. } => bytes.len() + 2,
                _ => 0,
            })
            .sum();
        let elided: u64 =
            r.iter().map(|r| if let Record::Elided { bytes, .. } = r { *bytes } else { 0 }).sum();
        assert_eq!(shown as u64 + elided, big.len() as u64);
        assert!(shown <= HEAD_CAP);
    }

    #[test]
    fn an_empty_body_and_a_header_only_body() {
        assert_eq!(
            run(Content::None, &[]),
            vec![Record::Elided { dir: Direction::Server, bytes: 0, headers: vec![] }]
        );
        let r = run(Content::Headers, &[b"From: a\r\n"]);
        assert_eq!(
            r,
            vec![
                Record::Data { dir: Direction::Server, bytes: b"From: a".to_vec(), end: true },
                Record::Elided { dir: Direction::Server, bytes: 0, headers: vec![] },
            ]
        );
    }

    #[test]
    fn filler_has_the_size_and_no_dot_line() {
        for n in [0u64, 1, 2, 3, 77, 78, 79, 1000] {
            let f = filler(n);
            assert_eq!(f.len() as u64, n);
            assert!(!f.split(|b| *b == b'\n').any(|l| l == b"." || l == b".\r"));
        }
    }
}
