//! The owner's day at a glance (the dashboard's Overview): today's calls by what became of
//! them, and call volume by hour (last 24 h) and by day (last 7 days) in the business's
//! time zone. Pure: the caller loads the calls, this counts them.

use super::textback::Outcome;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, TimeZone, Timelike, Utc};
use serde::Serialize;

/// Today's calls, from local midnight.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Today {
    pub calls: u32,
    /// A person or the AI agent talked with the caller.
    pub answered: u32,
    pub missed: u32,
    pub voicemails: u32,
    /// Answered out of the calls that wanted an answer (answered, voicemail, missed); a
    /// misdial, a rejected call or one still ringing does not count. `None` before the
    /// first such call.
    pub answer_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// The start of the hour (UTC) or the local date.
    pub start: String,
    pub calls: u32,
    pub missed: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// The last 24 hours, oldest first, the current hour last.
    pub hours: Vec<Bucket>,
    /// The last 7 local days, oldest first, today last.
    pub days: Vec<Bucket>,
}

/// Local midnight of `now`'s day in `tz`, as a UTC instant.
pub fn start_of_day<Tz: TimeZone>(now: DateTime<Utc>, tz: &Tz) -> DateTime<Utc> {
    local_midnight(now.with_timezone(tz).date_naive(), tz).unwrap_or(now - Duration::hours(24))
}

/// The first instant of `date` in `tz` (midnight, or the first moment after a gap).
fn local_midnight<Tz: TimeZone>(date: NaiveDate, tz: &Tz) -> Option<DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    (0..4).find_map(|h| {
        tz.from_local_datetime(&(midnight + Duration::hours(h)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Where the counts start: the earlier of 7 local days back and 24 hours back.
pub fn window_start<Tz: TimeZone>(now: DateTime<Utc>, tz: &Tz) -> DateTime<Utc> {
    let today = now.with_timezone(tz).date_naive();
    let week = local_midnight(today - Duration::days(6), tz).unwrap_or(now - Duration::days(7));
    week.min(now - Duration::hours(24))
}

/// Counts `calls` (start time, outcome) into today's figures and the volume buckets.
pub fn summarize<Tz: TimeZone>(
    calls: &[(DateTime<Utc>, Option<Outcome>)],
    now: DateTime<Utc>,
    tz: &Tz,
) -> (Today, Volume) {
    let midnight = start_of_day(now, tz);
    let this_hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let first_hour = this_hour - Duration::hours(23);
    let today_date = now.with_timezone(tz).date_naive();
    let first_day = today_date - Duration::days(6);
    let mut today = Today::default();
    let mut hours: Vec<Bucket> = (0..24)
        .map(|i| Bucket {
            start: (first_hour + Duration::hours(i)).to_rfc3339_opts(SecondsFormat::Millis, true),
            calls: 0,
            missed: 0,
        })
        .collect();
    let mut days: Vec<Bucket> = (0..7)
        .map(|i| Bucket {
            start: (first_day + Duration::days(i)).to_string(),
            calls: 0,
            missed: 0,
        })
        .collect();
    for &(at, outcome) in calls {
        let missed = outcome == Some(Outcome::Missed);
        if at >= first_hour && at <= now {
            let b = &mut hours[((at - first_hour).num_hours() as usize).min(23)];
            b.calls += 1;
            b.missed += u32::from(missed);
        }
        let day = at.with_timezone(tz).date_naive();
        if day >= first_day && day <= today_date {
            let b = &mut days[(day - first_day).num_days() as usize];
            b.calls += 1;
            b.missed += u32::from(missed);
        }
        if at >= midnight && at <= now {
            today.calls += 1;
            match outcome {
                Some(Outcome::Connected | Outcome::AiHandled) => today.answered += 1,
                Some(Outcome::Missed) => today.missed += 1,
                Some(Outcome::Voicemail) => today.voicemails += 1,
                _ => {}
            }
        }
    }
    let wanted = today.answered + today.missed + today.voicemails;
    today.answer_rate = (wanted > 0).then(|| f64::from(today.answered) / f64::from(wanted));
    (today, Volume { hours, days })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn today_starts_at_local_midnight_and_counts_by_outcome() {
        // 09:30 in New York (UTC-5 in November).
        let now = at("2026-11-23T14:30:00Z");
        assert_eq!(start_of_day(now, &New_York), at("2026-11-23T05:00:00Z"));
        let calls = [
            (at("2026-11-23T04:59:00Z"), Some(Outcome::Missed)), // 23:59 yesterday, local
            (at("2026-11-23T05:00:00Z"), Some(Outcome::Connected)),
            (at("2026-11-23T13:00:00Z"), Some(Outcome::AiHandled)),
            (at("2026-11-23T13:10:00Z"), Some(Outcome::Missed)),
            (at("2026-11-23T13:20:00Z"), Some(Outcome::Voicemail)),
            (at("2026-11-23T13:30:00Z"), Some(Outcome::Abandoned)),
            (at("2026-11-23T14:29:00Z"), None), // still ringing
        ];
        let (today, volume) = summarize(&calls, now, &New_York);
        assert_eq!(
            today,
            Today {
                calls: 6,
                answered: 2,
                missed: 1,
                voicemails: 1,
                answer_rate: Some(0.5),
            }
        );
        let days: Vec<(String, u32, u32)> = volume
            .days
            .iter()
            .map(|d| (d.start.clone(), d.calls, d.missed))
            .collect();
        assert_eq!(days.len(), 7);
        assert_eq!(days[6], ("2026-11-23".into(), 6, 1));
        assert_eq!(days[5], ("2026-11-22".into(), 1, 1));
        assert_eq!(days[0].0, "2026-11-17");
    }

    #[test]
    fn the_last_24_hours_are_hourly_buckets_ending_with_the_current_hour() {
        let now = at("2026-11-23T14:30:00Z");
        let calls = [
            (at("2026-11-22T15:00:00Z"), Some(Outcome::Missed)), // first bucket
            (at("2026-11-22T14:59:59Z"), Some(Outcome::Missed)), // before the window
            (at("2026-11-23T14:05:00Z"), Some(Outcome::Connected)), // current hour
        ];
        let (today, volume) = summarize(&calls, now, &New_York);
        assert_eq!(volume.hours.len(), 24);
        assert_eq!(volume.hours[0].start, "2026-11-22T15:00:00.000Z");
        assert_eq!((volume.hours[0].calls, volume.hours[0].missed), (1, 1));
        assert_eq!(volume.hours[23].start, "2026-11-23T14:00:00.000Z");
        assert_eq!(volume.hours[23].calls, 1);
        assert_eq!(volume.hours.iter().map(|h| h.calls).sum::<u32>(), 2);
        assert_eq!(today.answer_rate, Some(1.0));
    }

    #[test]
    fn no_calls_means_no_answer_rate_rather_than_zero() {
        let (today, volume) = summarize(&[], at("2026-11-23T14:30:00Z"), &chrono_tz::UTC);
        assert_eq!(today.answer_rate, None);
        assert!(volume.days.iter().all(|d| d.calls == 0));
    }

    #[test]
    fn the_window_covers_seven_local_days_and_a_day_change_across_daylight_saving() {
        // The day after the US clocks went back (2026-11-01): a 25-hour day.
        let now = at("2026-11-02T15:00:00Z");
        assert_eq!(start_of_day(now, &New_York), at("2026-11-02T05:00:00Z"));
        assert_eq!(window_start(now, &New_York), at("2026-10-27T04:00:00Z"));
    }
}
