//! Outgoing webhooks (SPEC §13) delivered to a receiver that verifies each one with PyPI's
//! `standardwebhooks`, an implementation of the Standard Webhooks specification we did not
//! write. A receiver failing twice sees the same `webhook-id` again and processes the event
//! once; deliveries keep their order per endpoint; an internal address is refused with a
//! message naming the setting that allows it.

use crate::helpers::{expect_error, free_port, spawn_app, spawn_app_with, Api, CALLER, MAIN_LINE};
use crate::two_factor::python_with;
use serde_json::{json, Value};
use std::time::Duration;

const RECEIVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/webhook_receiver.py"
);

struct Receiver {
    child: std::process::Child,
    url: String,
    log: std::path::PathBuf,
    secret: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    async fn start(python: &str, fail_first: u32) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let (log, secret) = (dir.path().join("log.jsonl"), dir.path().join("secret"));
        std::fs::write(&secret, "").unwrap();
        let port = free_port();
        let child = std::process::Command::new(python)
            .args([
                RECEIVER,
                &port.to_string(),
                secret.to_str().unwrap(),
                &fail_first.to_string(),
                log.to_str().unwrap(),
            ])
            .spawn()
            .expect("python runs the receiver");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}/hook"),
            log,
            secret,
            _dir: dir,
        }
    }

    fn seen(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn wait_for(&self, delivered: usize) -> Vec<Value> {
        for _ in 0..200 {
            let seen = self.seen();
            if seen.iter().filter(|e| e["answered"] == 204).count() >= delivered {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{delivered} deliveries never arrived: {:?}", self.seen());
    }
}

#[tokio::test]
async fn deliveries_verify_with_standardwebhooks_are_retried_with_one_id_and_stay_in_order() {
    let Some(python) = python_with("standardwebhooks") else {
        return;
    };
    let receiver = Receiver::start(&python, 2).await;
    let app = spawn_app_with(&[("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE", "true")]).await;
    let api: Api = app.owner_api().await;
    let created = api
        .post(
            "/api/webhooks",
            json!({ "url": receiver.url, "events": ["message.received", "lead.created", "call.missed"], "description": "CRM" }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    std::fs::write(&receiver.secret, secret).unwrap();
    let id = created["endpoint"]["id"].as_i64().unwrap();
    assert!(
        !api.get("/api/webhooks").await.to_string().contains(secret),
        "the secret is shown once"
    );

    // A customer texts (Twilio delivers it twice): message.received, then lead.created.
    let tw = app.twilio();
    for _ in 0..2 {
        tw.sms("SMhook0001", CALLER, MAIN_LINE, "Can you come Friday?")
            .await;
    }
    // The receiver answers 500 twice: the first retry comes after ~5 s, the second after
    // ~5 min, which the test brings forward.
    for tried in 1..=2 {
        for _ in 0..200 {
            let pending_failed = app.count(&format!(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND attempts >= {tried}"
            ));
            if pending_failed > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.db()
            .conn()
            .unwrap()
            .execute(
                "UPDATE webhook_deliveries SET next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE status = 'pending'",
                [],
            )
            .unwrap();
        app.state.desk.notices_queued();
    }
    let seen = receiver.wait_for(2).await;
    assert!(seen.iter().all(|e| e["verified"] == true), "{seen:?}");
    // The first message was tried three times under one webhook-id, and processed once.
    let first = seen[0]["id"].as_str().unwrap();
    let tries: Vec<&Value> = seen.iter().filter(|e| e["id"] == first).collect();
    assert_eq!(tries.len(), 3, "{seen:?}");
    assert_eq!(
        tries.iter().filter(|e| e["answered"] == 204).count(),
        1,
        "{seen:?}"
    );
    // In order: the text before the lead it opened, each once though Twilio sent it twice.
    let delivered: Vec<&str> = seen
        .iter()
        .filter(|e| e["answered"] == 204)
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(delivered, ["message.received", "lead.created"], "{seen:?}");
    let text = seen
        .iter()
        .find(|e| e["type"] == "message.received")
        .unwrap();
    assert_eq!(text["data"]["body"], "Can you come Friday?");
    assert_eq!(text["data"]["from"], CALLER);

    // The delivery log: each attempt with the receiver's status and latency.
    let log = api.get(&format!("/api/webhooks/{id}/deliveries")).await;
    let statuses: Vec<i64> = log["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 204, 204], "{log}");
    assert!(log["attempts"][0]["latencyMs"].is_i64());
    assert!(log["attempts"][3]["response"]
        .as_str()
        .unwrap()
        .contains("maintenance"));

    // "Send a test event", and a rotated secret that the receiver must learn to verify.
    let rotated: Value = api
        .post(&format!("/api/webhooks/{id}/rotate"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    std::fs::write(&receiver.secret, rotated["secret"].as_str().unwrap()).unwrap();
    let test = api
        .post(&format!("/api/webhooks/{id}/test"), json!({}))
        .await;
    assert_eq!(test.status(), 202);
    let seen = receiver.wait_for(3).await;
    let last = seen.last().unwrap();
    assert_eq!(last["type"], "webhook.test");
    assert_eq!(last["verified"], true, "{last}");

    // Turned off: nothing more is sent.
    let off = api
        .patch(&format!("/api/webhooks/{id}"), json!({ "enabled": false }))
        .await;
    assert_eq!(off.status(), 200);
    tw.sms("SMhook0002", "+14155550124", MAIN_LINE, "Hello?")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.count("SELECT count(*) FROM webhook_deliveries"), 3);
}

#[tokio::test]
async fn internal_and_plain_http_endpoints_are_refused_naming_the_setting() {
    let app = spawn_app().await;
    let api = app.owner_api().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.5]/hook",
        "https://localhost/hook",
    ] {
        let r = api
            .post(
                "/api/webhooks",
                json!({ "url": url, "events": ["call.missed"] }),
            )
            .await;
        let err = expect_error(r, 400, "invalid_field").await;
        assert_eq!(err["field"], "url");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE"),
            "{url}: {err}"
        );
    }
    let r = api
        .post(
            "/api/webhooks",
            json!({ "url": "http://93.184.216.34/hook", "events": ["call.missed"] }),
        )
        .await;
    let err = expect_error(r, 400, "invalid_field").await;
    assert!(err["message"].as_str().unwrap().contains("https"), "{err}");
    let r = api
        .post(
            "/api/webhooks",
            json!({ "url": "https://93.184.216.34/hook", "events": ["call.answered"] }),
        )
        .await;
    let err = expect_error(r, 400, "invalid_field").await;
    assert_eq!(err["field"], "events");
    // A viewer cannot add one.
    let (c, csrf) = app
        .user_client(
            switchboard::demo::DEMO_ORG,
            "v@demo.example",
            switchboard::domain::UserRole::Viewer,
        )
        .await;
    let viewer = Api::new(c, csrf, &app.address);
    let r = viewer
        .post(
            "/api/webhooks",
            json!({ "url": "https://93.184.216.34/hook", "events": ["call.missed"] }),
        )
        .await;
    expect_error(r, 403, "read_only").await;
}

/// In Chromium: add an endpoint in Settings, keep its secret, send a test event and see
/// it delivered in the log.
#[tokio::test]
async fn in_the_browser_an_owner_adds_an_endpoint_and_sends_a_test_event() {
    use crate::browser::{click, signed_in_at, type_into, wait_text_with, wait_visible_text};
    let Some(python) = python_with("standardwebhooks") else {
        return;
    };
    let receiver = Receiver::start(&python, 0).await;
    let app = spawn_app_with(&[("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE", "true")]).await;
    let Some((_driver, c)) = signed_in_at(&app, "#settings").await else {
        return;
    };
    type_into(&c, "#webhook-url", &receiver.url).await;
    click(&c, "#webhook-events input[data-event='call.missed']").await;
    click(&c, "#webhook-form button[type='submit']").await;
    let secret = wait_visible_text(&c, "#webhook-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    std::fs::write(&receiver.secret, secret.trim()).unwrap();
    let listed = wait_visible_text(&c, "#webhooks-list").await;
    assert!(
        listed.contains(&receiver.url) && listed.contains("call.missed"),
        "{listed}"
    );
    click(&c, "#webhooks-list li button").await;
    let seen = receiver.wait_for(1).await;
    assert_eq!(seen[0]["type"], "webhook.test");
    assert_eq!(seen[0]["verified"], true, "{seen:?}");
    let log = wait_text_with(&c, "#webhooks-list ol", "HTTP 204").await;
    assert!(log.contains("webhook.test"), "{log}");
    c.close().await.unwrap();
}

/// An event that notifies nobody (a call ending) still goes out at once: the sender is
/// woken by the commit that wrote it.
#[tokio::test]
async fn a_completed_call_is_delivered_with_its_outcome() {
    let Some(python) = python_with("standardwebhooks") else {
        return;
    };
    let receiver = Receiver::start(&python, 0).await;
    let app = spawn_app_with(&[("SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE", "true")]).await;
    let api = app.owner_api().await;
    let created: Value = api
        .post(
            "/api/webhooks",
            json!({ "url": receiver.url, "events": ["call.completed"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    std::fs::write(&receiver.secret, created["secret"].as_str().unwrap()).unwrap();
    let tw = app.twilio();
    tw.call("CAhookdone1", CALLER, MAIN_LINE).await;
    tw.status("CAhookdone1", CALLER, MAIN_LINE, "completed", "42")
        .await;
    let started = std::time::Instant::now();
    let seen = receiver.wait_for(1).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen[0]["type"], "call.completed");
    assert_eq!(seen[0]["verified"], true);
    let data = &seen[0]["data"];
    assert_eq!(data["callSid"], "CAhookdone1");
    assert_eq!(data["from"], CALLER);
    assert_eq!(data["durationSeconds"], 42);
    assert_eq!(data["status"], "completed");
}
