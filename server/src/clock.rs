//! Time source for everything that expires: sessions, lockouts, pairing codes.
//!
//! Production uses the system clock; tests inject a [`ManualClock`] and move it forward instead of
//! sleeping, so expiry logic is tested exactly and quickly. Timestamps are UTC milliseconds since
//! the Unix epoch, the form in which they are stored in both SQL dialects.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = i64;

/// Anything that can tell the current time.
pub trait Clock: Send + Sync + 'static {
    fn now_millis(&self) -> UnixMillis;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> UnixMillis {
        Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_at(millis: UnixMillis) -> Self {
        Self(Arc::new(AtomicI64::new(millis)))
    }

    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> UnixMillis {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 text in UTC with millisecond precision, the form used in JSON and CSV.
pub fn to_rfc3339(millis: UnixMillis) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses RFC 3339 (any offset) or a plain `YYYY-MM-DD` date (taken as midnight in `tz`).
pub fn parse_time_filter(text: &str, tz: chrono_tz::Tz) -> Option<UnixMillis> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let local = date
        .and_hms_opt(0, 0, 0)?
        .and_local_timezone(tz)
        .earliest()?;
    Some(local.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::starting_at(1_000);
        assert_eq!(clock.now_millis(), 1_000);
        clock.advance_secs(2);
        assert_eq!(clock.now_millis(), 3_000);
    }

    #[test]
    fn time_filters_accept_dates_in_the_display_zone() {
        let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
        // Midnight in Tokyo is 15:00 UTC the day before.
        let t = parse_time_filter("2026-11-23", tokyo).unwrap();
        assert_eq!(to_rfc3339(t), "2026-11-22T15:00:00.000Z");
        assert!(parse_time_filter("yesterday", tokyo).is_none());
        assert_eq!(
            parse_time_filter("2026-11-23T00:00:00Z", tokyo),
            Some(1_795_392_000_000)
        );
    }
}
