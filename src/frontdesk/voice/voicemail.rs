//! The voicemail (SPEC §3.5): the recording and its transcript, whichever comes first,
//! and the owner's notice once both are in (or the transcript's wait is over).

use super::call::{refresh_outcome, with_call, Recording, VoiceParams};
use crate::db::{calls, voicemails};
use crate::domain::callflow::transcribable;
use crate::domain::events::CallEvent;
use crate::domain::ivr;
use crate::domain::state::TranscriptionStatus;
use crate::frontdesk::{FrontDesk, FrontdeskError};
use crate::twiml::TwiML;

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
                .is_some_and(|v| v.transcription_status != TranscriptionStatus::Pending);
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
        crate::frontdesk::notify::voicemail(desk, id).await;
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
    status: TranscriptionStatus,
) -> Result<(), FrontdeskError> {
    let Some(sid) = recording_sid else {
        return Err(FrontdeskError::BadRequest("RecordingSid is missing".into()));
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
    crate::frontdesk::notify::voicemail(desk, id).await;
    Ok(())
}
