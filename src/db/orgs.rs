//! Organizations (businesses).

use super::Cached;
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub is_demo: bool,
    pub created_at: String,
}

const COLUMNS: &str = "id, name, timezone, is_demo, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        timezone: r.get(2)?,
        is_demo: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn create(
    conn: &Connection,
    name: &str,
    timezone: &str,
    is_demo: bool,
) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO orgs (name, timezone, is_demo) VALUES (?1, ?2, ?3)",
        (name.trim(), timezone, is_demo),
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Org>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM orgs WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

pub fn find_by_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<Org>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM orgs WHERE name = ?1"),
        [name.trim()],
        from_row,
    )
    .optional()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Org>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM orgs ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// What a business sets for itself: where notifications go, the AI line's human
/// fallback, its time zone and how many managed numbers it may hold.
#[derive(Debug, Clone)]
pub struct OrgSettings {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub notification_number: Option<String>,
    pub fallback_number: Option<String>,
    pub fallback_message: Option<String>,
    pub max_managed_numbers: i64,
    pub is_demo: bool,
    /// Two-letter ISO 3166 code; typed numbers without a country code are read in it.
    pub country: String,
    /// Delete each recording at Twilio once it is kept here (SPEC §13).
    pub delete_recordings_at_twilio: bool,
    /// Delete recordings and transcripts older than this many days; `None` keeps them.
    pub recording_retention_days: Option<i64>,
}

impl OrgSettings {
    /// The business's time zone; UTC if the stored name is not one (it is checked when set).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

pub fn settings(conn: &Connection, id: i64) -> rusqlite::Result<Option<OrgSettings>> {
    conn.row_cached(
        "SELECT id, name, timezone, notification_number, fallback_number, fallback_message, max_managed_numbers, is_demo,
             country, delete_recordings_at_twilio, recording_retention_days
         FROM orgs WHERE id = ?1",
        [id],
        |r| {
            Ok(OrgSettings {
                id: r.get(0)?,
                name: r.get(1)?,
                timezone: r.get(2)?,
                notification_number: r.get(3)?,
                fallback_number: r.get(4)?,
                fallback_message: r.get(5)?,
                max_managed_numbers: r.get(6)?,
                is_demo: r.get(7)?,
                country: r.get(8)?,
                delete_recordings_at_twilio: r.get(9)?,
                recording_retention_days: r.get(10)?,
            })
        },
    )
    .optional()
}

/// Stores validated settings (the caller checked numbers and the time zone).
pub fn update_settings(conn: &Connection, s: &OrgSettings) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE orgs SET name = ?2, timezone = ?3, notification_number = ?4, fallback_number = ?5,
             fallback_message = ?6, country = ?7, delete_recordings_at_twilio = ?8,
             recording_retention_days = ?9, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        rusqlite::params![
            s.id,
            s.name.trim(),
            s.timezone,
            s.notification_number,
            s.fallback_number,
            s.fallback_message,
            s.country,
            s.delete_recordings_at_twilio,
            s.recording_retention_days
        ],
    )?;
    Ok(())
}

pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.row_cached("SELECT count(*) FROM orgs", [], |r| r.get(0))
}

/// Sets who is texted about voicemails and leads, and where the AI hands callers over.
pub fn set_contacts(
    conn: &Connection,
    org_id: i64,
    notification: &str,
    fallback: &str,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE orgs SET notification_number = ?2, fallback_number = ?3 WHERE id = ?1",
        (org_id, notification, fallback),
    )?;
    Ok(())
}

/// Closes the org until `until` ("Closed now"), or reopens it with `None`.
pub fn set_closed(
    conn: &Connection,
    org_id: i64,
    until: Option<&str>,
    by: Option<&str>,
) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE orgs SET closed_until = ?2, closed_by = ?3 WHERE id = ?1",
        (org_id, until, by),
    )? == 1)
}

/// Until when the org is closed now, and by whom; `None` when it is not.
pub fn closed(
    conn: &Connection,
    org_id: i64,
) -> rusqlite::Result<Option<(String, Option<String>)>> {
    conn.row_cached(
        "SELECT closed_until, closed_by FROM orgs WHERE id = ?1 AND closed_until IS NOT NULL",
        [org_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The country the org's typed numbers are read in (see `domain::typed`).
pub fn country(conn: &Connection, org_id: i64) -> rusqlite::Result<String> {
    Ok(conn
        .row_cached("SELECT country FROM orgs WHERE id = ?1", [org_id], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or_else(|| crate::domain::typed::DEFAULT_COUNTRY.to_string()))
}

/// The org's human fallback: (number, spoken message); cached statement, for the hot path.
pub fn fallback(
    conn: &Connection,
    org_id: i64,
) -> rusqlite::Result<(Option<String>, Option<String>)> {
    conn.row_cached(
        "SELECT fallback_number, fallback_message FROM orgs WHERE id = ?1",
        [org_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The org's time zone (UTC when it is unknown or unreadable).
pub fn timezone(conn: &Connection, org_id: i64) -> rusqlite::Result<chrono_tz::Tz> {
    let name: Option<String> = conn
        .row_cached("SELECT timezone FROM orgs WHERE id = ?1", [org_id], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(name
        .and_then(|n| n.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC))
}
