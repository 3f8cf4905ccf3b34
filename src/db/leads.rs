//! Leads: a customer's request captured by SMS intake (SPEC §3.6).

use super::Cached;
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct Lead {
    pub id: i64,
    pub customer_number: String,
    pub business_number: Option<String>,
    pub call_id: Option<i64>,
    pub source: String,
    pub status: String,
    pub summary: Option<String>,
    pub message_count: i64,
    pub last_message: Option<String>,
    pub last_message_at: Option<String>,
    pub created_at: String,
}

const SELECT: &str = "SELECT l.id, l.customer_number, n.e164, l.call_id, l.source, l.status, l.summary,
    (SELECT count(*) FROM messages m WHERE m.lead_id = l.id AND m.kind <> 'notification'),
    (SELECT body FROM messages m WHERE m.lead_id = l.id AND m.direction = 'inbound' ORDER BY m.id DESC LIMIT 1),
    l.last_message_at, l.created_at
    FROM leads l LEFT JOIN phone_numbers n ON n.id = l.phone_number_id";

fn from_row(r: &Row) -> rusqlite::Result<Lead> {
    Ok(Lead {
        id: r.get(0)?,
        customer_number: r.get(1)?,
        business_number: r.get(2)?,
        call_id: r.get(3)?,
        source: r.get(4)?,
        status: r.get(5)?,
        summary: r.get(6)?,
        message_count: r.get(7)?,
        last_message: r.get(8)?,
        last_message_at: r.get(9)?,
        created_at: r.get(10)?,
    })
}

/// The open lead of `customer` on this number, or a new one; returns (id, created).
pub fn open_or_create(
    conn: &Connection,
    org_id: i64,
    number_id: i64,
    customer: &str,
    call_id: Option<i64>,
    source: &str,
) -> rusqlite::Result<(i64, bool)> {
    let existing: Option<i64> = conn
        .row_cached(
            "SELECT id FROM leads WHERE org_id = ?1 AND phone_number_id = ?2 AND customer_number = ?3 AND status = 'open'
             ORDER BY id DESC LIMIT 1",
            rusqlite::params![org_id, number_id, customer],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        touch(conn, id)?;
        return Ok((id, false));
    }
    conn.exec_cached(
        "INSERT INTO leads (org_id, phone_number_id, customer_number, call_id, source, last_message_at)
         VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        rusqlite::params![org_id, number_id, customer, call_id, source],
    )?;
    Ok((conn.last_insert_rowid(), true))
}

/// Takes the one acknowledgement of a lead.
pub fn claim_ack(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE leads SET acknowledged_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1 AND acknowledged_at IS NULL",
        [id],
    )? == 1)
}

/// Takes the one owner notification of a lead.
pub fn claim_owner_notification(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE leads SET owner_notified_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1 AND owner_notified_at IS NULL",
        [id],
    )? == 1)
}

pub fn list(
    conn: &Connection,
    org_id: i64,
    before: Option<i64>,
    limit: u32,
) -> rusqlite::Result<Vec<Lead>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE l.org_id = ?1 AND l.id < ?2 ORDER BY l.id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        rusqlite::params![org_id, before.unwrap_or(i64::MAX), limit],
        from_row,
    )?;
    rows.collect()
}

pub fn get(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<Lead>> {
    conn.query_row(
        &format!("{SELECT} WHERE l.id = ?1 AND l.org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}

/// Open leads of the org.
pub fn open_count(conn: &Connection, org_id: i64) -> rusqlite::Result<i64> {
    conn.row_cached(
        "SELECT count(*) FROM leads WHERE org_id = ?1 AND status = 'open'",
        [org_id],
        |r| r.get(0),
    )
}

/// Leads of the org created since `from`.
pub fn created_since(conn: &Connection, org_id: i64, from: &str) -> rusqlite::Result<i64> {
    conn.row_cached(
        "SELECT count(*) FROM leads WHERE org_id = ?1 AND created_at >= ?2",
        (org_id, from),
        |r| r.get(0),
    )
}

/// The conversation moved on (a message in or out).
pub fn touch(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE leads SET last_message_at = ?2 WHERE id = ?1",
        (id, super::now()),
    )?;
    Ok(())
}

/// Whom a reply to this lead goes to, and from which of the org's numbers.
pub fn reply_route(
    conn: &Connection,
    org_id: i64,
    id: i64,
) -> rusqlite::Result<Option<(String, Option<i64>)>> {
    conn.row_cached(
        "SELECT customer_number, phone_number_id FROM leads WHERE id = ?1 AND org_id = ?2",
        [id, org_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn set_status(conn: &Connection, org_id: i64, id: i64, status: &str) -> rusqlite::Result<bool> {
    let changed = conn.exec_cached(
        "UPDATE leads SET status = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1 AND org_id = ?2",
        rusqlite::params![id, org_id, status],
    )? == 1;
    if changed && status == "handled" {
        // The conversation held the customer's missed calls and call-back requests to this
        // number: handling it follows them up too, so they do not come back on the to-do list.
        conn.exec_cached(
            "UPDATE calls SET followed_up_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE followed_up_at IS NULL AND outcome IN ('missed', 'ai_handled')
               AND (org_id, phone_number_id, from_number) =
                   (SELECT org_id, phone_number_id, customer_number FROM leads WHERE id = ?1)",
            [id],
        )?;
    }
    Ok(changed)
}

/// Adds a line to the lead's summary (what the caller asked to pass on).
pub fn append_summary(conn: &Connection, lead_id: i64, text: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE leads SET summary = COALESCE(summary || char(10), '') || ?2 WHERE id = ?1",
        (lead_id, text),
    )?;
    Ok(())
}
