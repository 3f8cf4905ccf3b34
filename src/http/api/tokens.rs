//! API tokens: `POST /api/tokens` (the secret is shown once), `GET /api/tokens`,
//! `DELETE /api/tokens/{id}`. A token acts as the user who created it.

use super::views;
use crate::db::{audit, tokens};
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
}

pub async fn create(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let name = body.into_inner().name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::hinted(
            codes::INVALID_NAME,
            "the token name must be 1 to 100 characters",
            "Name it after what will use it, e.g. \"crm-sync\".",
        ));
    }
    let (token, secret) = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let created = tokens::create(&tx, auth.org_id(), auth.principal.user_id, &name)?;
            let detail = json!({ "name": name, "prefix": created.0.prefix });
            audit::record(
                &tx,
                auth.audit("token.create", format!("token:{}", created.0.id), detail),
            )?;
            tx.commit()?;
            Ok(created)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "token": secret,
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "createdAt": token.created_at,
        "note": "Store this token now: it is shown only once. Send it as 'Authorization: Bearer <token>'.",
    })))
}

/// Owners and admins see every token of the org (to revoke a leaked one); a viewer sees
/// only their own.
pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org_id = auth.org_id();
    let only = (!auth.principal.role.can_write()).then_some(auth.principal.user_id);
    let rows = state
        .db
        .query(move |c| tokens::list_for_org(c, org_id, only))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "tokens": views::all::<_, views::Token>(&rows) })))
}

pub async fn revoke(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let revoked = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let Some(token) = tokens::revoke(&tx, auth.org_id(), id)? else {
                return Ok(None);
            };
            audit::record(
                &tx,
                auth.audit(
                    "token.revoke",
                    format!("token:{id}"),
                    json!({ "name": token.name }),
                ),
            )?;
            tx.commit()?;
            Ok(Some(token))
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("API token {id}")))?;
    Ok(HttpResponse::Ok().json(json!({ "token": views::Token::from(&revoked) })))
}
