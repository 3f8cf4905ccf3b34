//! The HTTP surface: shared state, the one route table, and the middleware every response
//! passes through (request id + access log line, security headers, JSON error bodies).

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod envelope;
pub mod features;
pub mod health;
pub mod idempotency;
pub mod live;
pub mod twilio;
pub mod vapi;

use crate::error::{codes, ApiError};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use std::time::Instant;

pub use crate::app::AppState;

/// SPEC §6.4: API bodies up to 1 MiB.
pub const API_BODY_LIMIT: usize = 1 << 20;

/// A strict policy: everything from this origin only, no inline script or style, no
/// framing. The dashboard is built to need nothing more.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; media-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The id of the current request, set by the logging middleware.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The route table: every path the appliance answers.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            let api = ApiError::new(codes::INVALID_PATH, format!("the URL is invalid: {err}"));
            actix_web::error::InternalError::from_response(err, api.error_response()).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            let api = ApiError::new(
                codes::INVALID_QUERY,
                format!("the query string is invalid: {err}"),
            );
            actix_web::error::InternalError::from_response(err, api.error_response()).into()
        }))
        .configure(health::routes)
        .configure(twilio::routes)
        .configure(vapi::routes)
        .service(
            web::scope("/api")
                .app_data(web::PayloadConfig::new(API_BODY_LIMIT))
                .wrap(actix_web::middleware::from_fn(idempotency::layer))
                // Outermost: decides the caller before idempotency and the handlers.
                .wrap(actix_web::middleware::from_fn(auth::authenticate))
                .configure(api::routes)
                .default_service(web::to(api_not_found)),
        )
        .configure(dashboard::routes);
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(API_BODY_LIMIT)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError as E;
            let api = match &err {
                E::Overflow { limit } | E::OverflowKnownLength { limit, .. } => {
                    ApiError::PayloadTooLarge { limit: *limit }
                }
                E::ContentType => ApiError::hinted(
                    codes::UNSUPPORTED_CONTENT_TYPE,
                    "the body must be JSON",
                    "Send the body with 'Content-Type: application/json'.",
                ),
                E::Deserialize(e) if e.is_data() => ApiError::new(
                    codes::INVALID_FIELD,
                    format!("the JSON body has a wrong or missing field: {e}"),
                ),
                E::Deserialize(e) => ApiError::new(
                    codes::INVALID_JSON,
                    format!("the body is not valid JSON: {e}"),
                ),
                other => ApiError::new(
                    codes::INVALID_BODY,
                    format!("the body could not be read: {other}"),
                ),
            };
            actix_web::error::InternalError::from_response(err, api.error_response()).into()
        })
}

async fn api_not_found(req: HttpRequest) -> HttpResponse {
    ApiError::UnknownRoute(format!("{} {}", req.method(), req.path())).error_response()
}

/// Headers on every response (SPEC §7, §11).
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

/// Accepts a caller's `X-Request-Id` only if it is short and plain, so it is safe to log.
fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get("x-request-id")?.to_str().ok()?;
    (!value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then(|| value.to_string())
}

/// One access log line per request: method, path (never the query, which may hold phone
/// numbers), status, latency and request id; the id is echoed in `X-Request-Id`.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let id = incoming_request_id(&req).unwrap_or_else(|| crate::crypto::random_hex(16));
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    // Served over the built-in HTTPS: browsers must not come back in plain HTTP (SPEC §14).
    if res.request().app_config().secure() {
        res.headers_mut().insert(
            actix_web::http::header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    log::info!(
        "{} {} {} {:.1}ms rid={}",
        res.request().method(),
        res.request().path(),
        res.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0,
        id
    );
    Ok(res)
}
