//! Changing the org's AI agents (SPEC §7 Agents page): add, rename or re-point, remove.
//! An agent answers the numbers linked to it; that link lives on the number, so an agent
//! still linked cannot be removed (the refusal names the numbers).

use super::views;
use crate::db::{agents, audit};
use crate::error::{codes, ApiError};
use crate::http::auth::Writer;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "super::numbers::nullable")]
    vapi_assistant_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::numbers::nullable")]
    sip_uri: Option<Option<String>>,
}

fn clean(v: Option<Option<String>>) -> Option<Option<String>> {
    v.map(|o| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// Checks the fields an agent may have; names the field at fault.
fn validate(name: Option<&str>, sip: Option<&Option<String>>) -> Result<(), ApiError> {
    use crate::domain::agent::{check_name, check_sip_uri};
    if let Some(n) = name {
        check_name(n).map_err(|m| ApiError::new(codes::INVALID_FIELD, format!("name: {m}")))?;
    }
    if let Some(Some(uri)) = sip {
        check_sip_uri(uri).map_err(|m| {
            ApiError::hinted(
                codes::INVALID_FIELD,
                format!("sipUri: {m}"),
                "Copy the SIP URI from the agent's settings at Vapi, or leave it empty.",
            )
        })?;
    }
    Ok(())
}

fn conflict_or(e: rusqlite::Error) -> ApiError {
    if crate::db::is_unique_violation(&e) {
        ApiError::hinted(
            codes::AGENT_EXISTS,
            "An agent with that name or Vapi assistant id already exists.",
            "Pick another name, or change the existing agent instead.",
        )
    } else {
        e.into()
    }
}

pub async fn create(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let name = b.name.unwrap_or_default();
    let (assistant, sip) = (
        clean(b.vapi_assistant_id).flatten(),
        clean(b.sip_uri).flatten(),
    );
    validate(Some(&name), Some(&sip))?;
    let org = auth.org_id();
    let agent = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let id = agents::insert(&tx, org, name.trim(), assistant.as_deref(), sip.as_deref())
                .map_err(conflict_or)?;
            audit::record(
                &tx,
                auth.audit(
                    "agent.create",
                    format!("agent:{id}"),
                    json!({ "name": name.trim(), "vapiAssistantId": assistant }),
                ),
            )?;
            tx.commit()?;
            Ok(agents::get(c, org, id)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({ "agent": agent.as_ref().map(views::Agent::from) })))
}

pub async fn update(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    let (assistant, sip) = (clean(b.vapi_assistant_id), clean(b.sip_uri));
    validate(b.name.as_deref(), sip.as_ref())?;
    let org = auth.org_id();
    let agent = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let changed = agents::update(
                &tx,
                org,
                id,
                b.name.as_deref(),
                assistant.as_ref().map(|a| a.as_deref()),
                sip.as_ref().map(|s| s.as_deref()),
            )
            .map_err(conflict_or)?;
            if !changed {
                return Err(ApiError::not_found(format!("agent {id}")));
            }
            audit::record(
                &tx,
                auth.audit(
                    "agent.update",
                    format!("agent:{id}"),
                    json!({ "name": b.name, "vapiAssistantId": assistant, "sipUri": sip }),
                ),
            )?;
            tx.commit()?;
            Ok(agents::get(c, org, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "agent": agent.as_ref().map(views::Agent::from) })))
}

pub async fn delete(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let org = auth.org_id();
    state
        .db
        .run(move |c| -> Result<(), ApiError> {
            let tx = c.transaction()?;
            let agent = agents::get(&tx, org, id)?.ok_or_else(|| ApiError::not_found(format!("agent {id}")))?;
            if !agent.numbers.is_empty() {
                return Err(ApiError::hinted(codes::AGENT_LINKED,
                    format!("{} still answers {}.", agent.name, agent.numbers.join(", ")),
                    "Link those numbers to another agent (or unlink them) on the Numbers page first.",
                ));
            }
            agents::delete(&tx, org, id)?;
            audit::record(&tx, auth.audit("agent.delete", format!("agent:{id}"), json!({ "name": agent.name })))?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
