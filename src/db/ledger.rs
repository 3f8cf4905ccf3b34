//! The webhook ledger (SPEC §2): one row per inbound webhook, written by a background
//! thread in batches so a burst of webhooks costs one transaction, not one per request.
//! A full queue drops rows (counted) rather than slowing webhooks down.

use super::Db;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;

const QUEUE: usize = 20_000;
const BATCH: usize = 1_000;

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

enum Msg {
    Entry(Box<Entry>),
    Flush(std::sync::mpsc::Sender<()>),
}

pub struct Ledger {
    tx: SyncSender<Msg>,
    dropped: AtomicU64,
}

impl Ledger {
    /// Starts the writer thread.
    pub fn start(db: Db) -> Ledger {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer(db, rx))
            .expect("the ledger writer thread starts");
        Ledger {
            tx,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn record(&self, entry: Entry) {
        match self.tx.try_send(Msg::Entry(Box::new(entry))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until everything recorded so far is in the database.
    pub async fn flush(&self) {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Flush(done_tx)).is_err() {
            return;
        }
        let _ = tokio::task::spawn_blocking(move || done_rx.recv_timeout(Duration::from_secs(10)))
            .await;
    }
}

fn writer(db: Db, rx: Receiver<Msg>) {
    while let Ok(first) = rx.recv() {
        let mut entries = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Entry(e) => entries.push(e),
                Msg::Flush(done) => flushes.push(done),
            }
            if entries.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !entries.is_empty() {
            if let Err(e) = write(&db, &entries) {
                log::error!("could not write {} webhook ledger rows: {e}", entries.len());
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn write(db: &Db, entries: &[Box<Entry>]) -> Result<(), super::DbError> {
    let mut conn = db.conn()?;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO webhook_ledger (provider, route, idempotency_key, reference, org_id, signature, http_status,
                 latency_ms, error, remote_ip)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for e in entries {
            stmt.execute(rusqlite::params![
                e.provider,
                e.route,
                e.idempotency_key,
                e.reference,
                e.org_id,
                e.signature,
                e.http_status,
                e.latency_ms,
                e.error,
                e.remote_ip
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
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

pub fn for_reference(conn: &rusqlite::Connection, reference: &str) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare(
        "SELECT id, provider, route, signature, http_status, latency_ms, error, received_at FROM webhook_ledger
         WHERE reference = ?1 ORDER BY id LIMIT 500",
    )?;
    let rows = stmt.query_map([reference], |r| {
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

/// Retention (SPEC §9.4): ledger 30 days, idempotency keys 24 h, rate-limit aggregates 30 days.
pub fn prune(conn: &rusqlite::Connection) -> rusqlite::Result<usize> {
    let mut n = conn.execute("DELETE FROM webhook_ledger WHERE received_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days')", [])?;
    n += conn.execute("DELETE FROM idempotency_keys WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')", [])?;
    n += conn.execute("DELETE FROM rate_limit_violations WHERE minute < strftime('%Y-%m-%dT%H:%MZ', 'now', '-30 days')", [])?;
    Ok(n)
}
