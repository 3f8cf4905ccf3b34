//! The front desk: what happens when a call or text arrives, independent of HTTP. The
//! Twilio handlers parse and verify, then call in here; background sweeps call in here too.

pub mod messaging;
pub mod notify;
pub mod sms;
pub mod textback;
pub mod vapi;
pub mod voice;

use crate::app::AppState;
use crate::db::DbError;

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
pub async fn sweep(state: &AppState, now: chrono::DateTime<chrono::Utc>) {
    let now_s = crate::db::format_time(now);
    let due = {
        let n = now_s.clone();
        state
            .db
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
                textback::process(state, call_id).await;
            }
            for id in voicemails {
                notify::voicemail(state, id).await;
            }
        }
        Err(e) => log::warn!("front desk sweep failed: {e}"),
    }
}
