//! SMS onboarding requests (SPEC §3.7), one open conversation per (number, sender).

use super::Cached;
use crate::domain::onboarding::State;
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct Request {
    pub id: i64,
    pub sender: String,
    pub state: String,
    pub business_name: Option<String>,
    pub onboarding_number: Option<String>,
    pub approved_org_id: Option<i64>,
    pub decided_at: Option<String>,
    pub created_at: String,
    /// The approved organization's operational number, once it has one.
    pub approved_line: Option<String>,
}

const SELECT: &str = "SELECT r.id, r.sender, r.state, r.business_name, n.e164, r.approved_org_id, r.decided_at, r.created_at,
    (SELECT a.e164 FROM phone_numbers a WHERE a.org_id = r.approved_org_id AND a.status = 'active' AND a.role = 'operational' ORDER BY a.id LIMIT 1)
    FROM onboarding_requests r LEFT JOIN phone_numbers n ON n.id = r.phone_number_id";

fn from_row(r: &Row) -> rusqlite::Result<Request> {
    Ok(Request {
        id: r.get(0)?,
        sender: r.get(1)?,
        state: r.get(2)?,
        business_name: r.get(3)?,
        onboarding_number: r.get(4)?,
        approved_org_id: r.get(5)?,
        decided_at: r.get(6)?,
        created_at: r.get(7)?,
        approved_line: r.get(8)?,
    })
}

/// The sender's open request on this number: (id, state, business name).
pub fn open(
    conn: &Connection,
    number_id: i64,
    sender: &str,
) -> rusqlite::Result<Option<(i64, State, Option<String>)>> {
    conn.row_cached(
        "SELECT id, state, business_name FROM onboarding_requests
         WHERE phone_number_id = ?1 AND sender = ?2 AND state IN ('greeted', 'name_received', 'pending_approval')",
        rusqlite::params![number_id, sender],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

pub fn create(
    conn: &Connection,
    number_id: i64,
    sender: &str,
    state: State,
) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO onboarding_requests (phone_number_id, sender, state) VALUES (?1, ?2, ?3)",
        rusqlite::params![number_id, sender, state],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn advance(
    conn: &Connection,
    id: i64,
    state: State,
    business_name: Option<&str>,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE onboarding_requests SET state = ?2, business_name = COALESCE(?3, business_name),
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        rusqlite::params![id, state, business_name],
    )?;
    Ok(())
}

/// Cancels the sender's open request (STOP).
pub fn cancel(conn: &Connection, number_id: i64, sender: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE onboarding_requests SET state = 'cancelled', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE phone_number_id = ?1 AND sender = ?2 AND state IN ('greeted', 'name_received', 'pending_approval')",
        rusqlite::params![number_id, sender],
    )?;
    Ok(())
}

/// Requests that arrived on the org's onboarding numbers, newest first.
pub fn list_for_org(
    conn: &Connection,
    org_id: i64,
    before: Option<i64>,
    limit: u32,
) -> rusqlite::Result<Vec<Request>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE n.org_id = ?1 AND r.id < ?2 ORDER BY r.id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        rusqlite::params![org_id, before.unwrap_or(i64::MAX), limit],
        from_row,
    )?;
    rows.collect()
}

pub fn get_for_org(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<Request>> {
    conn.query_row(
        &format!("{SELECT} WHERE r.id = ?1 AND n.org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}

/// Records an admin's decision on a request that waits for one.
pub fn decide(
    conn: &Connection,
    id: i64,
    state: &str,
    org: Option<i64>,
    user_id: i64,
) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE onboarding_requests SET state = ?2, approved_org_id = ?3, decided_by = ?4,
             decided_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND state = 'pending_approval'",
        rusqlite::params![id, state, org, user_id],
    )? == 1)
}
