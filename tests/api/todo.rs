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

/// The newcomer's morning in Chromium at phone width: two missed calls, a caller who hangs up after 3 s,
/// and two AI calls whose summaries ask for a call back leave exactly four things to do
/// on the Overview (the hang-up is not one), counted in the navigation; Done on each
/// clears it.
#[tokio::test]
async fn in_the_browser_a_morning_of_calls_leaves_four_to_dos_and_done_clears_each() {
    use crate::browser::{click, signed_in_at, wait_for, wait_gone, wait_visible_text};
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]).await;
    let tw = app.twilio();
    tw.missed_call("CAMORN1", "+14155550161").await;
    tw.missed_call("CAMORN2", "+14155550162").await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        2,
    )
    .await;
    tw.call("CAMORN3", "+14155550163", MAIN_LINE).await;
    tw.status("CAMORN3", "+14155550163", MAIN_LINE, "completed", "3")
        .await;
    let number_id = crate::vapi::vapi_number_id(&app);
    for (id, customer) in [
        ("vapi-morn-4", "+14155550164"),
        ("vapi-morn-5", "+14155550165"),
    ] {
        let report = json!({ "message": {
            "type": "end-of-call-report",
            "endedReason": "customer-ended-call",
            "call": { "id": id, "type": "inboundPhoneCall", "phoneNumberId": number_id, "customer": { "number": customer } },
            "phoneNumber": { "id": number_id, "number": "+15550100004" },
            "customer": { "number": customer },
            "analysis": { "summary": "Boiler is making a banging noise. Please call me back after 5." },
            "durationSeconds": 71.0
        }});
        // Vapi may repeat its report; the conversation gets the summary once.
        for _ in 0..2 {
            assert_eq!(crate::vapi::send(&app, &report).await.status(), 200);
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE source = 'vapi' AND summary LIKE '%call me back%' AND summary NOT LIKE '%call me back%call me back%'"),
        2
    );

    let Some((_driver, c)) = signed_in_at(&app, "").await else {
        return;
    };
    // On the phone in the van: 400 px wide.
    c.set_window_rect(0, 0, 400, 900).await.unwrap();
    c.refresh().await.unwrap();
    wait_for(&c, "#todo-list li").await;
    let top = c
        .execute(
            "return document.getElementById('todo-list').getBoundingClientRect().top;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        top.as_f64().unwrap() < 900.0,
        "the to-do list starts within the first screen: {top}"
    );
    let items = c
        .execute(
            "return [...document.querySelectorAll('#todo-list li')].map((li) => li.querySelector('p').textContent);",
            vec![],
        )
        .await
        .unwrap();
    let mut items: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    items.sort();
    assert_eq!(
        items,
        [
            "(415) 555-0161 is waiting for an answer (a missed call or a call-back request)",
            "(415) 555-0162 is waiting for an answer (a missed call or a call-back request)",
            "(415) 555-0164 is waiting for an answer",
            "(415) 555-0165 is waiting for an answer",
        ]
    );
    let todo = wait_visible_text(&c, "#todo-list").await;
    assert!(todo.contains("Please call me back after 5."), "{todo}");
    // The menu is folded at this width: its button carries the count.
    assert_eq!(wait_visible_text(&c, "#nav-toggle-todo").await, "4");
    for _ in 0..4 {
        click(&c, "#todo-list li .todo-actions button").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    wait_visible_text(&c, "#todo-none").await;
    wait_gone(&c, "#nav-todo:not([hidden])").await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE status = 'open'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE outcome IN ('missed', 'ai_handled') AND followed_up_at IS NULL"),
        0,
        "handling each conversation followed its call up"
    );
    c.close().await.unwrap();
}
