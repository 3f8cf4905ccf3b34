//! Every Twilio webhook parameter set in `tests/fixtures/twilio/` (public captures; the
//! provenance is in `tests/fixtures/SOURCES.md`) replayed against the demo, re-signed for
//! its URL with only the account, call and message ids and the phone numbers adapted —
//! geo fields, empty values, Studio extras and JSON-valued `AddOns` are sent as captured.

use crate::helpers::{spawn_app, TestApp, CALLER, MAIN_LINE};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/twilio");

/// The fixture's parameters, in order, as Twilio sent them.
fn fixture(name: &str) -> (Value, Vec<(String, String)>) {
    let path = format!("{FIXTURES}/{name}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let params = match (v.get("params"), v.get("raw_urlencoded")) {
        (Some(list), _) => list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        (None, Some(raw)) => form_urlencoded::parse(raw.as_str().unwrap().as_bytes())
            .into_owned()
            .collect(),
        _ => panic!("{name}: neither params nor raw_urlencoded"),
    };
    (v, params)
}

/// The fixture as if sent for our call `sid` between `CALLER` and `to`: ids and numbers
/// replaced, the AccountSid left to the signing helper, every other parameter kept.
fn adapted(name: &str, sid: &str, to: &str) -> Vec<(String, String)> {
    let (_, params) = fixture(name);
    params
        .into_iter()
        .filter(|(k, _)| k != "AccountSid")
        .map(|(k, v)| {
            let v = match k.as_str() {
                "CallSid" => sid.to_string(),
                "MessageSid" | "SmsSid" | "SmsMessageSid" => format!("SM{sid}"),
                "To" | "Called" => to.to_string(),
                "From" | "Caller" => CALLER.to_string(),
                _ => v,
            };
            (k, v)
        })
        .collect()
}

async fn replay(app: &TestApp, path: &str, name: &str, sid: &str, to: &str) -> (u16, String) {
    let params = adapted(name, sid, to);
    let refs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = app.twilio().post(path, &refs).await;
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn one(app: &TestApp, sql: &str) -> Value {
    app.db()
        .conn()
        .unwrap()
        .query_row(&format!("SELECT json_quote(({sql}))"), [], |r| {
            r.get::<_, String>(0)
        })
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn the_classic_validation_vector_signs_as_published() {
    let (v, params) = fixture("T01_voice-incoming_full-geo.json");
    let known = &v["known_vector"];
    assert_eq!(
        switchboard::domain::signature::compute(
            known["auth_token"].as_str().unwrap(),
            known["url"].as_str().unwrap(),
            &params
        ),
        known["signature"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_whole_call_replayed_from_captured_parameters_ends_where_the_docs_say() {
    let app = spawn_app().await;
    // Incoming calls with the full geo set and with empty-valued fields: the menu.
    for (name, sid) in [
        ("T01_voice-incoming_full-geo.json", "CAT01"),
        ("T02_voice-incoming_empty-values.json", "CAT02"),
    ] {
        let (status, body) = replay(&app, "/twilio/voice", name, sid, MAIN_LINE).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.contains("<Gather"), "{name}: {body}");
    }
    // Studio's Gather log: six digits are no menu option, so the caller is asked again.
    let (status, body) = replay(
        &app,
        "/twilio/voice/menu?attempt=1",
        "T03_gather-action_studio-log.json",
        "CAT01",
        MAIN_LINE,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<Say>Sorry, I didn&apos;t get that.</Say>"),
        "{body}"
    );
    assert!(
        body.contains(r#"action="/twilio/voice/menu?attempt=2""#),
        "{body}"
    );
    // The Dial action: the dialled person answered, so the call is connected and ends.
    let (status, body) = replay(
        &app,
        "/twilio/voice/dial-result",
        "T04_dial-action_completed.json",
        "CAT01",
        MAIN_LINE,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.ends_with("<Response><Hangup/></Response>"), "{body}");
    assert_eq!(
        one(
            &app,
            "SELECT answered_at IS NOT NULL FROM calls WHERE call_sid = 'CAT01'"
        ),
        1
    );
    // Status callbacks: a progress event does not end the call; completed does, with 42 s.
    let (status, _) = replay(
        &app,
        "/twilio/voice/status",
        "T05_status-callback_progress.json",
        "CAT01",
        MAIN_LINE,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        one(&app, "SELECT ended_at FROM calls WHERE call_sid = 'CAT01'"),
        Value::Null
    );
    let (status, _) = replay(
        &app,
        "/twilio/voice/status",
        "T06_status-callback_completed.json",
        "CAT01",
        MAIN_LINE,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        one(
            &app,
            "SELECT duration_seconds FROM calls WHERE call_sid = 'CAT01'"
        ),
        42
    );
    assert_eq!(
        one(&app, "SELECT outcome FROM calls WHERE call_sid = 'CAT01'"),
        "connected"
    );
    // The 2025 busy callback (SipResponseCode, Duration) ends the other call as busy.
    let (status, _) = replay(
        &app,
        "/twilio/voice/status",
        "T07_status-callback_busy-2025.json",
        "CAT02",
        MAIN_LINE,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        one(&app, "SELECT status FROM calls WHERE call_sid = 'CAT02'"),
        "busy"
    );
}

#[tokio::test]
async fn a_voicemail_replayed_from_captured_callbacks_keeps_recording_and_transcript() {
    let app = spawn_app().await;
    let tw = app.twilio();
    tw.call("CAT08", CALLER, MAIN_LINE).await;
    tw.press("CAT08", 1, "9").await;
    // The Record action (the caller hung up: Digits=hangup): the goodbye.
    let (status, body) = replay(
        &app,
        "/twilio/voice/voicemail-done",
        "T08_record-action_voicemail-done.json",
        "CAT08",
        MAIN_LINE,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<Say>Thank you for your message. Goodbye.</Say><Hangup/>"),
        "{body}"
    );
    // The recording status callback (a 120 s message: still transcribable) and the
    // transcription callback, for the capture's own RecordingSid.
    let (status, _) = replay(
        &app,
        "/twilio/voice/recording",
        "T09_recording-status-callback.json",
        "CAT08",
        MAIN_LINE,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        one(&app, "SELECT transcription_status FROM voicemails WHERE recording_sid = 'REtest1234567890abcdef12345678'"),
        "pending"
    );
    let mut t10 = adapted("T10_transcribe-callback.json", "CAT08", MAIN_LINE);
    for (k, v) in &mut t10 {
        if k == "RecordingSid" {
            *v = "REtest1234567890abcdef12345678".into();
        }
    }
    let refs: Vec<(&str, &str)> = t10.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        tw.post("/twilio/voice/transcription", &refs).await.status(),
        200
    );
    assert_eq!(
        one(&app, "SELECT transcription_text FROM voicemails WHERE recording_sid = 'REtest1234567890abcdef12345678'"),
        "Hello this is a test transcript"
    );
}

#[tokio::test]
async fn captured_texts_become_leads_including_through_a_messaging_service() {
    let app = spawn_app().await;
    for (name, sid) in [
        ("T11_sms-incoming_2019.json", "T11"),
        ("T12_sms-incoming_messaging-service-addons.json", "T12"),
    ] {
        let (status, body) = replay(&app, "/twilio/sms", name, sid, MAIN_LINE).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    assert_eq!(
        one(&app, "SELECT count(*) FROM messages WHERE direction = 'inbound' AND body IN ('Reservation for Josue Rojas at July 20, 2019 at 8pm.', 'InboundMessage reply')"),
        2
    );
    assert_eq!(
        one(&app, "SELECT count(*) FROM leads"),
        1,
        "one caller, one open conversation"
    );
}
