//! Numbers as people type them (SPEC §7): national and international formats read in the
//! business's country wherever a person types a number, stored as E.164.

use crate::helpers::{get_json, spawn_app, TestApp, CALLER, MAIN_LINE};
use serde_json::{json, Value};

async fn patch_org(app: &TestApp, body: Value) -> (u16, Value) {
    let (c, csrf) = app.owner().await;
    let resp = c
        .patch(app.url("/api/org"))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn settings_take_numbers_as_people_type_them_in_the_business_country() {
    let app = spawn_app().await;
    let (status, body) = patch_org(&app, json!({ "notificationNumber": "(555) 010-0199" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["org"]["notificationNumber"], "+15550100199");
    assert_eq!(body["org"]["country"], "US");

    let (status, body) = patch_org(&app, json!({ "notificationNumber": "555-0199" })).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'555-0199' is not a phone number: enter one like 415 555 0123"),
        "{message}"
    );
    let (status, body) = patch_org(&app, json!({ "notificationNumber": "1-800-PLUMBER" })).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("digits, not letters"),
        "{body}"
    );

    // A UK business reads UK numbers; a + number is read as written anywhere.
    let (status, body) = patch_org(
        &app,
        json!({ "country": "gb", "fallbackNumber": "020 7946 0958" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["org"]["country"], "GB");
    assert_eq!(body["org"]["fallbackNumber"], "+442079460958");
    let (status, body) = patch_org(&app, json!({ "fallbackNumber": "+1 415 555 0123" })).await;
    assert_eq!(
        (status, body["org"]["fallbackNumber"].clone()),
        (200, json!("+14155550123"))
    );
    let (status, body) = patch_org(&app, json!({ "country": "Narnia" })).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("country:"),
        "{body}"
    );
}

#[tokio::test]
async fn the_calls_filter_the_call_flow_and_the_blocklist_read_typed_numbers() {
    let app = spawn_app().await;
    app.twilio().call("CATYPED1", CALLER, MAIN_LINE).await;
    let (c, csrf) = app.owner().await;
    let calls: Value = get_json(&c, app.url("/api/calls?caller=(415)%20555-0123")).await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 1, "{calls}");
    let resp = c
        .get(app.url("/api/calls?caller=555"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // The menu rings a number typed nationally; an unreadable one is named at its option.
    let mut flow: Value = get_json(&c, app.url("/api/call-flow")).await;
    flow["callFlow"]["menu"][0]["action"]["targets"] = json!(["(555) 010-0155"]);
    let resp = c
        .put(app.url("/api/call-flow"))
        .header("x-csrf-token", &csrf)
        .json(&flow["callFlow"])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let saved: Value = get_json(&c, app.url("/api/call-flow")).await;
    assert_eq!(
        saved["callFlow"]["menu"][0]["action"]["targets"],
        json!(["+15550100155"])
    );
    flow["callFlow"]["menu"][0]["action"]["targets"] = json!(["555-0199"]);
    let resp = c
        .put(app.url("/api/call-flow"))
        .header("x-csrf-token", &csrf)
        .json(&flow["callFlow"])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(
        err["error"]["problems"][0]["path"], "menu[0].action",
        "{err}"
    );
    assert!(
        err["error"]["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("like 415 555 0123"),
        "{err}"
    );

    let resp = c
        .post(app.url("/api/blocklist"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "number": "415.555.0177" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let entry: Value = resp.json().await.unwrap();
    assert_eq!(entry["entry"]["number"], "+14155550177");
}
