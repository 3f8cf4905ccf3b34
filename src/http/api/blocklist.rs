//! The org's blocklist (SPEC §3.9): `GET/POST /api/blocklist`, `DELETE /api/blocklist/{id}`.
//! A blocked caller hears a busy signal and is never texted; a blocked sender's texts are
//! kept but never answered. Adding and removing are audited.

use crate::db::audit;
use crate::db::blocklist::{self, Entry, Pattern};
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    number: Option<String>,
    prefix: Option<String>,
    #[serde(default)]
    note: String,
}

fn view(e: &Entry) -> Value {
    json!({
        "id": e.id,
        "number": e.number,
        "prefix": e.prefix,
        "note": e.note,
        "createdBy": e.created_by,
        "createdAt": e.created_at,
    })
}

/// The one thing an entry blocks, from the request; the error names the field to fix.
fn pattern(number: Option<&str>, prefix: Option<&str>, country: &str) -> Result<Pattern, ApiError> {
    Pattern::parse(number, prefix, country).map_err(|e| {
        ApiError::hinted(
            codes::INVALID_FIELD,
            format!("{}: {}", e.field, e.message),
            e.hint,
        )
    })
}

pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let entries = state.db.query(move |c| blocklist::list(c, org)).await?;
    Ok(HttpResponse::Ok().json(json!({ "entries": entries.iter().map(view).collect::<Vec<_>>() })))
}

/// Adds an entry: 201 with it, or 200 with the one already there (blocking twice is
/// harmless, so a double click or a retry changes nothing).
pub async fn add(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<NewEntry>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let org = auth.org_id();
    let country = state
        .db
        .query(move |c| crate::db::orgs::country(c, org))
        .await?;
    let pattern = pattern(b.number.as_deref(), b.prefix.as_deref(), &country)?;
    let note = b.note.trim().chars().take(200).collect::<String>();
    let (entry, created) = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let added = blocklist::add(&tx, org, &pattern, &note, &auth.principal.email)?;
            let out = match added {
                Some(e) => {
                    audit::record(
                        &tx,
                        auth.audit("blocklist.add", format!("blocklist:{}", e.id), view(&e)),
                    )?;
                    (e, true)
                }
                None => (
                    blocklist::find(&tx, org, &pattern)?
                        .ok_or_else(|| ApiError::Internal("a blocklist entry vanished".into()))?,
                    false,
                ),
            };
            tx.commit()?;
            Ok(out)
        })
        .await?;
    let body = json!({ "entry": view(&entry), "alreadyBlocked": !created });
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Removes an entry (the undo of "Block this caller").
pub async fn remove(
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
            let entry = blocklist::get(&tx, org, id)?
                .ok_or_else(|| ApiError::not_found(format!("blocklist entry {id}")))?;
            blocklist::remove(&tx, org, id)?;
            audit::record(
                &tx,
                auth.audit("blocklist.remove", format!("blocklist:{id}"), view(&entry)),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
