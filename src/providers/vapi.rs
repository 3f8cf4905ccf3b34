//! The real Vapi REST client: phone numbers through the current `POST /phone-number` API
//! (the old `/phone-number/import/twilio` endpoint is deprecated), Bearer auth.

use super::*;
use serde::Deserialize;
use serde_json::json;

pub struct VapiClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NumberBody {
    id: String,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    assistant_id: Option<String>,
    #[serde(default)]
    sms_enabled: Option<bool>,
}

impl From<NumberBody> for VapiNumber {
    fn from(b: NumberBody) -> Self {
        VapiNumber {
            id: b.id,
            number: b.number.unwrap_or_default(),
            assistant_id: b.assistant_id,
            // Vapi enables SMS on imported Twilio numbers unless told otherwise.
            sms_enabled: b.sms_enabled.unwrap_or(true),
        }
    }
}

/// Vapi error bodies: `{"message": "..." | ["...", ...], "error": "Bad Request", "statusCode": 400}`.
fn error_message(bytes: &[u8], status: u16) -> String {
    let body: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    match &body["message"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        _ => format!("Vapi answered HTTP {status}"),
    }
}

impl VapiClient {
    pub fn new(http: reqwest::Client, base: &str, api_key: &str) -> Self {
        VapiClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
        }
    }

    /// Sends with the API key; the body of a 2xx answer, or the mapped error.
    async fn raw(&self, req: reqwest::RequestBuilder) -> Result<Vec<u8>, ProviderError> {
        let resp = req.bearer_auth(&self.api_key).send().await.map_err(|e| {
            ProviderError::vapi(
                ProviderErrorKind::Unavailable,
                None,
                format!("Vapi could not be reached: {e}"),
            )
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| {
            ProviderError::vapi(
                ProviderErrorKind::Unavailable,
                Some(status),
                format!("reading Vapi's answer failed: {e}"),
            )
        })?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let kind = match status {
            401 | 403 => ProviderErrorKind::Auth,
            404 => ProviderErrorKind::NotFound,
            s if s >= 500 || s == 429 => ProviderErrorKind::Unavailable,
            _ => ProviderErrorKind::Rejected,
        };
        let mut message = error_message(&bytes, status);
        if kind == ProviderErrorKind::Auth {
            message = format!("Vapi rejected the API key ({message}): check SWITCHBOARD_VAPI_API_KEY (Vapi dashboard → API Keys, private key)");
        }
        Err(ProviderError::vapi(kind, Some(status), message))
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<Option<VapiNumber>, ProviderError> {
        let bytes = self.raw(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let body: NumberBody = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::vapi(
                ProviderErrorKind::Unavailable,
                Some(200),
                format!("Vapi answered with an unexpected body: {e}"),
            )
        })?;
        Ok(Some(body.into()))
    }

    async fn expect(&self, req: reqwest::RequestBuilder) -> Result<VapiNumber, ProviderError> {
        self.send(req).await?.ok_or_else(|| {
            ProviderError::vapi(
                ProviderErrorKind::Unavailable,
                None,
                "Vapi answered with an empty body",
            )
        })
    }
}

#[async_trait]
impl VapiApi for VapiClient {
    async fn create_phone_number(&self, c: &VapiNumberCreate) -> Result<VapiNumber, ProviderError> {
        let mut body = json!({
            "provider": "twilio",
            "number": c.number,
            "twilioAccountSid": c.twilio_account_sid,
            "twilioAuthToken": c.twilio_auth_token,
            "name": c.name,
            "smsEnabled": false,
        });
        if let Some(assistant) = &c.assistant_id {
            body["assistantId"] = json!(assistant);
        }
        self.expect(
            self.http
                .post(format!("{}/phone-number", self.base))
                .json(&body),
        )
        .await
    }

    async fn get_phone_number(&self, id: &str) -> Result<VapiNumber, ProviderError> {
        self.expect(self.http.get(format!("{}/phone-number/{id}", self.base)))
            .await
    }

    async fn list_phone_numbers(&self) -> Result<Vec<VapiNumber>, ProviderError> {
        let req = self
            .http
            .get(format!("{}/phone-number", self.base))
            .query(&[("limit", "1000")]);
        let bytes = self.raw(req).await?;
        let items: Vec<NumberBody> = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::vapi(
                ProviderErrorKind::Unavailable,
                Some(200),
                format!("Vapi answered with an unexpected body: {e}"),
            )
        })?;
        Ok(items.into_iter().map(VapiNumber::from).collect())
    }

    async fn update_phone_number(
        &self,
        id: &str,
        u: &VapiNumberUpdate,
    ) -> Result<VapiNumber, ProviderError> {
        // `provider` is the discriminator of Vapi's update DTOs (UpdateTwilioPhoneNumberDTO).
        let mut body = serde_json::Map::new();
        body.insert("provider".into(), json!("twilio"));
        // `"assistantId": null` unlinks (Vapi then sends assistant-request for the number's
        // calls). Vapi's OpenAPI types the field as a plain string, but the API takes null
        // as "remove" and absent as "unchanged" — the remedy Vapi's own SDK maintainers give
        // (VapiAI/server-sdk-typescript#8).
        if let Some(assistant) = &u.assistant_id {
            body.insert("assistantId".into(), json!(assistant));
        }
        if let Some(name) = &u.name {
            body.insert("name".into(), json!(name));
        }
        self.expect(
            self.http
                .patch(format!("{}/phone-number/{id}", self.base))
                .json(&body),
        )
        .await
    }

    async fn delete_phone_number(&self, id: &str) -> Result<(), ProviderError> {
        self.send(self.http.delete(format!("{}/phone-number/{id}", self.base)))
            .await
            .map(|_| ())
    }
}
