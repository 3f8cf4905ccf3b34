//! `Idempotency-Key` on every API `POST`/`PATCH`/`DELETE` (SPEC §6.2), as middleware over
//! `/api`: a replay with the same request answers the saved response with
//! `Idempotent-Replayed: true`; the same key with another request is a 422; a duplicate
//! while the first still runs is a 409 with `Retry-After`. No database transaction is held
//! while the handler (and its provider calls) runs.

use super::auth::Auth;
use super::AppState;
use crate::db::idempotency::{self, Begin};
use crate::error::ApiError;
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
        ApiError::bad_request_hint(
            "invalid_idempotency_key",
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
        _ => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
    };
    // Keys are per org: without a caller there is nothing to scope them to, and the
    // handler answers the authentication error itself.
    let auth = match Auth::from_request(req.request(), &mut actix_web::dev::Payload::None).await {
        Ok(auth) => auth,
        Err(_) => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(error(
            req,
            ApiError::Internal("AppState is not registered".into()),
        ));
    };
    let body = req.extract::<web::Bytes>().await?;
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b"\n");
    hasher.update(req.uri().to_string());
    hasher.update(b"\n");
    hasher.update(&body);
    let hash = hex::encode(hasher.finalize());
    let org = auth.org_id();
    req.extensions_mut().insert(auth);
    let k = key.clone();
    let begun = state
        .db
        .run(move |c| idempotency::begin(c, org, &k, &hash).map_err(crate::db::DbError::from))
        .await;
    match begun {
        Err(e) => return Ok(error(req, e.into())),
        Ok(Begin::Mismatch) => {
            return Ok(error(
                req,
                ApiError::Unprocessable {
                    code: "idempotency_key_reused",
                    message: "This Idempotency-Key was already used for a different request.".into(),
                    hint: Some("Use a new key for a new operation; reuse a key only to retry the exact same request.".into()),
                },
            ))
        }
        Ok(Begin::InProgress) => return Ok(error(req, ApiError::InProgress)),
        Ok(Begin::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut resp = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
            );
            if let Some(ct) = content_type {
                resp.insert_header((header::CONTENT_TYPE, ct));
            }
            resp.insert_header((REPLAYED, "true"));
            return Ok(req.into_response(resp.body(body)));
        }
        Ok(Begin::Started) => {}
    }
    req.set_payload(body.into());
    let res = next.call(req).await;
    let abandon = |state: web::Data<AppState>, key: String| async move {
        if let Err(e) = state
            .db
            .query(move |c| idempotency::abandon(c, org, &key))
            .await
        {
            log::warn!("could not release an idempotency key after a failed request: {e}");
        }
    };
    let res = match res {
        Ok(res) => res,
        Err(e) => {
            abandon(state, key).await;
            return Err(e);
        }
    };
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (http_req, http_res) = res.into_parts();
    let (http_res, body) = http_res.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            abandon(state, key).await;
            return Ok(ServiceResponse::new(
                http_req,
                ApiError::Internal("could not read the response body".into()).error_response(),
            ));
        }
    };
    // A server-side failure (5xx, incl. a provider failure that was fully undone) or a
    // rate limit is not a result: the key is freed so the client can retry with it.
    if status.is_server_error() || status.as_u16() == 429 {
        abandon(state, key).await;
    } else {
        let (saved, ct) = (bytes.clone(), content_type);
        let stored = state
            .db
            .query(move |c| {
                idempotency::complete(c, org, &key, status.as_u16(), ct.as_deref(), &saved)
            })
            .await;
        if let Err(e) = stored {
            log::warn!("could not store the response of an idempotent request: {e}");
        }
    }
    Ok(ServiceResponse::new(
        http_req,
        http_res.set_body(bytes).map_into_boxed_body(),
    ))
}
