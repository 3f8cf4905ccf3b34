//! The real Twilio REST client (2010-04-01 API), reqwest + rustls, base URL injectable so
//! tests run it against a local mock server.

use super::*;
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub struct TwilioClient {
    http: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct TwilioErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct AccountBody {
    sid: String,
    auth_token: String,
    friendly_name: String,
}

#[derive(Deserialize)]
struct AccountListBody {
    accounts: Vec<ListedAccount>,
}

#[derive(Deserialize)]
struct ListedAccount {
    sid: String,
    status: String,
}

#[derive(Deserialize)]
struct NumberBody {
    sid: String,
    phone_number: String,
    #[serde(default)]
    friendly_name: Option<String>,
    voice_url: Option<String>,
    sms_url: Option<String>,
    status_callback: Option<String>,
}

impl From<NumberBody> for IncomingNumber {
    fn from(b: NumberBody) -> Self {
        IncomingNumber {
            sid: b.sid,
            phone_number: b.phone_number,
            friendly_name: b.friendly_name,
            voice_url: b.voice_url,
            sms_url: b.sms_url,
            status_callback: b.status_callback,
        }
    }
}

#[derive(Deserialize)]
struct NumberListBody {
    incoming_phone_numbers: Vec<NumberBody>,
    #[serde(default)]
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct AvailableBody {
    available_phone_numbers: Vec<AvailableItem>,
}

#[derive(Deserialize)]
struct AvailableItem {
    phone_number: String,
    friendly_name: String,
    locality: Option<String>,
    region: Option<String>,
    iso_country: String,
    #[serde(default)]
    capabilities: CapabilitiesBody,
}

#[derive(Deserialize, Default)]
struct CapabilitiesBody {
    #[serde(default)]
    voice: bool,
    #[serde(default, rename = "SMS", alias = "sms")]
    sms: bool,
    #[serde(default, rename = "MMS", alias = "mms")]
    mms: bool,
}

#[derive(Deserialize)]
struct AccountStatusBody {
    status: String,
}

#[derive(Deserialize)]
struct MessageBody {
    sid: String,
    status: String,
}

/// The path of a recording's resource (`.mp3` its audio, `.json` the resource), for a
/// SID as Twilio issues them only: anything else never reaches a URL.
fn recording_path(account: &TwilioCreds, sid: &str, ext: &str) -> Result<String, ProviderError> {
    if !valid_recording_sid(sid) {
        return Err(ProviderError::twilio(
            ProviderErrorKind::Rejected,
            None,
            None,
            "not a Twilio recording SID",
        ));
    }
    Ok(format!(
        "Accounts/{}/Recordings/{sid}.{ext}",
        account.account_sid
    ))
}

impl TwilioClient {
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        TwilioClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/2010-04-01/{path}", self.base)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        creds: &TwilioCreds,
    ) -> Result<Option<T>, ProviderError> {
        self.send_dated(req, creds).await.map(|(body, _)| body)
    }

    /// [`Self::send`], also returning Twilio's clock (its `Date` header).
    async fn send_dated<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        creds: &TwilioCreds,
    ) -> Result<(Option<T>, Option<DateTime<Utc>>), ProviderError> {
        let resp = req
            .basic_auth(&creds.account_sid, Some(&creds.auth_token))
            .send()
            .await
            .map_err(|e| {
                ProviderError::twilio(
                    ProviderErrorKind::Unavailable,
                    None,
                    None,
                    &format!("Twilio could not be reached: {e}"),
                )
            })?;
        let status = resp.status();
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&Utc));
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok((None, date));
        }
        let bytes = resp.bytes().await.map_err(|e| {
            ProviderError::twilio(
                ProviderErrorKind::Unavailable,
                Some(status.as_u16()),
                None,
                &format!("reading Twilio's answer failed: {e}"),
            )
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map(|b| (Some(b), date))
                .map_err(|e| {
                    ProviderError::twilio(
                        ProviderErrorKind::Unavailable,
                        Some(status.as_u16()),
                        None,
                        &format!("Twilio answered with an unexpected body: {e}"),
                    )
                });
        }
        let body: Option<TwilioErrorBody> = serde_json::from_slice(&bytes).ok();
        let (code, message) = body.map(|b| (b.code, b.message)).unwrap_or((None, None));
        let kind = match status.as_u16() {
            401 | 403 => ProviderErrorKind::Auth,
            404 => ProviderErrorKind::NotFound,
            s if s >= 500 || s == 429 => ProviderErrorKind::Unavailable,
            _ => ProviderErrorKind::Rejected,
        };
        let fallback = format!("Twilio answered HTTP {}", status.as_u16());
        Err(ProviderError::twilio(
            kind,
            Some(status.as_u16()),
            code,
            message.as_deref().unwrap_or(&fallback),
        ))
    }

    async fn expect<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        creds: &TwilioCreds,
    ) -> Result<T, ProviderError> {
        self.send(req, creds).await?.ok_or_else(|| {
            ProviderError::twilio(
                ProviderErrorKind::Unavailable,
                Some(204),
                None,
                "Twilio answered with no body where one was expected",
            )
        })
    }
}

#[async_trait]
impl TwilioApi for TwilioClient {
    async fn create_subaccount(
        &self,
        master: &TwilioCreds,
        friendly_name: &str,
    ) -> Result<Subaccount, ProviderError> {
        let req = self
            .http
            .post(self.url("Accounts.json"))
            .form(&[("FriendlyName", friendly_name)]);
        let b: AccountBody = self.expect(req, master).await?;
        Ok(Subaccount {
            sid: b.sid,
            auth_token: b.auth_token,
            friendly_name: b.friendly_name,
        })
    }

    async fn close_subaccount(&self, master: &TwilioCreds, sid: &str) -> Result<(), ProviderError> {
        let req = self
            .http
            .post(self.url(&format!("Accounts/{sid}.json")))
            .form(&[("Status", "closed")]);
        self.send::<serde_json::Value>(req, master)
            .await
            .map(|_| ())
    }

    async fn fetch_account(&self, account: &TwilioCreds) -> Result<AccountInfo, ProviderError> {
        let path = format!("Accounts/{}.json", account.account_sid);
        let (body, clock) = self
            .send_dated::<AccountStatusBody>(self.http.get(self.url(&path)), account)
            .await?;
        Ok(AccountInfo {
            status: body.map(|b| b.status).unwrap_or_default(),
            clock,
        })
    }

    async fn find_subaccounts(
        &self,
        master: &TwilioCreds,
        friendly_name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let req = self
            .http
            .get(self.url("Accounts.json"))
            .query(&[("FriendlyName", friendly_name), ("PageSize", "50")]);
        let list: AccountListBody = self.expect(req, master).await?;
        Ok(list
            .accounts
            .into_iter()
            .filter(|a| a.status != "closed" && a.sid != master.account_sid)
            .map(|a| a.sid)
            .collect())
    }

    async fn search_numbers(
        &self,
        account: &TwilioCreds,
        search: &NumberSearch,
    ) -> Result<Vec<AvailableNumber>, ProviderError> {
        let mut query = vec![("PageSize", search.limit.to_string())];
        if let Some(area) = &search.area_code {
            query.push(("AreaCode", area.clone()));
        }
        if let Some(contains) = &search.contains {
            query.push(("Contains", contains.clone()));
        }
        let path = format!(
            "Accounts/{}/AvailablePhoneNumbers/{}/{}.json",
            account.account_sid,
            search.country,
            search.number_type.twilio_resource()
        );
        let req = self.http.get(self.url(&path)).query(&query);
        let b: AvailableBody = self.expect(req, account).await?;
        Ok(b.available_phone_numbers
            .into_iter()
            .map(|n| AvailableNumber {
                phone_number: n.phone_number,
                friendly_name: n.friendly_name,
                locality: n.locality.filter(|s| !s.is_empty()),
                region: n.region.filter(|s| !s.is_empty()),
                iso_country: n.iso_country,
                capabilities: Capabilities {
                    voice: n.capabilities.voice,
                    sms: n.capabilities.sms,
                    mms: n.capabilities.mms,
                },
            })
            .collect())
    }

    async fn buy_number(
        &self,
        account: &TwilioCreds,
        buy: &BuyNumber,
    ) -> Result<IncomingNumber, ProviderError> {
        let mut form = vec![
            ("PhoneNumber", buy.phone_number.as_str()),
            ("VoiceUrl", buy.voice_url.as_str()),
            ("VoiceMethod", "POST"),
            ("SmsUrl", buy.sms_url.as_str()),
            ("SmsMethod", "POST"),
            ("StatusCallback", buy.status_callback.as_str()),
            ("StatusCallbackMethod", "POST"),
        ];
        if let Some(name) = &buy.friendly_name {
            form.push(("FriendlyName", name.as_str()));
        }
        let path = format!("Accounts/{}/IncomingPhoneNumbers.json", account.account_sid);
        let b: NumberBody = self
            .expect(self.http.post(self.url(&path)).form(&form), account)
            .await?;
        Ok(b.into())
    }

    async fn get_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
    ) -> Result<IncomingNumber, ProviderError> {
        let path = format!(
            "Accounts/{}/IncomingPhoneNumbers/{number_sid}.json",
            account.account_sid
        );
        let b: NumberBody = self.expect(self.http.get(self.url(&path)), account).await?;
        Ok(b.into())
    }

    async fn release_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
    ) -> Result<(), ProviderError> {
        let path = format!(
            "Accounts/{}/IncomingPhoneNumbers/{number_sid}.json",
            account.account_sid
        );
        self.send::<serde_json::Value>(self.http.delete(self.url(&path)), account)
            .await
            .map(|_| ())
    }

    async fn list_numbers(
        &self,
        account: &TwilioCreds,
    ) -> Result<Vec<IncomingNumber>, ProviderError> {
        let path = format!("Accounts/{}/IncomingPhoneNumbers.json", account.account_sid);
        let mut url = self.url(&path);
        let mut req = self.http.get(&url).query(&[("PageSize", "1000")]);
        let mut out = Vec::new();
        // Twilio pages with `next_page_uri` (a path on the same host); bounded so a
        // misbehaving server cannot loop us forever.
        for _ in 0..50 {
            let page: NumberListBody = self.expect(req, account).await?;
            out.extend(
                page.incoming_phone_numbers
                    .into_iter()
                    .map(IncomingNumber::from),
            );
            match page.next_page_uri {
                Some(next) if !next.is_empty() => {
                    url = format!("{}{next}", self.base);
                    req = self.http.get(&url);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    async fn update_number(
        &self,
        account: &TwilioCreds,
        number_sid: &str,
        hooks: &NumberWebhooks,
    ) -> Result<IncomingNumber, ProviderError> {
        let form = [
            ("VoiceUrl", hooks.voice_url.as_str()),
            ("VoiceMethod", "POST"),
            ("SmsUrl", hooks.sms_url.as_str()),
            ("SmsMethod", "POST"),
            ("StatusCallback", hooks.status_callback.as_str()),
            ("StatusCallbackMethod", "POST"),
        ];
        let path = format!(
            "Accounts/{}/IncomingPhoneNumbers/{number_sid}.json",
            account.account_sid
        );
        let b: NumberBody = self
            .expect(self.http.post(self.url(&path)).form(&form), account)
            .await?;
        Ok(b.into())
    }

    async fn fetch_recording(
        &self,
        account: &TwilioCreds,
        recording_sid: &str,
    ) -> Result<Audio, ProviderError> {
        let path = recording_path(account, recording_sid, "mp3")?;
        let resp = self
            .http
            .get(self.url(&path))
            .basic_auth(&account.account_sid, Some(&account.auth_token))
            .send()
            .await
            .map_err(|e| {
                ProviderError::twilio(
                    ProviderErrorKind::Unavailable,
                    None,
                    None,
                    &format!("Twilio could not be reached: {e}"),
                )
            })?;
        let status = resp.status().as_u16();
        let kind = match status {
            200..=299 => None,
            401 | 403 => Some(ProviderErrorKind::Auth),
            404 => Some(ProviderErrorKind::NotFound),
            _ => Some(ProviderErrorKind::Unavailable),
        };
        if let Some(kind) = kind {
            let code = if kind == ProviderErrorKind::Auth {
                Some(20003)
            } else {
                None
            };
            return Err(ProviderError::twilio(
                kind,
                Some(status),
                code,
                &format!("fetching the recording answered HTTP {status}"),
            ));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("audio/mpeg")
            .to_string();
        let bytes = resp.bytes().await.map_err(|e| {
            ProviderError::twilio(
                ProviderErrorKind::Unavailable,
                Some(status),
                None,
                &format!("reading the recording failed: {e}"),
            )
        })?;
        Ok(Audio {
            content_type,
            bytes: bytes.to_vec(),
        })
    }

    async fn delete_recording(
        &self,
        account: &TwilioCreds,
        recording_sid: &str,
    ) -> Result<(), ProviderError> {
        let path = recording_path(account, recording_sid, "json")?;
        self.send::<serde_json::Value>(self.http.delete(self.url(&path)), account)
            .await
            .map(|_| ())
    }

    async fn place_call(
        &self,
        account: &TwilioCreds,
        call: &OutboundCall,
    ) -> Result<PlacedCall, ProviderError> {
        let timeout = call.timeout.to_string();
        let mut form = vec![
            ("To", call.to.as_str()),
            ("From", call.from.as_str()),
            ("Url", call.url.as_str()),
            ("Method", "POST"),
            ("StatusCallback", call.status_callback.as_str()),
            ("StatusCallbackMethod", "POST"),
            ("Timeout", timeout.as_str()),
        ];
        if call.machine_detection {
            form.push(("MachineDetection", "Enable"));
        }
        let path = format!("Accounts/{}/Calls.json", account.account_sid);
        let b: MessageBody = self
            .expect(self.http.post(self.url(&path)).form(&form), account)
            .await?;
        Ok(PlacedCall {
            sid: b.sid,
            status: b.status,
        })
    }

    async fn send_sms(
        &self,
        account: &TwilioCreds,
        sms: &OutboundSms,
    ) -> Result<SentSms, ProviderError> {
        let mut form = vec![
            ("To", sms.to.as_str()),
            ("From", sms.from.as_str()),
            ("Body", sms.body.as_str()),
        ];
        if let Some(cb) = &sms.status_callback {
            form.push(("StatusCallback", cb.as_str()));
        }
        let path = format!("Accounts/{}/Messages.json", account.account_sid);
        let b: MessageBody = self
            .expect(self.http.post(self.url(&path)).form(&form), account)
            .await?;
        Ok(SentSms {
            sid: b.sid,
            status: b.status,
        })
    }
}
