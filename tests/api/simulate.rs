//! The simulator (SPEC §9.2) against a real appliance: whole calls that follow the TwiML,
//! Vapi sequences, load; and `switchboard simulate` as a newcomer runs it.

use crate::helpers::{get_json, spawn_app, TestApp, MAIN_LINE};
use serde_json::Value;
use switchboard::simulator::{CallPlan, DialOutcome, LoadPlan, ScreenAnswer, Sequence, Simulator};

const AI_LINE: &str = "+15550100004";

fn sim(app: &TestApp) -> Simulator {
    app.twilio().sim
}

/// The one call from `caller`, as the dashboard lists it.
async fn listed_call(app: &TestApp, caller: &str) -> Value {
    let (c, _) = app.owner().await;
    let url = app.url(&format!("/api/calls?caller={}", caller.replace('+', "%2B")));
    let calls = get_json(&c, url).await;
    let list = calls["calls"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{calls}");
    list[0].clone()
}

fn paths(report: &switchboard::simulator::CallReport) -> Vec<&str> {
    report.hops.iter().map(|h| h.path.as_str()).collect()
}

/// The simulator plays the callee's leg of a screened dial: accept connects, decline on
/// the first of two sequential targets rings the second, silence ends in our voicemail.
#[tokio::test]
async fn a_simulated_screened_call_is_accepted_declined_or_met_by_a_voicemail() {
    let app = spawn_app().await;
    let mut plan = CallPlan::new("+14155550171", MAIN_LINE);
    plan.digits = vec!["1".into()];
    plan.screen = vec![ScreenAnswer::Accept];
    let report = sim(&app).call(&plan, |_| {}).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        paths(&report),
        [
            "/twilio/voice",
            "/twilio/voice/menu?attempt=1",
            "/twilio/voice/screen?screen=1&option=1",
            "/twilio/voice/screen/answer?screen=1&option=1",
            "/twilio/voice/dial-result?screen=1&option=1",
            "/twilio/voice/status",
        ]
    );
    assert_eq!(
        listed_call(&app, "+14155550171").await["outcome"],
        "connected"
    );

    app.change_call_flow(|f| {
        f["menu"][0]["action"] = serde_json::json!({
            "type": "dial", "targets": ["+15550100101", "+15550100102"], "strategy": "sequential",
        });
    })
    .await;
    let mut plan = CallPlan::new("+14155550172", MAIN_LINE);
    plan.digits = vec!["1".into()];
    plan.screen = vec![ScreenAnswer::Decline, ScreenAnswer::Silent];
    plan.voicemail = Some("Please call me back".into());
    let report = sim(&app).call(&plan, |_| {}).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let p = paths(&report);
    assert_eq!(
        &p[..8],
        [
            "/twilio/voice",
            "/twilio/voice/menu?attempt=1",
            "/twilio/voice/screen?screen=1&option=1&position=0",
            "/twilio/voice/screen/answer?screen=1&option=1&position=0",
            "/twilio/voice/dial-result?screen=1&option=1&position=0",
            "/twilio/voice/screen?screen=1&option=1&position=1",
            "/twilio/voice/screen/answer?screen=1&option=1&position=1",
            "/twilio/voice/dial-result?screen=1&option=1&position=1",
        ]
    );
    assert!(p.contains(&"/twilio/voice/voicemail-done"), "{p:?}");
    assert_eq!(
        listed_call(&app, "+14155550172").await["outcome"],
        "voicemail"
    );
}

#[tokio::test]
async fn a_simulated_call_follows_the_menu_to_a_voicemail_and_its_transcript() {
    let app = spawn_app().await;
    let caller = "+14155550161";
    let mut plan = CallPlan::new(caller, MAIN_LINE);
    plan.digits = vec!["9".into()];
    plan.voicemail = Some("My sink leaks, please call me back".into());
    let mut seen = 0;
    let report = sim(&app).call(&plan, |_| seen += 1).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(seen, report.hops.len());
    assert_eq!(
        paths(&report),
        [
            "/twilio/voice",
            "/twilio/voice/menu?attempt=1",
            "/twilio/voice/voicemail-done",
            "/twilio/voice/recording",
            "/twilio/voice/status",
            "/twilio/voice/transcription",
        ]
    );
    assert!(report.hops.iter().all(|h| h.answer.status == 200));
    assert!(
        report.hops[1].then.contains("voicemail"),
        "{}",
        report.hops[1]
    );

    let call = listed_call(&app, caller).await;
    assert_eq!(call["outcome"], "voicemail", "{call}");
    app.wait_count(
        "SELECT count(*) FROM voicemails WHERE transcription_text = 'My sink leaks, please call me back'",
        1,
    )
    .await;
}

#[tokio::test]
async fn a_busy_transfer_and_a_caller_who_hangs_up_at_the_beep_is_a_missed_call() {
    let app = spawn_app().await;
    let caller = "+14155550162";
    let mut plan = CallPlan::new(caller, MAIN_LINE);
    plan.digits = vec!["1".into()];
    plan.dial = DialOutcome::Busy;
    let report = sim(&app).call(&plan, |_| {}).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        paths(&report),
        [
            "/twilio/voice",
            "/twilio/voice/menu?attempt=1",
            "/twilio/voice/dial-result?screen=1&option=1",
            "/twilio/voice/status",
        ]
    );
    assert!(report.hops[1]
        .verbs
        .iter()
        .any(|v| v.to_string().starts_with("Dial +1555")));
    assert!(report.hops[2].then.contains("hangs up at the beep"));
    let call = listed_call(&app, caller).await;
    assert_eq!(call["outcome"], "missed", "{call}");
}

#[tokio::test]
async fn a_caller_who_never_presses_a_key_is_walked_through_every_retry() {
    let app = spawn_app().await;
    let caller = "+14155550163";
    let mut plan = CallPlan::new(caller, MAIN_LINE);
    plan.voicemail = Some("Hello, is anybody there".into());
    let report = sim(&app).call(&plan, |_| {}).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let menus = paths(&report)
        .iter()
        .filter(|p| p.starts_with("/twilio/voice/menu"))
        .count();
    assert!(menus >= 2, "timeouts retry the menu: {:?}", paths(&report));
    // However many tries the flow allows, the caller is never left in silence.
    assert!(paths(&report).contains(&"/twilio/voice/voicemail-done"));
    assert_eq!(listed_call(&app, caller).await["outcome"], "voicemail");
}

#[tokio::test]
async fn an_early_hang_up_ends_the_call_with_only_its_status_callback() {
    let app = spawn_app().await;
    let caller = "+14155550164";
    let mut plan = CallPlan::new(caller, MAIN_LINE);
    plan.digits = vec!["1".into()];
    plan.hangup_after = Some(3);
    let report = sim(&app).call(&plan, |_| {}).await.unwrap();
    assert_eq!(paths(&report), ["/twilio/voice", "/twilio/voice/status"]);
    assert_eq!(report.duration_secs, 3);
    assert!(report.hops[0].then.contains("hangs up after 3 s"));
}

#[tokio::test]
async fn vapi_sequences_in_any_order_or_twice_make_one_ai_handled_call() {
    let app = spawn_app().await;
    let sim = sim(&app);
    for (caller, sequence) in [
        ("+14155550171", Sequence::InOrder),
        ("+14155550172", Sequence::Shuffled),
        ("+14155550173", Sequence::Duplicated),
    ] {
        let hops = sim
            .vapi_call(AI_LINE, caller, sequence, |_| {})
            .await
            .unwrap();
        let expected = if sequence == Sequence::Duplicated {
            8
        } else {
            4
        };
        assert_eq!(hops.len(), expected);
        assert!(hops.iter().all(|h| h.answer.status == 200), "{sequence:?}");
        let assistant: Value = serde_json::from_str(&hops[0].answer.body).unwrap();
        assert!(
            assistant.get("assistantId").is_some() || assistant.get("assistant").is_some(),
            "{assistant}"
        );
        let call = listed_call(&app, caller).await;
        assert_eq!(call["outcome"], "ai_handled", "{sequence:?}: {call}");
        assert_eq!(call["status"], "ended", "{sequence:?}: {call}");
        assert_eq!(call["durationSeconds"], 63, "{sequence:?}: {call}");
    }
}

#[tokio::test]
async fn load_runs_whole_calls_concurrently_and_counts_every_webhook() {
    let app = spawn_app().await;
    let mut call = CallPlan::new("+10000000000", MAIN_LINE);
    call.digits = vec!["9".into()];
    call.voicemail = Some("Call me back".into());
    let report = sim(&app)
        .load(&LoadPlan {
            calls: 40,
            concurrency: 8,
            call,
        })
        .await
        .unwrap();
    assert_eq!(report.failed_calls, 0, "{report}");
    assert_eq!(report.calls, 40);
    assert_eq!(report.requests, 40 * 6);
    assert_eq!(report.request_latencies.len(), report.requests);
    assert!(report.request_latency(0.5) <= report.request_latency(0.99));
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE to_number = '+15550100001'"),
        40
    );
    app.wait_count("SELECT count(*) FROM voicemails", 40).await;
}

#[tokio::test]
async fn a_wrong_auth_token_is_reported_as_an_error_on_the_first_hop() {
    let app = spawn_app().await;
    let master = app.state.accounts.master().cloned().unwrap();
    let forged = app.simulator(Some((master.account_sid, "not-the-token".into())));
    let report = forged
        .call(&CallPlan::new("+14155550165", MAIN_LINE), |_| {})
        .await
        .unwrap();
    assert_eq!(report.hops[0].answer.status, 403);
    assert!(report.hops[0].then.contains("HTTP 403"));
    assert!(!report.errors.is_empty());
}
