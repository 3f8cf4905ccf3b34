//! Every Vapi server message in `tests/fixtures/vapi/` (real captures and the examples of
//! Vapi's own docs; provenance in `tests/fixtures/SOURCES.md`) replayed against the demo with
//! only ids and numbers adapted, each with its documented result; every answer is checked
//! against the response schema in Vapi's OpenAPI (SPEC §4).

use crate::helpers::{client, spawn_app, TestApp};
use serde_json::{json, Value};

const AI_LINE: &str = "+15550100004";
const SUPPORT: &str = "+15550100102";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Value {
    let path = format!("{FIXTURES}/vapi/{name}");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// The fixture as if it came for the demo's AI line: its phone number id and number become
/// ours, and its call id `call_id` (so tests do not share calls).
fn adapted(app: &TestApp, name: &str, call_id: &str) -> Value {
    let mut v = fixture(name);
    let ours: String = app
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT vapi_phone_number_id FROM phone_numbers WHERE e164 = ?1",
            [AI_LINE],
            |r| r.get(0),
        )
        .unwrap();
    let m = &mut v["message"];
    if let Some(call) = m.get_mut("call").and_then(Value::as_object_mut) {
        call.insert("id".into(), json!(call_id));
        if call.contains_key("phoneNumberId") {
            call.insert("phoneNumberId".into(), json!(ours));
        }
    }
    if let Some(number) = m.get_mut("phoneNumber").and_then(Value::as_object_mut) {
        number.insert("id".into(), json!(ours));
        number.insert("number".into(), json!(AI_LINE));
    }
    v
}

/// The schema of Vapi's answer to `response` (e.g. `ServerMessageResponseToolCalls`), with
/// every component it refers to.
fn validator(response: &str) -> jsonschema::Validator {
    let path = format!("{FIXTURES}/schema/vapi-openapi-server-message-responses.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schema = json!({
        "$ref": format!("#/components/schemas/{response}"),
        "components": doc["components"],
    });
    jsonschema::draft7::new(&schema).unwrap_or_else(|e| panic!("{response}: {e}"))
}

fn assert_valid(response: &str, body: &Value) {
    let v = validator(response);
    let errors: Vec<String> = v.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "our answer is not a {response}: {errors:?}\n{body}"
    );
}

async fn send(app: &TestApp, body: &Value) -> Value {
    let resp = client()
        .post(app.url("/vapi/webhook"))
        .header(
            "X-Vapi-Secret",
            app.state.vapi_webhook_secret.clone().unwrap(),
        )
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn call_row(app: &TestApp, vapi_id: &str, column: &str) -> Value {
    app.db()
        .conn()
        .unwrap()
        .query_row(
            &format!("SELECT json_quote({column}) FROM calls WHERE vapi_call_id = ?1"),
            [vapi_id],
            |r| r.get::<_, String>(0),
        )
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or_else(|e| panic!("call {vapi_id}: {e}"))
}

#[tokio::test]
async fn assistant_requests_answer_the_linked_assistant_in_vapis_schema() {
    let app = spawn_app().await;
    for name in [
        "V01_assistant-request_vapi4k_2024-07.json",
        "V16_assistant-request_vapi-skills.json",
    ] {
        let answer = send(&app, &adapted(&app, name, &format!("call-{name}"))).await;
        assert!(answer["assistantId"].is_string(), "{name}: {answer}");
        assert_valid("ServerMessageResponseAssistantRequest", &answer);
    }
    // No agent: the org's fallback person; no fallback either: a spoken error.
    let db = || app.db().conn().unwrap();
    db().execute(
        "UPDATE phone_numbers SET agent_id = NULL WHERE e164 = ?1",
        [AI_LINE],
    )
    .unwrap();
    let name = "V16_assistant-request_vapi-skills.json";
    let answer = send(&app, &adapted(&app, name, "call-v16-fallback")).await;
    assert_eq!(answer["destination"]["number"], SUPPORT, "{answer}");
    assert_valid("ServerMessageResponseAssistantRequest", &answer);
    db().execute("UPDATE orgs SET fallback_number = NULL", [])
        .unwrap();
    let answer = send(&app, &adapted(&app, name, "call-v16-error")).await;
    assert!(answer["error"].is_string(), "{answer}");
    assert_valid("ServerMessageResponseAssistantRequest", &answer);
}

#[tokio::test]
async fn the_other_documented_events_are_acknowledged() {
    let app = spawn_app().await;
    for name in [
        "V11_transcript_vapi-docs.json",
        "V12_transcript-final_vapi-skills.json",
        "V13_speech-update_vapi-docs.json",
        "V14_user-interrupted_vapi-docs.json",
    ] {
        assert_eq!(send(&app, &fixture(name)).await, json!({}), "{name}");
    }
    assert_eq!(app.count("SELECT count(*) FROM calls"), 0);
}

#[tokio::test]
async fn a_call_that_never_reached_an_assistant_is_failed_counted_once_and_logged() {
    let app = spawn_app().await;
    let body = adapted(
        &app,
        "V02_status-update-ended-debug_vapi4k_2024-07.json",
        "call-v02",
    );
    assert_eq!(
        body["message"]["endedReason"],
        "assistant-request-returned-invalid-assistant"
    );
    assert_eq!(send(&app, &body).await, json!({}));
    assert_eq!(send(&app, &body).await, json!({}), "a redelivery");
    assert_eq!(call_row(&app, "call-v02", "outcome"), "failed");
    assert_eq!(call_row(&app, "call-v02", "status"), "ended");
    let m = &app.state.desk.metrics;
    assert_eq!(
        m.counter(
            "switchboard_invariant_violations_total",
            &[("name", "vapi_call_dropped")]
        ),
        1
    );
    assert_eq!(
        m.counter(
            "switchboard_vapi_failed_calls_total",
            &[("reason", "assistant-request-returned-invalid-assistant")]
        ),
        1
    );
}

#[tokio::test]
async fn web_calls_and_legacy_reports_store_what_they_carry() {
    let app = spawn_app().await;
    // A web call in progress (epoch-ms timestamp), then its report (2025 shape).
    send(
        &app,
        &adapted(
            &app,
            "V03_status-update-inprogress-webcall_vapi4k_2024-09.json",
            "call-v03",
        ),
    )
    .await;
    assert_eq!(call_row(&app, "call-v03", "status"), "in-progress");
    assert_eq!(call_row(&app, "call-v03", "direction"), "web");
    send(
        &app,
        &adapted(
            &app,
            "V05_status-update-inprogress-webcall_finzie_2025-06.json",
            "call-v06",
        ),
    )
    .await;
    send(
        &app,
        &adapted(
            &app,
            "V06_end-of-call-report-webcall_finzie_2025-06.json",
            "call-v06",
        ),
    )
    .await;
    assert_eq!(call_row(&app, "call-v06", "duration_seconds"), 25);
    assert_eq!(call_row(&app, "call-v06", "outcome"), "ai_handled");
    assert!(call_row(&app, "call-v06", "recording_url")
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert!(
        call_row(&app, "call-v06", "transcript")
            .as_str()
            .unwrap()
            .len()
            > 20
    );
    // The 2024 report with top-level transcript and summary and a stale "ringing" status.
    send(
        &app,
        &adapted(
            &app,
            "V04_end-of-call-report-legacy_vapi4k_2024-07.json",
            "call-v04",
        ),
    )
    .await;
    assert!(
        call_row(&app, "call-v04", "summary")
            .as_str()
            .unwrap()
            .len()
            > 10
    );
    assert!(
        call_row(&app, "call-v04", "transcript")
            .as_str()
            .unwrap()
            .len()
            > 10
    );
    assert_eq!(call_row(&app, "call-v04", "to_number"), AI_LINE);
}

#[tokio::test]
async fn a_report_with_only_start_and_end_times_stores_the_duration() {
    let app = spawn_app().await;
    let body = adapted(&app, "V15_end-of-call-report_vapi-skills.json", "call-v15");
    assert!(body["message"].get("durationSeconds").is_none());
    send(&app, &body).await;
    assert_eq!(call_row(&app, "call-v15", "duration_seconds"), 180);
    assert_eq!(call_row(&app, "call-v15", "direction"), "outbound");
}

#[tokio::test]
async fn messages_without_a_call_are_acknowledged_not_refused() {
    let app = spawn_app().await;
    let conversation = fixture("V10_conversation-update_vapi-docs.json");
    assert!(conversation["message"].get("call").is_none());
    assert_eq!(send(&app, &conversation).await, json!({}));
    for kind in ["hang", "status-update", "end-of-call-report"] {
        let body = json!({ "message": { "type": kind, "status": "ended", "endedReason": "customer-ended-call" } });
        assert_eq!(send(&app, &body).await, json!({}), "{kind}");
    }
    assert_eq!(app.count("SELECT count(*) FROM calls"), 0);
    // The skills page's hang and status update carry only a call id: kept on that call.
    send(
        &app,
        &adapted(&app, "V17_status-update_vapi-skills.json", "call-v17"),
    )
    .await;
    send(
        &app,
        &adapted(&app, "V09_hang_vapi-skills.json", "call-v17"),
    )
    .await;
    assert_eq!(call_row(&app, "call-v17", "status"), "in-progress");
    assert_eq!(
        app.state.desk.metrics.counter(
            "switchboard_invariant_violations_total",
            &[("name", "vapi_hang")]
        ),
        2
    );
}

#[tokio::test]
async fn tool_calls_in_the_docs_shape_keep_the_callers_message() {
    let app = spawn_app().await;
    let body = adapted(&app, "V08_tool-calls_vapi-docs.json", "call-v08");
    let answer = send(&app, &body).await;
    assert_valid("ServerMessageResponseToolCalls", &answer);
    assert_eq!(answer["results"][0]["toolCallId"], "abc123");
    assert!(
        answer["results"][0]["result"]
            .as_str()
            .unwrap()
            .contains("Message taken"),
        "{answer}"
    );
    let summary: String = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT summary FROM leads", [], |r| r.get(0))
        .unwrap();
    assert_eq!(summary, "Hi!");

    // A take_message without a message is an error the assistant hears, not "taken".
    let mut empty = body.clone();
    empty["message"]["call"]["id"] = json!("call-v08b");
    empty["message"]["toolCallList"][0]["id"] = json!("abc124");
    empty["message"]["toolCallList"][0]["parameters"] =
        json!({ "emailAddress": "john@example.com" });
    let answer = send(&app, &empty).await;
    assert_valid("ServerMessageResponseToolCalls", &answer);
    assert!(answer["results"][0]["error"]
        .as_str()
        .unwrap()
        .contains("No message was given"));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 1);

    // The 2024 capture's tool is not one of ours: an error result, still in Vapi's schema.
    let answer = send(
        &app,
        &adapted(&app, "V07_tool-calls_vapi4k_2024-07.json", "call-v07"),
    )
    .await;
    assert_valid("ServerMessageResponseToolCalls", &answer);
    assert_eq!(answer["results"][0]["toolCallId"], "call_51kj");
    assert!(answer["results"][0]["error"]
        .as_str()
        .unwrap()
        .contains("unknown tool"));
}

#[tokio::test]
async fn a_transfer_destination_request_gets_the_fallback_number_or_a_spoken_error() {
    let app = spawn_app().await;
    let body = adapted(
        &app,
        "V18_transfer-destination-request_vapi-docs.json",
        "call-v18",
    );
    let answer = send(&app, &body).await;
    assert_valid("ServerMessageResponseTransferDestinationRequest", &answer);
    assert_eq!(
        answer["destination"],
        json!({ "type": "number", "number": SUPPORT })
    );

    app.db()
        .conn()
        .unwrap()
        .execute("UPDATE orgs SET fallback_number = NULL", [])
        .unwrap();
    let mut again = body.clone();
    again["message"]["call"]["id"] = json!("call-v18b");
    let answer = send(&app, &again).await;
    assert_valid("ServerMessageResponseTransferDestinationRequest", &answer);
    assert!(answer.get("destination").is_none());
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("No one is available"),
        "{answer}"
    );
}

#[test]
fn the_schema_check_refuses_a_wrong_answer() {
    // The control: a result that is not a string is caught, so the checks above can fail.
    let v = validator("ServerMessageResponseToolCalls");
    assert!(!v.is_valid(&json!({ "results": [{ "toolCallId": "a", "name": "n", "result": 5 }] })));
    assert!(!v.is_valid(&json!({ "results": [{ "result": "no id" }] })));
}
