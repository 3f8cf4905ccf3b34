//! Org-scoped read endpoints: numbers, agents, the audit log.

use super::{views, Paging};
use crate::db::{agents, audit, numbers};
use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NumbersQuery {
    include_released: Option<bool>,
}

pub async fn numbers(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<NumbersQuery>,
) -> Result<HttpResponse, ApiError> {
    let org_id = auth.org_id();
    let include_released = q.include_released.unwrap_or(false);
    views::displayed_query(&state.db, org_id, move |c| {
        let rows = numbers::list_for_org(c, org_id, include_released)?;
        Ok(json!({ "numbers": views::all::<_, views::Number>(&rows) }))
    })
    .await
}

pub async fn agents(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org_id = auth.org_id();
    let rows = state
        .db
        .query(move |c| agents::list_for_org(c, org_id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "agents": views::all::<_, views::Agent>(&rows) })))
}

pub async fn agent(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, id) = (auth.org_id(), path.into_inner());
    let agent = state
        .db
        .query(move |c| agents::get(c, org_id, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {id}")))?;
    Ok(HttpResponse::Ok().json(json!({ "agent": views::Agent::from(&agent) })))
}

pub async fn audit(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, limit, before) = (auth.org_id(), q.limit(), q.before);
    let rows = state
        .db
        .query(move |c| audit::list(c, org_id, limit, before))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "entries": views::all::<_, views::AuditEntry>(&rows) })))
}
