//! The query grammar: tokens to an [`Expr`].
//!
//! Owns: precedence and the meaning of each field name. The grammar (`or` binds loosest, terms next to
//! each other are and-ed, `not`/`-` bind tightest):
//!
//! ```text
//! query   = [ or-expr ]
//! or-expr = and-expr *( "or" and-expr )
//! and-expr = unary *( [ "and" ] unary )
//! unary   = ( "not" / "-" ) unary / primary
//! primary = "(" or-expr ")" / text / field ":" value
//! ```
//!
//! Must never: recurse deeper than [`MAX_DEPTH`] (a query is user input), or accept a query it would
//! have to guess about (an unknown field, an operator without operands, a bad value): those are
//! errors that point at the token.

use super::ast::{Expr, Term, TextField};
use super::error::{QueryError, QueryErrorKind};
use super::lexer::{tokenize, Token, TokenKind};
use super::values::{date_span, date_term, flag_term, size_term, via_term};

/// How deeply parentheses and negations may nest.
pub const MAX_DEPTH: usize = 64;

/// The fields, for error messages.
const KNOWN: &str = "from: to: cc: subject: body: attachment: folder: account: via: flag: is: has: id: \
                     date: before: after: size:";

/// Parses a query. The empty query (or only whitespace) is [`Expr::All`].
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    parse_tokens(query).map_err(|e| e.locate(query))
}

fn parse_tokens(query: &str) -> Result<Expr, QueryError> {
    let tokens = tokenize(query)?;
    if tokens.is_empty() {
        return Ok(Expr::All);
    }
    let mut p = Parser { tokens, pos: 0, len: query.len() };
    let expr = p.or_expr(0)?;
    match p.peek() {
        None => Ok(expr),
        Some(t) if t.kind == TokenKind::Close => {
            Err(QueryError::new(QueryErrorKind::UnmatchedClose, t.start, t.end))
        }
        Some(t) => Err(QueryError::new(QueryErrorKind::LeadingOperator(word(query, t)), t.start, t.end)),
    }
}

fn word(query: &str, t: &Token) -> String {
    query.get(t.start..t.end).unwrap_or_default().to_owned()
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// Whether the next token can start a term.
    fn at_term(&self) -> bool {
        self.peek().is_some_and(|t| {
            matches!(
                t.kind,
                TokenKind::Open | TokenKind::Not | TokenKind::Text { .. } | TokenKind::Field { .. }
            )
        })
    }

    /// Fails with "expected a term after OP" unless a term follows.
    fn need_operand(&self, op: &Token, name: &str) -> Result<(), QueryError> {
        if self.at_term() {
            Ok(())
        } else {
            let at = self.peek().map_or(self.len, |t| t.start);
            Err(QueryError::new(QueryErrorKind::MissingOperand(name.to_owned()), op.start, at.max(op.end)))
        }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let mut alternatives = vec![self.and_expr(depth)?];
        while let Some(op) = self.peek().filter(|t| t.kind == TokenKind::Or).cloned() {
            self.pos += 1;
            self.need_operand(&op, "or")?;
            alternatives.push(self.and_expr(depth)?);
        }
        Ok(if alternatives.len() == 1 { alternatives.remove(0) } else { Expr::Or(alternatives) })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let mut all = Vec::new();
        while let Some(t) = self.peek().cloned() {
            match t.kind {
                TokenKind::And if all.is_empty() => {
                    return Err(QueryError::new(
                        QueryErrorKind::LeadingOperator("and".into()),
                        t.start,
                        t.end,
                    ));
                }
                TokenKind::And => {
                    self.pos += 1;
                    self.need_operand(&t, "and")?;
                }
                TokenKind::Or if all.is_empty() => {
                    return Err(QueryError::new(
                        QueryErrorKind::LeadingOperator("or".into()),
                        t.start,
                        t.end,
                    ));
                }
                TokenKind::Close if all.is_empty() => {
                    return Err(QueryError::new(QueryErrorKind::UnmatchedClose, t.start, t.end));
                }
                TokenKind::Or | TokenKind::Close => break,
                _ => all.push(self.unary(depth)?),
            }
        }
        Ok(if all.len() == 1 { all.remove(0) } else { Expr::And(all) })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let Some(t) = self.next() else {
            return Err(QueryError::new(QueryErrorKind::MissingOperand("and".into()), self.len, self.len));
        };
        if depth >= MAX_DEPTH {
            return Err(QueryError::new(QueryErrorKind::TooDeep(MAX_DEPTH), t.start, t.end));
        }
        match t.kind {
            TokenKind::Not => {
                let name = if t.end - t.start == 1 { "-" } else { "not" };
                self.need_operand(&t, name)?;
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            TokenKind::Open => {
                if self.peek().is_some_and(|c| c.kind == TokenKind::Close) {
                    let close = self.next().map_or(t.end, |c| c.end);
                    return Err(QueryError::new(QueryErrorKind::EmptyGroup, t.start, close));
                }
                let inner = self.or_expr(depth + 1)?;
                match self.next() {
                    Some(c) if c.kind == TokenKind::Close => Ok(inner),
                    _ => Err(QueryError::new(QueryErrorKind::UnclosedOpen, t.start, t.end)),
                }
            }
            TokenKind::Text { text, quoted } => text_term(TextField::Any, &text, !quoted, t.start, t.end),
            TokenKind::Field { name, value, value_start } => {
                field(&name, &value, t.start, value_start, t.end)
            }
            TokenKind::Close | TokenKind::Or | TokenKind::And => {
                Err(QueryError::new(QueryErrorKind::MissingOperand("and".into()), t.start, t.end))
            }
        }
    }
}

/// A text term; a trailing `*` on an unquoted word asks for a prefix match.
fn text_term(
    field: TextField,
    text: &str,
    allow_prefix: bool,
    start: usize,
    end: usize,
) -> Result<Expr, QueryError> {
    let (text, prefix) = match text.strip_suffix('*') {
        Some(stem) if allow_prefix && !stem.is_empty() => (stem, true),
        _ => (text, false),
    };
    if !text.chars().any(char::is_alphanumeric) {
        return Err(QueryError::new(QueryErrorKind::NothingToSearch(text.to_owned()), start, end));
    }
    Ok(Expr::Term(Term::Text { field, text: text.to_owned(), prefix }))
}

/// A `name:value` term.
fn field(name: &str, value: &str, start: usize, value_start: usize, end: usize) -> Result<Expr, QueryError> {
    let label = format!("{name}:");
    if value.trim().is_empty() && KNOWN.split(' ').any(|k| k == label) {
        return Err(QueryError::new(QueryErrorKind::EmptyValue(label), start, end));
    }
    let bad = |why: String| {
        QueryError::new(QueryErrorKind::BadValue { field: label.clone(), why }, value_start, end)
    };
    let term = match name {
        "from" => return text_term(TextField::From, value, true, value_start, end),
        "to" => return text_term(TextField::To, value, true, value_start, end),
        "cc" => return text_term(TextField::Cc, value, true, value_start, end),
        "subject" => return text_term(TextField::Subject, value, true, value_start, end),
        "body" => return text_term(TextField::Body, value, true, value_start, end),
        "attachment" => return text_term(TextField::Attachment, value, true, value_start, end),
        "folder" => Term::Folder(value.to_owned()),
        "account" => Term::Account(value.to_owned()),
        "via" => via_term(value).map_err(bad)?,
        "flag" | "is" => flag_term(value).map_err(bad)?,
        "has" => match value.to_ascii_lowercase().as_str() {
            "attachment" | "attachments" => Term::HasAttachment,
            _ => return Err(bad(format!("{value:?} is not something a message has (attachment)"))),
        },
        "id" => Term::MessageId(value.trim().trim_start_matches('<').trim_end_matches('>').to_owned()),
        "date" => date_term(value).map_err(bad)?,
        "before" => Term::Date { from: None, until: Some(date_span(value).map_err(bad)?.0) },
        "after" => Term::Date { from: Some(date_span(value).map_err(bad)?.1), until: None },
        "size" => size_term(value).map_err(bad)?,
        _ => {
            return Err(QueryError::new(
                QueryErrorKind::UnknownField { name: label.clone(), known: KNOWN },
                start,
                start + label.len(),
            ))
        }
    };
    Ok(Expr::Term(term))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Protocol;

    fn text(t: &str) -> Expr {
        Expr::Term(Term::Text { field: TextField::Any, text: t.into(), prefix: false })
    }

    fn err(q: &str) -> (QueryErrorKind, usize, usize) {
        let e = parse(q).unwrap_err();
        (e.kind, e.start, e.end)
    }

    #[test]
    fn empty_query_matches_all() {
        assert_eq!(parse(""), Ok(Expr::All));
        assert_eq!(parse("  \t "), Ok(Expr::All));
    }

    #[test]
    fn precedence_or_and_not() {
        assert_eq!(
            parse("a b or -c and d"),
            Ok(Expr::Or(vec![
                Expr::And(vec![text("a"), text("b")]),
                Expr::And(vec![Expr::Not(Box::new(text("c"))), text("d")]),
            ]))
        );
        assert_eq!(
            parse("not (a OR b) c"),
            Ok(Expr::And(vec![Expr::Not(Box::new(Expr::Or(vec![text("a"), text("b")]))), text("c")]))
        );
    }

    #[test]
    fn fields() {
        assert_eq!(
            parse("from:ada subject:\"two words\" via:pop3 id:<x@y> has:attachment prefix*"),
            Ok(Expr::And(vec![
                Expr::Term(Term::Text { field: TextField::From, text: "ada".into(), prefix: false }),
                Expr::Term(Term::Text { field: TextField::Subject, text: "two words".into(), prefix: false }),
                Expr::Term(Term::Via(Protocol::Pop3)),
                Expr::Term(Term::MessageId("x@y".into())),
                Expr::Term(Term::HasAttachment),
                Expr::Term(Term::Text { field: TextField::Any, text: "prefix".into(), prefix: true }),
            ]))
        );
        assert_eq!(
            parse("before:2024-05-02 after:2024-05-01"),
            Ok(Expr::And(vec![
                Expr::Term(Term::Date { from: None, until: Some(1_714_608_000) }),
                Expr::Term(Term::Date { from: Some(1_714_608_000), until: None }),
            ]))
        );
    }

    #[test]
    fn errors_point_at_the_token() {
        assert_eq!(err("from:x foo:y").0, QueryErrorKind::UnknownField { name: "foo:".into(), known: KNOWN });
        assert_eq!(err("from:x foo:y").1..err("from:x foo:y").2, 7..11);
        assert_eq!(err("a or"), (QueryErrorKind::MissingOperand("or".into()), 2, 4));
        assert_eq!(err("or a"), (QueryErrorKind::LeadingOperator("or".into()), 0, 2));
        assert_eq!(err("and a"), (QueryErrorKind::LeadingOperator("and".into()), 0, 3));
        assert_eq!(err("a (b"), (QueryErrorKind::UnclosedOpen, 2, 3));
        assert_eq!(err("a b)"), (QueryErrorKind::UnmatchedClose, 3, 4));
        assert_eq!(err(")"), (QueryErrorKind::UnmatchedClose, 0, 1));
        assert_eq!(err("a ()"), (QueryErrorKind::EmptyGroup, 2, 4));
        assert_eq!(err("not"), (QueryErrorKind::MissingOperand("not".into()), 0, 3));
        assert_eq!(err("a -)").0, QueryErrorKind::NothingToSearch("-".into()));
        assert_eq!(err("subject:"), (QueryErrorKind::EmptyValue("subject:".into()), 0, 8));
        assert!(matches!(err("via:smtp"), (QueryErrorKind::BadValue { .. }, 4, 8)));
        assert!(matches!(err("x date:2024-13-01"), (QueryErrorKind::BadValue { .. }, 7, 17)));
        assert_eq!(err("a ---").0, QueryErrorKind::NothingToSearch("---".into()));
        assert_eq!(err("\"\"").0, QueryErrorKind::NothingToSearch(String::new()));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(err(&deep).0, QueryErrorKind::TooDeep(MAX_DEPTH));
        let nots = "-a ".repeat(3) + &"not ".repeat(10_000) + "a";
        assert_eq!(err(&nots).0, QueryErrorKind::TooDeep(MAX_DEPTH));
        let ok = format!("{}a{}", "(".repeat(10), ")".repeat(10));
        assert_eq!(parse(&ok), Ok(text("a")));
    }
}
