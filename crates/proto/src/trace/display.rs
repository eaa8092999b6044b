//! One direction of a connection as trace records: the bytes a policy decided to show, cut into lines at
//! CRLF, with the markers it put in their place.
//!
//! Owns: the current line, cutting it at CRLF (a record per line) and at [`LINE_CAP`] (a part record, so a
//! peer that never ends its line costs a bounded buffer), holding back a line's last bytes so that a secret
//! is never cut in two at a part's edge, and the records not yet taken. Must never: hold more than the cap
//! plus the hold-back; lose a byte or a line end.

use memchr::memmem;

use super::{Direction, Record};

/// The longest line kept whole; longer ones are written in parts.
pub const LINE_CAP: usize = 1 << 20;

/// What a line part leaves in the buffer for the next one (a secret form is never longer).
const HOLD_BACK: usize = 8 * 1024;

/// One direction's records in the making.
#[derive(Debug)]
pub struct Display {
    dir: Direction,
    line: Vec<u8>,
    /// How far `line` was searched for CRLF.
    searched: usize,
    records: Vec<Record>,
}

impl Display {
    /// An empty display of `dir`.
    pub fn new(dir: Direction) -> Display {
        Display { dir, line: Vec::new(), searched: 0, records: Vec::new() }
    }

    /// Bytes as they are, line ends included.
    pub fn show(&mut self, bytes: &[u8]) {
        self.line.extend_from_slice(bytes);
        let mut start = 0;
        let mut from = self.searched.saturating_sub(1);
        while let Some(i) = memmem::find(&self.line[from..], b"\r\n") {
            let end = from + i;
            self.records.push(Record::Data {
                dir: self.dir,
                bytes: self.line[start..end].to_vec(),
                end: true,
            });
            start = end + 2;
            from = start;
        }
        self.line.drain(..start);
        self.searched = self.line.len();
        if self.line.len() > LINE_CAP {
            let rest = self.line.split_off(self.line.len() - HOLD_BACK);
            let bytes = std::mem::replace(&mut self.line, rest);
            self.records.push(Record::Data { dir: self.dir, bytes, end: false });
            self.searched = self.line.len();
        }
    }

    /// A marker in place of bytes left out (`<redacted>`), in the current line.
    pub fn mark(&mut self, text: &[u8]) {
        self.line.extend_from_slice(text);
        self.searched = self.line.len();
    }

    /// Content left out: ends the current line as a part, then an elided record.
    pub fn elide(&mut self, bytes: u64, headers: Vec<String>) {
        self.flush_part();
        self.records.push(Record::Elided { dir: self.dir, bytes, headers });
    }

    /// Writes what is left of an unfinished line as a part.
    pub fn flush_part(&mut self) {
        if !self.line.is_empty() {
            let bytes = std::mem::take(&mut self.line);
            self.records.push(Record::Data { dir: self.dir, bytes, end: false });
        }
        self.searched = 0;
    }

    /// The records so far.
    pub fn take(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(r: &[Record]) -> Vec<(String, bool)> {
        r.iter()
            .map(|r| match r {
                Record::Data { bytes, end, .. } => (String::from_utf8_lossy(bytes).into_owned(), *end),
                Record::Elided { bytes, .. } => (format!("<{bytes}>"), true),
            })
            .collect()
    }

    #[test]
    fn lines_are_cut_at_crlf_whatever_the_pieces() {
        let text = b"* OK ready\r\nA1 OK done\r\n\r\nbare\nlf\r\ntail";
        for step in 1..text.len() {
            let mut d = Display::new(Direction::Server);
            for piece in text.chunks(step) {
                d.show(piece);
            }
            d.flush_part();
            assert_eq!(
                lines(&d.take()),
                [
                    ("* OK ready".into(), true),
                    ("A1 OK done".into(), true),
                    (String::new(), true),
                    ("bare\nlf".into(), true),
                    ("tail".into(), false)
                ],
                "pieces of {step}"
            );
        }
    }

    #[test]
    fn markers_and_elisions_keep_the_line_order() {
        let mut d = Display::new(Direction::Client);
        d.show(b"A1 LOGIN alice ");
        d.mark(b"<redacted>");
        d.show(b"\r\n* 1 FETCH (BODY[] ");
        d.elide(12, vec![]);
        d.show(b")\r\n");
        assert_eq!(
            lines(&d.take()),
            [
                ("A1 LOGIN alice <redacted>".into(), true),
                ("* 1 FETCH (BODY[] ".into(), false),
                ("<12>".into(), true),
                (")".into(), true)
            ]
        );
    }

    #[test]
    fn an_endless_line_is_written_in_parts_within_the_cap() {
        let mut d = Display::new(Direction::Server);
        let chunk = vec![b'a'; 64 * 1024];
        let mut total = 0;
        for _ in 0..40 {
            d.show(&chunk);
            total += chunk.len();
            assert!(d.line.len() <= LINE_CAP + chunk.len());
        }
        d.show(b"\r\n");
        let r = d.take();
        assert!(r.len() >= 2, "{}", r.len());
        let sum: usize =
            r.iter().map(|r| if let Record::Data { bytes, .. } = r { bytes.len() } else { 0 }).sum();
        assert_eq!(sum, total);
        assert!(matches!(r.last(), Some(Record::Data { end: true, .. })));
    }
}
