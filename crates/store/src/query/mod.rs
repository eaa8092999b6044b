//! The search query language (CLI.md "Search syntax") and its translation to SQL.
//!
//! Owns: [`Query::parse`] (tokens in `lexer`, grammar in `parser`, non-text values in `values`, the
//! tree in `ast`), and the SQL condition a query stands for (`sql`), which `Store::search` runs.
//!
//! Must never: put a user's value into SQL text (every value is a bound parameter); accept a query it
//! would have to guess about (errors point at the offending token: [`QueryError::caret`]); read the
//! clock or the store (parsing is pure).
//!
//! RFC 5322 section 3.6 (the header fields searched), RFC 3501 section 2.3.2 (flags); SQLite FTS5
//! query syntax.

mod ast;
mod error;
mod lexer;
mod parser;
mod sql;
mod values;

pub use ast::{Expr, Term, TextField};
pub use error::{QueryError, QueryErrorKind};
pub use parser::MAX_DEPTH;
pub(crate) use sql::to_sql;

/// A parsed search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    text: String,
    expr: Expr,
}

impl Query {
    /// Parses `text`. The empty query matches every message.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        Ok(Query { text: text.to_owned(), expr: parser::parse(text)? })
    }

    /// The query as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}
