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
    // The missed call opened its caller's conversation (it holds the call and the
    // text-back); the caller who texted back has one too; the one who reached sales later
    // is settled.
    assert_eq!(
        got,
        [
            ("lead".to_string(), CALLER.to_string()),
            ("lead".into(), "+14155550143".into()),
            ("voicemail".into(), "+14155550142".into()),
        ],
        "{todo}"
    );
    let inbox = api.get("/api/inbox").await;
    assert_eq!(inbox["todo"], 3);
    let item = |caller: &str| {
        todo["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "lead" && i["caller"] == caller)
            .unwrap()
            .clone()
    };
    let missed = item(CALLER);
    assert_eq!(missed["link"], format!("#leads/{}", missed["id"]));
    let conversation = api
        .get(&format!("/api/messages?leadId={}", missed["id"]))
        .await;
    let kinds: Vec<&str> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["textback"], "the text-back is in the conversation");
    let lead = item("+14155550143");
    assert_eq!(lead["text"], "Can you fix a leaking tap today?");

    // Handling a conversation follows its missed call up; Done on the other one too.
    for l in [&missed, &lead] {
        let handled = api
            .patch(
                &format!("/api/leads/{}", l["id"]),
                json!({ "status": "handled" }),
            )
            .await;
        assert_eq!(handled.status(), 200);
    }
    assert_eq!(
        app.text(
            "SELECT CAST(followed_up_at IS NOT NULL AS TEXT) FROM calls WHERE call_sid = ?1",
            "CATODO1"
        ),
        "1"
    );
    let todo = api.get("/api/todo").await;
    let kinds: Vec<&str> = todo["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["voicemail"], "{todo}");

    // A missed call with the text-back off stays a call to return; Done settles it.
    let flag = api
        .put(
            "/api/feature-flags/missed_call_textback/override",
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(flag.status(), 200);
    tw.missed_call("CATODO6", "+14155550146").await;
    let todo = api.get("/api/todo").await;
    let missed = todo["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "missed_call")
        .unwrap_or_else(|| panic!("{todo}"))
        .clone();
    assert_eq!(missed["link"], format!("#calls/{}", missed["id"]));
    let call_id = missed["id"].as_i64().unwrap();
    let done = api
        .post(&format!("/api/calls/{call_id}/follow-up"), json!({}))
        .await;
    assert_eq!(done.status(), 204);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'call.follow_up'"),
        1
    );
    // Another org's call, or none, is a 404.
    let missing = api.post("/api/calls/999999/follow-up", json!({})).await;
    assert_eq!(missing.status(), 404);
}
