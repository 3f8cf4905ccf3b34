//! The call every voice webhook starts from: its parameters, its row (created or
//! completed), its number and flow, loaded in one job for the database writer.

use crate::db::callflows::FlowCache;
use crate::db::{calls, numbers};
use crate::domain::callflow::CallFlow;
use crate::domain::ivr;
use crate::domain::phone::Party;
use crate::domain::state::{Consent, Direction};
use crate::domain::textback::{outcome, Outcome};
use crate::domain::webhook::CallSid;
use crate::domain::{FlagKey, NumberRole};
use crate::flags::Flags;
use crate::frontdesk::{FrontDesk, FrontdeskError};
use crate::twiml::TwiML;
use rusqlite::Connection;

/// The parameters every Twilio voice webhook carries, parsed where it arrives.
#[derive(Debug, Clone)]
pub struct VoiceParams {
    pub call_sid: CallSid,
    pub account_sid: Option<String>,
    pub from: Option<Party>,
    pub to: Option<Party>,
    pub direction: Direction,
    /// Twilio's `StirVerstat` (caller-ID verification), on the call's first webhook.
    pub stir_verstat: Option<String>,
}

/// Recording facts from Twilio's callbacks.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub sid: Option<String>,
    pub url: Option<String>,
    pub duration: Option<i64>,
    /// `completed`, `absent`, `failed` (recording status callback).
    pub status: Option<String>,
}

/// Everything the flow needs about one call, loaded in one DB round trip.
pub(crate) struct CallContext {
    pub call_id: i64,
    /// The `call_recording` flag for the call's org.
    pub recording_flag: bool,
    pub number: Option<numbers::Resolved>,
    pub flow: std::sync::Arc<CallFlow>,
    pub consent: Consent,
    pub ended: bool,
}

/// Resolves the called number, upserts the call and loads its flow.
fn load(
    conn: &Connection,
    flags: &Flags,
    flows: &FlowCache,
    p: &VoiceParams,
) -> rusqlite::Result<CallContext> {
    let number = match p.to.as_ref().and_then(Party::number) {
        Some(to) => numbers::resolve(conn, to)?,
        None => None,
    };
    // A callback without To (recording status) belongs to the number the call was made to.
    let number = match number {
        Some(n) => Some(n),
        None => match calls::by_sid(conn, &p.call_sid)?.and_then(|c| c.phone_number_id) {
            Some(id) => numbers::resolve_id(conn, id)?,
            None => None,
        },
    };
    let role = number
        .as_ref()
        .map(|n| n.role)
        .unwrap_or(NumberRole::System);
    let (call_id, inserted) = calls::upsert_twilio(
        conn,
        &calls::TwilioCall {
            call_sid: &p.call_sid,
            org_id: number.as_ref().map(|n| n.org_id),
            direction: p.direction,
            from: p.from.as_ref().map(Party::as_str),
            to: p.to.as_ref().map(Party::as_str),
            phone_number_id: number.as_ref().map(|n| n.id),
            number_role: Some(role.as_str()),
            stir_verstat: p.stir_verstat.as_deref(),
        },
    )?;
    let flow = match &number {
        Some(n) if n.role == NumberRole::Operational => flows.get(conn, n.org_id, Some(n.id))?,
        _ => std::sync::Arc::new(CallFlow::default()),
    };
    let recording_flag = match &number {
        Some(n) => flags.is_enabled(conn, n.org_id, FlagKey::CallRecording)?,
        None => false,
    };
    // A call row created just now has neither consent nor an end yet: no need to ask.
    let (consent, ended) = if inserted {
        (Consent::NotAsked, false)
    } else {
        calls::consent_and_ended(conn, call_id)?
    };
    Ok(CallContext {
        call_id,
        recording_flag,
        number,
        flow,
        consent,
        ended,
    })
}

pub(super) fn tz(number: &numbers::Resolved) -> chrono_tz::Tz {
    number.org_timezone.parse().unwrap_or_else(|_| {
        log::warn!(
            "org {} has an unknown time zone '{}'; using UTC",
            number.org_id,
            number.org_timezone
        );
        chrono_tz::UTC
    })
}

/// Loads the call (creating or completing its row) and runs `then` with it, as one job
/// for the database writer: concurrent callbacks for a call apply one after another.
pub(crate) async fn with_call<T, F>(
    desk: &FrontDesk,
    p: &VoiceParams,
    then: F,
) -> Result<T, FrontdeskError>
where
    F: Fn(&Connection, CallContext) -> rusqlite::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let p = p.clone();
    let (flags, flows) = (desk.flags.clone(), desk.flows.clone());
    Ok(desk
        .db
        .write_retryable(move |c| {
            let ctx = load(c, &flags, &flows, &p)?;
            then(c, ctx)
        })
        .await?)
}

/// Mid-call callbacks decide by role as the entry does (`domain::ivr::off_menu`): a
/// callback for a number without a menu ends the call, and is counted.
pub(crate) fn off_menu(desk: &FrontDesk, ctx: &CallContext, route: &str) -> Option<TwiML> {
    let (step, anomaly) = ivr::off_menu(ctx.number.as_ref().map(|n| n.role))?;
    let what = match anomaly {
        ivr::Anomaly::CallbackOnboardingNumber => "an onboarding number",
        _ => "a system or unknown number",
    };
    desk.metrics
        .invariant(anomaly.name(), &format!("{route} for a call to {what}"));
    Some(TwiML::step(&step, &ctx.flow))
}

/// Recomputes an ended call's outcome from everything known now (late callbacks converge).
pub(crate) fn refresh_outcome(
    c: &Connection,
    call_id: i64,
    flow: &CallFlow,
) -> rusqlite::Result<Option<Outcome>> {
    let Some(call) = calls::by_id(c, call_id)? else {
        return Ok(None);
    };
    if call.number_role != Some(NumberRole::Operational) || call.ended_at.is_none() {
        return Ok(None);
    }
    let o = outcome(
        calls::facts(c, &call)?,
        flow.textback.misdial_threshold_secs,
    );
    calls::set_outcome(c, call_id, o)?;
    Ok(Some(o))
}
