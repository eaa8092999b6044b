//! Why a search query was refused, and where: [`QueryError`].
//!
//! Owns: every way the query language can be misused, each with a lowercase message, and the byte
//! span of the offending token so that the CLI can point at it ([`QueryError::caret`]).
//!
//! Must never: echo anything but the user's own query back (there is nothing secret in it, but no
//! stored data is ever part of an error).

use std::fmt;

/// What is wrong with a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryErrorKind {
    /// A `"` without its closing `"`.
    #[error("unterminated quoted phrase")]
    UnterminatedQuote,
    /// A `)` that closes nothing.
    #[error("unmatched ')'")]
    UnmatchedClose,
    /// A `(` never closed.
    #[error("unclosed '('")]
    UnclosedOpen,
    /// `()`.
    #[error("empty parentheses")]
    EmptyGroup,
    /// `or`, `and`, `not` or `-` with nothing to apply to.
    #[error("expected a search term after {0:?}")]
    MissingOperand(String),
    /// `or` or `and` with nothing before it.
    #[error("{0:?} needs a search term before it")]
    LeadingOperator(String),
    /// `foo:bar` where `foo` is not a field.
    #[error("unknown field {name:?}; fields are {known}")]
    UnknownField {
        /// The field as typed.
        name: String,
        /// The fields there are.
        known: &'static str,
    },
    /// `subject:` with nothing after it.
    #[error("field {0:?} needs a value")]
    EmptyValue(String),
    /// A value the field does not accept (`via:smtp`, `flag:sen`, `date:May`).
    #[error("invalid value for {field:?}: {why}")]
    BadValue {
        /// The field, e.g. "via:".
        field: String,
        /// What was expected.
        why: String,
    },
    /// Parentheses or negations nested deeper than the parser follows.
    #[error("query nested more than {0} levels deep")]
    TooDeep(usize),
    /// A text term with no letters or digits (nothing the index could match).
    #[error("{0:?} has no letters or digits to search for")]
    NothingToSearch(String),
}

/// A refused query: what is wrong, and the byte span of `query` that is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// What is wrong.
    pub kind: QueryErrorKind,
    /// Byte offset of the bad token in the query.
    pub start: usize,
    /// Byte offset just past the bad token (at least `start`).
    pub end: usize,
    /// 1-based column (in characters) of the bad token.
    pub column: usize,
}

impl QueryError {
    pub(crate) fn new(kind: QueryErrorKind, start: usize, end: usize) -> Self {
        QueryError { kind, start, end: end.max(start), column: start + 1 }
    }

    /// Sets [`QueryError::column`] from the query the offsets refer to.
    pub(crate) fn locate(mut self, query: &str) -> Self {
        self.column = self.column(query);
        self
    }

    /// The 1-based column (in characters) of the bad token in `query`.
    pub fn column(&self, query: &str) -> usize {
        query.get(..self.start).map_or(self.start, |s| s.chars().count()) + 1
    }

    /// Two lines that point at the bad token: the query, and a caret line under it, e.g.
    /// `from:x foo:y` and `       ^^^^`. Both are indented by two spaces.
    pub fn caret(&self, query: &str) -> String {
        let col = self.column(query) - 1;
        let width = query.get(self.start..self.end).map_or(1, |s| s.chars().count()).max(1);
        let shown: String = query.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        format!("  {shown}\n  {}{}", " ".repeat(col), "^".repeat(width))
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid query at column {}: {}", self.column, self.kind)
    }
}

impl std::error::Error for QueryError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_points_at_the_token_in_characters() {
        let q = "sujet:é foo:bar";
        let e = QueryError::new(
            QueryErrorKind::UnknownField { name: "foo:".into(), known: "x" },
            "sujet:é ".len(),
            "sujet:é foo:".len(),
        );
        assert_eq!(e.column(q), 9);
        assert_eq!(e.caret(q), "  sujet:é foo:bar\n          ^^^^");
        assert_eq!(
            e.clone().locate(q).to_string(),
            "invalid query at column 9: unknown field \"foo:\"; fields are x"
        );
        assert_eq!(e.start, 9, "offsets are in bytes");
    }

    #[test]
    fn caret_at_the_end_of_the_query() {
        let e = QueryError::new(QueryErrorKind::MissingOperand("or".into()), 4, 4);
        assert_eq!(e.caret("a or"), "  a or\n      ^");
    }
}
