//! The owner's inbox: voicemails, messages and leads (SPEC §1 read API), and marking them
//! handled.

use super::Paging;
use crate::db::{audit, leads, messages, voicemails};
use crate::error::ApiError;
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailQuery {
    handled: Option<bool>,
    limit: Option<u32>,
    before: Option<i64>,
}

pub async fn voicemails(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<VoicemailQuery>,
) -> Result<HttpResponse, ApiError> {
    let (org, handled, before, limit) = (
        auth.org_id(),
        q.handled,
        q.before,
        Paging {
            limit: q.limit,
            before: None,
        }
        .limit(),
    );
    let rows = state
        .db
        .query(move |c| voicemails::list(c, org, handled, before, limit))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "voicemails": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandledBody {
    handled: bool,
}

pub async fn update_voicemail(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<HandledBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, handled) = (path.into_inner(), body.handled);
    let vm = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let vm =
                voicemails::set_handled(&tx, auth.org_id(), id, handled, auth.principal.user_id)?;
            if vm.is_some() {
                audit::record(
                    &tx,
                    auth.audit(
                        "voicemail.update",
                        format!("voicemail:{id}"),
                        json!({ "handled": handled }),
                    ),
                )?;
            }
            tx.commit()?;
            Ok(vm)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("voicemail {id}")))?;
    Ok(HttpResponse::Ok().json(json!({ "voicemail": vm })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessagesQuery {
    lead_id: Option<i64>,
    limit: Option<u32>,
    before: Option<i64>,
}

pub async fn messages(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let (org, lead, before, limit) = (
        auth.org_id(),
        q.lead_id,
        q.before,
        Paging {
            limit: q.limit,
            before: None,
        }
        .limit(),
    );
    let rows = state
        .db
        .query(move |c| messages::list(c, org, lead, before, limit))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "messages": rows })))
}

pub async fn leads(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let (org, before, limit) = (auth.org_id(), q.before, q.limit());
    let rows = state
        .db
        .query(move |c| leads::list(c, org, before, limit))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "leads": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadBody {
    status: String,
}

pub async fn update_lead(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<LeadBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let status = body.into_inner().status;
    if !matches!(status.as_str(), "open" | "handled") {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("status '{status}' is not one of: open, handled"),
        ));
    }
    let lead = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            if !leads::set_status(&tx, auth.org_id(), id, &status)? {
                return Ok(None);
            }
            audit::record(
                &tx,
                auth.audit(
                    "lead.update",
                    format!("lead:{id}"),
                    json!({ "status": status }),
                ),
            )?;
            let lead = leads::get(&tx, auth.org_id(), id)?;
            tx.commit()?;
            Ok(lead)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("lead {id}")))?;
    Ok(HttpResponse::Ok().json(json!({ "lead": lead })))
}
