//! The application state every handler and background task shares.

use crate::config::Config;
use crate::crypto::SecretKey;
use crate::db::ledger::Ledger;
use crate::db::Db;
use crate::providers::{Providers, TwilioCreds};
use crate::ratelimit::RateLimits;
use std::sync::Arc;
use std::time::Instant;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub providers: Providers,
    /// The Twilio master account: from the environment, or the demo's sandbox account.
    pub twilio_master: Option<TwilioCreds>,
    /// The secret Vapi sends in `X-Vapi-Secret` (environment, or the demo's generated one).
    pub vapi_webhook_secret: Option<String>,
    pub rate_limits: Arc<RateLimits>,
    /// Sign-ins and new passwords are hashed here, within bounds (SPEC §11).
    pub passwords: crate::passwords::PasswordHasher,
    pub secret_key: SecretKey,
    pub ledger: Ledger,
    /// Number operations: import, buy, change, release (SPEC §5).
    pub telephony: Arc<crate::telephony::Telephony>,
    /// The base URL Twilio and Vapi call (PUBLIC_URL, or the local address in demo mode).
    pub public_url: String,
    pub started_at: Instant,
    /// The last readiness probe, reused for a few seconds (`/readyz` is unauthenticated).
    pub readiness: crate::http::health::Readiness,
    /// Calls and texts (SPEC §3), and the feature flags, call flows, metrics and clock
    /// every handler reads through it; its database is the one above.
    pub desk: Arc<crate::frontdesk::FrontDesk>,
    /// The certificate of the built-in HTTPS, when it is on (SPEC §14).
    pub tls: Option<Arc<crate::tls::Certificates>>,
    /// The live dashboard's events, fed from the database writer's commits (SPEC §12).
    pub live: Arc<crate::http::live::Live>,
    /// Web push with the appliance's VAPID key (SPEC §12).
    pub pusher: Arc<crate::frontdesk::push::Pusher>,
}

impl AppState {
    /// Credentials of the Twilio account `sid` (see [`twilio_credentials`]).
    pub fn twilio_account(&self, conn: &rusqlite::Connection, sid: &str) -> Option<TwilioCreds> {
        twilio_credentials(
            conn,
            &self.secret_key,
            self.twilio_master.as_ref(),
            Some(sid),
        )
    }
}

/// Credentials of a Twilio account: `None` means the master; otherwise the master if the
/// SID is the master's, or an active subaccount whose token is stored encrypted. `None`
/// for an unknown account.
pub fn twilio_credentials(
    conn: &rusqlite::Connection,
    key: &SecretKey,
    master: Option<&TwilioCreds>,
    sid: Option<&str>,
) -> Option<TwilioCreds> {
    let Some(sid) = sid else {
        return master.cloned();
    };
    if let Some(m) = master.filter(|m| m.account_sid == sid) {
        return Some(m.clone());
    }
    match crate::db::provider_accounts::secret(conn, key, "twilio", sid) {
        Ok(Some(token)) => Some(TwilioCreds {
            account_sid: sid.to_string(),
            auth_token: token,
        }),
        Ok(None) => None,
        Err(e) => {
            log::error!("cannot read the stored credentials of Twilio account {sid}: {e}");
            None
        }
    }
}
