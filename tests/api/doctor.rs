//! `switchboard doctor` (SPEC §9.3) against a serving real appliance whose Twilio and Vapi
//! are local mock servers: it passes when they agree with the appliance and names each
//! disagreement, with its fix, when they do not.

use crate::helpers::{
    free_port, real_settings, spawn_real_with, TestApp, REAL_MASTER_SID, REAL_ORG,
};
use crate::process::switchboard_async;
use serde_json::{json, Value};
use switchboard::db::{agents, numbers, orgs};
use switchboard::domain::{NumberHandler, NumberOrigin, NumberRole, PhoneNumber};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MENU: &str = "+14155550181";
const MENU_SID: &str = "PN18181818181818181818181818181818";
const AI: &str = "+14155550182";
const AI_SID: &str = "PN18281828182818281828182818281828";
const VAPI_ID: &str = "vn-doctor-ai-line";
const ASSISTANT: &str = "asst_doctor";
const VAPI_VOICE: &str = "https://api.vapi.ai/twilio/inbound_call";

struct Setup {
    app: TestApp,
    twilio: MockServer,
    vapi: MockServer,
    public: String,
    env: Vec<(String, String)>,
}

/// A real appliance serving at its PUBLIC_URL (a loopback address, so the round trip
/// can be made), with a menu number and an AI number.
async fn setup() -> Setup {
    let (twilio, vapi) = (MockServer::start().await, MockServer::start().await);
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let extra = [
        ("SWITCHBOARD_PUBLIC_URL", public.as_str()),
        ("SWITCHBOARD_LISTEN", listen.as_str()),
        ("SWITCHBOARD_VAPI_WEBHOOK_SECRET", "doctor-vapi-secret"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_real_with(dir, &twilio.uri(), &vapi.uri(), &extra).await;
    {
        let conn = app.db().conn().unwrap();
        let org = orgs::find_by_name(&conn, REAL_ORG).unwrap().unwrap().id;
        let agent = agents::insert(&conn, org, "Front desk", Some(ASSISTANT), None).unwrap();
        for (e164, sid, handler, vapi_id, agent_id) in [
            (MENU, MENU_SID, NumberHandler::Ivr, None, None),
            (AI, AI_SID, NumberHandler::Vapi, Some(VAPI_ID), Some(agent)),
        ] {
            numbers::insert(
                &conn,
                &numbers::NewNumber {
                    org_id: org,
                    e164: &PhoneNumber::parse(e164).unwrap(),
                    role: NumberRole::Operational,
                    handler,
                    origin: NumberOrigin::Imported,
                    twilio_sid: Some(sid),
                    provider_account_id: None,
                    vapi_phone_number_id: vapi_id,
                    agent_id,
                    friendly_name: None,
                    description: None,
                },
            )
            .unwrap();
        }
    }
    let mut env: Vec<(String, String)> =
        real_settings(app.data_dir.path(), &twilio.uri(), &vapi.uri())
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Setup {
        app,
        twilio,
        vapi,
        public,
        env,
    }
}

fn at_twilio(sid: &str, e164: &str, voice: &str, sms: &str, status: &str) -> Value {
    json!({
        "sid": sid, "account_sid": REAL_MASTER_SID, "phone_number": e164,
        "voice_url": voice, "sms_url": sms, "status_callback": status,
    })
}

async fn mount(server: &MockServer, route: String, status: u16, body: Value) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

/// Twilio and Vapi as they should be: the menu number's webhooks here, the AI number's
/// calls at Vapi with its texts here, Vapi keeping smsEnabled off with the agent's
/// assistant. `account` is the account's answer.
async fn mount_providers(
    s: &Setup,
    account: ResponseTemplate,
    menu: Value,
    ai: Value,
    at_vapi: Value,
) {
    let accounts = "/2010-04-01/Accounts";
    Mock::given(method("GET"))
        .and(path(format!("{accounts}/{REAL_MASTER_SID}.json")))
        .respond_with(account)
        .mount(&s.twilio)
        .await;
    let numbers = format!("{accounts}/{REAL_MASTER_SID}/IncomingPhoneNumbers");
    mount(&s.twilio, format!("{numbers}/{MENU_SID}.json"), 200, menu).await;
    mount(&s.twilio, format!("{numbers}/{AI_SID}.json"), 200, ai).await;
    mount(&s.vapi, format!("/phone-number/{VAPI_ID}"), 200, at_vapi).await;
}

fn active() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "sid": REAL_MASTER_SID, "status": "active" }))
}

fn here(s: &Setup, sid: &str, e164: &str) -> Value {
    let p = &s.public;
    at_twilio(
        sid,
        e164,
        &format!("{p}/twilio/voice"),
        &format!("{p}/twilio/sms"),
        &format!("{p}/twilio/voice/status"),
    )
}

fn ai_at_vapi(s: &Setup) -> Value {
    let p = &s.public;
    at_twilio(
        AI_SID,
        AI,
        VAPI_VOICE,
        &format!("{p}/twilio/sms"),
        &format!("{p}/twilio/voice/status"),
    )
}

fn vapi_number(sms_enabled: bool, assistant: &str) -> Value {
    json!({ "id": VAPI_ID, "number": AI, "assistantId": assistant, "smsEnabled": sms_enabled })
}

/// Runs `switchboard doctor` (and other commands) with the appliance's settings plus
/// `overrides`; returns the exit code and standard output.
async fn run(s: &Setup, args: &[&str], overrides: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut env: Vec<(&str, &str)> = s
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.extend_from_slice(overrides);
    let out = switchboard_async(args, &env).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn assert_lines(out: &str, expected: &[&str]) {
    for e in expected {
        assert!(out.contains(e), "{e:?} in\n{out}");
    }
}

#[tokio::test]
async fn doctor_passes_when_everything_agrees_and_a_backup_is_recent() {
    let s = setup().await;
    mount_providers(
        &s,
        active(),
        here(&s, MENU_SID, MENU),
        ai_at_vapi(&s),
        vapi_number(false, ASSISTANT),
    )
    .await;

    // Everything but the backup: none was made yet.
    let (code, out) = run(&s, &["doctor"], &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert_lines(
        &out,
        &[
            "✓ configuration: complete",
            "✓ database: intact",
            "✓ PUBLIC_URL round trip: a request signed for",
            "✓ Twilio credentials: account AC00000000000000000000000000000001 is active",
            "✓ clock: within",
            "✓ number +14155550181: voice, SMS and status webhooks point here",
            "✓ number +14155550182: calls go to Vapi's agent, texts and status here",
            "✗ backup: no backup has been made",
            "fix: Run `switchboard backup",
            "✓ disk space:",
            "1 of 9 checks failed",
        ],
    );

    let file = s.app.data_dir.path().join("nightly.db");
    let (code, out) = run(&s, &["backup", file.to_str().unwrap()], &[]).await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&s, &["doctor"], &[]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_lines(&out, &["✓ backup: last backup", "All checks passed."]);
    assert!(!out.contains('✗'), "{out}");
}

#[tokio::test]
async fn doctor_names_every_disagreement_with_its_fix() {
    let s = setup().await;
    // Twilio's clock is ten minutes ahead; the menu number was handed to Vapi in the
    // console; the AI number's calls still come here; Vapi answers its texts and sends
    // its calls to another assistant.
    let ahead = (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc2822();
    let p = s.public.clone();
    mount_providers(
        &s,
        active().insert_header("date", ahead.as_str()),
        at_twilio(
            MENU_SID,
            MENU,
            VAPI_VOICE,
            "https://old-pbx.example.com/sms",
            &format!("{p}/twilio/voice/status"),
        ),
        here(&s, AI_SID, AI),
        vapi_number(true, "asst_someone_else"),
    )
    .await;
    let (code, out) = run(&s, &["doctor"], &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert_lines(
        &out,
        &[
            "✗ clock: this host's clock is -",
            "fix: Turn on time synchronisation",
            "✗ number +14155550181: its Voice URL is https://api.vapi.ai/twilio/inbound_call, not this appliance's",
            "it points at Vapi, but the number is answered by the call menu",
            "its Messaging URL is https://old-pbx.example.com/sms",
            "fix: In the Twilio console set the number's Voice URL to",
            "✗ number +14155550182: its Voice URL points here, but it is answered by the AI agent",
            "Vapi has smsEnabled=true",
            "Vapi sends its calls to assistant asst_someone_else, not to the linked agent's asst_doctor",
            "fix: Hand it to the agent again",
        ],
    );

    // Checked at another URL than the one the appliance serves under (as behind a proxy
    // that rewrites the host), the signature cannot match.
    let port = s.public.rsplit(':').next().unwrap().to_string();
    let elsewhere = format!("http://localhost:{port}");
    let (code, out) = run(&s, &["doctor"], &[("SWITCHBOARD_PUBLIC_URL", &elsewhere)]).await;
    assert_eq!(code, Some(1), "{out}");
    assert_lines(
        &out,
        &[
            "✗ PUBLIC_URL round trip: http://localhost:",
            "the signature did not match the URL it saw",
            "fix: Something on the way changes the scheme, host or path Twilio signs",
        ],
    );
}

#[tokio::test]
async fn doctor_says_when_twilio_refuses_the_credentials_or_nothing_answers() {
    let s = setup().await;
    mount_providers(
        &s,
        ResponseTemplate::new(401).set_body_json(json!({
            "code": 20003, "message": "Authenticate", "status": 401
        })),
        here(&s, MENU_SID, MENU),
        ai_at_vapi(&s),
        vapi_number(false, ASSISTANT),
    )
    .await;
    let closed = format!("http://127.0.0.1:{}", free_port());
    let (code, out) = run(&s, &["doctor"], &[("SWITCHBOARD_PUBLIC_URL", &closed)]).await;
    assert_eq!(code, Some(1), "{out}");
    assert_lines(
        &out,
        &[
            "✗ Twilio credentials: Twilio refused account AC00000000000000000000000000000001",
            "fix: Copy the Account SID and Auth Token again",
            "✗ PUBLIC_URL round trip:",
            "Connection refused",
            "fix: Check that the appliance is running",
        ],
    );
    // Without credentials, numbers are not checked against a Twilio that refused them.
    assert!(!out.contains("number +1415"), "{out}");
}

#[tokio::test]
async fn the_dashboards_checks_are_for_owners_and_admins_and_pass_on_the_demo() {
    let app = crate::helpers::spawn_app().await;
    let (owner, _) = app.owner().await;
    let report = crate::helpers::get_json(&owner, app.url("/api/doctor")).await;
    assert_eq!(report["ok"], true, "{report}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"number +15550100004"), "{names:?}");
    let (viewer, _) = app
        .user_client(
            "Demo Plumbing",
            "viewer@demo-plumbing.example",
            switchboard::domain::UserRole::Viewer,
        )
        .await;
    let resp = viewer.get(app.url("/api/doctor")).send().await.unwrap();
    crate::helpers::expect_error(resp, 403, "read_only").await;
}
