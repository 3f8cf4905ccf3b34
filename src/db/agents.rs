//! AI agents (Vapi assistants) of an org. Which number an agent answers lives on the number.

use super::Cached;
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: i64,
    pub name: String,
    pub vapi_assistant_id: Option<String>,
    pub sip_uri: Option<String>,
    /// Active numbers linked to this agent (derived from `phone_numbers`).
    pub numbers: Vec<String>,
    pub created_at: String,
}

fn from_row(r: &Row) -> rusqlite::Result<Agent> {
    let numbers: Option<String> = r.get(4)?;
    Ok(Agent {
        id: r.get(0)?,
        name: r.get(1)?,
        vapi_assistant_id: r.get(2)?,
        sip_uri: r.get(3)?,
        numbers: numbers
            .map(|n| n.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        created_at: r.get(5)?,
    })
}

const SELECT: &str = "SELECT a.id, a.name, a.vapi_assistant_id, a.sip_uri,
    (SELECT group_concat(e164, ',') FROM (SELECT e164 FROM phone_numbers n
        WHERE n.agent_id = a.id AND n.status = 'active' ORDER BY e164)),
    a.created_at FROM agents a";

pub fn insert(
    conn: &Connection,
    org_id: i64,
    name: &str,
    assistant_id: Option<&str>,
    sip_uri: Option<&str>,
) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO agents (org_id, name, vapi_assistant_id, sip_uri) VALUES (?1, ?2, ?3, ?4)",
        (org_id, name, assistant_id, sip_uri),
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn list_for_org(conn: &Connection, org_id: i64) -> rusqlite::Result<Vec<Agent>> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE a.org_id = ?1 ORDER BY a.name"))?;
    let rows = stmt.query_map([org_id], from_row)?;
    rows.collect()
}

/// One agent of this org; another org's agent is `None` (the API answers 404).
pub fn get(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<Agent>> {
    conn.query_row(
        &format!("{SELECT} WHERE a.id = ?1 AND a.org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}

pub fn find_by_name(conn: &Connection, org_id: i64, name: &str) -> rusqlite::Result<Option<Agent>> {
    conn.query_row(
        &format!("{SELECT} WHERE a.org_id = ?1 AND a.name = ?2"),
        rusqlite::params![org_id, name.trim()],
        from_row,
    )
    .optional()
}

/// Renames an agent or changes its assistant / SIP URI (`None` leaves a field as is,
/// `Some(None)` clears it).
pub fn update(
    conn: &Connection,
    org_id: i64,
    id: i64,
    name: Option<&str>,
    assistant_id: Option<Option<&str>>,
    sip_uri: Option<Option<&str>>,
) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE agents SET name = coalesce(?3, name),
             vapi_assistant_id = CASE WHEN ?4 THEN ?5 ELSE vapi_assistant_id END,
             sip_uri = CASE WHEN ?6 THEN ?7 ELSE sip_uri END,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND org_id = ?2",
        rusqlite::params![
            id,
            org_id,
            name.map(str::trim),
            assistant_id.is_some(),
            assistant_id.flatten(),
            sip_uri.is_some(),
            sip_uri.flatten()
        ],
    )? == 1)
}

pub fn delete(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "DELETE FROM agents WHERE id = ?1 AND org_id = ?2",
        [id, org_id],
    )? == 1)
}
