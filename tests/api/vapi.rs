//! Vapi server webhooks through real HTTP (SPEC §4), shaped like Vapi's documented payloads.

use crate::helpers::{client, get_json, spawn_app, spawn_app_with, TestApp, OWNER_MOBILE};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const AI_LINE: &str = "+15550100004";
const CUSTOMER: &str = "+14155550123";

pub(crate) fn vapi_number_id(app: &TestApp) -> String {
    app.db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT vapi_phone_number_id FROM phone_numbers WHERE e164 = ?1",
            [AI_LINE],
            |r| r.get(0),
        )
        .unwrap()
}

pub(crate) async fn send(app: &TestApp, body: &Value) -> reqwest::Response {
    let secret = app.state.vapi_webhook_secret.clone().unwrap();
    client()
        .post(app.url("/vapi/webhook"))
        .header("X-Vapi-Secret", secret)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn send_ok(app: &TestApp, body: &Value) -> Value {
    let resp = send(app, body).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn call(id: &str, number_id: &str) -> Value {
    json!({ "id": id, "type": "inboundPhoneCall", "phoneNumberId": number_id, "customer": { "number": CUSTOMER } })
}

fn end_of_call_report(id: &str, number_id: &str) -> Value {
    json!({ "message": {
        "type": "end-of-call-report",
        "timestamp": 1763766000000_i64,
        "endedReason": "customer-ended-call",
        "call": call(id, number_id),
        "phoneNumber": { "id": number_id, "number": AI_LINE },
        "customer": { "number": CUSTOMER },
        "artifact": { "transcript": "AI: Demo Plumbing, how can I help?\nUser: My sink is leaking.", "recordingUrl": "https://storage.vapi.ai/rec.wav" },
        "analysis": { "summary": "Caller reported a leaking sink." },
        "cost": 0.087,
        "durationSeconds": 63.2,
        "startedAt": "2025-11-21T22:59:00.000Z",
        "endedAt": "2025-11-21T23:00:03.000Z"
    }})
}

fn status_update(id: &str, number_id: &str, status: &str, ts: i64) -> Value {
    json!({ "message": { "type": "status-update", "status": status, "timestamp": ts, "call": call(id, number_id), "phoneNumber": { "id": number_id } } })
}

#[tokio::test]
async fn the_secret_header_and_bearer_are_accepted_and_anything_else_is_401() {
    let app = spawn_app().await;
    let body = json!({ "message": { "type": "speech-update", "status": "started" } });
    let secret = app.state.vapi_webhook_secret.clone().unwrap();
    let url = app.url("/vapi/webhook");
    assert_eq!(
        client()
            .post(&url)
            .header("X-Vapi-Secret", &secret)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .post(&url)
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let missing = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        client()
            .post(&url)
            .header("X-Vapi-Secret", "wrong")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        client()
            .post(&url)
            .bearer_auth("wrong")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.state.ledger.flush().await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM webhook_ledger WHERE provider = 'vapi' AND http_status = 401"
        ),
        3
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM webhook_ledger WHERE provider = 'vapi' AND http_status = 200"
        ),
        2
    );
}

fn hmac_headers(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn hmac_signatures_are_checked_with_a_five_minute_window() {
    let app = spawn_app_with(&[("SWITCHBOARD_VAPI_WEBHOOK_HMAC_SECRET", "hmac-test-secret")]).await;
    let url = app.url("/vapi/webhook");
    let body = serde_json::to_vec(
        &json!({ "message": { "type": "hang", "call": { "id": "call_hmac" } } }),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let sig = hmac_headers("hmac-test-secret", &now, &body);
    let post = |ts: String, sig: String, body: Vec<u8>| {
        client()
            .post(&url)
            .header("content-type", "application/json")
            .header("x-timestamp", ts)
            .header("x-signature", sig)
            .body(body)
            .send()
    };
    assert_eq!(
        post(now.clone(), sig.clone(), body.clone())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(now.clone(), format!("sha256={sig}"), body.clone())
            .await
            .unwrap()
            .status(),
        200
    );
    // Tampered body, forged signature, stale timestamp.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        post(now.clone(), sig.clone(), tampered)
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(now.clone(), "00".repeat(32), body.clone())
            .await
            .unwrap()
            .status(),
        401
    );
    let stale = (chrono::Utc::now().timestamp_millis() - 10 * 60 * 1000).to_string();
    let stale_sig = hmac_headers("hmac-test-secret", &stale, &body);
    assert_eq!(
        post(stale, stale_sig, body.clone()).await.unwrap().status(),
        401
    );
}

#[tokio::test]
async fn unknown_types_are_accepted_and_garbage_is_a_400_that_names_the_problem() {
    let app = spawn_app().await;
    assert_eq!(send_ok(&app, &json!({ "message": { "type": "model-output", "output": "hi", "brandNewField": [1, 2] } })).await, json!({}));
    let resp = send(&app, &json!({ "type": "status-update" })).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("no \"message\" object"),
        "{err}"
    );
    let secret = app.state.vapi_webhook_secret.clone().unwrap();
    let resp = client()
        .post(app.url("/vapi/webhook"))
        .header("X-Vapi-Secret", secret)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = send(
        &app,
        &json!({ "message": { "type": "status-update", "status": "ended" } }),
    )
    .await;
    // Vapi's schema makes `call` optional: acknowledged (never retried forever), not stored.
    assert_eq!(resp.status(), 200, "a call event without a call id");
    assert_eq!(app.count("SELECT count(*) FROM calls"), 0);
}

#[tokio::test]
async fn assistant_request_answers_with_the_linked_agent_by_id_or_by_number() {
    let app = spawn_app().await;
    let id = vapi_number_id(&app);
    let started = std::time::Instant::now();
    let by_id = send_ok(&app, &json!({ "message": { "type": "assistant-request", "call": call("call_a1", &id), "phoneNumber": { "id": id } } })).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(by_id, json!({ "assistantId": "asst_demo_frontdesk" }));
    let by_number = send_ok(&app, &json!({ "message": { "type": "assistant-request", "call": { "id": "call_a2" }, "phoneNumber": { "number": AI_LINE } } })).await;
    assert_eq!(by_number, json!({ "assistantId": "asst_demo_frontdesk" }));
    assert_eq!(app.count("SELECT count(*) FROM calls WHERE vapi_call_id IN ('call_a1', 'call_a2') AND status = 'ringing'"), 2);
}

#[tokio::test]
async fn assistant_request_without_an_agent_falls_back_and_is_never_silent() {
    let app = spawn_app().await;
    // The demo main line has no agent: the demo org's fallback (support) takes the call.
    let transfer = send_ok(&app, &json!({ "message": { "type": "assistant-request", "call": { "id": "call_f1" }, "phoneNumber": { "number": "+15550100001" } } })).await;
    assert_eq!(
        transfer,
        json!({ "destination": { "type": "number", "number": "+15550100102" } })
    );
    // An org without a fallback number: a spoken error.
    {
        let conn = app.db().conn().unwrap();
        let org = switchboard::db::orgs::create(&conn, "No Fallback Co", "UTC", false).unwrap();
        conn.execute("INSERT INTO phone_numbers (org_id, e164, role, handler, origin) VALUES (?1, '+15550100060', 'operational', 'vapi', 'manual')", [org]).unwrap();
    }
    let refused = send_ok(&app, &json!({ "message": { "type": "assistant-request", "call": { "id": "call_f2" }, "phoneNumber": { "number": "+15550100060" } } })).await;
    assert_eq!(
        refused,
        json!({ "error": "Sorry, no one can take your call right now. Please call back later." })
    );
    let unknown = send_ok(&app, &json!({ "message": { "type": "assistant-request", "phoneNumber": { "number": "+15559999999" } } })).await;
    assert!(unknown["error"].is_string());
    let m = &app.state.desk.metrics;
    assert_eq!(
        m.counter(
            "switchboard_vapi_assistant_fallback_total",
            &[("result", "transfer")]
        ),
        1
    );
    assert_eq!(
        m.counter(
            "switchboard_vapi_assistant_fallback_total",
            &[("result", "no_agent")]
        ),
        1
    );
    assert_eq!(
        m.counter(
            "switchboard_vapi_assistant_fallback_total",
            &[("result", "unknown_number")]
        ),
        1
    );
}

#[tokio::test]
async fn events_in_any_order_converge_on_one_correct_call_that_never_moves_backwards() {
    let app = spawn_app().await;
    let id = vapi_number_id(&app);
    // The report first, then the status updates that should have come before it.
    send_ok(&app, &end_of_call_report("call_o1", &id)).await;
    send_ok(
        &app,
        &status_update("call_o1", &id, "ringing", 1763765940000),
    )
    .await;
    send_ok(
        &app,
        &status_update("call_o1", &id, "in-progress", 1763765941000),
    )
    .await;
    send_ok(&app, &json!({ "message": { "type": "status-update", "status": "ended", "endedReason": "customer-ended-call", "timestamp": "2025-11-21T23:00:03Z", "call": call("call_o1", &id) } })).await;
    send_ok(&app, &json!({ "message": { "type": "conversation-update", "timestamp": 1763765950000_i64, "call": call("call_o1", &id), "messages": [] } })).await;

    let (c, _) = app.owner().await;
    let calls: Value = get_json(&c, app.url("/api/calls?callSid=call_o1")).await;
    let list = calls["calls"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let call = &list[0];
    assert_eq!(call["status"], "ended");
    assert_eq!(call["outcome"], "ai_handled");
    assert_eq!(call["provider"], "vapi");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["fromNumber"], CUSTOMER);
    assert_eq!(call["toNumber"], AI_LINE);
    assert_eq!(
        call["transcript"],
        "AI: Demo Plumbing, how can I help?\nUser: My sink is leaking."
    );
    assert_eq!(call["summary"], "Caller reported a leaking sink.");
    assert_eq!(call["recordingUrl"], "https://storage.vapi.ai/rec.wav");
    assert_eq!(call["cost"], 0.087);
    assert_eq!(call["durationSeconds"], 63);
    assert_eq!(call["endedReason"], "customer-ended-call");
    let detail: Value = get_json(&c, app.url(&format!("/api/calls/{}", call["id"]))).await;
    assert_eq!(detail["events"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn the_same_event_twenty_times_at_once_makes_one_call_and_one_event() {
    let app = spawn_app().await;
    let id = vapi_number_id(&app);
    let body = end_of_call_report("call_d1", &id);
    let secret = app.state.vapi_webhook_secret.clone().unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (url, secret, body) = (app.url("/vapi/webhook"), secret.clone(), body.clone());
            tokio::spawn(async move {
                client()
                    .post(url)
                    .header("X-Vapi-Secret", secret)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE vapi_call_id = 'call_d1'"),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM call_events"), 1);
}

#[tokio::test]
async fn take_message_creates_a_lead_once_and_transfer_returns_the_fallback() {
    let app = spawn_app().await;
    let id = vapi_number_id(&app);
    let body = json!({ "message": {
        "type": "tool-calls",
        "call": call("call_t1", &id),
        "phoneNumber": { "id": id },
        "toolCallList": [
            { "id": "tc_1", "type": "function", "function": { "name": "take_message", "arguments": "{\"name\":\"Dana\",\"message\":\"Please call back about a quote\"}" } },
            { "id": "tc_2", "type": "function", "function": { "name": "transfer_to_human", "arguments": {} } },
            { "id": "tc_3", "type": "function", "function": { "name": "order_pizza", "arguments": {} } }
        ]
    }});
    let reply = send_ok(&app, &body).await;
    assert_eq!(
        reply,
        json!({ "results": [
            { "toolCallId": "tc_1", "name": "take_message", "result": "Message taken. The team will get back to the caller soon." },
            { "toolCallId": "tc_2", "name": "transfer_to_human", "result": "Transfer the caller to +15550100102." },
            { "toolCallId": "tc_3", "name": "order_pizza", "error": "unknown tool 'order_pizza'" }
        ]})
    );
    // Redelivered: still one lead with one note, one owner text.
    send_ok(&app, &body).await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE source = 'vapi'"),
        1
    );
    let summary: String = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT summary FROM leads", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        summary
            .matches("Dana: Please call back about a quote")
            .count(),
        1,
        "{summary}"
    );
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'notification' AND status = 'sent'",
        1,
    )
    .await;
    let to_owner: Vec<_> = app
        .sandbox()
        .sent_messages()
        .into_iter()
        .filter(|m| m.to == OWNER_MOBILE)
        .collect();
    assert_eq!(to_owner.len(), 1);
    assert!(
        to_owner[0]
            .body
            .contains("Dana: Please call back about a quote"),
        "{}",
        to_owner[0].body
    );
}

#[tokio::test]
async fn a_database_that_cannot_be_written_gives_5xx_for_retries_and_polite_twiml_to_callers() {
    let app = spawn_app().await;
    let id = vapi_number_id(&app);
    // Another process holds the write lock for longer than the 5 s database timeout.
    let path = app.db().path().to_path_buf();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(7));
        conn.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
    let body = status_update("call_db1", &id, "in-progress", 1763765941000);
    let tw = app.twilio();
    let entry = [
        ("CallSid", "CA8001"),
        ("From", CUSTOMER),
        ("To", "+15550100001"),
    ];
    let (vapi, voice) = tokio::join!(send(&app, &body), tw.post("/twilio/voice", &entry));
    assert_eq!(vapi.status(), 503, "Vapi may redeliver a 5xx");
    assert_eq!(voice.status(), 200);
    let twiml = voice.text().await.unwrap();
    assert!(
        twiml.contains("Sorry, we are having trouble answering your call.")
            && twiml.ends_with("<Hangup/></Response>"),
        "{twiml}"
    );
    assert!(
        app.state
            .desk
            .metrics
            .counter("switchboard_webhook_errors_total", &[("provider", "vapi")])
            >= 1
    );
    // Twilio's failure is counted too, though the caller heard an apology (a 200).
    assert!(
        app.state.desk.metrics.counter(
            "switchboard_webhook_errors_total",
            &[("provider", "twilio")]
        ) >= 1
    );
    locker.join().unwrap();
    // The redelivery after the outage is applied.
    assert_eq!(send(&app, &body).await.status(), 200);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM calls WHERE vapi_call_id = 'call_db1' AND status = 'in-progress'"
        ),
        1
    );
}
