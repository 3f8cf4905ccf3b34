//! Never lose a caller (SPEC §3.6, §3.8, §3.9): screened ring targets, sequential ringing,
//! text-backs deferred past quiet hours, blocked and unverified callers — all through
//! real HTTP with real signatures.

use crate::helpers::{get_json, spawn_app_with, spawn_in, TestApp, CALLER, MAIN_LINE};
use chrono::TimeZone;
use serde_json::{json, Value};

const SALES: &str = "+15550100101";
const SUPPORT: &str = "+15550100102";

fn instant() -> [(&'static str, &'static str); 1] {
    [("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]
}

fn twiml(inner: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>"#)
}

/// A request Twilio makes on a screened leg (`path` under `/twilio/voice/`), with its
/// own CallSid and the caller's call as its parent, and the key pressed, if any.
async fn on_leg(
    app: &TestApp,
    path: &str,
    (parent, leg, target): (&str, &str, &str),
    digits: Option<&str>,
) -> String {
    let mut params = vec![
        ("CallSid", leg),
        ("ParentCallSid", parent),
        ("From", CALLER),
        ("To", target),
        ("Direction", "outbound-dial"),
        ("CallStatus", "in-progress"),
    ];
    if let Some(d) = digits {
        params.push(("Digits", d));
    }
    app.twilio()
        .twiml(&format!("/twilio/voice/{path}"), &params)
        .await
}

/// Twilio's request for a screened leg's `<Number url>`.
pub(crate) async fn leg_answers(
    app: &TestApp,
    query: &str,
    parent: &str,
    leg: &str,
    target: &str,
) -> String {
    on_leg(app, &format!("screen?{query}"), (parent, leg, target), None).await
}

/// The person on that leg presses `digits` (or nothing) at the whisper.
pub(crate) async fn leg_presses(
    app: &TestApp,
    query: &str,
    parent: &str,
    leg: &str,
    target: &str,
    digits: Option<&str>,
) -> String {
    on_leg(
        app,
        &format!("screen/answer?{query}"),
        (parent, leg, target),
        digits,
    )
    .await
}

pub(crate) async fn dial_ends(app: &TestApp, query: &str, call: &str, status: &str) -> String {
    app.twilio()
        .twiml(
            &format!("/twilio/voice/dial-result?{query}"),
            &[
                ("CallSid", call),
                ("From", CALLER),
                ("To", MAIN_LINE),
                ("DialCallStatus", status),
            ],
        )
        .await
}

fn outcome(app: &TestApp, call: &str) -> String {
    app.text(
        "SELECT COALESCE(outcome, '') FROM calls WHERE call_sid = ?1",
        call,
    )
}

fn textbacks(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM messages WHERE kind = 'textback' AND status <> 'blocked'")
}

const VOICEMAIL: &str = "<Say>Please leave a message after the beep. Press any key when you are done.</Say><Record maxLength=\"120\" playBeep=\"true\" transcribe=\"true\" transcribeCallback=\"/twilio/voice/transcription\" recordingStatusCallback=\"/twilio/voice/recording\" action=\"/twilio/voice/voicemail-done\"/><Say>Thank you for your message. Goodbye.</Say><Hangup/>";

#[tokio::test]
async fn a_person_who_presses_1_takes_the_call_and_the_caller_is_not_texted() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    tw.call("CASCR1", CALLER, MAIN_LINE).await;
    tw.press("CASCR1", 1, "1").await;
    let q = "screen=1&option=1";
    assert_eq!(
        leg_answers(&app, q, "CASCR1", "CALEG1", SALES).await,
        twiml(
            "<Gather input=\"dtmf\" numDigits=\"1\" timeout=\"6\" actionOnEmptyResult=\"true\" action=\"/twilio/voice/screen/answer?screen=1&amp;option=1\">\
             <Say>Call for Demo Plumbing, sales, from 4 1 5, 5 5 5, 0 1 2 3.</Say>\
             <Say>Press 1 to take it, or hang up to let it go to voicemail.</Say></Gather><Hangup/>"
        )
    );
    // An empty answer bridges the legs.
    assert_eq!(
        leg_presses(&app, q, "CASCR1", "CALEG1", SALES, Some("1")).await,
        twiml("")
    );
    assert_eq!(
        dial_ends(&app, q, "CASCR1", "completed").await,
        twiml("<Hangup/>")
    );
    tw.status("CASCR1", CALLER, MAIN_LINE, "completed", "95")
        .await;
    assert_eq!(outcome(&app, "CASCR1"), "connected");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(textbacks(&app), 0);
    app.state.ledger.flush().await;
    let (c, _) = app.owner().await;
    let id: i64 = app.count("SELECT id FROM calls WHERE call_sid = 'CASCR1'");
    let detail: Value = get_json(&c, app.url(&format!("/api/calls/{id}"))).await;
    let kinds = crate::helpers::event_kinds(&detail);
    assert_eq!(
        kinds,
        [
            "call.started",
            "menu",
            "dial.started",
            "leg.answered",
            "leg.accepted",
            "dial.result",
            "call.ended"
        ]
    );
    // The leg's own webhooks are on the caller's timeline too.
    let routes: Vec<&str> = detail["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["route"].as_str().unwrap())
        .collect();
    assert!(
        routes.contains(&"/twilio/voice/screen") && routes.contains(&"/twilio/voice/screen/answer"),
        "{routes:?}"
    );
    let accepted = &detail["events"][4]["detail"];
    assert_eq!(accepted["target"], SALES);
    assert!(accepted["afterSecs"].as_i64().is_some(), "{accepted}");
}

#[tokio::test]
async fn a_carrier_voicemail_that_picks_up_never_counts_as_answered() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    tw.call("CASCR2", CALLER, MAIN_LINE).await;
    tw.press("CASCR2", 1, "2").await;
    let q = "screen=1&option=2";
    leg_answers(&app, q, "CASCR2", "CALEG2", SUPPORT).await;
    // The greeting plays; nobody presses a key: that leg hangs up.
    assert_eq!(
        leg_presses(&app, q, "CASCR2", "CALEG2", SUPPORT, None).await,
        twiml("<Hangup/>")
    );
    // Twilio reports the dial completed; the caller is still ours: our voicemail.
    assert_eq!(
        dial_ends(&app, q, "CASCR2", "completed").await,
        twiml(VOICEMAIL)
    );
    tw.recording("CASCR2", "RESCR2", "12").await;
    tw.status("CASCR2", CALLER, MAIN_LINE, "completed", "60")
        .await;
    assert_eq!(outcome(&app, "CASCR2"), "voicemail");
    assert_eq!(
        app.count("SELECT count(*) FROM call_events e JOIN calls c ON c.id = e.call_id WHERE c.call_sid = 'CASCR2' AND e.kind = 'leg.silent'"),
        1
    );
}

#[tokio::test]
async fn declined_on_the_first_of_two_sequential_targets_the_second_rings() {
    let app = spawn_app_with(&instant()).await;
    app.change_call_flow(|f| {
        f["menu"][0]["action"] = json!({
            "type": "dial", "targets": [SALES, SUPPORT], "ringTimeoutSecs": 15,
            "strategy": "sequential", "callerId": "business",
        });
    })
    .await;
    let tw = app.twilio();
    tw.call("CASCR3", CALLER, MAIN_LINE).await;
    assert_eq!(
        tw.press("CASCR3", 1, "1").await,
        twiml(
            "<Dial action=\"/twilio/voice/dial-result?screen=1&amp;option=1&amp;position=0\" timeout=\"15\" answerOnBridge=\"true\" callerId=\"+15550100001\">\
             <Number url=\"/twilio/voice/screen?screen=1&amp;option=1&amp;position=0\">+15550100101</Number></Dial>"
        )
    );
    let q0 = "screen=1&option=1&position=0";
    leg_answers(&app, q0, "CASCR3", "CALEG3A", SALES).await;
    assert_eq!(
        leg_presses(&app, q0, "CASCR3", "CALEG3A", SALES, Some("2")).await,
        twiml("<Hangup/>")
    );
    assert_eq!(
        dial_ends(&app, q0, "CASCR3", "completed").await,
        twiml(
            "<Dial action=\"/twilio/voice/dial-result?screen=1&amp;option=1&amp;position=1\" timeout=\"15\" answerOnBridge=\"true\" callerId=\"+15550100001\">\
             <Number url=\"/twilio/voice/screen?screen=1&amp;option=1&amp;position=1\">+15550100102</Number></Dial>"
        )
    );
    // The second does not answer at all: the end of the chain is our voicemail.
    let q1 = "screen=1&option=1&position=1";
    assert_eq!(
        dial_ends(&app, q1, "CASCR3", "no-answer").await,
        twiml(VOICEMAIL)
    );
    // A redelivered dial result changes nothing.
    assert_eq!(
        dial_ends(&app, q1, "CASCR3", "no-answer").await,
        twiml(VOICEMAIL)
    );
    assert_eq!(
        app.count("SELECT count(*) FROM call_events e JOIN calls c ON c.id = e.call_id WHERE c.call_sid = 'CASCR3' AND e.kind = 'dial.result'"),
        2
    );
}

#[tokio::test]
async fn a_caller_who_hangs_up_after_nobody_accepted_is_missed_and_texted_back_once() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    tw.call("CASCR4", CALLER, MAIN_LINE).await;
    tw.press("CASCR4", 1, "1").await;
    let q = "screen=1&option=1";
    leg_answers(&app, q, "CASCR4", "CALEG4", SALES).await;
    leg_presses(&app, q, "CASCR4", "CALEG4", SALES, None).await;
    dial_ends(&app, q, "CASCR4", "completed").await;
    // The caller hangs up at the voicemail prompt; Twilio delivers the end three times.
    let ends: Vec<_> = (0..3)
        .map(|_| {
            tw.spawn_post(
                "/twilio/voice/status",
                &[
                    ("CallSid", "CASCR4"),
                    ("From", CALLER),
                    ("To", MAIN_LINE),
                    ("CallStatus", "completed"),
                    ("CallDuration", "41"),
                ],
            )
        })
        .collect();
    for e in ends {
        assert_eq!(e.await.unwrap(), 200);
    }
    app.wait_count("SELECT count(*) FROM messages WHERE kind = 'textback'", 1)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(textbacks(&app), 1);
    assert_eq!(outcome(&app, "CASCR4"), "missed");
}

/// 22:00 in the org's time zone (the demo's is UTC), with quiet hours 21:00–08:00.
async fn evening_with_quiet_hours(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    app.change_call_flow(|f| {
        f["textback"]["quietHours"] = json!({ "open": "21:00", "close": "08:00" });
        f["textback"]["deferredMessage"] =
            json!("Sorry we missed your call last night — how can we help?");
    })
    .await;
    let evening = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 22, 0, 0).unwrap();
    app.state.desk.clock.set(evening);
    evening
}

#[tokio::test]
async fn a_call_missed_in_quiet_hours_is_texted_at_their_end_once_even_after_a_restart() {
    let app = spawn_app_with(&instant()).await;
    evening_with_quiet_hours(&app).await;
    app.twilio().missed_call("CASCR5", CALLER).await;
    app.wait_count("SELECT count(*) FROM calls WHERE call_sid = 'CASCR5' AND textback_deferred = 1 AND textback_state = 'scheduled' AND textback_due_at = '2026-12-08T08:00:00.000Z'", 1).await;
    assert_eq!(textbacks(&app), 0, "nothing at night");
    let scheduled = app.count(
        "SELECT count(*) FROM call_events WHERE kind = 'textback.scheduled' AND json_extract(detail, '$.localTime') = '08:00'",
    );
    assert_eq!(scheduled, 1);
    let (c, _) = app.owner().await;
    let overview: Value = get_json(&c, app.url("/api/overview")).await;
    assert_eq!(
        overview["textbacks"]["scheduled"],
        json!({ "count": 1, "nextAt": "2026-12-08T08:00:00.000Z" })
    );
    // Nothing is due before the morning.
    switchboard::frontdesk::sweep(&app.state.desk, app.state.desk.clock.now()).await;
    assert_eq!(textbacks(&app), 0);

    // A restart in the night; the new process wakes after 08:00.
    let again = spawn_in(app.data_dir, &instant()).await;
    let morning = chrono::Utc.with_ymd_and_hms(2026, 12, 8, 8, 0, 30).unwrap();
    again.state.desk.clock.set(morning);
    switchboard::frontdesk::sweep(&again.state.desk, morning).await;
    switchboard::frontdesk::sweep(&again.state.desk, morning).await;
    assert_eq!(textbacks(&again), 1);
    let body: String = again
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT body FROM messages WHERE kind = 'textback'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        body,
        "Sorry we missed your call last night — how can we help?"
    );
}

#[tokio::test]
async fn a_deferred_text_back_is_cancelled_by_stop_or_an_answered_call_with_the_reason_shown() {
    let app = spawn_app_with(&instant()).await;
    evening_with_quiet_hours(&app).await;
    let tw = app.twilio();
    // One caller opts out in the night.
    tw.missed_call("CASCR6", CALLER).await;
    tw.sms("SMSCR6", CALLER, MAIN_LINE, "STOP").await;
    // Another calls back later and reaches a person.
    let other = "+14155550177";
    tw.missed_call("CASCR7", other).await;
    tw.call("CASCR8", other, MAIN_LINE).await;
    tw.dial_result("CASCR8", "completed").await;
    tw.status("CASCR8", other, MAIN_LINE, "completed", "120")
        .await;
    // A third texts in before morning: the conversation is already going.
    let texter = "+14155550199";
    tw.missed_call("CASCR14", texter).await;
    tw.sms(
        "SMSCR14",
        texter,
        MAIN_LINE,
        "My sink leaks, can someone come tomorrow?",
    )
    .await;
    app.wait_count("SELECT count(*) FROM calls WHERE textback_deferred = 1", 3)
        .await;

    let morning = chrono::Utc.with_ymd_and_hms(2026, 12, 8, 8, 1, 0).unwrap();
    app.state.desk.clock.set(morning);
    switchboard::frontdesk::sweep(&app.state.desk, morning).await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE kind = 'textback'"),
        0
    );
    let reasons = |sid: &str| {
        app.text(
            "SELECT json_extract(e.detail, '$.reason') FROM call_events e JOIN calls c ON c.id = e.call_id
             WHERE c.call_sid = ?1 AND e.kind = 'textback.cancelled'",
            sid,
        )
    };
    assert_eq!(reasons("CASCR6"), "opted_out");
    assert_eq!(reasons("CASCR7"), "answered_later");
    assert_eq!(reasons("CASCR14"), "texted_in");
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE textback_state = 'cancelled'"),
        3
    );
}

#[tokio::test]
async fn a_blocked_caller_hears_busy_is_never_texted_and_their_texts_get_no_answer() {
    let app = spawn_app_with(&instant()).await;
    let api = app.owner_api().await;
    let resp = api
        .post(
            "/api/blocklist",
            json!({ "number": CALLER, "note": "robocaller" }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let entry: Value = resp.json().await.unwrap();
    // Blocking twice is harmless.
    let again = api
        .post("/api/blocklist", json!({ "number": CALLER }))
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["alreadyBlocked"], true);

    let tw = app.twilio();
    assert_eq!(
        tw.call("CASCR9", CALLER, MAIN_LINE).await,
        twiml(r#"<Reject reason="busy"/>"#)
    );
    tw.status("CASCR9", CALLER, MAIN_LINE, "busy", "0").await;
    assert_eq!(outcome(&app, "CASCR9"), "blocked");
    assert_eq!(
        tw.sms("SMSCR9", CALLER, MAIN_LINE, "Cheap loans").await,
        twiml("")
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'"),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE sid = 'SMSCR9'"),
        1,
        "kept"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'blocklist.add'"),
        1
    );

    // Undo: the caller is put through again.
    let id = entry["entry"]["id"].as_i64().unwrap();
    let resp = api.delete(&format!("/api/blocklist/{id}")).await;
    assert_eq!(resp.status(), 204);
    assert!(tw
        .call("CASCR10", CALLER, MAIN_LINE)
        .await
        .contains("<Gather"));
    assert_eq!(api.get("/api/blocklist").await["entries"], json!([]));
}

#[tokio::test]
async fn the_blocklist_takes_prefixes_names_bad_fields_and_is_read_only_for_viewers() {
    let app = spawn_app_with(&instant()).await;
    let api = app.owner_api().await;
    let post = |body: Value| api.post("/api/blocklist", body);
    assert_eq!(post(json!({ "prefix": "+1900" })).await.status(), 201);
    for (body, field) in [
        (json!({ "number": "555-0199" }), "number"),
        (json!({ "prefix": "1900" }), "prefix"),
        (json!({}), "number"),
        (json!({ "number": CALLER, "prefix": "+1" }), "either"),
    ] {
        let resp = post(body.clone()).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
    let tw = app.twilio();
    assert_eq!(
        tw.call("CASCR11", "+19005550123", MAIN_LINE).await,
        twiml(r#"<Reject reason="busy"/>"#)
    );
    let (viewer, vcsrf) = app
        .user_client(
            "Demo Plumbing",
            "viewer@demo-plumbing.example",
            switchboard::domain::UserRole::Viewer,
        )
        .await;
    let resp = app
        .post_json(
            &viewer,
            &vcsrf,
            "/api/blocklist",
            Some(&json!({ "number": CALLER })),
        )
        .await;
    assert_eq!(resp.status(), 403);
    let list: Value = get_json(&viewer, app.url("/api/blocklist")).await;
    assert_eq!(list["entries"][0]["prefix"], "+1900");
}

#[tokio::test]
async fn a_caller_whose_caller_id_failed_verification_is_not_texted_unless_the_org_allows_it() {
    let app = spawn_app_with(&instant()).await;
    let tw = app.twilio();
    let call = |sid: &'static str, verstat: &'static str| {
        let tw = app.twilio();
        async move {
            tw.twiml(
                "/twilio/voice",
                &[
                    ("CallSid", sid),
                    ("From", CALLER),
                    ("To", MAIN_LINE),
                    ("Direction", "inbound"),
                    ("CallStatus", "ringing"),
                    ("StirVerstat", verstat),
                ],
            )
            .await
        }
    };
    call("CASCR12", "TN-Validation-Failed-B").await;
    tw.status("CASCR12", CALLER, MAIN_LINE, "completed", "30")
        .await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'blocked' AND blocked_reason = 'caller_unverified'",
        1,
    )
    .await;
    let (c, _) = app.owner().await;
    let id = app.count("SELECT id FROM calls WHERE call_sid = 'CASCR12'");
    let detail: Value = get_json(&c, app.url(&format!("/api/calls/{id}"))).await;
    assert_eq!(
        detail["call"]["stirVerstat"], "TN-Validation-Failed-B",
        "{detail}"
    );

    app.change_call_flow(|f| f["textback"]["textUnverifiedCallers"] = json!(true))
        .await;
    let other = "+14155550188";
    tw.twiml(
        "/twilio/voice",
        &[
            ("CallSid", "CASCR13"),
            ("From", other),
            ("To", MAIN_LINE),
            ("StirVerstat", "TN-Validation-Failed-C"),
        ],
    )
    .await;
    tw.status("CASCR13", other, MAIN_LINE, "completed", "30")
        .await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        1,
    )
    .await;
}
