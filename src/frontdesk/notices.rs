//! The notification worker (SPEC §12): sends what the outbox holds — email through SMTP,
//! texts through Twilio from the business number, web pushes to each subscribed device —
//! and retries a failed attempt with backoff: 5 s, doubling, at most an hour apart, for
//! about a day. The server's answer to a failure is kept for Health. Daily summaries are
//! queued here too, at each user's chosen local hour, and voicemail recordings are kept
//! (downloaded here, deleted at Twilio).

use super::mail::Mailer;
use super::messaging::{self, Outbound, Sent};
use super::push::Pusher;
use super::{Attempt, Backoff, FrontDesk};
use crate::db::numbers;
use crate::db::outbox::{self, Channel, Due};
use crate::domain::state::MessageKind;
use std::sync::Arc;
use std::time::Duration;

/// Attempts before a notification is given up (the backoff makes that about a day).
const RETRY: Backoff = Backoff {
    first_secs: 5,
    max_secs: 3600,
    attempts: 30,
};
/// Notifications sent per round before the outbox is read again.
const BATCH: u32 = 20;
/// The longest the worker sleeps without being woken (a queued notice always wakes it,
/// a retry's time is known, and summaries are looked at once a minute).
const MAX_IDLE: Duration = Duration::from_secs(60);

/// Sends what falls due, for good; `wake` is notified when something is queued. The
/// outbox is read on the writer's connection: a few reads a minute at most, and no
/// pooled connection (with its cache) is held open for them.
pub async fn run(
    desk: Arc<FrontDesk>,
    mailer: Option<Mailer>,
    pusher: Arc<Pusher>,
    wake: Arc<tokio::sync::Notify>,
) {
    let email = mailer.is_some();
    let mut summaries_at = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= summaries_at {
            super::summary::queue_due(&desk).await;
            summaries_at = tokio::time::Instant::now() + MAX_IDLE;
        }
        // Recordings to keep share the worker: each is a download and a delete at Twilio.
        let recordings = super::recordings::keep_due(&desk).await;
        let now = crate::db::format_time(desk.clock.now());
        let mut full = false;
        match desk
            .db
            .write(move |c| outbox::due(c, &now, email, BATCH))
            .await
        {
            Ok(due) => {
                full = due.len() == BATCH as usize;
                for notice in due {
                    deliver(&desk, mailer.as_ref(), &pusher, notice).await;
                }
            }
            Err(e) => log::error!("the notification outbox could not be read: {e}"),
        }
        if full {
            continue;
        }
        let wait = match desk.db.write(move |c| outbox::next_due(c, email)).await {
            Ok(Some(at)) => desk.until(&at).unwrap_or(Duration::ZERO),
            Ok(None) => MAX_IDLE,
            Err(e) => {
                log::error!("the notification outbox could not be read: {e}");
                MAX_IDLE
            }
        }
        .min(MAX_IDLE)
        .min(recordings.unwrap_or(MAX_IDLE))
        .min(summaries_at.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn deliver(desk: &FrontDesk, mailer: Option<&Mailer>, pusher: &Pusher, notice: Due) {
    let (id, attempts, channel) = (notice.id, notice.attempts, notice.channel);
    let attempt = match (channel, mailer) {
        (Channel::Email, Some(mailer)) => super::mail::send(desk, mailer, &notice).await,
        (Channel::Email, None) => Attempt::Retry("no SMTP server is configured".into()),
        (Channel::Sms, _) => text(desk, &notice).await,
        (Channel::Push, _) => pusher.send(desk, &notice).await,
    };
    let recorded = match attempt {
        Attempt::Sent => {
            log::info!("{channel} notification {id} sent");
            desk.db.write(move |c| outbox::mark_sent(c, id)).await
        }
        Attempt::Retry(error) | Attempt::GiveUp(error)
            if matches!(channel, Channel::Push) && error == super::push::GONE =>
        {
            // The subscription (and with it this row) was removed: nothing to record.
            log::info!("push notification {id}: the device unsubscribed; removed");
            Ok(())
        }
        Attempt::Retry(error) => {
            let retry_at = RETRY.retry_at(desk.clock.now(), attempts);
            log::warn!(
                "{channel} notification {id} not sent (attempt {}): {error}{}",
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
        Attempt::GiveUp(error) => {
            log::warn!("{channel} notification {id} not sent, for good: {error}");
            desk.db
                .write(move |c| outbox::mark_failed(c, id, &error, None))
                .await
        }
    };
    if let Err(e) = recorded {
        log::error!("{channel} notification {id}: its outcome could not be recorded: {e}");
    }
}

/// A text to the user's mobile from the business number, filed with its call or lead.
async fn text(desk: &FrontDesk, notice: &Due) -> Attempt {
    let Some(number_id) = notice.phone_number_id else {
        return Attempt::GiveUp("no business number to text from".into());
    };
    let number = match desk
        .db
        .query(move |c| numbers::resolve_id(c, number_id))
        .await
    {
        Ok(Some(n)) => n,
        Ok(None) => return Attempt::GiveUp("the business number is no longer active".into()),
        Err(e) => return Attempt::Retry(format!("the database: {e}")),
    };
    let mut out = Outbound::from_number(
        &number,
        notice.recipient.clone(),
        notice.text.clone(),
        MessageKind::Notification,
    )
    .lead(notice.lead_id);
    out.call_id = notice.call_id;
    match messaging::send(desk, out).await {
        Ok(Sent::Sent { .. } | Sent::Duplicate) => Attempt::Sent,
        Ok(Sent::Blocked { reason, code, .. }) => {
            let said = code
                .map(|c| {
                    let hint = crate::providers::twilio_error_hint(c).unwrap_or("");
                    format!("Twilio error {c}. {hint}")
                })
                .unwrap_or_default();
            let error = format!("the text was not sent ({reason}). {said}")
                .trim()
                .to_string();
            match reason {
                "provider_error" | "no_credentials" => Attempt::Retry(error),
                _ => Attempt::GiveUp(error),
            }
        }
        Err(e) => Attempt::Retry(format!("the database: {e}")),
    }
}
