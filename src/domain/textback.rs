//! Missed calls, the text-back decision and SMS keywords (SPEC §3.5, §3.6). Pure: the
//! caller gathers the facts, this module decides. When in doubt it does not text.

use super::callflow::{in_range, parse_hhmm, Textback, TimeRange};
use super::phone::Party;
use super::roles::string_enum;
use super::PhoneNumber;
use chrono::{DateTime, Duration, Utc};

/// A caller we may text: a real E.164 number, not a withheld or client identity.
pub fn textable_caller(from: &str) -> Result<PhoneNumber, BlockReason> {
    match Party::parse(from) {
        Party::Number(n) => Ok(n),
        Party::Withheld(_) | Party::Identity(_) => Err(BlockReason::AnonymousCaller),
        Party::Invalid(_) => Err(BlockReason::InvalidNumber),
    }
}

string_enum!(
    /// How a finished call ended, from what the appliance saw (SPEC §2 `outcome`).
    Outcome {
        Connected => "connected",
        Voicemail => "voicemail",
        Missed => "missed",
        Abandoned => "abandoned",
        Rejected => "rejected",
        AiHandled => "ai_handled",
        Failed => "failed",
        Blocked => "blocked",
    }
);

/// Facts about a finished IVR call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallFacts {
    pub connected: bool,
    pub voicemail_left: bool,
    pub duration_secs: u32,
    /// Twilio's final `CallStatus` was `failed`.
    pub failed: bool,
    /// The caller was on the blocklist and refused at the entry.
    pub blocked: bool,
}

/// Derives the outcome. "Missed" = no leg connected, no voicemail and longer than the
/// misdial threshold; a shorter call is abandoned (a misdial).
pub fn outcome(f: CallFacts, misdial_threshold_secs: u32) -> Outcome {
    if f.blocked {
        Outcome::Blocked
    } else if f.connected {
        Outcome::Connected
    } else if f.voicemail_left {
        Outcome::Voicemail
    } else if f.failed {
        Outcome::Failed
    } else if f.duration_secs > misdial_threshold_secs {
        Outcome::Missed
    } else {
        Outcome::Abandoned
    }
}

/// Why a text-back was not sent; stored with the blocked message and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    AnonymousCaller,
    InvalidNumber,
    OptedOut,
    Cooldown,
    /// Kept for text-backs blocked before quiet hours deferred them instead.
    QuietHours,
    ProviderRefused,
    /// The caller ID failed STIR/SHAKEN verification (likely spoofed, SPEC §3.9).
    CallerUnverified,
    /// The caller was put on the blocklist after the call.
    Blocklisted,
}

impl BlockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::AnonymousCaller => "anonymous_caller",
            BlockReason::InvalidNumber => "invalid_number",
            BlockReason::OptedOut => "opted_out",
            BlockReason::Cooldown => "cooldown",
            BlockReason::QuietHours => "quiet_hours",
            BlockReason::ProviderRefused => "provider_refused",
            BlockReason::CallerUnverified => "caller_unverified",
            BlockReason::Blocklisted => "blocklisted",
        }
    }
}

/// Facts for one text-back decision.
pub struct TextbackFacts<'a> {
    pub caller: &'a str,
    pub opted_out: bool,
    pub last_textback_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    pub settings: &'a Textback,
    /// Twilio's `StirVerstat` for the call, when it sent one.
    pub stir_verstat: Option<&'a str>,
    /// The caller is on the org's blocklist now.
    pub blocklisted: bool,
}

/// A `StirVerstat` that says the caller ID failed verification (`TN-Validation-Failed-*`).
pub fn caller_id_failed(stir_verstat: Option<&str>) -> bool {
    stir_verstat.is_some_and(|v| v.starts_with("TN-Validation-Failed"))
}

/// Send (to this number) or block (with the reason). Quiet hours do not block: they
/// defer (see [`deferred_until`]).
pub fn decide(f: &TextbackFacts<'_>) -> Result<PhoneNumber, BlockReason> {
    let to = textable_caller(f.caller)?;
    if f.blocklisted {
        return Err(BlockReason::Blocklisted);
    }
    if caller_id_failed(f.stir_verstat) && !f.settings.text_unverified_callers {
        return Err(BlockReason::CallerUnverified);
    }
    if f.opted_out {
        return Err(BlockReason::OptedOut);
    }
    if let Some(last) = f.last_textback_at {
        if f.now - last < Duration::hours(i64::from(f.settings.cooldown_hours)) {
            return Err(BlockReason::Cooldown);
        }
    }
    Ok(to)
}

/// When a text-back due at `at` falls in quiet hours (org time zone), the moment they end
/// (SPEC §3.6); `None` when it may go at `at`. Daylight saving is respected: the end is
/// the local wall-clock time (`08:00`) of that day, and a time the clocks skip is taken as
/// the first minute that exists after it.
pub fn deferred_until(
    at: DateTime<Utc>,
    tz: chrono_tz::Tz,
    quiet: Option<&TimeRange>,
) -> Option<DateTime<Utc>> {
    use chrono::{LocalResult, TimeZone};
    let quiet = quiet?;
    let local = at.with_timezone(&tz);
    if !in_range(quiet, local.time()) {
        return None;
    }
    let close = parse_hhmm(&quiet.close)?;
    // Inside a range that wraps midnight, before the close: it ends today; else tomorrow.
    let day = if local.time() < close {
        local.date_naive()
    } else {
        local.date_naive().succ_opt()?
    };
    let mut wall = day.and_time(close);
    for _ in 0..8 {
        match tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            // Clocks went back: the first of the two.
            LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            // Clocks went forward over it.
            LocalResult::None => wall += Duration::minutes(15),
        }
    }
    None
}

/// What an inbound SMS asks for, by its first word (carrier-standard keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Stop,
    Start,
    Help,
}

pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body
        .trim()
        .trim_end_matches(['.', '!'])
        .to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::Stop),
        "START" | "UNSTOP" | "YES START" => Some(Keyword::Start),
        "HELP" | "INFO" => Some(Keyword::Help),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn facts<'a>(caller: &'a str, settings: &'a Textback, now: DateTime<Utc>) -> TextbackFacts<'a> {
        TextbackFacts {
            caller,
            opted_out: false,
            last_textback_at: None,
            now,
            settings,
            stir_verstat: None,
            blocklisted: false,
        }
    }

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    #[test]
    fn withheld_and_client_callers_are_never_texted() {
        for from in [
            "+266696687",
            "anonymous",
            "Anonymous",
            "client:alice",
            "sip:bob@example.com",
            "",
            "+7378742833",
        ] {
            assert_eq!(
                textable_caller(from),
                Err(BlockReason::AnonymousCaller),
                "{from}"
            );
        }
        assert_eq!(textable_caller("5551234"), Err(BlockReason::InvalidNumber));
        assert_eq!(
            textable_caller("+14155550123").unwrap().as_str(),
            "+14155550123"
        );
    }

    #[test]
    fn outcomes_follow_the_missed_call_definition() {
        let f = |connected, voicemail_left, duration_secs| CallFacts {
            connected,
            voicemail_left,
            duration_secs,
            failed: false,
            blocked: false,
        };
        assert_eq!(outcome(f(true, false, 60), 4), Outcome::Connected);
        assert_eq!(outcome(f(false, true, 60), 4), Outcome::Voicemail);
        assert_eq!(outcome(f(false, false, 30), 4), Outcome::Missed);
        assert_eq!(outcome(f(false, false, 4), 4), Outcome::Abandoned);
        assert_eq!(
            outcome(
                CallFacts {
                    failed: true,
                    ..f(false, false, 0)
                },
                4
            ),
            Outcome::Failed
        );
        let blocked = CallFacts {
            blocked: true,
            ..f(false, false, 30)
        };
        assert_eq!(outcome(blocked, 4), Outcome::Blocked);
    }

    #[test]
    fn a_valid_caller_at_noon_is_texted() {
        let s = Textback::default();
        assert_eq!(
            decide(&facts("+14155550123", &s, noon())).unwrap().as_str(),
            "+14155550123"
        );
    }

    #[test]
    fn opt_out_cooldown_blocklist_and_failed_caller_id_block() {
        let mut s = Textback::default();
        let mut f = facts("+14155550123", &s, noon());
        f.opted_out = true;
        assert_eq!(decide(&f), Err(BlockReason::OptedOut));
        let mut f = facts("+14155550123", &s, noon());
        f.last_textback_at = Some(noon() - Duration::hours(23));
        assert_eq!(decide(&f), Err(BlockReason::Cooldown));
        f.last_textback_at = Some(noon() - Duration::hours(25));
        assert!(decide(&f).is_ok());
        f.blocklisted = true;
        assert_eq!(decide(&f), Err(BlockReason::Blocklisted));
        let mut f = facts("+14155550123", &s, noon());
        f.stir_verstat = Some("TN-Validation-Failed-B");
        assert_eq!(decide(&f), Err(BlockReason::CallerUnverified));
        f.stir_verstat = Some("TN-Validation-Passed-A");
        assert!(decide(&f).is_ok());
        f.stir_verstat = Some("No-TN-Validation");
        assert!(decide(&f).is_ok(), "no verification is not a failed one");
        s.text_unverified_callers = true;
        let mut f = facts("+14155550123", &s, noon());
        f.stir_verstat = Some("TN-Validation-Failed-C");
        assert!(decide(&f).is_ok(), "the org's setting allows it");
        // Quiet hours never block: they defer.
        let late = Utc.with_ymd_and_hms(2026, 11, 21, 22, 0, 0).unwrap();
        assert!(decide(&facts("+14155550123", &s, late)).is_ok());
    }

    fn at(tz: chrono_tz::Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Missed at (local) → sent at (local), for 21:00–08:00 and a same-day range.
    #[test]
    fn a_text_back_in_quiet_hours_waits_for_their_end_across_midnight_and_dst() {
        let night = TimeRange {
            open: "21:00".into(),
            close: "08:00".into(),
        };
        let lunch = TimeRange {
            open: "12:00".into(),
            close: "13:30".into(),
        };
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let utc = chrono_tz::UTC;
        #[rustfmt::skip]
        let table = [
            ("evening → next morning", &night, ny, at(ny, 2026, 12, 7, 22, 15), Some(at(ny, 2026, 12, 8, 8, 0))),
            ("after midnight → same morning", &night, ny, at(ny, 2026, 12, 8, 2, 0), Some(at(ny, 2026, 12, 8, 8, 0))),
            ("at the opening minute", &night, ny, at(ny, 2026, 12, 7, 21, 0), Some(at(ny, 2026, 12, 8, 8, 0))),
            ("at the closing minute: free", &night, ny, at(ny, 2026, 12, 8, 8, 0), None),
            ("daytime: free", &night, ny, at(ny, 2026, 12, 8, 14, 0), None),
            ("same-day range", &lunch, utc, at(utc, 2026, 12, 8, 12, 45), Some(at(utc, 2026, 12, 8, 13, 30))),
            // 2026-03-08: New York springs forward at 02:00; 08:00 is EDT (12:00 UTC).
            ("night before spring forward", &night, ny, at(ny, 2026, 3, 7, 23, 0), Some(Utc.with_ymd_and_hms(2026, 3, 8, 12, 0, 0).unwrap())),
            // 2026-11-01: falls back at 02:00; 08:00 is EST (13:00 UTC).
            ("night before fall back", &night, ny, at(ny, 2026, 10, 31, 23, 0), Some(Utc.with_ymd_and_hms(2026, 11, 1, 13, 0, 0).unwrap())),
        ];
        for (name, range, tz, missed, want) in table {
            assert_eq!(deferred_until(missed, tz, Some(range)), want, "{name}");
        }
        assert_eq!(deferred_until(noon(), utc, None), None, "no quiet hours");
        // Quiet hours that end at a time the clocks skip: the first minute after it.
        let skipped = TimeRange {
            open: "01:00".into(),
            close: "02:30".into(),
        };
        assert_eq!(
            deferred_until(at(ny, 2026, 3, 8, 1, 30), ny, Some(&skipped)),
            Some(Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap()),
            "02:30 does not exist that night; 03:00 EDT is 07:00 UTC"
        );
    }

    #[test]
    fn carrier_keywords_are_recognised() {
        for w in [
            "STOP",
            "stop",
            " Unsubscribe ",
            "cancel",
            "END",
            "quit",
            "StopAll",
            "stop.",
        ] {
            assert_eq!(keyword(w), Some(Keyword::Stop), "{w}");
        }
        assert_eq!(keyword("start"), Some(Keyword::Start));
        assert_eq!(keyword("UNSTOP"), Some(Keyword::Start));
        assert_eq!(keyword("help"), Some(Keyword::Help));
        assert_eq!(keyword("please stop by tomorrow"), None);
    }
}
