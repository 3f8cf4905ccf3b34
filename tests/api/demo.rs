use crate::helpers::{client, get_json, spawn_app};
use crate::process::{served_url, start_demo, switchboard};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_demo_org_has_exactly_the_documented_numbers_agent_and_flags() {
    let app = spawn_app().await;
    let (c, _) = app.owner().await;
    let numbers: Value = get_json(&c, app.url("/api/numbers")).await;
    let rows: Vec<(String, String, String, Value)> = numbers["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["e164"].as_str().unwrap().into(),
                n["role"].as_str().unwrap().into(),
                n["handler"].as_str().unwrap().into(),
                n["agentName"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "+15550100001".into(),
                "operational".into(),
                "ivr".into(),
                Value::Null
            ),
            (
                "+15550100002".into(),
                "onboarding".into(),
                "ivr".into(),
                Value::Null
            ),
            (
                "+15550100003".into(),
                "system".into(),
                "ivr".into(),
                Value::Null
            ),
            (
                "+15550100004".into(),
                "operational".into(),
                "vapi".into(),
                json!("Front desk AI")
            ),
        ]
    );
    for n in numbers["numbers"].as_array().unwrap() {
        let sid = n["twilioSid"].as_str().unwrap();
        assert!(
            sid.starts_with("PN") && sid.len() == 34,
            "realistic SID: {sid}"
        );
    }
    let agents: Value = get_json(&c, app.url("/api/agents")).await;
    assert_eq!(agents["agents"][0]["name"], "Front desk AI");
    assert_eq!(
        agents["agents"][0]["vapiAssistantId"],
        "asst_demo_frontdesk"
    );
    assert_eq!(agents["agents"][0]["numbers"], json!(["+15550100004"]));
    assert_eq!(app.count("SELECT count(*) FROM org_feature_overrides WHERE flag_key = 'missed_call_textback' AND enabled = 1"), 1);
    // The sandbox knows the demo numbers, as a real Twilio account would, plus the two
    // it owns that the appliance does not hold yet (to try "bring your own number").
    let master = app.state.accounts.master().cloned().unwrap();
    assert_eq!(app.sandbox().owned_numbers(&master.account_sid).len(), 6);
}

#[tokio::test]
async fn the_login_page_info_says_sandbox() {
    let app = spawn_app().await;
    let info: Value = client()
        .get(app.url("/api/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sandbox"], true);
    assert_eq!(info["twilioSignatureCheckDisabled"], false);
}

#[test]
fn serve_demo_prints_the_owner_password_once_and_its_urls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (mut first, out) = start_demo(data);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(out.contains("SANDBOX"), "{out}");
    assert!(out.contains("dashboard:     http://127.0.0.1:"), "{out}");
    assert!(
        out.contains("email:    owner@demo-plumbing.example"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("password: ")),
        "{out}"
    );

    let (mut second, out) = start_demo(data);
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(out.contains("ready in"), "{out}");
    assert!(
        !out.contains("password:"),
        "the password is shown only on the first start: {out}"
    );

    // `config` says the data dir is a demo and shows the sandbox values it serves with
    // (they are not real secrets), without warning that real credentials are missing.
    let cfg = switchboard(&["--data-dir", data, "config"], &[]);
    let stdout = String::from_utf8_lossy(&cfg.stdout);
    assert!(
        stdout.starts_with("# This data directory is a demo"),
        "{stdout}"
    );
    assert!(stdout.contains("\nSWITCHBOARD_DEMO=true\n"), "{stdout}");
    assert!(
        stdout.contains("\nSWITCHBOARD_TWILIO_ACCOUNT_SID=AC"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nSWITCHBOARD_TWILIO_AUTH_TOKEN="),
        "{stdout}"
    );
    assert!(
        !stdout.contains("SWITCHBOARD_TWILIO_AUTH_TOKEN=("),
        "{stdout}"
    );
    assert!(
        !stdout.contains("SWITCHBOARD_VAPI_WEBHOOK_SECRET=(not set)"),
        "{stdout}"
    );
    assert!(!stdout.contains("# warning:"), "{stdout}");
}

#[test]
fn simulate_plays_a_whole_call_sms_vapi_and_load_right_after_serve_demo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (mut server, out) = start_demo(data);
    let url = served_url(&out);
    let sim = |args: &[&str]| {
        let mut all = vec!["--data-dir", data, "simulate"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--url", &url]);
        let out = switchboard(&all, &[]);
        let text = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        (out.status.code(), text.0, text.1)
    };

    let (code, stdout, stderr) = sim(&[
        "call",
        "--to",
        "+15550100001",
        "--digits",
        "9",
        "--voicemail",
        "my sink leaks",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for expected in [
        "→ POST /twilio/voice  CallStatus=ringing",
        "Gather a key",
        "⇒ the caller presses 9",
        "→ POST /twilio/voice/menu?attempt=1  Digits=9",
        "Record up to",
        "the caller leaves a",
        "→ POST /twilio/voice/transcription",
        "TranscriptionText=my sink leaks",
        "0 errors.",
    ] {
        assert!(stdout.contains(expected), "{expected} in {stdout}");
    }
    let db = rusqlite::Connection::open(dir.path().join("switchboard.db")).unwrap();
    let transcript: String = db
        .query_row(
            "SELECT transcription_text FROM voicemails ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(transcript, "my sink leaks");

    // The README's screening example: sales' phone is off, its voicemail picks up and
    // never presses 1, so the caller reaches this appliance's voicemail.
    let (code, stdout, stderr) = sim(&[
        "call",
        "--to",
        "+15550100001",
        "--from",
        "+14155550142",
        "--digits",
        "1",
        "--screen",
        "silent",
        "--voicemail",
        "please call me back about the boiler",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for expected in [
        "Dial +15550100101 (20 s, screened)",
        "→ POST /twilio/voice/screen?screen=1&option=1  ParentCallSid=",
        "Say \"Call for Demo Plumbing, sales, from 4 1 5, 5 5 5, 0 1 4 2.\"",
        "nobody presses a key: a voicemail greeting is playing",
        "→ POST /twilio/voice/dial-result?screen=1&option=1  DialCallStatus=completed",
        "Record up to",
        "0 errors.",
    ] {
        assert!(stdout.contains(expected), "{expected} in {stdout}");
    }
    let outcome: String = db
        .query_row(
            "SELECT outcome FROM calls WHERE from_number = '+14155550142'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome, "voicemail");

    let (code, stdout, stderr) = sim(&["sms", "--to", "+15550100001", "--body", "Open Saturday?"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("← 200"), "{stdout}");

    let (code, stdout, stderr) = sim(&["vapi", "--to", "+15550100004", "--sequence", "shuffled"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("4 deliveries, all accepted."), "{stdout}");

    let (code, stdout, stderr) = sim(&[
        "load",
        "--to",
        "+15550100001",
        "--calls",
        "20",
        "--concurrency",
        "4",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("20 calls ("), "{stdout}");
    assert!(stdout.contains("webhook latency: p50"), "{stdout}");
    assert!(stdout.contains("failed calls: 0"), "{stdout}");

    server.kill().unwrap();
    server.wait().unwrap();
    // Nothing listens any more: the command says what to check.
    let (code, _, stderr) = sim(&["call", "--to", "+15550100001"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("Is `switchboard serve` running?"),
        "{stderr}"
    );
}

#[test]
fn the_demo_refuses_a_real_database_and_the_real_appliance_refuses_a_demo_database() {
    let real = tempfile::tempdir().unwrap();
    let real_dir = real.path().to_str().unwrap();
    let added = switchboard(
        &[
            "--data-dir",
            real_dir,
            "user",
            "add",
            "--email",
            "o@example.com",
            "--role",
            "owner",
            "--org",
            "Real Co",
        ],
        &[],
    );
    assert!(added.status.success());
    let out = switchboard(
        &[
            "--data-dir",
            real_dir,
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("real (non-demo) database"));

    let demo = tempfile::tempdir().unwrap();
    let demo_dir = demo.path().to_str().unwrap();
    let (mut child, _) = start_demo(demo_dir);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = switchboard(
        &["--data-dir", demo_dir, "serve", "--listen", "127.0.0.1:0"],
        &[("SWITCHBOARD_PUBLIC_URL", "https://phones.example.com")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("created by `serve --demo`"));
}

#[test]
fn sigterm_stops_the_appliance_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, out) = start_demo(dir.path().to_str().unwrap());
    assert!(out.contains("ready in"), "{out}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "exit status after SIGTERM: {code:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The database is intact and closed cleanly.
    let conn = rusqlite::Connection::open(dir.path().join("switchboard.db")).unwrap();
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
}

/// `switchboard simulate callback` answers the user's leg of a callback placed from the
/// dashboard of a running demo: the whisper, the dial, the customer talking.
#[tokio::test]
async fn simulate_answers_the_users_leg_of_a_callback_placed_in_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (mut server, out) = start_demo(&data);
    let url = served_url(&out);
    let password = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let c = crate::helpers::client();
    let login: serde_json::Value = c
        .post(format!("{url}/api/auth/login"))
        .json(&serde_json::json!({ "email": "owner@demo-plumbing.example", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = login["csrfToken"].as_str().unwrap().to_string();
    let api = crate::helpers::Api::new(c, csrf, &url);
    let placed = api
        .post(
            "/api/callbacks",
            serde_json::json!({ "to": "(415) 555-0123" }),
        )
        .await;
    assert_eq!(placed.status(), 201);

    let out = crate::process::switchboard_async(
        &[
            "--data-dir",
            &data,
            "simulate",
            "callback",
            "--seconds",
            "42",
            "--url",
            &url,
        ],
        &[],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "Callback 1: Twilio rings +15550100199 from +15550100001",
        "→ POST /twilio/callback/answer?callback=1  AnsweredBy=human",
        "Calling back",
        "→ POST /twilio/callback/dial?callback=1  DialCallStatus=completed  DialCallDuration=42",
        "→ POST /twilio/callback/status?callback=1",
    ] {
        assert!(stdout.contains(expected), "{expected} in {stdout}");
    }
    let calls = api.get("/api/calls").await;
    assert_eq!(calls["calls"][0]["callback"]["customerStatus"], "answered");
    assert_eq!(calls["calls"][0]["callback"]["customerSeconds"], 42);
    // Nothing is left ringing: a second run says what to do instead.
    let again = crate::process::switchboard_async(
        &["--data-dir", &data, "simulate", "callback", "--url", &url],
        &[],
    )
    .await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no callback is ringing"));
    server.kill().unwrap();
    server.wait().unwrap();
}
