//! Every SMS in and out (SPEC §2 `messages`), including blocked text-backs with their reason.

use super::Cached;
use crate::domain::state::{Direction, MessageKind, MessageStatus};
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub sid: Option<String>,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub call_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub body: String,
    pub kind: MessageKind,
    pub status: MessageStatus,
    pub blocked_reason: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: String,
}

const COLUMNS: &str = "id, sid, direction, from_number, to_number, call_id, lead_id, body, kind, status, blocked_reason,
    error_code, error_message, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        sid: r.get(1)?,
        direction: r.get(2)?,
        from_number: r.get(3)?,
        to_number: r.get(4)?,
        call_id: r.get(5)?,
        lead_id: r.get(6)?,
        body: r.get(7)?,
        kind: r.get(8)?,
        status: r.get(9)?,
        blocked_reason: r.get(10)?,
        error_code: r.get(11)?,
        error_message: r.get(12)?,
        created_at: r.get(13)?,
    })
}

/// A message to store.
pub struct NewMessage<'a> {
    pub org_id: Option<i64>,
    pub sid: Option<&'a str>,
    pub direction: Direction,
    pub from: &'a str,
    pub to: &'a str,
    pub phone_number_id: Option<i64>,
    pub call_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub body: &'a str,
    pub kind: MessageKind,
    pub status: MessageStatus,
    pub blocked_reason: Option<&'a str>,
    /// When it was received or written (the front desk's clock: cooldowns count from it).
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Inserts a message; `None` when it already exists (same SID, or a second text-back for
/// the same call): the caller then does nothing more.
pub fn insert(conn: &Connection, m: &NewMessage<'_>) -> rusqlite::Result<Option<i64>> {
    let n = conn.exec_cached(
        "INSERT OR IGNORE INTO messages (org_id, sid, direction, from_number, to_number, phone_number_id, call_id, lead_id,
             body, kind, status, blocked_reason, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        rusqlite::params![
            m.org_id,
            m.sid,
            m.direction,
            m.from,
            m.to,
            m.phone_number_id,
            m.call_id,
            m.lead_id,
            m.body,
            m.kind,
            m.status,
            m.blocked_reason,
            super::format_time(m.at)
        ],
    )?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

/// The provider accepted the message.
pub fn mark_sent(
    conn: &Connection,
    id: i64,
    sid: &str,
    status: MessageStatus,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE messages SET sid = ?2, status = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        (id, sid, status),
    )?;
    Ok(())
}

/// The provider refused the message: keep its error code so the owner can see it.
pub fn mark_refused(
    conn: &Connection,
    id: i64,
    status: MessageStatus,
    reason: Option<&str>,
    code: Option<i64>,
    message: &str,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE messages SET status = ?2, blocked_reason = ?3, error_code = ?4, error_message = ?5,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        rusqlite::params![id, status, reason, code.map(|c| c.to_string()), message],
    )?;
    Ok(())
}

/// A delivery status callback (`/twilio/sms/status`); statuses only move forward.
pub fn update_status(
    conn: &Connection,
    sid: &str,
    status: MessageStatus,
    error_code: Option<&str>,
) -> rusqlite::Result<bool> {
    let current: Option<MessageStatus> = conn
        .row_cached("SELECT status FROM messages WHERE sid = ?1", [sid], |r| {
            r.get(0)
        })
        .optional()?;
    match current {
        Some(cur) if status.rank() >= cur.rank() => {
            conn.exec_cached(
                "UPDATE messages SET status = ?2, error_code = COALESCE(?3, error_code),
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE sid = ?1",
                (sid, status, error_code),
            )?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// When the last text-back from `business` to `customer` went out (for the cooldown).
pub fn last_textback_at(
    conn: &Connection,
    business: &str,
    customer: &str,
) -> rusqlite::Result<Option<String>> {
    conn.row_cached(
        "SELECT MAX(created_at) FROM messages WHERE from_number = ?1 AND to_number = ?2 AND kind = 'textback'
             AND status NOT IN ('blocked', 'failed', 'undelivered')",
        [business, customer],
        |r| r.get(0),
    )
}

/// The call of the latest text-back to `customer` from `business` (a lead's origin).
pub fn last_textback_call(
    conn: &Connection,
    business: &str,
    customer: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.row_cached(
        "SELECT call_id FROM messages WHERE from_number = ?1 AND to_number = ?2 AND kind = 'textback'
         ORDER BY id DESC LIMIT 1",
        [business, customer],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

pub fn list(
    conn: &Connection,
    org_id: i64,
    lead_id: Option<i64>,
    before: Option<i64>,
    limit: u32,
) -> rusqlite::Result<Vec<Message>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM messages WHERE org_id = ?1 AND (?2 IS NULL OR (lead_id = ?2 AND kind <> 'notification')) AND id < ?3
         ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        rusqlite::params![org_id, lead_id, before.unwrap_or(i64::MAX), limit],
        from_row,
    )?;
    rows.collect()
}

pub fn get(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<Message>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM messages WHERE id = ?1 AND org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}

pub fn for_call(conn: &Connection, call_id: i64) -> rusqlite::Result<Vec<Message>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM messages WHERE call_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([call_id], from_row)?;
    rows.collect()
}

/// Files a message under its lead.
pub fn set_lead(conn: &Connection, message_id: i64, lead_id: i64) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE messages SET lead_id = ?2 WHERE id = ?1",
        (message_id, lead_id),
    )?;
    Ok(())
}

/// Whether `customer` texted `business` after `since` (which makes a pending text-back
/// pointless: the conversation is already going).
pub fn texted_in_since(
    conn: &Connection,
    business: &str,
    customer: &str,
    since: &str,
) -> rusqlite::Result<bool> {
    Ok(conn
        .row_cached(
            "SELECT 1 FROM messages WHERE from_number = ?1 AND to_number = ?2
                 AND direction = 'inbound' AND created_at > ?3 LIMIT 1",
            (customer, business, since),
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
