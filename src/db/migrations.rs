//! Numbered migrations from `schema/`, embedded in the binary and applied in order at
//! start-up, each in its own transaction (SPEC §2). A database newer than the binary is
//! refused; an existing database is backed up to `data/backups/` before it is upgraded.

use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};

#[derive(rust_embed::RustEmbed)]
#[folder = "schema/"]
struct SchemaFiles;

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub sql: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the database is at schema version {db} but this switchboard binary only knows versions up to {binary}: \
         run the newer switchboard binary that wrote it, or restore a backup made by this version"
    )]
    NewerThanBinary { db: u32, binary: u32 },
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        version: u32,
        name: String,
        source: rusqlite::Error,
    },
    #[error("cannot write the pre-migration backup {path}: {source}")]
    Backup {
        path: String,
        source: Box<super::DbError>,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub from: u32,
    pub to: u32,
    pub backup: Option<PathBuf>,
}

/// All embedded migrations in version order. File names are `NNNN_name.sql`.
pub fn all() -> Vec<Migration> {
    let mut out: Vec<Migration> = SchemaFiles::iter()
        .map(|file| {
            let (number, rest) = file.split_once('_').unwrap_or((&file, ""));
            let version = number
                .parse()
                .unwrap_or_else(|_| panic!("schema/{file}: name must start with a number"));
            let sql = SchemaFiles::get(&file).expect("listed file exists").data;
            Migration {
                version,
                name: rest.trim_end_matches(".sql").to_string(),
                sql: String::from_utf8(sql.into_owned()).expect("schema files are UTF-8"),
            }
        })
        .collect();
    out.sort_by_key(|m| m.version);
    out
}

pub fn latest_version() -> u32 {
    all().last().map(|m| m.version).unwrap_or(0)
}

/// The applied schema version; 0 for a database that was never migrated.
pub fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_table.is_none() {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
}

fn is_empty(conn: &Connection) -> rusqlite::Result<bool> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    Ok(tables == 0)
}

/// Brings the database to [`latest_version`].
pub fn migrate(conn: &mut Connection, backups_dir: &Path) -> Result<Report, MigrationError> {
    migrate_to(conn, backups_dir, latest_version())
}

/// Brings the database to version `to` (tests build an older database with it, to
/// migrate it the rest of the way as an upgrade would).
pub(crate) fn migrate_to(
    conn: &mut Connection,
    backups_dir: &Path,
    to: u32,
) -> Result<Report, MigrationError> {
    let migrations = all();
    let binary = latest_version();
    let from = current_version(conn)?;
    if from > binary {
        return Err(MigrationError::NewerThanBinary { db: from, binary });
    }
    if from >= to {
        return Ok(Report {
            from,
            to: from,
            backup: None,
        });
    }
    let backup = if is_empty(conn)? {
        None
    } else {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let path = backups_dir.join(format!("pre-migrate-v{from}-to-v{to}-{stamp}.db"));
        super::snapshot::backup_connection(conn, &path).map_err(|e| MigrationError::Backup {
            path: path.display().to_string(),
            source: Box::new(e),
        })?;
        log::info!(
            "backed up the database to {} before migrating",
            path.display()
        );
        Some(path)
    };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         )",
    )?;
    for m in migrations
        .iter()
        .filter(|m| m.version > from && m.version <= to)
    {
        let fail = |source| MigrationError::Failed {
            version: m.version,
            name: m.name.clone(),
            source,
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(&m.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
            (m.version, &m.name),
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        log::info!("applied migration {:04}_{}", m.version, m.name);
    }
    Ok(Report { from, to, backup })
}

/// An empty in-memory database brought to the latest schema, for tests of the SQL. An
/// empty database is migrated without a backup, so no backups directory is needed.
#[cfg(test)]
pub(crate) fn in_memory() -> Connection {
    let mut conn = Connection::open_in_memory().expect("an in-memory database opens");
    migrate(&mut conn, Path::new("/nonexistent")).expect("an empty database migrates");
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_versions_are_unique_and_start_at_one() {
        let versions: Vec<u32> = all().iter().map(|m| m.version).collect();
        assert_eq!(versions.first(), Some(&1));
        let mut dedup = versions.clone();
        dedup.dedup();
        assert_eq!(dedup, versions);
    }

    #[test]
    fn an_empty_database_migrates_to_the_latest_version_without_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        let report = migrate(&mut conn, &dir.path().join("backups")).unwrap();
        assert_eq!(
            report,
            Report {
                from: 0,
                to: latest_version(),
                backup: None
            }
        );
        assert_eq!(current_version(&conn).unwrap(), latest_version());
        let again = migrate(&mut conn, &dir.path().join("backups")).unwrap();
        assert_eq!(again.from, again.to);
    }

    /// Migration 6 rewrites every CHECK's IN list as ORs of equalities: the rows a
    /// database held before still pass, wrong values are still refused, and an insert on
    /// the hot path builds no temporary B-tree.
    #[test]
    fn checks_are_rewritten_without_in_lists_and_still_refuse_wrong_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, &dir.path().join("backups"), 5).unwrap();
            conn.execute_batch(
                "INSERT INTO calls (provider, call_sid, direction, number_role, outcome, consent_outcome, textback_state)
                 VALUES ('twilio', 'CA1', 'inbound', 'operational', 'missed', 'granted', 'scheduled');",
            )
            .unwrap();
        }
        let mut conn = Connection::open(&path).unwrap();
        let report = migrate(&mut conn, &dir.path().join("backups")).unwrap();
        assert_eq!((report.from, report.to), (5, latest_version()));
        drop(conn);
        let conn = Connection::open(&path).unwrap();
        let tables: Vec<(String, String)> = conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (name, sql) in &tables {
            let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                !flat.contains(" IN ("),
                "table {name} still has an IN list: {flat}"
            );
        }
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let kept: (String, String) = conn
            .query_row("SELECT outcome, textback_state FROM calls", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, ("missed".into(), "scheduled".into()));
        for wrong in [
            "UPDATE calls SET outcome = 'bogus'",
            "UPDATE calls SET consent_outcome = NULL",
            "UPDATE calls SET direction = 'sideways'",
            "INSERT INTO webhook_ledger (provider, route, signature, http_status) VALUES ('twilio', 'voice', 'forged', 200)",
        ] {
            let err = conn.execute(wrong, []).unwrap_err().to_string();
            assert!(err.contains("constraint failed"), "{wrong}: {err}");
        }
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN INSERT INTO calls (provider, call_sid, direction, number_role)
                 VALUES ('twilio', 'CA2', 'inbound', 'operational')",
            )
            .unwrap()
            .query_map([], |r| r.get(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!plan.iter().any(|op| op == "OpenEphemeral"), "{plan:?}");
    }

    #[test]
    fn every_flag_the_code_references_is_seeded_by_a_migration() {
        let conn = in_memory();
        for key in crate::domain::FlagKey::ALL {
            let seeded: i64 = conn
                .query_row(
                    "SELECT count(*) FROM feature_flags WHERE flag_key = ?1",
                    [key.as_str()],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                seeded, 1,
                "flag {key} is referenced in code but no migration seeds it"
            );
        }
    }
}
