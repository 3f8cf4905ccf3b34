//! Web push to the dashboard installed as an app (SPEC §12). The payload is encrypted for
//! the device as RFC 8291 `aes128gcm` (the `web-push-native` crate) and the request is
//! signed for the push service with the appliance's VAPID key (RFC 8292): an ES256 JWT.
//! The key is made once and kept sealed with the other secrets. A subscription the push
//! service answers 404 or 410 for is removed.

use super::Attempt;
use super::FrontDesk;
use crate::crypto::SecretKey;
use crate::db::outbox::{push as subscriptions, Due};
use crate::db::settings;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use std::time::Duration;

/// The setting that allows http and internal push endpoints (a local test service).
pub const ALLOW_SETTING: &str = "SWITCHBOARD_PUSH_ALLOW_HTTP";
/// Where the sealed VAPID private key is kept.
const VAPID_KEY: &str = "push.vapid_private_key";
/// How long a push service keeps a message for a device that is offline.
const TTL_SECS: u64 = 24 * 3600;
/// What [`Pusher::send`] answers when the device is gone and its subscription removed.
pub const GONE: &str = "the push service says the device unsubscribed (404/410)";

/// The appliance's VAPID key pair and the client that talks to push services.
pub struct Pusher {
    /// The private scalar as stored; made into a key at the first push or subscription,
    /// so a start-up that pushes nothing runs no elliptic-curve code.
    secret: Vec<u8>,
    key: std::sync::OnceLock<Result<p256::SecretKey, String>>,
    /// `sub` of the VAPID JWT: how the push service can reach the operator.
    contact: String,
    /// Allow `http://` endpoints and internal addresses (a local test push service);
    /// real push services are public and https.
    allow_http: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PushKeyError {
    #[error("the stored VAPID key cannot be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

impl Pusher {
    /// Loads the VAPID key, or makes and stores it on first start.
    pub fn load_or_create(
        conn: &rusqlite::Connection,
        sealing: &SecretKey,
        contact: String,
        allow_http: bool,
    ) -> Result<Pusher, PushKeyError> {
        let secret = match settings::get(conn, VAPID_KEY)? {
            Some(sealed) => {
                let b64 = sealing
                    .decrypt(&sealed, VAPID_KEY)
                    .map_err(|e| PushKeyError::Unreadable(e.to_string()))?;
                URL_SAFE_NO_PAD
                    .decode(b64)
                    .map_err(|e| PushKeyError::Unreadable(e.to_string()))?
            }
            None => {
                // A P-256 private key is 32 random bytes below the group order (which all
                // but one draw in 2^32 are); it is checked when first used.
                let mut bytes = vec![0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
                let b64 = URL_SAFE_NO_PAD.encode(&bytes);
                settings::set(conn, VAPID_KEY, &sealing.encrypt(&b64, VAPID_KEY))?;
                bytes
            }
        };
        Ok(Pusher {
            secret,
            key: std::sync::OnceLock::new(),
            contact,
            allow_http,
        })
    }

    fn key(&self) -> Result<&p256::SecretKey, String> {
        self.key
            .get_or_init(|| {
                p256::SecretKey::from_slice(&self.secret).map_err(|e| {
                    format!("the stored VAPID key is not a P-256 key ({e}): remove the setting {VAPID_KEY} and restart")
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The public key browsers subscribe with (`applicationServerKey`): the uncompressed
    /// point, base64url (empty if the stored key is unusable, which the log then says).
    pub fn public_key(&self) -> String {
        match self.key() {
            Ok(k) => URL_SAFE_NO_PAD.encode(k.public_key().to_encoded_point(false).as_bytes()),
            Err(e) => {
                log::error!("{e}");
                String::new()
            }
        }
    }

    /// Whether `endpoint` may be pushed to, and the address to connect to. The endpoint
    /// comes from a browser: like a webhook URL it must be https and resolve to public
    /// addresses only (an http or internal one only with `SWITCHBOARD_PUSH_ALLOW_HTTP`).
    pub async fn check_endpoint(
        &self,
        endpoint: &str,
    ) -> Result<(reqwest::Url, std::net::SocketAddr), String> {
        super::webhooks::check_target(endpoint, self.allow_http, ALLOW_SETTING).await
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a push to `endpoint`'s origin.
    fn authorization(&self, endpoint: &reqwest::Url, now: i64) -> Result<String, String> {
        let audience = endpoint.origin().ascii_serialization();
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims =
            serde_json::json!({ "aud": audience, "exp": now + 12 * 3600, "sub": self.contact });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: p256::ecdsa::Signature =
            p256::ecdsa::SigningKey::from(self.key()?).sign(signing_input.as_bytes());
        let jwt = format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        );
        Ok(format!("vapid t={jwt}, k={}", self.public_key()))
    }

    /// Encrypts and posts one notification to its device's push service.
    pub async fn send(&self, desk: &FrontDesk, notice: &Due) -> Attempt {
        let Some(sub_id) = notice.push_subscription_id else {
            return Attempt::GiveUp("the device's subscription is gone".into());
        };
        let sub = match desk.db.query(move |c| subscriptions::get(c, sub_id)).await {
            Ok(Some(s)) => s,
            Ok(None) => return Attempt::GiveUp("the device's subscription is gone".into()),
            Err(e) => return Attempt::Retry(format!("the database: {e}")),
        };
        let payload = serde_json::json!({
            "title": notice.subject,
            "body": notice.text,
            "url": notice.url,
            "tag": format!("outbox-{}", notice.id),
        })
        .to_string();
        // Checked again at every push, and the connection goes to the address checked.
        let (url, addr) = match self.check_endpoint(&sub.endpoint).await {
            Ok(checked) => checked,
            Err(e) => return Attempt::GiveUp(format!("the push endpoint is refused: {e}")),
        };
        let body = match self.encrypt(&sub, payload.into_bytes()) {
            Ok(b) => b,
            Err(e) => return Attempt::GiveUp(e),
        };
        let auth = match self.authorization(&url, desk.clock.now().timestamp()) {
            Ok(a) => a,
            Err(e) => return Attempt::GiveUp(e),
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let client = match reqwest::Client::builder()
            .resolve(&host, addr)
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => return Attempt::Retry(format!("no HTTP client: {e}")),
        };
        let sent = client
            .post(url)
            .header("TTL", TTL_SECS.to_string())
            .header("Urgency", "high")
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", auth)
            .timeout(Duration::from_secs(15))
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(format!("the push service did not answer: {e}")),
        };
        let status = resp.status();
        if status.is_success() {
            if let Err(e) = desk
                .db
                .write(move |c| subscriptions::pushed(c, sub_id))
                .await
            {
                log::warn!("push subscription {sub_id}: could not note the push: {e}");
            }
            return Attempt::Sent;
        }
        let said: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let error = format!("the push service answered {status}: {}", said.trim());
        match status.as_u16() {
            404 | 410 => {
                match desk
                    .db
                    .write(move |c| subscriptions::delete(c, sub_id, None))
                    .await
                {
                    Ok(_) => Attempt::GiveUp(GONE.into()),
                    Err(e) => Attempt::Retry(format!("{error}; removing it failed: {e}")),
                }
            }
            429 | 500..=599 => Attempt::Retry(error),
            _ => Attempt::GiveUp(error),
        }
    }

    /// The `aes128gcm` body of `payload` for `sub`'s device.
    fn encrypt(
        &self,
        sub: &subscriptions::Subscription,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let key = decode(&sub.p256dh)
            .and_then(|b| p256::PublicKey::from_sec1_bytes(&b).map_err(|e| e.to_string()))
            .map_err(|e| format!("the device's p256dh key is unusable: {e}"))?;
        let auth = decode(&sub.auth)
            .ok()
            .filter(|a| a.len() == 16)
            .ok_or("the device's auth secret is not 16 bytes")?;
        let auth = web_push_native::Auth::clone_from_slice(&auth);
        web_push_native::encrypt(payload, &key, &auth)
            .map_err(|e| format!("the payload could not be encrypted: {e:?}"))
    }
}

/// Base64url as browsers write subscription keys (padding tolerated).
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    fn pusher() -> Pusher {
        Pusher {
            secret: p256::SecretKey::random(&mut rand::rngs::OsRng)
                .to_bytes()
                .to_vec(),
            key: std::sync::OnceLock::new(),
            contact: "mailto:owner@example.com".into(),
            allow_http: false,
        }
    }

    #[test]
    fn the_vapid_header_is_an_es256_jwt_for_the_push_services_origin() {
        let p = pusher();
        let url = reqwest::Url::parse("https://push.example.net/send/abc?x=1").unwrap();
        let header = p.authorization(&url, 1_700_000_000).unwrap();
        let (t, k) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .unwrap();
        assert_eq!(k, p.public_key());
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1_700_000_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:owner@example.com");
        let sig =
            p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let verifying = p256::ecdsa::VerifyingKey::from(p.key().unwrap().public_key());
        verifying
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("the signature verifies with the public key");
    }

    #[tokio::test]
    async fn endpoints_must_be_https_and_public_unless_allowed() {
        let mut p = pusher();
        assert!(p
            .check_endpoint("https://142.250.74.10/fcm/send/x")
            .await
            .is_ok());
        assert!(p
            .check_endpoint("http://127.0.0.1:8090/notify/x")
            .await
            .is_err());
        let err = p.check_endpoint("https://127.0.0.1/x").await.unwrap_err();
        assert!(err.contains(ALLOW_SETTING), "{err}");
        assert!(p.check_endpoint("file:///etc/passwd").await.is_err());
        p.allow_http = true;
        assert!(p
            .check_endpoint("http://127.0.0.1:8090/notify/x")
            .await
            .is_ok());
    }

    #[test]
    fn a_payload_encrypted_for_a_device_is_read_back_with_its_keys() {
        let device = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let auth = [7u8; 16];
        let sub = subscriptions::Subscription {
            id: 1,
            user_id: 1,
            endpoint: "https://push.example.net/x".into(),
            p256dh: URL_SAFE_NO_PAD.encode(device.public_key().to_encoded_point(false).as_bytes()),
            auth: URL_SAFE_NO_PAD.encode(auth),
            device: String::new(),
            created_at: String::new(),
            last_push_at: None,
        };
        let body = pusher()
            .encrypt(&sub, b"{\"title\":\"hi\"}".to_vec())
            .unwrap();
        let plain = web_push_native::decrypt(
            body,
            &device,
            &web_push_native::Auth::clone_from_slice(&auth),
        )
        .unwrap();
        assert_eq!(plain, b"{\"title\":\"hi\"}");
    }
}
