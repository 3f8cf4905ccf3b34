//! Numbers for a real business against the demo's sandbox providers: bring your own number,
//! buy one, change it, release it, and the rules around them (SPEC §5, §6.2).

use crate::helpers::{expect_error, get_json, spawn_app, CALLER};
use reqwest::Client;
use serde_json::{json, Value};

const IMPORTABLE: &str = "+15550100010";
const AI_LINE: &str = "+15550100004";

async fn send(
    c: &Client,
    csrf: &str,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = c.request(method, url).header("X-CSRF-Token", csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_owned_number_is_imported_pointed_here_and_answers_the_menu() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let list: Value = get_json(&c, app.url("/api/numbers/importable")).await;
    let offered: Vec<&str> = list["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["phoneNumber"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["+15550100010", "+15550100011"], "{list}");
    assert_eq!(list["numbers"][0]["pointsHere"], false);

    // Before the import a call to it is a `system` call: rejected.
    let before = app.twilio().call("CA_byo_0", CALLER, IMPORTABLE).await;
    assert!(before.contains("<Reject"), "{before}");

    let resp = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/numbers/import"),
        Some(json!({ "e164": IMPORTABLE, "role": "operational", "friendlyName": "Shop line" })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["number"]["origin"], "imported");
    assert_eq!(body["number"]["role"], "operational");
    assert_eq!(body["number"]["friendlyName"], "Shop line");

    let master = app.state.accounts.master().cloned().unwrap();
    let at_twilio = app
        .sandbox()
        .owned_numbers(&master.account_sid)
        .into_iter()
        .find(|n| n.phone_number == IMPORTABLE)
        .unwrap();
    assert_eq!(at_twilio.voice_url.unwrap(), app.url("/twilio/voice"));
    assert_eq!(at_twilio.sms_url.unwrap(), app.url("/twilio/sms"));
    assert_eq!(
        at_twilio.status_callback.unwrap(),
        app.url("/twilio/voice/status")
    );

    let twiml = app.twilio().call("CA_byo_1", CALLER, IMPORTABLE).await;
    assert!(twiml.contains("<Gather"), "{twiml}");

    let again = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/numbers/import"),
        Some(json!({ "e164": IMPORTABLE, "role": "operational" })),
    )
    .await;
    expect_error(again, 409, "number_taken").await;
    let missing = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/numbers/import"),
        Some(json!({ "e164": "+15550109999", "role": "operational" })),
    )
    .await;
    expect_error(missing, 404, "not_found").await;
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'number.import'"),
        1
    );
}

#[tokio::test]
async fn invalid_role_and_handler_combinations_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let resp = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/numbers/import"),
        Some(json!({ "e164": IMPORTABLE, "role": "onboarding", "handler": "vapi" })),
    )
    .await;
    let err = expect_error(resp, 400, "invalid_assignment").await;
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("text messages only"));
    let resp = send(
        &c,
        &csrf,
        reqwest::Method::PATCH,
        app.url("/api/numbers/+15550100002"),
        Some(json!({ "handler": "vapi" })),
    )
    .await;
    expect_error(resp, 400, "invalid_assignment").await;
    let resp = send(
        &c,
        &csrf,
        reqwest::Method::PATCH,
        app.url("/api/numbers/not-a-number"),
        Some(json!({ "role": "system" })),
    )
    .await;
    expect_error(resp, 400, "invalid_field").await;
    // Nothing was imported or changed.
    assert_eq!(
        app.count("SELECT count(*) FROM phone_numbers WHERE origin = 'imported'"),
        0
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM phone_numbers WHERE e164 = '+15550100002' AND handler = 'ivr'"
        ),
        1
    );
}

#[tokio::test]
async fn a_number_is_bought_in_the_org_subaccount_and_the_one_number_rule_holds() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let found: Value = get_json(
        &c,
        app.url("/api/managed-telephony/available-numbers?areaCode=415&numberType=local"),
    )
    .await;
    let first = found["numbers"][0]["phoneNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first, "+14155550100");
    let none: Value = get_json(
        &c,
        app.url("/api/managed-telephony/available-numbers?areaCode=533"),
    )
    .await;
    assert_eq!(none["numbers"], json!([]));
    assert!(none["hint"].as_str().unwrap().contains("nearby area code"));
    let bad = c
        .get(app.url("/api/managed-telephony/available-numbers?areaCode=41"))
        .send()
        .await
        .unwrap();
    let err = expect_error(bad, 400, "invalid_field").await;
    assert!(err["message"].as_str().unwrap().starts_with("areaCode"));
    let bad = c
        .get(app.url("/api/managed-telephony/available-numbers?numberType=satellite"))
        .send()
        .await
        .unwrap();
    let err = expect_error(bad, 400, "invalid_field").await;
    assert!(err["message"].as_str().unwrap().starts_with("numberType"));

    let resp = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/managed-telephony/numbers"),
        Some(json!({ "phoneNumber": first, "friendlyName": "Van line" })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["number"]["origin"], "managed");
    let sub = body["number"]["accountSid"].as_str().unwrap().to_string();
    assert!(sub.starts_with("AC"));
    assert_eq!(app.sandbox().owned_numbers(&sub).len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_accounts WHERE kind = 'subaccount' AND is_managed = 1 AND status = 'active' AND secret_ciphertext IS NOT NULL"),
        1
    );
    let status: Value = get_json(&c, app.url("/api/managed-telephony/phone-status")).await;
    assert_eq!(
        status,
        json!({ "hasPhoneNumber": true, "phoneNumberType": "managed", "phoneNumber": first })
    );

    // The limit answers before any provider call: nothing new at the sandbox.
    let second = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/managed-telephony/numbers"),
        Some(json!({ "phoneNumber": "+14155550101" })),
    )
    .await;
    expect_error(second, 409, "number_limit_reached").await;
    assert_eq!(app.sandbox().owned_numbers(&sub).len(), 1);

    // The step log the dashboard shows while a purchase runs.
    let progress: Value = get_json(&c, app.url("/api/managed-telephony/provisioning")).await;
    assert_eq!(progress["saga"]["state"], "completed");
    let names: Vec<&str> = progress["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ensure_subaccount",
            "buy_number",
            "vapi_import",
            "write_number"
        ]
    );

    // Release: the number goes back, the emptied subaccount is closed and forgotten.
    let released = send(
        &c,
        &csrf,
        reqwest::Method::DELETE,
        app.url(&format!("/api/managed-telephony/numbers/{first}")),
        None,
    )
    .await;
    assert_eq!(released.status(), 200);
    let first_result: Value = released.json().await.unwrap();
    assert_eq!(first_result["number"]["status"], "released");
    assert!(app.sandbox().owned_numbers(&sub).is_empty());
    assert_eq!(
        app.count("SELECT count(*) FROM provider_accounts WHERE kind = 'subaccount' AND (status = 'active' OR secret_ciphertext IS NOT NULL)"),
        0
    );
    let twice = send(
        &c,
        &csrf,
        reqwest::Method::DELETE,
        app.url(&format!("/api/managed-telephony/numbers/{first}")),
        None,
    )
    .await;
    assert_eq!(twice.status(), 200);
    assert_eq!(twice.json::<Value>().await.unwrap(), first_result);

    // With the slot free again, another number can be bought (in a new subaccount).
    let third = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/managed-telephony/numbers"),
        Some(json!({ "phoneNumber": "+14155550102" })),
    )
    .await;
    assert_eq!(third.status(), 201);
}

#[tokio::test]
async fn a_released_number_is_gone_from_every_query_and_calls_to_it_are_rejected() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let plan: Value = send(
        &c,
        &csrf,
        reqwest::Method::DELETE,
        app.url(&format!("/api/numbers/{AI_LINE}?dryRun=true")),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(plan["plan"]["agentsToUnlink"][0]["name"], "Front desk AI");
    let steps: Vec<&str> = plan["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["vapi_delete", "write_release"]);
    // A dry run changes nothing.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM phone_numbers WHERE e164 = '{AI_LINE}' AND status = 'active'"
        )),
        1
    );

    let resp = send(
        &c,
        &csrf,
        reqwest::Method::DELETE,
        app.url(&format!("/api/numbers/{AI_LINE}")),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let numbers: Value = get_json(&c, app.url("/api/numbers")).await;
    assert!(!numbers.to_string().contains(AI_LINE), "{numbers}");
    let agents: Value = get_json(&c, app.url("/api/agents")).await;
    assert_eq!(agents["agents"][0]["numbers"], json!([]), "{agents}");
    let status: Value = get_json(&c, app.url("/api/managed-telephony/status")).await;
    assert!(!status["numbers"].to_string().contains(AI_LINE));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM phone_numbers WHERE e164 = '{AI_LINE}' AND agent_id IS NOT NULL"
        )),
        0
    );
    let twiml = app.twilio().call("CA_released", CALLER, AI_LINE).await;
    assert!(twiml.contains("<Reject"), "{twiml}");
    // The agent is free now, so it can be removed.
    let agent_id = agents["agents"][0]["id"].as_i64().unwrap();
    let del = send(
        &c,
        &csrf,
        reqwest::Method::DELETE,
        app.url(&format!("/api/agents/{agent_id}")),
        None,
    )
    .await;
    assert_eq!(del.status(), 204);
}

#[tokio::test]
async fn agents_are_added_linked_and_not_removable_while_they_answer_a_number() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let resp = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/agents"),
        Some(json!({ "name": "After-hours AI", "vapiAssistantId": "asst_after_hours" })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let agent: Value = resp.json().await.unwrap();
    let id = agent["agent"]["id"].as_i64().unwrap();
    let dup = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/agents"),
        Some(json!({ "name": "After-hours AI" })),
    )
    .await;
    expect_error(dup, 409, "agent_exists").await;
    let bad = send(
        &c,
        &csrf,
        reqwest::Method::POST,
        app.url("/api/agents"),
        Some(json!({ "name": "X", "sipUri": "http://nope" })),
    )
    .await;
    expect_error(bad, 400, "invalid_field").await;

    let linked = send(
        &c,
        &csrf,
        reqwest::Method::PATCH,
        app.url(&format!("/api/numbers/{AI_LINE}")),
        Some(json!({ "agentId": id })),
    )
    .await;
    assert_eq!(linked.status(), 200);
    let vapi_id: String = app
        .db()
        .conn()
        .unwrap()
        .query_row(
            &format!("SELECT vapi_phone_number_id FROM phone_numbers WHERE e164 = '{AI_LINE}'"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    let state = app.state.clone();
    let at_vapi = state
        .providers
        .vapi
        .get_phone_number(&vapi_id)
        .await
        .unwrap();
    assert_eq!(at_vapi.assistant_id.as_deref(), Some("asst_after_hours"));

    let refused = send(
        &c,
        &csrf,
        reqwest::Method::DELETE,
        app.url(&format!("/api/agents/{id}")),
        None,
    )
    .await;
    let err = expect_error(refused, 409, "agent_linked").await;
    assert!(err["message"].as_str().unwrap().contains(AI_LINE));

    // Back to the menu: Vapi forgets the number, the voice URL points here again.
    let ivr = send(
        &c,
        &csrf,
        reqwest::Method::PATCH,
        app.url(&format!("/api/numbers/{AI_LINE}")),
        Some(json!({ "handler": "ivr", "agentId": null })),
    )
    .await;
    assert_eq!(ivr.status(), 200);
    assert!(state
        .providers
        .vapi
        .get_phone_number(&vapi_id)
        .await
        .is_err());
    let twiml = app.twilio().call("CA_back_to_ivr", CALLER, AI_LINE).await;
    assert!(twiml.contains("<Gather"), "{twiml}");
}

#[tokio::test]
async fn a_disabled_managed_telephony_flag_answers_the_exact_403_on_every_route() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let off = send(
        &c,
        &csrf,
        reqwest::Method::PUT,
        app.url("/api/feature-flags/managed_telephony/override"),
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(off.status(), 200);
    let expected = json!({ "error": {
        "code": "feature_disabled",
        "flag": "managed_telephony",
        "message": "Managed telephony is not enabled for this organization.",
        "hint": "An admin can turn it on in Settings → Features.",
    }});
    let routes = [
        (reqwest::Method::GET, "/api/managed-telephony/status", None),
        (
            reqwest::Method::GET,
            "/api/managed-telephony/phone-status",
            None,
        ),
        (
            reqwest::Method::GET,
            "/api/managed-telephony/available-numbers?areaCode=415",
            None,
        ),
        (reqwest::Method::GET, "/api/managed-telephony/numbers", None),
        (
            reqwest::Method::GET,
            "/api/managed-telephony/provisioning",
            None,
        ),
        (
            reqwest::Method::POST,
            "/api/managed-telephony/numbers",
            Some(json!({ "phoneNumber": "+14155550100" })),
        ),
        (
            reqwest::Method::PATCH,
            "/api/managed-telephony/numbers/+15550100001",
            Some(json!({ "friendlyName": "x" })),
        ),
        (
            reqwest::Method::DELETE,
            "/api/managed-telephony/numbers/+15550100001",
            None,
        ),
    ];
    for (method, path, body) in routes {
        let resp = send(&c, &csrf, method.clone(), app.url(path), body).await;
        assert_eq!(resp.status(), 403, "{method} {path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            expected,
            "{method} {path}"
        );
    }
    // Bring-your-own stays available, and nothing was changed.
    let importable = c
        .get(app.url("/api/numbers/importable"))
        .send()
        .await
        .unwrap();
    assert_eq!(importable.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM phone_numbers WHERE status = 'active'"),
        4
    );
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_reuse_and_let_one_of_twenty_concurrent_buys_through() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let buy = |key: &str, number: &str| {
        c.post(app.url("/api/managed-telephony/numbers"))
            .header("X-CSRF-Token", &csrf)
            .header("Idempotency-Key", key)
            .json(&json!({ "phoneNumber": number }))
            .send()
    };
    let handles: Vec<_> = (0..20)
        .map(|_| tokio::spawn(buy("buy-once", "+14155550100")))
        .collect();
    let mut statuses: Vec<u16> = Vec::new();
    let mut created = 0;
    for h in handles {
        let r = h.await.unwrap().unwrap();
        let s = r.status().as_u16();
        let replayed = r.headers().get("idempotent-replayed").is_some();
        if s == 201 && !replayed {
            created += 1;
        }
        statuses.push(s);
    }
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM phone_numbers WHERE origin = 'managed'"),
        1
    );
    let subs = app.count("SELECT count(*) FROM provider_accounts WHERE kind = 'subaccount'");
    assert_eq!(subs, 1);

    let replay = buy("buy-once", "+14155550100").await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let reused = buy("buy-once", "+14155550199").await.unwrap();
    expect_error(reused, 422, "idempotency_key_reused").await;
    let bad_key = buy("has space", "+14155550100").await.unwrap();
    expect_error(bad_key, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn the_business_settings_are_validated_and_missing_ones_are_warned_about() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let bad = send(
        &c,
        &csrf,
        reqwest::Method::PATCH,
        app.url("/api/org"),
        Some(json!({ "timezone": "Mars/Olympus" })),
    )
    .await;
    let err = expect_error(bad, 400, "invalid_field").await;
    assert!(err["message"].as_str().unwrap().starts_with("timezone"));
    let bad = send(
        &c,
        &csrf,
        reqwest::Method::PATCH,
        app.url("/api/org"),
        Some(json!({ "notificationNumber": "555-1234" })),
    )
    .await;
    expect_error(bad, 400, "invalid_field").await;
    let ok: Value = send(
        &c,
        &csrf,
        reqwest::Method::PATCH,
        app.url("/api/org"),
        Some(json!({ "timezone": "America/Chicago", "notificationNumber": null, "fallbackNumber": "+14155550177" })),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ok["org"]["timezone"], "America/Chicago");
    assert_eq!(ok["org"]["notificationNumber"], Value::Null);
    assert_eq!(ok["org"]["fallbackNumber"], "+14155550177");
    assert!(ok["warnings"][0]
        .as_str()
        .unwrap()
        .contains("No notification number"));
    let health: Value = get_json(&c, app.url("/api/health")).await;
    assert!(health["warnings"]
        .to_string()
        .contains("No notification number"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'org.update'"),
        1
    );
}
