//! Twilio voice through real HTTP with real signatures (SPEC §3.1–§3.5).

use crate::helpers::{
    get_json, spawn_app, spawn_app_with, CALLER, MAIN_LINE, ONBOARDING_LINE, OWNER_MOBILE,
    SYSTEM_LINE,
};
use serde_json::{json, Value};

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const DEMO_MENU: &str = r#"<Gather input="dtmf" numDigits="1" timeout="5" actionOnEmptyResult="true" action="/twilio/voice/menu?attempt=1"><Say>Thanks for calling Demo Plumbing.</Say><Say>For sales, press 1.</Say><Say>For support, press 2.</Say><Say>To leave a message, press 9.</Say><Say>To hear these options again, press star.</Say></Gather>"#;
const VOICEMAIL: &str = r#"<Say>Please leave a message after the beep. Press any key when you are done.</Say><Record maxLength="120" playBeep="true" transcribe="true" transcribeCallback="/twilio/voice/transcription" recordingStatusCallback="/twilio/voice/recording" action="/twilio/voice/voicemail-done"/><Say>Thank you for your message. Goodbye.</Say><Hangup/>"#;
const TEXTBACK: &str =
    "Sorry we missed your call — reply with what you need and we'll get back to you.";

fn twiml(inner: &str) -> String {
    format!("{HEAD}<Response>{inner}</Response>")
}

fn instant() -> [(&'static str, &'static str); 1] {
    [("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]
}

#[tokio::test]
async fn an_operational_number_answers_with_the_demo_menu() {
    let app = spawn_app().await;
    let body = app.twilio().call("CA0001", CALLER, MAIN_LINE).await;
    assert_eq!(body, twiml(DEMO_MENU));
    assert_eq!(app.count("SELECT count(*) FROM calls WHERE call_sid = 'CA0001' AND number_role = 'operational' AND org_id = 1"), 1);
}

#[tokio::test]
async fn every_menu_path_gives_the_twiml_the_spec_describes() {
    let app = spawn_app().await;
    let tw = app.twilio();
    tw.call("CA0002", CALLER, MAIN_LINE).await;
    // Each person rung is screened: whoever answers must press 1 (SPEC §3.8).
    assert_eq!(
        tw.press("CA0002", 1, "1").await,
        twiml(
            r#"<Dial action="/twilio/voice/dial-result?screen=1&amp;option=1" timeout="20" answerOnBridge="true"><Number url="/twilio/voice/screen?screen=1&amp;option=1">+15550100101</Number></Dial>"#
        )
    );
    assert_eq!(
        tw.press("CA0002", 1, "2").await,
        twiml(
            r#"<Dial action="/twilio/voice/dial-result?screen=1&amp;option=2" timeout="20" answerOnBridge="true"><Number url="/twilio/voice/screen?screen=1&amp;option=2">+15550100102</Number></Dial>"#
        )
    );
    assert_eq!(tw.press("CA0002", 1, "9").await, twiml(VOICEMAIL));
    assert_eq!(tw.press("CA0002", 1, "*").await, twiml(DEMO_MENU));
    let retry = DEMO_MENU.replace("attempt=1", "attempt=2");
    assert_eq!(
        tw.press("CA0002", 1, "5").await,
        twiml(&format!("<Say>Sorry, I didn&apos;t get that.</Say>{retry}"))
    );
    assert_eq!(
        tw.press("CA0002", 1, "").await,
        twiml(&format!("<Say>Sorry, I didn&apos;t get that.</Say>{retry}"))
    );
    // After the configured single retry, voicemail: no endless loop.
    assert_eq!(tw.press("CA0002", 2, "7").await, twiml(VOICEMAIL));
    // A malformed attempt counts as the first.
    let resp = tw
        .post(
            "/twilio/voice/menu?attempt=abc",
            &[("CallSid", "CA0002"), ("To", MAIN_LINE), ("Digits", "1")],
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn dial_results_hang_up_when_answered_and_go_to_voicemail_otherwise() {
    let app = spawn_app().await;
    let tw = app.twilio();
    tw.call("CA0003", CALLER, MAIN_LINE).await;
    for status in ["no-answer", "busy", "failed", "canceled"] {
        let body = tw
            .twiml(
                "/twilio/voice/dial-result",
                &[
                    ("CallSid", "CA0003"),
                    ("To", MAIN_LINE),
                    ("DialCallStatus", status),
                ],
            )
            .await;
        assert_eq!(body, twiml(VOICEMAIL), "{status}");
    }
    let body = tw.dial_result("CA0003", "completed").await;
    assert_eq!(body, twiml("<Hangup/>"));
}

#[tokio::test]
async fn a_call_to_the_onboarding_number_is_refused_politely_and_never_texted() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    let body = tw.call("CA0004", CALLER, ONBOARDING_LINE).await;
    assert_eq!(
        body,
        twiml("<Say>This number is for text messages only. Please send us a text to get started.</Say><Hangup/>")
    );
    tw.status("CA0004", CALLER, ONBOARDING_LINE, "completed", "30")
        .await;
    // A redelivered status callback is not a second violation.
    tw.status("CA0004", CALLER, ONBOARDING_LINE, "completed", "30")
        .await;
    let m = &app.state.desk.metrics;
    assert_eq!(
        m.counter(
            "switchboard_invariant_violations_total",
            &[("name", "voice_onboarding_number")]
        ),
        1
    );
    assert_eq!(
        m.counter(
            "switchboard_invariant_violations_total",
            &[("name", "voice_status_onboarding_number")]
        ),
        1
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        app.sandbox().sent_messages().is_empty(),
        "an onboarding number never triggers an SMS from a call"
    );
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
    assert_eq!(app.count("SELECT count(*) FROM onboarding_requests"), 0);
}

#[tokio::test]
async fn system_and_unknown_numbers_are_rejected_without_side_effects() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    assert_eq!(
        tw.call("CA0005", CALLER, SYSTEM_LINE).await,
        twiml("<Reject/>")
    );
    assert_eq!(
        tw.call("CA0006", CALLER, "+15559999999").await,
        twiml("<Reject/>")
    );
    tw.status("CA0005", CALLER, SYSTEM_LINE, "completed", "30")
        .await;
    tw.status("CA0006", CALLER, "+15559999999", "completed", "30")
        .await;
    assert_eq!(
        app.state
            .desk
            .metrics
            .counter("switchboard_unknown_number_total", &[("kind", "voice")]),
        1
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.sandbox().sent_messages().is_empty());
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE outcome = 'rejected'"),
        2
    );
}

#[tokio::test]
async fn a_missed_call_gets_exactly_one_text_back_however_often_the_status_arrives() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    tw.call("CA0007", CALLER, MAIN_LINE).await;
    tw.press("CA0007", 1, "1").await;
    tw.dial_result("CA0007", "no-answer").await;
    let params = [
        ("CallSid", "CA0007"),
        ("From", CALLER),
        ("To", MAIN_LINE),
        ("CallStatus", "completed"),
        ("CallDuration", "35"),
    ];
    let deliveries: Vec<_> = (0..5)
        .map(|_| tw.spawn_post("/twilio/voice/status", &params))
        .collect();
    for d in deliveries {
        assert_eq!(d.await.unwrap(), 200);
    }
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        1,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let sent = app.sandbox().sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].from.as_str(),
            sent[0].to.as_str(),
            sent[0].body.as_str()
        ),
        (MAIN_LINE, CALLER, TEXTBACK)
    );
    let (c, _) = app.owner().await;
    let calls: Value = get_json(&c, app.url("/api/calls?callSid=CA0007")).await;
    assert_eq!(calls["calls"][0]["outcome"], "missed");
    assert_eq!(calls["calls"][0]["textbackState"], "sent");
    assert_eq!(calls["calls"][0]["menuChoices"], "1");
}

#[tokio::test]
async fn fifty_concurrent_duplicate_deliveries_create_one_call_and_one_text_back() {
    // A high per-caller limit so every delivery reaches the database.
    let app = spawn_app_with(&[
        ("SWITCHBOARD_RATE_TWILIO_VOICE_PER_MIN", "1000"),
        ("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0"),
    ])
    .await;
    let tw = app.twilio();
    let entry = [("CallSid", "CA0050"), ("From", CALLER), ("To", MAIN_LINE)];
    let tasks: Vec<_> = (0..50)
        .map(|_| tw.spawn_post("/twilio/voice", &entry))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let status = [
        ("CallSid", "CA0050"),
        ("From", CALLER),
        ("To", MAIN_LINE),
        ("CallStatus", "completed"),
        ("CallDuration", "20"),
    ];
    let tasks: Vec<_> = (0..50)
        .map(|_| tw.spawn_post("/twilio/voice/status", &status))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        1,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.sandbox().sent_messages().len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE call_sid = 'CA0050'"),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM call_events e JOIN calls c ON c.id = e.call_id WHERE c.call_sid = 'CA0050' AND kind = 'call.started'"), 1);
}

#[tokio::test]
async fn an_anonymous_caller_is_never_texted_and_the_block_is_recorded() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    for (sid, from) in [
        ("CA0008", "+266696687"),
        ("CA0009", "anonymous"),
        ("CA0010", "client:alice"),
    ] {
        tw.call(sid, from, MAIN_LINE).await;
        tw.status(sid, from, MAIN_LINE, "completed", "40").await;
    }
    app.wait_count("SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'blocked' AND blocked_reason = 'anonymous_caller'", 3).await;
    app.wait_counter(
        "switchboard_textbacks_total",
        &[("result", "blocked"), ("reason", "anonymous_caller")],
        3,
    )
    .await;
    assert!(app.sandbox().sent_messages().is_empty());
}

#[tokio::test]
async fn connected_calls_short_calls_and_voicemails_are_not_missed() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    tw.call("CA0011", CALLER, MAIN_LINE).await;
    tw.dial_result("CA0011", "completed").await;
    tw.status("CA0011", CALLER, MAIN_LINE, "completed", "120")
        .await;
    tw.call("CA0012", "+14155550124", MAIN_LINE).await;
    tw.status("CA0012", "+14155550124", MAIN_LINE, "completed", "3")
        .await;
    tw.call("CA0013", "+14155550125", MAIN_LINE).await;
    tw.recording("CA0013", "RE0013", "12").await;
    tw.status("CA0013", "+14155550125", MAIN_LINE, "completed", "30")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let outcome = |sid: &str| -> String {
        app.db()
            .conn()
            .unwrap()
            .query_row(
                "SELECT outcome FROM calls WHERE call_sid = ?1",
                [sid],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(outcome("CA0011"), "connected");
    assert_eq!(outcome("CA0012"), "abandoned");
    assert_eq!(outcome("CA0013"), "voicemail");
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE kind = 'textback'"),
        0
    );
}

#[tokio::test]
async fn a_status_callback_before_the_dial_result_still_ends_connected_without_a_text() {
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "1")]).await;
    let tw = app.twilio();
    tw.call("CA0014", CALLER, MAIN_LINE).await;
    tw.press("CA0014", 1, "1").await;
    tw.status("CA0014", CALLER, MAIN_LINE, "completed", "60")
        .await;
    tw.dial_result("CA0014", "completed").await;
    app.wait_count(
        "SELECT count(*) FROM calls WHERE call_sid = 'CA0014' AND textback_state = 'skipped'",
        1,
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE call_sid = 'CA0014' AND outcome = 'connected'"),
        1
    );
    assert!(app.sandbox().sent_messages().is_empty());
}

#[tokio::test]
async fn voicemail_callbacks_in_any_order_and_repeated_give_one_voicemail_and_one_owner_text() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    tw.call("CA0015", CALLER, MAIN_LINE).await;
    tw.press("CA0015", 1, "9").await;
    let transcription = [
        ("CallSid", "CA0015"),
        ("From", CALLER),
        ("To", MAIN_LINE),
        ("RecordingSid", "RE0015"),
        ("TranscriptionSid", "TR0015"),
        ("TranscriptionStatus", "completed"),
        (
            "TranscriptionText",
            "Hi, my sink is leaking <badly> & I need help",
        ),
    ];
    let recording = [
        ("CallSid", "CA0015"),
        ("RecordingSid", "RE0015"),
        (
            "RecordingUrl",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0015",
        ),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "17"),
    ];
    // The transcript first, then the recording twice, then the Record action.
    assert_eq!(
        tw.post("/twilio/voice/transcription", &transcription)
            .await
            .status(),
        200
    );
    assert_eq!(
        tw.post("/twilio/voice/recording", &recording)
            .await
            .status(),
        200
    );
    assert_eq!(
        tw.post("/twilio/voice/recording", &recording)
            .await
            .status(),
        200
    );
    assert_eq!(
        tw.post("/twilio/voice/transcription", &transcription)
            .await
            .status(),
        200
    );
    let done = tw
        .twiml(
            "/twilio/voice/voicemail-done",
            &[
                ("CallSid", "CA0015"),
                ("To", MAIN_LINE),
                ("RecordingSid", "RE0015"),
                ("RecordingDuration", "17"),
            ],
        )
        .await;
    assert_eq!(
        done,
        twiml("<Say>Thank you for your message. Goodbye.</Say><Hangup/>")
    );
    tw.status("CA0015", CALLER, MAIN_LINE, "completed", "45")
        .await;

    assert_eq!(app.count("SELECT count(*) FROM voicemails"), 1);
    let (c, _) = app.owner().await;
    let vms: Value = get_json(&c, app.url("/api/voicemails")).await;
    let vm = &vms["voicemails"][0];
    assert_eq!(vm["durationSeconds"], 17);
    assert_eq!(
        vm["transcriptionText"],
        "Hi, my sink is leaking <badly> & I need help"
    );
    assert_eq!(vm["fromNumber"], CALLER);
    let to_owner: Vec<_> = app
        .sandbox()
        .sent_messages()
        .into_iter()
        .filter(|m| m.to == OWNER_MOBILE)
        .collect();
    assert_eq!(to_owner.len(), 1, "{to_owner:?}");
    assert!(
        to_owner[0].body.starts_with(
            "New voicemail from (415) 555-0123 (17 s) on Main line: \"Hi, my sink is leaking"
        ),
        "{}",
        to_owner[0].body
    );
    let voicemail = app.text(
        "SELECT CAST(v.id AS TEXT) FROM voicemails v JOIN calls c ON c.id = v.call_id WHERE c.call_sid = ?1",
        "CA0015",
    );
    assert!(to_owner[0]
        .body
        .ends_with(&format!("Listen: {}/#voicemail/{voicemail}", app.address)));
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE call_sid = 'CA0015' AND outcome = 'voicemail'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE kind = 'textback'"),
        0,
        "a voicemail is not a missed call"
    );

    // Marking it handled.
    let (c, csrf) = app.owner().await;
    let id = vm["id"].as_i64().unwrap();
    let resp = app
        .patch_json(
            &c,
            &csrf,
            &format!("/api/voicemails/{id}"),
            Some(&json!({ "handled": true })),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["voicemail"]["handled"], true);
}

#[tokio::test]
async fn without_a_transcript_the_owner_is_notified_after_the_wait() {
    let app = spawn_app_with(&[("SWITCHBOARD_TRANSCRIPT_WAIT_SECS", "0")]).await;
    let tw = app.twilio();
    tw.call("CA0016", CALLER, MAIN_LINE).await;
    tw.post(
        "/twilio/voice/recording",
        &[
            ("CallSid", "CA0016"),
            ("RecordingSid", "RE0016"),
            ("RecordingUrl", "https://x/RE0016"),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "9"),
        ],
    )
    .await;
    assert!(
        app.sandbox().sent_messages().is_empty(),
        "waits for the transcript first"
    );
    switchboard::frontdesk::sweep(
        &app.state.desk,
        chrono::Utc::now() + chrono::Duration::seconds(1),
    )
    .await;
    // The owner's text goes out from the outbox, in the background.
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'notification' AND status = 'sent'",
        1,
    )
    .await;
    let sent = app.sandbox().sent_messages();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("(no transcript)"), "{}", sent[0].body);
    switchboard::frontdesk::sweep(
        &app.state.desk,
        chrono::Utc::now() + chrono::Duration::seconds(1),
    )
    .await;
    assert_eq!(app.sandbox().sent_messages().len(), 1);
}

#[tokio::test]
async fn recording_consent_announce_and_opt_in_control_recording() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let mut flow: Value = get_json(&c, app.url("/api/call-flow")).await;
    flow["callFlow"]["recording"]["mode"] = json!("announce");
    let resp = app
        .put_json(&c, &csrf, "/api/call-flow", Some(&flow["callFlow"]))
        .await;
    assert_eq!(resp.status(), 200);
    let tw = app.twilio();
    let body = tw.call("CA0017", CALLER, MAIN_LINE).await;
    assert_eq!(
        body,
        twiml(&format!(
            "<Say>This call may be recorded for quality and training.</Say>{DEMO_MENU}"
        ))
    );
    let dial = tw.press("CA0017", 1, "1").await;
    assert!(dial.contains(r#"<Dial action="/twilio/voice/dial-result?screen=1&amp;option=1" timeout="20" answerOnBridge="true" record="record-from-answer-dual">"#), "{dial}");

    flow["callFlow"]["recording"]["mode"] = json!("opt_in");
    app.put_json(&c, &csrf, "/api/call-flow", Some(&flow["callFlow"]))
        .await;
    let body = tw.call("CA0018", CALLER, MAIN_LINE).await;
    assert!(body.contains(r#"action="/twilio/voice/consent""#), "{body}");
    assert!(body.contains("To allow recording, press 1."), "{body}");
    let menu = tw
        .twiml(
            "/twilio/voice/consent",
            &[("CallSid", "CA0018"), ("To", MAIN_LINE), ("Digits", "2")],
        )
        .await;
    assert_eq!(menu, twiml(DEMO_MENU));
    let dial = tw.press("CA0018", 1, "1").await;
    assert!(
        !dial.contains("record="),
        "declined consent means no recording: {dial}"
    );
    tw.call("CA0019", CALLER, MAIN_LINE).await;
    tw.twiml(
        "/twilio/voice/consent",
        &[("CallSid", "CA0019"), ("To", MAIN_LINE), ("Digits", "1")],
    )
    .await;
    assert!(tw.press("CA0019", 1, "1").await.contains("record="));

    let csv = c
        .get(app.url("/api/calls/consent.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "call_id,call_sid,started_at,from,to,consent_outcome,consent_at"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"CA0017\"") && l.contains("\"announced\"")),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"CA0018\"") && l.contains("\"declined\"")),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"CA0019\"") && l.contains("\"granted\"")),
        "{csv}"
    );
}

#[tokio::test]
async fn after_hours_calls_go_to_the_after_hours_action() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let mut flow: Value = get_json(&c, app.url("/api/call-flow")).await;
    // Open only on one holiday-free minute that has passed: effectively always closed.
    flow["callFlow"]["hours"] = json!({ "weekly": {}, "holidays": [] });
    flow["callFlow"]["afterHours"] =
        json!({ "action": "message", "message": "We open at 8 tomorrow." });
    let resp = app
        .put_json(&c, &csrf, "/api/call-flow", Some(&flow["callFlow"]))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body = app.twilio().call("CA0020", CALLER, MAIN_LINE).await;
    assert_eq!(
        body,
        twiml("<Say>We open at 8 tomorrow.</Say><Say>Goodbye.</Say><Hangup/>")
    );
    flow["callFlow"]["afterHours"] =
        json!({ "action": "voicemail", "message": "We're closed right now." });
    app.put_json(&c, &csrf, "/api/call-flow", Some(&flow["callFlow"]))
        .await;
    let body = app.twilio().call("CA0021", CALLER, MAIN_LINE).await;
    assert_eq!(
        body,
        twiml(&format!(
            "<Say>We&apos;re closed right now.</Say>{VOICEMAIL}"
        ))
    );
}

#[tokio::test]
async fn saving_a_flow_with_a_dead_end_is_refused_naming_the_path() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let mut flow: Value = get_json(&c, app.url("/api/call-flow")).await;
    let version = flow["version"].as_i64().unwrap();
    flow["callFlow"]["menu"][0]["action"] = json!({ "type": "dial", "targets": [] });
    flow["callFlow"]["retries"] = json!(9);
    let resp = app
        .put_json(&c, &csrf, "/api/call-flow", Some(&flow["callFlow"]))
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "call_flow_dead_end");
    let paths: Vec<&str> = err["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["retries", "menu[0] (key 1).action"]);
    let again: Value = get_json(&c, app.url("/api/call-flow")).await;
    assert_eq!(
        again["version"].as_i64().unwrap(),
        version,
        "nothing was saved"
    );
    let bad_json = app
        .put_json(
            &c,
            &csrf,
            "/api/call-flow",
            Some(&json!({ "greting": "x" })),
        )
        .await;
    let err: Value = bad_json.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `greting`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_calls_timeline_shows_events_and_webhooks_and_other_orgs_get_404() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    tw.call("CA0022", CALLER, MAIN_LINE).await;
    tw.press("CA0022", 1, "1").await;
    tw.dial_result("CA0022", "busy").await;
    tw.status("CA0022", CALLER, MAIN_LINE, "completed", "25")
        .await;
    app.wait_count("SELECT count(*) FROM messages WHERE kind = 'textback'", 1)
        .await;
    app.state.ledger.flush().await;
    let (c, _) = app.owner().await;
    let list: Value = get_json(
        &c,
        app.url("/api/calls?outcome=missed&caller=%2B14155550123"),
    )
    .await;
    let id = list["calls"][0]["id"].as_i64().unwrap();
    let detail: Value = get_json(&c, app.url(&format!("/api/calls/{id}"))).await;
    let kinds = crate::helpers::event_kinds(&detail);
    assert_eq!(
        kinds,
        [
            "call.started",
            "menu",
            "dial.started",
            "dial.result",
            "call.ended",
            "textback.sent"
        ]
    );
    let routes: Vec<&str> = detail["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["route"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes,
        [
            "/twilio/voice",
            "/twilio/voice/menu",
            "/twilio/voice/dial-result",
            "/twilio/voice/status"
        ]
    );
    assert_eq!(detail["messages"][0]["kind"], "textback");
    let bad = c
        .get(app.url("/api/calls?outcome=lost"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let (other, _) = app
        .user_client(
            "Other Bakery",
            "baker@example.com",
            switchboard::domain::UserRole::Owner,
        )
        .await;
    assert_eq!(
        other
            .get(app.url(&format!("/api/calls/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let theirs: Value = get_json(&other, app.url("/api/calls")).await;
    assert_eq!(theirs["calls"], json!([]));
}

#[tokio::test]
async fn a_voicemail_recording_plays_through_the_authenticated_proxy() {
    let app = spawn_app().await;
    let tw = app.twilio();
    let sid = "RE0123456789abcdef0123456789abcdef";
    tw.call("CA0030", CALLER, MAIN_LINE).await;
    tw.post(
        "/twilio/voice/recording",
        &[
            ("CallSid", "CA0030"),
            ("RecordingSid", sid),
            ("RecordingUrl", "https://api.twilio.com/rec"),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "5"),
        ],
    )
    .await;
    let id: i64 = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT id FROM voicemails", [], |r| r.get(0))
        .unwrap();

    let (c, _) = app.owner().await;
    let resp = c
        .get(app.url(&format!("/api/voicemails/{id}/recording")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    let audio = resp.bytes().await.unwrap();
    assert_eq!(&audio[..4], b"RIFF");

    assert_eq!(
        crate::helpers::client()
            .get(app.url(&format!("/api/voicemails/{id}/recording")))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let (other, _) = app
        .user_client(
            "Other Bakery",
            "baker@example.com",
            switchboard::domain::UserRole::Owner,
        )
        .await;
    assert_eq!(
        other
            .get(app.url(&format!("/api/voicemails/{id}/recording")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A recording Twilio does not have: the provider's answer, not a 500.
    tw.call("CA0031", CALLER, MAIN_LINE).await;
    tw.post(
        "/twilio/voice/recording",
        &[
            ("CallSid", "CA0031"),
            ("RecordingSid", "REnot-a-real-sid"),
            ("RecordingStatus", "completed"),
        ],
    )
    .await;
    let bad: i64 = app
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT id FROM voicemails WHERE recording_sid = 'REnot-a-real-sid'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let resp = c
        .get(app.url(&format!("/api/voicemails/{bad}/recording")))
        .send()
        .await
        .unwrap();
    let err = crate::helpers::expect_error(resp, 502, "provider_error").await;
    assert_eq!(err["provider"], "twilio");
}

#[tokio::test]
async fn out_of_range_durations_are_ignored_not_wrapped_and_the_outcome_uses_the_calls_own_times() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    let duration = |sid: &str| -> Option<i64> {
        app.db()
            .conn()
            .unwrap()
            .query_row(
                "SELECT duration_seconds FROM calls WHERE call_sid = ?1",
                [sid],
                |r| r.get(0),
            )
            .unwrap()
    };
    // 2^32 + 1 seconds: as a u32 that would be a 1 s misdial.
    tw.call("CA0031", "+14155550131", MAIN_LINE).await;
    app.db()
        .conn()
        .unwrap()
        .execute(
            "UPDATE calls SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 seconds') WHERE call_sid = 'CA0031'",
            [],
        )
        .unwrap();
    tw.status(
        "CA0031",
        "+14155550131",
        MAIN_LINE,
        "completed",
        "4294967297",
    )
    .await;
    assert_eq!(duration("CA0031"), None);
    // The call rang 90 s by our own clock: missed (texted back), not a misdial.
    app.wait_count(
        "SELECT count(*) FROM calls WHERE call_sid = 'CA0031' AND outcome = 'missed'",
        1,
    )
    .await;
    tw.call("CA0032", "+14155550132", MAIN_LINE).await;
    tw.status("CA0032", "+14155550132", MAIN_LINE, "completed", "-5")
        .await;
    assert_eq!(
        duration("CA0032"),
        None,
        "a negative duration is not stored"
    );
    tw.call("CA0033", "+14155550133", MAIN_LINE).await;
    tw.status("CA0033", "+14155550133", MAIN_LINE, "completed", "42")
        .await;
    assert_eq!(duration("CA0033"), Some(42));
}

#[tokio::test]
async fn a_voicemail_longer_than_twilio_transcribes_is_kept_and_the_owner_told_at_once() {
    let app = spawn_app_with(&instant()).await;
    let (c, _) = app.owner().await;
    let flow = get_json(&c, app.url("/api/call-flow")).await;
    assert_eq!(flow["callFlow"]["voicemail"]["maxLengthSecs"], 120);
    assert_eq!(
        flow["notices"],
        json!([]),
        "the default promises only what Twilio does"
    );
    let saved = app
        .change_call_flow(|f| f["voicemail"]["maxLengthSecs"] = json!(300))
        .await;
    assert_eq!(saved["notices"][0]["path"], "voicemail.maxLengthSecs");
    assert!(saved["notices"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not transcribed"));
    let tw = app.twilio();
    tw.call("CA0041", CALLER, MAIN_LINE).await;
    let vm = tw.press("CA0041", 1, "9").await;
    assert!(vm.contains(r#"<Record maxLength="300""#), "{vm}");
    // A 200 s message: no transcript will come, so the owner is told now, and why.
    tw.recording("CA0041", "RE0041", "200").await;
    app.wait_count(
        "SELECT count(*) FROM voicemails WHERE recording_sid = 'RE0041' AND transcription_status = 'absent'",
        1,
    )
    .await;
    for _ in 0..100 {
        if app
            .sandbox()
            .sent_messages()
            .iter()
            .any(|m| m.to == OWNER_MOBILE)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let to_owner: Vec<String> = app
        .sandbox()
        .sent_messages()
        .into_iter()
        .filter(|m| m.to == OWNER_MOBILE)
        .map(|m| m.body)
        .collect();
    assert_eq!(to_owner.len(), 1, "{to_owner:?}");
    assert!(
        to_owner[0].contains("(200 s)") && to_owner[0].contains("over 120 s, so not transcribed"),
        "{}",
        to_owner[0]
    );
}

#[tokio::test]
async fn a_call_twilio_sends_here_for_an_ai_line_reaches_the_agent_a_person_or_voicemail_never_the_menu(
) {
    const AI_LINE: &str = "+15550100004";
    let app = spawn_app().await;
    let tw = app.twilio();
    let db = || app.db().conn().unwrap();
    // The demo's AI line has no SIP address for its agent: the org's fallback person.
    let body = tw.call("CA0051", CALLER, AI_LINE).await;
    assert_eq!(
        body,
        twiml(
            r#"<Say>Please hold while we connect you.</Say><Dial action="/twilio/voice/dial-result?screen=1" timeout="20" answerOnBridge="true"><Number url="/twilio/voice/screen?screen=1">+15550100102</Number></Dial>"#
        )
    );
    // With a SIP address the caller goes straight to the agent.
    db().execute(
        "UPDATE agents SET sip_uri = 'sip:frontdesk@agents.example.test'",
        [],
    )
    .unwrap();
    let body = tw.call("CA0052", CALLER, AI_LINE).await;
    assert!(
        body.contains("<Sip>sip:frontdesk@agents.example.test</Sip>"),
        "{body}"
    );
    assert!(!body.contains("<Gather"), "{body}");
    // With neither, a voicemail: still no menu the business did not choose.
    db().execute("UPDATE agents SET sip_uri = NULL", [])
        .unwrap();
    db().execute("UPDATE orgs SET fallback_number = NULL", [])
        .unwrap();
    let body = tw.call("CA0053", CALLER, AI_LINE).await;
    assert!(body.contains("<Record "), "{body}");
    assert!(!body.contains("<Gather"), "{body}");
    assert_eq!(
        app.state.desk.metrics.counter(
            "switchboard_invariant_violations_total",
            &[("name", "voice_vapi_number_on_ivr")]
        ),
        3
    );
    // The health warnings name the number and say what to do.
    let (c, _) = app.owner().await;
    let health = get_json(&c, app.url("/api/health")).await;
    let warnings = health["warnings"].to_string();
    assert!(
        warnings.contains("+15550100004 is answered by the AI agent, but Twilio sent 3 call(s)"),
        "{warnings}"
    );
}

#[tokio::test]
async fn menu_callbacks_for_a_system_or_unknown_number_end_the_call_not_play_a_menu() {
    let app = spawn_app().await;
    let tw = app.twilio();
    for (sid, to) in [("CA0061", SYSTEM_LINE), ("CA0062", "+15550109876")] {
        for path in [
            "/twilio/voice/menu?attempt=1",
            "/twilio/voice/consent",
            "/twilio/voice/dial-result",
        ] {
            let body = tw
                .twiml(
                    path,
                    &[
                        ("CallSid", sid),
                        ("From", CALLER),
                        ("To", to),
                        ("Digits", "1"),
                        ("DialCallStatus", "no-answer"),
                    ],
                )
                .await;
            assert_eq!(body, twiml("<Hangup/>"), "{path} for {to}");
        }
    }
    assert_eq!(
        app.state.desk.metrics.counter(
            "switchboard_invariant_violations_total",
            &[("name", "voice_callback_system_number")]
        ),
        6
    );
}

/// A missed call from `from`: rings, nobody picks up, the caller hangs up after 30 s.
async fn missed_call(app: &crate::helpers::TestApp, sid: &str, from: &str) {
    let tw = app.twilio();
    tw.missed_call(sid, from).await;
}

#[tokio::test]
async fn the_clock_moves_through_hours_quiet_hours_and_cooldowns_without_sleeping() {
    use chrono::TimeZone;
    let app = spawn_app_with(&instant()).await;
    app.change_call_flow(|f| {
        f["hours"] = json!({ "weekly": { "monday": [{ "open": "09:00", "close": "17:00" }] }, "holidays": [] });
        f["afterHours"] = json!({ "action": "message", "message": "We open at nine." });
        f["textback"]["quietHours"] = json!({ "open": "21:00", "close": "08:00" });
    })
    .await;
    let clock = app.state.desk.clock.clone();
    let textbacks = |status: &str, reason: &str| {
        app.count(&format!(
            "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = '{status}' AND COALESCE(blocked_reason, '') = '{reason}'"
        ))
    };
    // Monday 23:00 UTC (the demo org's zone): closed, and a missed call is not texted at night.
    clock.set(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 23, 0, 0)
            .unwrap(),
    );
    let body = app.twilio().call("CA0901", CALLER, MAIN_LINE).await;
    assert_eq!(
        body,
        twiml("<Say>We open at nine.</Say><Say>Goodbye.</Say><Hangup/>")
    );
    // Its text-back waits for the end of quiet hours (SPEC §3.6), and goes out then.
    missed_call(&app, "CA0902", CALLER).await;
    app.wait_count(
        "SELECT count(*) FROM calls WHERE call_sid = 'CA0902' AND textback_deferred = 1 AND textback_due_at = '2026-11-24T08:00:00.000Z'",
        1,
    )
    .await;
    assert_eq!(textbacks("sent", ""), 0);
    let morning = chrono::Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 5).unwrap();
    clock.set(morning);
    switchboard::frontdesk::sweep(&app.state.desk, morning).await;
    assert_eq!(textbacks("sent", ""), 1);
    // Monday noon a week later: open, the menu answers, and a missed call is texted.
    clock.set(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
            .unwrap(),
    );
    let body = app.twilio().call("CA0903", CALLER, MAIN_LINE).await;
    assert_eq!(body, twiml(DEMO_MENU));
    app.twilio()
        .status("CA0903", CALLER, MAIN_LINE, "completed", "30")
        .await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        2,
    )
    .await;
    // An hour later the same caller misses us again: the 24 h cooldown holds.
    clock.advance(chrono::Duration::hours(1));
    missed_call(&app, "CA0904", CALLER).await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE blocked_reason = 'cooldown'",
        1,
    )
    .await;
    // A day on (Tuesday 13:00, closed all day; texts are still welcome): texted again.
    clock.advance(chrono::Duration::hours(24));
    missed_call(&app, "CA0905", CALLER).await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        3,
    )
    .await;
    assert_eq!(
        textbacks("blocked", "quiet_hours"),
        0,
        "quiet hours defer, never drop"
    );
    assert_eq!(textbacks("blocked", "cooldown"), 1);
    assert_eq!(app.sandbox().sent_messages().len(), 3);
}

/// The call-flow preview walks an unsaved flow with the webhooks' own decisions and says
/// what the caller hears, for a chosen local time and keys; a dead end is named by path.
#[tokio::test]
async fn the_preview_walks_an_unsaved_flow_at_a_chosen_time_and_keys() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let got: Value = get_json(&c, app.url("/api/call-flow")).await;
    let mut flow = got["callFlow"].clone();
    flow["hours"] =
        serde_json::json!({ "weekly": { "monday": [{ "open": "09:00", "close": "17:00" }] } });
    flow["afterHours"] = serde_json::json!({ "action": "message", "message": "We open Monday at nine.", "targets": [] });
    let preview = |flow: &Value, at: &str, keys: Value| {
        c.post(app.url("/api/call-flow/preview"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "callFlow": flow, "at": at, "keys": keys }))
            .send()
    };

    // Monday 10:00: the menu, key 1 rings sales, no answer, then voicemail.
    let open: Value = preview(&flow, "2026-11-23T10:00", serde_json::json!(["1"]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(open["open"], true, "{open}");
    let hops = open["hops"].as_array().unwrap();
    let menu = hops[0]["heard"].as_array().unwrap();
    assert_eq!(menu[0], "Thanks for calling Demo Plumbing.");
    assert!(menu.iter().any(|l| l == "For sales, press 1."), "{open}");
    assert_eq!(hops[0]["pressed"], "1");
    assert!(
        hops[1]["heard"][0]
            .as_str()
            .unwrap()
            .starts_with("[rings +15550100101 for 20 s"),
        "{open}"
    );
    let last = hops.last().unwrap()["heard"].to_string();
    assert!(
        last.contains("[records a voicemail of up to 120 s]"),
        "{open}"
    );

    // Sunday 10:00: closed, the after-hours message and a goodbye.
    let closed: Value = preview(&flow, "2026-11-22T10:00", serde_json::json!([]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(closed["open"], false, "{closed}");
    let heard = closed["hops"][0]["heard"].to_string();
    assert!(
        heard.contains("We open Monday at nine.") && heard.contains("[hangs up]"),
        "{closed}"
    );

    // Nothing was saved by previewing.
    let saved: Value = get_json(&c, app.url("/api/call-flow")).await;
    assert_eq!(saved["callFlow"]["hours"], Value::Null);

    // A dial without targets is a dead end, named by its path; a bad time is a 400 too.
    flow["menu"][0]["action"]["targets"] = serde_json::json!([]);
    let err = crate::helpers::expect_error(
        preview(&flow, "2026-11-23T10:00", serde_json::json!([]))
            .await
            .unwrap(),
        400,
        "call_flow_dead_end",
    )
    .await;
    assert_eq!(
        err["problems"][0]["path"], "menu[0] (key 1).action",
        "{err}"
    );
    let bad_time = preview(&got["callFlow"], "next tuesday", serde_json::json!([]))
        .await
        .unwrap();
    assert!(
        crate::helpers::expect_error(bad_time, 400, "invalid_field").await["message"]
            .as_str()
            .unwrap()
            .contains("2026-11-23T09:30")
    );
}

#[tokio::test]
async fn a_sid_that_is_not_one_is_a_400_that_names_it_and_has_its_ledger_row() {
    let app = spawn_app().await;
    let tw = app.twilio();
    let form = [
        ("CallSid", "not-a-call"),
        ("From", CALLER),
        ("To", MAIN_LINE),
    ];
    let r = tw.post("/twilio/voice", &form).await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("CallSid") && text.contains("not a call SID"),
        "{text}"
    );
    let sms = [
        ("MessageSid", "CA123"),
        ("From", CALLER),
        ("To", MAIN_LINE),
        ("Body", "hi"),
    ];
    let r = tw.post("/twilio/sms", &sms).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a message SID"));
    app.state.ledger.flush().await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_ledger WHERE http_status = 400 AND signature = 'valid' AND error LIKE '%SID%'"),
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM calls"), 0);
}
