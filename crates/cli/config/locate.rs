//! Where things are in the accounts file: byte offset <-> line and column, byte offset -> the dotted key
//! written there, and dotted key -> where it is written. Error messages use this to name FILE:LINE:COL and
//! the KEY.
//!
//! Owns the span arithmetic over a `toml_edit` document (which keeps the position of every key, value and
//! table header). Must never: interpret values (that is `schema` and `merge`), or panic on any input: an
//! offset or key that is not in the document simply has no location.

use std::ops::Range;

use toml_edit::{Document, Item, Table, Value};

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, counted in characters.
    pub column: usize,
}

/// The line and column of byte `offset` in `text`. An offset past the end is the end; one inside a
/// multi-byte character counts as that character.
pub fn position(text: &str, offset: usize) -> Position {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let before = text.get(..end).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    Position { line, column }
}

/// The spans of a parsed file, with the dotted key each one belongs to.
#[derive(Debug)]
pub struct Spans {
    entries: Vec<(Vec<String>, Range<usize>)>,
}

impl Spans {
    /// Collects the spans of `text`; `None` when it is not valid TOML (the parse error says where).
    pub fn parse(text: &str) -> Option<Spans> {
        let doc = Document::parse(text).ok()?;
        let mut entries = Vec::new();
        walk_table(doc.as_table(), &mut Vec::new(), &mut entries);
        Some(Spans { entries })
    }

    /// The dotted key written at byte `offset`: the innermost key, value or table header covering it,
    /// else the closest one before it.
    pub fn key_at(&self, offset: usize) -> Option<Vec<String>> {
        let covering = self
            .entries
            .iter()
            .filter(|(_, r)| r.start <= offset && (offset < r.end || r.is_empty() && offset == r.start))
            .min_by_key(|(_, r)| r.len());
        let found = covering.or_else(|| {
            self.entries.iter().filter(|(_, r)| r.start <= offset).max_by_key(|(_, r)| (r.start, r.len()))
        });
        found.map(|(path, _)| path.clone())
    }

    /// Where `path` is written: the table header for a table, else the key of the key/value pair.
    /// A table without a header of its own (`[a.b]` makes `a` implicit) is where its first entry is.
    pub fn offset_of(&self, path: &[&str]) -> Option<usize> {
        self.entries
            .iter()
            .filter(|(p, _)| p.len() >= path.len() && p.iter().zip(path).all(|(a, b)| a == b))
            .min_by_key(|(p, r)| (p.len(), r.start))
            .map(|(_, r)| r.start)
    }
}

fn walk_table(table: &Table, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Range<usize>)>) {
    // An implicit table (`a` of `[a.b]`) has no header of its own; it is located by its entries.
    if let Some(span) = table.span().filter(|_| !table.is_implicit()) {
        out.push((path.clone(), span));
    }
    for (name, item) in table.iter() {
        path.push(name.to_owned());
        // A table is located by its header, or by its entries when it has none (`[a.b]` leaves `a`
        // implicit); the key of a key/value pair locates the pair.
        if !matches!(item, Item::Table(_) | Item::ArrayOfTables(_)) {
            if let Some(span) = table.key(name).and_then(|k| k.span()) {
                out.push((path.clone(), span));
            }
        }
        walk_item(item, path, out);
        path.pop();
    }
}

fn walk_item(item: &Item, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Range<usize>)>) {
    match item {
        Item::None => {}
        Item::Value(v) => walk_value(v, path, out),
        Item::Table(t) => walk_table(t, path, out),
        Item::ArrayOfTables(tables) => {
            for t in tables.iter() {
                walk_table(t, path, out);
            }
        }
    }
}

fn walk_value(value: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Range<usize>)>) {
    if let Some(span) = value.span() {
        out.push((path.clone(), span));
    }
    if let Value::InlineTable(t) = value {
        for (name, v) in t.iter() {
            path.push(name.to_owned());
            if let Some(span) = t.key(name).and_then(|k| k.span()) {
                out.push((path.clone(), span));
            }
            walk_value(v, path, out);
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# accounts\n[accounts.work]\npreset = \"outlook\"\nuser = \"me@example.com\"\n\n[accounts.work.imap]\nport = 0\nsecurity = { x = 1 }\n";

    fn key(spans: &Spans, needle: &str) -> Option<String> {
        let offset = FILE.find(needle)?;
        spans.key_at(offset).map(|p| p.join("."))
    }

    #[test]
    fn position_counts_lines_and_characters() {
        assert_eq!(position("ab\ncd", 0), Position { line: 1, column: 1 });
        assert_eq!(position("ab\ncd", 4), Position { line: 2, column: 2 });
        assert_eq!(position("é\nx", 3), Position { line: 2, column: 1 });
        // Inside a multi-byte character, and past the end: no panic.
        assert_eq!(position("é", 1), Position { line: 1, column: 1 });
        assert_eq!(position("a\n", 99), Position { line: 2, column: 1 });
    }

    #[test]
    fn key_at_names_the_innermost_key() {
        let spans = Spans::parse(FILE);
        let spans = spans.as_ref().map(|s| (key(s, "preset"), key(s, "me@"), key(s, "port"), key(s, "x =")));
        assert_eq!(
            spans,
            Some((
                Some("accounts.work.preset".into()),
                Some("accounts.work.user".into()),
                Some("accounts.work.imap.port".into()),
                Some("accounts.work.imap.security.x".into()),
            ))
        );
    }

    #[test]
    fn offset_of_finds_keys_and_headers() {
        let Some(spans) = Spans::parse(FILE) else { panic!("valid toml") };
        let at = |path: &[&str]| spans.offset_of(path).map(|o| position(FILE, o));
        assert_eq!(at(&["accounts", "work"]), Some(Position { line: 2, column: 1 }));
        assert_eq!(at(&["accounts", "work", "imap", "port"]), Some(Position { line: 7, column: 1 }));
        assert_eq!(at(&["accounts", "work", "imap"]), Some(Position { line: 6, column: 1 }));
        assert_eq!(at(&["accounts"]), Some(Position { line: 2, column: 1 }));
        assert_eq!(at(&["accounts", "home"]), None);
    }

    #[test]
    fn invalid_toml_has_no_spans() {
        assert!(Spans::parse("[accounts\n").is_none());
    }
}
