//! INTERNALDATE text to a point in time.
//!
//! Owns: interpreting `date-time` (the text between its quotes) as seconds since the Unix epoch.
//!
//! Must never: panic or overflow on nonsense (every field is range-checked; the answer is `None`).
//!
//! RFC 3501 section 9 (`date-time`, `date-day-fixed`, `date-month`, `date-year`, `time`, `zone`).

/// The month names of `date-month`, in order.
const MONTHS: [&[u8]; 12] =
    [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`, without
/// the quotes, as Unix seconds. Leniently a one-digit day without its leading space.
pub fn date_time_timestamp(raw: &[u8]) -> Option<i64> {
    let raw = raw.trim_ascii();
    let mut parts = raw.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let date = parts.next()?;
    let time = parts.next()?;
    let zone = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let mut d = date.split(|&b| b == b'-');
    let day = small(d.next()?, 1, 2)?;
    let month = date_month(d.next()?)?;
    let year = small(d.next()?, 4, 4)?;
    if d.next().is_some() || !(1..=31).contains(&day) {
        return None;
    }
    let seconds = time_of_day(time)?;
    let offset = zone_offset(zone)?;
    let days = days_from_civil(i64::from(year), month, i64::from(day));
    Some(days * 86_400 + seconds - offset)
}

/// `date-month = "Jan" / "Feb" / ... / "Dec"` (any case), as 1 to 12.
fn date_month(m: &[u8]) -> Option<i64> {
    let index = MONTHS.iter().position(|name| name.eq_ignore_ascii_case(m))?;
    i64::try_from(index).ok().map(|i| i + 1)
}

/// `time = 2DIGIT ":" 2DIGIT ":" 2DIGIT`, as seconds into the day.
fn time_of_day(t: &[u8]) -> Option<i64> {
    let mut f = t.split(|&b| b == b':');
    let h = small(f.next()?, 2, 2)?;
    let m = small(f.next()?, 2, 2)?;
    let s = small(f.next()?, 2, 2)?;
    if f.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s))
}

/// `zone = ("+" / "-") 4DIGIT`, as seconds east of UTC.
fn zone_offset(z: &[u8]) -> Option<i64> {
    let (sign, digits) = z.split_first()?;
    let hhmm = small(digits, 4, 4)?;
    let (h, m) = (hhmm / 100, hhmm % 100);
    if m > 59 {
        return None;
    }
    let secs = i64::from(h) * 3600 + i64::from(m) * 60;
    match sign {
        b'+' => Some(secs),
        b'-' => Some(-secs),
        _ => None,
    }
}

/// A number of `min..=max` ASCII digits.
fn small(d: &[u8], min: usize, max: usize) -> Option<u32> {
    if d.len() < min || d.len() > max || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    d.iter().try_fold(0u32, |n, &b| n.checked_mul(10)?.checked_add(u32::from(b - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example() {
        // 17-Jul-1996 02:44:25 -0700 is 1996-07-17T09:44:25Z.
        assert_eq!(date_time_timestamp(b"17-Jul-1996 02:44:25 -0700"), Some(837_596_665));
        assert_eq!(date_time_timestamp(b" 1-Jan-1970 00:00:00 +0000"), Some(0));
        assert_eq!(date_time_timestamp(b"1-jan-1970 01:00:00 +0100"), Some(0));
        assert_eq!(date_time_timestamp(b"29-Feb-2024 23:59:59 +0000"), Some(1_709_251_199));
    }

    #[test]
    fn nonsense_is_none() {
        for bad in [
            &b""[..],
            b"17-Jul-1996",
            b"17-Foo-1996 02:44:25 -0700",
            b"32-Jul-1996 02:44:25 -0700",
            b"17-Jul-96 02:44:25 -0700",
            b"17-Jul-1996 24:00:00 -0700",
            b"17-Jul-1996 02:44:25 0700",
            b"17-Jul-1996 02:44:25 -0760",
            b"17-Jul-1996 02:44:25 -0700 extra",
            b"\xff-Jul-1996 02:44:25 -0700",
        ] {
            assert_eq!(date_time_timestamp(bad), None, "{bad:?}");
        }
    }
}
