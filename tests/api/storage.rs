use crate::helpers::{spawn_app, spawn_in};
use rusqlite::Connection;
use switchboard::config::Config;
use switchboard::db::{migrations, Db};
use switchboard::startup::Application;

const TABLES: &[&str] = &[
    "agents",
    "api_tokens",
    "audit_log",
    "blocklist",
    "call_events",
    "call_flows",
    "callbacks",
    "calls",
    "contacts",
    "feature_flags",
    "idempotency_keys",
    "leads",
    "messages",
    "notification_prefs",
    "onboarding_requests",
    "opt_outs",
    "org_feature_overrides",
    "orgs",
    "outbox",
    "phone_numbers",
    "provider_accounts",
    "push_subscriptions",
    "rate_limit_violations",
    "recordings",
    "saga_steps",
    "sagas",
    "schema_migrations",
    "sessions",
    "settings",
    "totp_recovery_codes",
    "user_totp",
    "users",
    "voicemails",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_ledger",
];

#[test]
fn migrations_on_an_empty_database_create_the_whole_data_model() {
    let dir = tempfile::tempdir().unwrap();
    let (db, report) = Db::open(&dir.path().join("s.db"), &dir.path().join("backups")).unwrap();
    assert_eq!(
        (report.from, report.to, report.backup),
        (0, migrations::latest_version(), None)
    );
    let conn = db.conn().unwrap();
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").unwrap();
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, TABLES);
}

#[test]
fn every_pooled_connection_gets_the_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(&dir.path().join("s.db"), &dir.path().join("backups")).unwrap();
    // Take several connections at once so more than one is created by the pool.
    let conns: Vec<_> = (0..3).map(|_| db.conn().unwrap()).collect();
    for conn in &conns {
        let q = |sql: &str| -> String {
            conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(q("PRAGMA journal_mode"), "Text(\"wal\")");
        assert_eq!(q("PRAGMA foreign_keys"), "Integer(1)");
        assert_eq!(q("PRAGMA synchronous"), "Integer(1)");
        assert_eq!(q("PRAGMA busy_timeout"), "Integer(5000)");
    }
}

#[test]
fn migrating_twice_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    Db::open(&path, &dir.path().join("backups")).unwrap();
    let (_, again) = Db::open(&path, &dir.path().join("backups")).unwrap();
    assert_eq!(again.from, again.to);
    assert!(
        !dir.path().join("backups").exists(),
        "no backup when nothing is migrated"
    );
}

#[test]
fn an_existing_database_is_backed_up_before_it_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE operator_notes (note TEXT); INSERT INTO operator_notes VALUES ('keep me');").unwrap();
    }
    let (_, report) = Db::open(&path, &dir.path().join("backups")).unwrap();
    let backup = report.backup.expect("a backup was written");
    assert!(backup.starts_with(dir.path().join("backups")));
    let note: String = Connection::open(&backup)
        .unwrap()
        .query_row("SELECT note FROM operator_notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(note, "keep me");
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    Db::open(&path, &dir.path().join("backups")).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')",
            [],
        )
        .unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.demo = true;
    config.listen = "127.0.0.1:0".parse().unwrap();
    let err = Application::build(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("schema version 9999"), "{err}");
    assert!(err.contains("newer switchboard binary"), "{err}");
}

#[tokio::test]
async fn provider_secrets_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let token = app.state.accounts.master().unwrap().auth_token.clone();
    let stored: String = app
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT secret_ciphertext FROM provider_accounts WHERE kind = 'master'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.starts_with("v1:"));
    assert!(!stored.contains(&token));
    // Checkpoint the WAL so the file holds everything, then scan the raw bytes.
    app.db()
        .conn()
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let raw = std::fs::read(app.db().path()).unwrap();
    assert!(
        !raw.windows(token.len()).any(|w| w == token.as_bytes()),
        "the plaintext token is not in the file"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.data_dir.path().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_released_number_check_and_role_constraints_hold_in_the_schema() {
    let app = spawn_app().await;
    let conn = app.db().conn().unwrap();
    // An onboarding number can never be answered by the AI, even by a direct write.
    let err = conn
        .execute("INSERT INTO phone_numbers (org_id, e164, role, handler, origin) VALUES (1, '+15550109999', 'onboarding', 'vapi', 'manual')", [])
        .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
    // A number is unique among active numbers only.
    let dup = conn.execute("INSERT INTO phone_numbers (org_id, e164, role, origin) VALUES (1, '+15550100001', 'system', 'manual')", []);
    assert!(dup.is_err());
    conn.execute("UPDATE phone_numbers SET status = 'released', released_at = '2026-01-01T00:00:00.000Z' WHERE e164 = '+15550100001'", []).unwrap();
    conn.execute("INSERT INTO phone_numbers (org_id, e164, role, origin) VALUES (1, '+15550100001', 'system', 'manual')", []).unwrap();
}

#[tokio::test]
async fn a_restarted_app_keeps_its_data_and_does_not_seed_again() {
    let app = spawn_app().await;
    let dir = app.data_dir;
    let again = spawn_in(dir, &[]).await;
    assert_eq!(again.count("SELECT count(*) FROM orgs"), 1);
    assert_eq!(again.count("SELECT count(*) FROM users"), 1);
    assert!(
        again.owner_password.is_empty(),
        "no new password on a restart"
    );
}

/// Samples the WAL file's size every 20 ms until `stop`; returns the largest seen.
fn watch_wal(
    db: &std::path::Path,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    let wal = switchboard::db::wal_path(db);
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        peak
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_continuous_writes_and_is_emptied_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let (db, _) = Db::open(&path, &dir.path().join("backups")).unwrap();
    db.write(|c| c.execute_batch("CREATE TABLE ballast (id INTEGER PRIMARY KEY, b BLOB)"))
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = watch_wal(&path, stop.clone());
    // 96 MiB through the writer without a pause, 64 writes in flight at a time: far more
    // than the WAL may hold, as a busy appliance would write in a minute or two.
    let blob = std::sync::Arc::new(vec![7u8; 4096]);
    for _ in 0..(96 * 256 / 64) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let (db, blob) = (db.clone(), blob.clone());
            set.spawn(async move {
                db.write(move |c| c.execute("INSERT INTO ballast (b) VALUES (?1)", [&*blob]))
                    .await
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
    }
    let wal = switchboard::db::wal_path(&path);
    let after_load = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = watcher.join().unwrap();
    let idle = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    eprintln!("WAL: peak {peak} bytes, {after_load} right after the load, {idle} after 2.5 s idle");
    assert!(peak < 64 << 20, "the WAL reached {peak} bytes under load");
    assert_eq!(idle, 0, "the WAL file is emptied once writes stop");
    let rows: i64 = db
        .write(|c| c.query_row("SELECT count(*) FROM ballast", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(rows, 96 * 256, "every write is still there");
}
