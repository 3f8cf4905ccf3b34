//! A newcomer's path on a fresh data dir without `--demo`, against a local mock Twilio:
//! create the owner, add an agent, import the business's own number with the command
//! line, serve, and a signed call to that number gets the call menu.

use crate::helpers::{
    add_owner_by_cli, get_json, real_settings, spawn_real_in, REAL_MASTER_SID, REAL_MASTER_TOKEN,
    REAL_PUBLIC_URL,
};
use crate::process::switchboard;
use serde_json::json;
use switchboard::simulator::{Simulator, Target};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OWNED: &str = "+14155550163";
const SID: &str = "PN33333333333333333333333333333333";

fn number(voice: &str) -> serde_json::Value {
    json!({
        "sid": SID, "account_sid": REAL_MASTER_SID, "phone_number": OWNED, "friendly_name": "Shop",
        "voice_url": voice,
        "sms_url": format!("{REAL_PUBLIC_URL}/twilio/sms"),
        "status_callback": format!("{REAL_PUBLIC_URL}/twilio/voice/status"),
    })
}

#[tokio::test]
async fn a_fresh_real_appliance_imports_its_number_from_the_command_line_and_answers_it() {
    let twilio = MockServer::start().await;
    let vapi = MockServer::start().await;
    let numbers = format!("/2010-04-01/Accounts/{REAL_MASTER_SID}/IncomingPhoneNumbers.json");
    let one = format!("/2010-04-01/Accounts/{REAL_MASTER_SID}/IncomingPhoneNumbers/{SID}.json");
    Mock::given(method("GET"))
        .and(path(numbers.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "incoming_phone_numbers": [number("https://old-host.example/voice")], "next_page_uri": null,
        })))
        .mount(&twilio)
        .await;
    let pointed = number(&format!("{REAL_PUBLIC_URL}/twilio/voice"));
    Mock::given(method("POST"))
        .and(path(one.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(pointed.clone()))
        .mount(&twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(one.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(pointed))
        .mount(&twilio)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let (tw, va) = (twilio.uri(), vapi.uri());
    let settings = real_settings(dir.path(), &tw, &va);
    let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    add_owner_by_cli(&env);
    let out = switchboard(
        &[
            "agent",
            "add",
            "--name",
            "Front desk",
            "--assistant-id",
            "asst_front",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let listed = switchboard(&["number", "import"], &env);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && stdout.contains(OWNED),
        "{stdout}"
    );
    let imported = switchboard(
        &[
            "number",
            "import",
            OWNED,
            "--role",
            "operational",
            "--name",
            "Shop",
        ],
        &env,
    );
    let stdout = String::from_utf8_lossy(&imported.stdout);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        stdout.contains("imported +14155550163 as operational"),
        "{stdout}"
    );
    let update = twilio
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let form = String::from_utf8_lossy(&update.body).into_owned();
    assert!(
        form.contains("VoiceUrl=https%3A%2F%2Fphones.example.test%2Ftwilio%2Fvoice"),
        "{form}"
    );
    let wrong = switchboard(&["number", "import", OWNED, "--role", "operational"], &env);
    // A refusal the operator can act on: exit 65 (EX_DATAERR), with the reason.
    assert_eq!(wrong.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("already on this appliance"));

    let listed = switchboard(&["number", "list"], &env);
    assert!(String::from_utf8_lossy(&listed.stdout)
        .contains("+14155550163\toperational\tivr\timported\tactive"));

    // Serve, and place a call the way Twilio signs it (for the PUBLIC_URL).
    let app = spawn_real_in(dir, &tw, &va).await;
    let sim = app.simulator(Some((REAL_MASTER_SID.into(), REAL_MASTER_TOKEN.into())));
    let sim = Simulator::new(Target {
        signed_base: REAL_PUBLIC_URL.into(),
        ..sim.target().clone()
    })
    .unwrap();
    let twiml = sim
        .twilio(
            "/twilio/voice",
            &[
                ("CallSid", "CA_fresh_install"),
                ("From", "+14155550123"),
                ("To", OWNED),
                ("CallStatus", "ringing"),
            ],
        )
        .await
        .unwrap()
        .body;
    assert!(twiml.contains("<Gather"), "{twiml}");
    // The org still lacks a notification number, and says so.
    let (c, _) = app.owner().await;
    let health = get_json(&c, app.url("/api/health")).await;
    assert!(
        health["warnings"]
            .to_string()
            .contains("No notification number"),
        "{health}"
    );
}
