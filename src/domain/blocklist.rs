//! What a blocklist entry blocks (SPEC §3.9): one E.164 number, or every number that
//! starts with a prefix. Parsed here once for the API and the CLI alike.

use super::PhoneNumber;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// This E.164 number.
    Number(String),
    /// Every number that starts with this (`+1900`).
    Prefix(String),
}

/// Why a pattern was refused: the field at fault and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub field: &'static str,
    pub message: String,
    pub hint: &'static str,
}

impl Pattern {
    /// Exactly one of `number` and `prefix` (blank counts as absent); a number may be typed
    /// as people type it, read in `country` (`415 555 0123`).
    pub fn parse(
        number: Option<&str>,
        prefix: Option<&str>,
        country: &str,
    ) -> Result<Pattern, PatternError> {
        let given = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match (given(number), given(prefix)) {
            (Some(n), None) => match PhoneNumber::parse(&n) {
                Ok(e164) => Ok(Pattern::Number(e164.to_string())),
                Err(_) => super::typed::read(&n, country)
                    .map(|e164| Pattern::Number(e164.to_string()))
                    .map_err(|e| PatternError {
                        field: "number",
                        message: e.to_string(),
                        hint:
                            "Numbers without + are read in the country set in Settings → Business.",
                    }),
            },
            (None, Some(p)) => {
                let digits = p.strip_prefix('+').unwrap_or("");
                if (1..=14).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
                    Ok(Pattern::Prefix(p))
                } else {
                    Err(PatternError {
                        field: "prefix",
                        message: format!("'{p}' is not the start of a phone number"),
                        hint: "Enter a + and the first digits every blocked number shares, like +1900.",
                    })
                }
            }
            (Some(_), Some(_)) => Err(PatternError {
                field: "number",
                message: "give either a number or a prefix, not both".into(),
                hint: "Block one number, or every number that starts with a prefix.",
            }),
            (None, None) => Err(PatternError {
                field: "number",
                message: "a number or a prefix to block is required".into(),
                hint: "Send {\"number\": \"+14155550123\"} or {\"prefix\": \"+1900\"}.",
            }),
        }
    }

    /// As shown to people: the number, or `+1900…`.
    pub fn describe(&self) -> String {
        match self {
            Pattern::Number(n) => n.clone(),
            Pattern::Prefix(p) => format!("{p}…"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_one_number_or_one_prefix() {
        assert_eq!(
            Pattern::parse(Some(" +1 415 555 0123 "), None, "US"),
            Ok(Pattern::Number("+14155550123".into()))
        );
        assert_eq!(
            Pattern::parse(Some("(415) 555-0123"), None, "US"),
            Ok(Pattern::Number("+14155550123".into()))
        );
        assert_eq!(
            Pattern::parse(None, Some("+1900"), "US"),
            Ok(Pattern::Prefix("+1900".into()))
        );
        assert_eq!(
            Pattern::parse(Some(""), Some("+44"), "US"),
            Ok(Pattern::Prefix("+44".into()))
        );
        for (n, p, field) in [
            (Some("555-0199"), None, "number"),
            (None, Some("1900"), "prefix"),
            (None, Some("+"), "prefix"),
            (None, Some("+1 900"), "prefix"),
            (Some("+14155550123"), Some("+1"), "number"),
            (None, None, "number"),
        ] {
            assert_eq!(
                Pattern::parse(n, p, "US").unwrap_err().field,
                field,
                "{n:?} {p:?}"
            );
        }
    }
}
