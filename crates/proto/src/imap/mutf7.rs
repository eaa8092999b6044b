//! Modified UTF-7, the encoding of international mailbox names on the IMAP wire.
//!
//! Owns turning a mailbox name into its wire form ([`encode`]) and back, strictly ([`decode`], which
//! accepts only the one canonical encoding of each name) or for display ([`decode_lossy`], which never
//! fails because servers do send junk and raw UTF-8).
//!
//! Must never: panic on any input; put anything but printable US-ASCII on the wire; treat a name that
//! [`decode_lossy`] repaired as the server's real name (send the name as the server sent it instead).
//!
//! Implements RFC 3501 section 5.1.3 (modified UTF-7: printable US-ASCII except `&` represents itself,
//! `&` is `&-`, everything else is UTF-16BE in modified base64 with `,` for `/`, between `&` and `-`,
//! with no null shifts and no shifted printable US-ASCII), using the base64 of RFC 2152 section 4
//! without padding.

use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};
use base64::{alphabet, Engine as _};

/// Base64 with `,` for `/`, no padding, trailing bits required to be zero.
const MODIFIED_BASE64: GeneralPurpose = GeneralPurpose::new(&alphabet::IMAP_MUTF7, NO_PAD);

/// A wire name that is not strict modified UTF-7. Offsets count bytes from the start of the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mutf7Error {
    /// A byte outside the shifts that is not printable US-ASCII (8-bit, control, DEL).
    #[error("byte 0x{byte:02x} at offset {offset} is not printable US-ASCII")]
    NotPrintable {
        /// Where the byte is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A `&` whose shift reaches the end of the name without a closing `-`.
    #[error("shift at offset {offset} is not terminated by '-'")]
    Unterminated {
        /// Where the `&` is.
        offset: usize,
    },
    /// A shift holding a byte outside the modified base64 alphabet, a length no base64 can have, or
    /// non-zero bits after the last whole octet.
    #[error("shift at offset {offset} is not valid modified base64")]
    BadBase64 {
        /// Where the `&` is.
        offset: usize,
    },
    /// A shift whose octets are not whole, valid UTF-16BE (odd length, unpaired surrogate).
    #[error("shift at offset {offset} is not valid UTF-16")]
    BadUtf16 {
        /// Where the `&` is.
        offset: usize,
    },
    /// A shift encoding a character that must represent itself.
    #[error("shift at offset {offset} encodes printable US-ASCII {ch:?}, which must represent itself")]
    ShiftedAscii {
        /// Where the `&` is.
        offset: usize,
        /// The character.
        ch: char,
    },
    /// A shift starting right where another ended (`-&`), which RFC 3501 forbids.
    #[error("shift at offset {offset} directly follows another shift (null shift)")]
    NullShift {
        /// Where the second `&` is.
        offset: usize,
    },
}

/// Whether `c` represents itself: printable US-ASCII, 0x20 to 0x7E (`&` is then escaped as `&-`).
fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a mailbox name for the wire. The result is printable US-ASCII only.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush_shift(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_shift(&mut out, &mut pending);
    out
}

/// Writes the pending UTF-16 units as one `&...-` shift.
fn flush_shift(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    let octets: Vec<u8> = pending.iter().flat_map(|unit| unit.to_be_bytes()).collect();
    out.push('&');
    MODIFIED_BASE64.encode_string(&octets, out);
    out.push('-');
    pending.clear();
}

/// Decodes a wire name strictly: every rule of RFC 3501 section 5.1.3 is enforced, so exactly the
/// strings [`encode`] produces are accepted, and `encode(&decode(w)?) == w`.
pub fn decode(wire: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    // Where the last non-empty shift ended, to catch "-&" null shifts.
    let mut after_shift: Option<usize> = None;
    while let Some(&byte) = wire.get(i) {
        if byte == b'&' {
            let end = shift_end(wire, i)?;
            let body = wire.get(i + 1..end).unwrap_or_default();
            if !body.is_empty() && after_shift == Some(i) {
                return Err(Mutf7Error::NullShift { offset: i });
            }
            out.push_str(&decode_shift(body, i)?);
            i = end + 1;
            after_shift = if body.is_empty() { None } else { Some(i) };
        } else if is_direct(char::from(byte)) {
            out.push(char::from(byte));
            i += 1;
        } else {
            return Err(Mutf7Error::NotPrintable { offset: i, byte });
        }
    }
    Ok(out)
}

/// Decodes a wire name for display; never fails.
///
/// Each `&...-` shift that decodes cleanly is decoded; any shift that does not (bad base64, odd
/// length, unpaired surrogate, shifted ASCII, no closing `-`) is kept as-is, as are bytes outside
/// shifts. Raw 8-bit bytes are read as UTF-8 (some servers send UTF-8 names unasked), and bytes that
/// are not UTF-8 become U+FFFD. Null shifts are tolerated. For any `w` that [`decode`] accepts, the
/// result is the same as `decode(w)`.
pub fn decode_lossy(wire: &[u8]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(wire.len());
    let mut i = 0;
    while let Some(&byte) = wire.get(i) {
        if byte == b'&' {
            if let Ok(end) = shift_end(wire, i) {
                let shift = wire.get(i..=end).unwrap_or_default();
                let body = wire.get(i + 1..end).unwrap_or_default();
                match decode_shift(body, i) {
                    Ok(text) => out.extend_from_slice(text.as_bytes()),
                    Err(_) => out.extend_from_slice(shift),
                }
                i = end + 1;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The index of the `-` closing the shift whose `&` is at `start`.
///
/// A shift ends at the first byte outside the modified base64 alphabet; that byte must be `-`.
fn shift_end(wire: &[u8], start: usize) -> Result<usize, Mutf7Error> {
    let rest = wire.get(start + 1..).unwrap_or_default();
    match rest.iter().position(|&b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b',')) {
        None => Err(Mutf7Error::Unterminated { offset: start }),
        Some(n) if rest.get(n) == Some(&b'-') => Ok(start + 1 + n),
        Some(_) => Err(Mutf7Error::BadBase64 { offset: start }),
    }
}

/// Decodes the base64 `body` of the shift whose `&` is at `offset`; an empty body is `&-`, i.e. `&`.
fn decode_shift(body: &[u8], offset: usize) -> Result<String, Mutf7Error> {
    if body.is_empty() {
        return Ok("&".to_owned());
    }
    let octets = MODIFIED_BASE64.decode(body).map_err(|_| Mutf7Error::BadBase64 { offset })?;
    let pairs = octets.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(Mutf7Error::BadUtf16 { offset });
    }
    let units = pairs.map(|pair| match *pair {
        [high, low] => u16::from_be_bytes([high, low]),
        _ => 0,
    });
    let mut text = String::with_capacity(octets.len());
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| Mutf7Error::BadUtf16 { offset })?;
        if is_direct(c) {
            return Err(Mutf7Error::ShiftedAscii { offset, ch: c });
        }
        text.push(c);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (name, wire form) pairs that must map to each other both ways.
    const ROUND_TRIPS: &[(&str, &[u8])] = &[
        ("", b""),
        ("INBOX", b"INBOX"),
        ("Sent Items", b"Sent Items"),
        // RFC 3501 section 5.1.3's example.
        ("~peter/mail/台北/日本語", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("&", b"&-"),
        ("Tom & Jerry", b"Tom &- Jerry"),
        ("&&", b"&-&-"),
        ("Hi Mom -☺-!", b"Hi Mom -&Jjo--!"),
        ("Entwürfe", b"Entw&APw-rfe"),
        ("Gelöschte Elemente", b"Gel&APY-schte Elemente"),
        ("é&", b"&AOk-&-"),
        ("&é", b"&-&AOk-"),
        ("😀", b"&2D3eAA-"),
        ("é\u{7f}", b"&AOkAfw-"),
        ("tab\there", b"tab&AAk-here"),
        ("\u{0}", b"&AAA-"),
        ("a/b%c*d\"e\\f", b"a/b%c*d\"e\\f"),
    ];

    #[test]
    fn encode_matches_the_table() {
        for &(name, wire) in ROUND_TRIPS {
            assert_eq!(encode(name).as_bytes(), wire, "name {name:?}");
        }
    }

    #[test]
    fn decode_matches_the_table() {
        for &(name, wire) in ROUND_TRIPS {
            assert_eq!(decode(wire).as_deref(), Ok(name), "wire {:?}", String::from_utf8_lossy(wire));
            assert_eq!(decode_lossy(wire), name, "wire {:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn strict_decode_rejects_bad_base64() {
        use Mutf7Error::BadBase64;
        let table: &[(&[u8], Mutf7Error)] = &[
            // "/" is plain base64, not modified base64.
            (b"~peter/mail/&U/BTFw-", BadBase64 { offset: 12 }),
            (b"&Jjo!-", BadBase64 { offset: 0 }),
            (b"&Jj o-", BadBase64 { offset: 0 }),
            // One symbol is six bits: no whole octet.
            (b"&A-", BadBase64 { offset: 0 }),
            // Non-zero bits after the last octet.
            (b"&AB-", BadBase64 { offset: 0 }),
            (b"&Jjp-", BadBase64 { offset: 0 }),
            // Padding is not part of modified base64.
            (b"&AOk=-", BadBase64 { offset: 0 }),
        ];
        for (wire, expected) in table {
            assert_eq!(decode(wire).as_ref(), Err(expected), "wire {:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn strict_decode_rejects_unterminated_shifts() {
        assert_eq!(decode(b"&"), Err(Mutf7Error::Unterminated { offset: 0 }));
        assert_eq!(decode(b"abc&U,BTFw"), Err(Mutf7Error::Unterminated { offset: 3 }));
    }

    #[test]
    fn strict_decode_rejects_shifted_plain_ascii() {
        // "&AGE-" is "a", which must be written as itself.
        assert_eq!(decode(b"&AGE-"), Err(Mutf7Error::ShiftedAscii { offset: 0, ch: 'a' }));
        // "&ACY-" is "&", which must be written "&-".
        assert_eq!(decode(b"x&ACY-"), Err(Mutf7Error::ShiftedAscii { offset: 1, ch: '&' }));
        // Mixed with a real non-ASCII character in the same shift.
        assert_eq!(decode(b"&AOkAYQ-"), Err(Mutf7Error::ShiftedAscii { offset: 0, ch: 'a' }));
    }

    #[test]
    fn strict_decode_rejects_bad_utf16() {
        // Three octets: half a code unit left over.
        assert_eq!(decode(b"&AOkA-"), Err(Mutf7Error::BadUtf16 { offset: 0 }));
        // An unpaired high surrogate.
        assert_eq!(decode(b"&2D0-"), Err(Mutf7Error::BadUtf16 { offset: 0 }));
    }

    #[test]
    fn strict_decode_rejects_null_shifts() {
        assert_eq!(decode(b"&AOk-&AOk-"), Err(Mutf7Error::NullShift { offset: 5 }));
        // "&-" after a shift is a literal "&", not a null shift.
        assert_eq!(decode(b"&AOk-&-&AOk-"), Ok("é&é".to_owned()));
    }

    #[test]
    fn strict_decode_rejects_bytes_that_are_not_printable_ascii() {
        assert_eq!(decode(b"caf\xc3\xa9"), Err(Mutf7Error::NotPrintable { offset: 3, byte: 0xc3 }));
        assert_eq!(decode(b"a\r\nb"), Err(Mutf7Error::NotPrintable { offset: 1, byte: b'\r' }));
        assert_eq!(decode(b"\x7f"), Err(Mutf7Error::NotPrintable { offset: 0, byte: 0x7f }));
    }

    #[test]
    fn error_messages_are_lowercase_with_context() {
        let e = decode(b"ab&AGE-").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("shift at offset 2 encodes printable US-ASCII 'a', which must represent itself")
        );
    }

    #[test]
    fn lossy_decode_keeps_invalid_runs_as_is() {
        let table: &[(&[u8], &str)] = &[
            (b"&", "&"),
            (b"a&b", "a&b"),
            (b"&Jjo!", "&Jjo!"),
            (b"&U/BTFw-", "&U/BTFw-"),
            (b"x&AB-y", "x&AB-y"),
            (b"&AGE-", "&AGE-"),
            (b"&2D0-&Jjo-", "&2D0-☺"),
            (b"&AOk-&AOk-", "éé"),
            (b"caf\xc3\xa9 &Jjo-", "café ☺"),
            (b"bad \xff byte", "bad \u{fffd} byte"),
            (b"&U,BTFw-/&ZeVnLIqe", "台北/&ZeVnLIqe"),
        ];
        for &(wire, expected) in table {
            assert_eq!(decode_lossy(wire), expected, "wire {:?}", String::from_utf8_lossy(wire));
        }
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(name in any::<String>()) {
            let wire = encode(&name);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)), "wire {:?}", wire);
            prop_assert_eq!(decode(wire.as_bytes()), Ok(name.clone()));
            prop_assert_eq!(decode_lossy(wire.as_bytes()), name);
        }

        #[test]
        fn strict_decode_accepts_only_canonical_forms(wire in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(name) = decode(&wire) {
                prop_assert_eq!(encode(&name).into_bytes(), wire.clone());
                prop_assert_eq!(decode_lossy(&wire), name);
            }
        }

        #[test]
        fn canonical_shapes_round_trip(wire in "([ -%'-~]|&-|&[A-Za-z0-9+,]{1,8}-){0,6}") {
            if let Ok(name) = decode(wire.as_bytes()) {
                prop_assert_eq!(encode(&name), wire);
            }
        }
    }
}
