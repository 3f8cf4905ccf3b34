//! Bring your own number (SPEC §5.2): list the Twilio account's numbers this appliance does
//! not hold yet, and take one over — point its webhooks here (read back and compared),
//! import it into Vapi when the AI answers it, write the row with `origin=imported`.

use super::steps::{NumberCtx, PointWebhooks, VapiImport, WriteNumber};
use super::Telephony;
use crate::db::{numbers, sagas};
use crate::domain::{NumberHandler, NumberOrigin, NumberRole, PhoneNumber};
use crate::error::ApiError;
use crate::saga::Saga;
use serde::Serialize;
use std::sync::Arc;

pub const KIND: &str = "import_number";

pub fn saga(t: &Arc<Telephony>) -> Saga<NumberCtx> {
    Saga {
        kind: KIND,
        steps: vec![
            Box::new(PointWebhooks(t.clone())),
            Box::new(VapiImport(t.clone())),
            Box::new(WriteNumber(t.clone())),
        ],
    }
}

/// A number of the Twilio account that is not on this appliance yet.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Importable {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    /// Its voice webhook already points at this appliance.
    pub points_here: bool,
}

pub async fn importable(t: &Telephony) -> Result<Vec<Importable>, ApiError> {
    let master = t.master()?;
    let owned = t
        .providers
        .twilio
        .list_numbers(&master)
        .await
        .map_err(ApiError::Provider)?;
    let held = t.db.query(|c| numbers::active_e164s(c)).await?;
    let hooks = t.webhooks();
    let mut out: Vec<Importable> = owned
        .into_iter()
        .filter(|n| !held.contains(&n.phone_number))
        .map(|n| Importable {
            points_here: n.voice_url.as_deref() == Some(hooks.voice_url.as_str()),
            sid: n.sid,
            phone_number: n.phone_number,
            friendly_name: n.friendly_name,
            voice_url: n.voice_url,
        })
        .collect();
    out.sort_by(|a, b| a.phone_number.cmp(&b.phone_number));
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct Request {
    pub org_id: i64,
    pub e164: PhoneNumber,
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub agent_id: Option<i64>,
    pub friendly_name: Option<String>,
    pub actor: String,
    pub user_id: Option<i64>,
}

pub async fn import(t: &Arc<Telephony>, req: Request) -> Result<numbers::NumberRow, ApiError> {
    crate::domain::roles::validate_number_assignment(req.role, req.handler)
        .map_err(|m| ApiError::bad_request("invalid_assignment", m))?;
    let master = t.master()?;
    t.require_vapi(req.handler)?;
    let agent = super::agent(t, req.org_id, req.agent_id).await?;
    // One import at a time: two imports of one number would each undo the other's
    // webhooks on failure.
    let _one_at_a_time = t.provision_slot.lock().await;
    let e164 = req.e164.as_str().to_string();
    let check = e164.clone();
    if t.db.query(move |c| numbers::is_active(c, &check)).await? {
        return Err(ApiError::conflict(
            "number_taken",
            format!("{e164} is already on this appliance."),
            "Change it on the Numbers page instead of importing it again.",
        ));
    }
    let owned = t
        .providers
        .twilio
        .list_numbers(&master)
        .await
        .map_err(ApiError::Provider)?;
    let Some(found) = owned.into_iter().find(|n| n.phone_number == e164) else {
        return Err(ApiError::not_found(format!(
            "{e164} in the Twilio account {}",
            master.account_sid
        )));
    };
    let mut ctx = NumberCtx {
        org_id: req.org_id,
        e164: e164.clone(),
        role: req.role,
        handler: req.handler,
        origin: NumberOrigin::Imported,
        agent_id: req.agent_id,
        assistant_id: agent.and_then(|a| a.vapi_assistant_id),
        friendly_name: req.friendly_name.clone().or(found.friendly_name.clone()),
        actor: req.actor.clone(),
        user_id: req.user_id,
        saga_id: 0,
        account_sid: None,
        provider_account_id: None,
        subaccount_created: false,
        number_sid: Some(found.sid.clone()),
        previous_hooks: Some((found.voice_url, found.sms_url, found.status_callback)),
        vapi_id: None,
        number_id: None,
    };
    let saga = saga(t);
    let input = serde_json::json!({
        "phoneNumber": e164, "role": req.role, "handler": req.handler, "agentId": req.agent_id,
    });
    let context = serde_json::to_value(&ctx).unwrap_or_default();
    let org = req.org_id;
    ctx.saga_id =
        t.db.query(move |c| sagas::create(c, Some(org), KIND, &input, &context))
            .await?;
    saga.run(&t.db, ctx.saga_id, &mut ctx)
        .await
        .map_err(|f| ApiError::Saga(Box::new(f)))?;
    let id = ctx
        .number_id
        .ok_or_else(|| ApiError::Internal("import completed without a number row".into()))?;
    t.db.query(move |c| numbers::get(c, id))
        .await?
        .ok_or_else(|| ApiError::Internal("the imported number vanished".into()))
}
