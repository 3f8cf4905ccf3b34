//! The saga steps that bring a number in (SPEC §5.3): ensure the subaccount, buy, point
//! the webhooks of a number the business already owns, import into Vapi, write the row.
//! Each compensation finds what may exist and treats "already gone" as done.

use super::Telephony;
use crate::db::{audit, numbers, provider_accounts};
use crate::domain::{NumberHandler, NumberOrigin, NumberRole, PhoneNumber};
use crate::providers::{BuyNumber, NumberWebhooks, TwilioCreds, VapiNumberCreate};
use crate::saga::{Step, StepError, Undo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The persisted state of a provisioning or import saga.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NumberCtx {
    pub org_id: i64,
    pub e164: String,
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub origin: NumberOrigin,
    pub agent_id: Option<i64>,
    pub assistant_id: Option<String>,
    pub friendly_name: Option<String>,
    pub actor: String,
    pub user_id: Option<i64>,
    pub saga_id: i64,
    /// The Twilio account that holds the number; `None` is the master.
    pub account_sid: Option<String>,
    pub provider_account_id: Option<i64>,
    /// The subaccount was created by this saga (and is closed again if it fails).
    pub subaccount_created: bool,
    pub number_sid: Option<String>,
    /// A taken-over number's webhooks before the import: (voice, sms, status callback).
    pub previous_hooks: Option<(Option<String>, Option<String>, Option<String>)>,
    pub vapi_id: Option<String>,
    pub number_id: Option<i64>,
}

impl NumberCtx {
    /// The context a saga bringing in `req` starts from; steps fill in the rest.
    pub fn new(
        req: &super::NumberRequest,
        origin: NumberOrigin,
        assistant_id: Option<String>,
    ) -> Self {
        NumberCtx {
            org_id: req.org_id,
            e164: req.e164.as_str().to_string(),
            role: req.role,
            handler: req.handler,
            origin,
            agent_id: req.agent_id,
            assistant_id,
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
        }
    }
}

pub(crate) async fn creds(t: &Telephony, sid: Option<String>) -> Result<TwilioCreds, StepError> {
    t.account(sid)
        .await
        .map_err(|e| StepError::Check(e.to_string()))
}

/// What a deletion undid.
fn undone(r: Result<(), crate::providers::ProviderError>) -> Result<Undo, StepError> {
    Ok(match crate::providers::deleted(r)? {
        true => Undo::Done,
        false => Undo::Nothing,
    })
}

/// (1) The org's Twilio subaccount: reused when it has one, else created and stored.
pub struct EnsureSubaccount(pub Arc<Telephony>);

#[async_trait]
impl Step<NumberCtx> for EnsureSubaccount {
    fn name(&self) -> &'static str {
        "ensure_subaccount"
    }

    async fn run(&self, ctx: &mut NumberCtx) -> Result<(), StepError> {
        let t = &self.0;
        let org = ctx.org_id;
        if let Some((id, sid)) =
            t.db.query(move |c| provider_accounts::managed_subaccount(c, org))
                .await?
        {
            ctx.account_sid = Some(sid);
            ctx.provider_account_id = Some(id);
            return Ok(());
        }
        let master = creds(t, None).await?;
        let sub = t
            .providers
            .twilio
            .create_subaccount(&master, &subaccount_name(ctx))
            .await?;
        ctx.account_sid = Some(sub.sid.clone());
        ctx.subaccount_created = true;
        let accounts = t.accounts.clone();
        let saga_id = ctx.saga_id;
        let id =
            t.db.query(move |c| {
                accounts.store(
                    c,
                    &provider_accounts::NewAccount {
                        org_id: Some(org),
                        created_by_saga: Some(saga_id),
                        provider: "twilio",
                        kind: "subaccount",
                        account_sid: &sub.sid,
                        secret: &sub.auth_token,
                        is_managed: true,
                        friendly_name: Some(&sub.friendly_name),
                    },
                )
            })
            .await?;
        ctx.provider_account_id = Some(id);
        Ok(())
    }

    /// Closes a subaccount this saga created, once it holds nothing, and forgets its token.
    /// After a crash inside this step the SID may never have been recorded: the subaccount
    /// is then found by the name only this saga gives it.
    async fn compensate(&self, ctx: &mut NumberCtx) -> Result<Undo, StepError> {
        let t = &self.0;
        let created: Vec<String> = match (ctx.subaccount_created, ctx.account_sid.clone()) {
            (true, Some(sid)) => vec![sid],
            (false, None) => {
                let master = creds(t, None).await?;
                t.providers
                    .twilio
                    .find_subaccounts(&master, &subaccount_name(ctx))
                    .await?
            }
            _ => return Ok(Undo::Nothing),
        };
        if created.is_empty() {
            return Ok(Undo::Nothing);
        }
        let master = creds(t, None).await?;
        let mut undo = Undo::Nothing;
        for sid in created {
            if undone(t.providers.twilio.close_subaccount(&master, &sid).await)? == Undo::Done {
                undo = Undo::Done;
            }
            t.db.query(move |c| provider_accounts::close_by_sid(c, "twilio", &sid))
                .await?;
        }
        ctx.subaccount_created = false;
        Ok(undo)
    }
}

/// The name a saga gives the subaccount it creates: unique to the saga, so it can be found
/// again when the creation's answer was lost.
fn subaccount_name(ctx: &NumberCtx) -> String {
    format!("switchboard org {} (saga {})", ctx.org_id, ctx.saga_id)
}

/// (2) Buys the number in the subaccount with its webhooks pointing here.
pub struct Buy(pub Arc<Telephony>);

#[async_trait]
impl Step<NumberCtx> for Buy {
    fn name(&self) -> &'static str {
        "buy_number"
    }

    async fn run(&self, ctx: &mut NumberCtx) -> Result<(), StepError> {
        let t = &self.0;
        let account = creds(t, ctx.account_sid.clone()).await?;
        let hooks = t.webhooks();
        let bought = t
            .providers
            .twilio
            .buy_number(
                &account,
                &BuyNumber {
                    phone_number: ctx.e164.clone(),
                    friendly_name: ctx.friendly_name.clone(),
                    voice_url: hooks.voice_url.clone(),
                    sms_url: hooks.sms_url.clone(),
                    status_callback: hooks.status_callback.clone(),
                },
            )
            .await?;
        ctx.number_sid = Some(bought.sid.clone());
        check_hooks(&hooks, &bought)
    }

    async fn compensate(&self, ctx: &mut NumberCtx) -> Result<Undo, StepError> {
        let t = &self.0;
        if ctx.account_sid.is_none() {
            return Ok(Undo::Nothing);
        }
        let account = creds(t, ctx.account_sid.clone()).await?;
        // After a crash the SID may never have been recorded: look the number up.
        let sid = match ctx.number_sid.clone() {
            Some(sid) => Some(sid),
            None => t
                .providers
                .twilio
                .list_numbers(&account)
                .await?
                .into_iter()
                .find(|n| n.phone_number == ctx.e164)
                .map(|n| n.sid),
        };
        let Some(sid) = sid else {
            return Ok(Undo::Nothing);
        };
        let undo = undone(t.providers.twilio.release_number(&account, &sid).await)?;
        ctx.number_sid = None;
        Ok(undo)
    }
}

fn check_hooks(
    want: &NumberWebhooks,
    got: &crate::providers::IncomingNumber,
) -> Result<(), StepError> {
    let wrong = want.mismatches(got);
    if wrong.is_empty() {
        return Ok(());
    }
    Err(StepError::Check(format!(
        "Twilio did not keep the webhook URLs ({} read back differently); check that PUBLIC_URL is a valid https URL",
        wrong.join(", ")
    )))
}

/// (2') Points a number the business already owns at this appliance, reading it back.
pub struct PointWebhooks(pub Arc<Telephony>);

#[async_trait]
impl Step<NumberCtx> for PointWebhooks {
    fn name(&self) -> &'static str {
        "point_webhooks"
    }

    async fn run(&self, ctx: &mut NumberCtx) -> Result<(), StepError> {
        let t = &self.0;
        let account = creds(t, ctx.account_sid.clone()).await?;
        let sid = ctx
            .number_sid
            .clone()
            .ok_or_else(|| StepError::Check("the number's Twilio SID is unknown".into()))?;
        let hooks = t.webhooks();
        t.providers
            .twilio
            .update_number(&account, &sid, &hooks)
            .await?;
        let read_back = t.providers.twilio.get_number(&account, &sid).await?;
        check_hooks(&hooks, &read_back)
    }

    /// Puts the webhooks back as they were before the import.
    async fn compensate(&self, ctx: &mut NumberCtx) -> Result<Undo, StepError> {
        let t = &self.0;
        let (Some(sid), Some((voice, sms, status))) =
            (ctx.number_sid.clone(), ctx.previous_hooks.clone())
        else {
            return Ok(Undo::Nothing);
        };
        let account = creds(t, ctx.account_sid.clone()).await?;
        let previous = NumberWebhooks {
            voice_url: voice.unwrap_or_default(),
            sms_url: sms.unwrap_or_default(),
            status_callback: status.unwrap_or_default(),
        };
        // A number gone from the account has no webhooks left to restore.
        let restored = t
            .providers
            .twilio
            .update_number(&account, &sid, &previous)
            .await;
        undone(restored.map(|_| ()))
    }
}

/// (3) Imports the number into Vapi with the current API and `smsEnabled: false` (SMS
/// stays on this appliance). Nothing to do for an IVR number.
pub struct VapiImport(pub Arc<Telephony>);

#[async_trait]
impl Step<NumberCtx> for VapiImport {
    fn name(&self) -> &'static str {
        "vapi_import"
    }

    async fn run(&self, ctx: &mut NumberCtx) -> Result<(), StepError> {
        if ctx.handler != NumberHandler::Vapi {
            return Ok(());
        }
        let t = &self.0;
        let account = creds(t, ctx.account_sid.clone()).await?;
        let created = t
            .providers
            .vapi
            .create_phone_number(&VapiNumberCreate {
                number: ctx.e164.clone(),
                twilio_account_sid: account.account_sid,
                twilio_auth_token: account.auth_token,
                name: ctx
                    .friendly_name
                    .clone()
                    .unwrap_or_else(|| ctx.e164.clone()),
                assistant_id: ctx.assistant_id.clone(),
            })
            .await?;
        ctx.vapi_id = Some(created.id);
        Ok(())
    }

    async fn compensate(&self, ctx: &mut NumberCtx) -> Result<Undo, StepError> {
        if ctx.handler != NumberHandler::Vapi {
            return Ok(Undo::Nothing);
        }
        let t = &self.0;
        let id = match ctx.vapi_id.clone() {
            Some(id) => Some(id),
            None => t
                .providers
                .vapi
                .list_phone_numbers()
                .await?
                .into_iter()
                .find(|n| n.number == ctx.e164)
                .map(|n| n.id),
        };
        let Some(id) = id else {
            return Ok(Undo::Nothing);
        };
        let undo = undone(t.providers.vapi.delete_phone_number(&id).await)?;
        ctx.vapi_id = None;
        Ok(undo)
    }
}

/// (4) Writes the number row (with its agent link) and the audit row in one transaction.
pub struct WriteNumber(pub Arc<Telephony>);

#[async_trait]
impl Step<NumberCtx> for WriteNumber {
    fn name(&self) -> &'static str {
        "write_number"
    }

    async fn run(&self, ctx: &mut NumberCtx) -> Result<(), StepError> {
        let c2 = ctx.clone();
        let id = self
            .0
            .db
            .run(move |c| -> Result<i64, StepError> {
                let e164 =
                    PhoneNumber::parse(&c2.e164).map_err(|e| StepError::Check(e.to_string()))?;
                let tx = c.transaction()?;
                let id = numbers::insert(
                    &tx,
                    &numbers::NewNumber {
                        org_id: c2.org_id,
                        e164: &e164,
                        role: c2.role,
                        handler: c2.handler,
                        origin: c2.origin,
                        twilio_sid: c2.number_sid.as_deref(),
                        provider_account_id: c2.provider_account_id,
                        vapi_phone_number_id: c2.vapi_id.as_deref(),
                        agent_id: c2.agent_id,
                        friendly_name: c2.friendly_name.as_deref(),
                        description: None,
                    },
                )
                .map_err(|e| StepError::Check(e.to_string()))?;
                let action = match c2.origin {
                    NumberOrigin::Managed => "number.provision",
                    _ => "number.import",
                };
                audit::record(
                    &tx,
                    audit::Record {
                        org_id: Some(c2.org_id),
                        user_id: c2.user_id,
                        actor: &c2.actor,
                        action,
                        target: Some(format!("number:{}", c2.e164)),
                        detail: Some(serde_json::json!({
                            "role": c2.role, "handler": c2.handler, "agentId": c2.agent_id,
                            "twilioSid": c2.number_sid, "vapiId": c2.vapi_id, "saga": c2.saga_id,
                        })),
                        ip: None,
                    },
                )?;
                tx.commit()?;
                Ok(id)
            })
            .await?;
        ctx.number_id = Some(id);
        Ok(())
    }

    fn completes_on_recovery(&self) -> bool {
        true
    }
}
