//! "Closed now" (the Overview's switch): for an hour, to the end of the day, or until
//! someone reopens, calls get the after-hours action whatever the business hours say.
//! Reopening is automatic when the time passes: nothing has to run for it.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// How long to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseFor {
    Hour,
    /// Until the next midnight in the org's time zone.
    EndOfDay,
    UntilReopened,
}

impl CloseFor {
    pub fn parse(s: &str) -> Option<CloseFor> {
        match s {
            "hour" => Some(CloseFor::Hour),
            "day" => Some(CloseFor::EndOfDay),
            "reopen" => Some(CloseFor::UntilReopened),
            _ => None,
        }
    }
}

/// "Until I reopen" is stored as a time no call will reach.
pub fn far_future() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// The moment a closing chosen at `now` ends.
pub fn closed_until(choice: CloseFor, now: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
    match choice {
        CloseFor::Hour => now + Duration::hours(1),
        CloseFor::EndOfDay => {
            let tomorrow = now.with_timezone(&tz).date_naive().succ_opt();
            tomorrow
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|t| tz.from_local_datetime(&t).earliest())
                .map_or(now + Duration::hours(24), |t| t.with_timezone(&Utc))
        }
        CloseFor::UntilReopened => far_future(),
    }
}

/// Whether a stored closing (`closed_until`, RFC 3339) still holds at `now`.
pub fn holds(closed_until: Option<&str>, now: DateTime<Utc>) -> bool {
    closed_until
        .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
        .is_some_and(|u| u > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closing_ends_after_an_hour_at_local_midnight_or_never() {
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        // 15:30 in New York (20:30 UTC).
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 20, 30, 0).unwrap();
        assert_eq!(
            closed_until(CloseFor::Hour, now, ny),
            now + Duration::hours(1)
        );
        assert_eq!(
            closed_until(CloseFor::EndOfDay, now, ny),
            Utc.with_ymd_and_hms(2026, 12, 8, 5, 0, 0).unwrap(),
            "midnight in New York is 05:00 UTC"
        );
        assert!(closed_until(CloseFor::UntilReopened, now, ny)
            .to_rfc3339()
            .starts_with("9999-"));
        assert!(holds(Some("2026-12-07T21:30:00.000Z"), now));
        assert!(
            !holds(Some("2026-12-07T20:30:00.000Z"), now),
            "over at its time"
        );
        assert!(!holds(None, now));
        assert!(!holds(Some("garbage"), now));
        assert_eq!(CloseFor::parse("day"), Some(CloseFor::EndOfDay));
        assert_eq!(CloseFor::parse("week"), None);
    }
}
