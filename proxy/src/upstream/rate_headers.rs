//! What a provider's response says about its key's rate limits: how long to wait after a
//! 429, and whether the key has nothing left before it ever answers 429.
//!
//! Read: `retry-after-ms`, `retry-after` (seconds or an HTTP date); Anthropic's
//! `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,reset}`
//! (resets as RFC 3339 times); OpenAI's `x-ratelimit-{remaining,reset}-{requests,tokens}`
//! (resets as durations such as `6m0s`, `1.5s`, `20ms`). Gemini names no reset in headers:
//! its keys cool down for the configured default. A wait is capped at [`MAX_WAIT`], so a
//! bogus header cannot retire a key for days.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The longest cooldown a header can ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The limits whose `-remaining` and `-reset` headers are read, as (remaining, reset).
const EXHAUSTIBLE: [(&str, &str); 6] = [
    (
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    (
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ),
    (
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ),
    (
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
    ),
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
];

/// How long a 429's headers ask the key to rest: the explicit retry, else the latest reset
/// of a limit at zero; `None` when they name none.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(cap(Duration::from_secs_f64(ms.max(0.0) / 1000.0)));
    }
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(cap(Duration::from_secs(secs)));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(cap(at.duration_since(now).unwrap_or_default()));
        }
    }
    exhausted_for(headers, now)
}

/// When some limit of the key is at zero: how long until the latest of those resets
/// (a limit at zero with no reset named counts as one second).
pub fn exhausted_for(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let mut wait: Option<Duration> = None;
    for (remaining, reset) in EXHAUSTIBLE {
        let Some(left) = headers.get(remaining).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if left.trim().parse::<f64>().map_or(true, |n| n > 0.0) {
            continue;
        }
        let until = headers
            .get(reset)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| reset_in(v.trim(), now))
            .unwrap_or(Duration::from_secs(1));
        wait = Some(wait.map_or(until, |w| w.max(until)));
    }
    wait.map(cap)
}

fn cap(d: Duration) -> Duration {
    d.min(MAX_WAIT)
}

/// A reset as an RFC 3339 time or a duration.
fn reset_in(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(at) = OffsetDateTime::parse(value, &Rfc3339) {
        let now = OffsetDateTime::from(now);
        let left = at - now;
        return Some(left.try_into().unwrap_or(Duration::ZERO));
    }
    duration(value)
}

/// A duration such as `6m0s`, `1h2m3.5s`, `20ms` or a bare number of seconds.
fn duration(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0f64;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_in_every_spelling() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_152_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "7")]), now),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "99999999")]), now),
            Some(MAX_WAIT)
        );
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn limits_at_zero_name_their_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_152_000); // 2025-12-08T00:00:00Z
        let anthropic = headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2025-12-08T00:00:12Z"),
            ("anthropic-ratelimit-tokens-remaining", "5000"),
            ("anthropic-ratelimit-tokens-reset", "2025-12-08T00:01:00Z"),
        ]);
        assert_eq!(exhausted_for(&anthropic, now), Some(Duration::from_secs(12)));
        let openai = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1m30.5s"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "20ms"),
        ]);
        assert_eq!(exhausted_for(&openai, now), Some(Duration::from_millis(90_500)));
        let fine = headers(&[
            ("x-ratelimit-remaining-requests", "3"),
            ("x-ratelimit-reset-requests", "6m0s"),
        ]);
        assert_eq!(exhausted_for(&fine, now), None);
        // A 429 without retry-after falls back to the exhausted limit's reset.
        assert_eq!(retry_after(&openai, now), Some(Duration::from_millis(90_500)));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(duration("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(duration("5x"), None);
        assert_eq!(duration("ms"), None);
    }
}
