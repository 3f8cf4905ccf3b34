//! The audit log: who changed what, from where (SPEC §11).

use super::Cached;
use rusqlite::{Connection, Row};

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<serde_json::Value>,
    pub ip: Option<String>,
    pub at: String,
}

/// One audit row. `actor` is an email, or `cli`/`system` for non-HTTP changes.
pub struct Record<'a> {
    pub org_id: Option<i64>,
    pub user_id: Option<i64>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<String>,
    pub detail: Option<serde_json::Value>,
    pub ip: Option<&'a str>,
}

pub fn record(conn: &Connection, rec: Record<'_>) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO audit_log (org_id, user_id, actor, action, target, detail, ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        (rec.org_id, rec.user_id, rec.actor, rec.action, rec.target, rec.detail.map(|d| d.to_string()), rec.ip),
    )?;
    Ok(())
}

fn from_row(r: &Row) -> rusqlite::Result<AuditEntry> {
    let detail: Option<String> = r.get(4)?;
    Ok(AuditEntry {
        id: r.get(0)?,
        actor: r.get(1)?,
        action: r.get(2)?,
        target: r.get(3)?,
        detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        ip: r.get(5)?,
        at: r.get(6)?,
    })
}

/// Newest first, `limit` rows with ids below `before`.
pub fn list(
    conn: &Connection,
    org_id: i64,
    limit: u32,
    before: Option<i64>,
) -> rusqlite::Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, actor, action, target, detail, ip, at FROM audit_log
         WHERE org_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map((org_id, before.unwrap_or(i64::MAX), limit), from_row)?;
    rows.collect()
}
