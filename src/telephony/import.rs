//! Bring your own number (SPEC §5.2): list the Twilio account's numbers this appliance does
//! not hold yet, and take one over — point its webhooks here (read back and compared),
//! import it into Vapi when the AI answers it, write the row with `origin=imported`.

use super::steps::{NumberCtx, PointWebhooks, VapiImport, WriteNumber};
use super::TelephonyError;
use super::{NumberRequest, Telephony};
use crate::db::numbers;
use crate::domain::NumberOrigin;
use crate::error::codes;
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

pub async fn importable(t: &Telephony) -> Result<Vec<Importable>, TelephonyError> {
    let master = t.master()?;
    let owned = t
        .providers
        .twilio
        .list_numbers(&master)
        .await
        .map_err(TelephonyError::Provider)?;
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

pub async fn import(
    t: &Arc<Telephony>,
    req: NumberRequest,
) -> Result<numbers::NumberRow, TelephonyError> {
    let mut ctx = t.prepare(&req, NumberOrigin::Imported).await?;
    let master = t.master()?;
    // One import at a time: two imports of one number would each undo the other's
    // webhooks on failure.
    let _one_at_a_time = t.intake.lock().await;
    let e164 = ctx.e164.clone();
    let check = e164.clone();
    if t.db.query(move |c| numbers::is_active(c, &check)).await? {
        return Err(TelephonyError::refused(
            codes::NUMBER_TAKEN,
            format!("{e164} is already on this appliance."),
            "Change it on the Numbers page instead of importing it again.",
        ));
    }
    let owned = t
        .providers
        .twilio
        .list_numbers(&master)
        .await
        .map_err(TelephonyError::Provider)?;
    let Some(found) = owned.into_iter().find(|n| n.phone_number == e164) else {
        return Err(TelephonyError::NotFound(format!(
            "{e164} in the Twilio account {}",
            master.account_sid
        )));
    };
    ctx.friendly_name = ctx.friendly_name.or(found.friendly_name);
    ctx.number_sid = Some(found.sid);
    ctx.previous_hooks = Some((found.voice_url, found.sms_url, found.status_callback));
    let saga = saga(t);
    let input = serde_json::json!({
        "phoneNumber": e164, "role": req.role, "handler": req.handler, "agentId": req.agent_id,
    });
    ctx.saga_id = saga.create(&t.db, Some(req.org_id), input, &ctx).await?;
    t.bring_in(&saga, &mut ctx).await
}
