use crate::helpers::{client, expect_error, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let resp = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok\n");
}

#[tokio::test]
async fn readyz_writes_to_the_database_at_most_once_per_interval_and_reports_the_schema_version() {
    let app = spawn_app().await;
    let resp = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["schemaVersion"],
        switchboard::db::migrations::latest_version()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM settings WHERE key = 'readyz_probe'"),
        1
    );
    // Anyone may ask, so asking is cheap: a burst reuses the one probe's answer.
    let probe = || -> String {
        app.db()
            .conn()
            .unwrap()
            .query_row(
                "SELECT value FROM settings WHERE key = 'readyz_probe'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let first = probe();
    for _ in 0..50 {
        assert_eq!(
            client()
                .get(app.url("/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(probe(), first, "no write per request");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_cannot_be_written() {
    let app = spawn_app().await;
    // Hold the write lock from another connection for longer than the busy timeout.
    let path = app.db().path().to_path_buf();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(7));
        conn.execute_batch("ROLLBACK").unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let resp = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    locker.join().unwrap();
}

#[tokio::test]
async fn api_health_needs_sign_in_and_reports_version_uptime_size_and_warnings() {
    let app = spawn_app().await;
    expect_error(
        client().get(app.url("/api/health")).send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    let (c, _) = app.owner().await;
    let h: Value = c
        .get(app.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert!(h["uptimeSeconds"].as_u64().is_some());
    assert!(h["database"]["sizeBytes"].as_u64().unwrap() > 0);
    assert_eq!(h["lastWebhook"]["twilio"], Value::Null);
    assert_eq!(h["publicUrl"], app.address);
    let warnings = h["warnings"].as_array().unwrap();
    assert!(warnings[0].as_str().unwrap().starts_with("SANDBOX"));
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let resp = client()
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'self'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-request-id"], "abc-123");
    let resp = client()
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "bad id\twith spaces");
}
