//! The envelope every provider webhook shares (SPEC §2, §6.1): its ledger row, its
//! metrics and the per-IP limit on failed authentication are recorded here, once, for
//! Twilio and Vapi alike. The providers' extractors (`twilio::TwilioWebhook`,
//! `vapi::VapiWebhook`) open an envelope, refuse through it, or finish it with the answer.

use crate::app::AppState;
use crate::db::ledger;
use crate::http::auth::client_ip;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// The future of a webhook extractor (it reads the body before it can verify it).
pub type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// The start every webhook extractor shares: read the body (within the route's
/// `PayloadConfig` limit), find the app state, then let `verify` decide.
pub fn extract<T, F, Fut>(req: &HttpRequest, payload: &mut Payload, verify: F) -> Extracting<T>
where
    T: 'static,
    F: FnOnce(web::Data<AppState>, HttpRequest, web::Bytes) -> Fut + 'static,
    Fut: Future<Output = Result<T, actix_web::Error>> + 'static,
{
    let body = web::Bytes::from_request(req, payload);
    let req = req.clone();
    Box::pin(async move {
        let body = body.await?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| actix_web::error::ErrorInternalServerError("no app state"))?;
        verify(state, req, body).await
    })
}

/// SPEC §6.4: webhook bodies up to 64 KiB.
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

/// How a provider expects its errors: Twilio reads text, Vapi JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// A webhook answered before its handler ran: authentication failed, or the body is
/// not one the route can read. Rendered in the provider's format.
#[derive(Debug)]
pub struct Refused {
    status: StatusCode,
    format: Format,
    message: String,
}

impl Refused {
    pub fn new(status: StatusCode, format: Format, message: impl Into<String>) -> Self {
        Refused {
            status,
            format,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl ResponseError for Refused {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.insert_header(("Retry-After", "60"));
        }
        match self.format {
            Format::Text => r
                .content_type("text/plain; charset=utf-8")
                .body(format!("{}\n", self.message)),
            Format::Json => r.json(json!({ "error": self.message })),
        }
    }
}

/// One webhook in flight: where it came from, when it started, what it is about.
pub struct Envelope {
    provider: &'static str,
    route: &'static str,
    format: Format,
    started: Instant,
    ip: String,
    idempotency_key: Option<String>,
}

impl Envelope {
    pub fn open(
        state: &AppState,
        req: &HttpRequest,
        provider: &'static str,
        route: &'static str,
        format: Format,
    ) -> Envelope {
        Envelope {
            provider,
            route,
            format,
            started: Instant::now(),
            ip: client_ip(req, state.config.trust_proxy),
            // Twilio's redelivery marker; kept on the ledger row to match retries up.
            idempotency_key: req
                .headers()
                .get("i-twilio-idempotency-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }

    /// Authentication failed (`verdict`: `invalid` or `missing`). Within the per-IP limit
    /// on failures the refusal is logged and has its ledger row; beyond it the answer is
    /// a 429 with neither, so a flood cannot fill the disk or the log.
    pub fn refuse(
        self,
        state: &AppState,
        verdict: &'static str,
        reason: String,
        status: StatusCode,
        message: &str,
    ) -> Refused {
        let limited = state
            .rate_limits
            .check(&state.rate_limits.auth_failures, &self.ip)
            .is_err();
        if limited {
            self.observe(state, StatusCode::TOO_MANY_REQUESTS.as_u16());
            return Refused::new(
                StatusCode::TOO_MANY_REQUESTS,
                self.format,
                "Too many unauthenticated requests.",
            );
        }
        log::warn!(
            "rejected {} webhook {} from {}: {reason}",
            self.provider,
            self.route,
            self.ip
        );
        let format = self.format;
        self.finish(state, status.as_u16(), verdict, None, Some(reason));
        Refused::new(status, format, message)
    }

    /// The webhook was answered `status`: its metrics and its ledger row.
    pub fn finish(
        self,
        state: &AppState,
        status: u16,
        signature: &'static str,
        reference: Option<String>,
        error: Option<String>,
    ) {
        let elapsed = self.observe(state, status);
        state.ledger.record(ledger::Entry {
            provider: self.provider,
            route: self.route.to_string(),
            idempotency_key: self.idempotency_key,
            reference,
            org_id: None,
            signature,
            http_status: status,
            latency_ms: elapsed * 1000.0,
            error,
            remote_ip: Some(self.ip),
        });
    }

    fn observe(&self, state: &AppState, status: u16) -> f64 {
        let elapsed = self.started.elapsed().as_secs_f64();
        state
            .desk
            .metrics
            .observe_webhook(self.provider, self.route, status, elapsed);
        elapsed
    }
}
