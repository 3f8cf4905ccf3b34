//! Voicemails, upserted by RecordingSid from whichever callback arrives first (recording
//! status, transcription or the Record action), so retries and reordering converge.

use super::Cached;
use crate::domain::state::TranscriptionStatus;
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct Voicemail {
    pub id: i64,
    pub org_id: Option<i64>,
    pub call_id: i64,
    pub recording_sid: Option<String>,
    pub recording_url: Option<String>,
    pub duration_seconds: Option<i64>,
    pub transcription_text: Option<String>,
    pub transcription_status: TranscriptionStatus,
    pub handled: bool,
    pub handled_at: Option<String>,
    pub owner_notified_at: Option<String>,
    pub created_at: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    /// The recording is kept in this database (SPEC §13).
    pub kept: bool,
    /// When Twilio's copy was deleted.
    pub twilio_deleted_at: Option<String>,
    /// When the org's retention deleted the recording and transcript here.
    pub purged_at: Option<String>,
}

const SELECT: &str = "SELECT v.id, v.org_id, v.call_id, v.recording_sid, v.recording_url, v.duration_seconds, v.transcription_text,
    v.transcription_status, v.handled, v.handled_at, v.owner_notified_at, v.created_at, c.from_number, c.to_number,
    EXISTS (SELECT 1 FROM recordings r WHERE r.voicemail_id = v.id), v.twilio_deleted_at, v.purged_at
    FROM voicemails v JOIN calls c ON c.id = v.call_id";

fn from_row(r: &Row) -> rusqlite::Result<Voicemail> {
    Ok(Voicemail {
        id: r.get(0)?,
        org_id: r.get(1)?,
        call_id: r.get(2)?,
        recording_sid: r.get(3)?,
        recording_url: r.get(4)?,
        duration_seconds: r.get(5)?,
        transcription_text: r.get(6)?,
        transcription_status: r.get(7)?,
        handled: r.get(8)?,
        handled_at: r.get(9)?,
        owner_notified_at: r.get(10)?,
        created_at: r.get(11)?,
        from_number: r.get(12)?,
        to_number: r.get(13)?,
        kept: r.get(14)?,
        twilio_deleted_at: r.get(15)?,
        purged_at: r.get(16)?,
    })
}

/// Creates or completes the voicemail for `recording_sid`; returns its id.
pub fn upsert_recording(
    conn: &Connection,
    org_id: Option<i64>,
    call_id: i64,
    recording_sid: &str,
    url: Option<&str>,
    duration: Option<i64>,
) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO voicemails (org_id, call_id, recording_sid, recording_url, duration_seconds)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(recording_sid) DO UPDATE SET
             recording_url = COALESCE(excluded.recording_url, recording_url),
             duration_seconds = COALESCE(excluded.duration_seconds, duration_seconds),
             org_id = COALESCE(org_id, excluded.org_id),
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        rusqlite::params![org_id, call_id, recording_sid, url, duration],
    )?;
    conn.row_cached(
        "SELECT id FROM voicemails WHERE recording_sid = ?1",
        [recording_sid],
        |r| r.get(0),
    )
}

/// Stores a transcription result (creating the voicemail if it arrived first).
pub fn set_transcription(
    conn: &Connection,
    org_id: Option<i64>,
    call_id: i64,
    recording_sid: &str,
    text: Option<&str>,
    status: TranscriptionStatus,
) -> rusqlite::Result<i64> {
    let id = upsert_recording(conn, org_id, call_id, recording_sid, None, None)?;
    conn.exec_cached(
        "UPDATE voicemails SET transcription_text = COALESCE(?2, transcription_text), transcription_status = ?3,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND transcription_status IN ('pending', ?3)",
        (id, text, status),
    )?;
    Ok(id)
}

/// The recording will not be transcribed (failed or absent recording).
pub fn mark_no_transcript(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.exec_cached("UPDATE voicemails SET transcription_status = 'absent' WHERE id = ?1 AND transcription_status = 'pending'", [id])?;
    Ok(())
}

/// Notify the owner at `due_at` at the latest (unless already due earlier).
pub fn schedule_notification(conn: &Connection, id: i64, due_at: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE voicemails SET notify_due_at = ?2 WHERE id = ?1 AND owner_notified_at IS NULL
             AND (notify_due_at IS NULL OR notify_due_at > ?2)",
        (id, due_at),
    )?;
    Ok(())
}

/// Takes the owner notification; only one caller ever gets `true`.
pub fn claim_notification(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE voicemails SET owner_notified_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND owner_notified_at IS NULL AND recording_url IS NOT NULL",
        [id],
    )? == 1)
}

pub fn due_notifications(conn: &Connection, now: &str) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM voicemails WHERE owner_notified_at IS NULL AND notify_due_at <= ?1 LIMIT 100")?;
    let rows = stmt.query_map([now], |r| r.get(0))?;
    rows.collect()
}

pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Voicemail>> {
    conn.query_row(&format!("{SELECT} WHERE v.id = ?1"), [id], from_row)
        .optional()
}

pub fn list(
    conn: &Connection,
    org_id: i64,
    handled: Option<bool>,
    before: Option<i64>,
    limit: u32,
) -> rusqlite::Result<Vec<Voicemail>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE v.org_id = ?1 AND (?2 IS NULL OR v.handled = ?2) AND v.id < ?3 ORDER BY v.id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        rusqlite::params![org_id, handled, before.unwrap_or(i64::MAX), limit],
        from_row,
    )?;
    rows.collect()
}

/// The voicemails left on one of the org's calls.
pub fn for_call(conn: &Connection, org_id: i64, call_id: i64) -> rusqlite::Result<Vec<Voicemail>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE v.call_id = ?1 AND v.org_id = ?2 ORDER BY v.id"
    ))?;
    let rows = stmt.query_map([call_id, org_id], from_row)?;
    rows.collect()
}

/// Voicemails of the org nobody has marked handled yet.
pub fn waiting(conn: &Connection, org_id: i64) -> rusqlite::Result<i64> {
    conn.row_cached(
        "SELECT count(*) FROM voicemails WHERE org_id = ?1 AND handled = 0",
        [org_id],
        |r| r.get(0),
    )
}

/// Marks a voicemail of the org handled or not; `None` when no such voicemail.
pub fn set_handled(
    conn: &Connection,
    org_id: i64,
    id: i64,
    handled: bool,
    user_id: i64,
) -> rusqlite::Result<Option<Voicemail>> {
    conn.exec_cached(
        "UPDATE voicemails SET handled = ?3,
             handled_at = CASE WHEN ?3 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END,
             handled_by = CASE WHEN ?3 THEN ?4 END
         WHERE id = ?1 AND org_id = ?2",
        rusqlite::params![id, org_id, handled, user_id],
    )?;
    conn.query_row(
        &format!("{SELECT} WHERE v.id = ?1 AND v.org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}
