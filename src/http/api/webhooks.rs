//! `/api/webhooks` (SPEC §13): the org's outgoing webhook endpoints — their URL (checked
//! where it resolves), the events they take, on or off, a `whsec_` secret shown once (at
//! creation and on rotation), a test event, and the log of every delivery attempt.

use crate::db::webhooks::{self, EVENTS};
use crate::error::{codes, ApiError};
use crate::frontdesk::webhooks::{check_url, new_secret, SECRET_CONTEXT};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

fn bad(message: String) -> ApiError {
    ApiError::new(codes::INVALID_FIELD, message)
}

async fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    check_url(url, state.config.webhooks_allow_private)
        .await
        .map_err(|e| bad(format!("url: {e}")))?;
    Ok(url.to_string())
}

fn checked_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(bad(format!(
            "events: choose at least one of {}",
            EVENTS.join(", ")
        )));
    }
    let mut out = Vec::new();
    for e in events {
        if !EVENTS.contains(&e.as_str()) {
            return Err(bad(format!(
                "events: '{e}' is not one of {}",
                EVENTS.join(", ")
            )));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

async fn endpoint(state: &AppState, org: i64, id: i64) -> Result<webhooks::Endpoint, ApiError> {
    state
        .db
        .query(move |c| webhooks::get(c, org, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("webhook endpoint {id}")))
}

pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let endpoints = state.db.query(move |c| webhooks::list(c, org)).await?;
    Ok(HttpResponse::Ok().json(json!({ "endpoints": endpoints, "events": EVENTS })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: String,
}

pub async fn create(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let b = body.into_inner();
    let url = checked_url(&state, &b.url).await?;
    let events = checked_events(&b.events)?;
    let secret = new_secret();
    let sealed = state.desk.secret_key.encrypt(&secret, SECRET_CONTEXT);
    let description: String = b.description.trim().chars().take(200).collect();
    let created = state
        .db
        .query(move |c| {
            let id = webhooks::create(c, org, &url, &events, &description, &sealed)?;
            webhooks::get(c, org, id)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "endpoint": created,
        "secret": secret,
        "note": "Keep this secret: it is shown only now. Verify each delivery's webhook-signature with it.",
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    enabled: Option<bool>,
    description: Option<String>,
}

pub async fn patch(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (auth.org_id(), path.into_inner());
    let b = body.into_inner();
    let mut ep = endpoint(&state, org, id).await?;
    if let Some(url) = &b.url {
        ep.url = checked_url(&state, url).await?;
    }
    if let Some(events) = &b.events {
        ep.events = checked_events(events)?;
    }
    if let Some(on) = b.enabled {
        ep.enabled = on;
    }
    if let Some(d) = &b.description {
        ep.description = d.trim().chars().take(200).collect();
    }
    let saved = ep.clone();
    state
        .db
        .query(move |c| webhooks::update(c, org, &saved))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "endpoint": ep })))
}

pub async fn delete(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (auth.org_id(), path.into_inner());
    if !state
        .db
        .query(move |c| webhooks::delete(c, org, id))
        .await?
    {
        return Err(ApiError::not_found(format!("webhook endpoint {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A new secret, shown once; the old one stops signing at once.
pub async fn rotate(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (auth.org_id(), path.into_inner());
    let mut ep = endpoint(&state, org, id).await?;
    let secret = new_secret();
    ep.sealed_secret = state.desk.secret_key.encrypt(&secret, SECRET_CONTEXT);
    state
        .db
        .query(move |c| webhooks::update(c, org, &ep))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "secret": secret })))
}

/// Queues a `webhook.test` delivery to the endpoint, whatever events it takes.
pub async fn test(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (auth.org_id(), path.into_inner());
    endpoint(&state, org, id).await?;
    let now = crate::db::format_time(state.desk.clock.now());
    let message_id = state
        .db
        .query(move |c| webhooks::emit_test(c, id, org, &now))
        .await?;
    state.desk.notices_queued();
    Ok(HttpResponse::Accepted().json(json!({ "messageId": message_id })))
}

pub async fn deliveries(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (auth.org_id(), path.into_inner());
    endpoint(&state, org, id).await?;
    let attempts = state
        .db
        .query(move |c| webhooks::attempts(c, org, id, 100))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "attempts": attempts })))
}
