//! The provider boundary: what the appliance asks of Twilio and Vapi, as traits with a
//! real HTTP implementation each and the in-process sandbox of SPEC §9.1.

pub mod sandbox;
pub mod twilio;
pub mod vapi;

use crate::domain::webhook::TwilioRoute;
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;

/// Credentials of one Twilio account (the master or a subaccount).
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioCreds {
    pub account_sid: String,
    pub auth_token: String,
}

impl std::fmt::Debug for TwilioCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TwilioCreds({}, [redacted])", self.account_sid)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberType {
    Local,
    #[serde(rename = "tollfree")]
    TollFree,
    Mobile,
}

impl NumberType {
    /// The path segment of Twilio's AvailablePhoneNumbers resource.
    pub fn twilio_resource(self) -> &'static str {
        match self {
            NumberType::Local => "Local",
            NumberType::TollFree => "TollFree",
            NumberType::Mobile => "Mobile",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberSearch {
    /// ISO 3166 alpha-2, e.g. `US`.
    pub country: String,
    pub number_type: NumberType,
    pub area_code: Option<String>,
    pub contains: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Capabilities {
    pub voice: bool,
    pub sms: bool,
    pub mms: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailableNumber {
    pub phone_number: String,
    pub friendly_name: String,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub iso_country: String,
    pub capabilities: Capabilities,
}

/// Buying a number: where Twilio should send its voice, SMS and status webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyNumber {
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice_url: String,
    pub sms_url: String,
    pub status_callback: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingNumber {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    pub sms_url: Option<String>,
    pub status_callback: Option<String>,
}

/// Where Twilio sends a number's voice, SMS and call-status webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberWebhooks {
    pub voice_url: String,
    pub sms_url: String,
    pub status_callback: String,
}

impl NumberWebhooks {
    /// The appliance's own routes under `base` (PUBLIC_URL).
    pub fn for_base(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        NumberWebhooks {
            voice_url: TwilioRoute::Voice.url(base),
            sms_url: TwilioRoute::Sms.url(base),
            status_callback: TwilioRoute::VoiceStatus.url(base),
        }
    }

    /// The URLs a number at Twilio actually has that differ from these, by Twilio's field name.
    pub fn mismatches(&self, n: &IncomingNumber) -> Vec<&'static str> {
        let mut out = Vec::new();
        if n.voice_url.as_deref() != Some(self.voice_url.as_str()) {
            out.push("VoiceUrl");
        }
        if n.sms_url.as_deref() != Some(self.sms_url.as_str()) {
            out.push("SmsUrl");
        }
        if n.status_callback.as_deref() != Some(self.status_callback.as_str()) {
            out.push("StatusCallback");
        }
        out
    }
}

/// What Twilio says of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub status: String,
    /// Twilio's time when it answered (its `Date` header), when it sent one.
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Subaccount {
    pub sid: String,
    pub auth_token: String,
    pub friendly_name: String,
}

impl std::fmt::Debug for Subaccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Subaccount({}, {:?}, [redacted])",
            self.sid, self.friendly_name
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSms {
    pub from: String,
    pub to: String,
    pub body: String,
    pub status_callback: Option<String>,
}

/// An outbound call (SPEC §12's callback): Twilio rings `to` from `from` and, when it is
/// answered, asks `url` what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundCall {
    pub from: String,
    pub to: String,
    pub url: String,
    pub status_callback: String,
    /// Seconds to let the phone ring before giving up.
    pub timeout: u32,
    /// Ask Twilio to tell a person from a voicemail greeting (`AnsweredBy`) before `url`.
    pub machine_detection: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedCall {
    pub sid: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub sid: String,
    pub status: String,
}

/// Importing a Twilio number into Vapi with the current API (`POST /phone-number`).
/// `smsEnabled` is always sent as false so SMS stays on this appliance (SPEC §5.3).
#[derive(Clone, PartialEq, Eq)]
pub struct VapiNumberCreate {
    pub number: String,
    pub twilio_account_sid: String,
    pub twilio_auth_token: String,
    pub name: String,
    pub assistant_id: Option<String>,
}

impl std::fmt::Debug for VapiNumberCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VapiNumberCreate({}, {}, {:?})",
            self.number, self.twilio_account_sid, self.assistant_id
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VapiNumberUpdate {
    /// `Some(None)` unlinks the assistant.
    pub assistant_id: Option<Option<String>>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VapiNumber {
    pub id: String,
    pub number: String,
    pub assistant_id: Option<String>,
    pub sms_enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The resource does not exist (a release of something already gone is fine).
    NotFound,
    /// The provider refused the request (bad input, no inventory, policy).
    Rejected,
    /// Credentials were refused.
    Auth,
    /// The provider could not be reached or answered 5xx / timed out.
    Unavailable,
}

/// A provider failure with everything an operator needs: provider, HTTP status, the
/// provider's own error code and a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderError {
    pub provider: &'static str,
    pub kind: ProviderErrorKind,
    pub http_status: Option<u16>,
    pub code: Option<i64>,
    pub message: String,
}

impl ProviderError {
    pub fn twilio(
        kind: ProviderErrorKind,
        http_status: Option<u16>,
        code: Option<i64>,
        provider_message: &str,
    ) -> Self {
        let message = code
            .and_then(twilio_error_hint)
            .map(str::to_string)
            .unwrap_or_else(|| provider_message.to_string());
        ProviderError {
            provider: "twilio",
            kind,
            http_status,
            code,
            message,
        }
    }

    pub fn vapi(
        kind: ProviderErrorKind,
        http_status: Option<u16>,
        message: impl Into<String>,
    ) -> Self {
        ProviderError {
            provider: "vapi",
            kind,
            http_status,
            code: None,
            message: message.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ProviderErrorKind::NotFound
    }
}

/// A deletion (release, close, delete) for which "not found" means "already gone", which
/// is success: `Ok(true)` when it removed something, `Ok(false)` when nothing was there.
pub fn deleted(result: Result<(), ProviderError>) -> Result<bool, ProviderError> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Clear messages for the Twilio error codes an owner meets (<https://www.twilio.com/docs/api/errors>).
pub fn twilio_error_hint(code: i64) -> Option<&'static str> {
    Some(match code {
        20003 => "Twilio rejected the credentials (20003): check the account SID and auth token in Settings.",
        20404 => "Twilio has no such resource (20404): it may already have been released.",
        21211 => "The destination is not a valid phone number (21211).",
        21214 => "Twilio cannot reach that number (21214): check it and try again.",
        21215 => "This account may not call that country (21215): enable the region in Twilio's voice geo permissions.",
        21216 => "Calls to that number are blocked for this account (21216).",
        21217 => "The number to call is not a valid phone number (21217).",
        21408 => "This account may not send to that country (21408): enable the region in Twilio's geo permissions.",
        21421 => "That phone number is not valid for purchase (21421): pick one from the search results.",
        21422 => "That number is no longer available (21422): search again and pick another.",
        21452 => "Twilio has no numbers in that area code (21452): try a nearby area code.",
        21610 => "The recipient has replied STOP to this number (21610); they cannot be texted until they reply START.",
        21612 => "Twilio cannot route a message from this number to that destination (21612).",
        21614 => "The destination is not a mobile number and cannot receive texts (21614).",
        30034 => "The message was blocked because the sending number is not registered for A2P 10DLC (30034): register a campaign in Twilio.",
        _ => return None,
    })
}

/// The Twilio REST operations the appliance uses.
#[async_trait]
pub trait TwilioApi: Send + Sync {
    async fn create_subaccount(
        &self,
        master: &TwilioCreds,
        friendly_name: &str,
    ) -> Result<Subaccount, ProviderError>;
    async fn close_subaccount(&self, master: &TwilioCreds, sid: &str) -> Result<(), ProviderError>;
    /// The SIDs of the master's open (active or suspended) subaccounts named `friendly_name`:
    /// how a subaccount whose creation answer was lost in a crash is found again.
    /// The account's status (`active`, `suspended`, `closed`) and Twilio's clock: proves
    /// the credentials and lets `doctor` compare the time.
    async fn fetch_account(&self, account: &TwilioCreds) -> Result<AccountInfo, ProviderError>;

    async fn find_subaccounts(
        &self,
        master: &TwilioCreds,
        friendly_name: &str,
    ) -> Result<Vec<String>, ProviderError>;
    async fn search_numbers(
        &self,
        account: &TwilioCreds,
        search: &NumberSearch,
    ) -> Result<Vec<AvailableNumber>, ProviderError>;
    async fn buy_number(
        &self,
        account: &TwilioCreds,
        buy: &BuyNumber,
    ) -> Result<IncomingNumber, ProviderError>;
    async fn get_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
    ) -> Result<IncomingNumber, ProviderError>;
    async fn release_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
    ) -> Result<(), ProviderError>;
    /// Every number the account owns (all pages).
    async fn list_numbers(
        &self,
        account: &TwilioCreds,
    ) -> Result<Vec<IncomingNumber>, ProviderError>;
    /// Points a number's webhooks at `hooks`; answers the number as Twilio now has it.
    async fn update_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
        hooks: &NumberWebhooks,
    ) -> Result<IncomingNumber, ProviderError>;
    async fn send_sms(
        &self,
        account: &TwilioCreds,
        sms: &OutboundSms,
    ) -> Result<SentSms, ProviderError>;
    /// Deletes a recording at Twilio once it is kept here (SPEC §13); "not found" means
    /// it is already gone.
    async fn delete_recording(
        &self,
        account: &TwilioCreds,
        recording_sid: &str,
    ) -> Result<(), ProviderError>;
    /// Places an outbound call (`POST Calls.json`).
    async fn place_call(
        &self,
        account: &TwilioCreds,
        call: &OutboundCall,
    ) -> Result<PlacedCall, ProviderError>;
    /// The audio of a recording (a voicemail), fetched with the owning account's
    /// credentials so the dashboard can play it without exposing them.
    async fn fetch_recording(
        &self,
        account: &TwilioCreds,
        recording_sid: &str,
    ) -> Result<Audio, ProviderError>;
}

/// Recorded audio and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A recording SID as Twilio issues them (`RE` + 32 hex); anything else is refused before
/// it reaches a URL.
pub fn valid_recording_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("RE") && sid[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// The Vapi REST operations the appliance uses.
#[async_trait]
pub trait VapiApi: Send + Sync {
    async fn create_phone_number(
        &self,
        create: &VapiNumberCreate,
    ) -> Result<VapiNumber, ProviderError>;
    async fn get_phone_number(&self, id: &str) -> Result<VapiNumber, ProviderError>;
    /// Every phone number of the Vapi org (used to find a number whose create call's answer
    /// was lost in a crash).
    async fn list_phone_numbers(&self) -> Result<Vec<VapiNumber>, ProviderError>;
    async fn update_phone_number(
        &self,
        id: &str,
        update: &VapiNumberUpdate,
    ) -> Result<VapiNumber, ProviderError>;
    async fn delete_phone_number(&self, id: &str) -> Result<(), ProviderError>;
}

/// The provider clients the app runs with.
#[derive(Clone)]
pub struct Providers {
    pub twilio: Arc<dyn TwilioApi>,
    pub vapi: Arc<dyn VapiApi>,
    /// True when these are the sandbox (demo mode): the dashboard shows a banner.
    pub sandbox: bool,
}

/// Outbound HTTP for provider calls: connect 5 s, total 10 s (SPEC §6.4).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with rustls and static settings always builds")
}

impl Providers {
    /// The real REST clients, pointed at the configured API bases.
    pub fn real(
        twilio_api_base: &str,
        vapi_api_base: &str,
        vapi_api_key: Option<&str>,
    ) -> Providers {
        let http = http_client();
        Providers {
            twilio: Arc::new(twilio::TwilioClient::new(http.clone(), twilio_api_base)),
            vapi: Arc::new(vapi::VapiClient::new(
                http,
                vapi_api_base,
                vapi_api_key.unwrap_or_default(),
            )),
            sandbox: false,
        }
    }

    pub fn sandbox(
        master: TwilioCreds,
    ) -> (
        Providers,
        Arc<sandbox::SandboxTwilio>,
        Arc<sandbox::SandboxVapi>,
    ) {
        let twilio = Arc::new(sandbox::SandboxTwilio::new(master));
        let vapi = Arc::new(sandbox::SandboxVapi::over(twilio.clone()));
        (
            Providers {
                twilio: twilio.clone(),
                vapi: vapi.clone(),
                sandbox: true,
            },
            twilio,
            vapi,
        )
    }
}
