//! What commands print on stdout: plain lines for people, or with `--json` one JSON object per line
//! (CLI.md "JSON output") for scripts; and the one rule for text from outside on a terminal.
//!
//! Owns stdout formatting: JSON encoding (serde_json, compact, one object per line: exact values, control
//! characters escaped by JSON itself) and column alignment of plain tables; and [`safe`] / [`safe_text`],
//! which show control characters (C0, DEL, C1) escaped, as `\x1b` or `\u{9b}`, so that a folder name, a
//! header or a server's message cannot move the cursor, retitle the window or rewrite what is on screen.
//! Every plain line printed through [`Output`] passes through [`safe`]; tables escape each cell first, so
//! that widths are those of what is shown. Must never: print logs or errors (those go to stderr through
//! `tracing` and `stderr`), or print a secret (nothing that reaches here holds one). JSON is RFC 8259, via
//! serde_json; the control characters are Unicode's general category Cc (ECMA-48 C0 and C1 sets, and DEL),
//! plus, on one line, the bidirectional controls of UAX #9; widths are UAX #11's (unicode-width).

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Writing to stdout failed. A closed pipe (`mailsync ... | head`) ends the program quietly.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout: {0}")]
pub struct StdoutError(#[from] io::Error);

impl StdoutError {
    /// Whether the reader went away.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

/// Where a command's results go, and in which form.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Plain text, or JSON lines when `json`.
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// One line of text, control characters escaped ([`safe`]).
    pub fn line(&self, text: &str) -> Result<(), StdoutError> {
        let mut out = io::stdout().lock();
        write_line(&mut out, &safe(text))?;
        Ok(out.flush()?)
    }

    /// Lines of text, control characters escaped ([`safe`]).
    pub fn lines(&self, lines: &[String]) -> Result<(), StdoutError> {
        let mut out = io::stdout().lock();
        for l in lines {
            write_line(&mut out, &safe(l))?;
        }
        Ok(out.flush()?)
    }

    /// One JSON object on one line.
    pub fn json<T: Serialize>(&self, value: &T) -> Result<(), StdoutError> {
        let mut out = io::stdout().lock();
        write_json(&mut out, value)?;
        Ok(out.flush()?)
    }
}

/// Writes `text` and a newline.
pub fn write_line(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")
}

/// Writes `value` as compact JSON and a newline.
pub fn write_json<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// `text` for one line on a terminal: every control character (C0 including tab and newline, DEL, C1)
/// shown escaped, `\x1b` for C0 and DEL, `\u{9b}` for C1, and so are the bidirectional embeddings, overrides
/// and isolates (`\u{202e}`), which would reorder the rest of the line (a subject's columns and the ones after
/// them). Everything else, backslashes and right-to-left text included, is kept.
pub fn safe(text: &str) -> Cow<'_, str> {
    escape(text, |c| c.is_control() || is_bidi_control(c))
}

/// Like [`safe`] for multi-line text (a message body): newline and tab are kept, and so are bidirectional
/// controls (right-to-left mail uses them, and a paragraph's end ends their reach); other control characters
/// are escaped.
pub fn safe_text(text: &str) -> Cow<'_, str> {
    escape(text, |c| c.is_control() && c != '\n' && c != '\t')
}

/// The explicit directional embeddings, overrides and isolates of Unicode's bidirectional algorithm (UAX #9
/// section 2.1-2.4): LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI. The marks (LRM, RLM, ALM) only affect neutral
/// characters next to them and are kept.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with the characters for which `escaped` holds written as escapes.
fn escape(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !escaped(c) {
            out.push(c);
        } else if u32::from(c) < 0x80 {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    Cow::Owned(out)
}

/// `text` cut or padded to exactly `width` terminal columns (wide CJK characters count 2; a cut
/// ends in `…`; control characters shown escaped, as `\x1b`).
pub fn fit(text: &str, width: usize) -> String {
    let clean = safe(text);
    if clean.width() <= width {
        let pad = width - clean.width();
        return format!("{clean}{}", " ".repeat(pad));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in clean.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    used += 1;
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// Rows with their columns padded to a common width (two spaces between columns, none after the last),
/// each cell escaped first ([`safe`]) so that the widths are those of what is shown, measured in terminal
/// columns (UAX #11: a CJK character takes two, a combining mark none).
pub fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|cell| safe(cell).into_owned()).collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.width();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let width = widths.get(i).copied().unwrap_or_default();
                    line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.width()) + 2));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_one_compact_object_per_line() {
        #[derive(Serialize)]
        struct Row<'a> {
            account: &'a str,
            port: u16,
        }
        let mut buf = Vec::new();
        assert!(write_json(&mut buf, &Row { account: "w\"x", port: 993 }).is_ok());
        assert!(write_json(&mut buf, &Row { account: "h", port: 995 }).is_ok());
        assert_eq!(buf, b"{\"account\":\"w\\\"x\",\"port\":993}\n{\"account\":\"h\",\"port\":995}\n");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(safe("INBOX"), "INBOX");
        assert!(matches!(safe("Müller/会議"), Cow::Borrowed(_)));
        assert_eq!(safe("a\u{1b}]0;pwned\u{7}b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(
            safe("nul\0 del\u{7f} csi\u{9b}2J nel\u{85}"),
            "nul\\x00 del\\x7f csi\\u{9b}2J nel\\u{85}"
        );
        assert_eq!(safe("two\nlines\ttab\r"), "two\\x0alines\\x09tab\\x0d");
        assert_eq!(safe_text("para\n\tindented\u{1b}[2J\r\n"), "para\n\tindented\\x1b[2J\\x0d\n");
        assert_eq!(safe("C:\\path \\Seen"), "C:\\path \\Seen", "backslashes are kept as they are");
    }

    #[test]
    fn bidirectional_overrides_cannot_reorder_a_line() {
        // An unterminated RIGHT-TO-LEFT OVERRIDE in a subject would show "invoice<RLO>fdp.exe" as "invoiceexe.pdf"
        // and reverse every column after it; embeddings, overrides and isolates are shown escaped on one line.
        assert_eq!(safe("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        assert_eq!(
            safe("\u{202a}\u{202b}\u{202c}\u{202d}\u{2066}\u{2067}\u{2068}\u{2069}"),
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{2066}\\u{2067}\\u{2068}\\u{2069}"
        );
        // Right-to-left text itself, and the marks that only nudge neutral characters, stay as they are.
        assert!(matches!(safe("שלום \u{200f}עולם \u{200e}x"), Cow::Borrowed(_)));
        // A body keeps its layout: its paragraphs end such runs, and right-to-left mail uses them.
        assert_eq!(safe_text("\u{202b}שלום\u{202c}\n"), "\u{202b}שלום\u{202c}\n");
    }

    #[test]
    fn fit_counts_terminal_columns() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("会議の議事録", 7), "会議の…");
        assert_eq!(fit("会議の議事録", 8), "会議の… ");
        assert_eq!(fit("a\tb", 6), "a\\x09b");
        assert_eq!(fit("\u{1b}]0;x\u{7}", 14), "\\x1b]0;x\\x07  ");
    }

    #[test]
    fn columns_line_up() {
        let rows = vec![
            vec!["work".to_owned(), "me@outlook.com".to_owned(), "outlook".to_owned()],
            vec!["h".to_owned(), "u@gmail.com".to_owned(), "gmail".to_owned()],
        ];
        assert_eq!(columns(&rows), ["work  me@outlook.com  outlook", "h     u@gmail.com     gmail"]);
        let hostile =
            vec![vec!["a\u{1b}[2J".to_owned(), "x".to_owned()], vec!["bbbbbbbb".to_owned(), "y".to_owned()]];
        assert_eq!(columns(&hostile), ["a\\x1b[2J  x", "bbbbbbbb  y"], "escaped before measuring");
        // Width on the screen, not characters: CJK takes two columns, combining marks none.
        let wide = vec![
            vec!["会議".to_owned(), "x".to_owned()],
            vec!["e\u{301}e".to_owned(), "y".to_owned()],
            vec!["abcd".to_owned(), "z".to_owned()],
        ];
        assert_eq!(columns(&wide), ["会議  x", "e\u{301}e    y", "abcd  z"]);
        let mut buf = Vec::new();
        assert!(write_line(&mut buf, "plain").is_ok());
        assert_eq!(buf, b"plain\n");
    }
}
