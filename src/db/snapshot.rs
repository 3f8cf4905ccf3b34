//! The consistent copy of a live database both backups and pre-migration snapshots are
//! made with (SPEC §9.4). It knows nothing of migrations, so `migrations` (which snapshots
//! before it changes anything) and `backup` (which checks a restore's schema version)
//! both depend on it and not on each other.

use super::DbError;
use rusqlite::backup::Backup;
use rusqlite::Connection;
use std::path::Path;

/// Copies the whole database behind `src` into `dest` as one consistent snapshot. Writes to
/// a temporary file first and renames it into place, so `dest` is never half-written.
pub fn backup_connection(src: &Connection, dest: &Path) -> Result<(), DbError> {
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let tmp = dest.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut out = Connection::open(&tmp)?;
        let backup = Backup::new(src, &mut out)?;
        // One step of -1 pages copies everything inside a single read transaction: a
        // consistent snapshot that concurrent writers cannot force to restart.
        backup.step(-1)?;
        drop(backup);
        out.execute_batch("PRAGMA journal_mode = DELETE;")?;
        integrity_ok(&out)?;
    }
    std::fs::rename(&tmp, dest).map_err(|e| {
        DbError::Invalid(format!(
            "cannot move the backup into {}: {e}",
            dest.display()
        ))
    })?;
    Ok(())
}

/// `PRAGMA integrity_check`, as an error that quotes SQLite's verdict.
pub fn integrity_ok(conn: &Connection) -> Result<(), DbError> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(DbError::Invalid(format!(
            "integrity check failed: {verdict}"
        )));
    }
    Ok(())
}

/// `PRAGMA quick_check`: the structural half of the integrity check, in a fraction of its
/// time (no index-against-table comparison); SQLite's verdict, `ok` when sound.
pub fn quick_check(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row("PRAGMA quick_check", [], |r| r.get(0))
}
