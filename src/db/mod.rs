//! Storage: the r2d2 pool over SQLite, the pragmas every connection gets, the helpers that
//! run blocking DB work off the async executor (`run`/`query` on the pool for reads and API
//! transactions, `write` on the single batching writer for hot-path writes), and one
//! plain-SQL module per table or aggregate. Functions take `&Connection` so they compose
//! into transactions. Their row structs are what a query reads, not what the API shows:
//! the JSON views are in `http::api::views`.

pub mod agents;
pub mod audit;
pub mod backup;
pub mod blocklist;
pub mod callbacks;
pub mod callflows;
pub mod calls;
pub mod contacts;
pub mod flags;
pub mod idempotency;
pub mod leads;
pub mod ledger;
pub mod messages;
pub mod migrations;
pub mod monitoring;
pub mod numbers;
pub mod onboarding;
pub mod optouts;
pub mod orgs;
pub mod outbox;
pub mod provider_accounts;
pub mod recordings;
pub mod sagas;
pub mod sessions;
pub mod settings;
pub mod snapshot;
pub mod todo;
pub mod tokens;
pub mod totp;
pub mod users;
pub mod violations;
pub mod voicemails;
pub mod webhooks;
pub mod writer;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// The domain's closed sets are stored as their text; reading a value outside the set is
/// an error naming it, never a silent default.
macro_rules! text_column {
    ($($t:ty),+ $(,)?) => {$(
        impl rusqlite::types::ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $t {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = v.as_str()?;
                <$t>::parse(text).map_err(|e| rusqlite::types::FromSqlError::Other(e.into()))
            }
        }
    )+};
}

text_column!(
    crate::domain::textback::Outcome,
    crate::domain::state::Consent,
    crate::domain::state::TextbackState,
    crate::domain::state::TranscriptionStatus,
    crate::domain::state::Direction,
    crate::domain::state::MessageKind,
    crate::domain::state::CallStatus,
    crate::domain::state::MessageStatus,
    crate::domain::NumberRole,
    crate::domain::NumberHandler,
    crate::domain::NumberOrigin,
    crate::domain::NumberStatus,
    crate::domain::UserRole,
    crate::domain::onboarding::State,
    outbox::Channel,
    outbox::Event,
);

/// In-memory caches of stored settings (flags, call flows) are invalidated by every write
/// through the API; a change made outside this process (a `restore`, manual SQL) shows up
/// after at most this long.
pub const CACHE_MAX_AGE: Duration = Duration::from_secs(5);

/// SPEC §6.4: a DB operation that takes longer than this answers 503 instead of hanging.
pub const DB_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("the database operation took longer than {} s", DB_TIMEOUT.as_secs())]
    Timeout,
    #[error("the database task was cancelled")]
    Cancelled,
    #[error(transparent)]
    Migration(#[from] migrations::MigrationError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Every pooled connection runs this first. `busy_timeout` comes first so the following
/// pragmas wait for a concurrent writer instead of failing with SQLITE_BUSY; WAL lets
/// readers run beside the one writer; NORMAL is durable across application crashes in WAL
/// mode; a WAL file that is reset is truncated to 32 MiB (`journal_size_limit`; see
/// `writer` for how the WAL is kept from growing under load); foreign keys are off by
/// default in SQLite and must be enabled per connection. Statements are prepared once per
/// connection ([`Cached`]); the cache holds every statement the webhooks and the
/// background jobs run, so none is compiled again under load.
pub fn apply_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(
        "PRAGMA busy_timeout = 5000;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA journal_size_limit = 33554432;
         PRAGMA foreign_keys = ON;",
    )
}

/// The handle every part of the app shares: a pool plus where the file lives.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    path: PathBuf,
    writer: std::sync::Arc<writer::Writer>,
}

impl Db {
    /// Creates the data dir if needed, migrates the database (writing a backup first when
    /// an existing database is upgraded) and opens the pool.
    pub fn open(path: &Path, backups_dir: &Path) -> Result<(Db, migrations::Report), DbError> {
        Db::open_with(path, backups_dir, writer::Checkpointing::Appliance)
    }

    /// [`Db::open`], with the WAL checkpointed by the appliance or left to a replicator.
    pub fn open_with(
        path: &Path,
        backups_dir: &Path,
        checkpointing: writer::Checkpointing,
    ) -> Result<(Db, migrations::Report), DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let report = {
            let mut conn = Connection::open(path)?;
            apply_pragmas(&conn)?;
            migrations::migrate(&mut conn, backups_dir)?
        };
        let manager = SqliteConnectionManager::file(path).with_init(|c| {
            // A transaction that reads and then writes must hold the write lock from its
            // start: a deferred one fails with SQLITE_BUSY (no waiting) when the writer
            // thread committed between its read and its write.
            c.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
            apply_pragmas(c)
        });
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .connection_timeout(DB_TIMEOUT)
            .build(manager)?;
        let writer = std::sync::Arc::new(writer::Writer::start(path, checkpointing)?);
        Ok((
            Db {
                pool,
                path: path.to_path_buf(),
                writer,
            },
            report,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A pooled connection for synchronous callers (CLI commands, start-up).
    pub fn conn(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs blocking DB work on the blocking thread pool with the §6.4 timeout. The only
    /// way async code touches SQLite: no connection is ever held across an `.await`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        });
        match tokio::time::timeout(DB_TIMEOUT, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_join)) => Err(DbError::Cancelled.into()),
            Err(_elapsed) => Err(DbError::Timeout.into()),
        }
    }

    /// The rows each committed write batch changed in the tables the dashboard shows,
    /// for its live updates; `None` once taken (there is one reader).
    pub fn take_changes(&self) -> Option<tokio::sync::mpsc::Receiver<Vec<writer::Change>>> {
        self.writer.take_changes()
    }

    /// [`Db::run`] for plain SQL work: rusqlite errors become [`DbError`].
    pub async fn query<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |c| f(c).map_err(DbError::from)).await
    }

    /// Hot-path writes: run by the single writer thread, batched with other writes into
    /// one transaction (see [`writer`]). `f` runs inside a savepoint, so on error its own
    /// changes are undone; it must not open a transaction itself.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.writer.write(f).await
    }

    /// [`Db::write`] for work that may run twice and changes nothing but the database:
    /// it shares a savepoint with the batch's other such jobs (see
    /// [`writer::Writer::write_retryable`]). The webhook hot path.
    pub async fn write_retryable<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.writer.write_retryable(f).await
    }

    /// Queues a write without waiting for it; false when the queue is full. Like
    /// [`Db::write_retryable`], `f` may run twice.
    pub fn submit<F>(&self, f: F) -> bool
    where
        F: Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
    {
        self.writer.submit(f)
    }

    /// Pool statistics for health reporting.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}

/// `execute` and `query_row` through the connection's prepared-statement cache: hot-path
/// statements are parsed once per connection instead of on every webhook.
pub trait Cached {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row_cached<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row_cached<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The WAL file SQLite keeps beside the database at `db_path`.
pub fn wal_path(db_path: &Path) -> PathBuf {
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// The database's size on disk with its WAL (0 for a file not there yet).
pub fn size_on_disk(db_path: &Path) -> u64 {
    [db_path.to_path_buf(), wal_path(db_path)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The current UTC time in the storage format (`2026-11-21T23:16:01.123Z`).
pub fn now() -> String {
    format_time(chrono::Utc::now())
}

pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// True when a rusqlite error is a UNIQUE/PRIMARY KEY violation.
pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn the_size_on_disk_counts_the_database_and_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("switchboard.db");
        assert_eq!(super::wal_path(&db), dir.path().join("switchboard.db-wal"));
        assert_eq!(super::size_on_disk(&db), 0);
        std::fs::write(&db, [0u8; 4096]).unwrap();
        std::fs::write(super::wal_path(&db), [0u8; 1000]).unwrap();
        assert_eq!(super::size_on_disk(&db), 5096);
    }

    /// An API handler reads, then writes, in one transaction while the writer thread
    /// commits webhooks: the handler's write must wait its turn, not fail.
    #[test]
    fn a_read_then_write_transaction_survives_a_commit_in_between() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = super::Db::open(&dir.path().join("t.db"), &dir.path().join("b")).unwrap();
        let mut conn = db.conn().unwrap();
        conn.execute("INSERT INTO settings (key, value) VALUES ('a', '1')", [])
            .unwrap();
        let tx = conn.transaction().unwrap();
        let _: String = tx
            .query_row("SELECT value FROM settings WHERE key = 'a'", [], |r| {
                r.get(0)
            })
            .unwrap();
        // Another connection commits between the read and the write.
        let other = {
            let db = db.clone();
            std::thread::spawn(move || {
                db.conn()
                    .unwrap()
                    .execute("INSERT INTO settings (key, value) VALUES ('b', '2')", [])
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        tx.execute("UPDATE settings SET value = '3' WHERE key = 'a'", [])
            .expect("the write after the read");
        tx.commit().unwrap();
        other.join().unwrap().expect("the other commit, after ours");
    }

    #[test]
    fn times_bound_from_rust_are_written_exactly_as_the_columns_defaults_write_them() {
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 23, 16, 1)
            .unwrap()
            + chrono::Duration::milliseconds(7);
        let ours = super::format_time(t);
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let sqlite: String = conn
            .query_row(
                "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', '2026-11-21 23:16:01.007')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ours, "2026-11-21T23:16:01.007Z");
        assert_eq!(ours, sqlite);
    }
}
