//! Voice calls on Twilio numbers (SPEC §3.2–§3.5): the role decides, the call flow
//! drives the menu, every path ends at a person, a voicemail or a polite goodbye, and the
//! call row converges whatever order Twilio's callbacks arrive in.

use super::FrontDesk;
use super::FrontdeskError;
use crate::db::callflows::FlowCache;
use crate::db::{agents, blocklist, calls, numbers, orgs, voicemails};
use crate::domain::callflow::{transcribable, CallFlow, MenuAction};
use crate::domain::events::CallEvent;
use crate::domain::ivr;
use crate::domain::phone::redact;
use crate::domain::phone::Party;
use crate::domain::state::{CallStatus, Consent, Direction};
use crate::domain::textback::{outcome, Outcome};
use crate::domain::{FlagKey, NumberHandler, NumberRole};
use crate::flags::Flags;
use crate::metrics::UNKNOWN_NUMBERS;
use crate::twiml::TwiML;
use rusqlite::Connection;
use std::sync::Arc;

pub const TOO_MANY_CALLS_MESSAGE: &str =
    "We are receiving too many calls from this number right now. Please try again in a few minutes. Goodbye.";
pub const TROUBLE_MESSAGE: &str =
    "Sorry, we are having trouble answering your call. Please try again in a few minutes. Goodbye.";

/// The parameters every Twilio voice webhook carries, parsed where it arrives.
#[derive(Debug, Clone)]
pub struct VoiceParams {
    pub call_sid: String,
    pub account_sid: Option<String>,
    pub from: Option<Party>,
    pub to: Option<Party>,
    pub direction: Direction,
    /// Twilio's `StirVerstat` (caller-ID verification), on the call's first webhook.
    pub stir_verstat: Option<String>,
}

/// Everything the flow needs about one call, loaded in one DB round trip.
pub(super) struct CallContext {
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

fn tz(number: &numbers::Resolved) -> chrono_tz::Tz {
    number.org_timezone.parse().unwrap_or_else(|_| {
        log::warn!(
            "org {} has an unknown time zone '{}'; using UTC",
            number.org_id,
            number.org_timezone
        );
        chrono_tz::UTC
    })
}

/// What the entry webhook decided, from one write job.
struct Entered {
    decision: ivr::Decision<ivr::Entry>,
    flow: std::sync::Arc<CallFlow>,
    e164: Option<String>,
}

/// `POST /twilio/voice`: the entry of every call. The number lookup, the call row, the
/// decision (`domain::ivr::entry`) and the call's first events are one job for the
/// database writer (the hot path of SPEC §10).
pub async fn entry(desk: &FrontDesk, p: VoiceParams) -> Result<TwiML, FrontdeskError> {
    let now = desk.clock.now();
    let caller = p
        .from
        .as_ref()
        .and_then(Party::number)
        .map(|n| n.to_string());
    let entered = with_call(desk, &p, move |c, ctx| {
        let call_id = ctx.call_id;
        // SPEC §3.9: a caller on the org's blocklist is refused before anything else.
        let blocked = match (&ctx.number, &caller) {
            (Some(n), Some(from)) if n.role == NumberRole::Operational => {
                blocklist::blocks(c, n.org_id, from)?
            }
            _ => false,
        };
        let line = ctx.number.as_ref().map(|n| ivr::Line {
            role: n.role,
            handler: n.handler,
        });
        // Only a misrouted AI line needs its agent and the org's fallback.
        let (sip, fallback) = match &ctx.number {
            Some(n) if n.role == NumberRole::Operational && n.handler == NumberHandler::Vapi => {
                let sip = match n.agent_id {
                    Some(id) => agents::get(c, n.org_id, id)?.and_then(|a| a.sip_uri),
                    None => None,
                }
                .filter(|s| !s.trim().is_empty());
                (
                    sip,
                    orgs::settings(c, n.org_id)?.and_then(|s| s.fallback_number),
                )
            }
            _ => (None, None),
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
        let decision = ivr::entry(
            &ctx.flow,
            &ivr::EntryFacts {
                line,
                open,
                recording_flag: ctx.recording_flag,
                agent_sip: sip.as_deref(),
                fallback: fallback.as_deref(),
                blocked,
            },
        );
        let first = match decision.kind {
            ivr::Entry::Unknown => CallEvent::Rejected {
                reason: "unknown_number",
            },
            ivr::Entry::Blocked => CallEvent::Rejected { reason: "blocked" },
            ivr::Entry::System => CallEvent::Rejected {
                reason: "system_number",
            },
            ivr::Entry::Onboarding => CallEvent::Invariant {
                name: ivr::Anomaly::VoiceOnboardingNumber.name(),
                misrouted: None,
            },
            ivr::Entry::Misrouted => CallEvent::Invariant {
                name: ivr::Anomaly::VapiNumberOnIvr.name(),
                misrouted: Some((sip.is_some(), fallback.is_some())),
            },
            ivr::Entry::Closed | ivr::Entry::Open { .. } => CallEvent::Started {
                open,
                closed: closed
                    .as_ref()
                    .map(|(until, by)| (until.as_str(), by.as_deref())),
            },
        };
        calls::record(c, call_id, &first)?;
        match decision.kind {
            ivr::Entry::Closed => {
                calls::record(c, call_id, &CallEvent::AfterHours)?;
            }
            ivr::Entry::Open { announced: true } => {
                calls::set_consent(c, call_id, Consent::Announced)?
            }
            _ => {}
        }
        if let Some(o) = decision.kind.outcome() {
            calls::set_outcome(c, call_id, o)?;
        }
        super::ring::record_dial(c, call_id, &decision.step)?;
        Ok(Entered {
            decision,
            flow: ctx.flow,
            e164: ctx.number.map(|n| n.e164),
        })
    })
    .await?;
    let Entered {
        decision,
        flow,
        e164,
    } = entered;
    let e164 = e164.as_deref().map(redact).unwrap_or_default();
    match decision.kind {
        ivr::Entry::Unknown => {
            desk.metrics.incr(UNKNOWN_NUMBERS, &[("kind", "voice")]);
            log::warn!(
                "call {} to a number that is not in phone_numbers; treated as system and rejected",
                p.call_sid
            );
        }
        ivr::Entry::System => log::info!("call {} to system number {e164} rejected", p.call_sid),
        _ => {}
    }
    match decision.anomaly {
        Some(a @ ivr::Anomaly::VoiceOnboardingNumber) => desk.metrics.invariant(
            a.name(),
            &format!("call {} to onboarding number {e164}", p.call_sid),
        ),
        Some(a) => desk.metrics.invariant(
            a.name(),
            &format!(
                "number {e164} is answered by Vapi but Twilio sent call {} here: point its Voice URL at Vapi",
                p.call_sid
            ),
        ),
        None => {}
    }
    Ok(TwiML::step(&decision.step, &flow))
}

/// Mid-call callbacks decide by role as the entry does (`domain::ivr::off_menu`): a
/// callback for a number without a menu ends the call, and is counted.
pub(super) fn off_menu(desk: &FrontDesk, ctx: &CallContext, route: &str) -> Option<TwiML> {
    let (step, anomaly) = ivr::off_menu(ctx.number.as_ref().map(|n| n.role))?;
    let what = match anomaly {
        ivr::Anomaly::CallbackOnboardingNumber => "an onboarding number",
        _ => "a system or unknown number",
    };
    desk.metrics
        .invariant(anomaly.name(), &format!("{route} for a call to {what}"));
    Some(TwiML::step(&step, &ctx.flow))
}

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
            super::ring::record_dial(c, ctx.call_id, &decision.step)?;
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

/// Loads the call (creating or completing its row) and runs `then` with it, as one job
/// for the database writer: concurrent callbacks for a call apply one after another.
pub(super) async fn with_call<T, F>(
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

/// `POST /twilio/voice/voicemail-done`: the Record action; stores what it knows.
pub async fn voicemail_done(
    desk: &FrontDesk,
    p: VoiceParams,
    rec: Recording,
) -> Result<TwiML, FrontdeskError> {
    let ctx = {
        with_call(desk, &p, move |c, ctx| {
            if let Some(sid) = &rec.sid {
                let org = ctx.number.as_ref().map(|n| n.org_id);
                voicemails::upsert_recording(
                    c,
                    org,
                    ctx.call_id,
                    sid,
                    rec.url.as_deref(),
                    rec.duration,
                )?;
            }
            Ok(ctx)
        })
        .await?
    };
    Ok(TwiML::step(&ivr::Step::Goodbye, &ctx.flow))
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

/// `POST /twilio/voice/recording`: stores the voicemail (once per RecordingSid) and
/// arranges the owner's notification.
pub async fn recording(
    desk: &FrontDesk,
    p: VoiceParams,
    rec: Recording,
) -> Result<(), FrontdeskError> {
    let Some(sid) = rec.sid.clone() else {
        return Err(FrontdeskError::BadRequest("RecordingSid is missing".into()));
    };
    let wait = i64::from(desk.transcript_wait_secs);
    let now = desk.clock.now();
    let notify_now = {
        with_call(desk, &p, move |c, ctx| {
            let org = ctx.number.as_ref().map(|n| n.org_id);
            let completed = rec.status.as_deref().unwrap_or("completed") == "completed";
            let id = voicemails::upsert_recording(
                c,
                org,
                ctx.call_id,
                &sid,
                rec.url.as_deref(),
                rec.duration,
            )?;
            calls::record(
                c,
                ctx.call_id,
                &CallEvent::VoicemailRecording {
                    sid: &sid,
                    status: rec.status.as_deref(),
                    duration: rec.duration,
                },
            )?;
            // Twilio transcribes only 2–120 s: do not wait for a transcript that cannot come.
            if !completed || rec.duration.is_some_and(|d| !transcribable(d)) {
                voicemails::mark_no_transcript(c, id)?;
            }
            if ctx.ended {
                refresh_outcome(c, ctx.call_id, &ctx.flow)?;
            }
            let vm = voicemails::by_id(c, id)?;
            let transcript_done = vm
                .as_ref()
                .is_some_and(|v| v.transcription_status != "pending");
            if completed && !transcript_done {
                let due = crate::db::format_time(now + chrono::Duration::seconds(wait));
                voicemails::schedule_notification(c, id, &due)?;
            }
            // The audio is kept here, then deleted at Twilio (SPEC §13).
            if completed {
                crate::db::recordings::schedule(c, id, &crate::db::format_time(now))?;
            }
            Ok(((completed && transcript_done).then_some(id), completed))
        })
        .await?
    };
    let (notify_now, keep) = notify_now;
    if keep {
        desk.notices_queued();
    }
    if let Some(id) = notify_now {
        super::notify::voicemail(desk, id).await;
    }
    Ok(())
}

/// `POST /twilio/voice/transcription`: stores the transcript; the owner is notified now
/// if the recording is in (a transcript may arrive before the recording callback).
pub async fn transcription(
    desk: &FrontDesk,
    p: VoiceParams,
    recording_sid: Option<String>,
    text: Option<String>,
    status: Option<String>,
) -> Result<(), FrontdeskError> {
    let Some(sid) = recording_sid else {
        return Err(FrontdeskError::BadRequest("RecordingSid is missing".into()));
    };
    let status = match status.as_deref() {
        Some("completed") => "completed",
        _ => "failed",
    };
    let id = with_call(desk, &p, move |c, ctx| {
        let org = ctx.number.as_ref().map(|n| n.org_id);
        let id = voicemails::set_transcription(c, org, ctx.call_id, &sid, text.as_deref(), status)?;
        calls::record(
            c,
            ctx.call_id,
            &CallEvent::VoicemailTranscription { sid: &sid, status },
        )?;
        Ok(id)
    })
    .await?;
    super::notify::voicemail(desk, id).await;
    Ok(())
}

/// Recomputes an ended call's outcome from everything known now (late callbacks converge).
pub(super) fn refresh_outcome(
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
                    super::webhooks::emit_call(c, org_id, "call.completed", call_id, None)?;
                    match ivr::after_call(o, &flow, textback_on) {
                        ivr::AfterCall::Nothing => Ok(false),
                        ivr::AfterCall::TextBack => super::textback::schedule(
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
                super::textback::spawn(desk, call_id, delay as u64);
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
