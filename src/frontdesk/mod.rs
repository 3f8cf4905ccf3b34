//! The front desk: what happens when a call or text arrives, independent of HTTP. The
//! Twilio handlers parse and verify, then call in here; background sweeps call in here too.

pub mod callback;
pub mod mail;
pub mod messaging;
pub mod notices;
pub mod notify;
pub mod push;
pub mod recordings;
pub mod sms;
pub mod summary;
pub mod textback;
pub mod vapi;
pub mod voice;
pub mod webhooks;

use crate::clock::Clock;
use crate::db::callflows::FlowCache;
use crate::db::{Db, DbError};
use crate::flags::Flags;
use crate::metrics::Metrics;
use messaging::Messenger;
use std::sync::Arc;

/// Everything the front desk works with, built once in `startup.rs` and shared as an
/// `Arc`: work that outlives a request (a text-back after its delay, an owner's notice)
/// takes its own clone of that `Arc`.
pub struct FrontDesk {
    pub db: Db,
    pub flags: Arc<Flags>,
    pub flows: Arc<FlowCache>,
    /// Sends texts through the provider and records each one.
    pub messenger: Messenger,
    pub metrics: Arc<Metrics>,
    /// The time the front desk decides by.
    pub clock: Clock,
    /// The base URL Twilio calls back (PUBLIC_URL, or the local address in demo mode).
    pub public_url: String,
    /// How long a voicemail waits for its transcript before the owner is told without it.
    pub transcript_wait_secs: u32,
    /// How long after a missed call its text-back is sent.
    pub textback_delay_secs: u32,
    /// Wakes the notification worker when something is queued in the outbox.
    pub notices: Arc<tokio::sync::Notify>,
    /// Wakes the webhook sender: a slow receiver never holds up a notice.
    pub webhooks: Arc<tokio::sync::Notify>,
    /// Which channels can send: email once an SMTP server is configured (else nothing is
    /// queued for email), push once the VAPID key is loaded.
    pub senders: crate::db::outbox::Senders,
    /// Outgoing webhooks may reach private and loopback addresses, over http too
    /// (`SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE`).
    pub webhooks_allow_private: bool,
    /// Unseals what is stored sealed: the webhook endpoints' signing secrets.
    pub secret_key: crate::crypto::SecretKey,
}

/// When work that failed is tried again: after `first_secs`, doubling up to `max_secs`,
/// and given up after `attempts` tries (about a day for 30 tries with an hour's cap).
pub(crate) struct Backoff {
    pub first_secs: i64,
    pub max_secs: i64,
    pub attempts: i64,
}

impl Backoff {
    /// The time of the next try after `attempts` failed ones, or `None`: give up.
    pub fn retry_at(&self, now: chrono::DateTime<chrono::Utc>, attempts: i64) -> Option<String> {
        (attempts + 1 < self.attempts).then(|| {
            let wait = (self.first_secs << attempts.min(20)).min(self.max_secs);
            crate::db::format_time(now + chrono::Duration::seconds(wait))
        })
    }
}

/// What a write job of the desk needs besides its connection, taken when the job is
/// made and moved into it: the flags, the time it decides by, the links it writes and
/// the channels notices can go by.
pub(crate) struct JobContext {
    pub flags: Arc<Flags>,
    pub now: chrono::DateTime<chrono::Utc>,
    pub public_url: String,
    pub senders: crate::db::outbox::Senders,
}

impl FrontDesk {
    pub(crate) fn job_context(&self) -> JobContext {
        JobContext {
            flags: self.flags.clone(),
            now: self.clock.now(),
            public_url: self.public_url.clone(),
            senders: self.senders,
        }
    }

    /// How long until the stored time `at` (zero once it has passed); `None` for a time
    /// that cannot be read.
    pub(crate) fn until(&self, at: &str) -> Option<std::time::Duration> {
        let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
        Some(
            (at.with_timezone(&chrono::Utc) - self.clock.now())
                .to_std()
                .unwrap_or_default(),
        )
    }

    /// Tells the notification worker that the outbox has something new.
    pub fn notices_queued(&self) {
        self.notices.notify_one();
        self.webhooks.notify_one();
    }
}

/// How one attempt to send a notice went (email, text or push).
pub enum Attempt {
    Sent,
    /// Worth trying again: the server was down, busy, or answered 5xx.
    Retry(String),
    /// Trying again would get the same answer (a refused address, a bad request).
    GiveUp(String),
}

#[derive(Debug, thiserror::Error)]
pub enum FrontdeskError {
    /// The webhook is missing something it must have; answered with a 400 naming it.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for FrontdeskError {
    fn from(e: rusqlite::Error) -> Self {
        FrontdeskError::Db(e.into())
    }
}

/// Background work that is due: scheduled text-backs (e.g. after a restart) and voicemail
/// notifications whose transcript did not arrive in time.
pub async fn sweep(desk: &FrontDesk, now: chrono::DateTime<chrono::Utc>) {
    let now_s = crate::db::format_time(now);
    let due = {
        let n = now_s.clone();
        desk.db
            .query(move |c| {
                Ok((
                    crate::db::calls::due_textbacks(c, &n)?,
                    crate::db::voicemails::due_notifications(c, &n)?,
                ))
            })
            .await
    };
    match due {
        Ok((textbacks, voicemails)) => {
            for call_id in textbacks {
                textback::process(desk, call_id).await;
            }
            for id in voicemails {
                notify::voicemail(desk, id).await;
            }
        }
        Err(e) => log::warn!("front desk sweep failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;

    #[test]
    fn a_retry_waits_twice_as_long_each_time_up_to_the_cap_then_gives_up() {
        let b = Backoff {
            first_secs: 30,
            max_secs: 3600,
            attempts: 30,
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let at = |n| b.retry_at(now, n);
        assert_eq!(at(0).as_deref(), Some("2026-12-07T10:00:30.000Z"));
        assert_eq!(at(1).as_deref(), Some("2026-12-07T10:01:00.000Z"));
        assert_eq!(at(6).as_deref(), Some("2026-12-07T10:32:00.000Z"));
        assert_eq!(at(7).as_deref(), Some("2026-12-07T11:00:00.000Z"));
        assert_eq!(at(28).as_deref(), Some("2026-12-07T11:00:00.000Z"));
        assert_eq!(at(29), None);
    }
}
