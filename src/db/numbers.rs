//! `phone_numbers`: the single source of truth for a number, its role and its agent link.

use super::Cached;
use crate::domain::{
    roles::validate_number_assignment, NumberHandler, NumberOrigin, NumberRole, NumberStatus,
    PhoneNumber,
};
use rusqlite::{Connection, Row};

#[derive(Debug, Clone)]
pub struct NumberRow {
    pub id: i64,
    pub e164: String,
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub origin: NumberOrigin,
    pub status: NumberStatus,
    pub twilio_sid: Option<String>,
    pub vapi_phone_number_id: Option<String>,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    /// The linked agent's Vapi assistant.
    pub agent_assistant_id: Option<String>,
    /// The Twilio account that owns the number; `None` is the master account.
    pub account_sid: Option<String>,
    pub provider_account_id: Option<i64>,
    pub friendly_name: Option<String>,
    pub description: Option<String>,
    pub created_at: String,
    pub released_at: Option<String>,
}

/// A number to insert.
pub struct NewNumber<'a> {
    pub org_id: i64,
    pub e164: &'a PhoneNumber,
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub origin: NumberOrigin,
    pub twilio_sid: Option<&'a str>,
    pub provider_account_id: Option<i64>,
    pub vapi_phone_number_id: Option<&'a str>,
    pub agent_id: Option<i64>,
    pub friendly_name: Option<&'a str>,
    pub description: Option<&'a str>,
}

fn from_row(r: &Row) -> rusqlite::Result<NumberRow> {
    Ok(NumberRow {
        id: r.get(0)?,
        e164: r.get(1)?,
        role: r.get(2)?,
        handler: r.get(3)?,
        origin: r.get(4)?,
        status: r.get(5)?,
        twilio_sid: r.get(6)?,
        vapi_phone_number_id: r.get(7)?,
        agent_id: r.get(8)?,
        agent_name: r.get(9)?,
        friendly_name: r.get(10)?,
        description: r.get(11)?,
        created_at: r.get(12)?,
        released_at: r.get(13)?,
        account_sid: r.get(14)?,
        provider_account_id: r.get(15)?,
        agent_assistant_id: r.get(16)?,
    })
}

const SELECT: &str = "SELECT n.id, n.e164, n.role, n.handler, n.origin, n.status, n.twilio_sid, n.vapi_phone_number_id,
    n.agent_id, a.name, n.friendly_name, n.description, n.created_at, n.released_at, p.account_sid,
    n.provider_account_id, a.vapi_assistant_id
    FROM phone_numbers n LEFT JOIN agents a ON a.id = n.agent_id
    LEFT JOIN provider_accounts p ON p.id = n.provider_account_id";

/// Inserts a number after checking the role/handler rules (SPEC §3.2).
pub fn insert(conn: &Connection, n: &NewNumber<'_>) -> Result<i64, super::DbError> {
    validate_number_assignment(n.role, n.handler).map_err(super::DbError::Invalid)?;
    conn.exec_cached(
        "INSERT INTO phone_numbers (org_id, e164, role, handler, origin, twilio_sid, provider_account_id,
             vapi_phone_number_id, agent_id, friendly_name, description)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        rusqlite::params![
            n.org_id,
            n.e164.as_str(),
            n.role.as_str(),
            n.handler.as_str(),
            n.origin.as_str(),
            n.twilio_sid,
            n.provider_account_id,
            n.vapi_phone_number_id,
            n.agent_id,
            n.friendly_name,
            n.description
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The org's numbers, active first, then released ones (kept as history).
pub fn list_for_org(
    conn: &Connection,
    org_id: i64,
    include_released: bool,
) -> rusqlite::Result<Vec<NumberRow>> {
    let filter = if include_released {
        ""
    } else {
        " AND n.status = 'active'"
    };
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE n.org_id = ?1{filter} ORDER BY n.status = 'released', n.e164"
    ))?;
    let rows = stmt.query_map([org_id], from_row)?;
    rows.collect()
}

/// Every active number of every organization.
pub fn list_active(conn: &Connection) -> rusqlite::Result<Vec<NumberRow>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE n.status = 'active' ORDER BY n.e164"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// The org's row for `e164`: the active one, else the most recently released (so a
/// second release finds the first one's result).
pub fn find_for_org(
    conn: &Connection,
    org_id: i64,
    e164: &str,
) -> rusqlite::Result<Option<NumberRow>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        &format!(
            "{SELECT} WHERE n.org_id = ?1 AND n.e164 = ?2 ORDER BY n.status = 'active' DESC, n.id DESC LIMIT 1"
        ),
        rusqlite::params![org_id, e164],
        from_row,
    )
    .optional()
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<NumberRow>> {
    use rusqlite::OptionalExtension;
    conn.query_row(&format!("{SELECT} WHERE n.id = ?1"), [id], from_row)
        .optional()
}

/// Is `e164` active in any org of this appliance?
pub fn is_active(conn: &Connection, e164: &str) -> rusqlite::Result<bool> {
    conn.row_cached(
        "SELECT EXISTS (SELECT 1 FROM phone_numbers WHERE e164 = ?1 AND status = 'active')",
        [e164],
        |r| r.get(0),
    )
}

/// Every active number on the appliance (to tell which of an account's numbers are new).
pub fn active_e164s(conn: &Connection) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT e164 FROM phone_numbers WHERE status = 'active'")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Active numbers of an org with a given origin (the one-number rule counts `managed`).
pub fn count_active(conn: &Connection, org_id: i64, origin: NumberOrigin) -> rusqlite::Result<i64> {
    conn.row_cached(
        "SELECT count(*) FROM phone_numbers WHERE org_id = ?1 AND origin = ?2 AND status = 'active'",
        rusqlite::params![org_id, origin.as_str()],
        |r| r.get(0),
    )
}

/// Other active numbers held in a Twilio account (a subaccount is closed when none is left).
pub fn count_active_in_account(
    conn: &Connection,
    provider_account_id: i64,
    except_number: i64,
) -> rusqlite::Result<i64> {
    conn.row_cached(
        "SELECT count(*) FROM phone_numbers WHERE provider_account_id = ?1 AND status = 'active' AND id != ?2",
        [provider_account_id, except_number],
        |r| r.get(0),
    )
}

/// The changeable attributes of a number.
pub struct Change<'a> {
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub agent_id: Option<i64>,
    pub friendly_name: Option<&'a str>,
    pub vapi_phone_number_id: Option<&'a str>,
}

/// Updates an active number after checking the role/handler rules (SPEC §3.2).
pub fn update(conn: &Connection, id: i64, c: &Change<'_>) -> Result<(), super::DbError> {
    validate_number_assignment(c.role, c.handler).map_err(super::DbError::Invalid)?;
    conn.exec_cached(
        "UPDATE phone_numbers SET role = ?2, handler = ?3, agent_id = ?4, friendly_name = ?5,
             vapi_phone_number_id = ?6, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND status = 'active'",
        rusqlite::params![
            id,
            c.role.as_str(),
            c.handler.as_str(),
            c.agent_id,
            c.friendly_name,
            c.vapi_phone_number_id
        ],
    )?;
    Ok(())
}

/// Marks a number released and clears its agent link (SPEC §5.4). The row stays as history.
pub fn mark_released(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE phone_numbers SET status = 'released', agent_id = NULL,
             released_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND status = 'active'",
        [id],
    )? == 1)
}

/// What a webhook needs to know about the number it was sent to (SPEC §3.2).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub id: i64,
    pub org_id: i64,
    pub e164: String,
    pub role: NumberRole,
    pub handler: NumberHandler,
    pub agent_id: Option<i64>,
    pub friendly_name: Option<String>,
    /// The Twilio account that owns the number (a subaccount), if not the master.
    pub account_sid: Option<String>,
    pub org_name: String,
    pub org_timezone: String,
    pub notification_number: Option<String>,
    /// "Closed now": the org takes no calls to the menu until then (and who closed it).
    pub closed_until: Option<String>,
    pub closed_by: Option<String>,
}

/// The active number row for `e164`, if any. A number not in the table is treated as
/// `system` by the caller: there is no other inference.
pub fn resolve(conn: &Connection, number: &PhoneNumber) -> rusqlite::Result<Option<Resolved>> {
    resolve_stored(conn, number.as_str())
}

/// [`resolve`] by a number read from the database.
pub fn resolve_stored(conn: &Connection, e164: &str) -> rusqlite::Result<Option<Resolved>> {
    use rusqlite::OptionalExtension;
    conn.row_cached(
        "SELECT n.id, n.org_id, n.e164, n.role, n.handler, n.agent_id, n.friendly_name, a.account_sid,
                o.name, o.timezone, o.notification_number, o.closed_until, o.closed_by
         FROM phone_numbers n
         JOIN orgs o ON o.id = n.org_id
         LEFT JOIN provider_accounts a ON a.id = n.provider_account_id
         WHERE n.e164 = ?1 AND n.status = 'active'",
        [e164],
        |r| {
            Ok(Resolved {
                id: r.get(0)?,
                org_id: r.get(1)?,
                e164: r.get(2)?,
                role: r.get(3)?,
                handler: r.get(4)?,
                agent_id: r.get(5)?,
                friendly_name: r.get(6)?,
                account_sid: r.get(7)?,
                org_name: r.get(8)?,
                org_timezone: r.get(9)?,
                notification_number: r.get(10)?,
                closed_until: r.get(11)?,
                closed_by: r.get(12)?,
            })
        },
    )
    .optional()
}

/// Like [`resolve`] but by row id, whatever the status (a call's number may be released later).
pub fn resolve_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Resolved>> {
    use rusqlite::OptionalExtension;
    let e164: Option<String> = conn
        .row_cached("SELECT e164 FROM phone_numbers WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    match e164 {
        Some(e) => resolve_stored(conn, &e),
        None => Ok(None),
    }
}

/// The active number Vapi knows by `vapi_id`.
pub fn resolve_vapi(conn: &Connection, vapi_id: &str) -> rusqlite::Result<Option<Resolved>> {
    use rusqlite::OptionalExtension;
    let e164: Option<String> = conn
        .row_cached(
            "SELECT e164 FROM phone_numbers WHERE vapi_phone_number_id = ?1 AND status = 'active'",
            [vapi_id],
            |r| r.get(0),
        )
        .optional()?;
    match e164 {
        Some(e) => resolve_stored(conn, &e),
        None => Ok(None),
    }
}

/// Where each active number lives at the providers: (e164, Twilio SID, Twilio account SID
/// if not the master, Vapi phone-number id, the linked agent's assistant id).
pub type ProviderLinks = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub fn provider_links(conn: &Connection) -> rusqlite::Result<Vec<ProviderLinks>> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.e164, n.twilio_sid, a.account_sid, n.vapi_phone_number_id, g.vapi_assistant_id
         FROM phone_numbers n
         LEFT JOIN provider_accounts a ON a.id = n.provider_account_id
         LEFT JOIN agents g ON g.id = n.agent_id
         WHERE n.status = 'active'",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    rows.collect()
}
