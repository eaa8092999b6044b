//! The header index: the searchable fields extracted from a raw message when it is stored.
//!
//! Owns: turning raw message bytes into a [`HeaderIndex`] (Message-ID, Date, From, To, Cc, Subject,
//! In-Reply-To, References, has-attachments) with `mailparse`, and deciding when the MIME structure is
//! too deep or too broken to walk.
//!
//! Must never: fail or panic (a message it cannot read still gets stored raw, with `parse_error` set);
//! decode bodies (only headers and the MIME part tree are read, so indexing stays cheap); recurse without
//! a bound (see [`MAX_MULTIPARTS`]).
//!
//! RFC 5322 section 3.6 (the header fields), RFC 2047 (encoded words, decoded by mailparse), RFC 2045 and
//! 2046 section 5.1 (multipart structure), RFC 2183 (Content-Disposition).

use mailparse::{DispositionType, MailHeader, MailHeaderMap, ParsedMail};

/// A message with more `multipart/` media types than this is not walked for its MIME structure:
/// each level of nesting is a level of recursion in the parser. (mailparse also stops at 100 levels of
/// its own; this bound holds whatever the library version does, and bounds the work.)
pub const MAX_MULTIPARTS: usize = 256;

/// The indexed fields of one message. Every text field is `None` when the header is absent or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderIndex {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Date as unix seconds; `None` when absent or unparsable.
    pub date: Option<i64>,
    /// The Date header as written (unfolded).
    pub date_header: Option<String>,
    /// From, decoded display text with addresses.
    pub from: Option<String>,
    /// To, decoded display text with addresses (several To headers joined with ", ").
    pub to: Option<String>,
    /// Cc, like To.
    pub cc: Option<String>,
    /// Subject, RFC 2047 decoded.
    pub subject: Option<String>,
    /// In-Reply-To message ids, without brackets, space-separated.
    pub in_reply_to: Option<String>,
    /// References message ids, without brackets, space-separated.
    pub references: Option<String>,
    /// Some part is `Content-Disposition: attachment`, or is a non-text leaf part with a file name.
    pub has_attachments: bool,
    /// Why the index is incomplete, if it is.
    pub parse_error: Option<String>,
}

/// Indexes `raw`. Never fails: what cannot be read is left `None` and explained in `parse_error`.
pub fn index_message(raw: &[u8]) -> HeaderIndex {
    let multiparts = count_multipart_mentions(raw, MAX_MULTIPARTS + 1);
    if multiparts > MAX_MULTIPARTS {
        return headers_only(
            raw,
            format!("mime structure not parsed: more than {MAX_MULTIPARTS} multipart parts"),
        );
    }
    match mailparse::parse_mail(raw) {
        Ok(parsed) => {
            let mut index = from_headers(&parsed.headers);
            index.has_attachments = parsed.parts().any(is_attachment);
            index
        }
        Err(e) => headers_only(raw, format!("mime structure not parsed: {e}")),
    }
}

/// The top-level headers alone, for a message whose MIME structure is not walked.
fn headers_only(raw: &[u8], why: String) -> HeaderIndex {
    match mailparse::parse_headers(raw) {
        Ok((headers, _)) => HeaderIndex { parse_error: Some(why), ..from_headers(&headers) },
        Err(e) => {
            HeaderIndex { parse_error: Some(format!("headers not parsed: {e}")), ..HeaderIndex::default() }
        }
    }
}

pub(crate) fn from_headers(headers: &[MailHeader<'_>]) -> HeaderIndex {
    let date_header = first(headers, "Date");
    HeaderIndex {
        message_id: headers.get_first_value("Message-ID").and_then(|v| message_ids(&v).into_iter().next()),
        // mailparse's dateparse skips what it does not understand and answers 0 for text with no date
        // in it: 0 (1970-01-01T00:00:00Z) is taken as "unparsable".
        date: date_header.as_deref().and_then(|d| mailparse::dateparse(d).ok()).filter(|&t| t != 0),
        date_header,
        from: first(headers, "From"),
        to: all(headers, "To"),
        cc: all(headers, "Cc"),
        subject: first(headers, "Subject"),
        in_reply_to: id_list(headers, "In-Reply-To"),
        references: id_list(headers, "References"),
        has_attachments: false,
        parse_error: None,
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_owned())
    }
}

/// The first header named `name`, unfolded and decoded.
fn first(headers: &[MailHeader<'_>], name: &str) -> Option<String> {
    headers.get_first_value(name).and_then(non_empty)
}

/// Every header named `name`, decoded, joined with ", ".
fn all(headers: &[MailHeader<'_>], name: &str) -> Option<String> {
    let values: Vec<String> = headers.get_all_values(name).into_iter().filter_map(non_empty).collect();
    non_empty(values.join(", "))
}

/// The message ids of a header, without brackets, space-separated.
fn id_list(headers: &[MailHeader<'_>], name: &str) -> Option<String> {
    headers.get_first_value(name).and_then(|v| non_empty(message_ids(&v).join(" ")))
}

/// Message ids from a header value: `<a@b> <c@d>` gives `a@b`, `c@d`. Lenient where mailparse's strict
/// reading fails: ids in angle brackets are taken wherever they are (comments around them are dropped),
/// and a value without any brackets is split on whitespace.
fn message_ids(value: &str) -> Vec<String> {
    if let Ok(ids) = mailparse::msgidparse(value) {
        return ids.iter().map(|id| id.trim()).filter(|id| !id.is_empty()).map(str::to_owned).collect();
    }
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let id = after[..close].trim();
        if !id.is_empty() {
            ids.push(id.to_owned());
        }
        rest = &after[close + 1..];
    }
    if ids.is_empty() {
        ids = value
            .split_whitespace()
            .map(|t| t.trim_matches(|c| c == '<' || c == '>'))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
    }
    ids
}

/// Whether one MIME part is an attachment (RFC 2183 section 2.2, or a named non-text leaf).
pub(crate) fn is_attachment(part: &ParsedMail<'_>) -> bool {
    let disposition = part.get_content_disposition();
    if disposition.disposition == DispositionType::Attachment {
        return true;
    }
    let mimetype = part.ctype.mimetype.as_str();
    if mimetype.starts_with("text/") || mimetype.starts_with("multipart/") {
        return false;
    }
    let named = |key: &str, base: &str| key == base || key.starts_with(&format!("{base}*"));
    disposition.params.keys().any(|k| named(k, "filename"))
        || part.ctype.params.keys().any(|k| named(k, "name"))
}

/// Counts `multipart/` (ASCII case-insensitive) in `raw`, stopping once `stop_at` is reached. An upper
/// bound on the number of multipart parts, and so on their nesting depth.
pub(crate) fn count_multipart_mentions(raw: &[u8], stop_at: usize) -> usize {
    const WORD: &[u8] = b"multipart";
    let mut count = 0;
    for slash in memchr::memchr_iter(b'/', raw) {
        let Some(start) = slash.checked_sub(WORD.len()) else { continue };
        if raw.get(start..slash).is_some_and(|w| w.eq_ignore_ascii_case(WORD)) {
            count += 1;
            if count >= stop_at {
                break;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `depth` multipart/mixed parts nested inside each other, with a text leaf at the bottom.
    fn nested_multiparts(depth: usize) -> Vec<u8> {
        let mut m = b"From: a@example.com\r\nSubject: nested\r\nMessage-ID: <deep@example.com>\r\n".to_vec();
        for i in 0..depth {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=\"b{i:04}\"\r\n\r\n--b{i:04}\r\n")
                    .as_bytes(),
            );
        }
        m.extend_from_slice(b"Content-Type: text/plain\r\n\r\nbottom\r\n");
        for i in (0..depth).rev() {
            m.extend_from_slice(format!("--b{i:04}--\r\n").as_bytes());
        }
        m
    }

    #[test]
    fn plain_message_fields() {
        let raw = b"Message-ID: <abc@example.com>\r\n\
Date: Sun, 02 Oct 2016 07:06:22 -0700 (PDT)\r\n\
From: \"Ann Example\" <ann@example.com>\r\n\
To: bob@example.com,\r\n carol@example.com\r\n\
Cc: dan@example.com\r\n\
Subject: Hello\r\n\
In-Reply-To: <p1@example.com>\r\n\
References: <p0@example.com>\r\n <p1@example.com>\r\n\
\r\n\
body\r\n";
        let ix = index_message(raw);
        assert_eq!(ix.message_id.as_deref(), Some("abc@example.com"));
        assert_eq!(ix.date, Some(1_475_417_182));
        assert_eq!(ix.date_header.as_deref(), Some("Sun, 02 Oct 2016 07:06:22 -0700 (PDT)"));
        assert_eq!(ix.from.as_deref(), Some("\"Ann Example\" <ann@example.com>"));
        assert_eq!(ix.to.as_deref(), Some("bob@example.com, carol@example.com"));
        assert_eq!(ix.cc.as_deref(), Some("dan@example.com"));
        assert_eq!(ix.subject.as_deref(), Some("Hello"));
        assert_eq!(ix.in_reply_to.as_deref(), Some("p1@example.com"));
        assert_eq!(ix.references.as_deref(), Some("p0@example.com p1@example.com"));
        assert!(!ix.has_attachments);
        assert_eq!(ix.parse_error, None);
    }

    #[test]
    fn encoded_word_subjects_are_decoded() {
        let cases: [(&[u8], &str); 4] = [
            (b"Subject: =?UTF-8?B?w5xiZXJncsO2w59lIOKCrA==?=\r\n\r\n", "Übergröße €"),
            (b"Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\r\n\r\n", "Café crème"),
            (b"Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n\r\n", "こんにちは"),
            (b"Subject: =?utf-8?q?a?= =?utf-8?q?b?= c\r\n\r\n", "ab c"),
        ];
        for (raw, want) in cases {
            assert_eq!(index_message(raw).subject.as_deref(), Some(want), "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn encoded_from_keeps_the_address() {
        let ix = index_message(b"From: =?UTF-8?Q?J=C3=B6rg?= <jorg@example.com>\r\n\r\n");
        assert_eq!(ix.from.as_deref(), Some("Jörg <jorg@example.com>"));
    }

    #[test]
    fn missing_and_odd_headers() {
        let ix = index_message(b"Subject: no id\r\nDate: yesterday-ish\r\n\r\nbody");
        assert_eq!(ix.message_id, None);
        assert_eq!(ix.date, None);
        assert_eq!(ix.date_header.as_deref(), Some("yesterday-ish"));
        assert_eq!(ix.parse_error, None);

        let ix = index_message(b"Message-ID: bare-id@example.com\r\nIn-Reply-To: <x@y> (sent by z)\r\n\r\n");
        assert_eq!(ix.message_id.as_deref(), Some("bare-id@example.com"));
        assert_eq!(ix.in_reply_to.as_deref(), Some("x@y"));
    }

    #[test]
    fn attachments_detected() {
        let with = b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--XX\r\n\
Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--XX--\r\n";
        assert!(index_message(with).has_attachments);

        let disposition = b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\
Content-Type: text/plain\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nhi\r\n--XX--\r\n";
        assert!(index_message(disposition).has_attachments);

        let alternative = b"Content-Type: multipart/alternative; boundary=XX\r\n\r\n--XX\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--XX\r\nContent-Type: text/html; name=x.html\r\n\r\n<p>hi</p>\r\n--XX--\r\n";
        assert!(!index_message(alternative).has_attachments, "a named text part inline is not an attachment");
    }

    #[test]
    fn deep_nesting_within_the_guard_hits_mailparse_limit_without_overflowing() {
        // 150 levels: below MAX_MULTIPARTS, above mailparse's own limit of 100. Run on a small stack to
        // show the parse is bounded well below tokio's 2 MiB worker stacks.
        let raw = nested_multiparts(150);
        let ix = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || index_message(&raw))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(ix.subject.as_deref(), Some("nested"));
        assert_eq!(ix.message_id.as_deref(), Some("deep@example.com"));
        assert!(ix.parse_error.as_deref().unwrap_or("").starts_with("mime structure not parsed"), "{ix:?}");
    }

    #[test]
    fn thousand_nested_multiparts_are_refused_by_the_guard() {
        let raw = nested_multiparts(1000);
        let ix = index_message(&raw);
        assert_eq!(
            ix.parse_error.as_deref(),
            Some("mime structure not parsed: more than 256 multipart parts")
        );
        assert_eq!(ix.subject.as_deref(), Some("nested"));
    }

    #[test]
    fn guard_is_case_insensitive() {
        assert_eq!(count_multipart_mentions(b"MULTIPART/x Multipart/y multipart/z multipartz/", 10), 3);
        assert_eq!(count_multipart_mentions(b"/multipart/", 10), 1);
        assert_eq!(count_multipart_mentions(b"multipart/multipart/multipart/", 2), 2);
    }

    #[test]
    fn garbage_is_explained_not_fatal() {
        let ix = index_message(b" starts with a space\r\n\r\n");
        assert!(ix.parse_error.as_deref().unwrap().starts_with("headers not parsed: "), "{ix:?}");
        assert_eq!(ix.subject, None);
        let ix = index_message(b"Subject: x\r\n\rlone CR");
        assert!(ix.parse_error.is_some());
        for raw in [&b""[..], b"\0\0\0", b"\xff\xfe:\xff\r\n\r\n", b":\r\n", b"\r\n"] {
            let _ = index_message(raw);
        }
    }
}
