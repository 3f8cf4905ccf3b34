//! The Twilio route table and thin handlers: extract parameters, call the front desk.

use super::{Reply, TwilioRequest, TwilioWebhook};
use crate::app::AppState;
use crate::domain::phone::Party;
use crate::domain::ring::Hop;
use crate::domain::state::{CallStatus, Direction, MessageStatus, TranscriptionStatus};
use crate::domain::webhook::TwilioRoute;
use crate::domain::webhook::{CallSid, MessageSid};
use crate::frontdesk::callback;
use crate::frontdesk::sms::{self, InboundSms};
use crate::frontdesk::voice::dial::{self, Leg};
use crate::frontdesk::voice::{self, Recording, VoiceParams};
use crate::frontdesk::FrontdeskError;
use crate::twiml::TwiML;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in TwilioRoute::ALL {
        let handler = match route {
            TwilioRoute::Voice => web::post().to(voice_entry),
            TwilioRoute::Consent => web::post().to(voice_consent),
            TwilioRoute::Menu => web::post().to(voice_menu),
            TwilioRoute::DialResult => web::post().to(voice_dial_result),
            TwilioRoute::Screen => web::post().to(voice_screen),
            TwilioRoute::ScreenAnswer => web::post().to(voice_screen_answer),
            TwilioRoute::VoicemailDone => web::post().to(voice_voicemail_done),
            TwilioRoute::Recording => web::post().to(voice_recording),
            TwilioRoute::Transcription => web::post().to(voice_transcription),
            TwilioRoute::VoiceStatus => web::post().to(voice_status),
            TwilioRoute::Sms => web::post().to(sms_inbound),
            TwilioRoute::SmsStatus => web::post().to(sms_status),
            TwilioRoute::CallbackAnswer => web::post().to(callback_answer),
            TwilioRoute::CallbackDial => web::post().to(callback_dial),
            TwilioRoute::CallbackStatus => web::post().to(callback_status),
            TwilioRoute::SelfCheck => web::post().to(self_check),
        };
        // The route rides with its resource: the extractor reads it from there.
        cfg.service(
            web::resource(route.scoped_path())
                .app_data(route)
                .route(handler),
        );
    }
}

fn voice_params(r: &TwilioRequest) -> Result<VoiceParams, FrontdeskError> {
    Ok(VoiceParams {
        call_sid: r.require_as("CallSid", CallSid::parse)?,
        account_sid: r.account_sid.clone(),
        from: r.get("From").map(Party::parse),
        to: r.get("To").map(Party::parse),
        // `outbound-api`, `outbound-dial`: calls we placed; everything else came in.
        direction: match r.get("Direction") {
            Some(d) if d.starts_with("outbound") => Direction::Outbound,
            _ => Direction::Inbound,
        },
        stir_verstat: r.owned("StirVerstat"),
    })
}

/// Twilio ends every call within 24 h (its `TimeLimit` maximum); a duration outside
/// 0..=86 400 s is a bad field.
const MAX_DURATION_SECS: i64 = 24 * 3600;

/// A duration parameter in seconds, parsed into its range at the edge: a malformed or
/// out-of-range value is ignored and logged, never wrapped or stored as is.
fn seconds(r: &TwilioRequest, key: &str) -> Option<i64> {
    let raw = r.get(key).filter(|v| !v.is_empty())?;
    match raw.trim().parse::<i64>() {
        Ok(n) if (0..=MAX_DURATION_SECS).contains(&n) => Some(n),
        _ => {
            log::warn!(
                "ignoring {key}={raw:?}: not a number of seconds between 0 and {MAX_DURATION_SECS}"
            );
            None
        }
    }
}

fn recording(r: &TwilioRequest) -> Recording {
    Recording {
        sid: r.owned("RecordingSid"),
        url: r.owned("RecordingUrl"),
        duration: seconds(r, "RecordingDuration"),
        status: r.owned("RecordingStatus"),
    }
}

/// What every route answers: TwiML, or an error the envelope renders.
type Answer = Result<Reply, FrontdeskError>;
type Hook = TwilioWebhook;
type State = web::Data<AppState>;

async fn voice_entry(state: State, hook: Hook) -> Answer {
    let p = voice_params(&hook.request)?;
    if p.to.is_none() {
        return Err(FrontdeskError::BadRequest(
            "the To parameter is missing".into(),
        ));
    }
    // Per caller, after the signature check (SPEC §6.1); Twilio does not handle 429.
    let caller = p.from.as_ref().map_or("unknown", Party::as_str);
    if state
        .rate_limits
        .check(&state.rate_limits.twilio_voice, caller)
        .is_err()
    {
        return Ok(Reply::TwiML(
            TwiML::new().say(voice::TOO_MANY_CALLS_MESSAGE).hangup(),
        ));
    }
    voice::entry::entry(&state.desk, p).await.map(Reply::TwiML)
}

async fn voice_consent(state: State, hook: Hook) -> Answer {
    let r = &hook.request;
    voice::menu::consent(&state.desk, voice_params(r)?, r.owned("Digits"))
        .await
        .map(Reply::TwiML)
}

#[derive(serde::Deserialize)]
struct MenuQuery {
    attempt: Option<String>,
}

async fn voice_menu(state: State, hook: Hook) -> Answer {
    // A malformed attempt counts as the first: the caller still gets the menu, retries stay bounded.
    let attempt = web::Query::<MenuQuery>::from_query(&hook.query)
        .ok()
        .and_then(|q| q.attempt.as_deref().and_then(|a| a.parse::<u32>().ok()))
        .unwrap_or(1);
    let r = &hook.request;
    voice::menu::menu(&state.desk, voice_params(r)?, attempt, r.owned("Digits"))
        .await
        .map(Reply::TwiML)
}

async fn voice_dial_result(state: State, hook: Hook) -> Answer {
    let hop = Hop::parse(&hook.query);
    let r = &hook.request;
    dial::dial_result(
        &state.desk,
        voice_params(r)?,
        hop,
        r.owned("DialCallStatus"),
    )
    .await
    .map(Reply::TwiML)
}

/// A screened leg's request: its parent call decides, the leg is named by its own SID.
fn leg(r: &TwilioRequest, hop: Hop) -> Result<Leg, FrontdeskError> {
    let parent = r.require_as("ParentCallSid", CallSid::parse)?;
    Ok(Leg {
        parent: VoiceParams {
            call_sid: parent,
            account_sid: r.account_sid.clone(),
            from: None,
            to: None,
            direction: Direction::Inbound,
            stir_verstat: None,
        },
        leg_sid: r.require_as("CallSid", CallSid::parse)?,
        target: r.owned("To"),
        hop,
    })
}

async fn voice_screen(state: State, hook: Hook) -> Answer {
    let leg = leg(&hook.request, Hop::parse(&hook.query))?;
    dial::screen(&state.desk, leg).await.map(Reply::TwiML)
}

async fn voice_screen_answer(state: State, hook: Hook) -> Answer {
    let leg = leg(&hook.request, Hop::parse(&hook.query))?;
    let digits = hook.request.owned("Digits");
    dial::screen_answer(&state.desk, leg, digits)
        .await
        .map(Reply::TwiML)
}

async fn voice_voicemail_done(state: State, hook: Hook) -> Answer {
    let r = &hook.request;
    voice::voicemail::voicemail_done(&state.desk, voice_params(r)?, recording(r))
        .await
        .map(Reply::TwiML)
}

async fn voice_recording(state: State, hook: Hook) -> Answer {
    let r = &hook.request;
    voice::voicemail::recording(&state.desk, voice_params(r)?, recording(r)).await?;
    Ok(Reply::Empty)
}

async fn voice_transcription(state: State, hook: Hook) -> Answer {
    let r = &hook.request;
    let (sid, text, status) = (
        r.owned("RecordingSid"),
        r.owned("TranscriptionText"),
        TranscriptionStatus::from_twilio(r.get("TranscriptionStatus")),
    );
    voice::voicemail::transcription(&state.desk, voice_params(r)?, sid, text, status).await?;
    Ok(Reply::Empty)
}

async fn voice_status(state: State, hook: Hook) -> Answer {
    let r = &hook.request;
    let status = r.require_as("CallStatus", CallStatus::parse)?;
    let duration = seconds(r, "CallDuration");
    voice::status::status(&state.desk, voice_params(r)?, status, duration).await?;
    Ok(Reply::Empty)
}

/// `MessageSid`, or the older `SmsSid`: parsed, or a 400 naming it.
fn message_sid(r: &TwilioRequest) -> Result<MessageSid, FrontdeskError> {
    let raw = r
        .owned("MessageSid")
        .or_else(|| r.owned("SmsSid"))
        .ok_or_else(|| FrontdeskError::BadRequest("the MessageSid parameter is missing".into()))?;
    MessageSid::parse(&raw).map_err(|e| FrontdeskError::BadRequest(format!("MessageSid: {e}")))
}

async fn sms_inbound(state: State, hook: Hook) -> Answer {
    let r = &hook.request;
    let m = InboundSms {
        sid: message_sid(r)?.into(),
        from: Party::parse(&r.require("From")?),
        to: Party::parse(&r.require("To")?),
        body: r.get("Body").unwrap_or_default().to_string(),
    };
    sms::inbound(&state.desk, m).await?;
    Ok(Reply::Empty)
}

async fn sms_status(state: State, hook: Hook) -> Answer {
    let r = &hook.request;
    let sid = message_sid(r)?.into();
    let status = r.require_as("MessageStatus", MessageStatus::parse)?;
    sms::delivery_status(&state.desk, sid, status, r.owned("ErrorCode")).await?;
    Ok(Reply::Empty)
}

#[derive(serde::Deserialize)]
struct CallbackQuery {
    callback: i64,
}

/// The callback a callback route names (`?callback=N`); a request without one is a 400.
fn callback_id(query: &str) -> Result<i64, FrontdeskError> {
    web::Query::<CallbackQuery>::from_query(query)
        .map(|q| q.callback)
        .map_err(|_| {
            FrontdeskError::BadRequest(
                "the callback query parameter is missing or not a number".into(),
            )
        })
}

async fn callback_answer(state: State, hook: Hook) -> Answer {
    let id = callback_id(&hook.query);
    let r = &hook.request;
    let (sid, answered_by) = (
        r.require_as("CallSid", CallSid::parse)?,
        r.owned("AnsweredBy"),
    );
    callback::answered(&state.desk, id?, sid.into(), answered_by)
        .await
        .map(Reply::TwiML)
}

async fn callback_dial(state: State, hook: Hook) -> Answer {
    let id = callback_id(&hook.query);
    let r = &hook.request;
    let (sid, status) = (
        r.require_as("CallSid", CallSid::parse)?,
        r.require("DialCallStatus")?,
    );
    let seconds = seconds(r, "DialCallDuration");
    callback::dialled(&state.desk, id?, sid.into(), status, seconds)
        .await
        .map(Reply::TwiML)
}

async fn callback_status(state: State, hook: Hook) -> Answer {
    let id = callback_id(&hook.query);
    let r = &hook.request;
    let sid = r.require_as("CallSid", CallSid::parse)?;
    let status = r.require_as("CallStatus", CallStatus::parse)?;
    let duration = seconds(r, "CallDuration");
    callback::ended(&state.desk, id?, sid.into(), status, duration).await?;
    Ok(Reply::Empty)
}

/// Reaching this handler is the whole answer: the signature matched the URL Twilio signs.
async fn self_check(_hook: Hook) -> Answer {
    Ok(Reply::Empty)
}
