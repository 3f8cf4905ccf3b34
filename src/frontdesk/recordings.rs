//! Recordings kept here (SPEC §13). After the recording callback the audio is downloaded
//! from Twilio into this database (BLOBs: `switchboard backup`, `restore` and Litestream
//! carry them with the rest, in one consistent file, and nothing else needs backing up),
//! then Twilio's copy is deleted unless the org chose to keep it there. Both steps are
//! retried with backoff (30 s doubling to an hour, for about a day); a failure shows on
//! Health. Each org may delete recordings and transcripts after N days, audited.

use super::{Backoff, FrontDesk};
use crate::db::recordings::{self, Due};
use crate::db::{audit, DbError};
use crate::providers::Audio;
use std::time::Duration;

const RETRY: Backoff = Backoff {
    first_secs: 30,
    max_secs: 3600,
    attempts: 30,
};
/// Recordings kept per round.
const BATCH: u32 = 10;
/// Voicemails purged per org and round by the retention.
const PURGE_BATCH: u32 = 500;

/// Keeps the recordings that fall due; answers how long until the next one does.
pub async fn keep_due(desk: &FrontDesk) -> Option<Duration> {
    let now = crate::db::format_time(desk.clock.now());
    match desk
        .db
        .write(move |c| recordings::due(c, &now, BATCH))
        .await
    {
        Ok(due) => {
            for d in due {
                keep(desk, d).await;
            }
        }
        Err(e) => log::error!("recordings to keep could not be read: {e}"),
    }
    let next = desk.db.write(recordings::next_due).await.ok()??;
    desk.until(&next)
}

async fn keep(desk: &FrontDesk, d: Due) {
    let (accounts, account) = (desk.messenger.accounts.clone(), d.account_sid.clone());
    let creds = desk
        .db
        .query(move |c| Ok(accounts.lookup(c, account.as_deref())))
        .await;
    let outcome = match creds {
        Ok(Some(creds)) => step(desk, &d, &creds).await,
        Ok(None) => Err((
            "no Twilio credentials for the recording's account: set SWITCHBOARD_TWILIO_ACCOUNT_SID"
                .into(),
            true,
        )),
        Err(e) => Err((format!("the database: {e}"), true)),
    };
    let (id, attempts) = (d.voicemail_id, d.attempts);
    let recorded = match outcome {
        Ok(deleted) => {
            log::info!(
                "voicemail {id}: recording kept here{}",
                if deleted { ", deleted at Twilio" } else { "" }
            );
            desk.db
                .write(move |c| recordings::done(c, id, deleted))
                .await
        }
        Err((error, retry)) => {
            let retry_at = retry
                .then(|| RETRY.retry_at(desk.clock.now(), attempts))
                .flatten();
            log::warn!(
                "voicemail {id}: recording not kept (attempt {}): {error}{}",
                attempts + 1,
                if retry_at.is_some() {
                    "; tried again later"
                } else {
                    "; given up"
                }
            );
            desk.db
                .write(move |c| recordings::failed(c, id, &error, retry_at.as_deref()))
                .await
        }
    };
    if let Err(e) = recorded {
        log::error!("voicemail {id}: keeping its recording could not be recorded: {e}");
    }
}

/// Downloads (unless stored already) and deletes Twilio's copy (if the org wants it):
/// whether Twilio's copy is gone, or the error and whether to try again.
async fn step(
    desk: &FrontDesk,
    d: &Due,
    creds: &crate::providers::TwilioCreds,
) -> Result<bool, (String, bool)> {
    let twilio = &desk.messenger.twilio;
    if !d.stored {
        let Audio {
            content_type,
            bytes,
        } = match twilio.fetch_recording(creds, &d.recording_sid).await {
            Ok(a) => a,
            // Gone at Twilio before it was kept: nothing to retry.
            Err(e) if e.is_not_found() => {
                return Err((format!("Twilio no longer has the recording: {e}"), false))
            }
            Err(e) => return Err((format!("downloading from Twilio failed: {e}"), true)),
        };
        if bytes.is_empty() {
            return Err(("Twilio sent an empty recording".into(), true));
        }
        let due = d.clone();
        desk.db
            .write(move |c| recordings::store(c, &due, &content_type, &bytes))
            .await
            .map_err(|e| (format!("storing the recording failed: {e}"), true))?;
    }
    if !d.delete_at_twilio {
        return Ok(false);
    }
    match crate::providers::deleted(twilio.delete_recording(creds, &d.recording_sid).await) {
        Ok(_) => Ok(true),
        Err(e) => Err((format!("deleting Twilio's copy failed: {e}"), true)),
    }
}

/// The retention (SPEC §13): recordings and transcripts older than each org's days are
/// deleted, a batch at a time, each batch audited.
pub async fn purge_expired(
    desk: &FrontDesk,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64, DbError> {
    desk.db
        .write(move |c| {
            let mut total = 0;
            for (org, days, purged) in recordings::purge_expired(c, now, PURGE_BATCH)? {
                total += purged;
                audit::record(
                    c,
                    audit::Record {
                        org_id: Some(org),
                        user_id: None,
                        actor: "retention",
                        action: "recordings.purged",
                        target: None,
                        detail: Some(
                            serde_json::json!({ "voicemails": purged, "olderThanDays": days }),
                        ),
                        ip: None,
                    },
                )?;
            }
            Ok(total)
        })
        .await
}
