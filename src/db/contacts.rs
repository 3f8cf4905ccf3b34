//! `contacts`: who a number is, per organization (SPEC §13), and a contact's history:
//! every call, text, voicemail and lead with their number in one timeline.

use super::Cached;
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
    conn.exec_cached(
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
    Ok(conn.exec_cached(
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

impl Entry {
    /// Where the next page starts: `at|kind|id`. Entries of one moment (a missed call, its
    /// text-back and the lead it opened) share `at`, so `at` alone would skip some.
    pub fn cursor(&self) -> String {
        format!("{}|{}|{}", self.at, self.kind, self.id)
    }

    /// The order of the history, newest first: by time, then kind, then id.
    fn key(&self) -> (&str, &str, i64) {
        (&self.at, self.kind, self.id)
    }
}

/// Everything with `number` of the org, newest first: at most `limit` entries after the
/// cursor `before` ([`Entry::cursor`], or a bare time), each kind read through its own
/// index.
pub fn history(
    conn: &Connection,
    org: i64,
    number: &str,
    before: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<Entry>> {
    let mut parts = before.unwrap_or("9999").splitn(3, '|');
    let at = parts.next().unwrap_or("9999").to_string();
    // The cursor's kind and id order the entries of its own moment; a bare time has none.
    let (tie_kind, tie_id) = match (
        parts.next(),
        parts.next().and_then(|i| i.parse::<i64>().ok()),
    ) {
        (Some(kind), Some(id)) => (Some(kind.to_string()), Some(id)),
        _ => (None, None),
    };
    // Each kind read through its index (`time <= ?3`), keeping what comes after the
    // cursor in (time, kind, id) order.
    let after = |kind: &str, time: &str, id: &str| {
        format!(
            "{time} <= ?3 AND ({time} < ?3 OR ?5 > '{kind}' OR (?5 = '{kind}' AND {id} < ?6))
             ORDER BY {time} DESC, {id} DESC LIMIT ?4"
        )
    };
    let queries: [(&'static str, String); 6] = [
        ("call", format!("SELECT id, started_at, direction, COALESCE(outcome, status), to_number FROM calls_by_caller
                  WHERE org_id = ?1 AND from_number = ?2 AND {}", after("call", "started_at", "id"))),
        ("call", format!("SELECT id, started_at, direction, COALESCE(outcome, status), from_number FROM calls
                  WHERE org_id = ?1 AND to_number = ?2 AND {}", after("call", "started_at", "id"))),
        ("text", format!("SELECT id, created_at, direction, body, to_number FROM messages
                  WHERE org_id = ?1 AND from_number = ?2 AND {}", after("text", "created_at", "id"))),
        ("text", format!("SELECT id, created_at, direction, body, from_number FROM messages
                  WHERE org_id = ?1 AND to_number = ?2 AND {}", after("text", "created_at", "id"))),
        ("voicemail", format!("SELECT v.id, v.created_at, 'inbound', v.transcription_text, c.to_number FROM calls_by_caller c
                  JOIN voicemails v ON v.call_id = c.id
                  WHERE c.org_id = ?1 AND c.from_number = ?2 AND {}", after("voicemail", "v.created_at", "v.id"))),
        ("lead", format!("SELECT l.id, l.created_at, 'inbound', l.status, n.e164 FROM leads l
                  LEFT JOIN phone_numbers n ON n.id = l.phone_number_id
                  WHERE l.org_id = ?1 AND l.customer_number = ?2 AND {}", after("lead", "l.created_at", "l.id"))),
    ];
    let mut all = Vec::new();
    for (kind, sql) in queries {
        let mut stmt = conn.prepare_cached(&sql)?;
        let params = rusqlite::params![org, number, at, limit, tie_kind, tie_id];
        let rows = stmt.query_map(params, |r| {
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
    all.sort_by(|a, b| b.key().cmp(&a.key()));
    all.truncate(limit as usize);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_a_history_loses_nothing_of_one_moment() {
        let conn = crate::db::migrations::in_memory();
        let t = "2026-12-07T10:00:00.000Z";
        conn.execute_batch(&format!(
            "INSERT INTO orgs (id, name) VALUES (1, 'o');
             INSERT INTO calls (org_id, provider, call_sid, from_number, to_number, started_at)
                 VALUES (1, 'twilio', 'CA1', '+14155550123', '+15550100001', '{t}'),
                        (1, 'twilio', 'CA2', '+14155550123', '+15550100001', '{t}');
             INSERT INTO messages (org_id, direction, from_number, to_number, body, kind, status, created_at, updated_at)
                 VALUES (1, 'inbound', '+14155550123', '+15550100001', 'hi', 'intake', 'received', '{t}', '{t}');
             INSERT INTO leads (org_id, customer_number, created_at) VALUES (1, '+14155550123', '{t}');"
        ))
        .unwrap();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let page = history(&conn, 1, "+14155550123", cursor.as_deref(), 1).unwrap();
            let Some(e) = page.first() else { break };
            seen.push((e.kind, e.id));
            cursor = Some(e.cursor());
        }
        assert_eq!(seen, [("text", 1), ("lead", 1), ("call", 2), ("call", 1)]);
    }
}
