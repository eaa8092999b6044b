//! The query language's tokens: words, `"quoted phrases"`, `field:value`, operators and parentheses.
//!
//! Owns: splitting a query into [`Token`]s with their byte spans. Whitespace separates tokens; `(`
//! and `)` are tokens wherever they appear outside quotes; `"` starts a phrase (`""` inside it is a
//! literal quote); a `-` directly in front of a term negates it (`--x` is the word `--x`); `or`, `and`, `not` (any case) are operators
//! unless quoted; `name:value` is a field when `name` is letters only and `value` may be quoted
//! (`subject:"two words"`).
//!
//! Must never: decide what a field means (the parser does), or index a string at a byte that is not a
//! character boundary (every split is at an ASCII byte).

use super::error::{QueryError, QueryErrorKind};

/// A token and where it is in the query (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `or` / `OR`.
    Or,
    /// `and` / `AND` (implicit between terms anyway).
    And,
    /// `not` / `NOT`, or `-` directly in front of a term.
    Not,
    /// A bare word or a quoted phrase (quotes removed).
    Text {
        /// The text.
        text: String,
        /// Whether it was quoted.
        quoted: bool,
    },
    /// `name:value`.
    Field {
        /// The name, lowercased, without the colon.
        name: String,
        /// The value (quotes removed).
        value: String,
        /// Byte offset where the value starts.
        value_start: usize,
    },
}

/// Splits `query` into tokens.
pub fn tokenize(query: &str) -> Result<Vec<Token>, QueryError> {
    let bytes = query.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(&b) = bytes.get(pos) else { break };
        match b {
            b if b.is_ascii_whitespace() => pos += 1,
            b'(' | b')' => {
                let kind = if b == b'(' { TokenKind::Open } else { TokenKind::Close };
                tokens.push(Token { kind, start: pos, end: pos + 1 });
                pos += 1;
            }
            b'"' => {
                let (text, end) = quoted(query, pos)?;
                tokens.push(Token { kind: TokenKind::Text { text, quoted: true }, start: pos, end });
                pos = end;
            }
            b'-' if bytes
                .get(pos + 1)
                .is_some_and(|&n| !n.is_ascii_whitespace() && n != b')' && n != b'-') =>
            {
                tokens.push(Token { kind: TokenKind::Not, start: pos, end: pos + 1 });
                pos += 1;
            }
            _ => {
                let (token, end) = word(query, pos)?;
                tokens.push(token);
                pos = end;
            }
        }
    }
    Ok(tokens)
}

/// The quoted phrase whose opening quote is at `start`: its text and the offset past its closing quote.
fn quoted(query: &str, start: usize) -> Result<(String, usize), QueryError> {
    let bytes = query.as_bytes();
    let mut text = Vec::new();
    let mut pos = start + 1;
    loop {
        match bytes.get(pos) {
            None => return Err(QueryError::new(QueryErrorKind::UnterminatedQuote, start, start + 1)),
            Some(b'"') if bytes.get(pos + 1) == Some(&b'"') => {
                text.push(b'"');
                pos += 2;
            }
            Some(b'"') => {
                pos += 1;
                break;
            }
            Some(&b) => {
                text.push(b);
                pos += 1;
            }
        }
    }
    // Only ASCII quotes were removed from valid UTF-8, so this is valid UTF-8.
    Ok((String::from_utf8_lossy(&text).into_owned(), pos))
}

/// The bare word (or `field:value`) starting at `start`, and the offset past it.
fn word(query: &str, start: usize) -> Result<(Token, usize), QueryError> {
    let bytes = query.as_bytes();
    let mut end = start;
    while let Some(&b) = bytes.get(end) {
        if b.is_ascii_whitespace() || b == b'(' || b == b')' || b == b'"' {
            break;
        }
        end += 1;
    }
    let text = query.get(start..end).unwrap_or_default();
    let field_name = text.find(':').and_then(|colon| {
        let name = text.get(..colon)?;
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic())).then_some((name, colon))
    });
    if let Some((name, colon)) = field_name {
        let value_start = start + colon + 1;
        let rest = text.get(colon + 1..).unwrap_or_default();
        let url_like = rest.starts_with("//");
        if !url_like {
            let (value, end) = if rest.is_empty() && bytes.get(end) == Some(&b'"') {
                quoted(query, end)?
            } else {
                (rest.to_owned(), end)
            };
            let kind = TokenKind::Field { name: name.to_ascii_lowercase(), value, value_start };
            return Ok((Token { kind, start, end }, end));
        }
    }
    let kind = match text.to_ascii_lowercase().as_str() {
        "or" => TokenKind::Or,
        "and" => TokenKind::And,
        "not" => TokenKind::Not,
        _ => TokenKind::Text { text: text.to_owned(), quoted: false },
    };
    Ok((Token { kind, start, end }, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<TokenKind> {
        tokenize(q).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn text(t: &str, quoted: bool) -> TokenKind {
        TokenKind::Text { text: t.into(), quoted }
    }

    fn field(name: &str, value: &str, value_start: usize) -> TokenKind {
        TokenKind::Field { name: name.into(), value: value.into(), value_start }
    }

    #[test]
    fn words_phrases_fields_operators() {
        assert_eq!(
            kinds(r#"hello "two words" Subject:"a ""b""" -x NOT y or (z)"#),
            vec![
                text("hello", false),
                text("two words", true),
                field("subject", "a \"b\"", 26),
                TokenKind::Not,
                text("x", false),
                TokenKind::Not,
                text("y", false),
                TokenKind::Or,
                TokenKind::Open,
                text("z", false),
                TokenKind::Close,
            ]
        );
    }

    #[test]
    fn spans_are_byte_offsets() {
        let t = tokenize("é from:ü").unwrap();
        assert_eq!((t[0].start, t[0].end), (0, 2));
        assert_eq!((t[1].start, t[1].end), (3, 10));
        assert_eq!(t[1].kind, field("from", "ü", 8));
    }

    #[test]
    fn colons_that_are_not_fields() {
        assert_eq!(
            kinds("10:30 http://x a-b"),
            vec![text("10:30", false), text("http://x", false), text("a-b", false)]
        );
        assert_eq!(kinds("- x"), vec![text("-", false), text("x", false)]);
        assert_eq!(kinds("size:>1M"), vec![field("size", ">1M", 5)]);
        assert_eq!(kinds("subject:"), vec![field("subject", "", 8)]);
    }

    #[test]
    fn unterminated_quote_points_at_it() {
        let e = tokenize(r#"a "open"#).unwrap_err();
        assert_eq!((e.kind, e.start, e.end), (QueryErrorKind::UnterminatedQuote, 2, 3));
        let e = tokenize(r#"subject:"x"#).unwrap_err();
        assert_eq!(e.start, 8);
    }
}
