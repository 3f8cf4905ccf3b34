//! The monitoring views (SPEC §8.2) at `GET /api/monitoring/{view}`, fed by real
//! webhooks, and the webhook ledger searched by call id.

use crate::helpers::{expect_error, get_json, spawn_app, TestApp, MAIN_LINE};
use serde_json::Value;
use switchboard::domain::UserRole;
use switchboard::simulator::CallPlan;

const VIEWS: [&str; 9] = [
    "active_calls",
    "call_volume_hourly",
    "recent_errors",
    "rate_limit_violations",
    "failed_transactions",
    "number_provisioning_status",
    "voicemail_backlog",
    "call_success_metrics",
    "consent_metrics",
];

/// A call still ringing, a voicemail nobody handled, a forged webhook and a
/// rate-limited caller.
pub async fn activity(app: &TestApp) {
    let tw = app.twilio();
    tw.call("CA_MON_ACTIVE", "+14155550191", MAIN_LINE).await;
    let mut plan = CallPlan::new("+14155550192", MAIN_LINE);
    plan.call_sid = Some("CA_MON_VOICEMAIL".into());
    plan.digits = vec!["9".into()];
    plan.voicemail = Some("The water heater is leaking again".into());
    let report = tw.sim.call(&plan, |_| {}).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let forged = crate::helpers::client()
        .post(app.url("/twilio/voice"))
        .header("X-Twilio-Signature", "Zm9yZ2Vk")
        .form(&[("CallSid", "CA_MON_FORGED"), ("AccountSid", "ACnobody")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    app.db()
        .conn()
        .unwrap()
        .execute(
            "INSERT INTO rate_limit_violations (limiter, key, minute, count)
             VALUES ('twilio_voice_per_caller', '+14155550193', strftime('%Y-%m-%dT%H:%MZ', 'now'), 7)",
            [],
        )
        .unwrap();
    // A refused request's parameters are not trusted: its row names no call.
    app.wait_count(
        "SELECT count(*) FROM webhook_ledger WHERE http_status = 403",
        1,
    )
    .await;
}

async fn view(c: &reqwest::Client, app: &TestApp, name: &str) -> Vec<Value> {
    let body = get_json(c, app.url(&format!("/api/monitoring/{name}"))).await;
    assert_eq!(body["view"], name, "{body}");
    body["rows"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_view_answers_with_the_org_s_activity_and_errors_say_what_to_do() {
    let app = spawn_app().await;
    activity(&app).await;
    let (c, _) = app.owner().await;
    for name in VIEWS {
        let rows = view(&c, &app, name).await;
        assert!(
            rows.iter().all(|r| r.get("org_id").is_none()),
            "{name}: the org column is not shown"
        );
        let expect_rows = name != "failed_transactions";
        assert_eq!(!rows.is_empty(), expect_rows, "{name}: {rows:?}");
    }

    let active = view(&c, &app, "active_calls").await;
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["call_id"], "CA_MON_ACTIVE");
    assert!(active[0]["age_seconds"].as_i64().unwrap() >= 0);

    let hourly = view(&c, &app, "call_volume_hourly").await;
    assert_eq!(hourly[0]["calls"], 2);
    assert_eq!(hourly[0]["voicemail"], 1);
    assert_eq!(hourly[0]["in_progress"], 1);

    let backlog = view(&c, &app, "voicemail_backlog").await;
    assert_eq!(backlog[0]["waiting"], 1);
    assert_eq!(backlog[0]["awaiting_transcript"], 0);

    let success = view(&c, &app, "call_success_metrics").await;
    assert_eq!(success[0]["voicemail"], 1);
    assert_eq!(success[0]["answer_rate_percent"], 0.0);

    let consent: Vec<(String, i64)> = view(&c, &app, "consent_metrics")
        .await
        .iter()
        .map(|r| {
            (
                r["consent_outcome"].as_str().unwrap().to_string(),
                r["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        consent.iter().map(|(_, n)| n).sum::<i64>(),
        2,
        "{consent:?}"
    );

    let errors = view(&c, &app, "recent_errors").await;
    let forged = errors
        .iter()
        .find(|e| e["code"] == 403)
        .unwrap_or_else(|| panic!("{errors:?}"));
    assert_eq!(forged["source"], "webhook");
    assert_eq!(forged["code"], 403);
    assert!(forged["what"]
        .as_str()
        .unwrap()
        .contains("signature invalid"));
    assert!(forged["fix"]
        .as_str()
        .unwrap()
        .contains("The signature did not match"));

    let limited = view(&c, &app, "rate_limit_violations").await;
    assert_eq!(limited[0]["key"], "+14155550193");
    assert_eq!(limited[0]["rejected"], 7);

    let numbers = view(&c, &app, "number_provisioning_status").await;
    assert_eq!(numbers.len(), 4);
    assert!(numbers.iter().all(|n| n["in_progress"].is_null()));

    let ledger = get_json(
        &c,
        app.url("/api/monitoring/webhook_ledger?reference=CA_MON_VOICEMAIL"),
    )
    .await;
    let routes: Vec<&str> = ledger["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    assert!(
        routes.contains(&"/twilio/voice/voicemail-done"),
        "{routes:?}"
    );
}

#[tokio::test]
async fn monitoring_is_for_owners_and_admins_and_bad_requests_say_what_to_send() {
    let app = spawn_app().await;
    let (owner, _) = app.owner().await;
    let resp = owner
        .get(app.url("/api/monitoring/calls"))
        .send()
        .await
        .unwrap();
    let err = expect_error(resp, 404, "not_found").await;
    assert!(err["message"].as_str().unwrap().contains("active_calls"));
    let resp = owner
        .get(app.url("/api/monitoring/webhook_ledger"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "reference_required").await;

    let (viewer, _) = app
        .user_client("Demo Plumbing", "v@demo-plumbing.example", UserRole::Viewer)
        .await;
    let resp = viewer
        .get(app.url("/api/monitoring/active_calls"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "read_only").await;

    // Another business sees none of this one's calls.
    app.twilio()
        .call("CA_MON_OTHER", "+14155550194", MAIN_LINE)
        .await;
    let (other, _) = app
        .user_client("Other Co", "admin@other.example", UserRole::Admin)
        .await;
    let active = get_json(&other, app.url("/api/monitoring/active_calls")).await;
    assert_eq!(active["rows"], serde_json::json!([]));
}

/// The rows of no organization name callers, addresses and sign-in emails of every
/// organization: with a second business on the appliance, only a system administrator
/// (made with `switchboard user system-admin`) sees them.
#[tokio::test]
async fn with_several_organizations_only_a_system_admin_sees_the_rows_of_none() {
    let app = spawn_app().await;
    activity(&app).await;
    let (owner, _) = app.owner().await;
    let whole = |body: &Value| body["applianceWide"].as_bool().unwrap();
    let rate_limits = get_json(&owner, app.url("/api/monitoring/rate_limit_violations")).await;
    assert!(whole(&rate_limits), "one organization: its owner sees all");
    assert_eq!(rate_limits["rows"][0]["key"], "+14155550193");

    let (baker, _) = app
        .user_client("Other Bakery", "baker@example.com", UserRole::Owner)
        .await;
    for c in [&owner, &baker] {
        let body = get_json(c, app.url("/api/monitoring/rate_limit_violations")).await;
        assert!(!whole(&body), "{body}");
        assert_eq!(body["rows"], serde_json::json!([]), "{body}");
        let errors = view(c, &app, "recent_errors").await;
        assert!(errors.iter().all(|e| e["code"] != 403), "{errors:?}");
    }
    let own = view(&baker, &app, "active_calls").await;
    assert!(own.is_empty(), "another business's calls: {own:?}");

    let data = app.data_dir.path().display().to_string();
    let on = [
        "--data-dir",
        &data,
        "user",
        "system-admin",
        "--email",
        "baker@example.com",
    ];
    let out = crate::process::switchboard_async(&on, &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = get_json(&baker, app.url("/api/monitoring/rate_limit_violations")).await;
    assert!(whole(&body), "{body}");
    assert_eq!(body["rows"][0]["key"], "+14155550193");
    let errors = view(&baker, &app, "recent_errors").await;
    assert!(errors.iter().any(|e| e["code"] == 403), "{errors:?}");

    let off = [&on[..], &["--off"]].concat();
    let out = crate::process::switchboard_async(&off, &[]).await;
    assert!(out.status.success());
    let body = get_json(&baker, app.url("/api/monitoring/rate_limit_violations")).await;
    assert!(!whole(&body), "{body}");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.system_admin'"),
        2
    );
    let missing = crate::process::switchboard_async(
        &[
            "--data-dir",
            &data,
            "user",
            "system-admin",
            "--email",
            "nobody@example.com",
        ],
        &[],
    )
    .await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("switchboard user add"));
}
