//! Numbers as people type them (SPEC §7): national and international formats read in the
//! business's country wherever a person types a number, stored as E.164.

use crate::helpers::{spawn_app, Api, CALLER, MAIN_LINE};
use serde_json::{json, Value};

async fn patch_org(api: &Api, body: Value) -> (u16, Value) {
    let resp = api.patch("/api/org", body).await;
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn settings_take_numbers_as_people_type_them_in_the_business_country() {
    let app = spawn_app().await;
    let api = app.owner_api().await;
    let (status, body) = patch_org(&api, json!({ "notificationNumber": "(555) 010-0199" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["org"]["notificationNumber"], "+15550100199");
    assert_eq!(body["org"]["country"], "US");

    let (status, body) = patch_org(&api, json!({ "notificationNumber": "555-0199" })).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'555-0199' is not a phone number: enter one like 415 555 0123"),
        "{message}"
    );
    let (status, body) = patch_org(&api, json!({ "notificationNumber": "1-800-PLUMBER" })).await;
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
        &api,
        json!({ "country": "gb", "fallbackNumber": "020 7946 0958" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["org"]["country"], "GB");
    assert_eq!(body["org"]["fallbackNumber"], "+442079460958");
    let (status, body) = patch_org(&api, json!({ "fallbackNumber": "+1 415 555 0123" })).await;
    assert_eq!(
        (status, body["org"]["fallbackNumber"].clone()),
        (200, json!("+14155550123"))
    );
    let (status, body) = patch_org(&api, json!({ "country": "Narnia" })).await;
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
    let api = app.owner_api().await;
    let calls = api.get("/api/calls?caller=(415)%20555-0123").await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 1, "{calls}");
    let resp = api
        .client
        .get(app.url("/api/calls?caller=555"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // The menu rings a number typed nationally; an unreadable one is named at its option.
    let mut flow = api.get("/api/call-flow").await["callFlow"].clone();
    flow["menu"][0]["action"]["targets"] = json!(["(555) 010-0155"]);
    assert_eq!(api.put("/api/call-flow", flow.clone()).await.status(), 200);
    let saved = api.get("/api/call-flow").await;
    assert_eq!(
        saved["callFlow"]["menu"][0]["action"]["targets"],
        json!(["+15550100155"])
    );
    flow["menu"][0]["action"]["targets"] = json!(["555-0199"]);
    let resp = api.put("/api/call-flow", flow).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    let problem = &err["error"]["problems"][0];
    assert_eq!(problem["path"], "menu[0].action", "{err}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("like 415 555 0123"),
        "{err}"
    );

    let resp = api
        .post("/api/blocklist", json!({ "number": "415.555.0177" }))
        .await;
    assert_eq!(resp.status(), 201);
    let entry: Value = resp.json().await.unwrap();
    assert_eq!(entry["entry"]["number"], "+14155550177");
}
