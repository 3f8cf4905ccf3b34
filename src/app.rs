//! The application state every handler and background task shares.

use crate::config::Config;
use crate::db::ledger::Ledger;
use crate::db::Db;
use crate::providers::Providers;
use crate::ratelimit::RateLimits;
use std::sync::Arc;
use std::time::Instant;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub providers: Providers,
    /// The Twilio master account and the stored subaccounts.
    pub accounts: crate::accounts::TwilioAccounts,
    /// The secret Vapi sends in `X-Vapi-Secret` (environment, or the demo's generated one).
    pub vapi_webhook_secret: Option<String>,
    pub rate_limits: Arc<RateLimits>,
    /// Sign-ins and new passwords are hashed here, within bounds (SPEC §11).
    pub passwords: crate::passwords::PasswordHasher,
    pub ledger: Ledger,
    /// Number operations: import, buy, change, release (SPEC §5).
    pub telephony: Arc<crate::telephony::Telephony>,
    /// The base URL Twilio and Vapi call (PUBLIC_URL, or the local address in demo mode).
    pub public_url: String,
    pub started_at: Instant,
    /// Calls and texts (SPEC §3), and the feature flags, call flows, metrics and clock
    /// every handler reads through it; its database is the one above.
    pub desk: Arc<crate::frontdesk::FrontDesk>,
    /// The certificate of the built-in HTTPS, when it is on (SPEC §14).
    pub tls: Option<Arc<crate::tls::Certificates>>,
    /// The live dashboard's events, fed from the database writer's commits (SPEC §12).
    pub live: Arc<crate::live::Live>,
    /// Web push with the appliance's VAPID key (SPEC §12).
    pub pusher: Arc<crate::frontdesk::push::Pusher>,
}
