//! Two-factor sign-in (SPEC §14): time-based one-time codes (RFC 6238: HMAC-SHA1, six digits,
//! 30-second steps) and one-time recovery codes. The codes are computed by `totp-rs`; this
//! module decides which step a typed code belongs to (±1 step, so a phone a little fast or
//! slow still works) and reads what people type (spaces, dashes, a recovery code instead).

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step (RFC 6238's default, what every authenticator app assumes).
pub const STEP_SECS: u64 = 30;
/// Recovery codes given out when two-factor is turned on.
pub const RECOVERY_CODES: usize = 10;
/// Letters and digits of a recovery code: no 0/o, 1/l/i, so a code read aloud or copied by
/// hand survives.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A user's TOTP secret (20 random bytes, as RFC 4226 recommends).
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    pub fn generate() -> TotpSecret {
        let mut bytes = vec![0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    /// The secret as authenticator apps take it typed in: base32 without padding.
    pub fn base32(&self) -> String {
        match Secret::Raw(self.0.clone()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!("to_encoded returns Secret::Encoded"),
        }
    }

    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        let bytes = Secret::Encoded(text.to_string()).to_bytes().ok()?;
        (bytes.len() >= 16).then_some(TotpSecret(bytes))
    }

    fn totp(&self, issuer: &str, account: &str) -> TOTP {
        // `otpauth://` labels are `issuer:account`; a colon in either would split them wrong.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            STEP_SECS,
            self.0.clone(),
            Some(issuer.replace(':', " ")),
            account.replace(':', " "),
        )
    }

    /// The `otpauth://totp/…` URI a QR code carries to the authenticator app.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account).get_url()
    }

    /// The code for a step (what the app shows during it).
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp("", "").generate(step * STEP_SECS)
    }

    /// The step a six-digit code is valid for at `unix_secs`, trying the current step and one
    /// on each side. The caller refuses a step it has already accepted (no replay).
    pub fn matching_step(&self, code: &str, unix_secs: u64) -> Option<u64> {
        let now = unix_secs / STEP_SECS;
        [now, now.saturating_sub(1), now + 1]
            .into_iter()
            .find(|&step| {
                crate::crypto::constant_time_eq(self.code_at_step(step).as_bytes(), code.as_bytes())
            })
    }
}

/// What a person typed into "Code from your authenticator app".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// Six digits (spaces allowed, as apps show `123 456`).
    Code(String),
    /// A recovery code, normalised (lowercase, no dashes or spaces).
    Recovery(String),
}

impl SecondFactor {
    pub fn parse(typed: &str) -> Result<SecondFactor, String> {
        let compact: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_lowercase();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            Ok(SecondFactor::Code(compact))
        } else if compact.len() == 10 && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
            Ok(SecondFactor::Recovery(compact))
        } else {
            Err("enter the 6-digit code your authenticator app shows, or one of your recovery codes (like abcde-23456)".into())
        }
    }
}

/// New recovery codes, as shown to the user once (`abcde-fgh23`).
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What is stored of a recovery code: SHA-256 of its normalised form, in hex.
pub fn recovery_hash(code: &str) -> String {
    let compact: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    hex::encode(Sha256::digest(compact.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 secret, "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret(b"12345678901234567890".to_vec())
    }

    #[test]
    fn codes_match_rfc_6238_test_vectors() {
        // Appendix B gives eight digits; the six-digit code is its last six.
        for (time, eight) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(
                rfc_secret().code_at_step(time / STEP_SECS),
                eight[2..],
                "t={time}"
            );
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let s = rfc_secret();
        let t = 1_234_567_890;
        let step = t / STEP_SECS;
        let code = s.code_at_step(step);
        assert_eq!(s.matching_step(&code, t), Some(step));
        assert_eq!(s.matching_step(&code, t + STEP_SECS), Some(step));
        assert_eq!(s.matching_step(&code, t - STEP_SECS), Some(step));
        assert_eq!(s.matching_step(&code, t + 2 * STEP_SECS), None);
        assert_eq!(s.matching_step(&code, t - 2 * STEP_SECS), None);
    }

    #[test]
    fn base32_round_trips_and_the_uri_names_issuer_and_account() {
        let s = TotpSecret::generate();
        let again = TotpSecret::from_base32(&s.base32()).unwrap();
        assert_eq!(again.code_at_step(7), s.code_at_step(7));
        let uri = s.uri("Joe's Plumbing: East", "sam@example.com");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&format!("secret={}", s.base32())), "{uri}");
        assert!(uri.contains("issuer=Joe"), "{uri}");
        assert!(TotpSecret::from_base32("not base32!").is_none());
    }

    #[test]
    fn typed_second_factors_are_read_as_people_type_them() {
        assert_eq!(
            SecondFactor::parse(" 123 456 "),
            Ok(SecondFactor::Code("123456".into()))
        );
        assert_eq!(
            SecondFactor::parse("ABCDE-fgh23"),
            Ok(SecondFactor::Recovery("abcdefgh23".into()))
        );
        assert!(SecondFactor::parse("12345").is_err());
        assert!(
            SecondFactor::parse("abcde-fgh2O").is_err(),
            "O is not in the alphabet"
        );
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for c in &codes {
            assert!(
                matches!(SecondFactor::parse(c), Ok(SecondFactor::Recovery(_))),
                "{c}"
            );
            assert_eq!(
                recovery_hash(c),
                recovery_hash(&c.to_uppercase().replace('-', " "))
            );
        }
    }
}
