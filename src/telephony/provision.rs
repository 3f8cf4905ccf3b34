//! Buying a number (SPEC §5.3): the one-number rule first, then the saga ensure
//! subaccount → buy → Vapi import → write the row.

use super::steps::{Buy, EnsureSubaccount, NumberCtx, VapiImport, WriteNumber};
use super::Telephony;
use crate::db::{numbers, orgs, sagas};
use crate::domain::{NumberHandler, NumberOrigin, NumberRole, PhoneNumber};
use crate::error::ApiError;
use crate::saga::Saga;
use std::sync::Arc;

pub const KIND: &str = "provision_number";

pub fn saga(t: &Arc<Telephony>) -> Saga<NumberCtx> {
    Saga {
        kind: KIND,
        steps: vec![
            Box::new(EnsureSubaccount(t.clone())),
            Box::new(Buy(t.clone())),
            Box::new(VapiImport(t.clone())),
            Box::new(WriteNumber(t.clone())),
        ],
    }
}

/// What to buy and how to use it.
#[derive(Debug, Clone)]
pub struct Request {
    pub org_id: i64,
    pub phone_number: PhoneNumber,
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub agent_id: Option<i64>,
    pub friendly_name: Option<String>,
    pub actor: String,
    pub user_id: Option<i64>,
}

/// Checks everything that can be checked locally, reserves a slot under the one-number
/// rule (a provisioning in flight counts), then runs the saga. Returns the new number.
pub async fn provision(t: &Arc<Telephony>, req: Request) -> Result<numbers::NumberRow, ApiError> {
    crate::domain::roles::validate_number_assignment(req.role, req.handler)
        .map_err(|m| ApiError::bad_request("invalid_assignment", m))?;
    t.master()?;
    t.require_vapi(req.handler)?;
    let agent = super::agent(t, req.org_id, req.agent_id).await?;
    let mut ctx = NumberCtx {
        org_id: req.org_id,
        e164: req.phone_number.as_str().to_string(),
        role: req.role,
        handler: req.handler,
        origin: NumberOrigin::Managed,
        agent_id: req.agent_id,
        assistant_id: agent.and_then(|a| a.vapi_assistant_id),
        friendly_name: req.friendly_name.clone(),
        actor: req.actor.clone(),
        user_id: req.user_id,
        saga_id: 0,
        account_sid: None,
        provider_account_id: None,
        subaccount_created: false,
        number_sid: None,
        previous_hooks: None,
        vapi_id: None,
        number_id: None,
    };
    let saga = saga(t);
    let saga_id = {
        let _slot = t.provision_slot.lock().await;
        let (org, e164) = (req.org_id, ctx.e164.clone());
        let input = serde_json::json!({
            "phoneNumber": ctx.e164, "role": req.role, "handler": req.handler,
            "agentId": req.agent_id, "friendlyName": req.friendly_name,
        });
        let context = serde_json::to_value(&ctx).unwrap_or_default();
        t.db.run(move |c| -> Result<i64, ApiError> {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let max = orgs::settings(&tx, org)?.map(|s| s.max_managed_numbers).unwrap_or(1);
            let held = numbers::count_active(&tx, org, NumberOrigin::Managed)?
                + sagas::count_unfinished(&tx, org, KIND)?;
            if held >= max {
                return Err(ApiError::conflict(
                    "number_limit_reached",
                    format!("Your organization may hold {max} managed number(s) and already has {held} (or one being set up)."),
                    "Release the managed number you have on the Numbers page first, or ask the appliance operator to raise the limit.",
                ));
            }
            if numbers::is_active(&tx, &e164)? {
                return Err(ApiError::conflict(
                    "number_taken",
                    format!("{e164} is already on this appliance."),
                    "Pick another number from the search results.",
                ));
            }
            let id = sagas::create(&tx, Some(org), KIND, &input, &context)?;
            tx.commit()?;
            Ok(id)
        })
        .await?
    };
    ctx.saga_id = saga_id;
    saga.run(&t.db, saga_id, &mut ctx)
        .await
        .map_err(|f| ApiError::Saga(Box::new(f)))?;
    let id = ctx
        .number_id
        .ok_or_else(|| ApiError::Internal("provisioning completed without a number row".into()))?;
    t.db.query(move |c| numbers::get(c, id))
        .await?
        .ok_or_else(|| ApiError::Internal("the provisioned number vanished".into()))
}
