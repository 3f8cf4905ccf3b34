//! `POST /vapi/webhook` (SPEC §4): authenticate (secret header, Bearer, or HMAC), parse the
//! envelope, hand it to the front desk, answer JSON; ledger row and metrics for each.

use super::envelope::{extract, Envelope, Extracting, Format, Refused, WEBHOOK_BODY_LIMIT};
use crate::app::AppState;
use crate::crypto::constant_time_eq;
use crate::domain::vapi;
use crate::domain::webhook::VAPI_WEBHOOK;
use crate::frontdesk::FrontdeskError;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// HMAC timestamps older or newer than this are refused (replay protection).
const HMAC_WINDOW_SECS: i64 = 300;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(VAPI_WEBHOOK)
            .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
            .route(web::post().to(webhook)),
    );
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks the request against the configured secrets; `Err` names what failed.
fn authenticate(state: &AppState, req: &HttpRequest, body: &[u8]) -> Result<(), String> {
    let secret = state.vapi_webhook_secret.as_deref();
    let hmac_secret = state
        .config
        .vapi_webhook_hmac_secret
        .as_ref()
        .map(|s| s.expose());
    if secret.is_none() && hmac_secret.is_none() {
        return Err(
            "no Vapi webhook secret is configured (SWITCHBOARD_VAPI_WEBHOOK_SECRET)".into(),
        );
    }
    if let Some(secret) = secret {
        let sent = header(req, "x-vapi-secret").or_else(|| {
            header(req, "authorization").and_then(|a| {
                a.strip_prefix("Bearer ")
                    .or_else(|| a.strip_prefix("bearer "))
            })
        });
        if sent.is_some_and(|s| constant_time_eq(s.trim().as_bytes(), secret.as_bytes())) {
            return Ok(());
        }
    }
    if let Some(key) = hmac_secret {
        if let (Some(sig), Some(ts)) = (header(req, "x-signature"), header(req, "x-timestamp")) {
            let Some(ts_ms) = vapi::timestamp_ms(&json!(ts)) else {
                return Err("x-timestamp is not a timestamp".into());
            };
            let age = (chrono::Utc::now().timestamp_millis() - ts_ms).abs() / 1000;
            if age > HMAC_WINDOW_SECS {
                return Err(format!("x-timestamp is {age} s away from now (limit {HMAC_WINDOW_SECS} s): check the server clock"));
            }
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
                .expect("HMAC accepts any key length");
            mac.update(ts.as_bytes());
            mac.update(b".");
            mac.update(body);
            let expected = hex::encode(mac.finalize().into_bytes());
            let sent = sig
                .trim()
                .strip_prefix("sha256=")
                .unwrap_or(sig.trim())
                .to_ascii_lowercase();
            if constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
                return Ok(());
            }
            return Err(
                "x-signature does not match HMAC-SHA256(secret, \"{timestamp}.{body}\")".into(),
            );
        }
    }
    Err("missing or wrong X-Vapi-Secret / Authorization: Bearer / x-signature".into())
}

/// A Vapi server message whose sender proved it holds the secret, parsed: the guard of
/// the Vapi route, as an extractor. Refusals (401, or 400 for a body that is not a
/// server message) answer, and are recorded, through the [`Envelope`].
pub struct VapiWebhook {
    message: vapi::Message,
    envelope: Envelope,
}

impl FromRequest for VapiWebhook {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        extract(req, payload, |state, req, body| async move {
            let envelope = Envelope::open(&state, &req, "vapi", VAPI_WEBHOOK, Format::Json);
            if let Err(reason) = authenticate(&state, &req, &body) {
                return Err(envelope
                    .refuse(
                        &state,
                        "invalid",
                        reason,
                        StatusCode::UNAUTHORIZED,
                        "Vapi webhook authentication failed",
                    )
                    .into());
            }
            match vapi::parse(&body) {
                Ok(message) => Ok(VapiWebhook { message, envelope }),
                Err(problem) => {
                    log::warn!("malformed Vapi webhook: {problem}");
                    envelope.finish(&state, 400, "valid", None, Some(problem.clone()));
                    Err(Refused::new(StatusCode::BAD_REQUEST, Format::Json, problem).into())
                }
            }
        })
    }
}

async fn webhook(state: web::Data<AppState>, hook: VapiWebhook) -> HttpResponse {
    let VapiWebhook { message, envelope } = hook;
    let reference = message.call_id.clone();
    let (kind, call) = (
        message.kind.clone(),
        reference.clone().unwrap_or_else(|| "-".into()),
    );
    let result = crate::frontdesk::vapi::handle(&state.desk, message).await;
    let (response, error) = match result {
        Ok(body) => (HttpResponse::Ok().json(body), None),
        Err(FrontdeskError::BadRequest(problem)) => (
            HttpResponse::BadRequest().json(json!({ "error": problem })),
            Some(problem),
        ),
        Err(FrontdeskError::Db(e)) => {
            // 5xx so that a configured Vapi retry can redeliver the event.
            log::error!("Vapi {kind} for call {call} failed: {e}");
            state.desk.metrics.incr(
                crate::metrics::WEBHOOK_ERRORS,
                &[("provider", "vapi"), ("cause", "database")],
            );
            (
                HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
                    .json(json!({ "error": "temporary failure; retry later" })),
                Some(e.to_string()),
            )
        }
    };
    envelope.finish(
        &state,
        response.status().as_u16(),
        "valid",
        reference,
        error,
    );
    response
}
