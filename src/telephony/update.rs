//! Changing a number (SPEC §5.2 PATCH): role, handler, agent link, friendly name, validated
//! per §3.2. A handler change moves the number between the IVR and Vapi at the providers
//! first; the row changes only once they agree, and a failed row write undoes the move.

use super::Telephony;
use crate::db::{audit, numbers};
use crate::domain::{NumberHandler, NumberRole, NumberStatus, PhoneNumber};
use crate::error::ApiError;
use crate::providers::{VapiNumberCreate, VapiNumberUpdate};
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Change {
    pub role: Option<NumberRole>,
    pub handler: Option<NumberHandler>,
    /// `Some(None)` unlinks the agent.
    pub agent_id: Option<Option<i64>>,
    pub friendly_name: Option<Option<String>>,
}

pub async fn update(
    t: &Arc<Telephony>,
    org_id: i64,
    e164: &PhoneNumber,
    change: Change,
    actor: &str,
    user_id: Option<i64>,
) -> Result<numbers::NumberRow, ApiError> {
    let row = super::find(t, org_id, e164).await?;
    if row.status != NumberStatus::Active {
        return Err(ApiError::conflict(
            "number_released",
            format!(
                "{e164} was released on {}.",
                row.released_at.clone().unwrap_or_default()
            ),
            "Import or buy it again to use it.",
        ));
    }
    let role = change.role.unwrap_or(row.role);
    let handler = change.handler.unwrap_or(row.handler);
    crate::domain::roles::validate_number_assignment(role, handler)
        .map_err(|m| ApiError::bad_request("invalid_assignment", m))?;
    if role == NumberRole::System && handler == NumberHandler::Vapi {
        return Err(ApiError::bad_request(
            "invalid_assignment",
            "a system number answers no customer; it cannot be handed to an AI agent. Use handler 'ivr', or give it the 'operational' role.",
        ));
    }
    let agent_id = change.agent_id.unwrap_or(row.agent_id);
    let agent = super::agent(t, org_id, agent_id).await?;
    let assistant = agent.as_ref().and_then(|a| a.vapi_assistant_id.clone());
    let friendly_name = change
        .friendly_name
        .clone()
        .unwrap_or(row.friendly_name.clone());
    t.require_vapi(handler)?;

    // Providers first.
    let mut vapi_id = row.vapi_phone_number_id.clone();
    let mut created_vapi = None;
    match (row.handler, handler) {
        (NumberHandler::Ivr, NumberHandler::Vapi) => {
            let account = t.account(row.account_sid.clone()).await?;
            let created = t
                .providers
                .vapi
                .create_phone_number(&VapiNumberCreate {
                    number: row.e164.clone(),
                    twilio_account_sid: account.account_sid,
                    twilio_auth_token: account.auth_token,
                    name: friendly_name.clone().unwrap_or_else(|| row.e164.clone()),
                    assistant_id: assistant.clone(),
                })
                .await
                .map_err(ApiError::Provider)?;
            vapi_id = Some(created.id.clone());
            created_vapi = Some(created.id);
        }
        (NumberHandler::Vapi, NumberHandler::Ivr) => {
            // Calls come back to the menu: the voice URL must point here again.
            if let Some(sid) = &row.twilio_sid {
                let account = t.account(row.account_sid.clone()).await?;
                let hooks = t.webhooks();
                t.providers
                    .twilio
                    .update_number(&account, sid, &hooks)
                    .await
                    .map_err(ApiError::Provider)?;
            }
            if let Some(id) = &row.vapi_phone_number_id {
                crate::providers::deleted(t.providers.vapi.delete_phone_number(id).await)
                    .map_err(ApiError::Provider)?;
            }
            vapi_id = None;
        }
        (NumberHandler::Vapi, NumberHandler::Vapi) if agent_id != row.agent_id => {
            if let Some(id) = &row.vapi_phone_number_id {
                t.providers
                    .vapi
                    .update_phone_number(
                        id,
                        &VapiNumberUpdate {
                            assistant_id: Some(assistant.clone()),
                            name: None,
                        },
                    )
                    .await
                    .map_err(ApiError::Provider)?;
            }
        }
        _ => {}
    }

    let id = row.id;
    let (e, actor, vid) = (row.e164.clone(), actor.to_string(), vapi_id.clone());
    let before = json!({ "role": row.role, "handler": row.handler, "agentId": row.agent_id, "friendlyName": row.friendly_name });
    let written = t
        .db
        .run(move |c| -> Result<(), ApiError> {
            let tx = c.transaction()?;
            numbers::update(
                &tx,
                id,
                &numbers::Change {
                    role,
                    handler,
                    agent_id,
                    friendly_name: friendly_name.as_deref(),
                    vapi_phone_number_id: vid.as_deref(),
                },
            )
            .map_err(|e| match e {
                crate::db::DbError::Invalid(m) => ApiError::bad_request("invalid_assignment", m),
                other => other.into(),
            })?;
            audit::record(
                &tx,
                audit::Record {
                    org_id: Some(org_id),
                    user_id,
                    actor: &actor,
                    action: "number.update",
                    target: Some(format!("number:{e}")),
                    detail: Some(json!({ "before": before, "after": {
                        "role": role, "handler": handler, "agentId": agent_id, "friendlyName": friendly_name,
                    }})),
                    ip: None,
                },
            )?;
            tx.commit()?;
            Ok(())
        })
        .await;
    if let Err(e) = written {
        if let Some(id) = created_vapi {
            if let Err(undo) = t.providers.vapi.delete_phone_number(&id).await {
                log::error!("could not delete Vapi number {id} after a failed update: {undo}");
            }
        }
        return Err(e);
    }
    t.db.query(move |c| numbers::get(c, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("number {e164}")))
}
