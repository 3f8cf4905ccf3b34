//! Feature flags and per-org overrides (SPEC §5.1). Writers must invalidate the in-memory
//! snapshot ([`crate::flags::Flags::invalidate`]).

use super::Cached;
use rusqlite::Connection;

#[derive(Debug, Clone)]
pub struct FlagRow {
    pub key: String,
    pub name: String,
    pub description: String,
    pub enabled_globally: bool,
    pub rollout_percentage: u8,
    /// The org's override, if any.
    pub org_override: Option<bool>,
}

pub fn list(conn: &Connection, org_id: i64) -> rusqlite::Result<Vec<FlagRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.flag_key, f.flag_name, f.description, f.enabled_globally, f.rollout_percentage, o.enabled
         FROM feature_flags f LEFT JOIN org_feature_overrides o ON o.flag_key = f.flag_key AND o.org_id = ?1
         ORDER BY f.flag_key",
    )?;
    let rows = stmt.query_map([org_id], |r| {
        Ok(FlagRow {
            key: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            enabled_globally: r.get(3)?,
            rollout_percentage: r.get(4)?,
            org_override: r.get(5)?,
        })
    })?;
    rows.collect()
}

pub fn set_global(
    conn: &Connection,
    key: &str,
    enabled: Option<bool>,
    rollout: Option<u8>,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE feature_flags SET enabled_globally = COALESCE(?2, enabled_globally),
             rollout_percentage = COALESCE(?3, rollout_percentage), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE flag_key = ?1",
        rusqlite::params![key, enabled, rollout],
    )?;
    Ok(())
}

pub fn set_override(
    conn: &Connection,
    org_id: i64,
    key: &str,
    enabled: bool,
    user_id: i64,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO org_feature_overrides (org_id, flag_key, enabled, updated_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(org_id, flag_key) DO UPDATE SET enabled = excluded.enabled, updated_by = excluded.updated_by,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        rusqlite::params![org_id, key, enabled, user_id],
    )?;
    Ok(())
}

pub fn clear_override(conn: &Connection, org_id: i64, key: &str) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "DELETE FROM org_feature_overrides WHERE org_id = ?1 AND flag_key = ?2",
        rusqlite::params![org_id, key],
    )? > 0)
}

/// Every flag's global state: (key, enabled globally, rollout percentage).
pub fn all_global(conn: &Connection) -> rusqlite::Result<Vec<(String, bool, u8)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT flag_key, enabled_globally, rollout_percentage FROM feature_flags",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// Every org override: (org, key, enabled).
pub fn all_overrides(conn: &Connection) -> rusqlite::Result<Vec<(i64, String, bool)>> {
    let mut stmt =
        conn.prepare_cached("SELECT org_id, flag_key, enabled FROM org_feature_overrides")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// An override turning `key` on for `org_id`, by no user (the demo's seed).
pub fn turn_on(conn: &Connection, org_id: i64, key: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO org_feature_overrides (org_id, flag_key, enabled) VALUES (?1, ?2, 1)",
        (org_id, key),
    )?;
    Ok(())
}
