//! `blocklist`: numbers and number prefixes an organization will not take calls or texts
//! from (SPEC §3.9).

use super::Cached;
use rusqlite::{Connection, OptionalExtension, Row};

/// One entry: an exact number or a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub org_id: i64,
    pub number: Option<String>,
    pub prefix: Option<String>,
    pub note: String,
    pub created_by: Option<String>,
    pub created_at: String,
}

pub use crate::domain::blocklist::Pattern;

impl Entry {
    /// What the entry blocks (`None` only for a row the schema's CHECK forbids).
    pub fn pattern(&self) -> Option<Pattern> {
        match (&self.number, &self.prefix) {
            (Some(n), _) => Some(Pattern::Number(n.clone())),
            (None, Some(p)) => Some(Pattern::Prefix(p.clone())),
            (None, None) => None,
        }
    }
}

const COLUMNS: &str = "id, org_id, number, prefix, note, created_by, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        org_id: r.get(1)?,
        number: r.get(2)?,
        prefix: r.get(3)?,
        note: r.get(4)?,
        created_by: r.get(5)?,
        created_at: r.get(6)?,
    })
}

/// Whether `caller` is blocked by the org: its number, or a prefix of it. The number is
/// one index probe; prefixes are few per org and read from their own index.
pub fn blocks(conn: &Connection, org_id: i64, caller: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM blocklist WHERE org_id = ?1 AND number = ?2
             UNION ALL
             SELECT 1 FROM blocklist WHERE org_id = ?1 AND prefix IS NOT NULL
                 AND substr(?2, 1, length(prefix)) = prefix
             LIMIT 1",
        )?
        .query_row((org_id, caller), |_| Ok(()))
        .optional()?
        .is_some())
}

/// Adds an entry; `None` when the same number or prefix is already there.
pub fn add(
    conn: &Connection,
    org_id: i64,
    pattern: &Pattern,
    note: &str,
    created_by: &str,
) -> rusqlite::Result<Option<Entry>> {
    let (number, prefix) = match pattern {
        Pattern::Number(n) => (Some(n.as_str()), None),
        Pattern::Prefix(p) => (None, Some(p.as_str())),
    };
    let inserted = conn.exec_cached(
        "INSERT OR IGNORE INTO blocklist (org_id, number, prefix, note, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        (org_id, number, prefix, note, created_by),
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    get(conn, org_id, conn.last_insert_rowid())
}

/// The entry matching `pattern` exactly, if any.
pub fn find(conn: &Connection, org_id: i64, pattern: &Pattern) -> rusqlite::Result<Option<Entry>> {
    let (sql, value) = match pattern {
        Pattern::Number(n) => ("number = ?2", n),
        Pattern::Prefix(p) => ("prefix = ?2", p),
    };
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM blocklist WHERE org_id = ?1 AND {sql}"),
        (org_id, value),
        from_row,
    )
    .optional()
}

pub fn get(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<Entry>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM blocklist WHERE org_id = ?1 AND id = ?2"),
        (org_id, id),
        from_row,
    )
    .optional()
}

/// Removes an entry; whether it existed.
pub fn remove(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "DELETE FROM blocklist WHERE org_id = ?1 AND id = ?2",
        (org_id, id),
    )? == 1)
}

/// The org's entries, newest first.
pub fn list(conn: &Connection, org_id: i64) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM blocklist WHERE org_id = ?1 ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map([org_id], from_row)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_prefixes_block_only_their_own_org() {
        let conn = super::super::migrations::in_memory();
        conn.execute_batch("INSERT INTO orgs (id, name) VALUES (1, 'A'), (2, 'B')")
            .unwrap();
        let n = Pattern::Number("+14155550123".into());
        let first = add(&conn, 1, &n, "spam", "owner@a.test").unwrap().unwrap();
        assert_eq!(first.number.as_deref(), Some("+14155550123"));
        assert_eq!(
            add(&conn, 1, &n, "again", "x").unwrap(),
            None,
            "once per org"
        );
        add(&conn, 1, &Pattern::Prefix("+1900".into()), "", "cli").unwrap();
        assert!(blocks(&conn, 1, "+14155550123").unwrap());
        assert!(blocks(&conn, 1, "+19005550100").unwrap());
        assert!(!blocks(&conn, 1, "+14155550124").unwrap());
        assert!(
            !blocks(&conn, 2, "+14155550123").unwrap(),
            "another org's list"
        );
        assert!(
            !blocks(&conn, 1, "+4419005550100").unwrap(),
            "a prefix is the start only"
        );
        assert_eq!(list(&conn, 1).unwrap().len(), 2);
        assert_eq!(find(&conn, 1, &n).unwrap().map(|e| e.id), Some(first.id));
        assert!(
            !remove(&conn, 2, first.id).unwrap(),
            "another org cannot remove it"
        );
        assert!(remove(&conn, 1, first.id).unwrap());
        assert!(!blocks(&conn, 1, "+14155550123").unwrap());
    }

    #[test]
    fn a_call_may_end_blocked_and_a_text_back_cancelled() {
        let conn = super::super::migrations::in_memory();
        conn.execute_batch(
            "INSERT INTO calls (provider, call_sid, outcome, textback_state, textback_deferred)
             VALUES ('twilio', 'CA1', 'blocked', 'cancelled', 1)",
        )
        .unwrap();
        let err = conn
            .execute_batch(
                "INSERT INTO calls (provider, call_sid, outcome) VALUES ('twilio', 'CA2', 'spam')",
            )
            .unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{err}");
    }
}
