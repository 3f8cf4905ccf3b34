//! Web push end to end (SPEC §12) against npm's `web-push-testing`, a push service we did
//! not write: it checks the VAPID JWT against the key the device subscribed with, decrypts
//! the RFC 8291 `aes128gcm` payload, and answers 410 for an expired subscription.

use crate::helpers::{spawn_app_with, Api, CALLER, MAIN_LINE};
use serde_json::{json, Value};
use std::time::Duration;

const SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/webpush/node_modules/web-push-testing/src/bin/server.js"
);

struct PushService {
    child: std::process::Child,
    base: String,
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn push_service() -> Option<PushService> {
    if !std::path::Path::new(SERVER).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but {SERVER} is missing: .ci/run must `npm install --prefix tests/webpush web-push-testing`");
        }
        eprintln!(
            "skipping the push test: run `npm install --prefix tests/webpush web-push-testing@1`"
        );
        return None;
    }
    let port = crate::helpers::free_port();
    let child = std::process::Command::new("node")
        .args([SERVER, &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs web-push-testing");
    let service = PushService {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let c = reqwest::Client::new();
    for _ in 0..100 {
        if c.post(format!("{}/status", service.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return Some(service);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("web-push-testing did not start");
}

impl PushService {
    /// A device subscribing with the appliance's VAPID public key, as a browser would.
    async fn subscribe(&self, application_server_key: &str) -> Value {
        let r = reqwest::Client::new()
            .post(format!("{}/subscribe", self.base))
            .json(&json!({ "userVisibleOnly": "true", "applicationServerKey": application_server_key }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["data"].clone()
    }

    /// What the device received, decrypted by the push service.
    async fn received(&self, client_hash: &str) -> Vec<Value> {
        let r: Value = reqwest::Client::new()
            .post(format!("{}/get-notifications", self.base))
            .json(&json!({ "clientHash": client_hash }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["data"]["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| serde_json::from_str(m.as_str().unwrap()).unwrap())
            .collect()
    }

    async fn expire(&self, client_hash: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/expire-subscription/{client_hash}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_new_lead_is_pushed_encrypted_to_the_owners_device_and_a_gone_device_is_removed() {
    let Some(service) = push_service().await else {
        return;
    };
    let app = spawn_app_with(&[("SWITCHBOARD_PUSH_ALLOW_HTTP", "true")]).await;
    let api: Api = app.owner_api().await;
    let prefs = api.get("/api/me/notifications").await;
    let key = prefs["pushPublicKey"].as_str().unwrap().to_string();
    assert_eq!(prefs["push"]["lead"], true, "{prefs}");

    let sub = service.subscribe(&key).await;
    let hash = sub["clientHash"].as_str().unwrap().to_string();
    let saved = api
        .post(
            "/api/me/push",
            json!({ "endpoint": sub["endpoint"], "keys": sub["keys"], "device": "Test phone" }),
        )
        .await;
    assert_eq!(saved.status(), 201, "{}", saved.text().await.unwrap());
    let prefs = api.get("/api/me/notifications").await;
    assert_eq!(prefs["devices"][0]["device"], "Test phone");

    // A customer texts in: a new lead, told to the device once though Twilio delivers twice.
    let tw = app.twilio();
    for _ in 0..2 {
        tw.sms(
            "SMpush0001",
            CALLER,
            MAIN_LINE,
            "Can you fix a leaking tap today?",
        )
        .await;
    }
    wait_for("the push", async || {
        !service.received(&hash).await.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = service.received(&hash).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("New lead from"),
        "{got:?}"
    );
    assert!(
        got[0]["body"].as_str().unwrap().contains("leaking tap"),
        "{got:?}"
    );
    assert!(
        got[0]["url"].as_str().unwrap().contains("/#leads/"),
        "the push opens the lead: {got:?}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE channel = 'push' AND status = 'sent'"),
        1
    );

    // The device unsubscribed at the push service: the next push gets 410 and the
    // subscription is removed, and nothing is left retrying.
    service.expire(&hash).await;
    tw.sms(
        "SMpush0002",
        "+14155550124",
        MAIN_LINE,
        "Do you do boilers?",
    )
    .await;
    app.wait_count("SELECT count(*) FROM push_subscriptions", 0)
        .await;
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE channel = 'push' AND status = 'pending'"),
        0
    );
}

#[tokio::test]
async fn a_subscription_must_be_one_a_browser_made() {
    let app = spawn_app_with(&[]).await;
    let api = app.owner_api().await;
    let keys = json!({ "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", "auth": "tBHItJI5svbpez7KI4CCXg" });
    for (body, field) in [
        // Real push services are https; http only with SWITCHBOARD_PUSH_ALLOW_HTTP.
        (
            json!({ "endpoint": "http://127.0.0.1:9/notify/x", "keys": keys }),
            "endpoint",
        ),
        // An internal address is refused where it resolves, naming the setting.
        (
            json!({ "endpoint": "https://127.0.0.1:9/notify/x", "keys": keys }),
            "endpoint",
        ),
        (
            json!({ "endpoint": "https://93.184.216.34/x", "keys": { "p256dh": "AAAA", "auth": "tBHItJI5svbpez7KI4CCXg" } }),
            "keys.p256dh",
        ),
        (
            json!({ "endpoint": "https://93.184.216.34/x", "keys": { "p256dh": keys["p256dh"], "auth": "short" } }),
            "keys.auth",
        ),
    ] {
        let r = api.post("/api/me/push", body).await;
        let err = crate::helpers::expect_error(r, 400, "invalid_field").await;
        assert_eq!(err["field"], field);
    }
    let ok = api
        .post(
            "/api/me/push",
            json!({ "endpoint": "https://93.184.216.34/x", "keys": keys }),
        )
        .await;
    assert_eq!(ok.status(), 201);
    let gone = api
        .send(
            reqwest::Method::DELETE,
            "/api/me/push",
            Some(json!({ "endpoint": "https://93.184.216.34/x" })),
        )
        .await;
    assert_eq!(gone.status(), 204);
}
