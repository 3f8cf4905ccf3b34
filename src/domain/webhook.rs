//! The webhook routes the providers call (SPEC §3, §4): each path is written once, here,
//! with what a failure must answer. The route table, the TwiML actions, the URLs set on
//! numbers at Twilio, the metrics labels and the simulator all name routes through this.

/// Who sent a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Twilio,
    Vapi,
}

impl Provider {
    /// The name in the ledger and the metrics' `provider` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Vapi => "vapi",
        }
    }
}

/// A Twilio SID of the kind `prefix` names (`CA` a call, `SM`/`MM` a message), parsed
/// where the webhook arrives: the prefix, then up to 62 letters, digits, `_` or `-`.
fn sid(value: &str, prefixes: &[&str], what: &str) -> Result<String, String> {
    let v = value.trim();
    let rest = prefixes.iter().find_map(|p| v.strip_prefix(p));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && rest.len() <= 62
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(v.to_string())
        }
        _ => Err(format!(
            "{value:?} is not a {what} SID ({} followed by letters and digits)",
            prefixes.join(" or ")
        )),
    }
}

/// A call's SID (`CA…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallSid(String);

impl CallSid {
    pub fn parse(value: &str) -> Result<CallSid, String> {
        sid(value, &["CA"], "call").map(CallSid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message's SID (`SM…` a text, `MM…` a picture message).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageSid(String);

impl MessageSid {
    pub fn parse(value: &str) -> Result<MessageSid, String> {
        sid(value, &["SM", "MM"], "message").map(MessageSid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! sid_as_text {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$t> for String {
            fn from(s: $t) -> String {
                s.0
            }
        }
    };
}
sid_as_text!(CallSid);
sid_as_text!(MessageSid);

/// What a Twilio route answers when the appliance cannot do its work (a database error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// A caller is on the line: say sorry and hang up politely (200 TwiML). Twilio would
    /// otherwise play its own "application error" message.
    Apologise,
    /// A callback: 5xx, so that a configured retry redelivers it later.
    Retry,
}

/// Every route Twilio calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwilioRoute {
    /// A call comes in (the number's Voice URL).
    Voice,
    /// The recording opt-in answer.
    Consent,
    /// A menu key, or a timeout (`?attempt=N`).
    Menu,
    /// The result of a `<Dial>` (`?screen=1&option=K&position=N`, SPEC §3.8).
    DialResult,
    /// A screened leg answered: the whisper to the person who picked up.
    Screen,
    /// The key (or silence) of that person: take the call, or let that leg go.
    ScreenAnswer,
    /// The voicemail `<Record>` finished.
    VoicemailDone,
    /// The voicemail recording's status callback.
    Recording,
    /// The voicemail transcript.
    Transcription,
    /// The call's status callback (the number's StatusCallback).
    VoiceStatus,
    /// A text comes in (the number's SMS URL).
    Sms,
    /// Delivery status of a text the appliance sent.
    SmsStatus,
    /// A callback's first leg answered: the user's own phone (SPEC §12, `?callback=N`).
    CallbackAnswer,
    /// The dial to the customer of a callback ended (`?callback=N`).
    CallbackDial,
    /// The status callback of a callback's call (`?callback=N`).
    CallbackStatus,
    /// `switchboard doctor`'s signed request through `PUBLIC_URL`: proves the URL reaches
    /// this appliance and that nothing on the way changes what Twilio signs. Changes
    /// nothing; Twilio itself never calls it.
    SelfCheck,
}

/// The scope every Twilio route lives under.
pub const TWILIO_SCOPE: &str = "/twilio";
/// The one Vapi route (the assistant's Server URL).
pub const VAPI_WEBHOOK: &str = "/vapi/webhook";

impl TwilioRoute {
    pub const ALL: [TwilioRoute; 16] = [
        TwilioRoute::Voice,
        TwilioRoute::Consent,
        TwilioRoute::Menu,
        TwilioRoute::DialResult,
        TwilioRoute::Screen,
        TwilioRoute::ScreenAnswer,
        TwilioRoute::VoicemailDone,
        TwilioRoute::Recording,
        TwilioRoute::Transcription,
        TwilioRoute::VoiceStatus,
        TwilioRoute::Sms,
        TwilioRoute::SmsStatus,
        TwilioRoute::CallbackAnswer,
        TwilioRoute::CallbackDial,
        TwilioRoute::CallbackStatus,
        TwilioRoute::SelfCheck,
    ];

    /// The absolute path, e.g. `/twilio/voice/menu`; also the metrics and ledger label.
    pub fn path(self) -> &'static str {
        match self {
            TwilioRoute::Voice => "/twilio/voice",
            TwilioRoute::Consent => "/twilio/voice/consent",
            TwilioRoute::Menu => "/twilio/voice/menu",
            TwilioRoute::DialResult => "/twilio/voice/dial-result",
            TwilioRoute::Screen => "/twilio/voice/screen",
            TwilioRoute::ScreenAnswer => "/twilio/voice/screen/answer",
            TwilioRoute::VoicemailDone => "/twilio/voice/voicemail-done",
            TwilioRoute::Recording => "/twilio/voice/recording",
            TwilioRoute::Transcription => "/twilio/voice/transcription",
            TwilioRoute::VoiceStatus => "/twilio/voice/status",
            TwilioRoute::Sms => "/twilio/sms",
            TwilioRoute::SmsStatus => "/twilio/sms/status",
            TwilioRoute::CallbackAnswer => "/twilio/callback/answer",
            TwilioRoute::CallbackDial => "/twilio/callback/dial",
            TwilioRoute::CallbackStatus => "/twilio/callback/status",
            TwilioRoute::SelfCheck => "/twilio/self-check",
        }
    }

    /// The path inside [`TWILIO_SCOPE`], for the route table.
    pub fn scoped_path(self) -> &'static str {
        &self.path()[TWILIO_SCOPE.len()..]
    }

    /// The route a request path names (query string excluded), if any.
    pub fn from_path(path: &str) -> Option<TwilioRoute> {
        TwilioRoute::ALL.into_iter().find(|r| r.path() == path)
    }

    /// The absolute URL under `base` (PUBLIC_URL), as Twilio is told to call it.
    pub fn url(self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.path())
    }

    /// Whether a caller may be waiting on the answer (it is TwiML the caller hears).
    pub fn on_failure(self) -> FailurePolicy {
        match self {
            TwilioRoute::Voice
            | TwilioRoute::Consent
            | TwilioRoute::Menu
            | TwilioRoute::DialResult
            | TwilioRoute::Screen
            | TwilioRoute::ScreenAnswer
            | TwilioRoute::VoicemailDone
            | TwilioRoute::CallbackAnswer
            | TwilioRoute::CallbackDial => FailurePolicy::Apologise,
            TwilioRoute::Recording
            | TwilioRoute::Transcription
            | TwilioRoute::VoiceStatus
            | TwilioRoute::Sms
            | TwilioRoute::SmsStatus
            | TwilioRoute::CallbackStatus
            | TwilioRoute::SelfCheck => FailurePolicy::Retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_parsed_at_the_edge() {
        let sid = CallSid::parse("CAf19604a3eec3e63d157870c5f7f3b3a0").unwrap();
        assert_eq!(sid.as_str(), "CAf19604a3eec3e63d157870c5f7f3b3a0");
        assert_eq!(&*sid, "CAf19604a3eec3e63d157870c5f7f3b3a0");
        assert!(CallSid::parse("CA_test-1").is_ok());
        for bad in [
            "",
            "CA",
            "SM123",
            "CA12 34",
            "CA1'; DROP",
            &format!("CA{}", "a".repeat(63)),
        ] {
            let e = CallSid::parse(bad).unwrap_err();
            assert!(e.contains("not a call SID"), "{bad}: {e}");
        }
        assert!(MessageSid::parse("SM9401").is_ok());
        assert!(MessageSid::parse("MMabc").is_ok());
        assert!(MessageSid::parse("CA9401")
            .unwrap_err()
            .contains("SM or MM"));
        assert_eq!(Provider::Twilio.as_str(), "twilio");
        assert_eq!(Provider::Vapi.as_str(), "vapi");
    }

    #[test]
    fn every_route_has_one_path_under_the_scope_and_is_found_by_it() {
        let mut seen = std::collections::HashSet::new();
        for r in TwilioRoute::ALL {
            assert!(r.path().starts_with("/twilio/"), "{r:?}");
            assert_eq!(format!("{TWILIO_SCOPE}{}", r.scoped_path()), r.path());
            assert_eq!(TwilioRoute::from_path(r.path()), Some(r));
            assert!(seen.insert(r.path()), "{r:?} shares its path");
        }
        assert_eq!(TwilioRoute::from_path("/twilio/voice/"), None);
        assert_eq!(TwilioRoute::from_path("/twilio"), None);
    }

    #[test]
    fn only_routes_a_caller_hears_apologise() {
        use FailurePolicy::{Apologise, Retry};
        #[rustfmt::skip]
        let table = [
            (TwilioRoute::Voice, Apologise),
            (TwilioRoute::Consent, Apologise),
            (TwilioRoute::Menu, Apologise),
            (TwilioRoute::DialResult, Apologise),
            (TwilioRoute::Screen, Apologise),
            (TwilioRoute::ScreenAnswer, Apologise),
            (TwilioRoute::VoicemailDone, Apologise),
            (TwilioRoute::Recording, Retry),
            (TwilioRoute::Transcription, Retry),
            (TwilioRoute::VoiceStatus, Retry),
            (TwilioRoute::Sms, Retry),
            (TwilioRoute::SmsStatus, Retry),
            (TwilioRoute::SelfCheck, Retry),
        ];
        for (route, policy) in table {
            assert_eq!(route.on_failure(), policy, "{route:?}");
        }
    }

    #[test]
    fn urls_join_the_base_without_a_double_slash() {
        assert_eq!(
            TwilioRoute::VoiceStatus.url("https://desk.example.com/"),
            "https://desk.example.com/twilio/voice/status"
        );
        assert_eq!(
            TwilioRoute::Sms.url("https://desk.example.com"),
            "https://desk.example.com/twilio/sms"
        );
    }
}
