//! The single writer: one thread owns one connection and applies write jobs in batches,
//! one transaction per batch (group commit). One failing job must not undo the others:
//! a job that runs once ([`Writer::write`]) runs inside its own savepoint; jobs that may
//! run again ([`Writer::write_retryable`], the webhook hot path) share one savepoint (or,
//! first in the transaction, none: the transaction is what undoes them), and if one of
//! them fails they are all undone and run again, each in a savepoint of its own. Writers never
//! wait in SQLite's sleeping busy handler, and a burst of webhooks costs a few commits
//! instead of one each.

use super::{apply_pragmas, Cached, DbError, DB_TIMEOUT};
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

/// Called with the batch's commit result once the batch is committed (or not).
type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

enum Job {
    /// Runs once; returns what to call when the batch's commit is known.
    Once(Box<dyn FnOnce(&Connection) -> Done + Send>),
    /// May run twice (see [`Writer::write_retryable`]).
    Retryable(Box<dyn Retry>),
}

impl Job {
    /// A job that runs once, in its own savepoint, its result sent to `tx`.
    fn once<T, F>(f: F, tx: tokio::sync::oneshot::Sender<Result<T, DbError>>) -> Job
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        Job::Once(Box::new(move |conn| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit| {
                let _ = tx.send(settle(result, commit));
            })
        }))
    }

    /// A job that may run twice, its result going to `reply`.
    fn retryable<T, F>(f: F, reply: Reply<T>) -> Job
    where
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        Job::Retryable(Box::new(Retryable {
            f,
            result: None,
            reply,
        }))
    }
}

/// A job that can be undone and run again: it changes nothing but the database.
trait Retry: Send {
    /// Runs beside the batch's other retryable jobs, without a savepoint of its own.
    /// False when it failed: the caller undoes the group it shares and runs every job of
    /// it again with [`Retry::isolated`].
    fn attempt(&mut self, conn: &Connection) -> bool;
    /// Runs in its own savepoint, keeping its result or its error.
    fn isolated(&mut self, conn: &Connection);
    /// What to call with the batch's commit result.
    fn finish(self: Box<Self>) -> Done;
}

/// Where a job's result goes: to the task awaiting it, or (queued writes) to the log.
enum Reply<T> {
    Caller(tokio::sync::oneshot::Sender<Result<T, DbError>>),
    Log,
}

struct Retryable<F, T> {
    f: F,
    result: Option<Result<T, DbError>>,
    reply: Reply<T>,
}

impl<F, T> Retry for Retryable<F, T>
where
    F: Fn(&Connection) -> rusqlite::Result<T> + Send,
    T: Send + 'static,
{
    fn attempt(&mut self, conn: &Connection) -> bool {
        let f = &self.f;
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(conn))) {
            Ok(Ok(v)) => {
                self.result = Some(Ok(v));
                true
            }
            _ => {
                self.result = None;
                false
            }
        }
    }

    fn isolated(&mut self, conn: &Connection) {
        self.result = Some(in_savepoint(conn, &self.f));
    }

    fn finish(self: Box<Self>) -> Done {
        let result = self.result.unwrap_or(Err(DbError::Cancelled));
        let reply = self.reply;
        Box::new(move |commit| {
            let out = settle(result, commit);
            match reply {
                Reply::Caller(tx) => {
                    let _ = tx.send(out);
                }
                Reply::Log => {
                    if let Err(e) = out {
                        log::error!("background write failed: {e}");
                    }
                }
            }
        })
    }
}

/// A job's result once its batch's commit is known.
fn settle<T>(result: Result<T, DbError>, commit: Result<(), String>) -> Result<T, DbError> {
    match (result, commit) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(DbError::Invalid(format!(
            "the write could not be committed: {e}"
        ))),
        (Err(e), _) => Err(e),
    }
}

const QUEUE: usize = 50_000;
const MAX_BATCH: usize = 1_000;

/// WAL in use (frames × page size) beyond which the WAL is sent back to its start. A
/// restart stalls the writer while it copies what the checkpoint thread has not, then
/// syncs: the less WAL in use, the shorter the stall. Under full load (`benches/wrk.sh`,
/// in-order CallSids, a checkpoint pass every 100 ms) 32 MiB gave webhooks a p99 of 72 ms, 16 MiB 33–43 ms, 8 MiB 21–24 ms and 4 MiB 20 ms.
const WAL_RESTART_BYTES: i64 = 4 << 20;
/// WAL file size at which the writer restarts the WAL itself, without waiting for the
/// checkpoint thread to notice: a reset WAL file is cut back to 32 MiB
/// (`journal_size_limit`), so a file this large means this much of it is in use. This
/// bounds the WAL when checkpoints are slow (a slow disk's fsync) and the writer is not.
const WAL_HARD_BYTES: u64 = 40 << 20;
/// How often the checkpoint thread copies the WAL into the database while frames keep
/// coming. Every restart copies and syncs what the last pass left, stalling the writer;
/// frequent passes leave little. Under full load (`benches/wrk.sh`, in-order CallSids)
/// passes every 100 ms gave webhooks a p99 of 19 ms, every 20 ms 12 ms, every 10 ms 9.7
/// ms, every 5 ms 7.6 ms, every 1 ms 6.5 ms for twice the checkpoint thread's CPU; with
/// random CallSids, which write several times the pages, 57, 34, 32 and 28 ms (100, 10,
/// 5, 1 ms).
const BUSY_PASS_EVERY: std::time::Duration = std::time::Duration::from_millis(5);
/// How often it looks when no new frames came for that long.
const IDLE_PASS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// How long a WAL restart waits for readers still on old frames.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
/// How long the WAL must see no new frames before its file is truncated to nothing.
const IDLE_BEFORE_TRUNCATE: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Writer {
    tx: SyncSender<Job>,
    /// While this lives, the checkpoint thread runs.
    _alive: std::sync::Arc<()>,
    /// The rows each committed batch changed, for the live dashboard (taken once).
    changes: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Vec<Change>>>>,
}

/// A row a committed batch inserted, updated or deleted, in a table the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub table: Watched,
    pub rowid: i64,
}

/// The tables whose changes reach the live dashboard, and the outgoing webhooks' queue
/// (whose rows wake their sender).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Watched {
    Calls,
    CallEvents,
    Messages,
    Voicemails,
    Leads,
    WebhookDeliveries,
}

impl Watched {
    fn from_table(name: &str) -> Option<Watched> {
        Some(match name {
            "calls" => Watched::Calls,
            "call_events" => Watched::CallEvents,
            "messages" => Watched::Messages,
            "voicemails" => Watched::Voicemails,
            "leads" => Watched::Leads,
            "webhook_deliveries" => Watched::WebhookDeliveries,
            _ => return None,
        })
    }
}

/// Committed batches whose changes wait for the live dashboard; beyond this the oldest
/// are dropped (the dashboard then reloads what it shows).
const CHANGE_BATCHES: usize = 1024;

/// What the writer and the checkpoint thread share. Only one of them checkpoints at a
/// time (`lock`), so a restart never fails because the other's pass holds SQLite's
/// checkpoint lock.
#[derive(Default)]
struct Checkpoints {
    lock: std::sync::Mutex<()>,
    /// Set by the checkpoint thread when the WAL has grown past [`WAL_RESTART_BYTES`];
    /// the writer then restarts the WAL between two batches and clears it.
    restart_wanted: std::sync::atomic::AtomicBool,
}

impl Checkpoints {
    fn exclusive(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// [`Checkpoints::exclusive`], unless the other thread holds it now.
    fn try_exclusive(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        match self.lock.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// Who checkpoints the WAL: a setting (`SWITCHBOARD_WAL_CHECKPOINTS`), so it lives in
/// `config`.
pub use crate::config::Checkpointing;

impl Writer {
    pub fn start(path: &Path, checkpointing: Checkpointing) -> Result<Writer, DbError> {
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
        // Rows changed in the open batch, sent on once it commits (a rolled-back job's rows
        // are sent too: the dashboard then finds nothing new, which is harmless).
        let touched = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Change>::new()));
        let hook = touched.clone();
        conn.update_hook(Some(
            move |_: rusqlite::hooks::Action, _: &str, table: &str, rowid: i64| {
                if let Some(table) = Watched::from_table(table) {
                    hook.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(Change { table, rowid });
                }
            },
        ));
        let (changes_tx, changes_rx) = tokio::sync::mpsc::channel(CHANGE_BATCHES);
        let feed = Feed {
            touched,
            tx: changes_tx,
        };
        let spawn_error =
            |e: std::io::Error| DbError::Invalid(format!("cannot start a database thread: {e}"));
        let shared = std::sync::Arc::new(Checkpoints::default());
        let for_writer = shared.clone();
        let wal = super::wal_path(path);
        let own_checkpoints = checkpointing == Checkpointing::Appliance;
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || {
                run(
                    conn,
                    rx,
                    own_checkpoints.then_some((&*wal, &*for_writer)),
                    &feed,
                )
            })
            .map_err(spawn_error)?;
        let alive = std::sync::Arc::new(());
        let weak = std::sync::Arc::downgrade(&alive);
        if own_checkpoints {
            std::thread::Builder::new()
                .name("db-checkpoint".into())
                .spawn(move || checkpoint(checkpointer, weak, &shared))
                .map_err(spawn_error)?;
        }
        Ok(Writer {
            tx,
            _alive: alive,
            changes: std::sync::Mutex::new(Some(changes_rx)),
        })
    }

    /// The feed of committed changes to the watched tables; `None` once taken.
    pub fn take_changes(&self) -> Option<tokio::sync::mpsc::Receiver<Vec<Change>>> {
        self.changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Runs `f` in the writer's transaction, in a savepoint of its own, and returns its
    /// result once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        self.send(Job::once(f, otx))?;
        Self::wait(orx).await
    }

    /// [`Writer::write`] for a job that may run twice, so it needs no savepoint of its
    /// own (copying every page it touches, per job, was a tenth of the hot path): it
    /// shares one with the batch's other retryable jobs (none when they come first in the
    /// transaction, which is then what undoes them), and when one of them fails they are
    /// all undone and run again, each in its own savepoint. `f` must change
    /// nothing but the database.
    pub async fn write_retryable<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        self.send(Job::retryable(f, Reply::Caller(otx)))?;
        Self::wait(orx).await
    }

    fn send(&self, job: Job) -> Result<(), DbError> {
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => DbError::Timeout,
            TrySendError::Disconnected(_) => DbError::Cancelled,
        })
    }

    async fn wait<T>(
        orx: tokio::sync::oneshot::Receiver<Result<T, DbError>>,
    ) -> Result<T, DbError> {
        match tokio::time::timeout(DB_TIMEOUT, orx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(DbError::Cancelled),
            Err(_) => Err(DbError::Timeout),
        }
    }

    /// Queues `f` without waiting for it (the webhook ledger): a retryable job whose
    /// error is logged. Returns false when the queue is full and the job was dropped.
    pub fn submit<F>(&self, f: F) -> bool
    where
        F: Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
    {
        self.send(Job::retryable(f, Reply::Log)).is_ok()
    }
}

/// One batch's jobs: those done (waiting for the commit) and the retryable ones run in
/// the open shared group.
#[derive(Default)]
struct Batch {
    done: Vec<Done>,
    group: Vec<Box<dyn Retry>>,
}

impl Batch {
    fn len(&self) -> usize {
        self.done.len() + self.group.len()
    }

    /// Whether the group (opened or about to be) is its transaction's first work: no job
    /// is done before it, and none is done while a group is open. Such a group has no
    /// savepoint, which would copy every page it touches into a sub-journal (4 % of the
    /// webhook hot path): rolling the whole transaction back undoes it.
    fn group_first(&self) -> bool {
        self.done.is_empty()
    }

    fn run(&mut self, conn: &Connection, job: Job) {
        match job {
            Job::Once(f) => {
                // Undoing the group must never undo a job that cannot run again.
                self.close_group(conn);
                self.done.push(f(conn));
            }
            Job::Retryable(mut job) => {
                if self.group.is_empty()
                    && !self.group_first()
                    && conn.exec_cached("SAVEPOINT retryable", []).is_err()
                {
                    return self.alone(conn, job);
                }
                let ok = job.attempt(conn);
                self.group.push(job);
                if !ok {
                    self.retry_group(conn);
                }
            }
        }
    }

    /// Undoes every job of the group and runs each again in its own savepoint.
    fn retry_group(&mut self, conn: &Connection) {
        if self.group_first() {
            // Nothing else is in the transaction: undo it all and begin again. Should the
            // new transaction not begin, each job commits on its own (`run` sees no
            // transaction left to commit).
            let _ = conn.execute_batch("ROLLBACK");
            if let Err(e) = conn.exec_cached("BEGIN IMMEDIATE", []) {
                log::error!("the database writer cannot begin a transaction again: {e}");
            }
        } else {
            let _ = conn.execute_batch("ROLLBACK TO retryable; RELEASE retryable");
        }
        for job in std::mem::take(&mut self.group) {
            self.alone(conn, job);
        }
    }

    /// Runs a retryable job in its own savepoint.
    fn alone(&mut self, conn: &Connection, mut job: Box<dyn Retry>) {
        job.isolated(conn);
        self.done.push(job.finish());
    }

    fn close_group(&mut self, conn: &Connection) {
        if self.group.is_empty() {
            return;
        }
        if !self.group_first() && conn.exec_cached("RELEASE retryable", []).is_err() {
            return self.retry_group(conn);
        }
        self.done
            .extend(self.group.drain(..).map(|job| job.finish()));
    }

    /// Runs a job alone, outside any batch transaction.
    fn isolated(&mut self, conn: &Connection, job: Job) {
        match job {
            Job::Once(f) => self.done.push(f(conn)),
            Job::Retryable(job) => self.alone(conn, job),
        }
    }

    fn notify(self, commit: Result<(), String>) {
        for d in self.done {
            d(commit.clone());
        }
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

/// `PRAGMA wal_checkpoint(mode)`: (whether it was kept from finishing by another
/// connection, frames in the WAL).
fn wal_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(bool, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get::<_, i64>(0)? != 0, r.get(1)?))
    })
}

/// Keeps the WAL bounded without stalling writes. A PASSIVE checkpoint copies what it can
/// (never blocking anyone): every [`BUSY_PASS_EVERY`] while new frames keep coming, every
/// [`IDLE_PASS_EVERY`] otherwise. Under continuous load that never lets the WAL start
/// over — the writer keeps appending while the copy runs — so once it holds more than
/// [`WAL_RESTART_BYTES`] the writer is asked to restart it between two batches (a RESTART
/// right after a PASSIVE pass has only the last moments left to copy and sync). After
/// [`IDLE_BEFORE_TRUNCATE`] without new frames the file is truncated, so a busy hour's WAL
/// does not stay on disk. Ends with the [`Writer`].
fn checkpoint(conn: Connection, alive: std::sync::Weak<()>, shared: &Checkpoints) {
    use std::sync::atomic::Ordering::Relaxed;
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    let mut last = (0, std::time::Instant::now());
    while alive.upgrade().is_some() {
        let busy = last.1.elapsed() < IDLE_PASS_EVERY;
        std::thread::sleep(if busy {
            BUSY_PASS_EVERY
        } else {
            IDLE_PASS_EVERY
        });
        let guard = shared.exclusive();
        let frames = match wal_checkpoint(&conn, "PASSIVE") {
            Ok((_, frames)) => frames,
            Err(e) => {
                log::warn!("WAL checkpoint failed: {e}");
                continue;
            }
        };
        if frames * page > WAL_RESTART_BYTES {
            shared.restart_wanted.store(true, Relaxed);
        }
        if frames != last.0 {
            last = (frames, std::time::Instant::now());
        } else if frames > 0 && last.1.elapsed() >= IDLE_BEFORE_TRUNCATE {
            match wal_checkpoint(&conn, "TRUNCATE") {
                Ok((false, 0)) => last = (0, std::time::Instant::now()),
                Ok(_) => {}
                Err(e) => log::warn!("WAL truncation failed: {e}"),
            }
        }
        drop(guard);
    }
}

/// The writer's loop; `checkpoints` (the WAL file and what it shares with the checkpoint
/// thread) when the appliance checkpoints itself.
/// Where the writer sends the rows a batch changed once it commits.
struct Feed {
    touched: std::sync::Arc<std::sync::Mutex<Vec<Change>>>,
    tx: tokio::sync::mpsc::Sender<Vec<Change>>,
}

impl Feed {
    fn committed(&self, ok: bool) {
        let changed = std::mem::take(&mut *self.touched.lock().unwrap_or_else(|p| p.into_inner()));
        if ok && !changed.is_empty() {
            // Full (nobody reads, or far behind): dropped, never waited for.
            let _ = self.tx.try_send(changed);
        }
    }
}

fn run(
    conn: Connection,
    rx: Receiver<Job>,
    checkpoints: Option<(&Path, &Checkpoints)>,
    feed: &Feed,
) {
    use std::sync::atomic::Ordering::Relaxed;
    while let Ok(first) = rx.recv() {
        let mut batch = Batch::default();
        if let Err(e) = conn.exec_cached("BEGIN IMMEDIATE", []) {
            let msg = e.to_string();
            log::error!("the database writer cannot begin a transaction: {msg}");
            // The job still runs (autocommit) rather than being lost.
            batch.isolated(&conn, first);
            feed.committed(true);
            batch.notify(Ok(()));
            continue;
        }
        batch.run(&conn, first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.run(&conn, job),
                Err(_) => break,
            }
        }
        batch.close_group(&conn);
        // No transaction is left when one could not begin again after a rollback
        // (`Batch::retry_group`): each job then committed, or failed, on its own.
        let commit = if conn.is_autocommit() {
            Ok(())
        } else {
            conn.exec_cached("COMMIT", [])
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        feed.committed(commit.is_ok());
        batch.notify(commit);
        // Between batches nothing of ours is open: send the WAL back to its start when the
        // checkpoint thread asks, or at once when the file has grown past the hard bound.
        // A RESTART right after a PASSIVE pass has little left to copy, so it is short;
        // jobs queue meanwhile and go in the next batch. While a pass is still copying,
        // the writer does not wait for it but tries again after its next batch, unless
        // the WAL is too big.
        let Some((wal, shared)) = checkpoints else {
            continue;
        };
        let too_big = || std::fs::metadata(wal).is_ok_and(|m| m.len() >= WAL_HARD_BYTES);
        let guard = if too_big() {
            Some(shared.exclusive())
        } else if shared.restart_wanted.load(Relaxed) {
            shared.try_exclusive()
        } else {
            None
        };
        if let Some(_guard) = guard {
            // Readers get a moment to finish, not five seconds: if one is still busy the
            // restart is tried again after the next batch.
            let _ = conn.busy_timeout(RESTART_WAIT);
            match wal_checkpoint(&conn, "RESTART") {
                Ok((false, _)) => shared.restart_wanted.store(false, Relaxed),
                Ok((true, _)) => {}
                Err(e) => log::warn!("WAL restart failed: {e}"),
            }
            let _ = conn.busy_timeout(std::time::Duration::from_millis(5000));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use tokio::sync::oneshot;

    type Reply = oneshot::Receiver<Result<(), DbError>>;

    fn retryable(
        runs: &Arc<AtomicUsize>,
        f: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> (Job, Reply) {
        let (tx, rx) = oneshot::channel();
        let runs = runs.clone();
        let f = move |c: &Connection| {
            runs.fetch_add(1, SeqCst);
            f(c)
        };
        (Job::retryable(f, super::Reply::Caller(tx)), rx)
    }

    fn once(sql: &'static str) -> (Job, Reply) {
        let (tx, rx) = oneshot::channel();
        (Job::once(move |c| c.execute_batch(sql), tx), rx)
    }

    fn insert(v: &'static str) -> impl Fn(&Connection) -> rusqlite::Result<()> {
        move |c| c.execute("INSERT INTO t (v) VALUES (?1)", [v]).map(|_| ())
    }

    /// Inserts each value in turn; fails at the first already there.
    fn inserts(vs: [&'static str; 2]) -> impl Fn(&Connection) -> rusqlite::Result<()> {
        move |c| vs.iter().try_for_each(|v| insert(v)(c))
    }

    /// Runs `jobs` as one batch in a table `t (v UNIQUE)` and commits it: each job's
    /// result, and the values kept.
    fn commit_batch(jobs: impl IntoIterator<Item = (Job, Reply)>) -> (Vec<bool>, Vec<String>) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT UNIQUE); BEGIN IMMEDIATE")
            .unwrap();
        let (jobs, replies): (Vec<Job>, Vec<Reply>) = jobs.into_iter().unzip();
        let mut batch = Batch::default();
        for job in jobs {
            batch.run(&conn, job);
        }
        batch.close_group(&conn);
        assert!(!conn.is_autocommit(), "the batch's transaction is open");
        conn.execute_batch("COMMIT").unwrap();
        batch.notify(Ok(()));
        let results = replies
            .into_iter()
            .map(|mut r| r.try_recv().unwrap().is_ok())
            .collect();
        let kept = conn
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (results, kept)
    }

    fn counts(runs: &[Arc<AtomicUsize>]) -> Vec<usize> {
        runs.iter().map(|r| r.load(SeqCst)).collect()
    }

    /// Retryable jobs share one savepoint; when one fails, the others keep their changes
    /// (run again, each in its own savepoint), the failed one keeps none of its own, and
    /// a job that ran once is never undone.
    #[test]
    fn a_failing_job_undoes_its_own_changes_and_no_one_else_s() {
        let runs: Vec<Arc<AtomicUsize>> = (0..5).map(|_| Arc::default()).collect();
        let (results, kept) = commit_batch([
            once("INSERT INTO t (v) VALUES ('a')"),
            retryable(&runs[0], inserts(["b", "c"])),
            // Its 'd' must not survive its failure.
            retryable(&runs[1], inserts(["d", "b"])),
            retryable(&runs[2], insert("e")),
            retryable(&runs[3], |c| {
                insert("f")(c)?;
                panic!("a job panicked");
            }),
            once("INSERT INTO t (v) VALUES ('g')"),
            retryable(&runs[4], insert("h")),
        ]);
        assert_eq!(results, [true, true, false, true, false, true, true]);
        assert_eq!(kept, ["a", "b", "c", "e", "g", "h"]);
        // The first two retryable jobs ran again when the second failed, the next two
        // when the fourth panicked; the last, in a new shared savepoint, ran once.
        assert_eq!(counts(&runs), [2, 2, 2, 2, 1]);
    }

    /// First in the transaction, the group has no savepoint: when one of its jobs fails
    /// the whole transaction is rolled back and begun again, and every job keeps what it
    /// would keep with a savepoint.
    #[test]
    fn a_failing_job_first_in_the_transaction_undoes_its_own_changes_only() {
        let runs: Vec<Arc<AtomicUsize>> = (0..5).map(|_| Arc::default()).collect();
        let (results, kept) = commit_batch([
            retryable(&runs[0], inserts(["b", "c"])),
            retryable(&runs[1], inserts(["d", "b"])),
            retryable(&runs[2], insert("e")),
            once("INSERT INTO t (v) VALUES ('g')"),
            retryable(&runs[3], insert("h")),
            retryable(&runs[4], inserts(["i", "e"])),
        ]);
        assert_eq!(results, [true, false, true, true, true, false]);
        assert_eq!(kept, ["b", "c", "e", "g", "h"]);
        // The first two ran again after the rollback; the third, in a savepoint of the
        // new transaction, once; the last two again when the last failed.
        assert_eq!(counts(&runs), [2, 2, 1, 2, 2]);
    }
}
