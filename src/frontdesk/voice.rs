//! Voice calls on Twilio numbers (SPEC §3.2–§3.5): the role decides, the call flow
//! drives the menu, every path ends at a person, a voicemail or a polite goodbye, and the
//! call row converges whatever order Twilio's callbacks arrive in.

use super::FrontdeskError;
use crate::app::AppState;
use crate::db::callflows::FlowCache;
use crate::db::{agents, calls, numbers, orgs, voicemails};
use crate::domain::callflow::{
    transcribable, AfterHoursAction, CallFlow, MenuAction, RecordingMode,
};
use crate::domain::phone::redact;
use crate::domain::textback::{outcome, Outcome};
use crate::domain::{FlagKey, NumberHandler, NumberRole};
use crate::flags::Flags;
use crate::metrics::UNKNOWN_NUMBERS;
use crate::twiml::{DialTarget, TwiML};
use rusqlite::Connection;
use serde_json::json;

pub const ONBOARDING_VOICE_MESSAGE: &str =
    "This number is for text messages only. Please send us a text to get started.";
pub const TOO_MANY_CALLS_MESSAGE: &str =
    "We are receiving too many calls from this number right now. Please try again in a few minutes. Goodbye.";
pub const TROUBLE_MESSAGE: &str =
    "Sorry, we are having trouble answering your call. Please try again in a few minutes. Goodbye.";
const DIAL_RESULT: &str = "/twilio/voice/dial-result";

/// The parameters every Twilio voice webhook carries.
#[derive(Debug, Clone, Default)]
pub struct VoiceParams {
    pub call_sid: String,
    pub account_sid: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Option<String>,
}

/// Everything the flow needs about one call, loaded in one DB round trip.
struct CallContext {
    call_id: i64,
    /// The `call_recording` flag for the call's org.
    recording_flag: bool,
    number: Option<numbers::Resolved>,
    flow: std::sync::Arc<CallFlow>,
    consent: String,
    ended: bool,
}

fn direction(p: &VoiceParams) -> &'static str {
    match p.direction.as_deref() {
        Some(d) if d.starts_with("outbound") => "outbound",
        _ => "inbound",
    }
}

/// Resolves the called number, upserts the call and loads its flow.
fn load(
    conn: &Connection,
    flags: &Flags,
    flows: &FlowCache,
    p: &VoiceParams,
) -> rusqlite::Result<CallContext> {
    let number = match p.to.as_deref() {
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
    let (call_id, _) = calls::upsert_twilio(
        conn,
        &calls::TwilioCall {
            call_sid: &p.call_sid,
            org_id: number.as_ref().map(|n| n.org_id),
            direction: direction(p),
            from: p.from.as_deref(),
            to: p.to.as_deref(),
            phone_number_id: number.as_ref().map(|n| n.id),
            number_role: Some(role.as_str()),
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
    let (consent, ended) = calls::consent_and_ended(conn, call_id)?;
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

/// The menu, as Twilio should play it on `attempt`.
pub fn menu_twiml(flow: &CallFlow, attempt: u32) -> TwiML {
    TwiML::new().gather(
        format!("/twilio/voice/menu?attempt={attempt}"),
        flow.gather_timeout_secs,
        flow.menu_prompt(),
    )
}

/// Prompt, record, goodbye (SPEC §3.3). Twilio skips the Record action on an empty
/// recording and goes on to the goodbye, so this path always ends politely.
pub fn voicemail_twiml(flow: &CallFlow) -> TwiML {
    voicemail_after(TwiML::new(), flow)
}

/// What the entry webhook decided, from one write job.
enum Entry {
    /// Not in `phone_numbers`: treated as system.
    Unknown,
    System(String),
    Onboarding(String),
    Operational {
        flow: std::sync::Arc<CallFlow>,
        open: bool,
        recording_allowed: bool,
    },
    /// A number Vapi answers, yet Twilio sent its call here (its voice URL points at this
    /// appliance): the agent's SIP address and the org's human fallback, if any.
    Misrouted {
        e164: String,
        flow: std::sync::Arc<CallFlow>,
        sip: Option<String>,
        fallback: Option<String>,
    },
}

/// `POST /twilio/voice`: the entry of every call. The number lookup, the call row and its
/// first event are one job for the database writer (the hot path of SPEC §10).
pub async fn entry(state: &AppState, p: VoiceParams) -> Result<TwiML, FrontdeskError> {
    let now = chrono::Utc::now();
    let decided = with_call(state, &p, move |c, ctx| {
        let call_id = ctx.call_id;
        let reject = |reason: &str| -> rusqlite::Result<()> {
            calls::event(
                c,
                call_id,
                "rejected",
                Some(json!({ "reason": reason })),
                Some("entry"),
            )?;
            calls::set_outcome(c, call_id, Outcome::Rejected.as_str())
        };
        let Some(number) = ctx.number else {
            reject("unknown_number")?;
            return Ok(Entry::Unknown);
        };
        match number.role {
            NumberRole::System => {
                reject("system_number")?;
                Ok(Entry::System(number.e164))
            }
            NumberRole::Onboarding => {
                calls::event(
                    c,
                    call_id,
                    "invariant",
                    Some(json!({ "name": "voice_onboarding_number" })),
                    Some("entry"),
                )?;
                calls::set_outcome(c, call_id, Outcome::Rejected.as_str())?;
                Ok(Entry::Onboarding(number.e164))
            }
            NumberRole::Operational if number.handler == NumberHandler::Vapi => {
                let sip = match number.agent_id {
                    Some(id) => agents::get(c, number.org_id, id)?.and_then(|a| a.sip_uri),
                    None => None,
                }
                .filter(|s| !s.trim().is_empty());
                let fallback = orgs::settings(c, number.org_id)?.and_then(|s| s.fallback_number);
                calls::event(
                    c,
                    call_id,
                    "invariant",
                    Some(json!({ "name": "voice_vapi_number_on_ivr", "agentSip": sip.is_some(), "fallback": fallback.is_some() })),
                    Some("entry"),
                )?;
                Ok(Entry::Misrouted {
                    e164: number.e164,
                    flow: ctx.flow,
                    sip,
                    fallback,
                })
            }
            NumberRole::Operational => {
                let open = ctx.flow.is_open(now, tz(&number));
                calls::event(
                    c,
                    call_id,
                    "call.started",
                    Some(json!({ "open": open })),
                    Some("entry"),
                )?;
                if !open {
                    calls::event(c, call_id, "after_hours", None, Some("after_hours"))?;
                } else if ctx.recording_flag && ctx.flow.recording.mode == RecordingMode::Announce {
                    calls::set_consent(c, call_id, "announced")?;
                }
                Ok(Entry::Operational {
                    flow: ctx.flow,
                    open,
                    recording_allowed: ctx.recording_flag,
                })
            }
        }
    })
    .await?;
    Ok(match decided {
        Entry::Unknown => {
            state.metrics.incr(UNKNOWN_NUMBERS, &[("kind", "voice")]);
            log::warn!(
                "call {} to a number that is not in phone_numbers; treated as system and rejected",
                p.call_sid
            );
            TwiML::new().reject()
        }
        Entry::System(e164) => {
            log::info!(
                "call {} to system number {} rejected",
                p.call_sid,
                redact(&e164)
            );
            TwiML::new().reject()
        }
        Entry::Onboarding(e164) => {
            state.metrics.invariant(
                "voice_onboarding_number",
                &format!("call {} to onboarding number {}", p.call_sid, redact(&e164)),
            );
            TwiML::new().say(ONBOARDING_VOICE_MESSAGE).hangup()
        }
        Entry::Operational {
            flow,
            open,
            recording_allowed,
        } => operational_twiml(&flow, open, recording_allowed),
        Entry::Misrouted {
            e164,
            flow,
            sip,
            fallback,
        } => {
            // The business chose the AI for this number, not the menu: hand the caller to
            // the agent, else to a person, else take a message. Never the menu.
            state.metrics.invariant(
                "voice_vapi_number_on_ivr",
                &format!(
                    "number {} is answered by Vapi but Twilio sent call {} here: point its Voice URL at Vapi",
                    redact(&e164),
                    p.call_sid
                ),
            );
            match (sip, fallback) {
                (Some(uri), _) => TwiML::new().dial(DIAL_RESULT, 30, false, DialTarget::Sip(uri)),
                (None, Some(person)) => TwiML::new().say(TRANSFER_MESSAGE).dial(
                    DIAL_RESULT,
                    20,
                    false,
                    DialTarget::Numbers(vec![person]),
                ),
                (None, None) => voicemail_twiml(&flow),
            }
        }
    })
}

/// Said before a caller of a misrouted AI line is put through to a person.
const TRANSFER_MESSAGE: &str = "Please hold while we connect you.";

/// Mid-call callbacks decide by role as the entry does: only an operational number has a
/// menu, so a callback for any other number ends the call (and is counted).
fn off_menu(state: &AppState, ctx: &CallContext, route: &str) -> Option<TwiML> {
    match ctx.number.as_ref().map(|n| n.role) {
        Some(NumberRole::Operational) => None,
        Some(NumberRole::Onboarding) => {
            state.metrics.invariant(
                "voice_callback_onboarding_number",
                &format!("{route} for a call to an onboarding number"),
            );
            Some(TwiML::new().say(ONBOARDING_VOICE_MESSAGE).hangup())
        }
        _ => {
            state.metrics.invariant(
                "voice_callback_system_number",
                &format!("{route} for a call to a system or unknown number"),
            );
            Some(TwiML::new().hangup())
        }
    }
}

/// The first TwiML of an operational call: after-hours action, or consent then the menu.
fn operational_twiml(flow: &CallFlow, open: bool, recording_allowed: bool) -> TwiML {
    if !open {
        let a = &flow.after_hours;
        let twiml = TwiML::new().say(&a.message);
        return match a.action {
            AfterHoursAction::Voicemail => voicemail_after(twiml, flow),
            AfterHoursAction::Message => twiml.say("Goodbye.").hangup(),
            AfterHoursAction::Dial => twiml.dial(
                DIAL_RESULT,
                20,
                false,
                DialTarget::Numbers(a.targets.iter().map(|t| t.to_string()).collect()),
            ),
        };
    }
    match (flow.recording.mode, recording_allowed) {
        (RecordingMode::Off, _) | (_, false) => menu_twiml(flow, 1),
        (RecordingMode::Announce, true) => TwiML::new().say(&flow.recording.disclosure).gather(
            "/twilio/voice/menu?attempt=1",
            flow.gather_timeout_secs,
            flow.menu_prompt(),
        ),
        (RecordingMode::OptIn, true) => TwiML::new().gather(
            "/twilio/voice/consent",
            flow.gather_timeout_secs,
            vec![
                flow.recording.disclosure.clone(),
                flow.recording.opt_in_prompt.clone(),
            ],
        ),
    }
}

fn voicemail_after(prefix: TwiML, flow: &CallFlow) -> TwiML {
    prefix
        .say(&flow.voicemail.prompt)
        .record_voicemail(flow.voicemail.max_length_secs)
        .say(&flow.voicemail.goodbye)
        .hangup()
}

/// `POST /twilio/voice/consent`: the opt-in answer (1 allows recording; anything else,
/// including no answer or an error, means no recording).
pub async fn consent(
    state: &AppState,
    p: VoiceParams,
    digits: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let granted = digits.as_deref() == Some("1");
    let ctx = with_call(state, &p, move |c, ctx| {
        let outcome = if granted { "granted" } else { "declined" };
        calls::set_consent(c, ctx.call_id, outcome)?;
        calls::event(
            c,
            ctx.call_id,
            "consent",
            Some(json!({ "outcome": outcome })),
            Some("consent"),
        )?;
        Ok(ctx)
    })
    .await?;
    if let Some(end) = off_menu(state, &ctx, "consent") {
        return Ok(end);
    }
    Ok(menu_twiml(&ctx.flow, 1))
}

/// `POST /twilio/voice/menu?attempt=N`: a key was pressed, or nothing (timeout).
pub async fn menu(
    state: &AppState,
    p: VoiceParams,
    attempt: u32,
    digits: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let attempt = attempt.clamp(1, 100);
    let digits = digits
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    let (ctx, sip) = {
        let digit = digits.clone();
        with_call(state, &p, move |c, ctx| {
            let key = format!("menu:{attempt}:{}", digit.as_deref().unwrap_or("-"));
            let detail = json!({ "attempt": attempt, "digits": digit });
            if calls::event(c, ctx.call_id, "menu", Some(detail), Some(&key))? {
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
            Ok((ctx, sip))
        })
        .await?
    };
    if let Some(end) = off_menu(state, &ctx, "menu") {
        return Ok(end);
    }
    let flow = &ctx.flow;
    let record = recording_consented(&ctx);
    let option = digits.as_deref().and_then(|d| flow.option(d));
    let Some(option) = option else {
        return Ok(if attempt <= u32::from(flow.retries) {
            TwiML::new().say(&flow.invalid_input_message).gather(
                format!("/twilio/voice/menu?attempt={}", attempt + 1),
                flow.gather_timeout_secs,
                flow.menu_prompt(),
            )
        } else {
            voicemail_twiml(flow)
        });
    };
    Ok(match &option.action {
        MenuAction::Dial {
            targets,
            ring_timeout_secs,
        } => TwiML::new().dial(
            DIAL_RESULT,
            *ring_timeout_secs,
            record,
            DialTarget::Numbers(targets.iter().map(|t| t.to_string()).collect()),
        ),
        MenuAction::Voicemail => voicemail_twiml(flow),
        MenuAction::Agent { agent_id } => match sip {
            Some(uri) => TwiML::new().dial(DIAL_RESULT, 30, false, DialTarget::Sip(uri)),
            None => {
                // The check on save requires a SIP URI; if it was removed since, do not strand the caller.
                state.metrics.invariant(
                    "agent_without_sip_uri",
                    &format!("menu option {} points at agent {agent_id}", option.digit),
                );
                voicemail_twiml(flow)
            }
        },
        MenuAction::Message { text } => TwiML::new().say(text).hangup(),
        MenuAction::Repeat => menu_twiml(flow, attempt),
    })
}

/// Recording of a dialled leg needs consent: announced or granted, a recording mode and
/// the flag on. Any doubt means no recording (SPEC §3.4).
fn recording_consented(ctx: &CallContext) -> bool {
    ctx.recording_flag
        && ctx.flow.recording.mode != RecordingMode::Off
        && matches!(ctx.consent.as_str(), "announced" | "granted")
}

/// Loads the call (creating or completing its row) and runs `then` with it, as one job
/// for the database writer: concurrent callbacks for a call apply one after another.
async fn with_call<T, F>(state: &AppState, p: &VoiceParams, then: F) -> Result<T, FrontdeskError>
where
    F: FnOnce(&Connection, CallContext) -> rusqlite::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let p = p.clone();
    let (flags, flows) = (state.flags.clone(), state.flows.clone());
    Ok(state
        .db
        .write(move |c| {
            let ctx = load(c, &flags, &flows, &p)?;
            then(c, ctx)
        })
        .await?)
}

/// `POST /twilio/voice/dial-result`: answered → goodbye; anything else → voicemail.
pub async fn dial_result(
    state: &AppState,
    p: VoiceParams,
    dial_status: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let status = dial_status.unwrap_or_default();
    let connected = matches!(status.as_str(), "completed" | "answered");
    let ctx = {
        let status = status.clone();
        with_call(state, &p, move |c, ctx| {
            calls::event(
                c,
                ctx.call_id,
                "dial.result",
                Some(json!({ "status": status })),
                Some("dial-result"),
            )?;
            if connected {
                calls::mark_connected(c, ctx.call_id)?;
            }
            if ctx.ended {
                refresh_outcome(c, ctx.call_id, &ctx.flow)?;
            }
            Ok(ctx)
        })
        .await?
    };
    if let Some(end) = off_menu(state, &ctx, "dial-result") {
        return Ok(end);
    }
    Ok(if connected {
        TwiML::new().hangup()
    } else {
        voicemail_twiml(&ctx.flow)
    })
}

/// `POST /twilio/voice/voicemail-done`: the Record action; stores what it knows.
pub async fn voicemail_done(
    state: &AppState,
    p: VoiceParams,
    rec: Recording,
) -> Result<TwiML, FrontdeskError> {
    let ctx = {
        with_call(state, &p, move |c, ctx| {
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
    Ok(TwiML::new().say(&ctx.flow.voicemail.goodbye).hangup())
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
    state: &AppState,
    p: VoiceParams,
    rec: Recording,
) -> Result<(), FrontdeskError> {
    let Some(sid) = rec.sid.clone() else {
        return Err(FrontdeskError::BadRequest("RecordingSid is missing".into()));
    };
    let wait = i64::from(state.config.transcript_wait_secs);
    let notify_now = {
        with_call(state, &p, move |c, ctx| {
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
            calls::event(
                c,
                ctx.call_id,
                "voicemail.recording",
                Some(json!({ "status": rec.status, "duration": rec.duration })),
                Some(&format!("recording:{sid}")),
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
                let due =
                    crate::db::format_time(chrono::Utc::now() + chrono::Duration::seconds(wait));
                voicemails::schedule_notification(c, id, &due)?;
            }
            Ok((completed && transcript_done).then_some(id))
        })
        .await?
    };
    if let Some(id) = notify_now {
        super::notify::voicemail(state, id).await;
    }
    Ok(())
}

/// `POST /twilio/voice/transcription`: stores the transcript; the owner is notified now
/// if the recording is in (a transcript may arrive before the recording callback).
pub async fn transcription(
    state: &AppState,
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
    let id = with_call(state, &p, move |c, ctx| {
        let org = ctx.number.as_ref().map(|n| n.org_id);
        let id = voicemails::set_transcription(c, org, ctx.call_id, &sid, text.as_deref(), status)?;
        calls::event(
            c,
            ctx.call_id,
            "voicemail.transcription",
            Some(json!({ "status": status })),
            Some(&format!("transcription:{sid}")),
        )?;
        Ok(id)
    })
    .await?;
    super::notify::voicemail(state, id).await;
    Ok(())
}

/// Recomputes an ended call's outcome from everything known now (late callbacks converge).
fn refresh_outcome(
    c: &Connection,
    call_id: i64,
    flow: &CallFlow,
) -> rusqlite::Result<Option<Outcome>> {
    let Some(call) = calls::by_id(c, call_id)? else {
        return Ok(None);
    };
    if call.number_role.as_deref() != Some("operational") || call.ended_at.is_none() {
        return Ok(None);
    }
    let o = outcome(
        calls::facts(c, &call)?,
        flow.textback.misdial_threshold_secs,
    );
    calls::set_outcome(c, call_id, o.as_str())?;
    Ok(Some(o))
}

/// `POST /twilio/voice/status`: the call ended (or changed state). Finalises the call and
/// applies SPEC §3.5 by role; a missed call schedules one text-back.
pub async fn status(
    state: &AppState,
    p: VoiceParams,
    call_status: String,
    duration: Option<i64>,
) -> Result<(), FrontdeskError> {
    let terminal = matches!(
        call_status.as_str(),
        "completed" | "busy" | "failed" | "no-answer" | "canceled"
    );
    let delay = i64::from(state.config.textback_delay_secs);
    // `first_end` is false for a redelivered final status: counted and logged once.
    let (ctx, first_end) = {
        let call_status = call_status.clone();
        with_call(state, &p, move |c, ctx| {
            if !terminal {
                calls::set_live_status(c, ctx.call_id, &call_status)?;
                return Ok((ctx, false));
            }
            calls::finish(c, ctx.call_id, &call_status, duration)?;
            let first = calls::event(
                c,
                ctx.call_id,
                "call.ended",
                Some(json!({ "status": call_status, "duration": duration })),
                Some("status:final"),
            )?;
            Ok((ctx, first))
        })
        .await?
    };
    if !terminal {
        return Ok(());
    }
    let call_id = ctx.call_id;
    match ctx.number.as_ref().map(|n| n.role) {
        Some(NumberRole::Operational) => {
            let org_id = ctx.number.as_ref().map(|n| n.org_id).unwrap_or_default();
            let flow = ctx.flow.clone();
            let flags = state.flags.clone();
            let scheduled = state
                .db
                .write(move |c| {
                    let textback_on = flags.is_enabled(c, org_id, FlagKey::MissedCallTextback)?;
                    let o = refresh_outcome(c, call_id, &flow)?;
                    let wants = match o {
                        Some(Outcome::Missed) => true,
                        Some(Outcome::Voicemail) => flow.textback.voicemail_counts_as_missed,
                        _ => false,
                    };
                    if wants && textback_on {
                        let due = crate::db::format_time(
                            chrono::Utc::now() + chrono::Duration::seconds(delay),
                        );
                        return calls::schedule_textback(c, call_id, &due);
                    }
                    if wants {
                        calls::event(
                            c,
                            call_id,
                            "textback.skipped",
                            Some(json!({ "reason": "flag_off" })),
                            Some("textback"),
                        )?;
                    }
                    Ok(false)
                })
                .await?;
            if scheduled {
                super::textback::spawn(state, call_id, delay as u64);
            }
        }
        Some(NumberRole::Onboarding) if first_end => {
            state.metrics.invariant(
                "voice_status_onboarding_number",
                &format!(
                    "status callback for call {} on an onboarding number",
                    p.call_sid
                ),
            );
            state
                .db
                .write(move |c| calls::set_outcome(c, call_id, Outcome::Rejected.as_str()))
                .await?;
        }
        Some(NumberRole::Onboarding) => {}
        Some(NumberRole::System) | None if first_end => {
            log::info!(
                "call {} on a system or unknown number ended ({call_status})",
                p.call_sid
            );
            state
                .db
                .write(move |c| calls::set_outcome(c, call_id, Outcome::Rejected.as_str()))
                .await?;
        }
        Some(NumberRole::System) | None => {}
    }
    Ok(())
}
