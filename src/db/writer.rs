//! The single writer: one thread owns one connection and applies write jobs in batches,
//! one transaction per batch (group commit), each job inside its own savepoint so one
//! failing job does not undo the others. Writers never wait in SQLite's sleeping busy
//! handler, and a burst of webhooks costs a few commits instead of one each.

use super::{apply_pragmas, DbError, DB_TIMEOUT};
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

/// Called with the batch's commit result once the batch is committed (or not).
type Done = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Done + Send>;

const QUEUE: usize = 50_000;
const MAX_BATCH: usize = 1_000;

/// WAL in use (frames × page size) beyond which the WAL is sent back to its start.
const WAL_RESTART_BYTES: i64 = 16 << 20;
/// How long a WAL restart waits for readers still on old frames.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
/// How long the WAL must see no new frames before its file is truncated to nothing.
const IDLE_BEFORE_TRUNCATE: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Writer {
    tx: SyncSender<Job>,
    /// While this lives, the checkpoint thread runs.
    _alive: std::sync::Arc<()>,
}

/// Set by the checkpoint thread when the WAL has grown past [`WAL_RESTART_BYTES`]; the
/// writer then restarts the WAL between two batches.
type RestartWanted = std::sync::Arc<std::sync::atomic::AtomicBool>;

impl Writer {
    pub fn start(path: &Path) -> Result<Writer, DbError> {
        let conn = Connection::open(path)?;
        apply_pragmas(&conn)?;
        // Checkpoints copy WAL pages into the database file; run by the committing
        // connection they would stall every write. A checkpoint thread does them instead.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        // Every job runs in a savepoint, whose sub-journal keeps the original of each page
        // the job changes. On disk that is a temp file written (and opened and closed) per
        // batch — a sixth of the writer's time under load. In memory it costs a few pages
        // per job, dropped when the job's savepoint is released.
        conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
        let checkpointer = Connection::open(path)?;
        apply_pragmas(&checkpointer)?;
        let (tx, rx) = sync_channel(QUEUE);
        let spawn_error =
            |e: std::io::Error| DbError::Invalid(format!("cannot start a database thread: {e}"));
        let restart = RestartWanted::default();
        let wanted = restart.clone();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, rx, wanted))
            .map_err(spawn_error)?;
        let alive = std::sync::Arc::new(());
        let weak = std::sync::Arc::downgrade(&alive);
        std::thread::Builder::new()
            .name("db-checkpoint".into())
            .spawn(move || checkpoint(checkpointer, weak, restart))
            .map_err(spawn_error)?;
        Ok(Writer { tx, _alive: alive })
    }

    /// Runs `f` in the writer's transaction and returns its result once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        let job: Job = Box::new(move |conn| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit| {
                let out = match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(DbError::Invalid(format!(
                        "the write could not be committed: {e}"
                    ))),
                    (Err(e), _) => Err(e),
                };
                let _ = otx.send(out);
            })
        });
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => DbError::Timeout,
            TrySendError::Disconnected(_) => DbError::Cancelled,
        })?;
        match tokio::time::timeout(DB_TIMEOUT, orx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(DbError::Cancelled),
            Err(_) => Err(DbError::Timeout),
        }
    }

    /// Queues `f` without waiting for it (the webhook ledger). Returns false when the
    /// queue is full and the job was dropped. `f` runs without a savepoint of its own, so
    /// it should be a single statement (which SQLite applies atomically).
    pub fn submit<F>(&self, f: F) -> bool
    where
        F: FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    {
        let job: Job = Box::new(move |conn| {
            if let Err(e) = f(conn) {
                log::error!("background write failed: {e}");
            }
            Box::new(|commit| {
                if let Err(e) = commit {
                    log::error!("background write could not be committed: {e}");
                }
            })
        });
        self.tx.try_send(job).is_ok()
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, DbError> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)));
    match result {
        Ok(Ok(v)) => {
            conn.prepare_cached("RELEASE job")?.execute([])?;
            Ok(v)
        }
        Ok(Err(e)) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e.into())
        }
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(DbError::Invalid(
                "a database job panicked; its changes were rolled back".into(),
            ))
        }
    }
}

/// `PRAGMA wal_checkpoint(mode)`: (frames in the WAL, frames copied to the database).
fn wal_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

/// Keeps the WAL bounded without stalling writes. Ten times a second a PASSIVE checkpoint
/// copies what it can (never blocking anyone). Under continuous load that never lets the
/// WAL start over — the writer keeps appending while the copy runs — so once it holds
/// more than [`WAL_RESTART_BYTES`] the writer is asked to restart it between two batches
/// (a RESTART right after a PASSIVE pass has only the last moments left to copy). After
/// [`IDLE_BEFORE_TRUNCATE`] without new frames the file is truncated, so a busy hour's WAL
/// does not stay on disk. Ends with the [`Writer`].
fn checkpoint(conn: Connection, alive: std::sync::Weak<()>, restart: RestartWanted) {
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    let mut last = (0, std::time::Instant::now());
    while alive.upgrade().is_some() {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let frames = match wal_checkpoint(&conn, "PASSIVE") {
            Ok((frames, _)) => frames,
            Err(e) => {
                log::warn!("WAL checkpoint failed: {e}");
                continue;
            }
        };
        if frames * page > WAL_RESTART_BYTES {
            restart.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if frames != last.0 {
            last = (frames, std::time::Instant::now());
        } else if frames > 0 && last.1.elapsed() >= IDLE_BEFORE_TRUNCATE {
            match wal_checkpoint(&conn, "TRUNCATE") {
                Ok((0, _)) => last = (0, std::time::Instant::now()),
                Ok(_) => {}
                Err(e) => log::warn!("WAL truncation failed: {e}"),
            }
        }
    }
}

fn run(conn: Connection, rx: Receiver<Job>, restart: RestartWanted) {
    while let Ok(first) = rx.recv() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            log::error!("the database writer cannot begin a transaction: {msg}");
            // The job still runs (autocommit) rather than being lost.
            first(&conn)(Ok(()));
            continue;
        }
        let mut done = vec![first(&conn)];
        while done.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => done.push(job(&conn)),
                Err(_) => break,
            }
        }
        let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for d in done {
            d(commit.clone());
        }
        // Between batches nothing of ours is open: send the WAL back to its start. This
        // waits for readers still on old frames (busy_timeout) and copies what the last
        // PASSIVE pass left, so it is short; jobs queue meanwhile and go in the next batch.
        if restart.swap(false, std::sync::atomic::Ordering::Relaxed) {
            // Readers get a moment to finish, not five seconds: if one is still busy the
            // restart is simply asked for again at the next pass.
            let _ = conn.busy_timeout(RESTART_WAIT);
            if let Err(e) = wal_checkpoint(&conn, "RESTART") {
                log::warn!("WAL restart failed: {e}");
            }
            let _ = conn.busy_timeout(std::time::Duration::from_millis(5000));
        }
    }
}
