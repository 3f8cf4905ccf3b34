//! `Idempotency-Key` on every API `POST`/`PATCH`/`DELETE` (SPEC §6.2), as middleware over
//! `/api`: a replay with the same request answers the saved response with
//! `Idempotent-Replayed: true`; the same key with another request is a 422; a duplicate
//! while the first still runs is a 409 with `Retry-After`. No database transaction is held
//! while the handler (and its provider calls) runs.

use super::auth::Auth;
use super::AppState;
use crate::db::idempotency::{self, Begin};
use crate::error::{codes, ApiError};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpResponse, ResponseError};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

fn key_of(req: &ServiceRequest) -> Option<Result<String, ApiError>> {
    let raw = req.headers().get(HEADER)?;
    let valid = raw.to_str().ok().filter(|k| {
        !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..0x7f).contains(&b))
    });
    Some(valid.map(str::to_string).ok_or_else(|| {
        ApiError::hinted(
            codes::INVALID_IDEMPOTENCY_KEY,
            "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
            "Send a fresh random value such as a UUID for each distinct operation.",
        )
    }))
}

fn error(req: ServiceRequest, e: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(e.error_response())
}

pub async fn layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let mutating = matches!(*req.method(), Method::POST | Method::PATCH | Method::DELETE);
    let key = match key_of(&req) {
        Some(Ok(key)) if mutating => key,
        Some(Err(e)) if mutating => return Ok(error(req, e)),
        _ => return pass(req, next).await,
    };
    // Keys are per org: without a caller there is nothing to scope them to, and the
    // handler answers the authentication error itself.
    let Ok(auth) = Auth::from_request(req.request(), &mut actix_web::dev::Payload::None).await
    else {
        return pass(req, next).await;
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(error(
            req,
            ApiError::Internal("AppState is not registered".into()),
        ));
    };
    let body = req.extract::<web::Bytes>().await?;
    let hash = request_hash(&req, &body);
    let org = auth.org_id();
    req.extensions_mut().insert(auth);
    let k = key.clone();
    let begun = state
        .db
        .run(move |c| idempotency::begin(c, org, &k, &hash).map_err(crate::db::DbError::from))
        .await;
    match begun.map_err(ApiError::from).and_then(earlier) {
        Err(e) => return Ok(error(req, e)),
        Ok(Some(replay)) => return Ok(req.into_response(replay)),
        Ok(None) => {}
    }
    req.set_payload(body.into());
    let held = Held { state, org, key };
    match next.call(req).await {
        Ok(res) => Ok(held.save(res).await),
        Err(e) => {
            held.abandon().await;
            Err(e)
        }
    }
}

async fn pass(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// The request as the key promises it: method, URI and body.
fn request_hash(req: &ServiceRequest, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b"\n");
    hasher.update(req.uri().to_string());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// What an earlier use of the key answers: its saved response, a 422 for another request,
/// a 409 while it still runs; `None` when this is the first.
fn earlier(begun: Begin) -> Result<Option<HttpResponse>, ApiError> {
    match begun {
        Begin::Mismatch => Err(ApiError::hinted(
            codes::IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was already used for a different request.",
            "Use a new key for a new operation; reuse a key only to retry the exact same request.",
        )),
        Begin::InProgress => Err(ApiError::InProgress),
        Begin::Replay {
            status,
            content_type,
            body,
        } => {
            let mut resp = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status)
                    .unwrap_or(actix_web::http::StatusCode::OK),
            );
            if let Some(ct) = content_type {
                resp.insert_header((header::CONTENT_TYPE, ct));
            }
            resp.insert_header((REPLAYED, "true"));
            Ok(Some(resp.body(body)))
        }
        Begin::Started => Ok(None),
    }
}

/// A key this request holds until its response is saved or the key is released.
struct Held {
    state: web::Data<AppState>,
    org: i64,
    key: String,
}

impl Held {
    /// Frees the key so the client can retry with it.
    async fn abandon(self) {
        let (org, key) = (self.org, self.key);
        if let Err(e) = self
            .state
            .db
            .query(move |c| idempotency::abandon(c, org, &key))
            .await
        {
            log::warn!("could not release an idempotency key after a failed request: {e}");
        }
    }

    /// Saves the response under the key, unless it is not a result (a 5xx, including a
    /// provider failure that was fully undone, or a rate limit): then the key is freed.
    async fn save(self, res: ServiceResponse<impl MessageBody>) -> ServiceResponse<BoxBody> {
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (http_req, http_res) = res.into_parts();
        let (http_res, body) = http_res.into_parts();
        let Ok(bytes) = actix_web::body::to_bytes(body).await else {
            self.abandon().await;
            return ServiceResponse::new(
                http_req,
                ApiError::Internal("could not read the response body".into()).error_response(),
            );
        };
        if status.is_server_error() || status.as_u16() == 429 {
            self.abandon().await;
        } else {
            let (saved, ct, org, key) = (bytes.clone(), content_type, self.org, self.key);
            let stored = self
                .state
                .db
                .query(move |c| {
                    idempotency::complete(c, org, &key, status.as_u16(), ct.as_deref(), &saved)
                })
                .await;
            if let Err(e) = stored {
                log::warn!("could not store the response of an idempotent request: {e}");
            }
        }
        ServiceResponse::new(http_req, http_res.set_body(bytes).map_into_boxed_body())
    }
}
