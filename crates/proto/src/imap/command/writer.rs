//! The byte writer behind command encoding: string forms, literals and continuation chunks.
//!
//! Owns choosing how each string goes on the wire (atom, quoted string or literal), writing
//! synchronising and non-synchronising literals, splitting a command into the chunks that must wait
//! for the server's `+` continuation, and the log rendering of the same command (secrets replaced,
//! literals summarised).
//!
//! Must never: put a CR, LF or 8-bit byte anywhere but inside a literal; write a string that reads
//! back differently from what was given; put a secret into the log rendering.
//!
//! Implements RFC 3501 section 4.1 (atom), 4.3 (string: quoted and literal), 7.5 (command continuation
//! request) and section 9 (`astring`, `ATOM-CHAR`, `atom-specials`, `list-mailbox`, `quoted`,
//! `literal`); RFC 7888 section 3 (LITERAL+ `{n+}`).

use std::fmt::Display;

/// Where the writer's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The server. With `literal_plus`, literals are `{n+}` and need no continuation.
    Wire { literal_plus: bool },
    /// A log line: secrets become `<redacted>`, literals `<literal n bytes>`, no CRLF.
    Log,
}

/// How a string is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Atom,
    Quoted,
    Literal,
}

/// Accumulates one command.
#[derive(Debug)]
pub(super) struct Writer {
    target: Target,
    /// Chunks that end in a synchronising literal's `{n}` CRLF.
    chunks: Vec<Vec<u8>>,
    /// The chunk being written.
    current: Vec<u8>,
}

/// `ATOM-CHAR`: any CHAR except `atom-specials` (`(`, `)`, `{`, SP, CTL, `%`, `*`, `"`, `\`, `]`).
fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `list-char`: `ATOM-CHAR`, the list wildcards `%` and `*`, and `]`.
fn is_list_char(b: u8) -> bool {
    is_atom_char(b) || matches!(b, b'%' | b'*' | b']')
}

/// Printable 7-bit: what a quoted string may carry without surprises (no CR, LF, NUL or controls).
fn is_quotable(b: u8) -> bool {
    matches!(b, 0x20..=0x7e)
}

/// The form for `value`: an atom if `atom_ok` allows it, else quoted if `quote_ok` allows every byte,
/// else a literal. Empty strings and anything spelled NIL are never atoms (NIL would read as nil).
fn form_of(value: &[u8], atom_ok: bool, quote_ok: impl Fn(u8) -> bool) -> Form {
    if atom_ok && !value.is_empty() && !value.eq_ignore_ascii_case(b"NIL") {
        Form::Atom
    } else if value.iter().all(|&b| quote_ok(b)) {
        Form::Quoted
    } else {
        Form::Literal
    }
}

impl Writer {
    /// A writer for `target`.
    pub(super) fn new(target: Target) -> Writer {
        Writer { target, chunks: Vec::new(), current: Vec::new() }
    }

    /// Protocol text this crate controls: keywords, tags, numbers, parentheses.
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.current.extend_from_slice(bytes);
    }

    /// One space.
    pub(super) fn sp(&mut self) {
        self.current.push(b' ');
    }

    /// A number or other value whose `Display` is protocol text.
    pub(super) fn display(&mut self, value: impl Display) {
        self.current.extend_from_slice(value.to_string().as_bytes());
    }

    /// `astring`: an atom when every byte is an `ATOM-CHAR`, else a quoted string, else a literal.
    /// Also used where the grammar wants an atom (auth-type, capability): a value that is not an atom
    /// then becomes a string the server rejects, never a way to smuggle bytes into the line.
    pub(super) fn astring(&mut self, value: &[u8]) {
        let atom_ok = value.iter().all(|&b| is_atom_char(b));
        self.write_as(value, form_of(value, atom_ok, is_quotable));
    }

    /// `string`: a quoted string, else a literal (never an atom).
    pub(super) fn string(&mut self, value: &[u8]) {
        self.write_as(value, form_of(value, false, is_quotable));
    }

    /// `list-mailbox`: like `astring`, but `%`, `*` and `]` may stay in the atom.
    pub(super) fn list_mailbox(&mut self, value: &[u8]) {
        let atom_ok = value.iter().all(|&b| is_list_char(b));
        self.write_as(value, form_of(value, atom_ok, is_quotable));
    }

    /// An `astring` credential. Anything with `"` or `\` goes as a literal rather than escaped, so a
    /// server that unescapes quoted strings badly still sees the exact bytes. In a log: `<redacted>`.
    pub(super) fn secret_astring(&mut self, value: &[u8]) {
        if self.target == Target::Log {
            self.raw(b"<redacted>");
            return;
        }
        let atom_ok = value.iter().all(|&b| is_atom_char(b));
        let form = form_of(value, atom_ok, |b| is_quotable(b) && b != b'"' && b != b'\\');
        self.write_as(value, form);
    }

    /// Protocol text that is itself a credential (a base64 initial response). In a log: `<redacted>`.
    pub(super) fn secret_raw(&mut self, bytes: &[u8]) {
        match self.target {
            Target::Log => self.raw(b"<redacted>"),
            Target::Wire { .. } => self.raw(bytes),
        }
    }

    fn write_as(&mut self, value: &[u8], form: Form) {
        match form {
            Form::Atom => self.raw(value),
            Form::Quoted => self.quoted(value),
            Form::Literal => self.literal(value),
        }
    }

    /// `quoted`: DQUOTE, with `"` and `\` escaped by `\`, DQUOTE.
    fn quoted(&mut self, value: &[u8]) {
        self.current.reserve(value.len() + 2);
        self.current.push(b'"');
        for &b in value {
            if b == b'"' || b == b'\\' {
                self.current.push(b'\\');
            }
            self.current.push(b);
        }
        self.current.push(b'"');
    }

    /// `literal`: `{n}` CRLF and the bytes, after a continuation; or `{n+}` CRLF and the bytes at once.
    fn literal(&mut self, value: &[u8]) {
        match self.target {
            Target::Log => self.display(format_args!("<literal {} bytes>", value.len())),
            Target::Wire { literal_plus: true } => {
                self.display(format_args!("{{{}+}}\r\n", value.len()));
                self.raw(value);
            }
            Target::Wire { literal_plus: false } => {
                self.display(format_args!("{{{}}}\r\n", value.len()));
                self.chunks.push(std::mem::take(&mut self.current));
                self.raw(value);
            }
        }
    }

    /// The command's chunks; the last one ends with CRLF.
    pub(super) fn finish_wire(mut self) -> Vec<Vec<u8>> {
        self.raw(b"\r\n");
        self.chunks.push(self.current);
        self.chunks
    }

    /// The command as one log line.
    pub(super) fn finish_log(self) -> String {
        let mut line = Vec::new();
        for chunk in self.chunks.iter().chain(std::iter::once(&self.current)) {
            line.extend_from_slice(chunk);
        }
        String::from_utf8_lossy(&line).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNC: Target = Target::Wire { literal_plus: false };
    const PLUS: Target = Target::Wire { literal_plus: true };

    fn wire_of(target: Target, write: impl FnOnce(&mut Writer)) -> Vec<Vec<u8>> {
        let mut w = Writer::new(target);
        write(&mut w);
        w.finish_wire()
    }

    fn one(target: Target, write: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let chunks = wire_of(target, write);
        assert_eq!(chunks.len(), 1, "expected one chunk, got {chunks:?}");
        chunks.concat()
    }

    #[test]
    fn astring_picks_atom_quoted_or_literal() {
        let table: &[(&[u8], &[u8])] = &[
            (b"alice", b"alice\r\n"),
            (b"alice@example.com", b"alice@example.com\r\n"),
            (b"a+b-c_d.e/f~g'h!#$&=?^|`", b"a+b-c_d.e/f~g'h!#$&=?^|`\r\n"),
            (b"", b"\"\"\r\n"),
            (b"NIL", b"\"NIL\"\r\n"),
            (b"nil", b"\"nil\"\r\n"),
            (b"a b", b"\"a b\"\r\n"),
            (b"a(b", b"\"a(b\"\r\n"),
            (b"a)b", b"\"a)b\"\r\n"),
            (b"a{b", b"\"a{b\"\r\n"),
            (b"a%b", b"\"a%b\"\r\n"),
            (b"a*b", b"\"a*b\"\r\n"),
            (b"a]b", b"\"a]b\"\r\n"),
            (b"say \"hi\"", b"\"say \\\"hi\\\"\"\r\n"),
            (b"back\\slash", b"\"back\\\\slash\"\r\n"),
        ];
        for &(value, expected) in table {
            assert_eq!(
                one(SYNC, |w| w.astring(value)),
                expected,
                "value {:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn strings_that_cannot_be_quoted_become_literals() {
        let table: &[(&[u8], &[u8], &[u8])] = &[
            (b"caf\xc3\xa9", b"{5}\r\n", b"caf\xc3\xa9\r\n"),
            (b"a\r\nb", b"{4}\r\n", b"a\r\nb\r\n"),
            (b"a\nb", b"{3}\r\n", b"a\nb\r\n"),
            (b"tab\there", b"{8}\r\n", b"tab\there\r\n"),
            (b"\x7f", b"{1}\r\n", b"\x7f\r\n"),
            (b"\x00", b"{1}\r\n", b"\x00\r\n"),
        ];
        for &(value, head, tail) in table {
            let chunks = wire_of(SYNC, |w| w.astring(value));
            assert_eq!(chunks, [head.to_vec(), tail.to_vec()], "value {:?}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn literal_plus_keeps_one_chunk() {
        assert_eq!(one(PLUS, |w| w.astring(b"caf\xc3\xa9")), b"{5+}\r\ncaf\xc3\xa9\r\n");
        assert_eq!(one(PLUS, |w| w.astring(b"")), b"\"\"\r\n");
    }

    #[test]
    fn text_after_a_literal_continues_the_next_chunk() {
        let chunks = wire_of(SYNC, |w| {
            w.raw(b"A1 LOGIN ");
            w.astring(b"\xff");
            w.sp();
            w.astring(b"\xfe");
        });
        assert_eq!(chunks, [b"A1 LOGIN {1}\r\n".to_vec(), b"\xff {1}\r\n".to_vec(), b"\xfe\r\n".to_vec()]);
    }

    #[test]
    fn string_is_never_an_atom() {
        assert_eq!(one(SYNC, |w| w.string(b"mailsync")), b"\"mailsync\"\r\n");
        assert_eq!(one(SYNC, |w| w.string(b"")), b"\"\"\r\n");
        assert_eq!(one(PLUS, |w| w.string(b"\xc3\xa9")), b"{2+}\r\n\xc3\xa9\r\n");
    }

    #[test]
    fn list_mailbox_keeps_wildcards_in_atoms() {
        let table: &[(&[u8], &[u8])] = &[
            (b"*", b"*\r\n"),
            (b"%", b"%\r\n"),
            (b"INBOX/*", b"INBOX/*\r\n"),
            (b"a]b", b"a]b\r\n"),
            (b"", b"\"\"\r\n"),
            (b"Sent Items/%", b"\"Sent Items/%\"\r\n"),
            (b"a(b*", b"\"a(b*\"\r\n"),
            (b"x\"y*", b"\"x\\\"y*\"\r\n"),
        ];
        for &(value, expected) in table {
            assert_eq!(one(SYNC, |w| w.list_mailbox(value)), expected);
        }
    }

    #[test]
    fn secrets_with_quote_or_backslash_go_as_literals() {
        assert_eq!(one(SYNC, |w| w.secret_astring(b"hunter2")), b"hunter2\r\n");
        assert_eq!(one(SYNC, |w| w.secret_astring(b"two words")), b"\"two words\"\r\n");
        assert_eq!(one(SYNC, |w| w.secret_astring(b"")), b"\"\"\r\n");
        assert_eq!(one(PLUS, |w| w.secret_astring(b"a\"b")), b"{3+}\r\na\"b\r\n");
        assert_eq!(one(PLUS, |w| w.secret_astring(b"a\\b")), b"{3+}\r\na\\b\r\n");
        assert_eq!(
            wire_of(SYNC, |w| w.secret_astring(b"p\xc3\xa4ss")),
            [b"{5}\r\n".to_vec(), b"p\xc3\xa4ss\r\n".to_vec()]
        );
        assert_eq!(one(SYNC, |w| w.secret_raw(b"AGEAYg==")), b"AGEAYg==\r\n");
    }

    #[test]
    fn log_lines_redact_secrets_and_summarise_literals() {
        let mut w = Writer::new(Target::Log);
        w.raw(b"A1 LOGIN");
        w.sp();
        w.astring(b"caf\xc3\xa9\r\n");
        w.sp();
        w.secret_astring(b"hunter2");
        w.sp();
        w.secret_raw(b"AGEAYg==");
        w.sp();
        w.string(b"plain");
        assert_eq!(w.finish_log(), "A1 LOGIN <literal 7 bytes> <redacted> <redacted> \"plain\"");
    }
}
