//! Phone numbers as people type them (`415 555 0123`, `(415) 555-0123`,
//! `+44 20 7946 0958`), read with the business's country through libphonenumber's rules
//! (the `phonenumber` crate) and kept as E.164. Webhooks never come through here: Twilio
//! and Vapi send E.164, which [`PhoneNumber::parse`] reads strictly.

use super::PhoneNumber;

/// The country a business's numbers are read in until it chooses another.
pub const DEFAULT_COUNTRY: &str = "US";

/// Why what was typed is not a phone number, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypedNumberError {
    #[error("Enter a phone number, like {0}")]
    Empty(&'static str),
    #[error("Enter the number with digits, not letters, like {1} ('{0}' has letters)")]
    Letters(String, &'static str),
    #[error(
        "'{0}' is not a phone number: enter one like {1}, or start it with + and the country code"
    )]
    NotANumber(String, &'static str),
}

/// A two-letter country code (ISO 3166) libphonenumber knows, upper-cased.
pub fn country(code: &str) -> Option<String> {
    let upper = code.trim().to_ascii_uppercase();
    upper
        .parse::<phonenumber::country::Id>()
        .ok()
        .map(|_| upper)
}

/// How a number is written in `country`, for the messages.
pub fn example(country: &str) -> &'static str {
    match country {
        "US" | "CA" => "415 555 0123",
        "GB" => "020 7946 0958",
        "AU" => "02 9374 4000",
        "IE" => "01 234 5678",
        _ => "+14155550123",
    }
}

/// Reads what a person typed: a national number in `country`, or an international one
/// (with `+`). Letters (vanity numbers) are refused rather than guessed; a number whose
/// length no number of its country has is refused.
pub fn read(input: &str, country: &str) -> Result<PhoneNumber, TypedNumberError> {
    let ex = example(country);
    let typed = input.trim();
    if typed.is_empty() {
        return Err(TypedNumberError::Empty(ex));
    }
    if typed.chars().any(|c| c.is_alphabetic()) {
        return Err(TypedNumberError::Letters(typed.to_string(), ex));
    }
    if let Some(n) = north_american(typed, country) {
        return Ok(n);
    }
    let not_a_number = || TypedNumberError::NotANumber(typed.to_string(), ex);
    let region = if typed.starts_with('+') {
        None
    } else {
        country.parse::<phonenumber::country::Id>().ok()
    };
    let parsed = phonenumber::parse(region, typed).map_err(|_| not_a_number())?;
    let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
    let code = parsed.code().value();
    let national_len = e164.len().saturating_sub(1 + code.to_string().len());
    // The lengths of the country it was read in, or, for an international number, of the
    // main country of its code.
    let db = &phonenumber::metadata::DATABASE;
    let home = region
        .and_then(|id| db.by_id(id.as_ref()))
        .filter(|m| m.country_code() == code);
    let meta = match home {
        Some(m) => Some(m),
        None => db.by_code(&code).and_then(|all| {
            let main = all.iter().copied().find(|m| m.is_main_country_for_code());
            main.or_else(|| all.first().copied())
        }),
    };
    let possible =
        meta.is_some_and(|m| possible_lengths(m).any(|l| usize::from(l) == national_len));
    if !possible {
        return Err(not_a_number());
    }
    PhoneNumber::parse(&e164).map_err(|_| not_a_number())
}

/// How a stored E.164 number is shown to a business in `country`: nationally formatted
/// when it is a number of that country (`(415) 555-0123`, `020 7946 0958`), as E.164
/// otherwise. North American numbers of a North American business are formatted without
/// loading libphonenumber's metadata.
pub fn display(e164: &str, country: &str) -> String {
    let nanp_business = matches!(country, "US" | "CA");
    if let Some(national) = e164.strip_prefix("+1").filter(|n| n.len() == 10) {
        if nanp_business && national.bytes().all(|b| b.is_ascii_digit()) {
            return format!(
                "({}) {}-{}",
                &national[..3],
                &national[3..6],
                &national[6..]
            );
        }
    }
    if nanp_business || !e164.starts_with('+') {
        return e164.to_string();
    }
    let Ok(parsed) = phonenumber::parse(None, e164) else {
        return e164.to_string();
    };
    let home = parsed
        .country()
        .id()
        .is_some_and(|id| id.as_ref() == country);
    if home {
        parsed
            .format()
            .mode(phonenumber::Mode::National)
            .to_string()
    } else {
        e164.to_string()
    }
}

/// A number typed in the US or Canada as 10 digits (or 11 starting with the national
/// prefix 1), with the usual separators, read as libphonenumber reads it without loading
/// its metadata: that takes about 6 MiB for good once loaded, and most numbers a North
/// American business types are of this shape. Anything else goes to the library.
fn north_american(typed: &str, country: &str) -> Option<PhoneNumber> {
    if !matches!(country, "US" | "CA")
        || !typed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return None;
    }
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.len() {
        10 => &digits[..],
        11 if digits.starts_with('1') => &digits[1..],
        _ => return None,
    };
    PhoneNumber::parse(&format!("+1{national}")).ok()
}

/// Every length a number of `meta`'s region may have, of any type (the general
/// description often leaves them to the types).
fn possible_lengths(meta: &phonenumber::Metadata) -> impl Iterator<Item = u16> + '_ {
    let d = meta.descriptors();
    [
        Some(d.general()),
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.uan(),
    ]
    .into_iter()
    .flatten()
    .flat_map(|desc| desc.possible_length().iter().copied())
}

#[cfg(test)]
mod tests {

    #[test]
    fn numbers_are_shown_nationally_to_a_business_of_their_country() {
        assert_eq!(display("+14155550123", "US"), "(415) 555-0123");
        assert_eq!(display("+14165550123", "CA"), "(416) 555-0123");
        assert_eq!(
            display("+442079460958", "US"),
            "+442079460958",
            "E.164 for others"
        );
        assert_eq!(display("+442079460958", "GB"), "020 7946 0958");
        assert_eq!(display("+14155550123", "GB"), "+14155550123");
        assert_eq!(display("anonymous", "US"), "anonymous");
        assert_eq!(display("client:alice", "GB"), "client:alice");
    }

    use super::*;

    #[test]
    fn numbers_are_read_as_people_type_them_in_the_business_country() {
        #[rustfmt::skip]
        let table = [
            ("415 555 0123", "US", "+14155550123"),
            ("(415) 555-0123", "US", "+14155550123"),
            ("415.555.0123", "US", "+14155550123"),
            ("1 415 555 0123", "US", "+14155550123"),
            ("4155550123", "US", "+14155550123"),
            ("(555) 010-0199", "US", "+15550100199"),
            ("+1 (415) 555-0123", "US", "+14155550123"),
            ("+44 20 7946 0958", "US", "+442079460958"),
            ("020 7946 0958", "GB", "+442079460958"),
            ("07700 900123", "GB", "+447700900123"),
            ("+15550100001", "GB", "+15550100001"),
            ("011 44 20 7946 0958", "US", "+442079460958"),
        ];
        for (typed, country, e164) in table {
            assert_eq!(
                read(typed, country).map(|n| n.to_string()),
                Ok(e164.to_string()),
                "{typed} in {country}"
            );
        }
    }

    #[test]
    fn the_north_american_shortcut_reads_exactly_as_libphonenumber_does() {
        for typed in [
            "415 555 0123",
            "(415) 555-0123",
            "415.555.0123",
            "1 415 555 0123",
            "4155550123",
            "(555) 010-0199",
            "1-555-010-0199",
            "212 555 0101",
            "800 555 0199",
        ] {
            let fast = north_american(typed, "US").expect(typed);
            let region = phonenumber::country::Id::US;
            let lib = phonenumber::parse(Some(region), typed).unwrap();
            assert_eq!(
                fast.to_string(),
                lib.format().mode(phonenumber::Mode::E164).to_string(),
                "{typed}"
            );
        }
        for other in [
            "555-0199",
            "+1 415 555 0123",
            "020 7946 0958",
            "1-800-FLOWERS",
            "0044 20 7946 0958",
        ] {
            assert_eq!(north_american(other, "US"), None, "{other}");
        }
        assert_eq!(north_american("415 555 0123", "GB"), None);
    }

    #[test]
    fn what_is_not_a_number_is_refused_in_words() {
        assert_eq!(
            read("  ", "US"),
            Err(TypedNumberError::Empty("415 555 0123"))
        );
        let vanity = read("1-800-FLOWERS", "US").unwrap_err();
        assert!(
            vanity
                .to_string()
                .starts_with("Enter the number with digits, not letters"),
            "{vanity}"
        );
        for bad in ["555-0199", "12", "415 555 01234 5", "+999 123", "++1"] {
            let e = read(bad, "US").unwrap_err();
            assert!(
                matches!(e, TypedNumberError::NotANumber(..)),
                "{bad}: {e:?}"
            );
            assert!(e.to_string().contains("like 415 555 0123"), "{e}");
        }
    }

    #[test]
    fn countries_are_two_letter_codes_libphonenumber_knows() {
        assert_eq!(country("us"), Some("US".into()));
        assert_eq!(country(" GB "), Some("GB".into()));
        assert_eq!(country("XX"), None);
        assert_eq!(country("USA"), None);
    }
}
