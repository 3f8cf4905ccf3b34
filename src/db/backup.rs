//! Online backup and checked restore (SPEC §9.4), both through SQLite's backup API so they
//! are safe while the appliance is serving.

use super::snapshot::{backup_connection, integrity_ok};
use super::{migrations, provider_accounts, settings, DbError};
use crate::crypto::SecretKey;
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// `switchboard backup FILE [--force]`: snapshot the database at `db_path` into `dest`;
/// an existing `dest` is replaced only with `overwrite`.
pub fn backup_to(db_path: &Path, dest: &Path, overwrite: bool) -> Result<u32, DbError> {
    if dest.exists() && !overwrite {
        return Err(DbError::Invalid(format!(
            "{} already exists: name another file, or pass --force to replace it",
            dest.display()
        )));
    }
    let version = backup_file(db_path, dest)?;
    // Recorded for `doctor` ("backup recent"); the copy is made even if this cannot be.
    let noted = Connection::open(db_path).and_then(|c| {
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        let at = super::format_time(chrono::Utc::now());
        let file = std::fs::canonicalize(dest).unwrap_or_else(|_| dest.to_path_buf());
        settings::set(
            &c,
            LAST_BACKUP,
            &serde_json::json!({ "at": at, "file": file.display().to_string() }).to_string(),
        )
    });
    if let Err(e) = noted {
        log::warn!("backed up, but could not note the backup's time: {e}");
    }
    Ok(version)
}

/// The settings key that holds the last `switchboard backup`: `{"at","file"}`.
const LAST_BACKUP: &str = "backup.last";

/// When the last `switchboard backup` finished, and the file it wrote.
pub fn last_backup(conn: &Connection) -> rusqlite::Result<Option<(String, String)>> {
    let Some(raw) = settings::get(conn, LAST_BACKUP)? else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
    Ok(v["at"].as_str().map(|at| {
        (
            at.to_string(),
            v["file"].as_str().unwrap_or_default().to_string(),
        )
    }))
}

/// Snapshots the database at `db_path` into `dest` (replacing it).
pub fn backup_file(db_path: &Path, dest: &Path) -> Result<u32, DbError> {
    if !db_path.exists() {
        return Err(DbError::Invalid(format!(
            "there is no database at {}: check --data-dir / SWITCHBOARD_DATA_DIR",
            db_path.display()
        )));
    }
    let src = Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.busy_timeout(std::time::Duration::from_secs(5))?;
    backup_connection(&src, dest)?;
    Ok(migrations::current_version(&src)?)
}

/// Checks that `file` is an intact switchboard database this binary can run; returns its
/// schema version.
pub fn check_restorable(file: &Path) -> Result<u32, DbError> {
    if !file.is_file() {
        return Err(DbError::Invalid(format!(
            "{} does not exist or is not a file",
            file.display()
        )));
    }
    let conn =
        Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
            DbError::Invalid(format!("{} is not a SQLite database: {e}", file.display()))
        })?;
    integrity_ok(&conn)
        .map_err(|e| DbError::Invalid(format!("{} is damaged: {e}", file.display())))?;
    let version = migrations::current_version(&conn).map_err(|e| {
        DbError::Invalid(format!("{} is not a SQLite database: {e}", file.display()))
    })?;
    if version == 0 {
        return Err(DbError::Invalid(format!(
            "{} is not a switchboard backup: it has no schema version",
            file.display()
        )));
    }
    let binary = migrations::latest_version();
    if version > binary {
        return Err(migrations::MigrationError::NewerThanBinary {
            db: version,
            binary,
        }
        .into());
    }
    Ok(version)
}

/// Refuses a restore whose provider credentials `key` cannot open: they are sealed with
/// the key of the appliance that made the backup, and without it they are lost.
fn check_key(file: &Path, db_path: &Path, key: Option<&SecretKey>) -> Result<(), DbError> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let Some((sealed, context)) = provider_accounts::sealed_sample(&conn)? else {
        return Ok(());
    };
    let dir = db_path
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    match key {
        Some(k) if k.decrypt(&sealed, &context).is_ok() => Ok(()),
        Some(_) => Err(DbError::Invalid(format!(
            "the secret key of {dir} does not open the credentials in {}: the backup was made \
             on an appliance with another secret.key. Put that appliance's secret.key in {dir} \
             (keep a copy of this one), then restore again.",
            file.display()
        ))),
        None => Err(DbError::Invalid(format!(
            "{dir} has no secret.key, and {} holds credentials encrypted with the key of the \
             appliance it was made on. Copy that appliance's secret.key into {dir} (mode 600), \
             or set SWITCHBOARD_SECRET_KEY to it, then restore again.",
            file.display()
        ))),
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreReport {
    pub restored_version: u32,
    pub safety_backup: Option<PathBuf>,
    pub migrated_to: u32,
}

/// `switchboard restore FILE`: checks the file and that `key` (the data dir's secret key,
/// if it has one) opens its credentials, saves the current database to `backups_dir`,
/// then copies the file over the live database with the backup API (so a running
/// appliance sees the restored data on its next query) and migrates it.
pub fn restore_file(
    file: &Path,
    db_path: &Path,
    backups_dir: &Path,
    key: Option<&SecretKey>,
) -> Result<RestoreReport, DbError> {
    let restored_version = check_restorable(file)?;
    check_key(file, db_path, key)?;
    let safety_backup = if db_path.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let path = backups_dir.join(format!("pre-restore-{stamp}.db"));
        backup_file(db_path, &path)?;
        Some(path)
    } else {
        if let Some(dir) = db_path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        None
    };
    let src = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut live = Connection::open(db_path)?;
    super::apply_pragmas(&live)?;
    {
        let backup = Backup::new(&src, &mut live)?;
        backup.step(-1)?;
    }
    super::apply_pragmas(&live)?;
    let report = migrations::migrate(&mut live, backups_dir)?;
    integrity_ok(&live)?;
    Ok(RestoreReport {
        restored_version,
        safety_backup,
        migrated_to: report.to,
    })
}
