use crate::helpers::{client, send_json, spawn_app};
use crate::process::{switchboard, switchboard_async};
use reqwest::Method;
use serde_json::json;
use switchboard::domain::UserRole;

#[tokio::test]
async fn backup_and_restore_work_on_a_live_instance() {
    let app = spawn_app().await;
    let data = app.data_dir.path().to_str().unwrap().to_string();
    let before = app.add_user("Demo Plumbing", "before@example.com", UserRole::Admin);
    let backup_file = app.data_dir.path().join("nightly.db");
    let file = backup_file.to_str().unwrap().to_string();
    // A voicemail whose recording is kept here (SPEC §13): the backup carries the audio.
    let tw = app.twilio();
    tw.call(
        "CAbackupvm1",
        crate::helpers::CALLER,
        crate::helpers::MAIN_LINE,
    )
    .await;
    tw.recording("CAbackupvm1", &format!("RE{}", "8".repeat(32)), "6")
        .await;
    app.wait_count("SELECT count(*) FROM recordings", 1).await;
    let audio: Vec<u8> = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT audio FROM recordings", [], |r| r.get(0))
        .unwrap();

    // Back up while the app is serving and writing.
    let (owner, csrf) = app.owner().await;
    let writer = {
        let owner = owner.clone();
        let url = app.url("/api/tokens");
        let csrf = csrf.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                send_json(
                    &owner,
                    &csrf,
                    Method::POST,
                    &url,
                    Some(&json!({ "name": format!("t{i}") })),
                )
                .await;
            }
        })
    };
    let out = switchboard_async(&["--data-dir", &data, "backup", &file], &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    writer.await.unwrap();
    let check = rusqlite::Connection::open(&backup_file).unwrap();
    let verdict: String = check
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    drop(check);

    // Change things after the backup…
    let after = app.add_user("Demo Plumbing", "after@example.com", UserRole::Admin);
    app.login(&client(), "after@example.com", &after).await;

    // …then restore into the running appliance.
    let out = switchboard_async(&["--data-dir", &data, "restore", &file], &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("the database it replaced was saved to"),
        "{stdout}"
    );

    // The live app sees the restored data on its next query.
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "after@example.com", "password": after }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "a user created after the backup is gone"
    );
    app.login(&client(), "before@example.com", &before).await;
    let restored: Vec<u8> = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT audio FROM recordings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(restored, audio, "the recording came back with the restore");
    let safety = std::fs::read_dir(app.data_dir.path().join("backups"))
        .unwrap()
        .count();
    assert_eq!(safety, 1, "the replaced database was kept");
}

#[test]
fn restore_refuses_a_damaged_file_and_a_non_switchboard_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    assert!(switchboard(&["--data-dir", data, "migrate"], &[])
        .status
        .success());

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database at all, just some bytes").unwrap();
    let out = switchboard(
        &["--data-dir", data, "restore", garbage.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("garbage.db"), "{stderr}");

    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    let out = switchboard(
        &["--data-dir", data, "restore", other.to_str().unwrap()],
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a switchboard backup"));

    let missing = switchboard(
        &["--data-dir", data, "restore", "/nonexistent/file.db"],
        &[],
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[test]
fn restore_refuses_a_backup_from_a_newer_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    assert!(switchboard(&["--data-dir", data, "migrate"], &[])
        .status
        .success());
    let newer = dir.path().join("newer.db");
    assert!(switchboard(
        &["--data-dir", data, "backup", newer.to_str().unwrap()],
        &[]
    )
    .status
    .success());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')",
            [],
        )
        .unwrap();
    let out = switchboard(
        &["--data-dir", data, "restore", newer.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema version 9999"));
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn backup_never_replaces_a_file_unless_forced() {
    let app = spawn_app().await;
    let data = app.data_dir.path().to_str().unwrap();
    let dest = app.data_dir.path().join("precious.db");
    std::fs::write(&dest, b"last month's only copy").unwrap();
    let file = dest.to_str().unwrap();
    let out = switchboard_async(&["--data-dir", data, "backup", file], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"last month's only copy");

    let out = switchboard_async(&["--data-dir", data, "backup", file, "--force"], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let users: i64 = rusqlite::Connection::open(&dest)
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(users >= 1);
}

#[tokio::test]
async fn restore_on_another_host_needs_the_original_secret_key_and_never_makes_one() {
    let app = spawn_app().await;
    let data = app.data_dir.path().to_str().unwrap();
    let path = app.data_dir.path().join("move.db");
    let file = path.to_str().unwrap();
    let out = switchboard_async(&["--data-dir", data, "backup", file], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // A new host: an empty data dir.
    let new_host = tempfile::tempdir().unwrap();
    let new_dir = new_host.path().to_str().unwrap();
    let out = switchboard_async(&["--data-dir", new_dir, "restore", file], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("has no secret.key"), "{err}");
    assert!(err.contains("Copy that appliance's secret.key"), "{err}");
    assert!(
        !new_host.path().join("secret.key").exists(),
        "no new key is written"
    );
    assert!(!new_host.path().join("switchboard.db").exists());

    // A different key is refused too: it would leave the credentials unreadable.
    let other = tempfile::tempdir().unwrap();
    let other_dir = other.path().to_str().unwrap();
    assert!(switchboard(&["--data-dir", other_dir, "migrate"], &[])
        .status
        .success());
    switchboard::crypto::SecretKey::load_or_create(other.path()).unwrap();
    let out = switchboard_async(&["--data-dir", other_dir, "restore", file], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not open the credentials"));

    // With the original key copied over, the restore goes through.
    std::fs::copy(
        app.data_dir.path().join("secret.key"),
        new_host.path().join("secret.key"),
    )
    .unwrap();
    let out = switchboard_async(&["--data-dir", new_dir, "restore", file], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(new_host.path().join("switchboard.db").exists());
}
