//! `POST /twilio/voice/status`: the call's end, its outcome, and what follows it.

use super::call::{refresh_outcome, tz, with_call, VoiceParams};
use crate::db::calls;
use crate::domain::events::CallEvent;
use crate::domain::ivr;
use crate::domain::state::CallStatus;
use crate::domain::textback::Outcome;
use crate::domain::{FlagKey, NumberRole};
use crate::frontdesk::FrontDesk;
use crate::frontdesk::FrontdeskError;
use std::sync::Arc;

/// `POST /twilio/voice/status`: the call ended (or changed state). Finalises the call and
/// applies SPEC §3.5 by role; a missed call schedules one text-back.
pub async fn status(
    desk: &Arc<FrontDesk>,
    p: VoiceParams,
    call_status: CallStatus,
    duration: Option<i64>,
) -> Result<(), FrontdeskError> {
    let terminal = call_status.is_final();
    let delay = i64::from(desk.textback_delay_secs);
    let now = desk.clock.now();
    // `first_end` is false for a redelivered final status: counted and logged once.
    let (ctx, first_end) = with_call(desk, &p, move |c, ctx| {
        if !terminal {
            calls::set_live_status(c, ctx.call_id, call_status)?;
            return Ok((ctx, false));
        }
        calls::finish(c, ctx.call_id, call_status, duration)?;
        let first = calls::record(
            c,
            ctx.call_id,
            &CallEvent::Ended {
                status: call_status,
                duration,
            },
        )?;
        Ok((ctx, first))
    })
    .await?;
    if !terminal {
        return Ok(());
    }
    let call_id = ctx.call_id;
    match ctx.number.as_ref().map(|n| n.role) {
        Some(NumberRole::Operational) => {
            let org_id = ctx.number.as_ref().map(|n| n.org_id).unwrap_or_default();
            let flow = ctx.flow.clone();
            let flags = desk.flags.clone();
            let tz = ctx.number.as_ref().map_or(chrono_tz::UTC, tz);
            let scheduled = desk
                .db
                .write(move |c| {
                    let textback_on = flags.is_enabled(c, org_id, FlagKey::MissedCallTextback)?;
                    let o = refresh_outcome(c, call_id, &flow)?;
                    // Told to the business's own tools with the call's end (SPEC §13).
                    crate::frontdesk::webhooks::emit_call(
                        c,
                        org_id,
                        "call.completed",
                        call_id,
                        None,
                    )?;
                    match ivr::after_call(o, &flow, textback_on) {
                        ivr::AfterCall::Nothing => Ok(false),
                        ivr::AfterCall::TextBack => crate::frontdesk::textback::schedule(
                            c,
                            call_id,
                            now + chrono::Duration::seconds(delay),
                            tz,
                            &flow,
                        ),
                        ivr::AfterCall::TextBackFlagOff => {
                            calls::record(c, call_id, &CallEvent::TextbackFlagOff)?;
                            Ok(false)
                        }
                    }
                })
                .await?;
            // A deferred text-back is the sweep's, at the end of quiet hours.
            if scheduled {
                crate::frontdesk::textback::spawn(desk, call_id, delay as u64);
            }
        }
        Some(NumberRole::Onboarding) if first_end => {
            desk.metrics.invariant(
                "voice_status_onboarding_number",
                &format!(
                    "status callback for call {} on an onboarding number",
                    p.call_sid
                ),
            );
            desk.db
                .write(move |c| calls::set_outcome(c, call_id, Outcome::Rejected))
                .await?;
        }
        Some(NumberRole::Onboarding) => {}
        Some(NumberRole::System) | None if first_end => {
            log::info!(
                "call {} on a system or unknown number ended ({call_status})",
                p.call_sid
            );
            desk.db
                .write(move |c| calls::set_outcome(c, call_id, Outcome::Rejected))
                .await?;
        }
        Some(NumberRole::System) | None => {}
    }
    Ok(())
}
