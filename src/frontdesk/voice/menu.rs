//! The menu (SPEC §3.3) and the recording consent before it (SPEC §3.4).

use super::call::{off_menu, with_call, VoiceParams};
use super::dial::record_dial;
use crate::db::{agents, calls};
use crate::domain::callflow::MenuAction;
use crate::domain::events::CallEvent;
use crate::domain::ivr;
use crate::domain::state::Consent;
use crate::frontdesk::{FrontDesk, FrontdeskError};
use crate::twiml::TwiML;

/// `POST /twilio/voice/consent`: the opt-in answer (`domain::ivr::consent`).
pub async fn consent(
    desk: &FrontDesk,
    p: VoiceParams,
    digits: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let (granted, next) = ivr::consent(digits.as_deref());
    let ctx = with_call(desk, &p, move |c, ctx| {
        let outcome = if granted {
            Consent::Granted
        } else {
            Consent::Declined
        };
        calls::set_consent(c, ctx.call_id, outcome)?;
        calls::record(c, ctx.call_id, &CallEvent::Consent { outcome })?;
        Ok(ctx)
    })
    .await?;
    if let Some(end) = off_menu(desk, &ctx, "consent") {
        return Ok(end);
    }
    Ok(TwiML::step(&next, &ctx.flow))
}

/// `POST /twilio/voice/menu?attempt=N`: a key was pressed, or nothing (timeout); the
/// answer is `domain::ivr::menu`'s.
pub async fn menu(
    desk: &FrontDesk,
    p: VoiceParams,
    attempt: u32,
    digits: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let attempt = attempt.clamp(1, 100);
    let digits = digits
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    let (ctx, decision) = {
        let digit = digits.clone();
        with_call(desk, &p, move |c, ctx| {
            let pressed = CallEvent::Menu {
                attempt,
                digits: digit.as_deref(),
            };
            if calls::record(c, ctx.call_id, &pressed)? {
                if let Some(d) = &digit {
                    calls::add_menu_choice(c, ctx.call_id, d)?;
                }
            }
            let sip = match digit
                .as_deref()
                .and_then(|d| ctx.flow.option(d))
                .map(|o| &o.action)
            {
                Some(MenuAction::Agent { agent_id }) => match &ctx.number {
                    Some(n) => agents::get(c, n.org_id, *agent_id)?.and_then(|a| a.sip_uri),
                    None => None,
                },
                _ => None,
            };
            let decision = ivr::menu(
                &ctx.flow,
                &ivr::MenuFacts {
                    attempt,
                    digits: digit.as_deref(),
                    record: ivr::may_record(ctx.recording_flag, &ctx.flow, ctx.consent),
                    agent_sip: sip.as_deref(),
                    business_number: ctx.number.as_ref().map(|n| n.e164.as_str()),
                },
            );
            record_dial(c, ctx.call_id, &decision.step)?;
            Ok((ctx, decision))
        })
        .await?
    };
    if let Some(end) = off_menu(desk, &ctx, "menu") {
        return Ok(end);
    }
    if let Some(a) = decision.anomaly {
        desk.metrics.invariant(
            a.name(),
            &format!(
                "menu option {} points at an agent without a SIP address",
                digits.as_deref().unwrap_or("-")
            ),
        );
    }
    Ok(TwiML::step(&decision.step, &ctx.flow))
}
