//! A parsed query as an SQL condition on `messages AS m`, with every user value bound as a parameter.
//!
//! Owns: the translation of each [`Term`] to SQL: text terms to FTS5 MATCH expressions over
//! `message_fts` (unicode61: words, case and accents folded), or, for text in scripts written without
//! spaces, over `message_trigram` (substrings of 3+ characters; shorter ones by LIKE over its stored
//! text); location terms (`folder:`, `account:`, `via:`, `flag:`) to EXISTS over a message's
//! locations, so that any one location can match; dates, sizes and ids to comparisons on `messages`.
//! Positive word terms side by side are merged into one MATCH (one index lookup for `a b c`).
//!
//! Must never: put a user's value into the SQL text (values, FTS5 expressions and LIKE patterns are
//! all parameters; an FTS5 phrase is quoted with its `"` doubled, a LIKE pattern has `%`, `_` and `\`
//! escaped), or produce a condition that can fail to prepare for any parsed query.
//!
//! SQLite FTS5 section 3 (query syntax: phrases, column filters, prefix `*`, AND/OR), section 4.3.5
//! (trigram: LIKE and substrings); SQLite expression syntax (LIKE ... ESCAPE).

use rusqlite::types::Value;

use super::ast::{Expr, Term, TextField};
use crate::index::{fold_accents, has_unspaced};

/// An SQL condition and its parameters (`?1`, `?2`, ... in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    /// A boolean SQL expression over `messages AS m`.
    pub condition: String,
    /// The values of its numbered parameters.
    pub params: Vec<Value>,
}

/// The columns of both index tables, in order.
const COLUMNS: [&str; 6] = ["subject", "from_addr", "to_addrs", "cc_addrs", "body", "attachments"];

/// Translates `expr`. The first parameter is `?{first}`, so that callers may number their own first.
pub fn to_sql(expr: &Expr, first: usize) -> Sql {
    let mut b = Builder { params: Vec::new(), first };
    let condition = b.expr(expr);
    Sql { condition, params: b.params }
}

struct Builder {
    params: Vec<Value>,
    first: usize,
}

impl Builder {
    /// Binds `v` and returns its placeholder.
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.params.push(v.into());
        format!("?{}", self.first + self.params.len() - 1)
    }

    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::All => "1".to_owned(),
            Expr::And(children) => self.group(children, " AND "),
            Expr::Or(children) => self.group(children, " OR "),
            Expr::Not(inner) => format!("NOT ({})", self.expr(inner)),
            Expr::Term(t) => self.term(t),
        }
    }

    /// `children` joined by `op`, with the positive word terms merged into one MATCH.
    fn group(&mut self, children: &[Expr], op: &str) -> String {
        let mut words = Vec::new();
        let mut rest = Vec::new();
        for child in children {
            match word_match(child) {
                Some(m) => words.push(m),
                None => rest.push(child),
            }
        }
        let mut parts = Vec::new();
        if !words.is_empty() {
            parts.push(self.fts("message_fts", words.join(op)));
        }
        for child in rest {
            parts.push(self.expr(child));
        }
        format!("({})", parts.join(op))
    }

    fn fts(&mut self, table: &str, matching: String) -> String {
        let p = self.bind(matching);
        format!("m.id IN (SELECT rowid FROM {table} WHERE {table} MATCH {p})")
    }

    fn term(&mut self, t: &Term) -> String {
        match t {
            Term::Text { field, text, prefix } => {
                if !has_unspaced(text) {
                    let m = phrase(*field, text, *prefix);
                    self.fts("message_fts", m)
                } else if text.chars().count() >= 3 {
                    let m = phrase(*field, text, false);
                    self.fts("message_trigram", m)
                } else {
                    let pattern = self.bind(format!("%{}%", like_escape(text)));
                    let tests: Vec<String> =
                        columns(*field).iter().map(|c| format!("{c} LIKE {pattern} ESCAPE '\\'")).collect();
                    format!("m.id IN (SELECT rowid FROM message_trigram WHERE {})", tests.join(" OR "))
                }
            }
            Term::Folder(name) => {
                let pattern = self.bind(like_escape(name).replace('*', "%"));
                format!(
                    "EXISTS (SELECT 1 FROM locations l JOIN mailboxes b ON b.id = l.mailbox_id
                     WHERE l.message_id = m.id AND l.protocol = 'imap' AND b.name LIKE {pattern} ESCAPE '\\')"
                )
            }
            Term::Account(name) => {
                let p = self.bind(name.clone());
                format!(
                    "EXISTS (SELECT 1 FROM locations l JOIN accounts a ON a.id = l.account_id
                     WHERE l.message_id = m.id AND a.name = {p})"
                )
            }
            Term::Via(protocol) => {
                let p = self.bind(protocol.as_str().to_owned());
                format!("EXISTS (SELECT 1 FROM locations l WHERE l.message_id = m.id AND l.protocol = {p})")
            }
            Term::Flag { flag, set } => {
                let p = self.bind(format!(" {flag} "));
                let test = if *set { "> 0" } else { "= 0" };
                format!(
                    "EXISTS (SELECT 1 FROM locations l WHERE l.message_id = m.id AND l.protocol = 'imap'
                     AND instr(' ' || lower(l.flags) || ' ', {p}) {test})"
                )
            }
            Term::HasAttachment => "m.has_attachments = 1".to_owned(),
            Term::MessageId(id) => {
                let p = self.bind(id.clone());
                format!("m.message_id = {p}")
            }
            Term::Date { from, until } => {
                let mut tests = vec!["m.date IS NOT NULL".to_owned()];
                if let Some(f) = from {
                    tests.push(format!("m.date >= {}", self.bind(*f)));
                }
                if let Some(u) = until {
                    tests.push(format!("m.date < {}", self.bind(*u)));
                }
                format!("({})", tests.join(" AND "))
            }
            Term::Size { min, max } => {
                let mut tests = Vec::new();
                if let Some(n) = min {
                    tests.push(format!("m.size >= {}", self.bind(i64::try_from(*n).unwrap_or(i64::MAX))));
                }
                if let Some(n) = max {
                    tests.push(format!("m.size <= {}", self.bind(i64::try_from(*n).unwrap_or(i64::MAX))));
                }
                if tests.is_empty() {
                    "1".to_owned()
                } else {
                    format!("({})", tests.join(" AND "))
                }
            }
        }
    }
}

/// The FTS5 expression of a positive word term that can share a MATCH over `message_fts`.
fn word_match(e: &Expr) -> Option<String> {
    match e {
        Expr::Term(Term::Text { field, text, prefix }) if !has_unspaced(text) => {
            Some(phrase(*field, text, *prefix))
        }
        _ => None,
    }
}

/// The columns a field searches.
fn columns(field: TextField) -> &'static [&'static str] {
    match field {
        TextField::Any => &COLUMNS,
        TextField::Subject => &["subject"],
        TextField::From => &["from_addr"],
        TextField::To => &["to_addrs", "cc_addrs"],
        TextField::Cc => &["cc_addrs"],
        TextField::Body => &["body"],
        TextField::Attachment => &["attachments"],
    }
}

/// An FTS5 phrase for `text` (accents folded as the index folds them, quoted with `"` doubled),
/// limited to the field's columns, with `*` for a prefix match.
fn phrase(field: TextField, text: &str, prefix: bool) -> String {
    // FTS5 reads a NUL as the end of its query: control characters (never part of a token) become
    // spaces.
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = fold_accents(&cleaned);
    let quoted = format!("\"{}\"{}", text.replace('"', "\"\""), if prefix { " *" } else { "" });
    match field {
        TextField::Any => quoted,
        f => format!("{{{}}} : {quoted}", columns(f).join(" ")),
    }
}

/// `text` with LIKE's wildcards and the escape character escaped (for `ESCAPE '\'`), NUL as a space.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().map(|c| if c == '\0' { ' ' } else { c }) {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parser::parse;

    fn sql(q: &str) -> Sql {
        to_sql(&parse(q).unwrap(), 1)
    }

    #[test]
    fn words_share_one_match_and_values_are_parameters() {
        let s = sql("hello \"big world\" subject:\"x\"\"y\"");
        assert_eq!(s.condition, "(m.id IN (SELECT rowid FROM message_fts WHERE message_fts MATCH ?1))");
        assert_eq!(
            s.params,
            vec![Value::Text("\"hello\" AND \"big world\" AND {subject} : \"x\"\"y\"".into())]
        );
    }

    #[test]
    fn injection_attempts_stay_values() {
        let s = sql("folder:x'%_\\ account:\"a' OR 1=1 --\" id:<'>");
        assert!(!s.condition.contains("1=1") && !s.condition.contains("x'"), "{}", s.condition);
        assert_eq!(
            s.params,
            vec![
                Value::Text("x'\\%\\_\\\\".into()),
                Value::Text("a' OR 1=1 --".into()),
                Value::Text("'".into())
            ]
        );
    }

    #[test]
    fn cjk_goes_to_the_trigram_table() {
        let s = sql("議事録 to:東京");
        assert!(s.condition.contains("message_trigram MATCH ?1"), "{}", s.condition);
        assert!(s.condition.contains("to_addrs LIKE ?2 ESCAPE '\\' OR cc_addrs LIKE ?2"), "{}", s.condition);
        assert_eq!(s.params, vec![Value::Text("\"議事録\"".into()), Value::Text("%東京%".into())]);
    }

    #[test]
    fn numbering_starts_where_asked() {
        let s = to_sql(&parse("size:>1K flag:unread -via:pop3").unwrap(), 3);
        assert!(s.condition.contains("m.size >= ?3"), "{}", s.condition);
        assert!(s.condition.contains("instr(' ' || lower(l.flags) || ' ', ?4) = 0"), "{}", s.condition);
        assert!(s.condition.contains(
            "NOT (EXISTS (SELECT 1 FROM locations l WHERE l.message_id = m.id AND l.protocol = ?5))"
        ));
        assert_eq!(
            s.params,
            vec![Value::Integer(1025), Value::Text(" \\seen ".into()), Value::Text("pop3".into())]
        );
    }
}
