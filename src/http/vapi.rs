//! `POST /vapi/webhook` (SPEC §4): authenticate (secret header, Bearer, or HMAC), parse the
//! envelope, hand it to the front desk, answer JSON; ledger row and metrics for each.

use super::envelope::{self, Refused, WEBHOOK_BODY_LIMIT};
use crate::app::AppState;
use crate::crypto::constant_time_eq;
use crate::domain::signature::{self, Verdict};
use crate::domain::vapi;
use crate::domain::webhook::{FailurePolicy, VAPI_WEBHOOK};
use crate::frontdesk::FrontdeskError;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;

/// HMAC timestamps older or newer than this are refused (replay protection).
const HMAC_WINDOW_SECS: i64 = 300;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(VAPI_WEBHOOK)
            .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
            .wrap(from_fn(envelope::vapi))
            .route(web::post().to(webhook)),
    );
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks the request against the configured secrets: the verdict, or why it failed.
fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Verdict, (Verdict, String)> {
    let secret = state.vapi_webhook_secret.as_deref();
    let hmac_secret = state
        .config
        .vapi_webhook_hmac_secret
        .as_ref()
        .map(|s| s.expose());
    if secret.is_none() && hmac_secret.is_none() {
        return Err((
            Verdict::Invalid,
            "no Vapi webhook secret is configured (SWITCHBOARD_VAPI_WEBHOOK_SECRET)".into(),
        ));
    }
    let sent = header(req, "x-vapi-secret").or_else(|| {
        header(req, "authorization").and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
    });
    if let (Some(secret), Some(sent)) = (secret, sent) {
        if constant_time_eq(sent.trim().as_bytes(), secret.as_bytes()) {
            return Ok(Verdict::Valid);
        }
    }
    let signed = (header(req, "x-signature"), header(req, "x-timestamp"));
    if let (Some(key), (Some(sig), Some(ts))) = (hmac_secret, signed) {
        let Some(ts_ms) = vapi::timestamp_ms(&json!(ts)) else {
            return Err((Verdict::Invalid, "x-timestamp is not a timestamp".into()));
        };
        let age = (chrono::Utc::now().timestamp_millis() - ts_ms).abs() / 1000;
        if age > HMAC_WINDOW_SECS {
            return Err((Verdict::Invalid, format!("x-timestamp is {age} s away from now (limit {HMAC_WINDOW_SECS} s): check the server clock")));
        }
        if signature::verify_vapi_hmac(key, ts, body, sig) {
            return Ok(Verdict::Valid);
        }
        return Err((
            Verdict::Invalid,
            "x-signature does not match HMAC-SHA256(secret, \"{timestamp}.{body}\")".into(),
        ));
    }
    let verdict = if sent.is_some() || signed.0.is_some() {
        Verdict::Invalid
    } else {
        Verdict::Missing
    };
    Err((
        verdict,
        "missing or wrong X-Vapi-Secret / Authorization: Bearer / x-signature".into(),
    ))
}

/// A Vapi server message whose sender proved it holds the secret, parsed: the guard of
/// the Vapi route, as an extractor. Refusals (401, or 400 for a body that is not a
/// server message) are answered, and recorded, by the envelope middleware.
pub struct VapiWebhook {
    message: vapi::Message,
}

impl FromRequest for VapiWebhook {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move { VapiWebhook::check(req, body.await?) })
    }
}

impl VapiWebhook {
    fn check(req: HttpRequest, body: web::Bytes) -> Result<Self, actix_web::Error> {
        let state = envelope::state(&req)?;
        let note = |verdict, reference| {
            envelope::note(&req, VAPI_WEBHOOK, verdict, reference, FailurePolicy::Retry)
        };
        let verdict = match authenticate(&state, &req, &body) {
            Ok(verdict) => verdict,
            Err((verdict, reason)) => {
                note(verdict, None);
                return Err(Refused {
                    status: StatusCode::UNAUTHORIZED,
                    reason,
                    message: "Vapi webhook authentication failed".into(),
                }
                .into());
            }
        };
        match vapi::parse(&body) {
            Ok(message) => {
                note(verdict, message.call_id.clone());
                Ok(VapiWebhook { message })
            }
            Err(problem) => {
                note(verdict, None);
                Err(Refused {
                    status: StatusCode::BAD_REQUEST,
                    reason: problem.clone(),
                    message: problem,
                }
                .into())
            }
        }
    }
}

async fn webhook(
    state: web::Data<AppState>,
    hook: VapiWebhook,
) -> Result<HttpResponse, FrontdeskError> {
    let body = crate::frontdesk::vapi::handle(&state.desk, hook.message).await?;
    Ok(HttpResponse::Ok().json(body))
}
