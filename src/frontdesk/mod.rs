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
