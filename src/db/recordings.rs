//! Recordings kept here (SPEC §13): the audio of each voicemail in the database (so the
//! backup, restore and Litestream carry it), the job that downloads it and deletes
//! Twilio's copy, and each org's retention.

use super::Cached;
use rusqlite::{Connection, OptionalExtension};

/// A voicemail whose recording is to be kept (downloaded, then deleted at Twilio).
#[derive(Debug, Clone)]
pub struct Due {
    pub voicemail_id: i64,
    pub org_id: Option<i64>,
    pub recording_sid: String,
    /// The Twilio account that owns the number the call came in on, if not the master.
    pub account_sid: Option<String>,
    /// Already downloaded: only Twilio's copy is left to delete.
    pub stored: bool,
    pub delete_at_twilio: bool,
    pub attempts: i64,
}

/// Marks a voicemail's recording to be kept now (the recording callback said it is ready).
pub fn schedule(conn: &Connection, voicemail_id: i64, at: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE voicemails SET keep_due_at = ?2
         WHERE id = ?1 AND purged_at IS NULL AND twilio_deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.voicemail_id = voicemails.id)",
        (voicemail_id, at),
    )?;
    Ok(())
}

pub fn due(conn: &Connection, now: &str, limit: u32) -> rusqlite::Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.id, v.org_id, v.recording_sid, p.account_sid,
                EXISTS (SELECT 1 FROM recordings r WHERE r.voicemail_id = v.id),
                COALESCE(o.delete_recordings_at_twilio, 1), v.keep_attempts
         FROM voicemails v
         JOIN calls c ON c.id = v.call_id
         LEFT JOIN phone_numbers n ON n.id = c.phone_number_id
         LEFT JOIN provider_accounts p ON p.id = n.provider_account_id
         LEFT JOIN orgs o ON o.id = v.org_id
         WHERE v.keep_due_at IS NOT NULL AND v.keep_due_at <= ?1 AND v.recording_sid IS NOT NULL
         ORDER BY v.keep_due_at LIMIT ?2",
    )?;
    let rows = stmt.query_map((now, limit), |r| {
        Ok(Due {
            voicemail_id: r.get(0)?,
            org_id: r.get(1)?,
            recording_sid: r.get(2)?,
            account_sid: r.get(3)?,
            stored: r.get(4)?,
            delete_at_twilio: r.get(5)?,
            attempts: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// When the next keeping falls due, if any.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.row_cached(
        "SELECT min(keep_due_at) FROM voicemails WHERE keep_due_at IS NOT NULL",
        [],
        |r| r.get(0),
    )
}

/// Stores the audio (once: a second download of the same recording changes nothing).
pub fn store(conn: &Connection, d: &Due, content_type: &str, audio: &[u8]) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO recordings (voicemail_id, org_id, recording_sid, content_type, size, audio)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (voicemail_id) DO NOTHING",
        rusqlite::params![
            d.voicemail_id,
            d.org_id,
            d.recording_sid,
            content_type,
            audio.len() as i64,
            audio
        ],
    )?;
    Ok(())
}

/// Kept, and Twilio's copy deleted (or left, as the org chose): nothing more to do.
pub fn done(conn: &Connection, voicemail_id: i64, deleted_at_twilio: bool) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE voicemails SET keep_due_at = NULL, keep_error = NULL,
             twilio_deleted_at = CASE WHEN ?2 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE twilio_deleted_at END
         WHERE id = ?1",
        (voicemail_id, deleted_at_twilio),
    )?;
    Ok(())
}

/// A failed attempt: tried again at `retry_at`, or given up (`None`, the error stays).
pub fn failed(
    conn: &Connection,
    voicemail_id: i64,
    error: &str,
    retry_at: Option<&str>,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE voicemails SET keep_attempts = keep_attempts + 1, keep_error = ?2, keep_due_at = ?3,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        rusqlite::params![voicemail_id, error, retry_at],
    )?;
    Ok(())
}

/// A voicemail's stored audio: (content type, bytes), for the org's own voicemail.
pub fn audio(
    conn: &Connection,
    org: Option<i64>,
    voicemail_id: i64,
) -> rusqlite::Result<Option<(String, Vec<u8>)>> {
    conn.row_cached(
        "SELECT r.content_type, r.audio FROM recordings r JOIN voicemails v ON v.id = r.voicemail_id
         WHERE r.voicemail_id = ?1 AND (?2 IS NULL OR v.org_id = ?2)",
        (voicemail_id, org),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// How keeping recordings goes for an org, for Health.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub stored: i64,
    pub stored_bytes: i64,
    /// Waiting to be downloaded or deleted at Twilio (retrying after a failure included).
    pub pending: i64,
    pub failing: i64,
    pub last_error: Option<String>,
}

pub fn summary(conn: &Connection, org: i64) -> rusqlite::Result<Summary> {
    let (stored, stored_bytes) = conn.row_cached(
        "SELECT count(*), COALESCE(sum(size), 0) FROM recordings WHERE org_id = ?1",
        [org],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (pending, failing, last_error) = conn.row_cached(
        "SELECT count(*) FILTER (WHERE keep_due_at IS NOT NULL),
                count(*) FILTER (WHERE keep_error IS NOT NULL),
                (SELECT keep_error FROM voicemails WHERE org_id = ?1 AND keep_error IS NOT NULL
                 ORDER BY updated_at DESC LIMIT 1)
         FROM voicemails WHERE org_id = ?1 AND (keep_due_at IS NOT NULL OR keep_error IS NOT NULL)",
        [org],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Summary {
        stored,
        stored_bytes,
        pending,
        failing,
        last_error,
    })
}

/// Deletes, for each org with a retention, up to `limit` of the recordings and
/// transcripts older than its days; answers (org, voicemails purged) per org, for the
/// audit log.
pub fn purge_expired(
    conn: &Connection,
    now: chrono::DateTime<chrono::Utc>,
    limit: u32,
) -> rusqlite::Result<Vec<(i64, i64, i64)>> {
    let orgs: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, recording_retention_days FROM orgs WHERE recording_retention_days IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (org, days) in orgs {
        let before = super::format_time(now - chrono::Duration::days(days));
        let ids: Vec<i64> = conn
            .prepare_cached(
                "SELECT id FROM voicemails WHERE org_id = ?1 AND purged_at IS NULL AND created_at < ?2
                 ORDER BY created_at LIMIT ?3",
            )?
            .query_map(rusqlite::params![org, before, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            continue;
        }
        let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        conn.exec_cached(
            "DELETE FROM recordings WHERE voicemail_id IN (SELECT value FROM json_each(?1))",
            [&list],
        )?;
        conn.exec_cached(
            "UPDATE voicemails SET transcription_text = NULL, keep_due_at = NULL,
                 purged_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id IN (SELECT value FROM json_each(?1))",
            [&list],
        )?;
        out.push((org, days, ids.len() as i64));
    }
    Ok(out)
}
