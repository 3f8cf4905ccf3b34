//! `sagas` and `saga_steps`: the persisted log of multi-step provider operations (SPEC §6.3).
//! Every step is written before it runs and after it ends, so a restart knows exactly how
//! far a saga got.

use super::Cached;
use rusqlite::{Connection, OptionalExtension};

#[derive(Debug, Clone)]
pub struct SagaRow {
    pub id: i64,
    pub org_id: Option<i64>,
    pub kind: String,
    pub state: String,
    pub input: serde_json::Value,
    pub context: serde_json::Value,
    pub error: Option<serde_json::Value>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StepRow {
    pub seq: i64,
    pub name: String,
    pub phase: String,
    pub state: String,
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

fn json(text: Option<String>) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

const SELECT: &str = "SELECT id, org_id, kind, state, input_json, context_json, error_json, created_at, finished_at FROM sagas";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<SagaRow> {
    Ok(SagaRow {
        id: r.get(0)?,
        org_id: r.get(1)?,
        kind: r.get(2)?,
        state: r.get(3)?,
        input: json(r.get(4)?),
        context: json(r.get(5)?),
        error: r.get::<_, Option<String>>(6)?.map(|t| json(Some(t))),
        created_at: r.get(7)?,
        finished_at: r.get(8)?,
    })
}

/// A new saga in state `running`.
pub fn create(
    conn: &Connection,
    org_id: Option<i64>,
    kind: &str,
    input: &serde_json::Value,
    context: &serde_json::Value,
) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO sagas (org_id, kind, state, input_json, context_json) VALUES (?1, ?2, 'running', ?3, ?4)",
        (org_id, kind, input.to_string(), context.to_string()),
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<SagaRow>> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
        .optional()
}

/// Sagas a crash may have interrupted, oldest first.
pub fn unfinished(conn: &Connection) -> rusqlite::Result<Vec<SagaRow>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE state IN ('running', 'compensating') ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// The org's most recent sagas, newest first (what the dashboard shows as progress).
pub fn recent_for_org(
    conn: &Connection,
    org_id: i64,
    kind: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<SagaRow>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE org_id = ?1 AND (?2 IS NULL OR kind = ?2) ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map((org_id, kind, limit), from_row)?;
    rows.collect()
}

/// Unfinished sagas of one kind for an org (a provisioning in flight holds a number slot).
pub fn count_unfinished(conn: &Connection, org_id: i64, kind: &str) -> rusqlite::Result<i64> {
    conn.row_cached(
        "SELECT count(*) FROM sagas WHERE org_id = ?1 AND kind = ?2 AND state IN ('running', 'compensating')",
        (org_id, kind),
        |r| r.get(0),
    )
}

pub fn steps(conn: &Connection, saga_id: i64) -> rusqlite::Result<Vec<StepRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, name, phase, state, error, started_at, finished_at FROM saga_steps
         WHERE saga_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([saga_id], |r| {
        Ok(StepRow {
            seq: r.get(0)?,
            name: r.get(1)?,
            phase: r.get(2)?,
            state: r.get(3)?,
            error: r.get(4)?,
            started_at: r.get(5)?,
            finished_at: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// Records that a step (or its compensation) starts, with the context it starts from.
/// A step retried after a restart reuses its row.
pub fn step_started(
    conn: &Connection,
    saga_id: i64,
    seq: usize,
    name: &str,
    phase: &str,
    context: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO saga_steps (saga_id, seq, name, phase, state) VALUES (?1, ?2, ?3, ?4, 'started')
         ON CONFLICT (saga_id, seq, phase) DO UPDATE SET state = 'started', error = NULL, finished_at = NULL,
             started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (saga_id, seq as i64, name, phase),
    )?;
    set_context(conn, saga_id, context)
}

/// Records how a step (or its compensation) ended, with the context after it.
pub fn step_finished(
    conn: &Connection,
    saga_id: i64,
    seq: usize,
    phase: &str,
    state: &str,
    error: Option<&str>,
    context: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE saga_steps SET state = ?4, error = ?5, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE saga_id = ?1 AND seq = ?2 AND phase = ?3",
        (saga_id, seq as i64, phase, state, error),
    )?;
    set_context(conn, saga_id, context)
}

fn set_context(
    conn: &Connection,
    saga_id: i64,
    context: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE sagas SET context_json = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        (saga_id, context.to_string()),
    )?;
    Ok(())
}

/// Moves a saga to `state`; `completed`, `compensated` and `failed` are final.
pub fn set_state(
    conn: &Connection,
    saga_id: i64,
    state: &str,
    error: Option<&serde_json::Value>,
) -> rusqlite::Result<()> {
    let finished = matches!(state, "completed" | "compensated" | "failed");
    conn.exec_cached(
        "UPDATE sagas SET state = ?2, error_json = coalesce(?3, error_json),
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
             finished_at = CASE WHEN ?4 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE NULL END
         WHERE id = ?1",
        (saga_id, state, error.map(|e| e.to_string()), finished),
    )?;
    Ok(())
}
