//! In-process Twilio and Vapi for `--demo` and tests (SPEC §9.1): realistic SIDs, numbers
//! in the fictional 555-01xx range, and the errors real Twilio gives for its documented
//! magic inputs, so every failure path can be tried without an account.
//!
//! Magic inputs:
//! - search with area code `533` → no numbers (an empty list, as Twilio answers);
//! - buy `+15005550000` → 21422 (no longer available); a number already owned → 21422;
//! - buy a number that is not E.164 → 21421;
//! - SMS to `+15005550001` → 21211 (invalid), `+15005550002` → 21612 (cannot route),
//!   `+15005550004` → 21610 (recipient unsubscribed), `+15005550009` → 21614 (not mobile),
//!   `+15005550034` → 30034 (unregistered 10DLC sender);
//! - Vapi create with assistant id `asst_invalid` → 400;
//! - any call with a wrong auth token → 20003.
//!
//! The demo's master account also owns numbers that are not on the appliance yet
//! ([`crate::demo::DEMO_IMPORTABLE`]), so "bring your own number" can be tried.

use super::*;
use crate::crypto::random_hex;
use crate::domain::webhook::TwilioRoute;
use std::collections::HashMap;
use std::sync::Mutex;

/// A message the sandbox "sent", kept for inspection by tests and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxMessage {
    pub sid: String,
    pub account_sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
}

/// A call the sandbox was asked to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCall {
    pub sid: String,
    pub account_sid: String,
    pub call: OutboundCall,
}

impl TwilioState {
    /// A recording the sandbox serves: a well-formed SID not deleted through the API.
    fn has_recording(&self, sid: &str) -> bool {
        valid_recording_sid(sid) && !self.deleted_recordings.iter().any(|d| d == sid)
    }
}

#[derive(Debug, Default)]
struct TwilioState {
    /// account sid → (auth token, friendly name, closed)
    accounts: HashMap<String, (String, String, bool)>,
    /// number sid → (account sid, number)
    numbers: HashMap<String, (String, IncomingNumber)>,
    messages: Vec<SandboxMessage>,
    calls: Vec<SandboxCall>,
    /// Recordings deleted (by SID): fetching one afterwards is a 404, as at Twilio.
    deleted_recordings: Vec<String>,
}

pub struct SandboxTwilio {
    master_sid: String,
    state: Mutex<TwilioState>,
}

/// Twilio's answer for a resource that is not there (or not this account's).
fn twilio_not_found() -> ProviderError {
    ProviderError::twilio(
        ProviderErrorKind::NotFound,
        Some(404),
        Some(20404),
        "not found",
    )
}

fn rejected(code: i64, http: u16, msg: &str) -> ProviderError {
    ProviderError::twilio(ProviderErrorKind::Rejected, Some(http), Some(code), msg)
}

impl SandboxTwilio {
    pub fn new(master: TwilioCreds) -> Self {
        let mut state = TwilioState::default();
        state.accounts.insert(
            master.account_sid.clone(),
            (master.auth_token, "master".into(), false),
        );
        SandboxTwilio {
            master_sid: master.account_sid,
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TwilioState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn authenticate(state: &TwilioState, creds: &TwilioCreds) -> Result<(), ProviderError> {
        match state.accounts.get(&creds.account_sid) {
            Some((token, _, false))
                if crate::crypto::constant_time_eq(
                    token.as_bytes(),
                    creds.auth_token.as_bytes(),
                ) =>
            {
                Ok(())
            }
            _ => Err(ProviderError::twilio(
                ProviderErrorKind::Auth,
                Some(401),
                Some(20003),
                "Authenticate",
            )),
        }
    }

    /// Messages sent so far, oldest first.
    pub fn sent_messages(&self) -> Vec<SandboxMessage> {
        self.lock().messages.clone()
    }

    /// Recordings deleted through the API, oldest first.
    pub fn deleted_recordings(&self) -> Vec<String> {
        self.lock().deleted_recordings.clone()
    }

    /// Calls placed through `Calls.json`, oldest first.
    pub fn placed_calls(&self) -> Vec<SandboxCall> {
        self.lock().calls.clone()
    }

    /// Numbers currently owned by an account.
    pub fn owned_numbers(&self, account_sid: &str) -> Vec<IncomingNumber> {
        let mut out: Vec<IncomingNumber> = self
            .lock()
            .numbers
            .values()
            .filter(|(acct, _)| acct == account_sid)
            .map(|(_, n)| n.clone())
            .collect();
        out.sort_by(|a, b| a.phone_number.cmp(&b.phone_number));
        out
    }

    /// Registers an account that already exists (the sandbox keeps no state across restarts).
    pub fn adopt_account(&self, sid: &str, auth_token: &str) {
        self.lock().accounts.entry(sid.to_string()).or_insert((
            auth_token.to_string(),
            "adopted".into(),
            false,
        ));
    }

    /// Puts a number the business already owns into an account, its webhooks pointing
    /// elsewhere: what "bring your own number" starts from. Returns its SID.
    pub fn add_owned_number(
        &self,
        account_sid: &str,
        phone_number: &str,
        voice_url: &str,
    ) -> String {
        if let Some(sid) = self
            .lock()
            .numbers
            .iter()
            .find(|(_, (_, n))| n.phone_number == phone_number)
            .map(|(sid, _)| sid.clone())
        {
            return sid;
        }
        let sid = format!("PN{}", random_hex(32));
        let number = IncomingNumber {
            sid: sid.clone(),
            phone_number: phone_number.to_string(),
            friendly_name: Some(format!("Owned {phone_number}")),
            voice_url: Some(voice_url.to_string()),
            sms_url: Some(voice_url.to_string()),
            status_callback: None,
        };
        self.lock()
            .numbers
            .insert(sid.clone(), (account_sid.to_string(), number));
        sid
    }

    /// The master account's SID.
    pub fn master_sid(&self) -> &str {
        &self.master_sid
    }

    /// Points the voice calls of `phone_number` at `url` (what Vapi does on import).
    pub fn point_voice_at(&self, phone_number: &str, url: &str) {
        for (_, n) in self.lock().numbers.values_mut() {
            if n.phone_number == phone_number {
                n.voice_url = Some(url.to_string());
            }
        }
    }

    /// Registers a number that already exists, owned by `account_sid`, with its webhooks
    /// pointing at `base_url`.
    pub fn adopt_number(&self, account_sid: &str, sid: &str, phone_number: &str, base_url: &str) {
        let number = IncomingNumber {
            sid: sid.to_string(),
            phone_number: phone_number.to_string(),
            friendly_name: None,
            voice_url: Some(TwilioRoute::Voice.url(base_url)),
            sms_url: Some(TwilioRoute::Sms.url(base_url)),
            status_callback: Some(TwilioRoute::VoiceStatus.url(base_url)),
        };
        self.lock()
            .numbers
            .insert(sid.to_string(), (account_sid.to_string(), number));
    }
}

#[async_trait]
impl TwilioApi for SandboxTwilio {
    async fn create_subaccount(
        &self,
        master: &TwilioCreds,
        friendly_name: &str,
    ) -> Result<Subaccount, ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, master)?;
        if master.account_sid != self.master_sid {
            return Err(rejected(
                20003,
                403,
                "Subaccounts cannot create subaccounts",
            ));
        }
        let sub = Subaccount {
            sid: format!("AC{}", random_hex(32)),
            auth_token: random_hex(32),
            friendly_name: friendly_name.to_string(),
        };
        state.accounts.insert(
            sub.sid.clone(),
            (sub.auth_token.clone(), friendly_name.to_string(), false),
        );
        Ok(sub)
    }

    async fn close_subaccount(&self, master: &TwilioCreds, sid: &str) -> Result<(), ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, master)?;
        match state.accounts.get_mut(sid) {
            Some(account) if sid != self.master_sid => {
                account.2 = true;
                Ok(())
            }
            _ => Err(twilio_not_found()),
        }
    }

    async fn fetch_account(&self, account: &TwilioCreds) -> Result<AccountInfo, ProviderError> {
        let state = self.lock();
        Self::authenticate(&state, account)?;
        Ok(AccountInfo {
            status: "active".into(),
            clock: Some(chrono::Utc::now()),
        })
    }

    async fn find_subaccounts(
        &self,
        master: &TwilioCreds,
        friendly_name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let state = self.lock();
        Self::authenticate(&state, master)?;
        Ok(state
            .accounts
            .iter()
            .filter(|(sid, (_, name, closed))| {
                name == friendly_name && !closed && *sid != &self.master_sid
            })
            .map(|(sid, _)| sid.clone())
            .collect())
    }

    async fn search_numbers(
        &self,
        account: &TwilioCreds,
        search: &NumberSearch,
    ) -> Result<Vec<AvailableNumber>, ProviderError> {
        let state = self.lock();
        Self::authenticate(&state, account)?;
        let area = search
            .area_code
            .clone()
            .unwrap_or_else(|| match search.number_type {
                NumberType::TollFree => "800".into(),
                _ => "555".into(),
            });
        if area == "533" {
            return Ok(Vec::new());
        }
        let owned: Vec<&str> = state
            .numbers
            .values()
            .map(|(_, n)| n.phone_number.as_str())
            .collect();
        let out = (100..200)
            .map(|n| format!("+1{area}555{n:04}"))
            .filter(|p| !owned.contains(&p.as_str()))
            .filter(|p| search.contains.as_deref().is_none_or(|c| p.contains(c)))
            .take(search.limit as usize)
            .map(|p| AvailableNumber {
                friendly_name: format!("({area}) 555-{}", &p[p.len() - 4..]),
                phone_number: p,
                locality: Some("Springfield".into()),
                region: Some("CA".into()),
                iso_country: search.country.clone(),
                capabilities: Capabilities {
                    voice: true,
                    sms: true,
                    mms: true,
                },
            })
            .collect();
        Ok(out)
    }

    async fn buy_number(
        &self,
        account: &TwilioCreds,
        buy: &BuyNumber,
    ) -> Result<IncomingNumber, ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, account)?;
        if crate::domain::PhoneNumber::parse(&buy.phone_number).is_err() {
            return Err(rejected(21421, 400, "PhoneNumber is invalid"));
        }
        let taken = state
            .numbers
            .values()
            .any(|(_, n)| n.phone_number == buy.phone_number);
        if buy.phone_number == "+15005550000" || taken {
            return Err(rejected(21422, 400, "PhoneNumber is unavailable"));
        }
        let number = IncomingNumber {
            sid: format!("PN{}", random_hex(32)),
            phone_number: buy.phone_number.clone(),
            friendly_name: buy.friendly_name.clone(),
            voice_url: Some(buy.voice_url.clone()),
            sms_url: Some(buy.sms_url.clone()),
            status_callback: Some(buy.status_callback.clone()),
        };
        state.numbers.insert(
            number.sid.clone(),
            (account.account_sid.clone(), number.clone()),
        );
        Ok(number)
    }

    async fn get_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
    ) -> Result<IncomingNumber, ProviderError> {
        let state = self.lock();
        Self::authenticate(&state, account)?;
        match state.numbers.get(number_sid) {
            Some((owner, n)) if *owner == account.account_sid => Ok(n.clone()),
            _ => Err(twilio_not_found()),
        }
    }

    async fn release_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
    ) -> Result<(), ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, account)?;
        match state.numbers.get(number_sid) {
            Some((owner, _)) if *owner == account.account_sid => {
                state.numbers.remove(number_sid);
                Ok(())
            }
            _ => Err(twilio_not_found()),
        }
    }

    async fn list_numbers(
        &self,
        account: &TwilioCreds,
    ) -> Result<Vec<IncomingNumber>, ProviderError> {
        Self::authenticate(&self.lock(), account)?;
        Ok(self.owned_numbers(&account.account_sid))
    }

    async fn update_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
        hooks: &NumberWebhooks,
    ) -> Result<IncomingNumber, ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, account)?;
        match state.numbers.get_mut(number_sid) {
            Some((owner, n)) if *owner == account.account_sid => {
                n.voice_url = Some(hooks.voice_url.clone());
                n.sms_url = Some(hooks.sms_url.clone());
                n.status_callback = Some(hooks.status_callback.clone());
                Ok(n.clone())
            }
            _ => Err(twilio_not_found()),
        }
    }

    async fn fetch_recording(
        &self,
        account: &TwilioCreds,
        recording_sid: &str,
    ) -> Result<Audio, ProviderError> {
        let state = self.lock();
        Self::authenticate(&state, account)?;
        if !TwilioState::has_recording(&state, recording_sid) {
            return Err(twilio_not_found());
        }
        Ok(Audio {
            content_type: "audio/wav".into(),
            bytes: silent_wav(1),
        })
    }

    async fn delete_recording(
        &self,
        account: &TwilioCreds,
        recording_sid: &str,
    ) -> Result<(), ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, account)?;
        if !TwilioState::has_recording(&state, recording_sid) {
            return Err(twilio_not_found());
        }
        state.deleted_recordings.push(recording_sid.to_string());
        Ok(())
    }

    async fn place_call(
        &self,
        account: &TwilioCreds,
        call: &OutboundCall,
    ) -> Result<PlacedCall, ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, account)?;
        // Twilio's test numbers for calls.
        let magic = match call.to.as_str() {
            "+15005550001" => Some((21217, "Phone number is invalid")),
            "+15005550002" => Some((21214, "'To' phone number cannot be reached")),
            "+15005550003" => Some((21215, "Account not authorized to call this number")),
            "+15005550004" => Some((21216, "Account not allowed to call this number")),
            _ => None,
        };
        if let Some((code, msg)) = magic {
            return Err(rejected(code, 400, msg));
        }
        if crate::domain::PhoneNumber::parse(&call.to).is_err() {
            return Err(rejected(21217, 400, "Phone number is invalid"));
        }
        if crate::domain::PhoneNumber::parse(&call.from).is_err() {
            return Err(rejected(21212, 400, "Invalid 'From' phone number"));
        }
        let sid = format!("CA{}", random_hex(32));
        state.calls.push(SandboxCall {
            sid: sid.clone(),
            account_sid: account.account_sid.clone(),
            call: call.clone(),
        });
        Ok(PlacedCall {
            sid,
            status: "queued".into(),
        })
    }

    async fn send_sms(
        &self,
        account: &TwilioCreds,
        sms: &OutboundSms,
    ) -> Result<SentSms, ProviderError> {
        let mut state = self.lock();
        Self::authenticate(&state, account)?;
        let magic = match sms.to.as_str() {
            "+15005550001" => Some((21211, "The 'To' number is not a valid phone number.")),
            "+15005550002" => Some((
                21612,
                "The 'To' phone number is not currently reachable via SMS.",
            )),
            "+15005550004" => Some((21610, "Attempt to send to unsubscribed recipient")),
            "+15005550009" => Some((21614, "'To' number is not a valid mobile number")),
            "+15005550034" => Some((30034, "Message from an Unregistered Number")),
            _ => None,
        };
        if let Some((code, msg)) = magic {
            return Err(rejected(code, 400, msg));
        }
        if crate::domain::PhoneNumber::parse(&sms.to).is_err() {
            return Err(rejected(
                21211,
                400,
                "The 'To' number is not a valid phone number.",
            ));
        }
        let sid = format!("SM{}", random_hex(32));
        state.messages.push(SandboxMessage {
            sid: sid.clone(),
            account_sid: account.account_sid.clone(),
            from: sms.from.clone(),
            to: sms.to.clone(),
            body: sms.body.clone(),
        });
        Ok(SentSms {
            sid,
            status: "sent".into(),
        })
    }
}

/// `seconds` of silence as an 8 kHz, 8-bit mono WAV: what every sandbox recording sounds like.
pub fn silent_wav(seconds: u32) -> Vec<u8> {
    let samples = 8_000 * seconds;
    let mut wav = Vec::with_capacity(44 + samples as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + samples).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8_000u32.to_le_bytes()); // sample rate
    wav.extend_from_slice(&8_000u32.to_le_bytes()); // byte rate
    wav.extend_from_slice(&1u16.to_le_bytes()); // block align
    wav.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&samples.to_le_bytes());
    wav.resize(44 + samples as usize, 0x80);
    wav
}

/// The sandbox Vapi: phone numbers imported from Twilio.
#[derive(Default)]
pub struct SandboxVapi {
    numbers: Mutex<HashMap<String, VapiNumber>>,
    /// The sandbox Twilio whose numbers this Vapi takes over on import, as Vapi does.
    twilio: Option<Arc<SandboxTwilio>>,
}

/// Where Vapi points a Twilio number's Voice URL when it imports the number.
pub const VAPI_TWILIO_VOICE_URL: &str = "https://api.vapi.ai/twilio/inbound_call";

impl SandboxVapi {
    /// A sandbox Vapi that, like Vapi, points an imported number's Voice URL at itself.
    pub fn over(twilio: Arc<SandboxTwilio>) -> SandboxVapi {
        SandboxVapi {
            numbers: Mutex::default(),
            twilio: Some(twilio),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VapiNumber>> {
        self.numbers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every imported number, for tests.
    pub fn numbers(&self) -> Vec<VapiNumber> {
        let mut out: Vec<VapiNumber> = self.lock().values().cloned().collect();
        out.sort_by(|a, b| a.number.cmp(&b.number));
        out
    }

    /// Registers a number that already exists (the sandbox keeps no state across restarts).
    pub fn adopt_number(&self, id: &str, number: &str, assistant_id: Option<&str>) {
        let n = VapiNumber {
            id: id.into(),
            number: number.into(),
            assistant_id: assistant_id.map(str::to_string),
            sms_enabled: false,
        };
        self.lock().insert(id.to_string(), n);
    }
}

fn vapi_not_found(id: &str) -> ProviderError {
    ProviderError::vapi(
        ProviderErrorKind::NotFound,
        Some(404),
        format!("phone number {id} was not found in Vapi"),
    )
}

#[async_trait]
impl VapiApi for SandboxVapi {
    async fn create_phone_number(
        &self,
        create: &VapiNumberCreate,
    ) -> Result<VapiNumber, ProviderError> {
        if create.twilio_account_sid.is_empty() || create.twilio_auth_token.is_empty() {
            return Err(ProviderError::vapi(
                ProviderErrorKind::Rejected,
                Some(400),
                "twilioAccountSid and twilioAuthToken are required",
            ));
        }
        if create.assistant_id.as_deref() == Some("asst_invalid") {
            return Err(ProviderError::vapi(
                ProviderErrorKind::Rejected,
                Some(400),
                "assistantId must be a valid assistant",
            ));
        }
        let mut numbers = self.lock();
        if numbers.values().any(|n| n.number == create.number) {
            return Err(ProviderError::vapi(
                ProviderErrorKind::Rejected,
                Some(400),
                format!("{} is already imported", create.number),
            ));
        }
        let number = VapiNumber {
            id: crate::crypto::random_uuid(),
            number: create.number.clone(),
            assistant_id: create.assistant_id.clone(),
            sms_enabled: false,
        };
        numbers.insert(number.id.clone(), number.clone());
        drop(numbers);
        if let Some(twilio) = &self.twilio {
            twilio.point_voice_at(&create.number, VAPI_TWILIO_VOICE_URL);
        }
        Ok(number)
    }

    async fn get_phone_number(&self, id: &str) -> Result<VapiNumber, ProviderError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| vapi_not_found(id))
    }

    async fn list_phone_numbers(&self) -> Result<Vec<VapiNumber>, ProviderError> {
        Ok(self.numbers())
    }

    async fn update_phone_number(
        &self,
        id: &str,
        update: &VapiNumberUpdate,
    ) -> Result<VapiNumber, ProviderError> {
        let mut numbers = self.lock();
        let number = numbers.get_mut(id).ok_or_else(|| vapi_not_found(id))?;
        if let Some(assistant) = &update.assistant_id {
            number.assistant_id = assistant.clone();
        }
        Ok(number.clone())
    }

    async fn delete_phone_number(&self, id: &str) -> Result<(), ProviderError> {
        self.lock()
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| vapi_not_found(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> TwilioCreds {
        TwilioCreds {
            account_sid: format!("AC{}", "1".repeat(32)),
            auth_token: "t".repeat(32),
        }
    }

    fn search(area: Option<&str>) -> NumberSearch {
        NumberSearch {
            country: "US".into(),
            number_type: NumberType::Local,
            area_code: area.map(str::to_string),
            contains: None,
            limit: 5,
        }
    }

    #[tokio::test]
    async fn search_returns_fictional_555_01xx_numbers_and_none_for_area_code_533() {
        let tw = SandboxTwilio::new(master());
        let found = tw
            .search_numbers(&master(), &search(Some("415")))
            .await
            .unwrap();
        assert_eq!(found.len(), 5);
        assert_eq!(found[0].phone_number, "+14155550100");
        assert!(tw
            .search_numbers(&master(), &search(Some("533")))
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn a_subaccount_can_buy_and_release_a_number_with_realistic_sids() {
        let tw = SandboxTwilio::new(master());
        let sub = tw.create_subaccount(&master(), "Org 1").await.unwrap();
        assert!(sub.sid.starts_with("AC") && sub.sid.len() == 34);
        let creds = TwilioCreds {
            account_sid: sub.sid.clone(),
            auth_token: sub.auth_token.clone(),
        };
        let buy = BuyNumber {
            phone_number: "+14155550100".into(),
            friendly_name: None,
            voice_url: "http://x/twilio/voice".into(),
            sms_url: "http://x/twilio/sms".into(),
            status_callback: "http://x/twilio/voice/status".into(),
        };
        let bought = tw.buy_number(&creds, &buy).await.unwrap();
        assert!(bought.sid.starts_with("PN") && bought.sid.len() == 34);
        assert_eq!(
            tw.buy_number(&creds, &buy).await.unwrap_err().code,
            Some(21422)
        );
        tw.release_number(&creds, &bought.sid).await.unwrap();
        assert!(tw
            .release_number(&creds, &bought.sid)
            .await
            .unwrap_err()
            .is_not_found());
    }

    #[tokio::test]
    async fn wrong_credentials_are_refused_with_20003() {
        let tw = SandboxTwilio::new(master());
        let bad = TwilioCreds {
            auth_token: "wrong".into(),
            ..master()
        };
        let err = tw.search_numbers(&bad, &search(None)).await.unwrap_err();
        assert_eq!((err.kind, err.code), (ProviderErrorKind::Auth, Some(20003)));
        assert!(err.message.contains("credentials"));
    }

    #[tokio::test]
    async fn sms_is_recorded_as_sent_and_magic_numbers_fail_like_twilio() {
        let tw = SandboxTwilio::new(master());
        let sms = |to: &str| OutboundSms {
            from: "+15550100001".into(),
            to: to.into(),
            body: "hi".into(),
            status_callback: None,
        };
        let sent = tw.send_sms(&master(), &sms("+14155550123")).await.unwrap();
        assert_eq!(sent.status, "sent");
        assert!(sent.sid.starts_with("SM"));
        assert_eq!(tw.sent_messages().len(), 1);
        assert_eq!(
            tw.send_sms(&master(), &sms("+15005550034"))
                .await
                .unwrap_err()
                .code,
            Some(30034)
        );
        assert_eq!(
            tw.send_sms(&master(), &sms("anonymous"))
                .await
                .unwrap_err()
                .code,
            Some(21211)
        );
        assert_eq!(tw.sent_messages().len(), 1);
    }

    #[tokio::test]
    async fn vapi_numbers_are_created_with_sms_disabled_and_deleted_once() {
        let vapi = SandboxVapi::default();
        let create = VapiNumberCreate {
            number: "+15550100004".into(),
            twilio_account_sid: master().account_sid,
            twilio_auth_token: master().auth_token,
            name: "Front desk".into(),
            assistant_id: Some("asst_demo".into()),
        };
        let n = vapi.create_phone_number(&create).await.unwrap();
        assert!(!n.sms_enabled);
        let unlinked = vapi
            .update_phone_number(
                &n.id,
                &VapiNumberUpdate {
                    assistant_id: Some(None),
                    name: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(unlinked.assistant_id, None);
        vapi.delete_phone_number(&n.id).await.unwrap();
        assert!(vapi
            .delete_phone_number(&n.id)
            .await
            .unwrap_err()
            .is_not_found());
        let bad = VapiNumberCreate {
            assistant_id: Some("asst_invalid".into()),
            ..create
        };
        assert_eq!(
            vapi.create_phone_number(&bad).await.unwrap_err().kind,
            ProviderErrorKind::Rejected
        );
    }
}
