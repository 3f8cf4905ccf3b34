//! The Overview's to-do list: a morning of calls leaves exactly the expected items, and
//! doing each clears it.

use crate::helpers::{spawn_app_with, CALLER, MAIN_LINE};
use serde_json::json;

#[tokio::test]
async fn a_morning_of_calls_leaves_its_to_dos_and_doing_each_clears_it() {
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]).await;
    let tw = app.twilio();
    // A missed call, a voicemail, a missed call whose caller texts back (a conversation),
    // a missed call whose caller reached sales later, and an answered call.
    tw.missed_call("CATODO1", CALLER).await;
    tw.call("CATODO2", "+14155550142", MAIN_LINE).await;
    tw.press("CATODO2", 1, "9").await;
    tw.recording("CATODO2", "RETODO2", "12").await;
    tw.status("CATODO2", "+14155550142", MAIN_LINE, "completed", "30")
        .await;
    tw.missed_call("CATODO3", "+14155550143").await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND to_number = '+14155550143'",
        1,
    )
    .await;
    tw.sms(
        "SMTODO3",
        "+14155550143",
        MAIN_LINE,
        "Can you fix a leaking tap today?",
    )
    .await;
    tw.missed_call("CATODO4", "+14155550144").await;
    tw.call("CATODO5", "+14155550144", MAIN_LINE).await;
    tw.dial_result("CATODO5", "completed").await;
    tw.status("CATODO5", "+14155550144", MAIN_LINE, "completed", "90")
        .await;

    let api = app.owner_api().await;
    let todo = api.get("/api/todo").await;
    let mut got: Vec<(String, String)> = todo["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["caller"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("lead".to_string(), "+14155550143".to_string()),
            ("missed_call".into(), CALLER.into()),
            ("voicemail".into(), "+14155550142".into()),
        ],
        "{todo}"
    );
    let inbox = api.get("/api/inbox").await;
    assert_eq!(inbox["todo"], 3);

    // Replying by text settles the missed call; Done settles the others.
    let missed = todo["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "missed_call")
        .unwrap()
        .clone();
    assert_eq!(missed["link"], format!("#calls/{}", missed["id"]));
    let lead = todo["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "lead")
        .unwrap()
        .clone();
    assert_eq!(lead["text"], "Can you fix a leaking tap today?");
    let call_id = missed["id"].as_i64().unwrap();
    let done = api
        .post(&format!("/api/calls/{call_id}/follow-up"), json!({}))
        .await;
    assert_eq!(done.status(), 204);
    let handled = api
        .patch(
            &format!("/api/leads/{}", lead["id"]),
            json!({ "status": "handled" }),
        )
        .await;
    assert_eq!(handled.status(), 200);
    let todo = api.get("/api/todo").await;
    let kinds: Vec<&str> = todo["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["voicemail"], "{todo}");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'call.follow_up'"),
        1
    );
    // Another org's call, or none, is a 404.
    let missing = api.post("/api/calls/999999/follow-up", json!({})).await;
    assert_eq!(missing.status(), 404);
}
