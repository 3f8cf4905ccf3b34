//! `GET /api/todo`: the Overview's one list of what to do (missed calls not followed up,
//! AI calls that asked for a call back, voicemails not handled, open conversations), and
//! `POST /api/calls/{id}/follow-up` to mark a call done.

use super::views;
use crate::db::{audit, todo};
use crate::error::ApiError;
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let now = state.desk.clock.now();
    views::displayed_query(&state.db, org, move |c| {
        let items: Vec<_> = todo::open(c, org, now)?
            .iter()
            .map(|i| {
                let link = match i.kind {
                    "missed_call" | "ai_callback" => format!("#calls/{}", i.id),
                    "voicemail" => format!("#voicemail/{}", i.id),
                    _ => format!("#leads/{}", i.id),
                };
                json!({ "kind": i.kind, "id": i.id, "at": i.at, "caller": i.caller, "text": i.text, "link": link })
            })
            .collect();
        Ok(json!({ "count": items.len(), "items": items }))
    })
    .await
}

/// Marks a missed call (or an AI call-back request) followed up: it leaves the list.
pub async fn follow_up(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let org = auth.org_id();
    state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            if !todo::follow_up(&tx, org, id)? {
                return Err(ApiError::not_found(format!("call {id}")));
            }
            audit::record(
                &tx,
                auth.audit("call.follow_up", format!("call:{id}"), json!({})),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
