//! Every request the real Twilio and Vapi clients send, checked by Prism against the
//! providers' own OpenAPI descriptions (`tests/openapi/`): Prism answers 422 to a request
//! the real API would refuse (wrong path, missing or malformed field). Skipped with a
//! message when Prism is not installed, except under CI=true, where `.ci/run` installs it.

use switchboard::providers::twilio::TwilioClient;
use switchboard::providers::vapi::VapiClient;
use switchboard::providers::*;

const PRISM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/prism/node_modules/.bin/prism"
);

struct Prism(std::process::Child);

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn prism(spec: &str) -> Option<(Prism, String)> {
    if !std::path::Path::new(PRISM).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but {PRISM} is missing: .ci/run must `npm install --prefix tests/prism @stoplight/prism-cli`");
        }
        eprintln!(
            "skipping OpenAPI check: run `npm install --prefix tests/prism @stoplight/prism-cli`"
        );
        return None;
    }
    let port = crate::helpers::free_port();
    let spec = format!("{}/tests/openapi/{spec}", env!("CARGO_MANIFEST_DIR"));
    let child = std::process::Command::new(PRISM)
        .args([
            "mock",
            "--errors",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            &spec,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prism starts");
    let guard = Prism(child);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..240 {
        if reqwest::get(&base).await.is_ok() {
            return Some((guard, base));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("prism did not start serving {spec}");
}

/// The request was accepted: whatever Prism made of its example answer, it was not a
/// validation failure of what we sent.
fn accepted<T: std::fmt::Debug>(what: &str, r: Result<T, ProviderError>) {
    if let Err(e) = &r {
        assert_ne!(
            e.http_status,
            Some(422),
            "{what}: the spec refuses our request: {e:?}"
        );
        assert_ne!(
            e.http_status,
            Some(404),
            "{what}: no such route in the spec: {e:?}"
        );
        assert_ne!(
            e.http_status,
            Some(405),
            "{what}: wrong method for the spec: {e:?}"
        );
    }
}

const SID: &str = "AC00000000000000000000000000000001";
const PN: &str = "PN22222222222222222222222222222222";

#[tokio::test]
async fn every_twilio_request_is_one_the_twilio_openapi_accepts() {
    let Some((_prism, base)) = prism("twilio_api_v2010.json").await else {
        return;
    };
    let client = TwilioClient::new(http_client(), &base);
    let creds = TwilioCreds {
        account_sid: SID.into(),
        auth_token: "test-token".into(),
    };
    let hooks = NumberWebhooks::for_base("https://phones.example.test");
    accepted(
        "create subaccount",
        client.create_subaccount(&creds, "switchboard org 1").await,
    );
    accepted(
        "close subaccount",
        client
            .close_subaccount(&creds, "AC00000000000000000000000000000002")
            .await,
    );
    accepted(
        "find subaccount by name",
        client
            .find_subaccounts(&creds, "switchboard org 1 (saga 7)")
            .await,
    );
    let search = NumberSearch {
        country: "US".into(),
        number_type: NumberType::Local,
        area_code: Some("415".into()),
        contains: Some("55*".into()),
        limit: 20,
    };
    accepted("search", client.search_numbers(&creds, &search).await);
    let buy = BuyNumber {
        phone_number: "+14155550142".into(),
        friendly_name: Some("Van line".into()),
        voice_url: hooks.voice_url.clone(),
        sms_url: hooks.sms_url.clone(),
        status_callback: hooks.status_callback.clone(),
    };
    accepted("buy", client.buy_number(&creds, &buy).await);
    accepted("list numbers", client.list_numbers(&creds).await);
    accepted(
        "point webhooks",
        client.update_number(&creds, PN, &hooks).await,
    );
    accepted("read back", client.get_number(&creds, PN).await);
    accepted("release", client.release_number(&creds, PN).await);
    let sms = OutboundSms {
        from: "+14155550142".into(),
        to: "+14155550123".into(),
        body: "Sorry we missed your call".into(),
        status_callback: Some("https://phones.example.test/twilio/sms/status".into()),
    };
    accepted("send sms", client.send_sms(&creds, &sms).await);
    let call = OutboundCall {
        from: "+14155550142".into(),
        to: "+14155550199".into(),
        url: "https://phones.example.test/twilio/callback/answer?callback=1".into(),
        status_callback: "https://phones.example.test/twilio/callback/status?callback=1".into(),
        timeout: 25,
        machine_detection: true,
    };
    accepted("place a callback", client.place_call(&creds, &call).await);
}

#[tokio::test]
async fn every_vapi_request_is_one_the_vapi_openapi_accepts() {
    let Some((_prism, base)) = prism("vapi_openapi.json").await else {
        return;
    };
    let client = VapiClient::new(http_client(), &base, "test-vapi-key");
    let create = VapiNumberCreate {
        number: "+14155550142".into(),
        twilio_account_sid: SID.into(),
        twilio_auth_token: "test-token".into(),
        name: "Van line".into(),
        assistant_id: Some("asst_front".into()),
    };
    accepted("create", client.create_phone_number(&create).await);
    accepted("list", client.list_phone_numbers().await);
    let id = "3c9f2a4e-1111-4222-8333-944445555666";
    accepted("get", client.get_phone_number(id).await);
    // Linking another assistant. (Unlinking sends `"assistantId": null`, which Vapi's
    // description does not declare nullable though the API accepts it — see
    // `VapiClient::update_phone_number`; that body is checked by the wiremock tests.)
    let update = VapiNumberUpdate {
        assistant_id: Some(Some("asst_night".into())),
        name: Some("Van line".into()),
    };
    accepted("update", client.update_phone_number(id, &update).await);
    accepted("delete", client.delete_phone_number(id).await);

    // The control: Prism does refuse what the spec forbids (a number name is a string), so
    // the checks above can fail.
    let refused = http_client()
        .patch(format!("{base}/phone-number/{id}"))
        .bearer_auth("test-vapi-key")
        .json(&serde_json::json!({ "provider": "twilio", "name": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422, "Prism must validate request bodies");
}
