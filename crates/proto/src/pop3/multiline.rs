//! The body of a POP3 multi-line response: dot-unstuffing and the `CRLF.CRLF` terminator.
//!
//! Owns: [`DotDecoder`], an incremental decoder that copies each body byte exactly once, straight from
//! the caller's read buffer into the body, removing the stuffed dot of lines that begin with `..`,
//! and that finds the terminating `.` line wherever the reads split it; and [`dot_stuff`], the
//! server-side inverse (used by tests, the fuzz target and scripted servers).
//!
//! Must never: rescan bytes it has seen (the work is linear in the input: `memmem` jumps from one
//! line that starts with `.` to the next); grow the body past its cap (the cap is checked before
//! every copy); treat a bare LF as a line end (lines end in CRLF; a bare LF is body data).
//!
//! RFC 1939 section 3 (multi-line responses, byte-stuffing with the termination octet).

use bytes::{Bytes, BytesMut};
use memchr::memmem;

/// Where the decoder stands between two inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line: the last byte seen ended a CRLF (or the status line).
    LineStart,
    /// A line started with `.`, which was not copied.
    Dot,
    /// A line started with `.` CR, neither copied.
    DotCr,
    /// Inside a line; the last byte seen was not CR.
    Mid,
    /// Inside a line; the last byte seen was CR.
    MidCr,
}

/// The result of one [`DotDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Every input byte was consumed; the terminator has not been seen yet.
    NeedMore,
    /// The terminator ended after this many input bytes; the rest belongs to the next response.
    Done(usize),
}

/// The body would have grown past the decoder's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// Incremental decoder for one multi-line response body (everything after the status line).
#[derive(Debug)]
pub struct DotDecoder {
    state: State,
    out: BytesMut,
    limit: usize,
    finder: memmem::Finder<'static>,
}

impl DotDecoder {
    /// A decoder positioned just after a status line, refusing bodies longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        DotDecoder {
            state: State::LineStart,
            out: BytesMut::new(),
            limit,
            finder: memmem::Finder::new(b"\r\n."),
        }
    }

    /// The body bytes decoded so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no body byte has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        if bytes.len() > self.limit.saturating_sub(self.out.len()) {
            return Err(Overflow);
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Consumes `input`, appending unstuffed body bytes. Returns where the terminator ended, if it
    /// did; the body (without the terminating `.` line) is then available from [`Self::finish`].
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, Overflow> {
        // `run..i` is a stretch of input that is body data, copied in one go when it ends.
        let mut i = 0;
        let mut run = 0;
        while let Some(&byte) = input.get(i) {
            match self.state {
                State::LineStart => {
                    if byte == b'.' {
                        self.push(input.get(run..i).unwrap_or_default())?;
                        i += 1;
                        run = i;
                        self.state = State::Dot;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Dot => match byte {
                    b'\r' => {
                        i += 1;
                        run = i;
                        self.state = State::DotCr;
                    }
                    // `..` at a line start: the first dot was the stuffing; the second is data.
                    b'.' => self.state = State::Mid,
                    // A lone `.` the server forgot to stuff: keep it.
                    _ => {
                        self.push(b".")?;
                        self.state = State::Mid;
                    }
                },
                State::DotCr => {
                    if byte == b'\n' {
                        self.state = State::LineStart;
                        return Ok(Decoded::Done(i + 1));
                    }
                    // `.` CR then something else: not a terminator; keep what was held back.
                    self.push(b".\r")?;
                    self.state = State::Mid;
                }
                State::MidCr => {
                    if byte == b'\n' {
                        i += 1;
                        self.state = State::LineStart;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Mid => {
                    let rest = input.get(i..).unwrap_or_default();
                    match self.finder.find(rest) {
                        // Jump to the next line that starts with a dot.
                        Some(at) => {
                            i += at + 2;
                            self.state = State::LineStart;
                        }
                        None => {
                            i = input.len();
                            self.state = if rest.ends_with(b"\r\n") {
                                State::LineStart
                            } else if rest.ends_with(b"\r") {
                                State::MidCr
                            } else {
                                State::Mid
                            };
                        }
                    }
                }
            }
        }
        self.push(input.get(run..).unwrap_or_default())?;
        Ok(Decoded::NeedMore)
    }

    /// The decoded body. Call after [`Decoded::Done`]; the bytes are not copied again.
    pub fn finish(self) -> Bytes {
        self.out.freeze()
    }
}

/// Appends the wire form of a multi-line body to `out`: every line that begins with `.` gets one
/// more, a CRLF is added if the body does not end with one (as Dovecot does), then the `.` line.
/// [`DotDecoder`] gives back `body`, plus that CRLF if it was added.
pub fn dot_stuff(body: &[u8], out: &mut BytesMut) {
    out.reserve(body.len() + body.len() / 64 + 5);
    let mut start = 0;
    if body.first() == Some(&b'.') {
        out.extend_from_slice(b".");
    }
    for at in memmem::find_iter(body, b"\r\n.") {
        let cut = at + 2;
        out.extend_from_slice(body.get(start..cut).unwrap_or_default());
        out.extend_from_slice(b".");
        start = cut;
    }
    out.extend_from_slice(body.get(start..).unwrap_or_default());
    if !body.is_empty() && !body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` whole; returns the body and how many bytes the terminator ended after.
    fn whole(input: &[u8]) -> Option<(Vec<u8>, usize)> {
        let mut d = DotDecoder::new(1 << 20);
        match d.decode(input) {
            Ok(Decoded::Done(n)) => Some((d.finish().to_vec(), n)),
            _ => None,
        }
    }

    #[test]
    fn stuffed_dot_is_removed() {
        assert_eq!(whole(b"..foo\r\nbar\r\n.\r\n"), Some((b".foo\r\nbar\r\n".to_vec(), 15)));
    }

    #[test]
    fn line_that_is_exactly_two_dots() {
        assert_eq!(whole(b"a\r\n..\r\nb\r\n.\r\n"), Some((b"a\r\n.\r\nb\r\n".to_vec(), 13)));
    }

    #[test]
    fn empty_body() {
        assert_eq!(whole(b".\r\n"), Some((Vec::new(), 3)));
    }

    #[test]
    fn bytes_after_the_terminator_are_left() {
        assert_eq!(whole(b"x\r\n.\r\n+OK next\r\n"), Some((b"x\r\n".to_vec(), 6)));
    }

    #[test]
    fn bare_lf_is_data_not_a_line_end() {
        // `\n.\r\n` after a bare LF is not a terminator, and `\n..` is not stuffing.
        assert_eq!(whole(b"a\n.\r\nb\n..c\r\n.\r\n"), Some((b"a\n.\r\nb\n..c\r\n".to_vec(), 15)));
    }

    #[test]
    fn eight_bit_and_nul_preserved() {
        assert_eq!(
            whole(b"\x00\xff\x80\r\n\xe9t\xe9\r\n.\r\n"),
            Some((b"\x00\xff\x80\r\n\xe9t\xe9\r\n".to_vec(), 13))
        );
    }

    #[test]
    fn unstuffed_lone_dot_lines_are_kept() {
        assert_eq!(whole(b".x\r\n.\rz\r\n.\r\n"), Some((b".x\r\n.\rz\r\n".to_vec(), 12)));
    }

    #[test]
    fn truncated_input_needs_more() {
        for input in [&b""[..], b"abc", b"abc\r", b"abc\r\n", b"abc\r\n.", b"abc\r\n.\r", b"..", b"."] {
            let mut d = DotDecoder::new(100);
            assert_eq!(d.decode(input), Ok(Decoded::NeedMore), "{input:?}");
        }
    }

    #[test]
    fn terminator_split_at_every_point() {
        let wire = b"l1\r\n..l2\r\n.\r\nTAIL";
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            let mut d = DotDecoder::new(100);
            let consumed = match d.decode(a) {
                Ok(Decoded::Done(n)) => n,
                Ok(Decoded::NeedMore) => match d.decode(b) {
                    Ok(Decoded::Done(n)) => a.len() + n,
                    other => panic!("cut {cut}: {other:?}"),
                },
                Err(e) => panic!("cut {cut}: {e:?}"),
            };
            assert_eq!(consumed, wire.len() - 4, "cut {cut}");
            assert_eq!(&d.finish()[..], b"l1\r\n.l2\r\n", "cut {cut}");
        }
    }

    #[test]
    fn byte_by_byte() {
        let wire = b".\r\r\n...\r\n\r\n.\r\n";
        let mut d = DotDecoder::new(100);
        let mut done = None;
        for (k, b) in wire.iter().enumerate() {
            if let Ok(Decoded::Done(_)) = d.decode(std::slice::from_ref(b)) {
                done = Some(k);
                break;
            }
        }
        assert_eq!(done, Some(wire.len() - 1));
        assert_eq!(&d.finish()[..], b".\r\r\n..\r\n\r\n");
    }

    #[test]
    fn cap_is_an_error_before_the_copy() {
        let mut d = DotDecoder::new(4);
        assert_eq!(d.decode(b"abcd"), Ok(Decoded::NeedMore));
        assert_eq!(d.decode(b"e"), Err(Overflow));
        assert_eq!(d.len(), 4);
        let mut d = DotDecoder::new(4);
        assert_eq!(d.decode(b"abcd\r\n.\r\n"), Err(Overflow));
        let mut d = DotDecoder::new(6);
        assert_eq!(d.decode(b"abcd\r\n.\r\n"), Ok(Decoded::Done(9)));
    }

    #[test]
    fn stuffing_examples() {
        let stuff = |body: &[u8]| {
            let mut out = BytesMut::new();
            dot_stuff(body, &mut out);
            out.to_vec()
        };
        assert_eq!(stuff(b""), b".\r\n");
        assert_eq!(stuff(b".foo\r\n"), b"..foo\r\n.\r\n");
        assert_eq!(stuff(b"a\r\n.\r\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(stuff(b"a\n.b"), b"a\n.b\r\n.\r\n");
    }
}
