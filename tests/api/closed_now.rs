//! "Closed now" (the Overview's switch): calls get the after-hours action until the chosen
//! time, the timeline says who closed it, the preview agrees, and reopening is audited.

use crate::helpers::{spawn_app, CALLER, MAIN_LINE};
use chrono::TimeZone;
use serde_json::{json, Value};

const AFTER_HOURS: &str =
    "<Say>We&apos;re closed right now.</Say><Say>Please leave a message after the beep.";

#[tokio::test]
async fn closing_now_sends_calls_to_the_after_hours_action_until_the_time_or_a_reopen() {
    let app = spawn_app().await;
    let noon = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
    app.state.desk.clock.set(noon);
    let api = app.owner_api().await;
    assert_eq!(api.get("/api/org/closed").await["closed"], false);

    let resp = api.put("/api/org/closed", json!({ "for": "hour" })).await;
    assert_eq!(resp.status(), 200);
    let state: Value = resp.json().await.unwrap();
    assert_eq!(state["closed"], true);
    assert_eq!(state["closedBy"], app.owner_email.as_str());
    let until = state["closedUntil"].as_str().unwrap().to_string();
    assert!(until.starts_with("2026-12-07T13:00:00"), "{until}");

    // The demo is open 24/7, yet a call now gets the after-hours action (voicemail).
    let tw = app.twilio();
    let body = tw.call("CACLOSED1", CALLER, MAIN_LINE).await;
    assert!(body.contains(AFTER_HOURS), "{body}");
    let detail = app.text(
        "SELECT detail FROM call_events e JOIN calls c ON c.id = e.call_id WHERE c.call_sid = ?1 AND e.kind = 'call.started'",
        "CACLOSED1",
    );
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["open"], false);
    assert_eq!(detail["closedUntil"], until.as_str());
    assert_eq!(detail["closedBy"], app.owner_email.as_str());

    // The preview at that moment agrees; an hour later the closing is over by itself.
    let flow = api.get("/api/call-flow").await;
    let preview: Value = api
        .post(
            "/api/call-flow/preview",
            json!({ "callFlow": flow["callFlow"], "at": "2026-12-07T12:30" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["open"], false, "{preview}");
    assert_eq!(preview["closedNow"], true, "{preview}");
    app.state
        .desk
        .clock
        .set(noon + chrono::Duration::minutes(61));
    assert!(tw
        .call("CACLOSED2", CALLER, MAIN_LINE)
        .await
        .contains("<Gather"));
    assert_eq!(api.get("/api/org/closed").await["closed"], false);

    // Until someone reopens: closed however long, then reopened by hand.
    let resp = api.put("/api/org/closed", json!({ "for": "reopen" })).await;
    let state: Value = resp.json().await.unwrap();
    assert_eq!(state["untilReopened"], true, "{state}");
    app.state.desk.clock.set(noon + chrono::Duration::days(30));
    assert!(tw
        .call("CACLOSED3", CALLER, MAIN_LINE)
        .await
        .contains(AFTER_HOURS));
    assert_eq!(api.delete("/api/org/closed").await.status(), 200);
    assert!(tw
        .call("CACLOSED4", CALLER, MAIN_LINE)
        .await
        .contains("<Gather"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'org.close'"),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'org.reopen'"),
        1
    );

    let resp = api.put("/api/org/closed", json!({ "for": "a week" })).await;
    assert_eq!(resp.status(), 400);
}
