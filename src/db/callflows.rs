//! Stored call flows: per number, else per org, else the default (SPEC §3.3).

use super::Cached;
use crate::domain::callflow::CallFlow;
use rusqlite::{Connection, OptionalExtension};

/// The flow that applies to calls on `number_id` of `org_id`.
pub fn for_number(
    conn: &Connection,
    org_id: i64,
    number_id: Option<i64>,
) -> rusqlite::Result<CallFlow> {
    let stored: Option<String> = conn
        .row_cached(
            "SELECT config_json FROM call_flows WHERE org_id = ?1 AND (phone_number_id = ?2 OR phone_number_id IS NULL)
             ORDER BY phone_number_id IS NULL LIMIT 1",
            (org_id, number_id),
            |r| r.get(0),
        )
        .optional()?;
    Ok(match stored {
        Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
            // Stored flows were checked on save; a flow that no longer parses falls back to
            // the default (which has no dead ends) rather than failing the call.
            log::error!(
                "stored call flow of org {org_id} does not parse ({e}); using the default flow"
            );
            CallFlow::default()
        }),
        None => CallFlow::default(),
    })
}

/// The org-wide flow, and its version (0 when the default is in use).
pub fn org_flow(conn: &Connection, org_id: i64) -> rusqlite::Result<(CallFlow, i64)> {
    let stored: Option<(String, i64)> = conn
        .row_cached(
            "SELECT config_json, version FROM call_flows WHERE org_id = ?1 AND phone_number_id IS NULL",
            [org_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match stored {
        Some((json, version)) => (serde_json::from_str(&json).unwrap_or_default(), version),
        None => (CallFlow::default(), 0),
    })
}

/// Replaces the org-wide flow (already checked by the caller); returns the new version.
pub fn put_org_flow(
    conn: &Connection,
    org_id: i64,
    flow: &CallFlow,
    user_id: Option<i64>,
) -> rusqlite::Result<i64> {
    let json = serde_json::to_string(flow).expect("a call flow always serializes");
    conn.exec_cached(
        "INSERT INTO call_flows (org_id, phone_number_id, config_json, updated_by) VALUES (?1, NULL, ?2, ?3)
         ON CONFLICT(org_id, ifnull(phone_number_id, 0)) DO UPDATE SET
             config_json = excluded.config_json, version = version + 1, updated_by = excluded.updated_by,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (org_id, json, user_id),
    )?;
    conn.row_cached(
        "SELECT version FROM call_flows WHERE org_id = ?1 AND phone_number_id IS NULL",
        [org_id],
        |r| r.get(0),
    )
}

/// Parsed flows by (org, number), so a call does not re-parse JSON. Invalidated whenever
/// a flow is saved through the API; a change made outside this process (a `restore`)
/// shows up after at most [`super::CACHE_MAX_AGE`].
type FlowMap =
    std::collections::HashMap<(i64, Option<i64>), (std::time::Instant, std::sync::Arc<CallFlow>)>;

#[derive(Default)]
pub struct FlowCache {
    map: std::sync::RwLock<FlowMap>,
}

impl FlowCache {
    pub fn get(
        &self,
        conn: &Connection,
        org_id: i64,
        number_id: Option<i64>,
    ) -> rusqlite::Result<std::sync::Arc<CallFlow>> {
        if let Some((loaded, flow)) = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(org_id, number_id))
        {
            if loaded.elapsed() < super::CACHE_MAX_AGE {
                return Ok(flow.clone());
            }
        }
        let flow = std::sync::Arc::new(for_number(conn, org_id, number_id)?);
        self.map.write().unwrap_or_else(|p| p.into_inner()).insert(
            (org_id, number_id),
            (std::time::Instant::now(), flow.clone()),
        );
        Ok(flow)
    }

    /// Call after writing `call_flows`.
    pub fn invalidate(&self) {
        self.map.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
