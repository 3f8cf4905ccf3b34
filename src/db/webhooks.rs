//! Outgoing webhooks (SPEC §13): endpoints, the deliveries written with each event (one
//! per endpoint that takes it, keyed so a repeated webhook makes no second one), and the
//! log of attempts.

use super::Cached;
use rusqlite::{Connection, OptionalExtension, Row};

/// The events an endpoint can take.
pub const EVENTS: [&str; 6] = [
    "call.missed",
    "call.completed",
    "voicemail.created",
    "lead.created",
    "message.received",
    "textback.sent",
];
/// The event "Send a test event" sends.
pub const TEST_EVENT: &str = "webhook.test";

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub description: String,
    #[serde(skip)]
    pub sealed_secret: String,
    pub created_at: String,
}

const COLUMNS: &str = "id, url, events, enabled, description, secret, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Endpoint> {
    let events: String = r.get(2)?;
    Ok(Endpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        enabled: r.get(3)?,
        description: r.get(4)?,
        sealed_secret: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn list(conn: &Connection, org: i64) -> rusqlite::Result<Vec<Endpoint>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([org], from_row)?;
    rows.collect()
}

pub fn get(conn: &Connection, org: i64, id: i64) -> rusqlite::Result<Option<Endpoint>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = ?1 AND id = ?2"),
        (org, id),
        from_row,
    )
    .optional()
}

pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Endpoint>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

pub fn create(
    conn: &Connection,
    org: i64,
    url: &str,
    events: &[String],
    description: &str,
    sealed_secret: &str,
) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO webhook_endpoints (org_id, url, events, description, secret) VALUES (?1, ?2, ?3, ?4, ?5)",
        (org, url, serde_json::to_string(events).unwrap_or_default(), description, sealed_secret),
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, org: i64, e: &Endpoint) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE webhook_endpoints SET url = ?3, events = ?4, enabled = ?5, description = ?6, secret = ?7,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE org_id = ?1 AND id = ?2",
        rusqlite::params![
            org,
            e.id,
            e.url,
            serde_json::to_string(&e.events).unwrap_or_default(),
            e.enabled,
            e.description,
            e.sealed_secret
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, org: i64, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "DELETE FROM webhook_endpoints WHERE org_id = ?1 AND id = ?2",
        (org, id),
    )? == 1)
}

/// Whether any enabled endpoint of the org takes `event`: checked first on hot paths, so
/// an org without webhooks pays one indexed read and builds no payload.
pub fn wanted(conn: &Connection, org: i64, event: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.org_id = ?1 AND e.enabled
             AND EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = ?2))",
    )?
    .query_row((org, event), |r| r.get(0))
}

/// Writes a delivery of `event` to each enabled endpoint of the org that takes it, in the
/// caller's transaction; `key` names the event (a redelivered provider webhook gives the
/// same key, so the same `webhook-id`, and no second delivery). Answers how many.
/// `data` is built only when some endpoint takes the event (`None`: nothing to tell): an
/// org without webhooks pays one indexed read on the hot paths.
pub fn emit(
    conn: &Connection,
    org: i64,
    event: &str,
    key: &str,
    now: &str,
    data: impl FnOnce() -> rusqlite::Result<Option<serde_json::Value>>,
) -> rusqlite::Result<usize> {
    if !wanted(conn, org, event)? {
        return Ok(0);
    }
    let Some(data) = data()? else {
        return Ok(0);
    };
    let message_id = message_id(event, key);
    let payload = serde_json::json!({ "type": event, "timestamp": now, "data": data }).to_string();
    conn.prepare_cached(
        "INSERT OR IGNORE INTO webhook_deliveries (endpoint_id, org_id, message_id, event, payload)
         SELECT e.id, e.org_id, ?3, ?2, ?4 FROM webhook_endpoints e
         WHERE e.org_id = ?1 AND e.enabled AND EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = ?2)",
    )?
    .execute(rusqlite::params![org, event, message_id, payload])
}

/// A test event to one endpoint, whatever it takes.
pub fn emit_test(
    conn: &Connection,
    endpoint: i64,
    org: i64,
    now: &str,
) -> rusqlite::Result<String> {
    let message_id = message_id(TEST_EVENT, &format!("{endpoint}:{now}"));
    let payload = serde_json::json!({
        "type": TEST_EVENT, "timestamp": now,
        "data": { "message": "A test event from switchboard: this endpoint is reached and the signature verifies." },
    })
    .to_string();
    conn.exec_cached(
        "INSERT OR IGNORE INTO webhook_deliveries (endpoint_id, org_id, message_id, event, payload)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![endpoint, org, message_id, TEST_EVENT, payload],
    )?;
    Ok(message_id)
}

/// `msg_` and 24 hex digits of SHA-256 of the event and its key: stable across retries
/// and redelivered provider webhooks.
fn message_id(event: &str, key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{event}\n{key}").as_bytes());
    format!("msg_{}", &hex::encode(digest)[..24])
}

/// The next delivery of an endpoint, in order: its oldest pending one, if due.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub endpoint_id: i64,
    pub message_id: String,
    pub payload: String,
    pub attempts: i64,
    pub created_at: String,
}

pub fn due(conn: &Connection, now: &str) -> rusqlite::Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.endpoint_id, d.message_id, d.payload, d.attempts, d.created_at FROM webhook_deliveries d
         WHERE d.id IN (SELECT min(id) FROM webhook_deliveries WHERE status = 'pending' GROUP BY endpoint_id)
           AND d.next_attempt_at <= ?1",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok(Due {
            id: r.get(0)?,
            endpoint_id: r.get(1)?,
            message_id: r.get(2)?,
            payload: r.get(3)?,
            attempts: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// When the next head-of-line delivery falls due.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.row_cached(
        "SELECT min(next_attempt_at) FROM webhook_deliveries
         WHERE id IN (SELECT min(id) FROM webhook_deliveries WHERE status = 'pending' GROUP BY endpoint_id)",
        [],
        |r| r.get(0),
    )
}

/// One attempt and its outcome: delivered, retried at `retry_at`, or failed for good.
pub struct Attempt<'a> {
    pub delivery: &'a Due,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub response: Option<&'a str>,
    pub error: Option<&'a str>,
    pub delivered: bool,
    pub retry_at: Option<&'a str>,
}

pub fn record(conn: &Connection, a: &Attempt<'_>) -> rusqlite::Result<()> {
    let d = a.delivery;
    conn.exec_cached(
        "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, status, latency_ms, response, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![d.id, d.endpoint_id, d.attempts + 1, a.status, a.latency_ms, a.response, a.error],
    )?;
    let status = if a.delivered {
        "delivered"
    } else if a.retry_at.is_some() {
        "pending"
    } else {
        "failed"
    };
    conn.exec_cached(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?2, last_status = ?3, last_error = ?4,
             next_attempt_at = COALESCE(?5, next_attempt_at),
             delivered_at = CASE WHEN ?2 = 'delivered' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END
         WHERE id = ?1",
        rusqlite::params![d.id, status, a.status, a.error, a.retry_at],
    )?;
    Ok(())
}

/// The delivery log of an endpoint, newest first.
pub fn attempts(
    conn: &Connection,
    org: i64,
    endpoint: i64,
    limit: u32,
) -> rusqlite::Result<Vec<serde_json::Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.at, a.attempt, a.status, a.latency_ms, a.response, a.error, d.message_id, d.event, d.status
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
         WHERE a.endpoint_id = ?2 AND d.org_id = ?1 ORDER BY a.id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map((org, endpoint, limit), |r| {
        Ok(serde_json::json!({
            "id": r.get::<_, i64>(0)?, "at": r.get::<_, String>(1)?, "attempt": r.get::<_, i64>(2)?,
            "status": r.get::<_, Option<i64>>(3)?, "latencyMs": r.get::<_, i64>(4)?,
            "response": r.get::<_, Option<String>>(5)?, "error": r.get::<_, Option<String>>(6)?,
            "messageId": r.get::<_, String>(7)?, "event": r.get::<_, String>(8)?,
            "deliveryStatus": r.get::<_, String>(9)?,
        }))
    })?;
    rows.collect()
}
