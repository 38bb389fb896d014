//! Wall-clock time for usage records: Unix milliseconds (what the stores keep, so range
//! queries are integer comparisons in both SQLite and PostgreSQL), and RFC 3339 text in UTC
//! for people (the CLI, the admin API, JSON lines).
//!
//! Only the proleptic Gregorian calendar in UTC is needed, so the date arithmetic is the
//! classic days-from-civil algorithm rather than a date-time crate. `chrono` is compiled in
//! already (Pingora uses it), but its RFC 3339 parser wants a full date-time with seconds,
//! and `aether usage --since` also takes a date alone, `12:00Z` and a space for the `T`: a
//! wrapper keeping those would be as long as the two conversions it replaced.

use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

/// Milliseconds since the Unix epoch.
pub type UnixMillis = i64;

const MS_PER_DAY: i64 = 86_400_000;

/// A time that could not be parsed.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "invalid time {0:?}: expected today, yesterday, a span like 7d / 24h / 30m, or RFC 3339 (2025-01-31 or 2025-01-31T12:00:00Z)"
)]
pub struct TimeError(pub String);

/// Now, in Unix milliseconds.
pub fn now_ms() -> UnixMillis {
    to_ms(SystemTime::now())
}

/// A `SystemTime` in Unix milliseconds (times before 1970 are negative).
pub fn to_ms(t: SystemTime) -> UnixMillis {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// RFC 3339 in UTC with milliseconds, e.g. `2025-11-24T03:38:00.123Z`.
pub fn format_rfc3339(ms: UnixMillis) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Start of the UTC day containing `ms`.
pub fn start_of_day(ms: UnixMillis) -> UnixMillis {
    ms.div_euclid(MS_PER_DAY) * MS_PER_DAY
}

/// Parses a point in time relative to `now`: `now`, `today` (UTC midnight), `yesterday`,
/// a span back from now (`90s`, `30m`, `24h`, `7d`), an RFC 3339 date (`2025-01-31`, UTC
/// midnight) or date-time (`2025-01-31T12:00:00Z`, `…+02:00`, fractional seconds allowed).
pub fn parse_time(text: &str, now: UnixMillis) -> Result<UnixMillis, TimeError> {
    let err = || TimeError(text.to_owned());
    let t = text.trim();
    match t {
        "now" => return Ok(now),
        "today" => return Ok(start_of_day(now)),
        "yesterday" => return Ok(start_of_day(now) - MS_PER_DAY),
        _ => {}
    }
    if let Some(unit) = t.chars().last().filter(|c| matches!(c, 's' | 'm' | 'h' | 'd'))
        && let Ok(n) = t[..t.len() - 1].parse::<i64>()
    {
        let per = match unit {
            's' => 1000,
            'm' => 60_000,
            'h' => 3_600_000,
            _ => MS_PER_DAY,
        };
        return n.checked_mul(per).map(|span| now - span).ok_or_else(err);
    }
    parse_rfc3339(t).ok_or_else(err)
}

fn num(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn parse_rfc3339(t: &str) -> Option<UnixMillis> {
    let (date, time) = match t.find(['T', 't', ' ']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (num(parts.next()?)?, num(parts.next()?)?, num(parts.next()?)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * MS_PER_DAY;
    let Some(time) = time else { return Some(ms) };
    let (clock, offset_ms) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = time.rfind(['+', '-'])?;
        let (sign, off) = (if &time[i..=i] == "-" { -1 } else { 1 }, &time[i + 1..]);
        let (oh, om) = off.split_once(':')?;
        (&time[..i], sign * (num(oh)? * 3_600_000 + num(om)? * 60_000))
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut f = hms.splitn(3, ':');
    let (h, mi, s) = (num(f.next()?)?, num(f.next()?)?, num(f.next().unwrap_or("0"))?);
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let frac_ms = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        num(&digits)?
    };
    ms += h * 3_600_000 + mi * 60_000 + s * 1000 + frac_ms;
    Some(ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_dates() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        let t = parse_time("2025-11-24T03:38:00.123Z", 0).unwrap();
        assert_eq!(format_rfc3339(t), "2025-11-24T03:38:00.123Z");
        assert_eq!(parse_time("2024-02-29", 0).unwrap(), 1_709_164_800_000);
        assert_eq!(
            parse_time("2025-01-01T02:00:00+02:00", 0).unwrap(),
            parse_time("2025-01-01", 0).unwrap()
        );
        for days in [-800_000, -1, 0, 59, 365, 11_000, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn relative_times() {
        let now = parse_time("2025-11-24T10:00:00Z", 0).unwrap();
        assert_eq!(parse_time("today", now).unwrap(), parse_time("2025-11-24", 0).unwrap());
        assert_eq!(parse_time("7d", now).unwrap(), now - 7 * MS_PER_DAY);
        assert_eq!(parse_time("24h", now).unwrap(), now - MS_PER_DAY);
        assert!(parse_time("last tuesday", now).is_err());
        assert!(parse_time("2025-13-01", now).is_err());
    }
}
