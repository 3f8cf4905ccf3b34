//! The envelope every provider webhook shares (SPEC §2, §6.1), finished in one place for
//! Twilio and Vapi alike: the `envelope` middleware (see [`twilio`], [`vapi`]) opens it before the request is
//! routed, the provider's extractor (`twilio::TwilioWebhook`, `vapi::VapiWebhook`) notes
//! the route, the authentication [`Verdict`] and what the request is about, and once the
//! answer is known the middleware writes the ledger row and the metrics, applies the
//! per-IP limit on failed authentication, counts our failures, and renders every refusal
//! and error in the provider's format. Handlers are plain `async fn`s that return
//! `Result<_, FrontdeskError>`.

use crate::app::AppState;
use crate::db::ledger;
use crate::domain::signature::Verdict;
use crate::domain::webhook::{FailurePolicy, Provider};
use crate::frontdesk::FrontdeskError;
use crate::http::auth::client_ip;
use crate::twiml::TwiML;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;
use std::time::Instant;

/// SPEC §6.4: webhook bodies up to 64 KiB.
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

/// One webhook in flight, kept in the request's extensions from the middleware to the
/// extractor and back.
struct Opened {
    started: Instant,
    ip: String,
    idempotency_key: Option<String>,
    /// Set by the extractor once it knows the route and has checked the request; a request
    /// that never got that far (no such route, a body over the limit) has no ledger row.
    noted: Option<Noted>,
}

/// What the extractor learnt.
struct Noted {
    route: &'static str,
    verdict: Verdict,
    /// What the request is about (a CallSid, a MessageSid, a Vapi call id).
    reference: Option<String>,
    on_failure: FailurePolicy,
}

/// Notes on the request's envelope what its extractor learnt (kept in the request's extensions).
pub fn note(
    req: &HttpRequest,
    route: &'static str,
    verdict: Verdict,
    reference: Option<String>,
    on_failure: FailurePolicy,
) {
    if let Some(opened) = req.extensions_mut().get_mut::<Opened>() {
        opened.noted = Some(Noted {
            route,
            verdict,
            reference,
            on_failure,
        });
    }
}

/// The app state, which every webhook extractor needs.
pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, actix_web::Error> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("no app state"))
}

/// A webhook refused before its handler ran: authentication failed, or the body is not
/// one the route can read. `reason` goes to the log and the ledger, `message` to the
/// sender.
#[derive(Debug)]
pub struct Refused {
    pub status: StatusCode,
    pub reason: String,
    pub message: String,
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
}

/// A handler's failure. The body is rendered by the middleware, which knows the provider
/// and the route's [`FailurePolicy`].
impl ResponseError for FrontdeskError {
    fn status_code(&self) -> StatusCode {
        match self {
            FrontdeskError::BadRequest(_) => StatusCode::BAD_REQUEST,
            FrontdeskError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The middleware of Twilio's scope.
pub async fn twilio(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    envelope(Provider::Twilio, req, next).await
}

/// The middleware of Vapi's route.
pub async fn vapi(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    envelope(Provider::Vapi, req, next).await
}

async fn envelope(
    provider: Provider,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = state(req.request())?;
    let opened = Opened {
        started: Instant::now(),
        ip: client_ip(req.request(), state.config.trust_proxy),
        // Twilio's redelivery marker; kept on the ledger row to match retries up.
        idempotency_key: req
            .headers()
            .get("i-twilio-idempotency-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        noted: None,
    };
    // Built first: reading the client's address borrows the extensions too.
    req.extensions_mut().insert(opened);
    let res = next.call(req).await?.map_into_boxed_body();
    let opened = res.request().extensions_mut().remove::<Opened>();
    match opened {
        Some(mut opened) => match opened.noted.take() {
            Some(noted) => Ok(Open {
                provider,
                opened,
                noted,
            }
            .finish(&state, res)),
            None => Ok(res),
        },
        None => Ok(res),
    }
}

/// An envelope whose request reached its extractor.
struct Open {
    provider: Provider,
    opened: Opened,
    noted: Noted,
}

/// What went wrong: `reason` for the ledger and the log, `message` for the sender.
enum Failure {
    /// Refused before the handler ran (authentication, or an unreadable body).
    Refused {
        reason: String,
        message: String,
    },
    BadRequest(String),
    Ours(String),
}

impl Open {
    /// Renders the answer, then records it: ledger row and metrics (SPEC §6.1).
    fn finish(self, state: &AppState, res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
        let failure = res.response().error().map(|e| {
            if let Some(r) = e.as_error::<Refused>() {
                Failure::Refused {
                    reason: r.reason.clone(),
                    message: r.message.clone(),
                }
            } else if let Some(FrontdeskError::BadRequest(reason)) = e.as_error() {
                Failure::BadRequest(reason.clone())
            } else {
                Failure::Ours(e.to_string())
            }
        });
        let Some(failure) = failure else {
            self.record(state, res.status(), None);
            return res;
        };
        let (req, resp) = res.into_parts();
        let answer = match failure {
            Failure::Refused { reason, message } if !self.noted.verdict.accepted() => {
                if self.limited(state) {
                    let resp = self.render(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many unauthenticated requests.",
                    );
                    self.observe(state, resp.status());
                    return ServiceResponse::new(req, resp);
                }
                log::warn!(
                    "rejected {} webhook {} from {}: {reason}",
                    self.provider.as_str(),
                    self.noted.route,
                    self.opened.ip
                );
                (self.render(resp.status(), &message), Some(reason))
            }
            Failure::Refused { reason, message } => {
                self.bad(&reason);
                (self.render(resp.status(), &message), Some(reason))
            }
            Failure::BadRequest(reason) => {
                self.bad(&reason);
                (self.render(resp.status(), &reason), Some(reason))
            }
            Failure::Ours(e) => (self.ours(state, &e), Some(e)),
        };
        let (resp, error) = answer;
        self.record(state, resp.status(), error);
        ServiceResponse::new(req, resp)
    }

    fn bad(&self, reason: &str) {
        log::warn!(
            "bad {} webhook {}: {reason}",
            self.provider.as_str(),
            self.noted.route
        );
    }

    /// Our failure (the database): counted; a caller on the line hears an apology, a
    /// callback gets a 5xx so that a configured retry redelivers it.
    fn ours(&self, state: &AppState, e: &str) -> HttpResponse {
        log::error!(
            "{} webhook {} ({}) failed: {e}",
            self.provider.as_str(),
            self.noted.route,
            self.noted.reference.as_deref().unwrap_or("-")
        );
        state.desk.metrics.incr(
            crate::metrics::WEBHOOK_ERRORS,
            &[("provider", self.provider.as_str()), ("cause", "database")],
        );
        match (self.provider, self.noted.on_failure) {
            (Provider::Twilio, FailurePolicy::Apologise) => twiml_response(
                StatusCode::OK,
                &TwiML::new()
                    .say(crate::frontdesk::voice::TROUBLE_MESSAGE)
                    .hangup(),
            ),
            (Provider::Twilio, FailurePolicy::Retry) => self.render(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Temporary failure; retry later.",
            ),
            (Provider::Vapi, _) => self.render(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporary failure; retry later",
            ),
        }
    }

    /// Beyond the per-IP limit on failed authentication: a 429 with neither a log line
    /// nor a ledger row, so a flood cannot fill the disk or the log.
    fn limited(&self, state: &AppState) -> bool {
        state
            .rate_limits
            .check(&state.rate_limits.auth_failures, &self.opened.ip)
            .is_err()
    }

    /// An error in the provider's format: Twilio reads text, Vapi JSON.
    fn render(&self, status: StatusCode, message: &str) -> HttpResponse {
        let mut r = HttpResponse::build(status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            r.insert_header(("Retry-After", "60"));
        }
        match self.provider {
            Provider::Twilio => r
                .content_type("text/plain; charset=utf-8")
                .body(format!("{message}\n")),
            Provider::Vapi => r.json(json!({ "error": message })),
        }
    }

    fn observe(&self, state: &AppState, status: StatusCode) -> f64 {
        let elapsed = self.opened.started.elapsed().as_secs_f64();
        state.desk.metrics.observe_webhook(
            self.provider.as_str(),
            self.noted.route,
            status.as_u16(),
            elapsed,
        );
        elapsed
    }

    /// The webhook was answered `status`: its metrics and its ledger row.
    fn record(self, state: &AppState, status: StatusCode, error: Option<String>) {
        let elapsed = self.observe(state, status);
        state.ledger.record(ledger::Entry {
            provider: self.provider.as_str(),
            route: self.noted.route.to_string(),
            idempotency_key: self.opened.idempotency_key,
            reference: self.noted.reference,
            org_id: None,
            signature: self.noted.verdict.as_str(),
            http_status: status.as_u16(),
            latency_ms: elapsed * 1000.0,
            error,
            remote_ip: Some(self.opened.ip),
        });
    }
}

pub fn twiml_response(status: StatusCode, t: &TwiML) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/xml; charset=utf-8")
        .body(t.render())
}
