//! What commands print on stdout: plain lines for people, or with `--json` one JSON object per line
//! (CLI.md "JSON output") for scripts.
//!
//! Owns stdout formatting: JSON encoding (serde_json, compact, one object per line) and column
//! alignment of plain tables. Must never: print logs or errors (those go to stderr through `tracing` and
//! `main`), or print a secret (nothing that reaches here holds one). JSON is RFC 8259, via serde_json.

use std::io::{self, Write};

use serde::Serialize;

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

    /// One line of text.
    pub fn line(&self, text: &str) -> Result<(), StdoutError> {
        let mut out = io::stdout().lock();
        write_line(&mut out, text)?;
        Ok(out.flush()?)
    }

    /// Lines of text.
    pub fn lines(&self, lines: &[String]) -> Result<(), StdoutError> {
        let mut out = io::stdout().lock();
        for l in lines {
            write_line(&mut out, l)?;
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

/// Rows with their columns padded to a common width (two spaces between columns, none after the last).
pub fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
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
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let width = widths.get(i).copied().unwrap_or_default();
                    line.push_str(&format!("{cell:<width$}  "));
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
    fn columns_line_up() {
        let rows = vec![
            vec!["work".to_owned(), "me@outlook.com".to_owned(), "outlook".to_owned()],
            vec!["h".to_owned(), "u@gmail.com".to_owned(), "gmail".to_owned()],
        ];
        assert_eq!(columns(&rows), ["work  me@outlook.com  outlook", "h     u@gmail.com     gmail"]);
        let mut buf = Vec::new();
        assert!(write_line(&mut buf, "plain").is_ok());
        assert_eq!(buf, b"plain\n");
    }
}
