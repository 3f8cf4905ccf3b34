//! E.164 phone numbers as a parsed type (SPEC §2: `e164`).

use std::fmt;

/// A phone number in E.164 form: `+`, a country code that does not start with 0, and at
/// most 15 digits in all. Construct with [`PhoneNumber::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Why a string is not an E.164 number; the message says what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error("a phone number is required")]
    Empty,
    #[error(
        "'{0}' is not an E.164 number: it must start with + and a country code, e.g. +14155550123"
    )]
    NoPlus(String),
    #[error("'{0}' is not an E.164 number: only digits may follow the +")]
    NotDigits(String),
    #[error("'{0}' is not an E.164 number: it must have 7 to 15 digits after the +")]
    BadLength(String),
    #[error("'{0}' is not an E.164 number: a country code never starts with 0")]
    LeadingZero(String),
}

impl PhoneNumber {
    /// Parses a strict E.164 string. Spaces, dashes, dots and parentheses that people type
    /// are removed first (`+1 (415) 555-0123` is accepted); anything else is refused.
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        let compact: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let Some(digits) = compact.strip_prefix('+') else {
            return Err(PhoneNumberError::NoPlus(trimmed.to_string()));
        };
        if !digits.chars().all(|c| c.is_ascii_digit()) || digits.is_empty() {
            return Err(PhoneNumberError::NotDigits(trimmed.to_string()));
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(PhoneNumberError::BadLength(trimmed.to_string()));
        }
        if digits.starts_with('0') {
            return Err(PhoneNumberError::LeadingZero(trimmed.to_string()));
        }
        Ok(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Caller IDs Twilio uses when the number is withheld or unknown
/// (<https://www.twilio.com/docs/voice/api/call-resource>, "anonymous" callers).
const WITHHELD_CALLER_IDS: &[&str] = &[
    "+266696687",
    "+7378742833",
    "+2562533",
    "+8656696",
    "+86282452253",
];

/// One end of a call or text as Twilio names it in `From` or `To`, parsed where the
/// webhook arrives. The text Twilio sent is kept for the record whatever it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// A phone number in E.164 form.
    Number(PhoneNumber),
    /// The network withholds the number: `anonymous`, `restricted`, `unknown`, empty, or
    /// one of Twilio's placeholder numbers for a withheld caller ID.
    Withheld(String),
    /// A software identity, not a number: `client:alice`, a SIP URI.
    Identity(String),
    /// Anything else (a short code, a number without its country code).
    Invalid(String),
}

impl Party {
    pub fn parse(raw: &str) -> Party {
        let trimmed = raw.trim();
        if trimmed.is_empty()
            || ["anonymous", "restricted", "unknown"]
                .iter()
                .any(|w| trimmed.eq_ignore_ascii_case(w))
            || WITHHELD_CALLER_IDS.contains(&trimmed)
        {
            return Party::Withheld(raw.to_string());
        }
        if trimmed.starts_with("client:") || trimmed.starts_with("sip:") {
            return Party::Identity(raw.to_string());
        }
        match PhoneNumber::parse(trimmed) {
            Ok(n) => Party::Number(n),
            Err(_) => Party::Invalid(raw.to_string()),
        }
    }

    /// The number, when this party has one.
    pub fn number(&self) -> Option<&PhoneNumber> {
        match self {
            Party::Number(n) => Some(n),
            _ => None,
        }
    }

    /// What is stored and shown: the E.164 number, or the text Twilio sent.
    pub fn as_str(&self) -> &str {
        match self {
            Party::Number(n) => n.as_str(),
            Party::Withheld(s) | Party::Identity(s) | Party::Invalid(s) => s,
        }
    }
}

/// Masks all but the last four characters of a phone number (or any caller ID) for logs.
pub fn redact(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 4 {
        return "…".into();
    }
    format!("…{}", chars[chars.len() - 4..].iter().collect::<String>())
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        PhoneNumber::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_e164_number_parses_unchanged() {
        assert_eq!(
            PhoneNumber::parse("+14155550123").unwrap().as_str(),
            "+14155550123"
        );
    }

    #[test]
    fn typed_punctuation_is_removed() {
        assert_eq!(
            PhoneNumber::parse(" +1 (415) 555-0123 ").unwrap().as_str(),
            "+14155550123"
        );
    }

    #[test]
    fn a_number_without_plus_is_refused_with_an_example() {
        let err = PhoneNumber::parse("4155550123").unwrap_err();
        assert_eq!(err, PhoneNumberError::NoPlus("4155550123".into()));
        assert!(err.to_string().contains("+14155550123"));
    }

    #[test]
    fn letters_anonymous_and_client_identities_are_refused() {
        for bad in ["anonymous", "client:alice", "+1415CALLME", "+", "sip:a@b.c"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} must not parse");
        }
    }

    #[test]
    fn a_party_is_a_number_a_withheld_id_an_identity_or_invalid() {
        let number = PhoneNumber::parse("+14155550123").unwrap();
        assert_eq!(Party::parse("+14155550123"), Party::Number(number.clone()));
        assert_eq!(Party::parse("+14155550123").number(), Some(&number));
        for withheld in [
            "anonymous",
            "Anonymous",
            "RESTRICTED",
            "unknown",
            "",
            " ",
            "+266696687",
        ] {
            assert_eq!(Party::parse(withheld), Party::Withheld(withheld.into()));
        }
        for identity in ["client:alice", "sip:bob@example.com"] {
            assert_eq!(Party::parse(identity), Party::Identity(identity.into()));
        }
        for invalid in ["5551234", "12345", "+1415CALLME"] {
            let party = Party::parse(invalid);
            assert_eq!(party, Party::Invalid(invalid.into()));
            assert_eq!(party.as_str(), invalid, "kept as sent");
            assert_eq!(party.number(), None);
        }
    }

    #[test]
    fn lengths_outside_7_to_15_digits_are_refused() {
        assert!(matches!(
            PhoneNumber::parse("+123456"),
            Err(PhoneNumberError::BadLength(_))
        ));
        assert!(PhoneNumber::parse("+1234567").is_ok());
        assert!(PhoneNumber::parse("+123456789012345").is_ok());
        assert!(matches!(
            PhoneNumber::parse("+1234567890123456"),
            Err(PhoneNumberError::BadLength(_))
        ));
    }

    #[test]
    fn a_country_code_starting_with_zero_is_refused() {
        assert!(matches!(
            PhoneNumber::parse("+0123456789"),
            Err(PhoneNumberError::LeadingZero(_))
        ));
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(PhoneNumber::parse("  "), Err(PhoneNumberError::Empty));
    }

    #[test]
    fn redaction_keeps_only_the_last_four_digits() {
        assert_eq!(
            redact(PhoneNumber::parse("+14155550123").unwrap().as_str()),
            "…0123"
        );
    }

    #[test]
    fn deserializing_validates() {
        let ok: PhoneNumber = serde_json::from_str("\"+15550100001\"").unwrap();
        assert_eq!(ok.as_str(), "+15550100001");
        assert!(serde_json::from_str::<PhoneNumber>("\"555\"").is_err());
    }
}
