//! `contacts`: who a number is, per organization (SPEC §13), and a contact's history:
//! every call, text, voicemail and lead with their number in one timeline.

use rusqlite::{Connection, OptionalExtension, Row};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: i64,
    pub number: String,
    pub name: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, number, name, notes, tags, created_at, updated_at";

fn from_row(r: &Row) -> rusqlite::Result<Contact> {
    let tags: String = r.get(4)?;
    Ok(Contact {
        id: r.get(0)?,
        number: r.get(1)?,
        name: r.get(2)?,
        notes: r.get(3)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// What a contact is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub name: String,
    pub notes: String,
    pub tags: Vec<String>,
}

/// Creates or replaces the contact for `number`; answers it and whether it is new.
pub fn put(
    conn: &Connection,
    org: i64,
    number: &str,
    f: &Fields,
) -> rusqlite::Result<(Contact, bool)> {
    let existed = get(conn, org, number)?.is_some();
    let tags = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "INSERT INTO contacts (org_id, number, name, notes, tags) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (org_id, number) DO UPDATE SET name = excluded.name, notes = excluded.notes,
             tags = excluded.tags, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (org, number, f.name.trim(), &f.notes, tags),
    )?;
    let contact = get(conn, org, number)?.expect("the row just written");
    Ok((contact, !existed))
}

pub fn get(conn: &Connection, org: i64, number: &str) -> rusqlite::Result<Option<Contact>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contacts WHERE org_id = ?1 AND number = ?2"
    ))?
    .query_row((org, number), from_row)
    .optional()
}

pub fn delete(conn: &Connection, org: i64, number: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM contacts WHERE org_id = ?1 AND number = ?2",
        (org, number),
    )? == 1)
}

/// The org's contacts by name; `q` matches a part of the name or number, `tag` one tag.
pub fn list(
    conn: &Connection,
    org: i64,
    q: Option<&str>,
    tag: Option<&str>,
) -> rusqlite::Result<Vec<Contact>> {
    let like = q.map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contacts
         WHERE org_id = ?1
           AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\' OR number LIKE ?2 ESCAPE '\\')
           AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?3))
         ORDER BY name COLLATE NOCASE, number"
    ))?;
    let rows = stmt.query_map(rusqlite::params![org, like, tag], from_row)?;
    rows.collect()
}

/// The names of those of `numbers` that are contacts of the org.
pub fn names(
    conn: &Connection,
    org: i64,
    numbers: &[&str],
) -> rusqlite::Result<HashMap<String, String>> {
    if numbers.is_empty() {
        return Ok(HashMap::new());
    }
    let list = serde_json::to_string(numbers).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(
        "SELECT c.number, c.name FROM json_each(?2) j
         JOIN contacts c ON c.org_id = ?1 AND c.number = j.value",
    )?;
    let rows = stmt.query_map((org, list), |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The name of one number, if it is a contact.
pub fn name(conn: &Connection, org: i64, number: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT name FROM contacts WHERE org_id = ?1 AND number = ?2")?
        .query_row((org, number), |r| r.get(0))
        .optional()
}

/// A number as the business says it in a notice: the contact's name with the number
/// ("Jane Smith, (415) 555-0123"), or the number alone.
pub fn called(
    conn: &Connection,
    org: i64,
    number: &str,
    country: &str,
) -> rusqlite::Result<String> {
    let shown = crate::domain::typed::display(number, country);
    Ok(match name(conn, org, number)? {
        Some(name) => format!("{name}, {shown}"),
        None => shown,
    })
}

/// One entry of a contact's history.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `call`, `text`, `voicemail` or `lead`.
    pub kind: &'static str,
    pub id: i64,
    pub at: String,
    /// `inbound` or `outbound` (a lead and a voicemail are inbound).
    pub direction: String,
    /// In words: an outcome, a text's body, a transcript, a lead's status.
    pub summary: Option<String>,
    pub business_number: Option<String>,
}

/// Everything with `number` of the org, newest first: at most `limit` entries older than
/// `before` (an entry's `at`), each kind read through its own index.
pub fn history(
    conn: &Connection,
    org: i64,
    number: &str,
    before: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<Entry>> {
    let before = before.unwrap_or("9999");
    let queries: [(&'static str, &str); 6] = [
        ("call", "SELECT id, started_at, direction, COALESCE(outcome, status), to_number FROM calls
                  WHERE org_id = ?1 AND from_number = ?2 AND started_at < ?3 ORDER BY started_at DESC LIMIT ?4"),
        ("call", "SELECT id, started_at, direction, COALESCE(outcome, status), from_number FROM calls
                  WHERE org_id = ?1 AND to_number = ?2 AND started_at < ?3 ORDER BY started_at DESC LIMIT ?4"),
        ("text", "SELECT id, created_at, direction, body, to_number FROM messages
                  WHERE org_id = ?1 AND from_number = ?2 AND created_at < ?3 ORDER BY created_at DESC LIMIT ?4"),
        ("text", "SELECT id, created_at, direction, body, from_number FROM messages
                  WHERE org_id = ?1 AND to_number = ?2 AND created_at < ?3 ORDER BY created_at DESC LIMIT ?4"),
        ("voicemail", "SELECT v.id, v.created_at, 'inbound', v.transcription_text, c.to_number FROM calls c
                  JOIN voicemails v ON v.call_id = c.id
                  WHERE c.org_id = ?1 AND c.from_number = ?2 AND v.created_at < ?3 ORDER BY v.created_at DESC LIMIT ?4"),
        ("lead", "SELECT l.id, l.created_at, 'inbound', l.status, n.e164 FROM leads l
                  LEFT JOIN phone_numbers n ON n.id = l.phone_number_id
                  WHERE l.org_id = ?1 AND l.customer_number = ?2 AND l.created_at < ?3 ORDER BY l.created_at DESC LIMIT ?4"),
    ];
    let mut all = Vec::new();
    for (kind, sql) in queries {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params![org, number, before, limit], |r| {
            Ok(Entry {
                kind,
                id: r.get(0)?,
                at: r.get(1)?,
                direction: r.get(2)?,
                summary: r.get(3)?,
                business_number: r.get(4)?,
            })
        })?;
        for row in rows {
            all.push(row?);
        }
    }
    all.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    all.truncate(limit as usize);
    Ok(all)
}
