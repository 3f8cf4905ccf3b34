//! Owner notifications (SPEC §3.3, §3.6): a text to the org's notification number about a
//! new voicemail or lead, sent once (a claim on the row guards it).

use super::mail;
use super::messaging::{self, Outbound};
use super::FrontDesk;
use crate::db::{calls, leads, numbers, orgs, outbox, voicemails};
use crate::domain::callflow::TRANSCRIBE_MAX_SECS;
use crate::domain::events::CallEvent;
use crate::domain::state::MessageKind;
use crate::domain::typed::display;
use std::sync::Arc;

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// Texts the owner about voicemail `id` (once), with the transcript if it is in, and
/// queues one email to each user who wants voicemails by email, with the recording.
pub async fn voicemail(desk: &FrontDesk, id: i64) {
    let public_url = desk.public_url.clone();
    let email = desk.mail.is_some();
    let plan = desk
        .db
        .write(move |c| {
            if !voicemails::claim_notification(c, id)? {
                return Ok(None);
            }
            let Some(vm) = voicemails::by_id(c, id)? else { return Ok(None) };
            let Some(call) = calls::by_id(c, vm.call_id)? else { return Ok(None) };
            let Some(number) = call.phone_number_id.map(|n| numbers::resolve_id(c, n)).transpose()?.flatten() else {
                return Ok(None);
            };
            let country = orgs::country(c, number.org_id)?;
            let caller = call.from_number.as_deref().map_or_else(|| "an unknown caller".into(), |n| display(n, &country));
            let line = number.friendly_name.clone().unwrap_or_else(|| number.e164.clone());
            if email {
                let transcript = vm.transcription_text.as_deref().filter(|_| vm.transcription_status == "completed");
                let seconds = vm.duration_seconds.map(|d| format!("{d} s ")).unwrap_or_default();
                let (text, html) = mail::compose(
                    &format!("{caller} left a {seconds}voicemail on {line}."),
                    Some(transcript.unwrap_or("(no transcript: listen to the recording)")),
                    "Listen and mark it handled",
                    &format!("{public_url}/#voicemail/{id}"),
                );
                outbox::enqueue_email(c, &outbox::NewMail {
                    org_id: number.org_id,
                    event: outbox::Event::Voicemail,
                    key: &format!("voicemail:{id}"),
                    subject: &format!("Voicemail from {caller} on {line}"),
                    text: &text,
                    html: &html,
                    voicemail_id: Some(id),
                })?;
            }
            let Some(owner) = number.notification_number.clone() else {
                calls::record(c, call.id, &CallEvent::NotifySkipped { reason: "no_notification_number" })?;
                return Ok(None);
            };
            let duration = vm.duration_seconds.map(|d| format!(" ({d} s)")).unwrap_or_default();
            let transcript = match (vm.transcription_status.as_str(), vm.transcription_text.as_deref()) {
                ("completed", Some(t)) if !t.trim().is_empty() => format!(" \"{}\"", clip(t.trim(), 300)),
                _ => match vm.duration_seconds {
                    Some(d) if d > i64::from(TRANSCRIBE_MAX_SECS) => format!(" (over {TRANSCRIBE_MAX_SECS} s, so not transcribed: listen to it)"),
                    _ => " (no transcript)".to_string(),
                },
            };
            let body = format!("New voicemail from {caller}{duration} on {line}:{transcript} Listen: {public_url}/#voicemail/{id}");
            calls::record(c, call.id, &CallEvent::NotifyVoicemail)?;
            Ok(Some(
                Outbound::from_number(&number, owner, body, MessageKind::Notification)
                    .call(call.id),
            ))
        })
        .await;
    desk.mail_queued();
    send(desk, plan, "voicemail").await;
}

/// [`lead`] in the background, so the webhook that found the lead answers after at most
/// one provider call (Vapi allows 7.5 s, Twilio 15 s; one provider call may take 10 s).
pub fn spawn_lead(
    desk: &Arc<FrontDesk>,
    lead_id: i64,
    number: numbers::Resolved,
    customer: String,
    first_message: String,
) {
    let desk = desk.clone();
    tokio::spawn(async move { lead(&desk, lead_id, &number, &customer, &first_message).await });
}

/// Texts the owner about a new lead (once per lead), and queues one email to each user
/// who wants new leads by email.
pub async fn lead(
    desk: &FrontDesk,
    lead_id: i64,
    number: &numbers::Resolved,
    customer: &str,
    first_message: &str,
) {
    let (org, owner, email) = (
        number.org_id,
        number.notification_number.clone(),
        desk.mail.is_some(),
    );
    let line = number
        .friendly_name
        .clone()
        .unwrap_or_else(|| number.e164.clone());
    let (customer, first, url) = (
        customer.to_string(),
        first_message.to_string(),
        desk.public_url.clone(),
    );
    let (mail_line, has_owner) = (line.clone(), owner.is_some());
    // One write: the emails are queued and the owner's text claimed (once per lead).
    let planned = desk
        .db
        .write(move |c| {
            let who = display(&customer, &orgs::country(c, org)?);
            if email {
                let (text, html) = mail::compose(
                    &format!("{who} wrote to {mail_line}."),
                    Some(&first),
                    "Reply by text from the business number",
                    &format!("{url}/#leads/{lead_id}"),
                );
                outbox::enqueue_email(
                    c,
                    &outbox::NewMail {
                        org_id: org,
                        event: outbox::Event::Lead,
                        key: &format!("lead:{lead_id}"),
                        subject: &format!("New lead from {who} on {mail_line}"),
                        text: &text,
                        html: &html,
                        voicemail_id: None,
                    },
                )?;
            }
            let text_owner = has_owner && leads::claim_owner_notification(c, lead_id)?;
            Ok((who, text_owner))
        })
        .await;
    desk.mail_queued();
    match (planned, owner) {
        (Ok((who, true)), Some(owner)) => {
            let body = format!(
                "New lead from {who} on {line}: \"{}\" Reply in the dashboard: {}/#leads/{lead_id}",
                clip(first_message.trim(), 300),
                desk.public_url
            );
            let out = Outbound::from_number(number, owner, body, MessageKind::Notification)
                .lead(Some(lead_id));
            send(desk, Ok(Some(out)), "lead").await
        }
        (Ok(_), None) => log::info!(
            "lead {lead_id}: org {org} has no notification number; the owner is not texted"
        ),
        (Ok(_), Some(_)) => {}
        (Err(e), _) => log::error!("lead {lead_id}: owner notification not sent: {e}"),
    }
}

async fn send(desk: &FrontDesk, plan: Result<Option<Outbound>, crate::db::DbError>, what: &str) {
    match plan {
        Ok(Some(out)) => {
            if let Err(e) = messaging::send(desk, out).await {
                log::error!("owner notification ({what}) could not be stored: {e}");
            }
        }
        Ok(None) => {}
        Err(e) => log::error!("owner notification ({what}) failed: {e}"),
    }
}
