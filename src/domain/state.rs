//! The closed sets a call and a message move through (SPEC §2), stored as text and typed
//! in code: a value outside the set is refused by the type (and by the schema's CHECK),
//! never compared as a string.

use super::roles::string_enum;

string_enum!(
    /// A call's recording consent (SPEC §3.4). Only `not_asked` may change, once.
    Consent {
        NotAsked => "not_asked",
        Announced => "announced",
        Granted => "granted",
        Declined => "declined",
        Error => "error",
    }
);

impl Consent {
    /// Whether a dialled leg may be recorded under this consent (with a mode and the flag).
    pub fn allows_recording(self) -> bool {
        matches!(self, Consent::Announced | Consent::Granted)
    }
}

string_enum!(
    /// Where a call's missed-call text-back stands (SPEC §3.6).
    TextbackState {
        Scheduled => "scheduled",
        Processing => "processing",
        Sent => "sent",
        Blocked => "blocked",
        Skipped => "skipped",
    }
);

string_enum!(
    /// Which way a Twilio call or a text went (a Vapi call may also be a web call).
    Direction { Inbound => "inbound", Outbound => "outbound" }
);

string_enum!(
    /// Why a text exists.
    MessageKind {
        Textback => "textback",
        Onboarding => "onboarding",
        Intake => "intake",
        Notification => "notification",
        Reply => "reply",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_round_trips_and_refuses_what_it_does_not_hold() {
        for c in Consent::ALL {
            assert_eq!(Consent::parse(c.as_str()), Ok(*c));
        }
        for t in TextbackState::ALL {
            assert_eq!(TextbackState::parse(t.as_str()), Ok(*t));
        }
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::parse(k.as_str()), Ok(*k));
        }
        let err = Consent::parse("maybe").unwrap_err();
        assert!(
            err.contains("not_asked, announced, granted, declined, error"),
            "{err}"
        );
        assert!(Direction::parse("sideways").is_err());
    }

    #[test]
    fn only_announced_or_granted_consent_allows_recording() {
        let allowed: Vec<_> = Consent::ALL
            .iter()
            .filter(|c| c.allows_recording())
            .collect();
        assert_eq!(allowed, [&Consent::Announced, &Consent::Granted]);
    }
}
