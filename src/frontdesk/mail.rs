//! Email to the people of the business (SPEC §12): the notices queued in the outbox are sent
//! here through SMTP (lettre, rustls), a voicemail's recording attached as the audio Twilio
//! serves. A failed attempt is tried again with backoff — 5 s, doubling, at most an hour
//! apart — for about a day, and the server's answer is kept for Health.

use super::FrontDesk;
use crate::config::SmtpConfig;
use crate::db::outbox::{self, Due};
use crate::db::{calls, numbers, voicemails, DbError};
use crate::providers::{Audio, ProviderError};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// Attempts before an email is given up (the backoff makes that about a day).
const MAX_ATTEMPTS: i64 = 30;
const FIRST_RETRY_SECS: i64 = 5;
const MAX_RETRY_SECS: i64 = 3600;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(cfg: &SmtpConfig) -> Result<Mailer, crate::config::ConfigError> {
        let bad = |problem: String| crate::config::ConfigError {
            var: "SWITCHBOARD_SMTP_URL".into(),
            problem,
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(cfg.url.expose())
            .map_err(|e| bad(format!("is not an SMTP URL lettre can use: {e}")))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = cfg.from.parse().map_err(|e| crate::config::ConfigError {
            var: "SWITCHBOARD_SMTP_FROM".into(),
            problem: format!("is not a sender address: {e}"),
        })?;
        Ok(Mailer { transport, from })
    }
}

/// The longest the worker sleeps without being woken (a safety net: a queued notice always
/// wakes it, and a retry's time is known).
const MAX_IDLE: Duration = Duration::from_secs(60);

/// Sends what falls due, for good; `wake` is notified when something is queued. Between
/// rounds it sleeps until the next retry falls due, not polling the outbox.
pub async fn run(desk: Arc<FrontDesk>, mailer: Mailer, wake: Arc<tokio::sync::Notify>) {
    loop {
        let now = crate::db::format_time(desk.clock.now());
        let mut full = false;
        match desk.db.query(move |c| outbox::due(c, &now, BATCH)).await {
            Ok(due) => {
                full = due.len() == BATCH as usize;
                for mail in due {
                    deliver(&desk, &mailer, mail).await;
                }
            }
            Err(e) => log::error!("the email outbox could not be read: {e}"),
        }
        if full {
            continue;
        }
        let wait = match desk.db.query(|c| outbox::next_due(c)).await {
            Ok(Some(at)) => chrono::DateTime::parse_from_rfc3339(&at)
                .ok()
                .and_then(|at| {
                    (at.with_timezone(&chrono::Utc) - desk.clock.now())
                        .to_std()
                        .ok()
                })
                .unwrap_or(Duration::ZERO)
                .min(MAX_IDLE),
            Ok(None) => MAX_IDLE,
            Err(e) => {
                log::error!("the email outbox could not be read: {e}");
                MAX_IDLE
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Emails sent per round before the outbox is read again.
const BATCH: u32 = 20;

async fn deliver(desk: &FrontDesk, mailer: &Mailer, mail: Due) {
    let attachment = match mail.voicemail_id {
        Some(vm) => Some(voicemail_audio(desk, vm).await),
        None => None,
    };
    let (id, attempts) = (mail.id, mail.attempts);
    let result = match build(mailer, &mail, attachment) {
        Ok(message) => mailer
            .transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let recorded = match result {
        Ok(()) => {
            log::info!(
                "email {id} sent to {}",
                crate::domain::phone::redact(&mail.recipient)
            );
            desk.db.write(move |c| outbox::mark_sent(c, id)).await
        }
        Err(error) => {
            let retry_at = (attempts + 1 < MAX_ATTEMPTS).then(|| {
                let wait = (FIRST_RETRY_SECS << attempts.min(20)).min(MAX_RETRY_SECS);
                crate::db::format_time(desk.clock.now() + chrono::Duration::seconds(wait))
            });
            log::warn!(
                "email {id} not sent (attempt {}): {error}{}",
                attempts + 1,
                if retry_at.is_some() {
                    "; it is tried again"
                } else {
                    "; given up"
                }
            );
            desk.db
                .write(move |c| outbox::mark_failed(c, id, &error, retry_at.as_deref()))
                .await
        }
    };
    if let Err(e) = recorded {
        log::error!("email {id}: its outcome could not be recorded: {e}");
    }
}

/// Text and HTML, with the recording attached when there is one (or a line saying why not).
fn build(
    mailer: &Mailer,
    mail: &Due,
    attachment: Option<Result<Audio, String>>,
) -> Result<Message, String> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("the recipient '{}' is not an address: {e}", mail.recipient))?;
    let (mut text, mut html) = (mail.text.clone(), mail.html.clone());
    let mut audio = None;
    match attachment {
        Some(Ok(a)) => audio = Some(a),
        Some(Err(why)) => {
            let note = format!(
                "The recording could not be attached ({why}): listen to it in the dashboard."
            );
            text.push_str(&format!("\n{note}\n"));
            html.push_str(&format!("<p>{}</p>", escape(&note)));
        }
        None => {}
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(text))
        .singlepart(SinglePart::html(html));
    let body = match audio {
        Some(a) => {
            let kind = ContentType::parse(&a.content_type).unwrap_or_else(|_| {
                ContentType::parse("audio/mpeg").expect("a valid content type")
            });
            let name = if a.content_type.contains("wav") {
                "voicemail.wav"
            } else {
                "voicemail.mp3"
            };
            MultiPart::mixed()
                .multipart(body)
                .singlepart(Attachment::new(name.to_string()).body(a.bytes, kind))
        }
        None => body,
    };
    Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .multipart(body)
        .map_err(|e| format!("the email could not be built: {e}"))
}

/// Why a voicemail's audio could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("voicemail {0} was not found")]
    NotFound(i64),
    #[error("voicemail {0} has no recording")]
    NoRecording(i64),
    #[error("no Twilio credentials for this number: set SWITCHBOARD_TWILIO_ACCOUNT_SID")]
    NoCredentials,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A voicemail's recording as Twilio serves it, fetched with its number's own account;
/// with `org`, only a voicemail of that org.
pub async fn recording(
    desk: &FrontDesk,
    id: i64,
    org: Option<i64>,
) -> Result<Audio, RecordingError> {
    let (key, master) = (
        desk.messenger.secret_key.clone(),
        desk.messenger.twilio_master.clone(),
    );
    let found = desk
        .db
        .query(move |c| {
            let Some(vm) = voicemails::by_id(c, id)?.filter(|v| org.is_none() || v.org_id == org)
            else {
                return Ok(None);
            };
            let account = calls::by_id(c, vm.call_id)?
                .and_then(|call| call.phone_number_id)
                .map(|n| numbers::resolve_id(c, n))
                .transpose()?
                .flatten()
                .and_then(|n| n.account_sid);
            let creds =
                crate::app::twilio_credentials(c, &key, master.as_ref(), account.as_deref());
            Ok(Some((vm.recording_sid, creds)))
        })
        .await?;
    let (sid, creds) = found.ok_or(RecordingError::NotFound(id))?;
    let sid = sid.ok_or(RecordingError::NoRecording(id))?;
    let creds = creds.ok_or(RecordingError::NoCredentials)?;
    Ok(desk.messenger.twilio.fetch_recording(&creds, &sid).await?)
}

async fn voicemail_audio(desk: &FrontDesk, id: i64) -> Result<Audio, String> {
    recording(desk, id, None).await.map_err(|e| e.to_string())
}

/// Text made safe inside HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A notice in plain text and simple HTML: a heading line, the details, a quote from the
/// caller (if any), and the link to its page.
pub fn compose(lead: &str, quote: Option<&str>, link_text: &str, link: &str) -> (String, String) {
    let mut text = format!("{lead}\n");
    let mut html = format!("<p>{}</p>", escape(lead));
    if let Some(q) = quote.filter(|q| !q.trim().is_empty()) {
        text.push_str(&format!("\n\"{}\"\n", q.trim()));
        html.push_str(&format!("<blockquote>{}</blockquote>", escape(q.trim())));
    }
    text.push_str(&format!("\n{link_text}: {link}\n"));
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>",
        escape(link),
        escape(link_text)
    ));
    (text, html)
}
