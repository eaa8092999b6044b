//! Field values that are not text: dates, sizes, flags, protocols.
//!
//! Owns: reading `2024-05-01`, `2024-05`, `2024` as UTC day, month or year spans; `A..B` ranges with
//! either end open; sizes with `K`/`M`/`G` (powers of 1024) and `>`, `>=`, `<`, `<=`, `=` or `A..B`;
//! flag names (`seen`, `unread`, `flagged`, `answered`, `draft`, `deleted`, or a `$keyword`); and
//! `via:` protocols.
//!
//! Must never: panic or overflow on a user's number (every arithmetic step is checked); read the
//! clock (a query means the same thing whenever it runs).
//!
//! RFC 3501 section 2.3.2 (system flags, keywords); ISO 8601 calendar dates (the subset above).

use time::{Date, Month};

use super::ast::Term;
use crate::ids::Protocol;

/// A span of time `[start, end)` in unix seconds.
pub type Span = (i64, i64);

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` as the UTC span it names.
pub fn date_span(text: &str) -> Result<Span, String> {
    let why = || format!("{text:?} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)");
    let parts: Vec<&str> = text.split('-').collect();
    let number = |s: &str, len: usize| -> Option<i32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let year = parts.first().and_then(|y| number(y, 4)).ok_or_else(why)?;
    let month = match parts.get(1) {
        Some(m) => Some(
            number(m, 2)
                .and_then(|m| u8::try_from(m).ok())
                .and_then(|m| Month::try_from(m).ok())
                .ok_or_else(why)?,
        ),
        None => None,
    };
    let day = match parts.get(2) {
        Some(d) => Some(number(d, 2).and_then(|d| u8::try_from(d).ok()).ok_or_else(why)?),
        None => None,
    };
    if parts.len() > 3 {
        return Err(why());
    }
    let start_of = |y: i32, m: Month, d: u8| -> Result<i64, String> {
        Date::from_calendar_date(y, m, d)
            .map(|date| date.midnight().assume_utc().unix_timestamp())
            .map_err(|_| format!("{text:?} is not a day of the calendar"))
    };
    let next_year = year.checked_add(1).ok_or_else(why)?;
    match (month, day) {
        (None, _) => Ok((start_of(year, Month::January, 1)?, start_of(next_year, Month::January, 1)?)),
        (Some(m), None) => {
            let end = if m == Month::December {
                start_of(next_year, Month::January, 1)?
            } else {
                start_of(year, m.next(), 1)?
            };
            Ok((start_of(year, m, 1)?, end))
        }
        (Some(m), Some(d)) => {
            let start = start_of(year, m, d)?;
            Ok((start, start + 86_400))
        }
    }
}

/// `date:` values: a date span, or a range `A..B` (either end may be omitted).
pub fn date_term(text: &str) -> Result<Term, String> {
    match text.split_once("..") {
        None => {
            let (from, until) = date_span(text)?;
            Ok(Term::Date { from: Some(from), until: Some(until) })
        }
        Some((a, b)) => {
            if a.is_empty() && b.is_empty() {
                return Err("a range needs at least one end, e.g. 2024-01-01..2024-06-30".into());
            }
            let from = if a.is_empty() { None } else { Some(date_span(a)?.0) };
            let until = if b.is_empty() { None } else { Some(date_span(b)?.1) };
            if let (Some(f), Some(u)) = (from, until) {
                if f >= u {
                    return Err(format!("{text:?} ends before it starts"));
                }
            }
            Ok(Term::Date { from, until })
        }
    }
}

/// `123`, `10K`, `1.5M`, `2G` (units are powers of 1024; `B` and `KB`/`MB`/`GB` also accepted).
pub fn size_bytes(text: &str) -> Result<u64, String> {
    let why = || format!("{text:?} is not a size (e.g. 500, 10K, 1.5M, 2G)");
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let number = upper.trim_end_matches('B');
    let units: [(char, u64); 3] = [('K', 1 << 10), ('M', 1 << 20), ('G', 1 << 30)];
    let (digits, unit) = units
        .iter()
        .find_map(|&(suffix, unit)| number.strip_suffix(suffix).map(|d| (d, unit)))
        .unwrap_or((number, 1));
    if digits.is_empty() {
        return Err(why());
    }
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 6 {
        return Err(why());
    }
    let whole: u64 = whole.parse().map_err(|_| why())?;
    let mut bytes = whole.checked_mul(unit).ok_or_else(why)?;
    if !frac.is_empty() {
        let scale = 10u64.pow(u32::try_from(frac.len()).map_err(|_| why())?);
        let frac: u64 = frac.parse().map_err(|_| why())?;
        bytes = bytes.checked_add(frac.checked_mul(unit).ok_or_else(why)? / scale).ok_or_else(why)?;
    }
    Ok(bytes)
}

/// `size:` values: `>N`, `>=N`, `<N`, `<=N`, `=N` or `N` (exactly), or `A..B` (inclusive).
pub fn size_term(text: &str) -> Result<Term, String> {
    let (min, max) = if let Some(rest) = text.strip_prefix(">=") {
        (Some(size_bytes(rest)?), None)
    } else if let Some(rest) = text.strip_prefix("<=") {
        (None, Some(size_bytes(rest)?))
    } else if let Some(rest) = text.strip_prefix('>') {
        let n = size_bytes(rest)?;
        (Some(n.checked_add(1).ok_or("size out of range")?), None)
    } else if let Some(rest) = text.strip_prefix('<') {
        let n = size_bytes(rest)?;
        if n == 0 {
            return Err("no message is smaller than 0 bytes".into());
        }
        (None, Some(n - 1))
    } else if let Some((a, b)) = text.split_once("..") {
        let min = if a.is_empty() { None } else { Some(size_bytes(a)?) };
        let max = if b.is_empty() { None } else { Some(size_bytes(b)?) };
        if min.is_none() && max.is_none() {
            return Err("a range needs at least one end, e.g. 1K..2M".into());
        }
        (min, max)
    } else {
        let n = size_bytes(text.strip_prefix('=').unwrap_or(text))?;
        (Some(n), Some(n))
    };
    Ok(Term::Size { min, max })
}

/// `flag:` values.
pub fn flag_term(text: &str) -> Result<Term, String> {
    let lower = text.to_ascii_lowercase();
    let (flag, set) = match lower.as_str() {
        "seen" | "read" => ("\\seen", true),
        "unread" | "unseen" => ("\\seen", false),
        "flagged" | "starred" => ("\\flagged", true),
        "answered" | "replied" => ("\\answered", true),
        "draft" => ("\\draft", true),
        "deleted" => ("\\deleted", true),
        k if (k.starts_with('$') || k.starts_with('\\')) && k.len() > 1 => (k, true),
        _ => {
            return Err(format!(
                "{text:?} is not a flag (seen, unread, flagged, answered, draft, deleted, or a $keyword)"
            ))
        }
    };
    Ok(Term::Flag { flag: flag.to_owned(), set })
}

/// `via:` values.
pub fn via_term(text: &str) -> Result<Term, String> {
    match text.to_ascii_lowercase().as_str() {
        "imap" => Ok(Term::Via(Protocol::Imap)),
        "pop3" | "pop" => Ok(Term::Via(Protocol::Pop3)),
        _ => Err(format!("{text:?} is not a protocol (imap or pop3)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAY_1_2024: i64 = 1_714_521_600;

    #[test]
    fn days_months_years_in_utc() {
        assert_eq!(date_span("2024-05-01"), Ok((MAY_1_2024, MAY_1_2024 + 86_400)));
        assert_eq!(date_span("2024-05"), Ok((MAY_1_2024, MAY_1_2024 + 31 * 86_400)));
        assert_eq!(date_span("2024-12").map(|s| s.1), Ok(1_735_689_600));
        assert_eq!(date_span("2024"), Ok((1_704_067_200, 1_735_689_600)));
        for bad in ["2024-02-30", "2024-13", "24-05-01", "2024-5-1", "May", "", "2024-05-01-02", "２０２４"]
        {
            assert!(date_span(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_ranges() {
        assert_eq!(
            date_term("2024-01-01..2024-06-30"),
            Ok(Term::Date { from: Some(1_704_067_200), until: Some(1_719_792_000) })
        );
        assert_eq!(
            date_term("..2024-05-01"),
            Ok(Term::Date { from: None, until: Some(MAY_1_2024 + 86_400) })
        );
        assert_eq!(date_term("2024-05-01.."), Ok(Term::Date { from: Some(MAY_1_2024), until: None }));
        assert!(date_term("..").is_err());
        assert!(date_term("2024-06-01..2024-05-01").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size_bytes("500"), Ok(500));
        assert_eq!(size_bytes("10K"), Ok(10_240));
        assert_eq!(size_bytes("10kb"), Ok(10_240));
        assert_eq!(size_bytes("1.5M"), Ok(1_572_864));
        assert_eq!(size_bytes("2G"), Ok(2_147_483_648));
        for bad in ["", "M", "1.2.3M", "-1", "1T", "99999999999999999999", "18446744073709551615G", "1.M5"] {
            assert!(size_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(size_term(">1M"), Ok(Term::Size { min: Some(1_048_577), max: None }));
        assert_eq!(size_term(">=1M"), Ok(Term::Size { min: Some(1_048_576), max: None }));
        assert_eq!(size_term("<1K"), Ok(Term::Size { min: None, max: Some(1023) }));
        assert_eq!(size_term("<=1K"), Ok(Term::Size { min: None, max: Some(1024) }));
        assert_eq!(size_term("1K..2K"), Ok(Term::Size { min: Some(1024), max: Some(2048) }));
        assert_eq!(size_term("=7"), Ok(Term::Size { min: Some(7), max: Some(7) }));
        assert!(size_term("<0").is_err());
    }

    #[test]
    fn flags_and_protocols() {
        assert_eq!(flag_term("Seen"), Ok(Term::Flag { flag: "\\seen".into(), set: true }));
        assert_eq!(flag_term("unread"), Ok(Term::Flag { flag: "\\seen".into(), set: false }));
        assert_eq!(flag_term("$Forwarded"), Ok(Term::Flag { flag: "$forwarded".into(), set: true }));
        assert!(flag_term("sen").is_err());
        assert!(flag_term("$").is_err());
        assert_eq!(via_term("POP3"), Ok(Term::Via(Protocol::Pop3)));
        assert!(via_term("smtp").is_err());
    }
}
