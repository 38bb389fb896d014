//! Budget periods: the UTC calendar day and month a moment falls in, their names in the
//! store, and when they end.

use std::sync::{Arc, Mutex, PoisonError};

use time::{Date, Month, OffsetDateTime, Time};

/// The periods of one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    /// `dYYYY-MM-DD`.
    pub day: String,
    /// When that day ends (Unix ms).
    pub day_ends_ms: i64,
    /// `mYYYY-MM`.
    pub month: String,
    /// When that month ends (Unix ms).
    pub month_ends_ms: i64,
    /// `total`.
    pub total: &'static str,
}

/// The periods of the current day, worked out once a day rather than per request.
#[derive(Debug, Default)]
pub struct Calendar {
    today: Mutex<Option<Arc<Periods>>>,
}

impl Calendar {
    /// The periods `now_ms` falls in.
    pub fn at(&self, now_ms: i64) -> Arc<Periods> {
        let mut today = self.today.lock().unwrap_or_else(PoisonError::into_inner);
        match &*today {
            // Same day: the day started before now and ends after it.
            Some(p) if now_ms < p.day_ends_ms && now_ms >= p.day_ends_ms - 86_400_000 => p.clone(),
            _ => {
                let p = Arc::new(Periods::at(now_ms));
                *today = Some(p.clone());
                p
            }
        }
    }
}

impl Periods {
    /// The periods `now_ms` (Unix ms) falls in; a moment outside the calendar's range
    /// counts as the epoch.
    pub fn at(now_ms: i64) -> Periods {
        let now = OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let date = now.date();
        let next_day = date.next_day().unwrap_or(date);
        let (year, month) = (date.year(), date.month());
        let next_month = match month {
            Month::December => Date::from_calendar_date(year + 1, Month::January, 1),
            m => Date::from_calendar_date(year, m.next(), 1),
        }
        .unwrap_or(next_day);
        let ms = |d: Date| {
            let secs = d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp();
            secs.saturating_mul(1000)
        };
        Periods {
            day: format!("d{year:04}-{:02}-{:02}", u8::from(month), date.day()),
            day_ends_ms: ms(next_day),
            month: format!("m{year:04}-{:02}", u8::from(month)),
            month_ends_ms: ms(next_month),
            total: "total",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_turns_at_midnight() {
        let c = Calendar::default();
        assert_eq!(c.at(1_798_761_599_500).day, "d2026-12-31");
        assert_eq!(c.at(1_798_761_599_900).day, "d2026-12-31");
        assert_eq!(c.at(1_798_761_600_000).day, "d2027-01-01");
    }

    #[test]
    fn days_and_months_end_at_utc_midnight() {
        // 2026-12-31T23:59:59.500Z
        let p = Periods::at(1_798_761_599_500);
        assert_eq!(p.day, "d2026-12-31");
        assert_eq!(p.month, "m2026-12");
        assert_eq!(p.day_ends_ms, 1_798_761_600_000);
        assert_eq!(p.month_ends_ms, 1_798_761_600_000);
        let q = Periods::at(1_798_761_600_000);
        assert_eq!((q.day.as_str(), q.month.as_str()), ("d2027-01-01", "m2027-01"));
    }
}
