//! Missed calls, the text-back decision and SMS keywords (SPEC §3.5, §3.6). Pure: the
//! caller gathers the facts, this module decides. When in doubt it does not text.

use super::callflow::{in_range, Textback};
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
}

/// Derives the outcome. "Missed" = no leg connected, no voicemail and longer than the
/// misdial threshold; a shorter call is abandoned (a misdial).
pub fn outcome(f: CallFacts, misdial_threshold_secs: u32) -> Outcome {
    if f.connected {
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
    QuietHours,
    ProviderRefused,
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
        }
    }
}

/// Facts for one text-back decision.
pub struct TextbackFacts<'a> {
    pub caller: &'a str,
    pub opted_out: bool,
    pub last_textback_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    pub tz: chrono_tz::Tz,
    pub settings: &'a Textback,
}

/// Send (to this number) or block (with the reason).
pub fn decide(f: &TextbackFacts<'_>) -> Result<PhoneNumber, BlockReason> {
    let to = textable_caller(f.caller)?;
    if f.opted_out {
        return Err(BlockReason::OptedOut);
    }
    if let Some(last) = f.last_textback_at {
        if f.now - last < Duration::hours(i64::from(f.settings.cooldown_hours)) {
            return Err(BlockReason::Cooldown);
        }
    }
    if let Some(quiet) = &f.settings.quiet_hours {
        if in_range(quiet, f.now.with_timezone(&f.tz).time()) {
            return Err(BlockReason::QuietHours);
        }
    }
    Ok(to)
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
            tz: chrono_tz::UTC,
            settings,
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
    fn opt_out_cooldown_and_quiet_hours_block() {
        let s = Textback::default();
        let mut f = facts("+14155550123", &s, noon());
        f.opted_out = true;
        assert_eq!(decide(&f), Err(BlockReason::OptedOut));
        let mut f = facts("+14155550123", &s, noon());
        f.last_textback_at = Some(noon() - Duration::hours(23));
        assert_eq!(decide(&f), Err(BlockReason::Cooldown));
        f.last_textback_at = Some(noon() - Duration::hours(25));
        assert!(decide(&f).is_ok());
        let late = Utc.with_ymd_and_hms(2026, 11, 21, 22, 0, 0).unwrap();
        assert_eq!(
            decide(&facts("+14155550123", &s, late)),
            Err(BlockReason::QuietHours)
        );
        // Quiet hours are local: 22:00 UTC is 14:00 in Los Angeles.
        let mut f = facts("+14155550123", &s, late);
        f.tz = "America/Los_Angeles".parse().unwrap();
        assert!(decide(&f).is_ok());
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
