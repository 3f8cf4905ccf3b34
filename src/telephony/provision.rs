//! Buying a number (SPEC §5.3): the one-number rule first, then the saga ensure
//! subaccount → buy → Vapi import → write the row.

use super::steps::{Buy, EnsureSubaccount, NumberCtx, VapiImport, WriteNumber};
use super::TelephonyError;
use super::{NumberRequest, Telephony};
use crate::db::{numbers, orgs, sagas};
use crate::domain::NumberOrigin;
use crate::error::codes;
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

/// Checks everything that can be checked locally, reserves a slot under the one-number
/// rule (a provisioning in flight counts), then runs the saga. Returns the new number.
pub async fn provision(
    t: &Arc<Telephony>,
    req: NumberRequest,
) -> Result<numbers::NumberRow, TelephonyError> {
    let mut ctx = t.prepare(&req, NumberOrigin::Managed).await?;
    let saga = saga(t);
    let saga_id = {
        let _slot = t.intake.lock().await;
        let (org, e164) = (req.org_id, ctx.e164.clone());
        let input = serde_json::json!({
            "phoneNumber": ctx.e164, "role": req.role, "handler": req.handler,
            "agentId": req.agent_id, "friendlyName": req.friendly_name,
        });
        let context = serde_json::to_value(&ctx).unwrap_or_default();
        t.db.run(move |c| -> Result<i64, TelephonyError> {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let max = orgs::settings(&tx, org)?.map(|s| s.max_managed_numbers).unwrap_or(1);
            let held = numbers::count_active(&tx, org, NumberOrigin::Managed)?
                + sagas::count_unfinished(&tx, org, KIND)?;
            if held >= max {
                return Err(TelephonyError::refused(codes::NUMBER_LIMIT_REACHED,
                    format!("Your organization may hold {max} managed number(s) and already has {held} (or one being set up)."),
                    "Release the managed number you have on the Numbers page first, or ask the appliance operator to raise the limit.",
                ));
            }
            if numbers::is_active(&tx, &e164)? {
                return Err(TelephonyError::refused(codes::NUMBER_TAKEN,
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
    t.bring_in(&saga, &mut ctx).await
}
