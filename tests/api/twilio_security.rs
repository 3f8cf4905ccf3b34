//! Webhook authentication and bad input (SPEC §3.1, §6.1, §6.4).

use crate::helpers::{client, spawn_app, spawn_app_with, CALLER, MAIN_LINE};
use switchboard::domain::signature::compute;

fn params(account: &str) -> Vec<(String, String)> {
    [
        ("AccountSid", account),
        ("CallSid", "CA9001"),
        ("From", CALLER),
        ("To", MAIN_LINE),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[tokio::test]
async fn forged_missing_and_foreign_signatures_are_403_with_a_ledger_row_and_no_effects() {
    let app = spawn_app().await;
    let master = app.state.accounts.master().cloned().unwrap();
    let url = app.url("/twilio/voice");
    let p = params(&master.account_sid);
    let forged = client()
        .post(&url)
        .header("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let missing = client().post(&url).form(&p).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    let wrong_key = compute("not-the-token", &url, &p);
    assert_eq!(
        client()
            .post(&url)
            .header("X-Twilio-Signature", wrong_key)
            .form(&p)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // Signed with the right token for another (unknown) account.
    let foreign = params("AC00000000000000000000000000000000");
    let sig = compute(&master.auth_token, &url, &foreign);
    assert_eq!(
        client()
            .post(&url)
            .header("X-Twilio-Signature", sig)
            .form(&foreign)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // A signature over different parameters (tampered body).
    let sig = compute(&master.auth_token, &url, &p);
    let mut tampered = p.clone();
    tampered[2].1 = "+19998887777".into();
    assert_eq!(
        client()
            .post(&url)
            .header("X-Twilio-Signature", sig)
            .form(&tampered)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    assert_eq!(app.count("SELECT count(*) FROM calls"), 0);
    app.state.ledger.flush().await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM webhook_ledger WHERE signature = 'invalid' AND http_status = 403"
        ),
        4
    );
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_ledger WHERE signature = 'missing'"),
        1
    );
    let error: String = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT error FROM webhook_ledger WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        error.contains(&url),
        "the ledger names the URL that was hashed: {error}"
    );
    let metrics = client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("switchboard_webhook_requests_total{provider=\"twilio\",route=\"/twilio/voice\",status=\"403\"} 5"), "{metrics}");
}

#[tokio::test]
async fn a_subaccount_number_is_verified_with_the_subaccounts_own_token() {
    let app = spawn_app().await;
    let sub_sid = "AC1111111111111111111111111111aaaa";
    let sub_token = "subaccount-token-0123456789abcdef";
    {
        let conn = app.db().conn().unwrap();
        let account_id = switchboard::db::provider_accounts::insert(
            &conn,
            &app.state.desk.secret_key,
            &switchboard::db::provider_accounts::NewAccount {
                org_id: Some(1),
                created_by_saga: None,
                provider: "twilio",
                kind: "subaccount",
                account_sid: sub_sid,
                secret: sub_token,
                is_managed: true,
                friendly_name: None,
            },
        )
        .unwrap();
        conn.execute(
            "INSERT INTO phone_numbers (org_id, e164, role, origin, provider_account_id) VALUES (1, '+15550100050', 'operational', 'managed', ?1)",
            [account_id],
        )
        .unwrap();
    }
    let url = app.url("/twilio/voice");
    let p: Vec<(String, String)> = [
        ("AccountSid", sub_sid),
        ("CallSid", "CA9002"),
        ("From", CALLER),
        ("To", "+15550100050"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let master = app.state.accounts.master().cloned().unwrap();
    let with_master = compute(&master.auth_token, &url, &p);
    assert_eq!(
        client()
            .post(&url)
            .header("X-Twilio-Signature", with_master)
            .form(&p)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let with_sub = compute(sub_token, &url, &p);
    assert_eq!(
        client()
            .post(&url)
            .header("X-Twilio-Signature", with_sub)
            .form(&p)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_url_is_verified() {
    let app = spawn_app_with(&[
        ("SWITCHBOARD_TRUST_PROXY", "true"),
        ("SWITCHBOARD_PUBLIC_URL", "https://phones.example.com"),
    ])
    .await;
    let master = app.state.accounts.master().cloned().unwrap();
    let p = params(&master.account_sid);
    let sig = compute(
        &master.auth_token,
        "https://phones.example.com/twilio/voice",
        &p,
    );
    let resp = client()
        .post(app.url("/twilio/voice"))
        .header("X-Twilio-Signature", &sig)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "phones.example.com")
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The same signature on PUBLIC_URL with the default port added is accepted too.
    let sig443 = compute(
        &master.auth_token,
        "https://phones.example.com:443/twilio/voice",
        &p,
    );
    let resp = client()
        .post(app.url("/twilio/voice"))
        .header("X-Twilio-Signature", sig443)
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn the_query_string_is_part_of_the_signed_url_exactly_as_received() {
    let app = spawn_app().await;
    let master = app.state.accounts.master().cloned().unwrap();
    let p = params(&master.account_sid);
    let url = app.url("/twilio/voice/menu?attempt=2");
    let sig = compute(&master.auth_token, &url, &p);
    assert_eq!(
        client()
            .post(&url)
            .header("X-Twilio-Signature", &sig)
            .form(&p)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let other = app.url("/twilio/voice/menu?attempt=3");
    assert_eq!(
        client()
            .post(&other)
            .header("X-Twilio-Signature", &sig)
            .form(&p)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test]
async fn skipping_signature_checks_needs_the_explicit_setting_and_shows_a_warning() {
    let app = spawn_app_with(&[("SWITCHBOARD_INSECURE_SKIP_TWILIO_SIGNATURE", "true")]).await;
    let resp = client()
        .post(app.url("/twilio/voice"))
        .form(&params("AC00000000000000000000000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let info: serde_json::Value = client()
        .get(app.url("/api/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["twilioSignatureCheckDisabled"], true);
    app.state.ledger.flush().await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_ledger WHERE signature = 'skipped'"),
        1
    );
}

#[tokio::test]
async fn one_caller_is_limited_with_polite_twiml_and_others_are_not() {
    let app = spawn_app_with(&[("SWITCHBOARD_RATE_TWILIO_VOICE_PER_MIN", "2")]).await;
    let tw = app.twilio();
    tw.call("CA9101", CALLER, MAIN_LINE).await;
    tw.call("CA9102", CALLER, MAIN_LINE).await;
    let limited = tw.call("CA9103", CALLER, MAIN_LINE).await;
    assert!(limited.ends_with("<Say>We are receiving too many calls from this number right now. Please try again in a few minutes. Goodbye.</Say><Hangup/></Response>"), "{limited}");
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE call_sid = 'CA9103'"),
        0,
        "a limited call costs no database write"
    );
    assert!(tw
        .call("CA9104", "+14155550999", MAIN_LINE)
        .await
        .contains("<Gather"));
}

#[tokio::test]
async fn failed_authentication_is_limited_per_ip_but_signed_traffic_from_that_ip_is_not() {
    let app = spawn_app_with(&[
        ("SWITCHBOARD_RATE_AUTH_FAILURES_PER_MIN", "3"),
        ("SWITCHBOARD_RATE_TWILIO_VOICE_PER_MIN", "1000"),
    ])
    .await;
    let url = app.url("/twilio/voice");
    let p = params("AC00000000000000000000000000000000");
    for _ in 0..3 {
        assert_eq!(
            client()
                .post(&url)
                .header("X-Twilio-Signature", "x")
                .form(&p)
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
    }
    let limited = client()
        .post(&url)
        .header("X-Twilio-Signature", "x")
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let tw = app.twilio();
    for i in 0..10 {
        tw.call(&format!("CA92{i:02}"), CALLER, MAIN_LINE).await;
    }
    app.state.ledger.flush().await;
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_ledger WHERE http_status = 403"),
        3,
        "limited failures write no ledger rows"
    );
}

#[tokio::test]
async fn a_status_outside_twilios_set_is_refused_naming_the_values_it_may_take() {
    let app = spawn_app().await;
    let tw = app.twilio();
    tw.call("CA9401", CALLER, MAIN_LINE).await;
    let params = |status| {
        [
            ("CallSid", "CA9401"),
            ("From", CALLER),
            ("To", MAIN_LINE),
            ("CallStatus", status),
        ]
    };
    let resp = tw.post("/twilio/voice/status", &params("exploded")).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("CallStatus") && text.contains("no-answer"),
        "{text}"
    );
    let live = "SELECT count(*) FROM calls WHERE call_sid = 'CA9401' AND status = 'ringing' AND ended_at IS NULL";
    assert_eq!(app.count(live), 1, "the call is untouched");
    assert_eq!(
        tw.post("/twilio/voice/status", &params("completed"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE call_sid = 'CA9401' AND status = 'completed' AND ended_at IS NOT NULL"),
        1
    );

    app.db()
        .conn()
        .unwrap()
        .execute(
            "INSERT INTO messages (sid, direction, from_number, to_number, kind, status)
             VALUES ('SM9401', 'outbound', ?1, ?2, 'reply', 'sent')",
            [MAIN_LINE, CALLER],
        )
        .unwrap();
    let delivery = |status| [("MessageSid", "SM9401"), ("MessageStatus", status)];
    let resp = tw.post("/twilio/sms/status", &delivery("lost")).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("MessageStatus") && text.contains("undelivered"),
        "{text}"
    );
    assert_eq!(
        tw.post("/twilio/sms/status", &delivery("delivered"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE sid = 'SM9401' AND status = 'delivered'"),
        1
    );
}

#[tokio::test]
async fn malformed_and_oversized_webhooks_get_4xx_without_side_effects() {
    let app = spawn_app().await;
    let tw = app.twilio();
    let resp = tw
        .post("/twilio/voice", &[("From", CALLER), ("To", MAIN_LINE)])
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("CallSid"));
    let resp = tw
        .post("/twilio/voice/status", &[("CallSid", "CA9301")])
        .await;
    assert_eq!(resp.status(), 400, "status without CallStatus");
    let resp = tw
        .post(
            "/twilio/sms",
            &[("From", CALLER), ("To", MAIN_LINE), ("Body", "x")],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        app.count("SELECT count(*) FROM calls") + app.count("SELECT count(*) FROM messages"),
        0
    );

    let huge = "x".repeat(70 * 1024);
    let resp = tw
        .post(
            "/twilio/sms",
            &[
                ("MessageSid", "SM9301"),
                ("From", CALLER),
                ("To", MAIN_LINE),
                ("Body", &huge),
            ],
        )
        .await;
    assert_eq!(resp.status(), 413);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);

    // A caller ID that is not E.164 is answered normally but never texted.
    let body = tw.call("CA9302", "266696687", MAIN_LINE).await;
    assert!(body.contains("<Gather"));
    let wrong_method = client().get(app.url("/twilio/voice")).send().await.unwrap();
    assert!(wrong_method.status().is_client_error());
}

const SHARED_KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
const SHARED_KEY_SECRET: &str = "test-shared-key-secret-0123456789";

#[tokio::test]
async fn shared_key_signatures_verify_with_sha256_and_never_downgrade() {
    use switchboard::domain::signature::{compute_with, Algorithm};
    let app = spawn_app_with(&[
        ("SWITCHBOARD_TWILIO_SHARED_KEY_SID", SHARED_KEY_SID),
        ("SWITCHBOARD_TWILIO_SHARED_KEY_SECRET", SHARED_KEY_SECRET),
    ])
    .await;
    let master = app.state.accounts.master().cloned().unwrap();
    let url = app.url("/twilio/voice");
    let p = params(&master.account_sid);
    let post = |signature: String, settings: Option<&'static str>| {
        let mut req = client()
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .form(&p);
        if let Some(s) = settings {
            req = req.header("X-Twilio-Webhooks-Signature-Settings", s);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let settings = "key=SK0123456789abcdef0123456789abcdef,algorithm=HMAC_SHA256";
    let sha256 = compute_with(Algorithm::Sha256, SHARED_KEY_SECRET, &url, &p);
    assert_eq!(post(sha256.clone(), Some(settings)).await, 200);
    // The header says SHA-256: the auth token's SHA-1 signature is not accepted instead.
    let sha1 = compute(&master.auth_token, &url, &p);
    assert_eq!(post(sha1.clone(), Some(settings)).await, 403, "downgrade");
    // SHA-256 keyed by the auth token is not the SharedKey's signature either.
    let wrong_key = compute_with(Algorithm::Sha256, &master.auth_token, &url, &p);
    assert_eq!(post(wrong_key, Some(settings)).await, 403);
    // An unknown key id or algorithm fails closed.
    let other = "key=SKffffffffffffffffffffffffffffffff,algorithm=HMAC_SHA256";
    assert_eq!(post(sha256.clone(), Some(other)).await, 403);
    let sha1_alg = "key=SK0123456789abcdef0123456789abcdef,algorithm=HMAC_SHA1";
    assert_eq!(post(sha1.clone(), Some(sha1_alg)).await, 403);
    assert_eq!(post(sha256.clone(), Some("nonsense")).await, 403);
    // Without the header, the classic auth-token signature still works.
    assert_eq!(post(sha1, None).await, 200);
    assert_eq!(
        post(sha256.clone(), None).await,
        403,
        "SHA-256 needs its header"
    );
    app.state.ledger.flush().await;
    let refused = app.count(
        "SELECT count(*) FROM webhook_ledger WHERE route = '/twilio/voice' AND signature = 'invalid'",
    );
    assert_eq!(refused, 6);

    // An appliance with no SharedKey configured refuses SharedKey-signed requests.
    let plain = spawn_app().await;
    let master = plain.state.accounts.master().cloned().unwrap();
    let url = plain.url("/twilio/voice");
    let p = params(&master.account_sid);
    let sig = compute_with(Algorithm::Sha256, SHARED_KEY_SECRET, &url, &p);
    let status = client()
        .post(&url)
        .header("X-Twilio-Signature", sig)
        .header("X-Twilio-Webhooks-Signature-Settings", settings)
        .form(&p)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
}
