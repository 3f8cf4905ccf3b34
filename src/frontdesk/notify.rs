//! Telling the people of the business (SPEC §3.3, §12): a new voicemail or lead is queued
//! in the outbox — once, in the write that claims it — for everyone who wants it by email,
//! by text to their own mobile (the org's notification number is the first owner's) or by
//! push; the worker in `notices` sends it.

use super::mail;
use super::{FrontDesk, JobContext};
use crate::db::outbox::{self, Event, Notice};
use crate::db::{calls, contacts, leads, numbers, orgs, voicemails};
use crate::domain::callflow::TRANSCRIBE_MAX_SECS;
use crate::domain::events::CallEvent;
use crate::domain::state::TranscriptionStatus;
use rusqlite::Connection;

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// Queues the notifications of voicemail `id` (once), with the transcript if it is in: an
/// email with the recording, a text, a push — to each user as they chose.
pub async fn voicemail(desk: &FrontDesk, id: i64) {
    let ctx = desk.job_context();
    let queued = desk.db.write(move |c| queue_voicemail(c, id, &ctx)).await;
    match queued {
        Ok(true) => desk.notices_queued(),
        Ok(false) => {}
        Err(e) => log::error!("voicemail {id}: notifications not queued: {e}"),
    }
}

/// Claims the voicemail's notification and queues it for everyone who wants it, with its
/// webhook; `true` when something was queued.
fn queue_voicemail(c: &Connection, id: i64, ctx: &JobContext) -> rusqlite::Result<bool> {
    let (public_url, senders, now) = (ctx.public_url.as_str(), ctx.senders, ctx.now);
    if !voicemails::claim_notification(c, id)? {
        return Ok(false);
    }
    let Some(vm) = voicemails::by_id(c, id)? else {
        return Ok(false);
    };
    let Some(call) = calls::by_id(c, vm.call_id)? else {
        return Ok(false);
    };
    let Some(number) = call
        .phone_number_id
        .map(|n| numbers::resolve_id(c, n))
        .transpose()?
        .flatten()
    else {
        return Ok(false);
    };
    let country = orgs::country(c, number.org_id)?;
    let caller = match call.from_number.as_deref() {
        Some(n) => contacts::called(c, number.org_id, n, &country)?,
        None => "an unknown caller".into(),
    };
    let line = number
        .friendly_name
        .clone()
        .unwrap_or_else(|| number.e164.clone());
    let url = format!("{public_url}/#voicemail/{id}");
    let transcript = vm.transcription_text.as_deref().filter(|t| {
        vm.transcription_status == TranscriptionStatus::Completed && !t.trim().is_empty()
    });
    let seconds = vm
        .duration_seconds
        .map(|d| format!("{d} s "))
        .unwrap_or_default();
    let (text, html) = mail::compose(
        &format!("{caller} left a {seconds}voicemail on {line}."),
        Some(transcript.unwrap_or("(no transcript: listen to the recording)")),
        "Listen and mark it handled",
        &url,
    );
    let duration = vm
        .duration_seconds
        .map(|d| format!(" ({d} s)"))
        .unwrap_or_default();
    let said = match transcript {
        Some(t) => format!(" \"{}\"", clip(t.trim(), 300)),
        None => match vm.duration_seconds {
            Some(d) if d > i64::from(TRANSCRIBE_MAX_SECS) => {
                format!(" (over {TRANSCRIBE_MAX_SECS} s, so not transcribed: listen to it)")
            }
            _ => " (no transcript)".to_string(),
        },
    };
    voicemail_created(c, &vm, &call, &number, transcript, public_url)?;
    let queued = outbox::enqueue(
        c,
        &Notice {
            org_id: number.org_id,
            only: None,
            event: Event::Voicemail,
            key: &format!("voicemail:{id}"),
            subject: &format!("Voicemail from {caller} on {line}"),
            text: &text,
            html: &html,
            short: &format!("New voicemail from {caller}{duration} on {line}:{said} Listen: {url}"),
            url: &url,
            voicemail_id: Some(id),
            phone_number_id: Some(number.id),
            call_id: Some(call.id),
            lead_id: None,
        },
        senders,
        now,
    )?;
    let event = if queued.any() {
        CallEvent::NotifyVoicemail
    } else {
        CallEvent::NotifySkipped {
            reason: "nobody_to_notify",
        }
    };
    calls::record(c, call.id, &event)?;
    Ok(queued.any())
}

/// `voicemail.created` for the business's own tools (SPEC §13).
fn voicemail_created(
    c: &Connection,
    vm: &voicemails::Voicemail,
    call: &calls::Call,
    number: &numbers::Resolved,
    transcript: Option<&str>,
    public_url: &str,
) -> rusqlite::Result<()> {
    let id = vm.id;
    crate::db::webhooks::emit(
        c,
        number.org_id,
        "voicemail.created",
        &id.to_string(),
        &crate::db::now(),
        || {
            Ok(Some(serde_json::json!({
                "voicemailId": id,
                "callId": call.id,
                "from": call.from_number,
                "fromName": call.from_number.as_deref().map(|n| contacts::name(c, number.org_id, n)).transpose()?.flatten(),
                "to": number.e164,
                "durationSeconds": vm.duration_seconds,
                "transcript": transcript,
                "recordingUrl": format!("{public_url}/api/voicemails/{id}/recording"),
                "createdAt": vm.created_at,
            })))
        },
    )?;
    Ok(())
}

/// A new lead to tell the people of the business about.
pub struct NewLead<'a> {
    pub lead_id: i64,
    pub number: &'a numbers::Resolved,
    pub customer: &'a str,
    pub first_message: &'a str,
    pub public_url: &'a str,
    pub senders: outbox::Senders,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Queues the notifications of a new lead, in the caller's write (the transaction that
/// made the lead): once per lead, as the lead's own claim and the outbox key both say.
/// Returns whether anything was queued (then the worker is to be woken).
pub fn queue_lead(c: &rusqlite::Connection, n: &NewLead<'_>) -> rusqlite::Result<bool> {
    if !leads::claim_owner_notification(c, n.lead_id)? {
        return Ok(false);
    }
    let (org, lead_id) = (n.number.org_id, n.lead_id);
    let line = n.number.friendly_name.as_deref().unwrap_or(&n.number.e164);
    let url = format!("{}/#leads/{lead_id}", n.public_url);
    let who = contacts::called(c, org, n.customer, &orgs::country(c, org)?)?;
    let (text, html) = mail::compose(
        &format!("{who} wrote to {line}."),
        Some(n.first_message),
        "Reply by text from the business number",
        &url,
    );
    crate::db::webhooks::emit(
        c,
        org,
        "lead.created",
        &lead_id.to_string(),
        &crate::db::now(),
        || {
            Ok(Some(serde_json::json!({
                "leadId": lead_id,
                "customer": n.customer,
                "customerName": contacts::name(c, org, n.customer)?,
                "businessNumber": n.number.e164,
                "firstMessage": n.first_message,
            })))
        },
    )?;
    let queued = outbox::enqueue(
        c,
        &Notice {
            org_id: org,
            only: None,
            event: Event::Lead,
            key: &format!("lead:{lead_id}"),
            subject: &format!("New lead from {who} on {line}"),
            text: &text,
            html: &html,
            short: &format!(
                "New lead from {who} on {line}: \"{}\" Reply in the dashboard: {url}",
                clip(n.first_message.trim(), 300)
            ),
            url: &url,
            voicemail_id: None,
            phone_number_id: Some(n.number.id),
            call_id: None,
            lead_id: Some(lead_id),
        },
        n.senders,
        n.now,
    )?;
    Ok(queued.any())
}
