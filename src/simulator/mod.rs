//! Plays Twilio and Vapi against an appliance over real HTTP (SPEC §9.2): signed
//! webhooks, a whole call that follows the TwiML it gets back hop by hop, texts, Vapi
//! event sequences and load. `switchboard simulate`, the integration tests and the
//! benchmarks all drive the appliance through this one module.

mod call;
mod callback;
mod load;
pub mod twiml;
mod vapi;

pub use call::{CallPlan, CallReport, DialOutcome, ScreenAnswer};
pub use callback::CallbackPlan;
pub use load::{LoadPlan, LoadReport};
pub use vapi::Sequence;

use crate::domain::signature;
use crate::domain::webhook::{TwilioRoute, VAPI_WEBHOOK};
use std::fmt;
use std::time::{Duration, Instant};

/// Where the webhooks go and what they are signed with.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where requests are sent, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// The base URL Twilio signs: the appliance's `PUBLIC_URL` (it may differ from `base`
    /// behind a proxy).
    pub signed_base: String,
    /// The Twilio account the webhooks come from: (Account SID, auth token).
    pub twilio: Option<(String, String)>,
    /// Vapi's `X-Vapi-Secret`.
    pub vapi_secret: Option<String>,
}

/// Why a simulated request could not be made or was not answered as Twilio needs.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Setup(String),
    #[error("{url} did not answer: {cause}")]
    Transport {
        url: String,
        /// The whole chain of causes, down to the one that says what happened
        /// ("Connection refused", a DNS or TLS failure).
        cause: String,
    },
}

impl SimError {
    fn transport(url: impl Into<String>, e: reqwest::Error) -> SimError {
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = format!("{cause}: {s}");
            source = s.source();
        }
        SimError::Transport {
            url: url.into(),
            cause,
        }
    }
}

/// An HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub elapsed: Duration,
}

/// One request the simulator made and what came back.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The path and query posted to.
    pub path: String,
    /// The parameters that tell this request apart (not the ones every request repeats).
    pub shown: Vec<(String, String)>,
    pub answer: Answer,
    /// The TwiML verbs of the answer, when it was TwiML.
    pub verbs: Vec<twiml::Verb>,
    /// What the caller (or the provider) did next, in words.
    pub then: String,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "→ POST {}", self.path)?;
        for (k, v) in &self.shown {
            write!(f, "  {k}={v}")?;
        }
        writeln!(f)?;
        write!(
            f,
            "← {} in {:.1} ms",
            self.answer.status,
            self.answer.elapsed.as_secs_f64() * 1000.0
        )?;
        if self.verbs.is_empty() {
            let body = self.answer.body.trim();
            if !body.is_empty() && !body.starts_with("<?xml") {
                write!(f, "  {}", truncate(body, 300))?;
            }
        }
        writeln!(f)?;
        for verb in &self.verbs {
            writeln!(f, "    {verb}")?;
        }
        if !self.then.is_empty() {
            writeln!(f, "  ⇒ {}", self.then)?;
        }
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The client side of an appliance's webhooks.
#[derive(Debug, Clone)]
pub struct Simulator {
    client: reqwest::Client,
    target: Target,
}

/// A signed form request, ready to send by any HTTP client.
#[derive(Debug, Clone)]
pub struct SignedForm {
    /// The URL that was signed.
    pub url: String,
    pub signature: String,
    /// The `application/x-www-form-urlencoded` body.
    pub body: String,
}

/// Signs `params` (plus `AccountSid`) for `path` on `signed_base` as Twilio does.
pub fn sign_form(
    signed_base: &str,
    account: (&str, &str),
    path: &str,
    params: &[(&str, &str)],
) -> SignedForm {
    let mut all: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !params.iter().any(|(k, _)| *k == "AccountSid") {
        all.push(("AccountSid".into(), account.0.to_string()));
    }
    let url = format!("{}{path}", signed_base.trim_end_matches('/'));
    let signature = signature::compute(account.1, &url, &all);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&all)
        .finish();
    SignedForm {
        url,
        signature,
        body,
    }
}

impl Simulator {
    pub fn new(target: Target) -> Result<Simulator, SimError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SimError::Setup(format!("cannot build an HTTP client: {e}")))?;
        Ok(Simulator { client, target })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    fn account(&self) -> Result<(&str, &str), SimError> {
        self.target
            .twilio
            .as_ref()
            .map(|(sid, token)| (sid.as_str(), token.as_str()))
            .ok_or_else(|| {
                SimError::Setup(
                    "no Twilio credentials to sign with: set SWITCHBOARD_TWILIO_ACCOUNT_SID and \
                     SWITCHBOARD_TWILIO_AUTH_TOKEN (a demo data dir has its own)"
                        .into(),
                )
            })
    }

    /// Signs `params` for `path` with the target's Twilio credentials.
    fn sign(&self, path: &str, params: &[(&str, &str)]) -> Result<SignedForm, SimError> {
        Ok(sign_form(
            &self.target.signed_base,
            self.account()?,
            path,
            params,
        ))
    }

    /// A signed Twilio webhook POST, as the raw response.
    pub async fn post_twilio(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<reqwest::Response, SimError> {
        let form = self.sign(path, params)?;
        let url = format!("{}{path}", self.target.base.trim_end_matches('/'));
        self.client
            .post(&url)
            .header("X-Twilio-Signature", form.signature)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.body)
            .send()
            .await
            .map_err(|e| SimError::transport(url, e))
    }

    /// A signed Twilio webhook POST, read whole.
    pub async fn twilio(&self, path: &str, params: &[(&str, &str)]) -> Result<Answer, SimError> {
        let started = Instant::now();
        let resp = self.post_twilio(path, params).await?;
        read(resp, started, path).await
    }

    /// A Vapi server message, authenticated with the target's Vapi secret.
    pub async fn post_vapi(&self, body: &serde_json::Value) -> Result<Answer, SimError> {
        let secret = self.target.vapi_secret.as_deref().ok_or_else(|| {
            SimError::Setup(
                "no Vapi webhook secret: set SWITCHBOARD_VAPI_WEBHOOK_SECRET (a demo data dir \
                 has its own)"
                    .into(),
            )
        })?;
        let url = format!("{}{VAPI_WEBHOOK}", self.target.base.trim_end_matches('/'));
        let started = Instant::now();
        let resp = self
            .client
            .post(&url)
            .header("X-Vapi-Secret", secret)
            .json(body)
            .send()
            .await
            .map_err(|e| SimError::transport(url.clone(), e))?;
        read(resp, started, VAPI_WEBHOOK).await
    }

    /// A customer's text `body` from `from` to `to`, as Twilio's Messaging webhook.
    pub async fn sms(&self, from: &str, to: &str, body: &str) -> Result<Hop, SimError> {
        let sid = new_sid("SM");
        let params = [
            ("MessageSid", sid.as_str()),
            ("SmsMessageSid", sid.as_str()),
            ("SmsSid", sid.as_str()),
            ("SmsStatus", "received"),
            ("From", from),
            ("To", to),
            ("Body", body),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("ApiVersion", "2010-04-01"),
        ];
        let path = TwilioRoute::Sms.path();
        let answer = self.twilio(path, &params).await?;
        let verbs = twiml::parse(&answer.body).unwrap_or_default();
        let then = if answer.status != 200 {
            format!(
                "Twilio would retry or log error 11200: HTTP {}",
                answer.status
            )
        } else if verbs.is_empty() {
            "no TwiML reply; any answer goes out through Twilio's Messages API".into()
        } else {
            String::new()
        };
        Ok(Hop {
            path: path.into(),
            shown: vec![
                ("MessageSid".into(), sid.clone()),
                ("From".into(), from.into()),
                ("To".into(), to.into()),
                ("Body".into(), body.into()),
            ],
            answer,
            verbs,
            then,
        })
    }
}

async fn read(resp: reqwest::Response, started: Instant, path: &str) -> Result<Answer, SimError> {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp
        .text()
        .await
        .map_err(|e| SimError::transport(path, e))?;
    Ok(Answer {
        status,
        content_type,
        body,
        elapsed: started.elapsed(),
    })
}

/// A new random Twilio-style SID with `prefix` (`CA`, `SM`, `RE`…): 32 hex digits.
pub fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 16]>()))
}
