//! `callbacks`: a user's "Call back" from the business number (SPEC §12). The row is
//! written before Twilio is asked, so a crash leaves a trace; the outbound call row is
//! made when Twilio names the call (its SID), by whichever comes first: the answer to
//! `Calls.json` or the call's own first webhook.

use super::calls::{self, TwilioCall};
use super::Cached;
use crate::domain::state::Direction;
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub id: i64,
    pub org_id: i64,
    pub user_id: Option<i64>,
    /// Who placed it (their email), while the user exists.
    pub placed_by: Option<String>,
    pub phone_number_id: Option<i64>,
    pub business_number: String,
    pub customer: String,
    /// The user's own phone: not shown to the rest of the org.
    #[serde(skip)]
    pub user_mobile: String,
    pub origin_call_id: Option<i64>,
    pub call_sid: Option<String>,
    pub call_id: Option<i64>,
    pub user_status: String,
    pub customer_status: Option<String>,
    pub customer_seconds: Option<i64>,
    pub error: Option<String>,
    pub created_at: String,
}

const COLUMNS: &str =
    "b.id, b.org_id, b.user_id, u.email, b.phone_number_id, b.business_number, b.customer,
    b.user_mobile, b.origin_call_id, b.call_sid, b.call_id, b.user_status, b.customer_status,
    b.customer_seconds, b.error, b.created_at";

fn from_row(r: &Row) -> rusqlite::Result<Callback> {
    Ok(Callback {
        id: r.get(0)?,
        org_id: r.get(1)?,
        user_id: r.get(2)?,
        placed_by: r.get(3)?,
        phone_number_id: r.get(4)?,
        business_number: r.get(5)?,
        customer: r.get(6)?,
        user_mobile: r.get(7)?,
        origin_call_id: r.get(8)?,
        call_sid: r.get(9)?,
        call_id: r.get(10)?,
        user_status: r.get(11)?,
        customer_status: r.get(12)?,
        customer_seconds: r.get(13)?,
        error: r.get(14)?,
        created_at: r.get(15)?,
    })
}

pub struct NewCallback<'a> {
    pub org_id: i64,
    pub user_id: i64,
    pub phone_number_id: i64,
    pub business_number: &'a str,
    pub customer: &'a str,
    pub user_mobile: &'a str,
    pub origin_call_id: Option<i64>,
}

pub fn insert(conn: &Connection, n: &NewCallback<'_>) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO callbacks (org_id, user_id, phone_number_id, business_number, customer, user_mobile, origin_call_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            n.org_id,
            n.user_id,
            n.phone_number_id,
            n.business_number,
            n.customer,
            n.user_mobile,
            n.origin_call_id
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Callback>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM callbacks b LEFT JOIN users u ON u.id = b.user_id WHERE b.id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

/// The callback placed as call `call_id`, if it was one.
pub fn by_call(conn: &Connection, call_id: i64) -> rusqlite::Result<Option<Callback>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM callbacks b LEFT JOIN users u ON u.id = b.user_id WHERE b.call_id = ?1"),
        [call_id],
        from_row,
    )
    .optional()
}

/// The org's callbacks, newest first.
pub fn list(conn: &Connection, org_id: i64, limit: u32) -> rusqlite::Result<Vec<Callback>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM callbacks b LEFT JOIN users u ON u.id = b.user_id
         WHERE b.org_id = ?1 ORDER BY b.id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map((org_id, limit), from_row)?;
    rows.collect()
}

/// Twilio named the call: the outbound call row (from the business number to the
/// customer) is made or found, and the callback points at it. Safe to repeat and to race
/// with the call's own webhooks. Returns the call id.
pub fn attach_call(conn: &Connection, cb: &Callback, call_sid: &str) -> rusqlite::Result<i64> {
    let (call_id, _) = calls::upsert_twilio(
        conn,
        &TwilioCall {
            call_sid,
            org_id: Some(cb.org_id),
            direction: Direction::Outbound,
            from: Some(&cb.business_number),
            to: Some(&cb.customer),
            phone_number_id: cb.phone_number_id,
            number_role: Some("operational"),
            stir_verstat: None,
        },
    )?;
    conn.exec_cached(
        "UPDATE callbacks SET call_sid = ?2, call_id = ?3,
             user_status = CASE WHEN user_status = 'requested' THEN 'ringing' ELSE user_status END,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        rusqlite::params![cb.id, call_sid, call_id],
    )?;
    Ok(call_id)
}

/// Twilio refused to place it.
pub fn failed(conn: &Connection, id: i64, error: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE callbacks SET user_status = 'failed', error = ?2,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        (id, error),
    )?;
    Ok(())
}

/// The user's side: `answered`, `machine`, or how their leg ended unanswered.
pub fn set_user_status(conn: &Connection, id: i64, status: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE callbacks SET user_status = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        (id, status),
    )?;
    Ok(())
}

/// The user's leg ended: a leg that never answered says how (`no-answer`, `busy`,
/// `failed`, `canceled`); an answered one keeps `answered`.
pub fn user_leg_ended(conn: &Connection, id: i64, status: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE callbacks SET user_status = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND (user_status = 'requested' OR user_status = 'ringing')",
        (id, status),
    )?;
    Ok(())
}

/// The customer's side, once their dial ended.
pub fn set_customer(
    conn: &Connection,
    id: i64,
    status: &str,
    seconds: Option<i64>,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE callbacks SET customer_status = ?2, customer_seconds = COALESCE(?3, customer_seconds),
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        rusqlite::params![id, status, seconds],
    )?;
    Ok(())
}

/// The business number a callback goes out from: the number of the call it answers, else
/// the number the customer last called or texted with, else the org's first line.
pub fn business_number(
    conn: &Connection,
    org_id: i64,
    customer: &str,
    origin_number: Option<i64>,
) -> rusqlite::Result<Option<i64>> {
    conn.row_cached(
        "SELECT n.id FROM phone_numbers n
         WHERE n.org_id = ?1 AND n.status = 'active' AND n.role = 'operational'
         ORDER BY n.id IS ?2 DESC,
                  n.id IS (SELECT phone_number_id FROM calls
                           WHERE org_id = ?1 AND (from_number = ?3 OR to_number = ?3)
                           ORDER BY id DESC LIMIT 1) DESC,
                  n.id
         LIMIT 1",
        rusqlite::params![org_id, origin_number, customer],
        |r| r.get(0),
    )
    .optional()
}
