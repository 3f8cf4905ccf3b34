//! The dashboard as an installed app and the owner's loop in Chromium (SPEC §12): the
//! service worker registers, the manifest makes the page installable, a user sets their
//! mobile and quiet hours in Settings, and "Call back" rings their phone from the
//! business number.

use crate::browser::{click, signed_in_at, type_into, wait_text_with, wait_visible_text};
use crate::helpers::{client, spawn_app, CALLER, MAIN_LINE};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_service_worker_registers_and_the_manifest_makes_the_dashboard_installable() {
    let app = spawn_app().await;
    // Served from the binary with the types browsers require, under the strict CSP.
    let c = client();
    let manifest = c
        .get(app.url("/manifest.webmanifest"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        manifest.headers()["content-type"],
        "application/manifest+json"
    );
    let sw = c.get(app.url("/sw.js")).send().await.unwrap();
    let js = sw.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        js.starts_with("text/javascript") || js.starts_with("application/javascript"),
        "a service worker must be served as JavaScript: {js}"
    );
    let csp = sw.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("worker-src 'self'") && csp.contains("manifest-src 'self'"),
        "{csp}"
    );
    let icon = c.get(app.url("/icon-512.png")).send().await.unwrap();
    assert_eq!(icon.headers()["content-type"], "image/png");

    let Some((driver, c)) = signed_in_at(&app, "#overview").await else {
        return;
    };
    let scope = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             navigator.serviceWorker.ready.then((r) => done(r.scope), (e) => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        scope,
        json!(app.url("/")),
        "the worker controls the whole dashboard"
    );
    let mut errors = json!(null);
    for _ in 0..50 {
        errors = driver
            .cdp(&c, "Page.getInstallabilityErrors", json!({}))
            .await;
        if errors["installabilityErrors"]
            .as_array()
            .is_some_and(Vec::is_empty)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        errors["installabilityErrors"],
        json!([]),
        "Chromium would offer to install it"
    );
    let manifest = driver.cdp(&c, "Page.getAppManifest", json!({})).await;
    assert_eq!(manifest["errors"], json!([]), "{manifest}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_user_sets_their_mobile_and_quiet_hours_then_calls_a_customer_back() {
    let app = spawn_app().await;
    let tw = app.twilio();
    tw.call("CAbrowsercb1", CALLER, MAIN_LINE).await;
    tw.status("CAbrowsercb1", CALLER, MAIN_LINE, "no-answer", "0")
        .await;
    let Some((_driver, c)) = signed_in_at(&app, "#settings").await else {
        return;
    };
    // The demo owner's mobile is already there, as the business reads it.
    wait_text_with(&c, "#notify-status", "Emails").await;
    assert_eq!(
        crate::browser::value_of(&c, "#notify-mobile").await,
        "(555) 010-0199"
    );
    type_into(&c, "#notify-mobile", "555 010 0188").await;
    click(&c, "#quiet-on").await;
    click(&c, "#reach-form button[type='submit']").await;
    wait_visible_text(&c, "#reach-saved").await;
    assert_eq!(
        app.text(
            "SELECT mobile || ' ' || quiet_start || '-' || quiet_end FROM users WHERE email = ?1",
            &app.owner_email
        ),
        "+15550100188 21:00-07:00"
    );
    // A number nobody could text is refused at the field.
    type_into(&c, "#notify-mobile", "12").await;
    click(&c, "#reach-form button[type='submit']").await;
    let error = wait_visible_text(&c, "#notify-mobile-error").await;
    assert!(error.contains("Enter your mobile number"), "{error}");

    // From the missed call's timeline: call the customer back from the business line.
    let id = app.count("SELECT id FROM calls WHERE call_sid = 'CAbrowsercb1'");
    c.goto(&app.url(&format!("/#calls/{id}"))).await.unwrap();
    click(&c, "#call-contact button.callback").await;
    let said = wait_text_with(&c, "#call-contact .callback-status", "ringing").await;
    assert!(
        said.contains("(555) 010-0001"),
        "from the business line: {said}"
    );
    let placed = app.sandbox().placed_calls();
    assert_eq!(placed.len(), 1);
    assert_eq!(
        placed[0].call.to, "+15550100188",
        "the user's own phone first"
    );
    assert_eq!(placed[0].call.from, MAIN_LINE);
    assert!(placed[0]
        .call
        .url
        .ends_with("/twilio/callback/answer?callback=1"));
    // The callback is on the Calls page as an outbound call.
    c.goto(&app.url("/#calls")).await.unwrap();
    let table = wait_text_with(&c, "#calls-table tbody", "Call back by").await;
    assert!(table.contains("ringing their phone"), "{table}");
    c.close().await.unwrap();
}
