use crate::helpers::{client, expect_error, get_json, spawn_app};
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
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(7));
        conn.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
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
    let h: Value = get_json(&c, app.url("/api/health")).await;
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

/// The Overview's day at a glance: today's calls by what became of them, the text-back
/// Twilio refused with what to do about it, and the invariant a call tripped, linked to
/// the page where it is fixed.
#[tokio::test]
async fn the_overview_counts_the_day_and_lists_what_needs_attention() {
    use crate::helpers::{spawn_app_with, CALLER, MAIN_LINE, ONBOARDING_LINE};
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]).await;
    let tw = app.twilio();
    // Answered by a person.
    tw.call("CA9501", CALLER, MAIN_LINE).await;
    tw.dial_result("CA9501", "completed").await;
    tw.status("CA9501", CALLER, MAIN_LINE, "completed", "120")
        .await;
    // Missed, and its text-back refused by Twilio (an unregistered 10DLC sender).
    tw.missed_call("CA9502", "+15005550034").await;
    // A voicemail.
    tw.call("CA9503", "+14155550125", MAIN_LINE).await;
    tw.recording("CA9503", "RE9503", "12").await;
    tw.status("CA9503", "+14155550125", MAIN_LINE, "completed", "30")
        .await;
    // A call to the sign-up number: refused politely, an invariant recorded.
    tw.call("CA9504", "+14155550126", ONBOARDING_LINE).await;
    app.wait_count(
        "SELECT count(*) FROM call_events WHERE kind = 'textback.blocked'",
        1,
    )
    .await;

    let (c, _) = app.owner().await;
    let o: serde_json::Value = get_json(&c, app.url("/api/overview")).await;
    assert_eq!(o["today"]["calls"], 4, "{o}");
    assert_eq!(o["today"]["answered"], 1, "{o}");
    assert_eq!(o["today"]["missed"], 1, "{o}");
    assert_eq!(o["today"]["voicemails"], 1, "{o}");
    let rate = o["today"]["answerRate"].as_f64().unwrap();
    assert!(
        (rate - 1.0 / 3.0).abs() < 1e-9,
        "answered of the calls that wanted an answer: {o}"
    );
    assert_eq!(o["voicemailsWaiting"], 1);
    assert_eq!(o["textbacks"]["sent"], 0);
    let blocked = &o["textbacks"]["blocked"][0];
    assert_eq!(blocked["providerCode"], 30034, "{o}");
    assert!(blocked["advice"].as_str().unwrap().contains("10DLC"), "{o}");
    let hours = o["volume"]["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(
        hours
            .iter()
            .map(|h| h["calls"].as_i64().unwrap())
            .sum::<i64>(),
        4
    );
    assert_eq!(o["volume"]["days"].as_array().unwrap().len(), 7);
    let attention = o["attention"].as_array().unwrap();
    let invariant = attention
        .iter()
        .find(|a| a["name"] == "voice_onboarding_number")
        .unwrap_or_else(|| panic!("the invariant is listed: {o}"));
    assert_eq!(invariant["count"], 1);
    assert_eq!(invariant["link"], "#numbers");

    // Another org sees none of it.
    let (other, _) = app
        .user_client(
            "Other Co",
            "other@example.com",
            switchboard::domain::UserRole::Owner,
        )
        .await;
    let theirs: serde_json::Value = get_json(&other, app.url("/api/overview")).await;
    assert_eq!(theirs["today"]["calls"], 0, "{theirs}");
    assert_eq!(theirs["today"]["answerRate"], serde_json::Value::Null);
}
