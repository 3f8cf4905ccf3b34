//! Numbers for a real business (SPEC §5): bring your own Twilio number, buy one in the
//! org's subaccount, change its role / handler / agent, release it. Multi-step provider work
//! runs as sagas ([`crate::saga`]) so a failure or a crash leaves nothing behind.
//!
//! The same [`Telephony`] serves the API and the `number` command line.

mod error;
pub mod import;
pub mod provision;
pub mod release;
pub mod steps;
pub mod update;

use crate::accounts::TwilioAccounts;
use crate::db::{numbers, sagas, Db};
use crate::domain::{NumberHandler, NumberOrigin, NumberRole, PhoneNumber};
use crate::error::codes;
use crate::providers::{NumberWebhooks, Providers, TwilioCreds};
pub use error::TelephonyError;
use std::sync::Arc;

/// A number to bring in (bought or imported) and how it is to be used.
#[derive(Debug, Clone)]
pub struct NumberRequest {
    pub org_id: i64,
    pub e164: PhoneNumber,
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub agent_id: Option<i64>,
    pub friendly_name: Option<String>,
    pub actor: String,
    pub user_id: Option<i64>,
}

/// What number operations need: storage, provider clients and credentials, and the base
/// URL Twilio must call.
pub struct Telephony {
    pub db: Db,
    pub providers: Providers,
    /// The master account (numbers are bought in its subaccounts) and the stored ones.
    pub accounts: TwilioAccounts,
    pub public_url: String,
    /// A Vapi API key is configured (or the sandbox answers for Vapi).
    pub vapi_ready: bool,
    /// One number intake at a time: serializes the one-number check with the start of a
    /// provisioning, and keeps two imports of one number from undoing each other.
    intake: tokio::sync::Mutex<()>,
}

impl Telephony {
    pub fn new(
        db: Db,
        providers: Providers,
        accounts: TwilioAccounts,
        public_url: String,
        vapi_ready: bool,
    ) -> Arc<Telephony> {
        Arc::new(Telephony {
            db,
            providers,
            accounts,
            public_url,
            vapi_ready,
            intake: Default::default(),
        })
    }

    /// The webhooks every number this appliance answers must have.
    pub fn webhooks(&self) -> NumberWebhooks {
        NumberWebhooks::for_base(&self.public_url)
    }

    /// The master account, or a 409 that says how to configure it.
    pub fn master(&self) -> Result<TwilioCreds, TelephonyError> {
        self.accounts.master().cloned().ok_or_else(|| {
            TelephonyError::refused(codes::TWILIO_NOT_CONFIGURED,
                "No Twilio account is configured on this appliance.",
                "Set SWITCHBOARD_TWILIO_ACCOUNT_SID and SWITCHBOARD_TWILIO_AUTH_TOKEN (or _FILE) in the settings file and restart.",
            )
        })
    }

    /// Refuses a Vapi-handled number before any provider call when Vapi is not set up.
    pub fn require_vapi(&self, handler: NumberHandler) -> Result<(), TelephonyError> {
        if handler == NumberHandler::Vapi && !self.vapi_ready {
            return Err(TelephonyError::refused(codes::VAPI_NOT_CONFIGURED,
                "handler 'vapi' needs a Vapi API key, and none is configured.",
                "Set SWITCHBOARD_VAPI_API_KEY (Vapi dashboard → API Keys, private key) and restart, or use handler 'ivr'.",
            ));
        }
        Ok(())
    }

    /// The checks that need no provider call, then the context a saga bringing in `req`
    /// starts from.
    async fn prepare(
        &self,
        req: &NumberRequest,
        origin: NumberOrigin,
    ) -> Result<steps::NumberCtx, TelephonyError> {
        crate::domain::roles::validate_number_assignment(req.role, req.handler)
            .map_err(|m| TelephonyError::invalid(codes::INVALID_ASSIGNMENT, m))?;
        self.master()?;
        self.require_vapi(req.handler)?;
        let agent = agent(self, req.org_id, req.agent_id).await?;
        Ok(steps::NumberCtx::new(
            req,
            origin,
            agent.and_then(|a| a.vapi_assistant_id),
        ))
    }

    /// Runs a saga that brings a number in and answers the row it wrote.
    async fn bring_in(
        &self,
        saga: &crate::saga::Saga<steps::NumberCtx>,
        ctx: &mut steps::NumberCtx,
    ) -> Result<numbers::NumberRow, TelephonyError> {
        saga.run(&self.db, ctx.saga_id, ctx)
            .await
            .map_err(|f| TelephonyError::Saga(Box::new(f)))?;
        let id = ctx.number_id.ok_or_else(|| {
            TelephonyError::Internal(format!(
                "saga {} completed without a number row",
                ctx.saga_id
            ))
        })?;
        self.db
            .query(move |c| numbers::get(c, id))
            .await?
            .ok_or_else(|| TelephonyError::Internal("the new number row vanished".into()))
    }

    /// Credentials of the account that owns a number (`None` = the master).
    pub async fn account(
        &self,
        account_sid: Option<String>,
    ) -> Result<TwilioCreds, TelephonyError> {
        let master = self.master()?;
        let Some(sid) = account_sid.filter(|s| *s != master.account_sid) else {
            return Ok(master);
        };
        let accounts = self.accounts.clone();
        let found = self
            .db
            .run(move |c| -> Result<_, TelephonyError> { Ok(accounts.lookup(c, Some(&sid))) })
            .await?;
        found.ok_or_else(|| {
            TelephonyError::Internal(
                "the stored credentials of a number's Twilio account are missing".into(),
            )
        })
    }

    /// Finishes every saga a crash interrupted (called at start-up, before serving).
    pub async fn recover(self: &Arc<Self>) {
        let unfinished = match self.db.query(|c| sagas::unfinished(c)).await {
            Ok(rows) => rows,
            Err(e) => {
                log::error!("cannot read unfinished sagas: {e}");
                return;
            }
        };
        for row in unfinished {
            let result = match row.kind.as_str() {
                provision::KIND => provision::saga(self).recover(&self.db, &row).await,
                import::KIND => import::saga(self).recover(&self.db, &row).await,
                release::KIND => release::saga(self).recover(&self.db, &row).await,
                other => {
                    log::error!("saga {} has an unknown kind '{other}'; left as is", row.id);
                    continue;
                }
            };
            match result {
                Ok(outcome) => log::warn!(
                    "saga {} ({}) interrupted by a restart: {:?}",
                    row.id,
                    row.kind,
                    outcome
                ),
                Err(e) => log::error!("recovering saga {} failed: {e}", row.id),
            }
        }
    }
}

/// Parses an E.164 number from API input, naming the field on error.
pub fn parse_number(field: &str, raw: &str) -> Result<PhoneNumber, TelephonyError> {
    PhoneNumber::parse(raw).map_err(|e| {
        TelephonyError::refused(
            codes::INVALID_FIELD,
            format!("{field}: {e}"),
            "Write the number in E.164 form, e.g. +14155550123.",
        )
    })
}

/// Loads a number of the org, active or released, or 404.
pub async fn find(
    t: &Telephony,
    org_id: i64,
    e164: &PhoneNumber,
) -> Result<numbers::NumberRow, TelephonyError> {
    let e = e164.as_str().to_string();
    t.db.query(move |c| numbers::find_for_org(c, org_id, &e))
        .await?
        .ok_or_else(|| TelephonyError::NotFound(format!("number {e164}")))
}

/// An agent of the org by id (404 otherwise), with its Vapi assistant id.
pub async fn agent(
    t: &Telephony,
    org_id: i64,
    agent_id: Option<i64>,
) -> Result<Option<crate::db::agents::Agent>, TelephonyError> {
    let Some(id) = agent_id else {
        return Ok(None);
    };
    let found =
        t.db.query(move |c| crate::db::agents::get(c, org_id, id))
            .await?;
    found.map(Some).ok_or_else(|| {
        TelephonyError::refused(
            codes::INVALID_FIELD,
            format!("agentId: agent {id} does not exist in your organization"),
            "Pick an agent from GET /api/agents, or add one first.",
        )
    })
}
