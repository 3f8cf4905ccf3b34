//! Changing a number (SPEC §5.2 PATCH): role, handler, agent link, friendly name, validated
//! per §3.2. A handler change moves the number between the IVR and Vapi at the providers
//! first; the row changes only once they agree, and a failed row write undoes the move.

use super::Telephony;
use super::TelephonyError;
use crate::db::{audit, numbers};
use crate::domain::{NumberHandler, NumberRole, NumberStatus, PhoneNumber};
use crate::error::codes;
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

/// What the number becomes: the change applied to its row.
struct Target {
    role: NumberRole,
    handler: NumberHandler,
    agent_id: Option<i64>,
    friendly_name: Option<String>,
    /// The agent's Vapi assistant, for a number Vapi answers.
    assistant: Option<String>,
}

pub async fn update(
    t: &Arc<Telephony>,
    org_id: i64,
    e164: &PhoneNumber,
    change: Change,
    actor: &str,
    user_id: Option<i64>,
) -> Result<numbers::NumberRow, TelephonyError> {
    let row = super::find(t, org_id, e164).await?;
    let target = target(t, org_id, &row, change).await?;
    // Providers first.
    let (vapi_id, created_vapi) = move_at_providers(t, &row, &target).await?;
    let written = write(t, org_id, &row, &target, vapi_id, actor, user_id).await;
    if let Err(e) = written {
        if let Some(id) = created_vapi {
            if let Err(undo) = t.providers.vapi.delete_phone_number(&id).await {
                log::error!("could not delete Vapi number {id} after a failed update: {undo}");
            }
        }
        return Err(e);
    }
    let id = row.id;
    t.db.query(move |c| numbers::get(c, id))
        .await?
        .ok_or_else(|| TelephonyError::NotFound(format!("number {e164}")))
}

/// The change applied to the row, validated (SPEC §3.2): an active number, a role and
/// handler that go together, an agent of the org, Vapi configured if it is to answer.
async fn target(
    t: &Arc<Telephony>,
    org_id: i64,
    row: &numbers::NumberRow,
    change: Change,
) -> Result<Target, TelephonyError> {
    if row.status != NumberStatus::Active {
        return Err(TelephonyError::refused(
            codes::NUMBER_RELEASED,
            format!(
                "{} was released on {}.",
                row.e164,
                row.released_at.clone().unwrap_or_default()
            ),
            "Import or buy it again to use it.",
        ));
    }
    let role = change.role.unwrap_or(row.role);
    let handler = change.handler.unwrap_or(row.handler);
    crate::domain::roles::validate_number_assignment(role, handler)
        .map_err(|m| TelephonyError::invalid(codes::INVALID_ASSIGNMENT, m))?;
    if role == NumberRole::System && handler == NumberHandler::Vapi {
        return Err(TelephonyError::invalid(codes::INVALID_ASSIGNMENT,
            "a system number answers no customer; it cannot be handed to an AI agent. Use handler 'ivr', or give it the 'operational' role.",
        ));
    }
    let agent_id = change.agent_id.unwrap_or(row.agent_id);
    let agent = super::agent(t, org_id, agent_id).await?;
    t.require_vapi(handler)?;
    Ok(Target {
        role,
        handler,
        agent_id,
        friendly_name: change.friendly_name.unwrap_or(row.friendly_name.clone()),
        assistant: agent.and_then(|a| a.vapi_assistant_id),
    })
}

/// Moves the number between the IVR and Vapi at the providers (or relinks its assistant):
/// its Vapi number id after the move, and the one created by it (undone if the row write
/// fails).
async fn move_at_providers(
    t: &Arc<Telephony>,
    row: &numbers::NumberRow,
    to: &Target,
) -> Result<(Option<String>, Option<String>), TelephonyError> {
    match (row.handler, to.handler) {
        (NumberHandler::Ivr, NumberHandler::Vapi) => {
            let account = t.account(row.account_sid.clone()).await?;
            let created = t
                .providers
                .vapi
                .create_phone_number(&VapiNumberCreate {
                    number: row.e164.clone(),
                    twilio_account_sid: account.account_sid,
                    twilio_auth_token: account.auth_token,
                    name: to.friendly_name.clone().unwrap_or_else(|| row.e164.clone()),
                    assistant_id: to.assistant.clone(),
                })
                .await
                .map_err(TelephonyError::Provider)?;
            Ok((Some(created.id.clone()), Some(created.id)))
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
                    .map_err(TelephonyError::Provider)?;
            }
            if let Some(id) = &row.vapi_phone_number_id {
                crate::providers::deleted(t.providers.vapi.delete_phone_number(id).await)
                    .map_err(TelephonyError::Provider)?;
            }
            Ok((None, None))
        }
        (NumberHandler::Vapi, NumberHandler::Vapi) if to.agent_id != row.agent_id => {
            if let Some(id) = &row.vapi_phone_number_id {
                let relink = VapiNumberUpdate {
                    assistant_id: Some(to.assistant.clone()),
                    name: None,
                };
                t.providers
                    .vapi
                    .update_phone_number(id, &relink)
                    .await
                    .map_err(TelephonyError::Provider)?;
            }
            Ok((row.vapi_phone_number_id.clone(), None))
        }
        _ => Ok((row.vapi_phone_number_id.clone(), None)),
    }
}

/// The row and its audit record, in one transaction.
async fn write(
    t: &Arc<Telephony>,
    org_id: i64,
    row: &numbers::NumberRow,
    to: &Target,
    vapi_id: Option<String>,
    actor: &str,
    user_id: Option<i64>,
) -> Result<(), TelephonyError> {
    let (id, e, actor) = (row.id, row.e164.clone(), actor.to_string());
    let (role, handler, agent_id, friendly_name) =
        (to.role, to.handler, to.agent_id, to.friendly_name.clone());
    let before = json!({ "role": row.role, "handler": row.handler, "agentId": row.agent_id, "friendlyName": row.friendly_name });
    t.db.run(move |c| -> Result<(), TelephonyError> {
        let tx = c.transaction()?;
        numbers::update(
            &tx,
            id,
            &numbers::Change {
                role,
                handler,
                agent_id,
                friendly_name: friendly_name.as_deref(),
                vapi_phone_number_id: vapi_id.as_deref(),
            },
        )
        .map_err(|e| match e {
            crate::db::DbError::Invalid(m) => TelephonyError::invalid(codes::INVALID_ASSIGNMENT, m),
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
    .await
}
