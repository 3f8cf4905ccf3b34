//! The webhook ledger (SPEC §2): one row per inbound webhook, queued to the database
//! writer without waiting, so it joins the batch of the webhook's own writes. A full queue
//! drops rows (counted) rather than slowing webhooks down.

use super::Db;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone)]
pub struct Entry {
    pub provider: &'static str,
    pub route: String,
    pub idempotency_key: Option<String>,
    pub reference: Option<String>,
    pub org_id: Option<i64>,
    /// `valid`, `invalid`, `missing` or `skipped`.
    pub signature: &'static str,
    pub http_status: u16,
    pub latency_ms: f64,
    pub error: Option<String>,
    pub remote_ip: Option<String>,
}

pub struct Ledger {
    db: Db,
    dropped: AtomicU64,
}

impl Ledger {
    pub fn new(db: Db) -> Ledger {
        Ledger {
            db,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn record(&self, e: Entry) {
        let queued = self.db.submit(move |c| {
            c.prepare_cached(
                "INSERT INTO webhook_ledger (provider, route, idempotency_key, reference, org_id, signature, http_status,
                     latency_ms, error, remote_ip, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(rusqlite::params![
                e.provider,
                e.route,
                e.idempotency_key,
                e.reference,
                e.org_id,
                e.signature,
                e.http_status,
                e.latency_ms,
                e.error,
                e.remote_ip,
                super::now()
            ])?;
            Ok(())
        });
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until everything recorded so far is in the database (the writer is FIFO).
    pub async fn flush(&self) {
        if let Err(e) = self.db.write(|_| Ok(())).await {
            log::warn!("flushing the webhook ledger failed: {e}");
        }
    }
}

/// Ledger rows about one call or message, oldest first (a call's timeline).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub id: i64,
    pub provider: String,
    pub route: String,
    pub signature: String,
    pub http_status: i64,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
    pub received_at: String,
}

/// With `org_id`, only that org's rows and those no business could be told apart for
/// (a refused signature, an unknown number).
pub fn for_reference(
    conn: &rusqlite::Connection,
    reference: &str,
    org_id: Option<i64>,
) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare(
        "SELECT id, provider, route, signature, http_status, latency_ms, error, received_at FROM webhook_ledger
         WHERE reference = ?1 AND (?2 IS NULL OR org_id = ?2 OR org_id IS NULL) ORDER BY id LIMIT 500",
    )?;
    let rows = stmt.query_map((reference, org_id), |r| {
        Ok(Row {
            id: r.get(0)?,
            provider: r.get(1)?,
            route: r.get(2)?,
            signature: r.get(3)?,
            http_status: r.get(4)?,
            latency_ms: r.get(5)?,
            error: r.get(6)?,
            received_at: r.get(7)?,
        })
    })?;
    rows.collect()
}

/// Retention (SPEC §9.4): ledger 30 days, idempotency keys 24 h, rate-limit aggregates
/// 30 days. Deletes at most `limit` rows of each table: one statement holds the write
/// lock for as long as it runs, and webhooks wait for it.
pub fn prune_batch(conn: &rusqlite::Connection, limit: i64) -> rusqlite::Result<usize> {
    // Per provider, so the (provider, received_at) index serves the range.
    let mut n = conn.execute(
        "DELETE FROM webhook_ledger WHERE id IN (SELECT id FROM webhook_ledger
             WHERE provider IN ('twilio', 'vapi')
               AND received_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days') LIMIT ?1)",
        [limit],
    )?;
    n += conn.execute(
        "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys
             WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day') LIMIT ?1)",
        [limit],
    )?;
    n += conn.execute(
        "DELETE FROM rate_limit_violations WHERE rowid IN (SELECT rowid FROM rate_limit_violations
             WHERE minute < strftime('%Y-%m-%dT%H:%MZ', 'now', '-30 days') LIMIT ?1)",
        [limit],
    )?;
    Ok(n)
}

/// Rows deleted per statement by [`prune`]: a few milliseconds of write lock each.
const PRUNE_BATCH: i64 = 2_000;

/// Deletes every row past its retention in small batches with pauses between them, so
/// the writer thread gets the lock between two batches and webhooks never wait for a
/// whole backlog (a first prune of a large database, or one after downtime).
pub async fn prune(db: &Db) -> Result<usize, super::DbError> {
    let mut total = 0;
    loop {
        let n = db.query(|c| prune_batch(c, PRUNE_BATCH)).await?;
        total += n;
        if n < PRUNE_BATCH as usize {
            return Ok(total);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// When the last webhook from `provider` arrived, if ever.
pub fn last_received(
    conn: &rusqlite::Connection,
    provider: &str,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT MAX(received_at) FROM webhook_ledger WHERE provider = ?1",
        [provider],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn pruning_keeps_30_days_of_ledger_and_24_hours_of_idempotency_keys() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn, std::path::Path::new("/nonexistent")).unwrap();
        conn.execute_batch(
            "INSERT INTO orgs (name) VALUES ('o');
             INSERT INTO webhook_ledger (provider, route, signature, http_status, received_at)
                 VALUES ('twilio', '/old', 'valid', 200, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-31 days')),
                        ('twilio', '/older', 'valid', 200, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-40 days')),
                        ('twilio', '/new', 'valid', 200, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-29 days'));
             INSERT INTO idempotency_keys (org_id, key, request_hash, state, created_at)
                 VALUES (1, 'old', 'h', 'completed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-25 hours')),
                        (1, 'new', 'h', 'completed', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-23 hours'));
             INSERT INTO rate_limit_violations (limiter, key, minute, count)
                 VALUES ('api', 'k', strftime('%Y-%m-%dT%H:%MZ', 'now', '-31 days'), 1),
                        ('api', 'k', strftime('%Y-%m-%dT%H:%MZ', 'now'), 1);",
        )
        .unwrap();
        // At most one row of each table per batch.
        assert_eq!(super::prune_batch(&conn, 1).unwrap(), 3);
        assert_eq!(super::prune_batch(&conn, 1).unwrap(), 1);
        assert_eq!(super::prune_batch(&conn, 1).unwrap(), 0);
        let left: String = conn
            .query_row("SELECT route FROM webhook_ledger", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, "/new");
        let key: String = conn
            .query_row("SELECT key FROM idempotency_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(key, "new");
    }
}
