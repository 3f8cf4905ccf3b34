//! Feature flags through the API (SPEC §5.1): effective values, overrides that apply to the
//! next call without a restart, audited changes, role checks.

use crate::helpers::{expect_error, get_json, spawn_app_with, CALLER};
use serde_json::{json, Value};
use switchboard::domain::UserRole;

fn flag<'a>(list: &'a Value, key: &str) -> &'a Value {
    list["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap()
}

#[tokio::test]
async fn turning_text_back_off_and_on_applies_to_the_next_call_without_a_restart() {
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]).await;
    let (c, csrf) = app.owner().await;
    let list: Value = get_json(&c, app.url("/api/feature-flags")).await;
    let textback = flag(&list, "missed_call_textback");
    assert_eq!(
        (
            textback["enabledGlobally"].as_bool(),
            textback["orgOverride"].as_bool(),
            textback["effective"].as_bool()
        ),
        (Some(false), Some(true), Some(true))
    );
    assert_eq!(list["flags"].as_array().unwrap().len(), 5);

    // Back to the global default (off): a missed call is not texted.
    let cleared: Value = app
        .delete_json(
            &c,
            &csrf,
            "/api/feature-flags/missed_call_textback/override",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flag(&cleared, "missed_call_textback")["effective"], false);
    let tw = app.twilio();
    tw.missed_call("CA5001", CALLER).await;
    assert_eq!(
        app.count("SELECT count(*) FROM call_events WHERE kind = 'textback.skipped'"),
        1
    );

    // On again for this org: the very next missed call is texted.
    let resp = app
        .put_json(
            &c,
            &csrf,
            "/api/feature-flags/missed_call_textback/override",
            Some(&json!({ "enabled": true })),
        )
        .await;
    assert_eq!(resp.status(), 200);
    tw.missed_call("CA5002", "+14155550166").await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        1,
    )
    .await;

    let audit: Value = get_json(&c, app.url("/api/audit")).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..2],
        ["feature_flag.override", "feature_flag.clear_override"]
    );
}

#[tokio::test]
async fn global_changes_need_a_system_admin_and_unknown_flags_are_404() {
    let app = spawn_app_with(&[]).await;
    let (c, csrf) = app.owner().await;
    let body = json!({ "enabledGlobally": true, "rolloutPercentage": 50 });
    let resp = app
        .patch_json(
            &c,
            &csrf,
            "/api/feature-flags/missed_call_textback",
            Some(&body),
        )
        .await;
    expect_error(resp, 403, "system_admin_required").await;
    let resp = app
        .put_json(
            &c,
            &csrf,
            "/api/feature-flags/teleportation/override",
            Some(&json!({ "enabled": true })),
        )
        .await;
    expect_error(resp, 404, "not_found").await;

    app.db()
        .conn()
        .unwrap()
        .execute(
            "UPDATE users SET is_system_admin = 1 WHERE email = ?1",
            [&app.owner_email],
        )
        .unwrap();
    let resp = app
        .patch_json(
            &c,
            &csrf,
            "/api/feature-flags/missed_call_textback",
            Some(&body),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let list: Value = resp.json().await.unwrap();
    assert_eq!(flag(&list, "missed_call_textback")["rolloutPercentage"], 50);
    let bad = app
        .patch_json(
            &c,
            &csrf,
            "/api/feature-flags/ai_agents",
            Some(&json!({ "rolloutPercentage": 101 })),
        )
        .await;
    expect_error(bad, 400, "invalid_field").await;

    let (viewer, vcsrf) = app
        .user_client("Demo Plumbing", "viewer@example.com", UserRole::Viewer)
        .await;
    assert_eq!(
        viewer
            .get(app.url("/api/feature-flags"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = app
        .put_json(
            &viewer,
            &vcsrf,
            "/api/feature-flags/ai_agents/override",
            Some(&json!({ "enabled": false })),
        )
        .await;
    expect_error(resp, 403, "read_only").await;
}
