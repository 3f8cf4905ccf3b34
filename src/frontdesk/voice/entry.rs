//! `POST /twilio/voice`: the entry of every call, by role, hours and blocklist. The number
//! lookup, the call row, the decision (`domain::ivr::entry`) and the call's first events
//! are one job for the database writer (the hot path of SPEC §10).

use super::call::{tz, with_call, CallContext, VoiceParams};
use super::dial::record_dial;
use crate::db::{agents, blocklist, calls, orgs};
use crate::domain::callflow::CallFlow;
use crate::domain::ivr;
use crate::domain::phone::{redact, Party};
use crate::domain::state::Consent;
use crate::domain::{NumberHandler, NumberRole};
use crate::frontdesk::{FrontDesk, FrontdeskError};
use crate::metrics::UNKNOWN_NUMBERS;
use crate::twiml::TwiML;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use std::sync::Arc;

/// What the entry webhook decided, from one write job.
struct Entered {
    decision: ivr::Decision<ivr::Entry>,
    flow: Arc<CallFlow>,
    e164: Option<String>,
}

/// The entry's facts as read from the database (owned; [`ivr::EntryFacts`] borrows them).
struct Looked {
    blocked: bool,
    /// A misrouted AI line's agent SIP address and the org's human fallback.
    sip: Option<String>,
    fallback: Option<String>,
    /// Closed by hand ("Closed now"): until when, and by whom.
    closed: Option<(String, Option<String>)>,
    open: bool,
}

pub async fn entry(desk: &FrontDesk, p: VoiceParams) -> Result<TwiML, FrontdeskError> {
    let now = desk.clock.now();
    let caller = p
        .from
        .as_ref()
        .and_then(Party::number)
        .map(|n| n.to_string());
    let entered = with_call(desk, &p, move |c, ctx| {
        let looked = look_up(c, &ctx, caller.as_deref(), now)?;
        let facts = ivr::EntryFacts {
            line: ctx.number.as_ref().map(|n| ivr::Line {
                role: n.role,
                handler: n.handler,
            }),
            open: looked.open,
            recording_flag: ctx.recording_flag,
            agent_sip: looked.sip.as_deref(),
            fallback: looked.fallback.as_deref(),
            blocked: looked.blocked,
        };
        let decision = ivr::entry(&ctx.flow, &facts);
        let closed = looked
            .closed
            .as_ref()
            .map(|(until, by)| (until.as_str(), by.as_deref()));
        record(c, ctx.call_id, &decision, &facts, closed)?;
        Ok(Entered {
            decision,
            flow: ctx.flow,
            e164: ctx.number.map(|n| n.e164),
        })
    })
    .await?;
    report(desk, &p, &entered);
    Ok(TwiML::step(&entered.decision.step, &entered.flow))
}

/// Reads what the decision needs beyond the call: the blocklist (SPEC §3.9), a misrouted
/// AI line's agent and fallback, and whether the business is open.
fn look_up(
    c: &Connection,
    ctx: &CallContext,
    caller: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<Looked> {
    let operational = ctx
        .number
        .as_ref()
        .filter(|n| n.role == NumberRole::Operational);
    let blocked = match (operational, caller) {
        (Some(n), Some(from)) => blocklist::blocks(c, n.org_id, from)?,
        _ => false,
    };
    // Only a misrouted AI line needs its agent and the org's fallback.
    let (sip, fallback) = match operational.filter(|n| n.handler == NumberHandler::Vapi) {
        Some(n) => {
            let sip = match n.agent_id {
                Some(id) => agents::get(c, n.org_id, id)?.and_then(|a| a.sip_uri),
                None => None,
            };
            (
                sip.filter(|s| !s.trim().is_empty()),
                orgs::settings(c, n.org_id)?.and_then(|s| s.fallback_number),
            )
        }
        None => (None, None),
    };
    // Closed by hand ("Closed now") overrides the hours until its time passes.
    let closed = ctx.number.as_ref().and_then(|n| {
        crate::domain::closing::holds(n.closed_until.as_deref(), now).then(|| {
            (
                n.closed_until.clone().unwrap_or_default(),
                n.closed_by.clone(),
            )
        })
    });
    let open = closed.is_none()
        && ctx
            .number
            .as_ref()
            .is_some_and(|n| ctx.flow.is_open(now, tz(n)));
    Ok(Looked {
        blocked,
        sip,
        fallback,
        closed,
        open,
    })
}

/// Writes what the entry decided: its events, an announced recording's consent, a refused
/// call's outcome, and the dial it starts.
fn record(
    c: &Connection,
    call_id: i64,
    decision: &ivr::Decision<ivr::Entry>,
    facts: &ivr::EntryFacts<'_>,
    closed: Option<(&str, Option<&str>)>,
) -> rusqlite::Result<()> {
    for event in decision.events(facts, closed) {
        calls::record(c, call_id, &event)?;
    }
    if decision.kind == (ivr::Entry::Open { announced: true }) {
        calls::set_consent(c, call_id, Consent::Announced)?;
    }
    if let Some(o) = decision.kind.outcome() {
        calls::set_outcome(c, call_id, o)?;
    }
    record_dial(c, call_id, &decision.step)
}

/// Counts and logs what deserves it: a call to an unknown or system number, an anomaly.
fn report(desk: &FrontDesk, p: &VoiceParams, entered: &Entered) {
    // Only the rare outcomes below log the number; the common one costs nothing here.
    let e164 = || entered.e164.as_deref().map(redact).unwrap_or_default();
    let sid = &p.call_sid;
    match entered.decision.kind {
        ivr::Entry::Unknown => {
            desk.metrics.incr(UNKNOWN_NUMBERS, &[("kind", "voice")]);
            log::warn!(
                "call {sid} to a number that is not in phone_numbers; treated as system and rejected"
            );
        }
        ivr::Entry::System => log::info!("call {sid} to system number {} rejected", e164()),
        _ => {}
    }
    match entered.decision.anomaly {
        Some(a @ ivr::Anomaly::VoiceOnboardingNumber) => desk
            .metrics
            .invariant(a.name(), &format!("call {sid} to onboarding number {}", e164())),
        Some(a) => desk.metrics.invariant(
            a.name(),
            &format!(
                "number {} is answered by Vapi but Twilio sent call {sid} here: point its Voice URL at Vapi",
                e164()
            ),
        ),
        None => {}
    }
}
