//! Texts and summaries through the outbox (SPEC §12): each user's own mobile and choices,
//! their quiet hours holding a text until they end, the daily summary once a day, and a
//! text Twilio refuses shown on Health with its code.

use crate::helpers::{sent_to, spawn_app, Api, CALLER, MAIN_LINE, OWNER_MOBILE};
use serde_json::{json, Value};
use switchboard::domain::UserRole;

#[tokio::test]
async fn each_user_gets_the_texts_they_chose_at_their_own_mobile() {
    let app = spawn_app().await;
    let owner = app.owner_api().await;
    // The owner keeps voicemails by text but not new leads; an admin asks for leads.
    let r = owner
        .put("/api/me/notifications", json!({ "sms": { "lead": false } }))
        .await;
    assert_eq!(r.status(), 200);
    let (c, csrf) = app
        .user_client(
            switchboard::demo::DEMO_ORG,
            "dispatch@demo.example",
            UserRole::Admin,
        )
        .await;
    let admin = Api::new(c, csrf, &app.address);
    let r = admin
        .patch("/api/me", json!({ "mobile": "(555) 010-0177" }))
        .await;
    assert_eq!(r.status(), 200);
    let prefs: Value = admin
        .put("/api/me/notifications", json!({ "sms": { "lead": true } }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prefs["sms"]["lead"], true);
    assert_eq!(prefs["sms"]["voicemail"], false, "an admin's default");

    let tw = app.twilio();
    tw.sms("SMnotice01", CALLER, MAIN_LINE, "Is Saturday possible?")
        .await;
    app.wait_count(
        "SELECT count(*) FROM outbox WHERE channel = 'sms' AND status = 'sent'",
        1,
    )
    .await;
    let to_admin = sent_to(&app, "+15550100177");
    assert_eq!(to_admin.len(), 1);
    assert!(
        to_admin[0].contains("Is Saturday possible?"),
        "{to_admin:?}"
    );
    assert!(
        sent_to(&app, OWNER_MOBILE).is_empty(),
        "the owner chose not to"
    );
    // The text is filed with the lead, from the business number.
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE kind = 'notification' AND lead_id IS NOT NULL AND from_number = '+15550100001'"),
        1
    );
}

#[tokio::test]
async fn a_text_in_quiet_hours_waits_for_their_end_then_goes() {
    let app = spawn_app().await;
    let owner = app.owner_api().await;
    // The demo business is in UTC: quiet from an hour ago to an hour from now.
    let now = chrono::Utc::now();
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    let (start, end) = (
        hhmm(now - chrono::Duration::hours(1)),
        hhmm(now + chrono::Duration::hours(1)),
    );
    let r = owner
        .patch(
            "/api/me",
            json!({ "quietHours": { "start": start, "end": end } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.twilio()
        .sms("SMquiet01", CALLER, MAIN_LINE, "Call me when you can")
        .await;
    app.wait_count(
        "SELECT count(*) FROM outbox WHERE channel = 'sms' AND event = 'lead:1'",
        1,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sent_to(&app, OWNER_MOBILE).is_empty(), "held");
    let due = app.text(
        "SELECT next_attempt_at FROM outbox WHERE channel = 'sms' AND event = ?1",
        "lead:1",
    );
    assert_eq!(&due[11..16], end, "due when quiet hours end: {due}");
    // The end comes (the row's time moved to now stands in for the clock).
    app.db()
        .conn()
        .unwrap()
        .execute(
            "UPDATE outbox SET next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE channel = 'sms'",
            [],
        )
        .unwrap();
    app.state.desk.notices_queued();
    app.wait_count(
        "SELECT count(*) FROM outbox WHERE channel = 'sms' AND status = 'sent'",
        1,
    )
    .await;
    assert_eq!(sent_to(&app, OWNER_MOBILE).len(), 1);
}

#[tokio::test]
async fn the_daily_summary_goes_once_a_day_at_the_chosen_hour() {
    let app = spawn_app().await;
    let owner = app.owner_api().await;
    let tw = app.twilio();
    tw.missed_call("CAsummary01", CALLER).await;
    owner
        .put(
            "/api/me/notifications",
            json!({ "sms": { "summary": true } }),
        )
        .await;
    // An hour that has passed today (the demo business is in UTC).
    owner.patch("/api/me", json!({ "summaryHour": 0 })).await;
    for _ in 0..2 {
        switchboard::frontdesk::summary::queue_due(&app.state.desk).await;
    }
    app.wait_count(
        "SELECT count(*) FROM outbox WHERE event LIKE 'summary:%' AND status = 'sent'",
        1,
    )
    .await;
    let texts = sent_to(&app, OWNER_MOBILE);
    let summary: Vec<&String> = texts
        .iter()
        .filter(|t| t.starts_with("Last 24 hours:"))
        .collect();
    assert_eq!(summary.len(), 1, "{texts:?}");
    assert!(summary[0].contains("1 call (1 missed)"), "{summary:?}");
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM outbox WHERE event = 'summary:{today}'"
        )),
        1
    );
}

#[tokio::test]
async fn a_text_twilio_refuses_is_given_up_and_shown_on_health_with_its_code() {
    let app = spawn_app().await;
    let owner = app.owner_api().await;
    // Twilio's test number for "not a mobile number" (21614).
    owner
        .patch("/api/me", json!({ "mobile": "+15005550009" }))
        .await;
    app.twilio()
        .sms("SMrefused1", CALLER, MAIN_LINE, "Hello?")
        .await;
    app.wait_count(
        "SELECT count(*) FROM outbox WHERE channel = 'sms' AND status = 'failed'",
        1,
    )
    .await;
    let health = owner.get("/api/health").await;
    assert_eq!(health["notifications"]["sms"]["failed"], 1, "{health}");
    let warnings = health["warnings"].to_string();
    assert!(
        warnings.contains("Text notices are not getting through") && warnings.contains("21614"),
        "{warnings}"
    );
}
