//! Twilio request signatures (SPEC §3.1), as Twilio's own helper libraries compute them:
//! base64(HMAC-SHA1(auth token, URL + each POST parameter sorted by name as name + value;
//! a repeated name contributes each distinct value, sorted)). For JSON bodies the URL
//! carries `bodySHA256` and only the URL is signed. Like the helper libraries, a signature
//! is accepted for the URL as given, without its port, or with the scheme's default port.
//!
//! A request signed with a Twilio SharedKey says so in
//! `X-Twilio-Webhooks-Signature-Settings: key=<SharedKey SID>,algorithm=HMAC_SHA256`: the
//! same string is then signed with HMAC-SHA256 keyed by that SharedKey's secret. The header
//! decides the algorithm and the key; a request that names one is never checked with the
//! other (no downgrade to the auth token's SHA-1).
//!
//! Vapi's HMAC (`x-signature` = hex HMAC-SHA256 of `"{x-timestamp}.{body}"`) is here too:
//! every provider's signature is checked in this one place, and every check ends in a
//! [`Verdict`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The string Twilio signs for a form-encoded request.
pub fn signing_payload(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in params {
        sorted.entry(k.as_str()).or_default().insert(v.as_str());
    }
    let mut s = url.to_string();
    for (k, values) in sorted {
        for v in values {
            s.push_str(k);
            s.push_str(v);
        }
    }
    s
}

/// The expected `X-Twilio-Signature` for `url` and form `params`.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    compute_with(Algorithm::Sha1, auth_token, url, params)
}

/// The two signing algorithms: HMAC-SHA1 keyed by the account's auth token (the classic
/// mode) and HMAC-SHA256 keyed by a SharedKey's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

pub fn compute_with(alg: Algorithm, key: &str, url: &str, params: &[(String, String)]) -> String {
    let payload = signing_payload(url, params);
    let digest = match alg {
        Algorithm::Sha1 => {
            let mut mac =
                Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key length");
            mac.update(payload.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::Sha256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
                .expect("HMAC accepts any key length");
            mac.update(payload.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    STANDARD.encode(digest)
}

/// The parsed `X-Twilio-Webhooks-Signature-Settings` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The SharedKey SID (`SK…`) whose secret signed the request.
    pub key: String,
    pub algorithm: Algorithm,
}

/// Parses `key=SK…,algorithm=HMAC_SHA256`; the error says what is wrong (an unknown
/// algorithm is an error, never a reason to try another one).
pub fn parse_settings(header: &str) -> Result<Settings, String> {
    let mut key = None;
    let mut algorithm = None;
    for part in header.split(',') {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("'{}' is not name=value", part.trim()));
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "key" => key = Some(value.trim().to_string()),
            "algorithm" => algorithm = Some(value.trim().to_string()),
            // Unknown settings may be added by Twilio; they do not change the check.
            _ => {}
        }
    }
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or("no key= (the SharedKey SID)")?;
    let algorithm = match algorithm.as_deref() {
        Some("HMAC_SHA256") => Algorithm::Sha256,
        Some(other) => return Err(format!("unsupported algorithm '{other}'")),
        None => return Err("no algorithm=".into()),
    };
    Ok(Settings { key, algorithm })
}

/// Hex SHA-256 of a JSON body, compared with the `bodySHA256` query parameter.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The URL variants Twilio's libraries accept: as given, without the port, and with the
/// scheme's default port added (when none is present).
pub fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    // A port is digits after the last ':' that is not inside an IPv6 literal's brackets.
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p))
            if !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && (!h.starts_with('[') || h.ends_with(']')) =>
        {
            (h, Some(p))
        }
        _ => (hostport, None),
    };
    match port {
        Some(_) => out.push(format!("{scheme}://{userinfo}{host}{tail}")),
        None => {
            let default = match scheme.to_ascii_lowercase().as_str() {
                "https" => Some("443"),
                "http" => Some("80"),
                _ => None,
            };
            if let Some(p) = default {
                out.push(format!("{scheme}://{userinfo}{host}:{p}{tail}"));
            }
        }
    }
    out.dedup();
    out
}

/// The `bodySHA256` query parameter of a URL, if any.
pub fn body_hash_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bodySHA256")
        .map(|(_, v)| v.into_owned())
}

/// How a webhook's authentication went; the ledger keeps it per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The signature (or secret) matched.
    Valid,
    /// Not checked: switched off by configuration (`..._INSECURE_SKIP_...`).
    Skipped,
    /// A signature or secret was sent and does not match, or cannot be checked.
    Invalid,
    /// No signature or secret was sent at all.
    Missing,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Skipped => "skipped",
            Verdict::Invalid => "invalid",
            Verdict::Missing => "missing",
        }
    }

    /// The request may go on to its handler.
    pub fn accepted(self) -> bool {
        matches!(self, Verdict::Valid | Verdict::Skipped)
    }
}

/// Vapi's HMAC: `signature` (hex, optionally `sha256=`-prefixed, any case) must be
/// HMAC-SHA256(`key`, `"{timestamp}.{body}"`). Compared in constant time.
pub fn verify_vapi_hmac(key: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    let sent = signature.trim();
    let sent = sent
        .strip_prefix("sha256=")
        .unwrap_or(sent)
        .to_ascii_lowercase();
    crate_ct_eq(sent.as_bytes(), expected.as_bytes())
}

/// What was signed: form parameters, or a raw (JSON) body whose hash is in the URL.
pub enum Signed<'a> {
    Form(&'a [(String, String)]),
    Body(&'a [u8]),
}

/// Checks a signature in constant time against every accepted URL variant. Returns the
/// URL variant that matched.
pub fn verify(auth_token: &str, url: &str, signed: Signed<'_>, signature: &str) -> Option<String> {
    verify_with(Algorithm::Sha1, auth_token, url, signed, signature)
}

/// [`verify`] with the algorithm and key a request's signature settings chose.
pub fn verify_with(
    alg: Algorithm,
    key: &str,
    url: &str,
    signed: Signed<'_>,
    signature: &str,
) -> Option<String> {
    let params: &[(String, String)] = match signed {
        Signed::Form(p) => p,
        Signed::Body(body) => {
            let expected = body_hash_param(url)?;
            if !crate_ct_eq(
                body_sha256(body).as_bytes(),
                expected.to_ascii_lowercase().as_bytes(),
            ) {
                return None;
            }
            &[]
        }
    };
    url_variants(url).into_iter().find(|candidate| {
        crate_ct_eq(
            compute_with(alg, key, candidate, params).as_bytes(),
            signature.as_bytes(),
        )
    })
}

fn crate_ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    //! Vectors from Twilio's helper libraries (twilio-python
    //! tests/unit/test_request_validator.py, twilio-node spec/validation.spec.js).
    use super::*;

    const TOKEN: &str = "12345";

    #[test]
    fn vapi_hmac_signs_timestamp_dot_body() {
        // HMAC-SHA256("whsec", "1700000000000.{}"), computed independently with openssl:
        // printf '1700000000000.{}' | openssl dgst -sha256 -hmac whsec
        let computed = "71011c6edce8264c896afc29ce5ce9f44b714748ae41f9e0fc451ca2e56627bd";
        assert!(verify_vapi_hmac("whsec", "1700000000000", b"{}", computed));
        assert!(verify_vapi_hmac(
            "whsec",
            "1700000000000",
            b"{}",
            &format!("sha256={}", computed.to_uppercase())
        ));
        assert!(!verify_vapi_hmac("whsec", "1700000000001", b"{}", computed));
        assert!(!verify_vapi_hmac("other", "1700000000000", b"{}", computed));
        assert!(!verify_vapi_hmac(
            "whsec",
            "1700000000000",
            b"{ }",
            computed
        ));
        assert_eq!(Verdict::Missing.as_str(), "missing");
        assert!(Verdict::Skipped.accepted() && !Verdict::Invalid.accepted());
    }
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shared_key_settings_parse_and_refuse_what_they_do_not_know() {
        assert_eq!(
            parse_settings("key=SK0123,algorithm=HMAC_SHA256"),
            Ok(Settings {
                key: "SK0123".into(),
                algorithm: Algorithm::Sha256
            })
        );
        assert_eq!(
            parse_settings(" algorithm=HMAC_SHA256 , key=SK9, version=2")
                .unwrap()
                .key,
            "SK9"
        );
        assert!(parse_settings("key=SK1,algorithm=HMAC_SHA1")
            .unwrap_err()
            .contains("unsupported algorithm 'HMAC_SHA1'"));
        assert!(parse_settings("algorithm=HMAC_SHA256")
            .unwrap_err()
            .contains("no key="));
        assert!(parse_settings("key=SK1")
            .unwrap_err()
            .contains("no algorithm="));
        assert!(parse_settings("garbage").is_err());
    }

    #[test]
    fn a_sha256_signature_verifies_only_as_sha256() {
        let sha256 = compute_with(Algorithm::Sha256, TOKEN, URL, &params());
        let sha1 = compute(TOKEN, URL, &params());
        assert_ne!(sha256, sha1);
        assert_eq!(STANDARD.decode(&sha256).unwrap().len(), 32);
        assert!(verify_with(
            Algorithm::Sha256,
            TOKEN,
            URL,
            Signed::Form(&params()),
            &sha256
        )
        .is_some());
        assert!(verify_with(
            Algorithm::Sha256,
            TOKEN,
            URL,
            Signed::Form(&params()),
            &sha1
        )
        .is_none());
        assert!(verify(TOKEN, URL, Signed::Form(&params()), &sha256).is_none());
    }

    #[test]
    fn the_official_vector_computes() {
        assert_eq!(
            compute(TOKEN, URL, &params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut p = params();
        p.reverse();
        assert_eq!(compute(TOKEN, URL, &p), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn repeated_keys_use_distinct_sorted_values() {
        let p = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(compute(TOKEN, URL, &p), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        let dup = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(compute(TOKEN, URL, &dup), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        let array = pairs(&[
            ("MessagingBinding.Address", "+1415xxxxxxx"),
            ("MessagingBinding.Address", "+1325xxxxxxx"),
        ]);
        assert_eq!(compute(TOKEN, URL, &array), "83O6e2vORAoJHUNzJjDWN1jz+BA=");
    }

    #[test]
    fn a_valid_signature_verifies_and_a_wrong_one_does_not() {
        assert!(verify(
            TOKEN,
            URL,
            Signed::Form(&params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )
        .is_some());
        assert!(verify(TOKEN, URL, Signed::Form(&params()), "WRONG_SIGNATURE").is_none());
        assert!(verify(
            "54321",
            URL,
            Signed::Form(&params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )
        .is_none());
        assert!(verify(TOKEN, URL, Signed::Form(&params()), "").is_none());
    }

    #[test]
    fn ports_are_stripped_or_added_like_the_helper_libraries() {
        let p = params();
        // https with a port: the signature of the URL without it is accepted.
        let with_port = URL.replace(".com", ".com:1234");
        assert!(verify(
            TOKEN,
            &with_port,
            Signed::Form(&p),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )
        .is_some());
        // http with a port: the URL as given.
        let http_port = with_port.replace("https", "http");
        assert!(verify(
            TOKEN,
            &http_port,
            Signed::Form(&p),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        )
        .is_some());
        // Without a port: the default port added.
        assert!(verify(TOKEN, URL, Signed::Form(&p), "kvajT1Ptam85bY51eRf/AJRuM3w=").is_some());
        let http = URL.replace("https", "http");
        assert!(verify(
            TOKEN,
            &http,
            Signed::Form(&p),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        )
        .is_some());
    }

    #[test]
    fn urls_with_credentials_and_special_characters_verify() {
        let p = params();
        let creds = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2";
        assert!(verify(
            TOKEN,
            creds,
            Signed::Form(&p),
            "CukzLTc1tT5dXEDIHm/tKBanW10="
        )
        .is_some());
        assert!(verify(
            TOKEN,
            creds,
            Signed::Form(&p),
            "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="
        )
        .is_some());
        let user = "https://user@mycompany.com/myapp.php?foo=1&bar=2";
        assert!(verify(
            TOKEN,
            user,
            Signed::Form(&p),
            "2YRLlVAflCqxaNicjMpJcSTgzSs="
        )
        .is_some());
        let special = format!("{URL}&Body=It's+amazing");
        assert!(verify(
            TOKEN,
            &special,
            Signed::Form(&p),
            "dsq4Ehbj6cs+KdTkpF5sSSplOWw="
        )
        .is_some());
    }

    #[test]
    fn json_bodies_are_verified_through_body_sha256() {
        let body = br#"{"property": "value", "boolean": true}"#;
        assert_eq!(
            body_sha256(body),
            "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        let url = format!("{URL}&bodySHA256={}", body_sha256(body));
        assert!(verify(
            TOKEN,
            &url,
            Signed::Body(body),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        )
        .is_some());
        // A tampered body no longer matches the hash in the URL.
        assert!(verify(
            TOKEN,
            &url,
            Signed::Body(b"{}"),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        )
        .is_none());
        let empty = format!("{URL}&bodySHA256={}", body_sha256(b"{}"));
        assert!(verify(
            TOKEN,
            &empty,
            Signed::Body(b"{}"),
            "Ldidvp12m26NI7eqEvxnEpkd9Hc="
        )
        .is_some());
        let short = format!(
            "https://mycompany.com/myapp.php?bodySHA256={}",
            body_sha256(body)
        );
        assert!(verify(
            TOKEN,
            &short,
            Signed::Body(body),
            "y77kIzt2vzLz71DgmJGsen2scGs="
        )
        .is_some());
        // A body without the hash parameter never verifies.
        assert!(verify(
            TOKEN,
            URL,
            Signed::Body(body),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )
        .is_none());
    }
}
