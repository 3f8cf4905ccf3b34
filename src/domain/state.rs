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
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Where a voicemail's transcript stands: waiting for Twilio, in, failed, or never
    /// coming (a recording too short or too long, or one that failed).
    TranscriptionStatus {
        Pending => "pending",
        Completed => "completed",
        Failed => "failed",
        Absent => "absent",
    }
);

impl TranscriptionStatus {
    /// Twilio's `TranscriptionStatus`: `completed`, else the transcript failed.
    pub fn from_twilio(status: Option<&str>) -> TranscriptionStatus {
        match status {
            Some("completed") => TranscriptionStatus::Completed,
            _ => TranscriptionStatus::Failed,
        }
    }
}

string_enum!(
    /// Which way a call or a text went. Only a Vapi call is ever `web` (a browser call to
    /// an agent); the schema refuses it for a text.
    Direction { Inbound => "inbound", Outbound => "outbound", Web => "web" }
);

string_enum!(
    /// Where a call stands, in its provider's words (SPEC §2 `calls.status`): Twilio's
    /// `CallStatus` and Vapi's call status share the column.
    CallStatus {
        Scheduled => "scheduled",
        Queued => "queued",
        Initiated => "initiated",
        Ringing => "ringing",
        InProgress => "in-progress",
        Forwarding => "forwarding",
        Completed => "completed",
        Busy => "busy",
        NoAnswer => "no-answer",
        Canceled => "canceled",
        Failed => "failed",
        Ended => "ended",
    }
);

impl CallStatus {
    /// Whether the call is over: Twilio's final statuses and Vapi's `ended`.
    pub fn is_final(self) -> bool {
        use CallStatus::*;
        matches!(
            self,
            Completed | Busy | NoAnswer | Canceled | Failed | Ended
        )
    }

    /// The order a call moves through; it never moves back (an ended call does not ring
    /// again), so a late or redelivered status of a lower rank changes nothing.
    pub fn rank(self) -> u8 {
        use CallStatus::*;
        match self {
            Scheduled | Queued | Initiated => 0,
            Ringing => 1,
            InProgress => 2,
            Forwarding => 3,
            Completed | Busy | NoAnswer | Canceled | Failed | Ended => 4,
        }
    }
}

string_enum!(
    /// Where a text stands: Twilio's `MessageStatus`, and `blocked` for one the appliance
    /// refused to send (an opted-out customer, a text-back's rules).
    MessageStatus {
        Accepted => "accepted",
        Scheduled => "scheduled",
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Delivered => "delivered",
        Undelivered => "undelivered",
        Failed => "failed",
        Receiving => "receiving",
        Received => "received",
        Read => "read",
        PartiallyDelivered => "partially_delivered",
        Canceled => "canceled",
        Blocked => "blocked",
    }
);

impl MessageStatus {
    /// The order a sent text moves through. A delivery callback of a lower rank than the
    /// stored status is late and changes nothing; every outcome past `sent` ranks the same.
    pub fn rank(self) -> u8 {
        use MessageStatus::*;
        match self {
            Accepted | Scheduled | Queued => 0,
            Sending => 1,
            Sent => 2,
            _ => 3,
        }
    }
}

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
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Ok(*s));
        }
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(s.as_str()), Ok(*s));
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
