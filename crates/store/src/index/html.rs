//! HTML to plain text, for indexing `text/html` parts and for `mailsync show` of HTML-only mail.
//!
//! Owns: a tag stripper that keeps the text a person would read: elements that are not read
//! (`<script>`, `<style>`, `<head>`, `<template>`) and comments are dropped, block elements become
//! line breaks, whitespace collapses as a browser collapses it (except inside `<pre>`), and character
//! references are decoded (the full HTML5 table, through `html-escape`).
//!
//! Must never: panic or loop on malformed markup (an unclosed tag, comment or quote ends the text; an
//! unclosed `<script>` drops only the tag), build a DOM (this runs for every stored message, so it is
//! one linear pass), or interpret anything (no URLs are fetched, no entities beyond text).
//!
//! HTML Living Standard sections 13.2.5 (tokenization, loosely), 13.5 (named character references);
//! RFC 2854 (text/html in mail).

/// Elements whose content is not text a reader sees.
const SKIPPED: &[&str] = &["script", "style", "head", "template", "noembed", "noframes"];

/// Elements set apart by a blank line.
const PARAGRAPHS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dl",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "ul",
];

/// Elements that start and end a line.
const LINES: &[&str] = &["dd", "div", "dt", "figcaption", "li", "tbody", "tfoot", "thead", "title", "tr"];

/// Element names are ASCII; no real one is longer than this.
const MAX_NAME: usize = 16;

/// The readable text of an HTML document or fragment.
pub fn html_to_text(html: &str) -> String {
    let mut out = Text::default();
    let bytes = html.as_bytes();
    let mut pos = 0;
    while pos < html.len() {
        // Every position below is just after an ASCII byte ('<', '>', "-->"), so a character boundary.
        let Some(lt) = memchr::memchr(b'<', bytes.get(pos..).unwrap_or_default()).map(|i| pos + i) else {
            out.push_text(html.get(pos..).unwrap_or_default());
            break;
        };
        out.push_text(html.get(pos..lt).unwrap_or_default());
        let rest = html.get(lt..).unwrap_or_default();
        if let Some(comment) = rest.strip_prefix("<!--") {
            // A comment ends at the first "-->"; an unclosed one runs to the end.
            pos = comment.find("-->").map_or(html.len(), |i| lt + 4 + i + 3);
            continue;
        }
        let after = bytes.get(lt + 1).copied().unwrap_or(b' ');
        let closing = after == b'/';
        let name_start = if closing { lt + 2 } else { lt + 1 };
        let starts_tag =
            matches!(after, b'!' | b'?') || bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic);
        if !starts_tag {
            // A '<' that opens no tag is text ("a < b").
            out.push_text("<");
            pos = lt + 1;
            continue;
        }
        let Some(end) = tag_end(bytes, name_start) else { break };
        let name = tag_name(bytes, name_start);
        pos = end + 1;
        if name.is_empty() {
            continue;
        }
        if !closing && SKIPPED.contains(&name.as_str()) {
            if let Some(close) = find_close_tag(html, pos, &name) {
                pos = tag_end(bytes, close + 2).map_or(html.len(), |e| e + 1);
            }
            continue;
        }
        if name == "pre" {
            out.pre = if closing { out.pre.saturating_sub(1) } else { out.pre + 1 };
        }
        if name == "br" {
            out.newline();
        } else if PARAGRAPHS.contains(&name.as_str()) {
            out.break_lines(2);
        } else if LINES.contains(&name.as_str()) {
            out.break_lines(1);
            if name == "li" && !closing {
                out.push_raw("- ");
            }
        } else if matches!(name.as_str(), "td" | "th") && !closing {
            out.space();
        }
    }
    out.finish()
}

/// The lowercase element name starting at `start` (empty for `<!...>` and `<?...>`).
fn tag_name(bytes: &[u8], start: usize) -> String {
    bytes
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .take(MAX_NAME + 1)
        .map(|b| char::from(b.to_ascii_lowercase()))
        .collect()
}

/// The index of the '>' that ends the tag whose name starts at `from`, skipping quoted attribute
/// values. `None` when the document ends first.
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i),
            None => {}
        }
    }
    None
}

/// The index of the `</name` (ASCII case-insensitive, followed by a non-name byte) at or after `from`.
fn find_close_tag(html: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut at = from;
    while let Some(i) = memchr::memmem::find(bytes.get(at..)?, b"</") {
        let start = at + i;
        let candidate = bytes.get(start + 2..start + 2 + name.len());
        let next = bytes.get(start + 2 + name.len()).copied().unwrap_or(b'>');
        if candidate.is_some_and(|c| c.eq_ignore_ascii_case(name.as_bytes())) && !next.is_ascii_alphanumeric()
        {
            return Some(start);
        }
        at = start + 2;
    }
    None
}

/// The text being built, with browser-like whitespace handling.
#[derive(Debug, Default)]
struct Text {
    out: String,
    /// Inside how many `<pre>` elements.
    pre: usize,
    /// A space is owed before the next word.
    pending_space: bool,
}

impl Text {
    fn push_text(&mut self, raw: &str) {
        if raw.is_empty() {
            return;
        }
        let decoded = html_escape::decode_html_entities(raw);
        if self.pre > 0 {
            self.push_raw(&decoded);
            return;
        }
        for (i, word) in decoded.split(is_html_space).enumerate() {
            if i > 0 {
                self.pending_space = true;
            }
            if word.is_empty() {
                continue;
            }
            // Non-breaking spaces read as spaces.
            let word = word.replace('\u{a0}', " ");
            if self.pending_space && !self.out.is_empty() && !self.out.ends_with(['\n', ' ']) {
                self.out.push(' ');
            }
            self.pending_space = false;
            self.out.push_str(&word);
        }
    }

    fn push_raw(&mut self, text: &str) {
        self.out.push_str(text);
        self.pending_space = false;
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    /// Ends the current line unconditionally (`<br>`).
    fn newline(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        self.out.push('\n');
        self.pending_space = false;
    }

    /// Makes the text end with at least `n` line breaks (1: at a line start, 2: after a blank line),
    /// unless nothing has been written yet.
    fn break_lines(&mut self, n: usize) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        let have = self.out.len() - self.out.trim_end_matches('\n').len();
        if !self.out.is_empty() {
            for _ in have..n {
                self.out.push('\n');
            }
        }
        self.pending_space = false;
    }

    fn finish(self) -> String {
        let lines: Vec<&str> = self.out.lines().map(str::trim_end).collect();
        let mut text = lines.join("\n");
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        let start = text.len() - text.trim_start_matches('\n').len();
        text.split_off(start)
    }
}

fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newsletter_fixture_keeps_text_drops_script_and_style() {
        let html = "<!DOCTYPE html><html><head><style>p{color:green}</style></head><body>\r\n\
<p>Tomatoes love <b>sunshine</b> &amp; regular watering.</p>\r\n\
<script>track()</script><p>Unsubscribe anytime.</p></body></html>\r\n";
        assert_eq!(html_to_text(html), "Tomatoes love sunshine & regular watering.\n\nUnsubscribe anytime.");
    }

    #[test]
    fn entities_lists_and_breaks() {
        let html = "<h1>Agenda</h1><ol><li>Nanoseconds &mdash; a length of wire</li>\n<li>COBOL&nbsp;naming</li></ol>\
                    line<br>next &lt;tag&gt; &#233;&#x e9; caf&eacute;";
        assert_eq!(
            html_to_text(html),
            "Agenda\n\n- Nanoseconds — a length of wire\n- COBOL naming\n\nline\nnext <tag> é&#x e9; café"
        );
    }

    #[test]
    fn pre_keeps_whitespace_and_tables_get_spaces() {
        assert_eq!(html_to_text("<pre>a  b\n  c</pre>x"), "a  b\n  c\n\nx");
        assert_eq!(html_to_text("<table><tr><td>1</td><td>2</td></tr></table>"), "1 2");
    }

    #[test]
    fn comments_quotes_and_stray_brackets() {
        assert_eq!(html_to_text("a<!-- <p>hidden</p> -->b"), "ab");
        assert_eq!(html_to_text("<a title='x > y' href=\"q>\">link</a> 1 < 2"), "link 1 < 2");
        assert_eq!(html_to_text("<SCRIPT type=x>if (a</b) {}</Script >after"), "after");
    }

    #[test]
    fn malformed_markup_ends_quietly() {
        assert_eq!(html_to_text("text <b"), "text");
        assert_eq!(html_to_text("a <!-- never closed"), "a");
        assert_eq!(html_to_text("<script>never closed"), "never closed");
        assert_eq!(html_to_text("<p title=\"unclosed>text"), "");
        assert_eq!(html_to_text(""), "");
        assert_eq!(html_to_text("<<<>>>"), "<<<>>>");
    }

    #[test]
    fn random_markup_never_panics() {
        let pieces = [
            "<", ">", "</", "<!--", "-->", "\"", "'", "&", "&amp;", ";", "p", "script", "pre", "é", "議",
            " ", "\n", "#x",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut doc = String::new();
            for _ in 0..12 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let k = usize::try_from(state % u64::try_from(pieces.len()).unwrap()).unwrap();
                doc.push_str(pieces[k]);
            }
            let text = html_to_text(&doc);
            // Tags only remove text; entities only shorten it; "- " per list item is all that is added.
            assert!(text.len() <= doc.len(), "{doc:?} -> {text:?}");
        }
    }
}
