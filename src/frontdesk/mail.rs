//! Email to the people of the business (SPEC §12): the notices the outbox holds for email
//! are sent here through SMTP (lettre, rustls), a voicemail's recording attached as the
//! audio Twilio serves. The worker in `notices` retries and records the outcome.

use super::Attempt;
use super::FrontDesk;
use crate::config::SmtpConfig;
use crate::db::outbox::Due;
use crate::db::{calls, numbers, voicemails, DbError};
use crate::providers::{Audio, ProviderError};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

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

/// One email: built (the recording attached when there is one) and handed to the SMTP
/// server. A permanent refusal (5xx) is given up; anything else is tried again.
pub async fn send(desk: &FrontDesk, mailer: &Mailer, mail: &Due) -> Attempt {
    let attachment = match mail.voicemail_id {
        Some(vm) => Some(voicemail_audio(desk, vm).await),
        None => None,
    };
    let message = match build(mailer, mail, attachment) {
        Ok(m) => m,
        Err(e) => return Attempt::GiveUp(e),
    };
    match mailer.transport.send(message).await {
        Ok(_) => Attempt::Sent,
        Err(e) if e.is_permanent() => Attempt::GiveUp(e.to_string()),
        Err(e) => Attempt::Retry(e.to_string()),
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

/// A voicemail's recording: as kept here, else as Twilio serves it, fetched with its
/// number's own account; with `org`, only a voicemail of that org.
pub async fn recording(
    desk: &FrontDesk,
    id: i64,
    org: Option<i64>,
) -> Result<Audio, RecordingError> {
    let accounts = desk.messenger.accounts.clone();
    /// Where the audio is: kept here (SPEC §13: no trip to Twilio, which may have deleted
    /// its copy), or at Twilio under this SID with these credentials.
    enum Source {
        Here(Audio),
        Twilio(Option<String>, Option<crate::providers::TwilioCreds>),
    }
    let found = desk
        .db
        .query(move |c| {
            let Some(vm) = voicemails::by_id(c, id)?.filter(|v| org.is_none() || v.org_id == org)
            else {
                return Ok(None);
            };
            // Deleted by the org's retention: there is no recording any more.
            if vm.purged_at.is_some() {
                return Ok(Some(Source::Twilio(None, None)));
            }
            if vm.kept {
                if let Some((content_type, bytes)) = crate::db::recordings::audio(c, org, id)? {
                    return Ok(Some(Source::Here(Audio {
                        content_type,
                        bytes,
                    })));
                }
            }
            let account = calls::by_id(c, vm.call_id)?
                .and_then(|call| call.phone_number_id)
                .map(|n| numbers::resolve_id(c, n))
                .transpose()?
                .flatten()
                .and_then(|n| n.account_sid);
            let creds = accounts.lookup(c, account.as_deref());
            Ok(Some(Source::Twilio(vm.recording_sid, creds)))
        })
        .await?;
    let (sid, creds) = match found.ok_or(RecordingError::NotFound(id))? {
        Source::Here(audio) => return Ok(audio),
        Source::Twilio(sid, creds) => (sid, creds),
    };
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
