//! The IMAP response framer: bytes in, one complete response at a time out.
//!
//! Owns: finding where one server response ends, i.e. a line, or a line ending in a literal header
//! `{n}` (or `{n+}`, `~{n}`) followed by exactly n bytes and the rest of the line, repeated. The
//! caller's [`BytesMut`] is the connection-owned buffer; each complete response is split off it as a
//! [`Bytes`] (no copy), so a FETCH body handed out later is a slice of that same allocation.
//!
//! Must never: rescan bytes it has already looked at (it remembers its position and the literal it
//! is inside, so framing is linear in the input whatever the read boundaries); look inside literal
//! data; allocate on a server's say-so (a response or a literal over the cap is an error before any
//! byte of it is buffered beyond the cap); consume bytes of an incomplete response (need-more is
//! `Ok(None)` and leaves the buffer as it was).
//!
//! RFC 3501 section 2.2 (lines and literals), 4.3 (literal syntax), 7.5 (continuation lines);
//! RFC 7888 (`{n+}`) and RFC 3516 (`~{n}`) headers are recognised the same way.

use bytes::{Bytes, BytesMut};

use super::error::ImapError;

/// The default cap on one response, literal included: 256 MiB (room for a base64-encoded 150 MB
/// Outlook attachment).
pub const DEFAULT_MAX_RESPONSE: usize = 256 << 20;

/// The default cap on the text of one response line outside its literals: 16 MiB (a `UID SEARCH ALL` of two
/// million 7-digit UIDs). A line is text a server has no reason to make long; the literal cap is for mail.
pub const DEFAULT_MAX_LINE: usize = 16 << 20;

/// The longest digit run accepted in a literal header (19 digits always fit in a `u64`).
const MAX_LITERAL_DIGITS: usize = 19;

/// Splits complete responses off a receive buffer. See the module docs.
#[derive(Debug, Clone)]
pub struct Framer {
    /// The cap on one response.
    max_size: usize,
    /// The cap on one line of a response, literals not counted.
    max_line: usize,
    /// Bytes of the current response already examined (the next search starts here).
    scanned: usize,
    /// Where the current line segment began: the response start or the end of the last literal.
    segment_start: usize,
    /// When inside a literal: the offset just past its last byte.
    literal_end: Option<usize>,
    /// Set after an error; the stream position is lost for good.
    failed: bool,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(DEFAULT_MAX_RESPONSE)
    }
}

impl Framer {
    /// A framer that refuses responses longer than `max_size` bytes, and lines (outside literals) longer than
    /// [`DEFAULT_MAX_LINE`] or `max_size`, whichever is smaller.
    pub fn new(max_size: usize) -> Self {
        let max_line = max_size.min(DEFAULT_MAX_LINE);
        Framer { max_size, max_line, scanned: 0, segment_start: 0, literal_end: None, failed: false }
    }

    /// The same framer with another cap on one line outside literals.
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line.min(self.max_size);
        self
    }

    /// The cap on one response.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// How many bytes at the front of the buffer belong to a response that is not complete yet.
    pub fn pending(&self) -> usize {
        self.scanned
    }

    /// Splits the next complete response off the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed (nothing is consumed), `Ok(Some(frame))` with the
    /// response including its final CRLF, or an error when the response is over the cap. After an
    /// error every call fails: the connection must be dropped.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ImapError> {
        if self.failed {
            return Err(ImapError::FramerFailed);
        }
        if buf.len() < self.scanned {
            self.failed = true;
            return Err(ImapError::BufferShrank { expected: self.scanned, actual: buf.len() });
        }
        loop {
            if let Some(end) = self.literal_end {
                if buf.len() < end {
                    return Ok(None);
                }
                self.literal_end = None;
                self.scanned = end;
                self.segment_start = end;
            }
            let unscanned = buf.get(self.scanned..).unwrap_or_default();
            let Some(newline) = memchr::memchr(b'\n', unscanned) else {
                self.scanned = buf.len();
                if buf.len() > self.max_size {
                    return Err(self.fail_too_large(buf.len()));
                }
                if buf.len() - self.segment_start > self.max_line {
                    return Err(self.fail_line(buf.len() - self.segment_start));
                }
                return Ok(None);
            };
            let line_end = self.scanned + newline + 1;
            if line_end > self.max_size {
                return Err(self.fail_too_large(line_end));
            }
            if line_end - self.segment_start > self.max_line {
                return Err(self.fail_line(line_end - self.segment_start));
            }
            let segment = buf.get(self.segment_start..line_end).unwrap_or_default();
            match literal_header(segment) {
                LiteralHeader::None => {
                    let frame = buf.split_to(line_end).freeze();
                    self.scanned = 0;
                    self.segment_start = 0;
                    return Ok(Some(frame));
                }
                LiteralHeader::Size(n) => {
                    let end = line_end.checked_add(n).filter(|&end| end <= self.max_size);
                    let Some(end) = end else {
                        self.failed = true;
                        return Err(ImapError::LiteralTooLarge {
                            announced: u64::try_from(n).unwrap_or(u64::MAX),
                            limit: self.max_size,
                        });
                    };
                    self.literal_end = Some(end);
                    self.scanned = line_end;
                }
                LiteralHeader::Overflow => {
                    self.failed = true;
                    return Err(ImapError::LiteralTooLarge { announced: u64::MAX, limit: self.max_size });
                }
            }
        }
    }

    fn fail_too_large(&mut self, size: usize) -> ImapError {
        self.failed = true;
        ImapError::ResponseTooLarge { limit: self.max_size, size }
    }

    fn fail_line(&mut self, size: usize) -> ImapError {
        self.failed = true;
        ImapError::LineTooLong { limit: self.max_line, size }
    }
}

/// What the end of a line says about a following literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiteralHeader {
    /// The line does not end in a literal header: the response ends here.
    None,
    /// The line ends in `{n}` (or `{n+}`): n bytes of literal data follow.
    Size(usize),
    /// A literal header whose size does not fit in memory at all.
    Overflow,
}

/// Looks at the end of one line segment (which ends in LF) for `"{" number ["+"] "}" [CR] LF`.
///
/// Only the last few bytes are examined, and never bytes before the segment (literal data).
fn literal_header(segment: &[u8]) -> LiteralHeader {
    let line = segment.strip_suffix(b"\n").unwrap_or(segment);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(line) = line.strip_suffix(b"}") else {
        return LiteralHeader::None;
    };
    let line = line.strip_suffix(b"+").unwrap_or(line);
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let Some(open) = line.len().checked_sub(digits + 1) else {
        return LiteralHeader::None;
    };
    if digits == 0 || line.get(open) != Some(&b'{') {
        return LiteralHeader::None;
    }
    if digits > MAX_LITERAL_DIGITS {
        return LiteralHeader::Overflow;
    }
    let mut n: u64 = 0;
    for &d in line.get(open + 1..).unwrap_or_default() {
        n = n * 10 + u64::from(d - b'0');
    }
    match usize::try_from(n) {
        Ok(n) => LiteralHeader::Size(n),
        Err(_) => LiteralHeader::Overflow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut Framer, buf: &mut BytesMut) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(f) = framer.decode(buf).expect("frame") {
            out.push(f);
        }
        out
    }

    #[test]
    fn a_line_over_its_cap_fails_before_it_ends_and_literals_do_not_count() {
        let mut f = Framer::new(1 << 20).with_max_line(16);
        let mut buf = BytesMut::from(&b"* OK this line never ends and"[..]);
        assert!(matches!(f.decode(&mut buf), Err(ImapError::LineTooLong { limit: 16, .. })));
        let mut f = Framer::new(1 << 20).with_max_line(16);
        let mut buf =
            BytesMut::from(&b"* 1 FETCH (BODY[] {40}\r\n0123456789012345678901234567890123456789)\r\n"[..]);
        assert_eq!(
            f.decode(&mut buf).map(|x| x.map(|b| b.len())),
            Err(ImapError::LineTooLong { limit: 16, size: 24 })
        );
        let mut f = Framer::new(1 << 20).with_max_line(24);
        let mut buf =
            BytesMut::from(&b"* 1 FETCH (BODY[] {40}\r\n0123456789012345678901234567890123456789)\r\n"[..]);
        assert_eq!(f.decode(&mut buf).map(|x| x.map(|b| b.len())), Ok(Some(67)));
    }

    #[test]
    fn literal_header_forms() {
        assert_eq!(literal_header(b"* 1 FETCH (BODY[] {12}\r\n"), LiteralHeader::Size(12));
        assert_eq!(literal_header(b"{0}\r\n"), LiteralHeader::Size(0));
        assert_eq!(literal_header(b"x {7+}\r\n"), LiteralHeader::Size(7));
        assert_eq!(literal_header(b"x ~{3}\n"), LiteralHeader::Size(3));
        assert_eq!(literal_header(b"* OK done\r\n"), LiteralHeader::None);
        assert_eq!(literal_header(b"{}\r\n"), LiteralHeader::None);
        assert_eq!(literal_header(b"5}\r\n"), LiteralHeader::None);
        assert_eq!(literal_header(b"{5 }\r\n"), LiteralHeader::None);
        assert_eq!(literal_header(b"{99999999999999999999}\r\n"), LiteralHeader::Overflow);
    }

    #[test]
    fn splits_lines_one_at_a_time() {
        let mut f = Framer::default();
        let mut buf = BytesMut::from(&b"* OK hi\r\n* 3 EXISTS\r\nA1 OK"[..]);
        assert_eq!(frames(&mut f, &mut buf), vec![&b"* OK hi\r\n"[..], &b"* 3 EXISTS\r\n"[..]]);
        assert_eq!(&buf[..], b"A1 OK");
        buf.extend_from_slice(b" done\r\n");
        assert_eq!(frames(&mut f, &mut buf), vec![&b"A1 OK done\r\n"[..]]);
        assert!(buf.is_empty());
    }

    #[test]
    fn literal_with_newlines_inside_is_one_frame() {
        let wire = b"* 1 FETCH (BODY[] {9}\r\nab\r\n{2}\r\n UID 4)\r\n* 2 EXISTS\r\n";
        let mut f = Framer::default();
        let mut buf = BytesMut::from(&wire[..]);
        let got = frames(&mut f, &mut buf);
        assert_eq!(
            got,
            vec![&b"* 1 FETCH (BODY[] {9}\r\nab\r\n{2}\r\n UID 4)\r\n"[..], &b"* 2 EXISTS\r\n"[..]]
        );
    }

    #[test]
    fn literal_data_ending_in_brace_is_not_a_header() {
        // The literal's bytes end in "{"; the segment after it is "4}\r\n", which is no header.
        let wire = b"* 1 FETCH (BODY[] {3}\r\nab{4}\r\n";
        let mut f = Framer::default();
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(frames(&mut f, &mut buf), vec![&wire[..]]);
    }

    #[test]
    fn consecutive_literals() {
        let wire = b"* LIST () \"/\" {3}\r\nabc\r\n* X {1}\r\nz{2}\r\nqq\r\n";
        let mut f = Framer::default();
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(
            frames(&mut f, &mut buf),
            vec![&b"* LIST () \"/\" {3}\r\nabc\r\n"[..], &b"* X {1}\r\nz{2}\r\nqq\r\n"[..]]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_frames() {
        let wire: &[u8] =
            b"* OK [CAPABILITY IMAP4rev1] hi\r\n* 1 FETCH (UID 9 BODY[] {5}\r\nhe\r\no)\r\n+ \r\nA2 OK x\r\n";
        let mut whole = Framer::default();
        let mut wb = BytesMut::from(wire);
        let expected = frames(&mut whole, &mut wb);
        assert_eq!(expected.len(), 4);
        for cut in 0..=wire.len() {
            for cut2 in cut..=wire.len() {
                let mut f = Framer::default();
                let mut buf = BytesMut::new();
                let mut got = Vec::new();
                for part in [&wire[..cut], &wire[cut..cut2], &wire[cut2..]] {
                    buf.extend_from_slice(part);
                    got.extend(frames(&mut f, &mut buf));
                }
                assert_eq!(got, expected, "cuts at {cut},{cut2}");
            }
        }
    }

    #[test]
    fn need_more_consumes_nothing() {
        let mut f = Framer::default();
        let mut buf = BytesMut::from(&b"* 1 FETCH (BODY[] {10}\r\nabc"[..]);
        assert_eq!(f.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 27);
        assert_eq!(f.pending(), 24);
    }

    #[test]
    fn line_over_cap_is_an_error_and_sticks() {
        let mut f = Framer::new(16);
        let mut buf = BytesMut::from(&b"* OK 0123456789abcdef"[..]);
        assert_eq!(f.decode(&mut buf), Err(ImapError::ResponseTooLarge { limit: 16, size: 21 }));
        assert_eq!(f.decode(&mut buf), Err(ImapError::FramerFailed));
    }

    #[test]
    fn complete_line_over_cap_is_an_error() {
        let mut f = Framer::new(8);
        let mut buf = BytesMut::from(&b"* OK 1234\r\n"[..]);
        assert_eq!(f.decode(&mut buf), Err(ImapError::ResponseTooLarge { limit: 8, size: 11 }));
    }

    #[test]
    fn literal_over_cap_fails_before_its_bytes_arrive() {
        let mut f = Framer::new(1 << 20);
        let mut buf = BytesMut::from(&b"* 1 FETCH (BODY[] {4294967296}\r\n"[..]);
        assert_eq!(
            f.decode(&mut buf),
            Err(ImapError::LiteralTooLarge { announced: 4_294_967_296, limit: 1 << 20 })
        );
        let mut f = Framer::new(1 << 20);
        let mut buf = BytesMut::from(&b"* 1 FETCH (BODY[] {99999999999999999999}\r\n"[..]);
        assert_eq!(
            f.decode(&mut buf),
            Err(ImapError::LiteralTooLarge { announced: u64::MAX, limit: 1 << 20 })
        );
    }

    #[test]
    fn literal_exactly_at_cap_is_fine() {
        let head = b"* 1 FETCH (BODY[] {4}\r\n";
        let cap = head.len() + 4 + 3;
        let mut f = Framer::new(cap);
        let mut buf = BytesMut::from(&head[..]);
        buf.extend_from_slice(b"abcd)\r\n");
        assert_eq!(f.decode(&mut buf).map(|o| o.map(|b| b.len())), Ok(Some(cap)));
    }

    #[test]
    fn shrunk_buffer_is_detected() {
        let mut f = Framer::default();
        let mut buf = BytesMut::from(&b"* OK partial"[..]);
        assert_eq!(f.decode(&mut buf), Ok(None));
        buf.clear();
        assert_eq!(f.decode(&mut buf), Err(ImapError::BufferShrank { expected: 12, actual: 0 }));
    }

    #[test]
    fn frame_shares_the_buffer_allocation() {
        let mut f = Framer::default();
        let mut buf = BytesMut::with_capacity(64);
        let base = buf.as_ptr();
        buf.extend_from_slice(b"* 1 FETCH (BODY[] {3}\r\nxyz)\r\n");
        let frame = f.decode(&mut buf).ok().flatten().unwrap_or_default();
        assert_eq!(frame.as_ptr(), base);
    }
}
