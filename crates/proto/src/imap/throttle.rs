//! Outlook's throttling hint: `Suggested Backoff Time: N milliseconds`.
//!
//! Owns: finding the back-off Exchange Online puts in the text of a throttling NO
//! (`NO Request is throttled. Suggested Backoff Time: 50706 milliseconds`).
//!
//! Must never: sleep or keep time (the engine does); overflow on a huge number (it saturates at
//! `u64::MAX` milliseconds).
//!
//! Not an RFC: Exchange Online behaviour, see OUTLOOK.md.

use std::time::Duration;

/// The phrase that introduces the number, matched ignoring case.
const PHRASE: &[u8] = b"suggested backoff time:";

/// The back-off suggested in `text`, if it says `Suggested Backoff Time: N milliseconds` (any case,
/// any spacing around the number; `ms` accepted for `milliseconds`).
pub fn suggested_backoff(text: &str) -> Option<Duration> {
    let bytes = text.as_bytes();
    let start = bytes.windows(PHRASE.len()).position(|w| w.eq_ignore_ascii_case(PHRASE))?;
    let after = bytes.get(start + PHRASE.len()..)?.trim_ascii_start();
    let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, unit) = after.split_at_checked(digits)?;
    if number.is_empty() {
        return None;
    }
    let unit = unit.trim_ascii_start();
    let is_ms = |u: &[u8]| unit.get(..u.len()).is_some_and(|p| p.eq_ignore_ascii_case(u));
    if !(is_ms(b"millisecond") || is_ms(b"ms")) {
        return None;
    }
    let millis = number
        .iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
        .unwrap_or(u64::MAX);
    Some(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_throttling_text() {
        assert_eq!(
            suggested_backoff("Request is throttled. Suggested Backoff Time: 50706 milliseconds"),
            Some(Duration::from_millis(50_706))
        );
        assert_eq!(suggested_backoff("suggested backoff time:  12 ms."), Some(Duration::from_millis(12)));
        assert_eq!(
            suggested_backoff("Suggested Backoff Time: 99999999999999999999999 milliseconds"),
            Some(Duration::from_millis(u64::MAX))
        );
    }

    #[test]
    fn other_text_has_no_hint() {
        assert_eq!(suggested_backoff("LOGIN failed."), None);
        assert_eq!(suggested_backoff("Suggested Backoff Time: soon"), None);
        assert_eq!(suggested_backoff("Suggested Backoff Time: 100 seconds"), None);
        assert_eq!(suggested_backoff("Suggested Backoff Time:"), None);
        assert_eq!(suggested_backoff(""), None);
    }
}
