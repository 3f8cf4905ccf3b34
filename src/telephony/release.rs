//! Releasing a number (SPEC §5.4): Vapi delete → Twilio release → close the emptied
//! subaccount → one DB transaction (released, agent unlinked, stored credentials gone,
//! audit row). Every step is idempotent ("404 = already gone"), so a failed or interrupted
//! release is finished by running it again, and releasing twice answers the same.
//!
//! A number the business brought (`imported`) stays in its own Twilio account: releasing
//! it here only stops this appliance from answering it.

use super::Telephony;
use super::TelephonyError;
use crate::db::{audit, numbers, provider_accounts};
use crate::domain::{NumberOrigin, NumberStatus, PhoneNumber};
use crate::saga::{Saga, Step, StepError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

pub const KIND: &str = "release_number";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseCtx {
    pub org_id: i64,
    pub number_id: i64,
    pub e164: String,
    pub origin: NumberOrigin,
    pub twilio_sid: Option<String>,
    pub account_sid: Option<String>,
    pub provider_account_id: Option<i64>,
    pub vapi_id: Option<String>,
    /// The managed subaccount holds nothing else and is closed with this number.
    pub close_subaccount: bool,
    pub agent: Option<(i64, String)>,
    pub actor: String,
    pub user_id: Option<i64>,
}

pub fn saga(t: &Arc<Telephony>) -> Saga<ReleaseCtx> {
    Saga {
        kind: KIND,
        steps: vec![
            Box::new(VapiDelete(t.clone())),
            Box::new(TwilioRelease(t.clone())),
            Box::new(CloseSubaccount(t.clone())),
            Box::new(WriteRelease(t.clone())),
        ],
    }
}

fn gone_is_fine(r: Result<(), crate::providers::ProviderError>) -> Result<(), StepError> {
    crate::providers::deleted(r)?;
    Ok(())
}

struct VapiDelete(Arc<Telephony>);

#[async_trait]
impl Step<ReleaseCtx> for VapiDelete {
    fn name(&self) -> &'static str {
        "vapi_delete"
    }
    async fn run(&self, ctx: &mut ReleaseCtx) -> Result<(), StepError> {
        match &ctx.vapi_id {
            Some(id) => gone_is_fine(self.0.providers.vapi.delete_phone_number(id).await),
            None => Ok(()),
        }
    }
    fn completes_on_recovery(&self) -> bool {
        true
    }
}

struct TwilioRelease(Arc<Telephony>);

#[async_trait]
impl Step<ReleaseCtx> for TwilioRelease {
    fn name(&self) -> &'static str {
        "twilio_release"
    }
    async fn run(&self, ctx: &mut ReleaseCtx) -> Result<(), StepError> {
        let (NumberOrigin::Managed, Some(sid)) = (ctx.origin, &ctx.twilio_sid) else {
            return Ok(());
        };
        let account = super::steps::creds(&self.0, ctx.account_sid.clone()).await?;
        gone_is_fine(self.0.providers.twilio.release_number(&account, sid).await)
    }
    fn completes_on_recovery(&self) -> bool {
        true
    }
}

struct CloseSubaccount(Arc<Telephony>);

#[async_trait]
impl Step<ReleaseCtx> for CloseSubaccount {
    fn name(&self) -> &'static str {
        "close_subaccount"
    }
    async fn run(&self, ctx: &mut ReleaseCtx) -> Result<(), StepError> {
        let (true, Some(sid)) = (ctx.close_subaccount, &ctx.account_sid) else {
            return Ok(());
        };
        let master = super::steps::creds(&self.0, None).await?;
        gone_is_fine(self.0.providers.twilio.close_subaccount(&master, sid).await)
    }
    fn completes_on_recovery(&self) -> bool {
        true
    }
}

struct WriteRelease(Arc<Telephony>);

#[async_trait]
impl Step<ReleaseCtx> for WriteRelease {
    fn name(&self) -> &'static str {
        "write_release"
    }
    async fn run(&self, ctx: &mut ReleaseCtx) -> Result<(), StepError> {
        let c2 = ctx.clone();
        self.0
            .db
            .run(move |c| -> Result<(), StepError> {
                let tx = c.transaction()?;
                numbers::mark_released(&tx, c2.number_id)?;
                if let (true, Some(account)) = (c2.close_subaccount, c2.provider_account_id) {
                    provider_accounts::close(&tx, account)?;
                }
                audit::record(
                    &tx,
                    audit::Record {
                        org_id: Some(c2.org_id),
                        user_id: c2.user_id,
                        actor: &c2.actor,
                        action: "number.release",
                        target: Some(format!("number:{}", c2.e164)),
                        detail: Some(json!({
                            "origin": c2.origin, "unlinkedAgent": c2.agent.as_ref().map(|a| &a.1),
                            "subaccountClosed": c2.close_subaccount,
                        })),
                        ip: None,
                    },
                )?;
                tx.commit()?;
                Ok(())
            })
            .await
    }
    fn completes_on_recovery(&self) -> bool {
        true
    }
}

/// What a release would carry out, in words, for `?dryRun=true`, the dashboard and the CLI.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub steps: Vec<PlanStep>,
    pub agents_to_unlink: Vec<AgentRef>,
}

#[derive(Debug, Serialize)]
pub struct PlanStep {
    pub step: &'static str,
    pub description: String,
}

#[derive(Debug, Serialize)]
pub struct AgentRef {
    pub id: i64,
    pub name: String,
}

fn plan(ctx: &ReleaseCtx) -> Plan {
    let mut steps = Vec::new();
    let mut step = |step, description: String| steps.push(PlanStep { step, description });
    if let Some(id) = &ctx.vapi_id {
        step(
            "vapi_delete",
            format!("Delete the number from Vapi (id {id}); the AI stops answering it."),
        );
    }
    match (ctx.origin, &ctx.twilio_sid) {
        (NumberOrigin::Managed, Some(sid)) => step("twilio_release", format!("Release {} ({sid}) at Twilio; billing for it stops and it cannot be got back.", ctx.e164)),
        (NumberOrigin::Imported, _) => step("twilio_keep", format!("Keep {} in your own Twilio account; point its webhooks elsewhere in the Twilio console if you use it again.", ctx.e164)),
        _ => {}
    }
    if ctx.close_subaccount {
        step("close_subaccount", "Close the organization's Twilio subaccount, which holds no other number, and delete its stored credentials.".into());
    }
    step(
        "write_release",
        "Mark the number released, unlink its agent; calls to it are rejected from then on.".into(),
    );
    let agents_to_unlink = ctx
        .agent
        .iter()
        .map(|(id, name)| AgentRef {
            id: *id,
            name: name.clone(),
        })
        .collect();
    Plan {
        steps,
        agents_to_unlink,
    }
}

/// What a release answered.
pub enum Outcome {
    /// A dry run: the number and what releasing it would do (nothing, when it already is).
    Plan {
        number: Box<numbers::NumberRow>,
        plan: Plan,
        already_released: bool,
    },
    Released(Box<numbers::NumberRow>),
}

pub async fn release(
    t: &Arc<Telephony>,
    org_id: i64,
    e164: &PhoneNumber,
    dry_run: bool,
    actor: &str,
    user_id: Option<i64>,
) -> Result<Outcome, TelephonyError> {
    let row = super::find(t, org_id, e164).await?;
    if row.status == NumberStatus::Released {
        return Ok(if dry_run {
            Outcome::Plan {
                number: Box::new(row),
                plan: Plan::default(),
                already_released: true,
            }
        } else {
            Outcome::Released(Box::new(row))
        });
    }
    let (number_id, account) = (row.id, row.provider_account_id);
    let close_subaccount = match (row.origin, account) {
        (NumberOrigin::Managed, Some(a)) => {
            t.db.query(move |c| numbers::count_active_in_account(c, a, number_id))
                .await?
                == 0
        }
        _ => false,
    };
    let mut ctx = ReleaseCtx {
        org_id,
        number_id,
        e164: row.e164.clone(),
        origin: row.origin,
        twilio_sid: row.twilio_sid.clone(),
        account_sid: row.account_sid.clone(),
        provider_account_id: account,
        vapi_id: row.vapi_phone_number_id.clone(),
        close_subaccount,
        agent: row.agent_id.zip(row.agent_name.clone()),
        actor: actor.to_string(),
        user_id,
    };
    if dry_run {
        return Ok(Outcome::Plan {
            plan: plan(&ctx),
            number: Box::new(row),
            already_released: false,
        });
    }
    if (ctx.origin == NumberOrigin::Managed && ctx.twilio_sid.is_some()) || ctx.close_subaccount {
        t.master()?;
    }
    let saga = saga(t);
    let id = saga
        .create(
            &t.db,
            Some(org_id),
            json!({ "phoneNumber": ctx.e164 }),
            &ctx,
        )
        .await?;
    saga.run(&t.db, id, &mut ctx)
        .await
        .map_err(|f| TelephonyError::Saga(Box::new(f)))?;
    let row =
        t.db.query(move |c| numbers::get(c, number_id))
            .await?
            .ok_or_else(|| TelephonyError::Internal("the released number vanished".into()))?;
    Ok(Outcome::Released(Box::new(row)))
}
