//! Provisioning and release against local mock Twilio and Vapi servers that fail on cue:
//! a failure at each step (and in a compensation) answers 502 naming the step and the
//! provider's code and leaves nothing behind; a process killed mid-saga is cleaned up at
//! the next start (SPEC §5.3, §5.4, §6.3).

use crate::helpers::{
    add_owner_by_cli, expect_error, get_json, real_settings, spawn_real, spawn_real_in, TestApp,
    REAL_OWNER_EMAIL, REAL_OWNER_PASSWORD, REAL_PUBLIC_URL,
};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SUB: &str = "AC11111111111111111111111111111111";
const PN: &str = "PN22222222222222222222222222222222";
const NUMBER: &str = "+14155550142";
const VAPI_ID: &str = "3c9f2a4e-1111-4222-8333-944445555666";

fn twilio_error(status: u16, code: i64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code, "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status,
    }))
}

fn number_body() -> Value {
    json!({
        "sid": PN, "account_sid": SUB, "phone_number": NUMBER, "friendly_name": "(415) 555-0142",
        "voice_url": format!("{REAL_PUBLIC_URL}/twilio/voice"),
        "sms_url": format!("{REAL_PUBLIC_URL}/twilio/sms"),
        "status_callback": format!("{REAL_PUBLIC_URL}/twilio/voice/status"),
    })
}

/// Which step the mocks fail.
#[derive(Clone, Copy, PartialEq)]
enum Fail {
    Nothing,
    Subaccount,
    Buy,
    Vapi,
    VapiAndRelease,
}

async fn mocks(fail: Fail) -> (MockServer, MockServer) {
    let twilio = MockServer::start().await;
    let vapi = MockServer::start().await;
    let accounts = if fail == Fail::Subaccount {
        twilio_error(401, 20003, "Authenticate")
    } else {
        ResponseTemplate::new(201).set_body_json(json!({
            "sid": SUB, "auth_token": "sub-token-0123456789abcdef", "friendly_name": "switchboard org 1", "status": "active",
        }))
    };
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts.json"))
        .respond_with(accounts)
        .mount(&twilio)
        .await;
    let buy = if fail == Fail::Buy {
        twilio_error(400, 21422, "PhoneNumber is unavailable")
    } else {
        ResponseTemplate::new(201).set_body_json(number_body())
    };
    Mock::given(method("POST"))
        .and(path(format!(
            "/2010-04-01/Accounts/{SUB}/IncomingPhoneNumbers.json"
        )))
        .respond_with(buy)
        .mount(&twilio)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{SUB}/IncomingPhoneNumbers.json"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "incoming_phone_numbers": [number_body()], "next_page_uri": null }),
        ))
        .mount(&twilio)
        .await;
    let release = if fail == Fail::VapiAndRelease {
        twilio_error(500, 20500, "Internal Server Error")
    } else {
        ResponseTemplate::new(204)
    };
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/2010-04-01/Accounts/{SUB}/IncomingPhoneNumbers/{PN}.json"
        )))
        .respond_with(release)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{SUB}.json")))
        .and(body_string_contains("Status=closed"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "sid": SUB, "status": "closed" })),
        )
        .mount(&twilio)
        .await;
    let create = if matches!(fail, Fail::Vapi | Fail::VapiAndRelease) {
        ResponseTemplate::new(400).set_body_json(json!({
            "message": ["assistantId must be a UUID"], "error": "Bad Request", "statusCode": 400,
        }))
    } else {
        ResponseTemplate::new(201).set_body_json(
            json!({ "id": VAPI_ID, "number": NUMBER, "provider": "twilio", "smsEnabled": false }),
        )
    };
    Mock::given(method("POST"))
        .and(path("/phone-number"))
        .respond_with(create)
        .mount(&vapi)
        .await;
    Mock::given(method("GET"))
        .and(path("/phone-number"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&vapi)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/phone-number/{VAPI_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": VAPI_ID })))
        .mount(&vapi)
        .await;
    (twilio, vapi)
}

/// (method, path) of every request a mock received.
async fn received(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r: &Request| (r.method.to_string(), r.url.path().to_string()))
        .collect()
}

fn has(log: &[(String, String)], m: &str, p: &str) -> bool {
    log.iter().any(|(a, b)| a == m && b == p)
}

/// Twilio was asked to release the bought number.
fn released(log: &[(String, String)]) -> bool {
    has(
        log,
        "DELETE",
        &format!("/2010-04-01/Accounts/{SUB}/IncomingPhoneNumbers/{PN}.json"),
    )
}

/// Twilio was asked to close the subaccount.
fn closed(log: &[(String, String)]) -> bool {
    has(log, "POST", &format!("/2010-04-01/Accounts/{SUB}.json"))
}

async fn buy_vapi_number(app: &TestApp) -> reqwest::Response {
    let (c, csrf) = app.owner().await;
    c.post(app.url("/api/managed-telephony/numbers"))
        .header("X-CSRF-Token", csrf)
        .json(&json!({ "phoneNumber": NUMBER, "handler": "vapi" }))
        .send()
        .await
        .unwrap()
}

/// Nothing of a failed provisioning is left in the database.
fn assert_no_orphans(app: &TestApp) {
    assert_eq!(app.count("SELECT count(*) FROM phone_numbers"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM provider_accounts WHERE status = 'active' OR secret_ciphertext IS NOT NULL"),
        0
    );
}

#[tokio::test]
async fn a_refused_subaccount_answers_502_at_step_one_and_buys_nothing() {
    let (twilio, vapi) = mocks(Fail::Subaccount).await;
    let app = spawn_real(&twilio.uri(), &vapi.uri()).await;
    let err = expect_error(buy_vapi_number(&app).await, 502, "provider_error").await;
    assert_eq!(err["step"], "ensure_subaccount");
    assert_eq!(err["provider_code"], 20003);
    assert!(
        err["message"].as_str().unwrap().contains("credentials"),
        "{err}"
    );
    let log = received(&twilio).await;
    assert_eq!(
        log,
        [("POST".to_string(), "/2010-04-01/Accounts.json".to_string())]
    );
    assert!(received(&vapi).await.is_empty());
    assert_no_orphans(&app);
    // The Health page lists it with the step that failed and what to do.
    let (c, _) = app.owner().await;
    let failed = get_json(&c, app.url("/api/monitoring/failed_transactions")).await;
    let row = &failed["rows"][0];
    assert_eq!(row["kind"], "provision_number", "{failed}");
    assert_eq!(row["state"], "compensated", "{failed}");
    assert!(row["failed_step"]
        .as_str()
        .unwrap()
        .starts_with("ensure_subaccount"));
    assert!(row["fix"]
        .as_str()
        .unwrap()
        .contains("nothing was left behind"));
}

#[tokio::test]
async fn an_unavailable_number_answers_502_at_the_buy_and_closes_the_new_subaccount() {
    let (twilio, vapi) = mocks(Fail::Buy).await;
    let app = spawn_real(&twilio.uri(), &vapi.uri()).await;
    let err = expect_error(buy_vapi_number(&app).await, 502, "provider_error").await;
    assert_eq!(err["step"], "buy_number");
    assert_eq!(err["provider_code"], 21422);
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("no longer available"));
    let log = received(&twilio).await;
    assert!(closed(&log), "{log:?}");
    assert!(!released(&log));
    assert!(received(&vapi).await.is_empty());
    assert_no_orphans(&app);
    assert_eq!(
        app.count("SELECT count(*) FROM sagas WHERE state = 'compensated'"),
        1
    );
}

#[tokio::test]
async fn a_vapi_failure_releases_the_bought_number_and_closes_the_subaccount() {
    let (twilio, vapi) = mocks(Fail::Vapi).await;
    let app = spawn_real(&twilio.uri(), &vapi.uri()).await;
    let err = expect_error(buy_vapi_number(&app).await, 502, "provider_error").await;
    assert_eq!(err["step"], "vapi_import");
    assert_eq!(err["provider"], "vapi");
    assert!(err["message"].as_str().unwrap().contains("assistantId"));
    let log = received(&twilio).await;
    assert!(released(&log));
    assert!(closed(&log));
    // The Vapi body is the current API's, never the deprecated import endpoint.
    let sent = &vapi.received_requests().await.unwrap()[0];
    assert_eq!(sent.url.path(), "/phone-number");
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["provider"], "twilio");
    assert_eq!(body["smsEnabled"], false);
    assert_eq!(body["twilioAccountSid"], SUB);
    assert_no_orphans(&app);
    let steps: Vec<(String, String, String)> = app
        .db()
        .conn()
        .unwrap()
        .prepare("SELECT name, phase, state FROM saga_steps ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        steps,
        [
            s("ensure_subaccount", "action", "succeeded"),
            s("buy_number", "action", "succeeded"),
            s("vapi_import", "action", "failed"),
            s("buy_number", "compensation", "succeeded"),
            s("ensure_subaccount", "compensation", "succeeded"),
        ]
    );
}

#[tokio::test]
async fn a_failed_database_step_undoes_every_provider_step() {
    let (twilio, vapi) = mocks(Fail::Nothing).await;
    // The number becomes taken while Vapi answers: the row cannot be written.
    vapi.reset().await;
    Mock::given(method("POST"))
        .and(path("/phone-number"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({ "id": VAPI_ID, "number": NUMBER, "smsEnabled": false }))
                .set_delay(std::time::Duration::from_millis(400)),
        )
        .mount(&vapi)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/phone-number/{VAPI_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": VAPI_ID })))
        .mount(&vapi)
        .await;
    let app = spawn_real(&twilio.uri(), &vapi.uri()).await;
    // Signed in first, so the squatter's clock starts with the purchase itself.
    let (c, csrf) = app.owner().await;
    let db = app.db().clone();
    let squatter = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        db.conn()
            .unwrap()
            .execute(
                &format!("INSERT INTO phone_numbers (org_id, e164, role, origin) VALUES (1, '{NUMBER}', 'system', 'manual')"),
                [],
            )
            .unwrap();
    });
    let buy = c
        .post(app.url("/api/managed-telephony/numbers"))
        .header("X-CSRF-Token", csrf)
        .json(&json!({ "phoneNumber": NUMBER, "handler": "vapi" }))
        .send()
        .await
        .unwrap();
    let err = expect_error(buy, 502, "provider_error").await;
    squatter.await.unwrap();
    assert_eq!(err["step"], "write_number");
    assert!(has(
        &received(&vapi).await,
        "DELETE",
        &format!("/phone-number/{VAPI_ID}")
    ));
    let log = received(&twilio).await;
    assert!(released(&log));
    assert!(closed(&log));
    assert_eq!(
        app.count("SELECT count(*) FROM phone_numbers WHERE origin = 'managed'"),
        0
    );
}

#[tokio::test]
async fn a_failed_compensation_is_reported_and_finished_at_the_next_start() {
    let (twilio, vapi) = mocks(Fail::VapiAndRelease).await;
    let app = spawn_real(&twilio.uri(), &vapi.uri()).await;
    let err = expect_error(buy_vapi_number(&app).await, 502, "provider_error").await;
    assert_eq!(err["step"], "vapi_import");
    assert!(
        err["hint"].as_str().unwrap().contains("next start"),
        "{err}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sagas WHERE state = 'compensating'"),
        1
    );

    // Twilio is healthy again; the appliance restarts on the same data dir.
    let (twilio2, vapi2) = mocks(Fail::Nothing).await;
    let TestApp { data_dir, .. } = app;
    let restarted = spawn_real_in(data_dir, &twilio2.uri(), &vapi2.uri()).await;
    let log = received(&twilio2).await;
    assert!(released(&log), "{log:?}");
    assert!(closed(&log), "{log:?}");
    assert_eq!(
        restarted.count("SELECT count(*) FROM sagas WHERE state = 'compensated'"),
        1
    );
    assert_no_orphans(&restarted);
}

/// Makes `stuck` take `method path` and never answer in time, starts the real binary on a
/// fresh data dir against the mocks, asks it to buy a Vapi number, waits until `stuck` has
/// received that request, and kills the process with SIGKILL. Returns the data dir to restart on.
async fn buy_and_kill_while_waiting(
    twilio: &MockServer,
    vapi: &MockServer,
    stuck: &MockServer,
    (stuck_method, stuck_path): (&str, &str),
) -> tempfile::TempDir {
    // The provider takes the request and never answers in time.
    Mock::given(method(stuck_method))
        .and(path(stuck_path))
        .respond_with(ResponseTemplate::new(201).set_delay(std::time::Duration::from_secs(60)))
        .mount(stuck)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let settings = real_settings(dir.path(), &twilio.uri(), &vapi.uri());
    let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    add_owner_by_cli(&env);

    let port = crate::helpers::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.env_clear()
        .args(["serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    cmd.env("SWITCHBOARD_LISTEN", &listen);
    let mut child = cmd.spawn().unwrap();
    let base = format!("http://{listen}");
    let c = crate::helpers::client();
    let mut up = false;
    for _ in 0..100 {
        if c.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "the appliance did not start");
    let login: Value = c
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "email": REAL_OWNER_EMAIL, "password": REAL_OWNER_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = login["csrfToken"].as_str().unwrap().to_string();
    let pending = tokio::spawn({
        let c = c.clone();
        let url = format!("{base}/api/managed-telephony/numbers");
        async move {
            c.post(url)
                .header("X-CSRF-Token", csrf)
                .json(&json!({ "phoneNumber": NUMBER, "handler": "vapi" }))
                .send()
                .await
        }
    });
    for _ in 0..200 {
        if has(&received(stuck).await, stuck_method, stuck_path) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        has(&received(stuck).await, stuck_method, stuck_path),
        "the saga never reached {stuck_method} {stuck_path}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        pending.await.unwrap().is_err(),
        "the request died with the process"
    );
    dir
}

#[tokio::test]
async fn a_process_killed_mid_saga_is_compensated_when_it_starts_again() {
    let (twilio, vapi) = mocks(Fail::Nothing).await;
    // Vapi never answers in time: the process is killed while it waits.
    vapi.reset().await;
    Mock::given(method("GET"))
        .and(path("/phone-number"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&vapi)
        .await;
    let dir = buy_and_kill_while_waiting(&twilio, &vapi, &vapi, ("POST", "/phone-number")).await;
    assert!(has(
        &received(&twilio).await,
        "POST",
        &format!("/2010-04-01/Accounts/{SUB}/IncomingPhoneNumbers.json")
    ));

    // Restart on the same data dir: recovery releases the number and closes the subaccount.
    let restarted = spawn_real_in(dir, &twilio.uri(), &vapi.uri()).await;
    let log = received(&twilio).await;
    assert!(released(&log), "{log:?}");
    assert!(closed(&log), "{log:?}");
    assert!(has(&received(&vapi).await, "GET", "/phone-number"));
    assert_eq!(
        restarted.count("SELECT count(*) FROM sagas WHERE state = 'compensated'"),
        1
    );
    assert_no_orphans(&restarted);
}

#[tokio::test]
async fn a_subaccount_whose_creation_answer_was_lost_in_a_crash_is_found_by_name_and_closed() {
    let (twilio, vapi) = mocks(Fail::Nothing).await;
    // Twilio creates the subaccount but the answer never arrives before the kill.
    twilio.reset().await;
    let dir = buy_and_kill_while_waiting(
        &twilio,
        &vapi,
        &twilio,
        ("POST", "/2010-04-01/Accounts.json"),
    )
    .await;
    let name = received_bodies(&twilio)
        .await
        .into_iter()
        .find_map(|(p, body)| (p == "/2010-04-01/Accounts.json").then_some(body))
        .unwrap();
    assert!(
        name.starts_with("FriendlyName=switchboard+org+1+%28saga+"),
        "{name}"
    );

    // At the next start the saga knows no SID: it asks Twilio for the account by the name it
    // gave it, and closes it.
    Mock::given(method("GET"))
        .and(path("/2010-04-01/Accounts.json"))
        .and(wiremock::matchers::query_param_contains("FriendlyName", "(saga "))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accounts": [{ "sid": SUB, "friendly_name": "switchboard org 1 (saga 1)", "status": "active",
                           "auth_token": "sub-token-0123456789abcdef" }],
            "next_page_uri": null,
        })))
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{SUB}.json")))
        .and(body_string_contains("Status=closed"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "sid": SUB, "status": "closed" })),
        )
        .mount(&twilio)
        .await;
    let restarted = spawn_real_in(dir, &twilio.uri(), &vapi.uri()).await;
    let log = received(&twilio).await;
    assert!(has(&log, "GET", "/2010-04-01/Accounts.json"), "{log:?}");
    assert!(closed(&log), "{log:?}");
    assert!(received(&vapi).await.is_empty(), "Vapi was never reached");
    assert_eq!(
        restarted.count("SELECT count(*) FROM sagas WHERE state = 'compensated'"),
        1
    );
    assert_no_orphans(&restarted);
}

/// (path, body) of every request a mock received.
async fn received_bodies(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r: &Request| {
            (
                r.url.path().to_string(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect()
}
