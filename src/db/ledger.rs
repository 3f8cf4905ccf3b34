//! The webhook ledger (SPEC §2): one row per inbound webhook, queued to the database
//! writer without waiting, so it joins the batch of the webhook's own writes. Rows that
//! arrive while one write of them is queued go with it: under load one job writes many
//! rows, instead of one job (a queue slot, a closure, a wake of the writer) a row. A full
//! queue drops rows (counted) rather than slowing webhooks down.

use super::Cached;
use super::Db;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

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
    /// Rows recorded since the queued write took its rows; not empty means a write of
    /// them is queued.
    pending: Arc<Mutex<Vec<Entry>>>,
}

impl Ledger {
    pub fn new(db: Db) -> Ledger {
        Ledger {
            db,
            dropped: AtomicU64::new(0),
            pending: Arc::default(),
        }
    }

    pub fn record(&self, e: Entry) {
        let first = {
            let mut pending = lock(&self.pending);
            pending.push(e);
            pending.len() == 1
        };
        if !first {
            return;
        }
        // The job takes the rows when it first runs; run again (its batch was retried),
        // it writes the same rows, whose first write was rolled back.
        let (pending, taken) = (self.pending.clone(), Mutex::new(None::<Vec<Entry>>));
        let queued = self.db.submit(move |c| {
            let mut taken = lock(&taken);
            let rows = taken.get_or_insert_with(|| {
                // The next rows get room for as many: growing a vector of hundreds of
                // rows row by row was a tenth of the allocator's work under load.
                let mut pending = lock(&pending);
                let room = pending.len();
                std::mem::replace(&mut *pending, Vec::with_capacity(room))
            });
            rows.iter().try_for_each(|e| insert(c, e))
        });
        if !queued {
            let lost = std::mem::take(&mut *lock(&self.pending)).len();
            self.dropped.fetch_add(lost as u64, Ordering::Relaxed);
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

/// Writes one ledger row. A row about a call (a Twilio CallSid, a Vapi call id) keeps the
/// call's row id, so it is indexed at the end of an index rather than at a random place
/// (migration 7); the call row is already stored, its webhook having been answered.
pub fn insert(conn: &rusqlite::Connection, e: &Entry) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO webhook_ledger (provider, route, idempotency_key, reference, org_id, signature, http_status,
             latency_ms, error, remote_ip, received_at, call_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
             CASE ?1 WHEN 'twilio' THEN (SELECT id FROM calls WHERE call_sid = ?4)
                     ELSE (SELECT id FROM calls WHERE vapi_call_id = ?4) END)",
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
}

/// Ledger rows about one call or message, oldest first (a call's timeline).
#[derive(Debug, Clone)]
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

const FOR_REFERENCE: &str =
    "SELECT id, provider, route, signature, http_status, latency_ms, error, received_at FROM webhook_ledger
     WHERE call_id IN (SELECT id FROM calls WHERE call_sid = ?1 UNION ALL SELECT id FROM calls WHERE vapi_call_id = ?1)
       AND reference = ?1 AND (?2 IS NULL OR org_id = ?2 OR org_id IS NULL)
     UNION ALL
     SELECT id, provider, route, signature, http_status, latency_ms, error, received_at FROM webhook_ledger
     WHERE reference = ?1 AND call_id IS NULL AND (?2 IS NULL OR org_id = ?2 OR org_id IS NULL)
     ORDER BY id LIMIT 500";

/// With `org_id`, only that org's rows and those no business could be told apart for
/// (a refused signature, an unknown number).
pub fn for_reference(
    conn: &rusqlite::Connection,
    reference: &str,
    org_id: Option<i64>,
) -> rusqlite::Result<Vec<Row>> {
    // Rows about a call are found through the call (`webhook_ledger_call`), the others
    // through their reference (`webhook_ledger_reference`): together, every row whose
    // reference is `reference`.
    let mut stmt = conn.prepare(FOR_REFERENCE)?;
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
    let mut n = conn.exec_cached(
        "DELETE FROM webhook_ledger WHERE id IN (SELECT id FROM webhook_ledger
             WHERE provider IN ('twilio', 'vapi')
               AND received_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days') LIMIT ?1)",
        [limit],
    )?;
    n += conn.exec_cached(
        "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys
             WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day') LIMIT ?1)",
        [limit],
    )?;
    n += conn.exec_cached(
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
    conn.row_cached(
        "SELECT MAX(received_at) FROM webhook_ledger WHERE provider = ?1",
        [provider],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::{for_reference, insert, Entry};
    use rusqlite::Connection;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_recorded_together_are_written_together_and_none_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = super::Db::open(&dir.path().join("l.db"), &dir.path().join("b")).unwrap();
        let ledger = std::sync::Arc::new(super::Ledger::new(db.clone()));
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    for i in 0..250 {
                        let mut e = entry("twilio", Some(&format!("CA{t}x{i}")), None);
                        e.http_status = 200;
                        ledger.record(e);
                        if i % 50 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        ledger.flush().await;
        let rows: i64 = db
            .query(|c| {
                c.query_row(
                    "SELECT count(DISTINCT reference) FROM webhook_ledger",
                    [],
                    |r| r.get(0),
                )
            })
            .await
            .unwrap();
        assert_eq!(rows, 2000);
        assert_eq!(ledger.dropped(), 0);
    }

    fn entry(provider: &'static str, reference: Option<&str>, org_id: Option<i64>) -> Entry {
        Entry {
            provider,
            route: "/r".into(),
            idempotency_key: None,
            reference: reference.map(str::to_string),
            org_id,
            signature: "valid",
            http_status: 200,
            latency_ms: 1.0,
            error: None,
            remote_ip: None,
        }
    }

    fn ids(conn: &Connection, reference: &str, org: Option<i64>) -> Vec<i64> {
        let rows = for_reference(conn, reference, org).unwrap();
        rows.into_iter().map(|r| r.id).collect()
    }

    fn column(conn: &Connection, sql: &str) -> Vec<Option<i64>> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    const CALLS: &str = "INSERT INTO orgs (name) VALUES ('a'), ('b');
         INSERT INTO calls (id, provider, call_sid, org_id, direction) VALUES (7, 'twilio', 'CA1', 1, 'inbound');
         INSERT INTO calls (id, provider, vapi_call_id, org_id, direction) VALUES (9, 'vapi', 'v1', 1, 'inbound');";

    #[test]
    fn a_call_s_rows_point_at_it_and_a_reference_finds_exactly_its_rows() {
        let conn = super::super::migrations::in_memory();
        conn.execute_batch(CALLS).unwrap();
        let entries = [
            entry("twilio", Some("CA1"), Some(1)), // 1: the call's entry
            entry("twilio", Some("CA1"), None),    // 2: a refused signature
            entry("twilio", Some("SM1"), Some(1)), // 3: a text
            entry("vapi", Some("v1"), Some(1)),    // 4: the AI call
            entry("twilio", Some("CA2"), Some(1)), // 5: a call never stored
            entry("twilio", None, None),           // 6: no reference
            entry("vapi", Some("CA1"), Some(1)),   // 7: not a Vapi call id
            entry("twilio", Some("CA1"), Some(2)), // 8: another org's row
        ];
        for e in &entries {
            insert(&conn, e).unwrap();
        }
        let linked = column(&conn, "SELECT call_id FROM webhook_ledger ORDER BY id");
        let want = [Some(7), Some(7), None, Some(9), None, None, None, Some(7)];
        assert_eq!(linked, want);
        assert_eq!(ids(&conn, "CA1", None), [1, 2, 7, 8]);
        assert_eq!(ids(&conn, "CA1", Some(1)), [1, 2, 7]);
        assert_eq!(ids(&conn, "CA1", Some(2)), [2, 8]);
        assert_eq!(ids(&conn, "SM1", Some(1)), [3]);
        assert_eq!(ids(&conn, "v1", Some(1)), [4]);
        assert_eq!(ids(&conn, "CA2", None), [5]);
        assert!(ids(&conn, "CA9", None).is_empty());
        // Both halves of the lookup are index searches, never a scan of the ledger.
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::FOR_REFERENCE))
            .unwrap()
            .query_map(rusqlite::params!["CA1", 1], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("webhook_ledger_call"), "{plan}");
        assert!(plan.contains("webhook_ledger_reference"), "{plan}");
        assert!(!plan.contains("SCAN"), "{plan}");
    }

    #[test]
    fn migration_7_links_the_rows_already_in_the_ledger_to_their_calls() {
        use super::super::migrations::migrate_to;
        let backups = tempfile::tempdir().unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, backups.path(), 6).unwrap();
        conn.execute_batch(CALLS).unwrap();
        conn.execute_batch(
            "INSERT INTO webhook_ledger (provider, route, reference, signature, http_status)
             VALUES ('twilio', '/voice', 'CA1', 'valid', 200), ('twilio', '/sms', 'SM1', 'valid', 200),
                    ('vapi', '/vapi', 'v1', 'valid', 200), ('twilio', '/voice', 'CA2', 'invalid', 403);",
        )
        .unwrap();
        let report = migrate_to(&mut conn, backups.path(), 7).unwrap();
        assert_eq!((report.from, report.to), (6, 7));
        let linked = column(&conn, "SELECT call_id FROM webhook_ledger ORDER BY id");
        assert_eq!(linked, [Some(7), None, Some(9), None]);
        for (reference, id) in [("CA1", 1), ("SM1", 2), ("v1", 3), ("CA2", 4)] {
            assert_eq!(ids(&conn, reference, None), [id], "{reference}");
        }
    }

    #[test]
    fn pruning_keeps_30_days_of_ledger_and_24_hours_of_idempotency_keys() {
        let conn = super::super::migrations::in_memory();
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
