//! Ringing people (SPEC §3.8): each screened leg hears who is calling and must press 1;
//! the dial's end decides "answered" from what the legs recorded, not from Twilio's
//! `DialCallStatus` alone, and rings the next target of a sequential action.

use super::call::{off_menu, refresh_outcome, with_call, VoiceParams};
use crate::db::calls;
use crate::domain::events::CallEvent;
use crate::domain::ivr::{self, Step};
use crate::domain::phone::{redact, Party};
use crate::domain::ring::{self, Caller, DialEnd, Hop, LegAnswer};
use crate::domain::webhook::CallSid;
use crate::frontdesk::{FrontDesk, FrontdeskError};
use crate::twiml::TwiML;
use rusqlite::Connection;

/// Records that a dial began ringing, for the timeline and the "accepted after N s".
pub(crate) fn record_dial(c: &Connection, call_id: i64, step: &Step) -> rusqlite::Result<()> {
    let Step::Dial(dial) = step else {
        return Ok(());
    };
    calls::record(
        c,
        call_id,
        &CallEvent::DialStarted {
            targets: &dial.targets,
            screened: dial.hop.screened,
            option: dial.hop.option.as_deref(),
            position: dial.hop.position,
            ring_secs: dial.ring_secs,
        },
    )?;
    Ok(())
}

/// `POST /twilio/voice/dial-result?…`: the dial ended. Answered only if a person took it
/// (screened: some leg pressed 1); otherwise the next target of a sequential ring, or
/// this appliance's voicemail. If the caller hung up, Twilio ignores the answer and the
/// status callback finds the call missed.
pub async fn dial_result(
    desk: &FrontDesk,
    p: VoiceParams,
    hop: Hop,
    dial_status: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let status = dial_status.unwrap_or_default();
    let (ctx, step) = with_call(desk, &p, move |c, ctx| {
        let accepted = calls::answered(c, ctx.call_id)?;
        let business = ctx.number.as_ref().map(|n| n.e164.clone());
        let (connected, step) = ivr::dial_result(
            &ctx.flow,
            &DialEnd {
                status: &status,
                hop: &hop,
                accepted,
                record: ivr::may_record(ctx.recording_flag, &ctx.flow, ctx.consent),
                business_number: business.as_deref(),
            },
        );
        calls::record(
            c,
            ctx.call_id,
            &CallEvent::DialResult {
                status: &status,
                screened: hop.screened,
                taken: connected,
                option: hop.option.as_deref(),
                position: hop.position,
            },
        )?;
        if connected && !hop.screened {
            calls::mark_connected(c, ctx.call_id)?;
        }
        record_dial(c, ctx.call_id, &step)?;
        if ctx.ended {
            refresh_outcome(c, ctx.call_id, &ctx.flow)?;
        }
        Ok((ctx, step))
    })
    .await?;
    if let Some(end) = off_menu(desk, &ctx, "dial-result") {
        return Ok(end);
    }
    Ok(TwiML::step(&step, &ctx.flow))
}

/// One answered leg of a screened dial: Twilio's request for the `<Number url>`.
#[derive(Debug, Clone)]
pub struct Leg {
    /// The caller's call (`ParentCallSid`), whose row and flow decide.
    pub parent: VoiceParams,
    /// The leg's own `CallSid`.
    pub leg_sid: CallSid,
    /// The number that was rung (`To` of the leg).
    pub target: Option<String>,
    pub hop: Hop,
}

/// `POST /twilio/voice/screen`: the person who picked up hears who is calling and for
/// what, then presses 1 to take the call (a voicemail greeting never does).
pub async fn screen(desk: &FrontDesk, leg: Leg) -> Result<TwiML, FrontdeskError> {
    let Leg {
        parent,
        leg_sid,
        target,
        hop,
    } = leg;
    let option = hop.option.clone();
    let (ctx, lines) = with_call(desk, &parent, move |c, ctx| {
        calls::record(
            c,
            ctx.call_id,
            &CallEvent::LegAnswered {
                leg_sid: &leg_sid,
                target: target.as_deref(),
            },
        )?;
        let business = ctx
            .number
            .as_ref()
            .map_or(String::new(), |n| n.org_name.clone());
        let label = option
            .as_deref()
            .and_then(|d| ctx.flow.option(d))
            .map(|o| o.label.clone());
        let from = calls::by_id(c, ctx.call_id)?.and_then(|call| call.from_number);
        let caller = from.as_deref().map(Party::parse);
        let number = caller.as_ref().and_then(Party::number);
        // A contact is said by name (SPEC §13), anyone else by their number.
        let name = match (number, &ctx.number) {
            (Some(n), Some(line)) => crate::db::contacts::name(c, line.org_id, n.as_str())?,
            _ => None,
        };
        let caller = match &name {
            Some(name) => Some(Caller::Named(name)),
            None => number.map(Caller::Number),
        };
        let lines = ring::whisper(&business, label.as_deref(), caller.as_ref());
        Ok((ctx, lines))
    })
    .await?;
    if off_menu(desk, &ctx, "screen").is_some() {
        // Not a call this appliance rings people for: let the leg go.
        return Ok(TwiML::new().hangup());
    }
    Ok(TwiML::whisper(&hop, lines).speaking(&ctx.flow.speech))
}

/// `POST /twilio/voice/screen/answer`: `1` takes the call (an empty answer bridges the
/// legs); another key or silence lets this leg go, and the dial goes on without it.
pub async fn screen_answer(
    desk: &FrontDesk,
    leg: Leg,
    digits: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let answer = LegAnswer::from_digits(digits.as_deref());
    let now = desk.clock.now();
    let Leg {
        parent,
        leg_sid,
        target,
        ..
    } = leg;
    let shown = target.as_deref().map(redact).unwrap_or_default();
    let ctx = with_call(desk, &parent, move |c, ctx| {
        let after_secs = calls::last_event_at(c, ctx.call_id, "dial.started")?
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0));
        let first = calls::record(
            c,
            ctx.call_id,
            &CallEvent::Leg {
                answer,
                leg_sid: &leg_sid,
                target: target.as_deref(),
                after_secs,
            },
        )?;
        if first && answer == LegAnswer::Accepted {
            calls::mark_connected(c, ctx.call_id)?;
        }
        Ok(ctx)
    })
    .await?;
    log::debug!("screened leg to {shown}: {answer:?}");
    if off_menu(desk, &ctx, "screen-answer").is_some() {
        return Ok(TwiML::new().hangup());
    }
    Ok(match answer {
        LegAnswer::Accepted => TwiML::new(),
        LegAnswer::Declined | LegAnswer::Silent => TwiML::new().hangup(),
    })
}
