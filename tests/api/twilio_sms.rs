//! Inbound SMS through real HTTP: intake, STOP/START/HELP, onboarding (SPEC §3.6, §3.7).

use crate::helpers::{
    expect_error, get_json, sent_to, spawn_app, spawn_app_with, CALLER, MAIN_LINE, ONBOARDING_LINE,
    OWNER_MOBILE, SYSTEM_LINE,
};
use serde_json::Value;

const EMPTY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

async fn text(app: &crate::helpers::TestApp, sid: &str, from: &str, to: &str, body: &str) {
    let twiml = app.twilio().sms(sid, from, to, body).await;
    assert_eq!(twiml, EMPTY);
}

#[tokio::test]
async fn a_customer_text_creates_a_lead_acknowledged_once_and_the_owner_is_told_once() {
    let app = spawn_app().await;
    text(
        &app,
        "SM0001",
        CALLER,
        MAIN_LINE,
        "Can someone fix my water heater?",
    )
    .await;
    text(&app, "SM0002", CALLER, MAIN_LINE, "It's a 40 gallon tank").await;
    // Twilio redelivers the first message: nothing happens again.
    text(
        &app,
        "SM0001",
        CALLER,
        MAIN_LINE,
        "Can someone fix my water heater?",
    )
    .await;

    assert_eq!(
        sent_to(&app, CALLER),
        vec!["Thanks! We got your message and will get back to you soon."]
    );
    // The owner's text goes out in the background.
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'notification' AND status = 'sent'",
        1,
    )
    .await;
    let owner = sent_to(&app, OWNER_MOBILE);
    assert_eq!(owner.len(), 1);
    assert!(
        owner[0].starts_with(
            "New lead from (415) 555-0123 on Main line: \"Can someone fix my water heater?\""
        ),
        "{}",
        owner[0]
    );

    let (c, _) = app.owner().await;
    let leads: Value = get_json(&c, app.url("/api/leads")).await;
    assert_eq!(leads["leads"].as_array().unwrap().len(), 1);
    let lead = &leads["leads"][0];
    assert_eq!(lead["customerNumber"], CALLER);
    assert_eq!(lead["lastMessage"], "It's a 40 gallon tank");
    // Two inbound texts and the acknowledgement belong to the lead.
    assert_eq!(lead["messageCount"], 3);
    let msgs: Value = get_json(&c, app.url(&format!("/api/messages?leadId={}", lead["id"]))).await;
    assert_eq!(msgs["messages"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_reply_to_a_text_back_joins_the_missed_calls_lead() {
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]).await;
    let tw = app.twilio();
    tw.missed_call("CA1001", CALLER).await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'sent'",
        1,
    )
    .await;
    text(
        &app,
        "SM1001",
        CALLER,
        MAIN_LINE,
        "I need a plumber tomorrow",
    )
    .await;
    let call_id: i64 = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT id FROM calls WHERE call_sid = 'CA1001'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM leads WHERE call_id = {call_id}"
        )),
        1
    );
}

#[tokio::test]
async fn stop_opts_out_start_opts_back_in_and_help_answers() {
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]).await;
    text(&app, "SM2001", CALLER, MAIN_LINE, "STOP").await;
    assert_eq!(
        app.count("SELECT count(*) FROM opt_outs WHERE business_number = '+15550100001'"),
        1
    );
    assert!(
        sent_to(&app, CALLER).is_empty(),
        "no reply of our own to STOP (Twilio confirms it)"
    );

    // A missed call from an opted-out caller: the text-back is blocked and says why.
    let tw = app.twilio();
    tw.missed_call("CA2001", CALLER).await;
    app.wait_count(
        "SELECT count(*) FROM messages WHERE kind = 'textback' AND blocked_reason = 'opted_out'",
        1,
    )
    .await;
    // Texting again without START: stored, no acknowledgement.
    text(&app, "SM2002", CALLER, MAIN_LINE, "actually, one question").await;
    assert!(sent_to(&app, CALLER).is_empty());

    text(&app, "SM2003", CALLER, MAIN_LINE, "start").await;
    assert_eq!(app.count("SELECT count(*) FROM opt_outs"), 0);
    text(&app, "SM2004", CALLER, MAIN_LINE, "HELP").await;
    assert_eq!(
        sent_to(&app, CALLER),
        vec!["Reply with what you need and we'll get back to you. Reply STOP to stop texts."]
    );
}

#[tokio::test]
async fn the_onboarding_conversation_ends_with_an_admin_approval() {
    let app = spawn_app().await;
    let sender = "+14155550177";
    text(&app, "SM3001", sender, ONBOARDING_LINE, "hi").await;
    text(&app, "SM3002", sender, ONBOARDING_LINE, "Joe's Plumbing").await;
    text(&app, "SM3003", sender, ONBOARDING_LINE, "yes").await;
    text(&app, "SM3003", sender, ONBOARDING_LINE, "yes").await;
    let replies = sent_to(&app, sender);
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(replies[0].contains("What is the name of your business?"));
    assert_eq!(
        replies[1],
        "Got it: \"Joe's Plumbing\". Reply YES to confirm, or send the correct name."
    );
    assert!(replies[2].contains("review the request for \"Joe's Plumbing\""));
    assert_eq!(
        app.count("SELECT count(*) FROM leads"),
        0,
        "onboarding texts are not customer leads"
    );

    let (c, csrf) = app.owner().await;
    let list: Value = get_json(&c, app.url("/api/onboarding-requests")).await;
    let req = &list["requests"][0];
    assert_eq!(
        (req["state"].as_str(), req["businessName"].as_str()),
        (Some("pending_approval"), Some("Joe's Plumbing"))
    );
    let id = req["id"].as_i64().unwrap();
    let resp = app
        .post_json(
            &c,
            &csrf,
            &format!("/api/onboarding-requests/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let approved: Value = resp.json().await.unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM orgs WHERE name = 'Joe''s Plumbing'"),
        1
    );
    // Managed telephony is on in the demo: the business got a menu line in the sender's
    // own area code, in its own subaccount, and the text names it.
    let line = approved["number"]["e164"].as_str().unwrap().to_string();
    assert!(line.starts_with("+1415"), "{approved}");
    assert_eq!(approved["provisioning"]["state"], "provisioned");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM phone_numbers n JOIN orgs o ON o.id = n.org_id
             WHERE o.name = 'Joe''s Plumbing' AND n.e164 = '{line}' AND n.role = 'operational'
               AND n.handler = 'ivr' AND n.origin = 'managed' AND n.status = 'active'"
        )),
        1
    );
    let last = sent_to(&app, sender).last().unwrap().clone();
    assert!(
        last.starts_with("Good news") && last.contains(&line),
        "{last}"
    );
    // And the line answers with the new business's menu.
    let twiml = app.twilio().call("CA3001", CALLER, &line).await;
    assert!(twiml.contains("<Gather"), "{twiml}");
    let again = app
        .post_json(
            &c,
            &csrf,
            &format!("/api/onboarding-requests/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn stop_on_the_onboarding_number_cancels_the_conversation() {
    let app = spawn_app().await;
    let sender = "+14155550178";
    text(&app, "SM4001", sender, ONBOARDING_LINE, "hello").await;
    text(&app, "SM4002", sender, ONBOARDING_LINE, "Stop").await;
    assert_eq!(
        app.count("SELECT count(*) FROM onboarding_requests WHERE state = 'cancelled'"),
        1
    );
    assert_eq!(sent_to(&app, sender).len(), 1);
}

#[tokio::test]
async fn texts_to_a_system_number_are_stored_and_never_answered() {
    let app = spawn_app().await;
    text(&app, "SM5001", CALLER, SYSTEM_LINE, "hello?").await;
    text(&app, "SM5002", CALLER, "+15559999999", "hello?").await;
    // HELP and STOP there start no conversation either; a redelivery is not counted twice.
    text(&app, "SM5003", CALLER, SYSTEM_LINE, "HELP").await;
    text(&app, "SM5004", CALLER, "+15559999999", "STOP").await;
    text(&app, "SM5004", CALLER, "+15559999999", "STOP").await;
    assert!(app.sandbox().sent_messages().is_empty());
    assert_eq!(app.count("SELECT count(*) FROM opt_outs"), 0);
    // Only the unknown number is counted: a system number is known and simply silent.
    assert_eq!(
        app.state
            .desk
            .metrics
            .counter("switchboard_unknown_number_total", &[("kind", "sms")]),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'"),
        4
    );
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
}

#[tokio::test]
async fn a_refused_text_back_keeps_the_twilio_error_code() {
    let app = spawn_app_with(&[("SWITCHBOARD_TEXTBACK_DELAY_SECS", "0")]).await;
    let tw = app.twilio();
    // The sandbox refuses this destination like an unregistered 10DLC sender (30034).
    tw.missed_call("CA6001", "+15005550034").await;
    app.wait_count("SELECT count(*) FROM messages WHERE kind = 'textback' AND status = 'blocked' AND error_code = '30034'", 1).await;
    let (c, _) = app.owner().await;
    let msgs: Value = get_json(&c, app.url("/api/messages")).await;
    let m = &msgs["messages"][0];
    assert_eq!(m["blockedReason"], "provider_refused");
    assert!(m["errorMessage"].as_str().unwrap().contains("10DLC"), "{m}");
    assert_eq!(
        app.count("SELECT count(*) FROM calls WHERE textback_state = 'blocked'"),
        1
    );
}

#[tokio::test]
async fn delivery_status_callbacks_update_sent_messages_and_never_go_backwards() {
    let app = spawn_app().await;
    text(&app, "SM7001", CALLER, MAIN_LINE, "hello").await;
    let sid: String = app
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT sid FROM messages WHERE direction = 'outbound' AND to_number = ?1",
            [CALLER],
            |r| r.get(0),
        )
        .unwrap();
    let tw = app.twilio();
    tw.twiml(
        "/twilio/sms/status",
        &[
            ("MessageSid", &sid),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ],
    )
    .await;
    tw.twiml(
        "/twilio/sms/status",
        &[("MessageSid", &sid), ("MessageStatus", "sent")],
    )
    .await;
    let (status, code): (String, String) = app
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT status, error_code FROM messages WHERE sid = ?1",
            [&sid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), code.as_str()), ("undelivered", "30003"));
}

/// Runs the sign-up conversation for `name` and returns the pending request's id.
pub async fn signed_up(app: &crate::helpers::TestApp, sender: &str, name: &str, sid: &str) -> i64 {
    text(app, &format!("{sid}1"), sender, ONBOARDING_LINE, "hi").await;
    text(app, &format!("{sid}2"), sender, ONBOARDING_LINE, name).await;
    text(app, &format!("{sid}3"), sender, ONBOARDING_LINE, "yes").await;
    app.db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT id FROM onboarding_requests WHERE state = 'pending_approval' ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn an_approval_whose_number_purchase_fails_stands_leaves_nothing_behind_and_can_be_retried() {
    let app = spawn_app().await;
    let sender = "+14155550179";
    let id = signed_up(&app, sender, "Ada's Bakery", "SM51").await;
    let (c, csrf) = app.owner().await;
    let approve = |body: &'static str| {
        c.post(app.url(&format!("/api/onboarding-requests/{id}/approve")))
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body(body)
    };
    // A body that is not a line choice is refused before anything happens.
    expect_error(
        approve(r#"{"areaCode": "41"}"#).send().await.unwrap(),
        400,
        "invalid_field",
    )
    .await;
    expect_error(approve("[1]").send().await.unwrap(), 400, "invalid_body").await;
    assert_eq!(
        app.count("SELECT count(*) FROM orgs WHERE name = 'Ada''s Bakery'"),
        0
    );

    // The sandbox answers 21422 for this number: the approval stands, the purchase is undone.
    let resp = approve(r#"{"phoneNumber": "+15005550000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["request"]["state"], "approved");
    assert_eq!(body["number"], Value::Null);
    assert_eq!(body["provisioning"]["state"], "failed", "{body}");
    assert_eq!(
        body["provisioning"]["error"]["step"], "buy_number",
        "{body}"
    );
    assert_eq!(
        body["provisioning"]["error"]["provider_code"], 21422,
        "{body}"
    );
    let org: i64 = body["request"]["approvedOrgId"].as_i64().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM phone_numbers WHERE org_id = {org}"
        )),
        0
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM provider_accounts WHERE org_id = {org} AND (status = 'active' OR secret_ciphertext IS NOT NULL)")),
        0,
        "the subaccount made for the purchase was closed and its credentials deleted"
    );
    assert!(sent_to(&app, sender)
        .last()
        .unwrap()
        .contains("We'll be in touch"));

    // Retried with a working choice: the number is bought and the sender is told.
    let retry = |body: &'static str| {
        c.post(app.url(&format!("/api/onboarding-requests/{id}/provision")))
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body(body)
    };
    let resp = retry(r#"{"areaCode": "212"}"#).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let line = body["number"]["e164"].as_str().unwrap().to_string();
    assert!(line.starts_with("+1212"), "{body}");
    assert_eq!(
        sent_to(&app, sender).last().unwrap(),
        &format!("Your phone line for \"Ada's Bakery\" is ready: {line}.")
    );
    // Once it has its number, a second retry is refused rather than buying another.
    expect_error(retry("").send().await.unwrap(), 409, "already_provisioned").await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM phone_numbers WHERE org_id = {org}"
        )),
        1
    );
}

#[tokio::test]
async fn with_managed_telephony_off_an_approval_buys_nothing_and_says_so() {
    let app = spawn_app().await;
    let sender = "+14155550180";
    let id = signed_up(&app, sender, "Cy's Garage", "SM52").await;
    let (c, csrf) = app.owner().await;
    let off = app
        .put_json(
            &c,
            &csrf,
            "/api/feature-flags/managed_telephony/override",
            Some(&serde_json::json!({ "enabled": false })),
        )
        .await;
    assert_eq!(off.status(), 200);
    let resp = app
        .post_json(
            &c,
            &csrf,
            &format!("/api/onboarding-requests/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["provisioning"]["state"], "skipped", "{body}");
    assert!(body["provisioning"]["reason"]
        .as_str()
        .unwrap()
        .contains("Managed telephony is off"));
    assert_eq!(
        app.count("SELECT count(*) FROM sagas"),
        0,
        "nothing was bought"
    );
    // The retry route is behind the same flag.
    let retry = app
        .post_json(
            &c,
            &csrf,
            &format!("/api/onboarding-requests/{id}/provision"),
            None,
        )
        .await;
    expect_error(retry, 403, "feature_disabled").await;
}

/// The id of the one lead of `customer`.
fn lead_of(app: &crate::helpers::TestApp, customer: &str) -> i64 {
    app.db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT id FROM leads WHERE customer_number = ?1",
            [customer],
            |r| r.get(0),
        )
        .unwrap()
}

/// `POST /api/leads/{lead}/messages` as the signed-in `c`.
async fn reply(
    app: &crate::helpers::TestApp,
    c: &reqwest::Client,
    csrf: &str,
    lead: i64,
    body: &str,
) -> reqwest::Response {
    app.post_json(
        c,
        csrf,
        &format!("/api/leads/{lead}/messages"),
        Some(&serde_json::json!({ "body": body })),
    )
    .await
}

#[tokio::test]
async fn the_owner_replies_to_a_lead_from_the_business_number_and_it_is_recorded() {
    let app = spawn_app().await;
    text(&app, "SM9001", CALLER, MAIN_LINE, "Do you fix boilers?").await;
    let lead = lead_of(&app, CALLER);
    let (c, csrf) = app.owner().await;

    let resp = reply(
        &app,
        &c,
        &csrf,
        lead,
        "  Yes! We can come by tomorrow at 9.  ",
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["message"]["body"],
        "Yes! We can come by tomorrow at 9."
    );
    assert_eq!(
        body["message"]["fromNumber"], MAIN_LINE,
        "sent from the number the customer wrote to"
    );
    assert_eq!(body["message"]["kind"], "reply");
    assert!(body["message"]["sid"].as_str().unwrap().starts_with("SM"));
    assert!(sent_to(&app, CALLER).contains(&"Yes! We can come by tomorrow at 9.".to_string()));

    // The conversation holds both sides, newest first; the reply is audited.
    let convo: Value = get_json(&c, app.url(&format!("/api/messages?leadId={lead}"))).await;
    let bodies: Vec<&str> = convo["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies[0], "Yes! We can come by tomorrow at 9.");
    assert!(bodies.contains(&"Do you fix boilers?"), "{bodies:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'lead.reply'"),
        1
    );
    let one: Value = get_json(&c, app.url(&format!("/api/leads/{lead}"))).await;
    assert_eq!(one["lead"]["customerNumber"], CALLER);
    assert_eq!(
        one["voicemails"],
        serde_json::json!([]),
        "a text lead has no call, so no voicemail"
    );
    let waiting: Value = get_json(&c, app.url("/api/inbox")).await;
    assert_eq!(
        waiting,
        serde_json::json!({ "voicemailsWaiting": 0, "leadsOpen": 1, "todo": 1 })
    );

    // Empty or too long is a 400 that says the limit; another org's lead is 404.
    let empty = reply(&app, &c, &csrf, lead, "   ").await;
    assert!(expect_error(empty, 400, "invalid_body").await["message"]
        .as_str()
        .unwrap()
        .contains("1600"));
    let long = reply(&app, &c, &csrf, lead, &"x".repeat(1601)).await;
    expect_error(long, 400, "invalid_body").await;
    let (viewer, viewer_csrf) = app
        .user_client(
            "Demo Plumbing",
            "viewer@example.com",
            switchboard::domain::UserRole::Viewer,
        )
        .await;
    let ro = reply(&app, &viewer, &viewer_csrf, lead, "hi").await;
    expect_error(ro, 403, "read_only").await;
    let (other, other_csrf) = app
        .user_client(
            "Other Co",
            "other@example.com",
            switchboard::domain::UserRole::Owner,
        )
        .await;
    let foreign = reply(&app, &other, &other_csrf, lead, "hi").await;
    expect_error(foreign, 404, "not_found").await;
}

#[tokio::test]
async fn a_reply_to_an_opted_out_or_refused_customer_is_stored_blocked_and_says_why() {
    let app = spawn_app().await;
    text(&app, "SM9101", CALLER, MAIN_LINE, "Quote please").await;
    text(&app, "SM9102", CALLER, MAIN_LINE, "STOP").await;
    let opted_out = lead_of(&app, CALLER);
    // The sandbox refuses this customer like an unregistered 10DLC sender (30034).
    text(&app, "SM9103", "+15005550034", MAIN_LINE, "Quote please").await;
    let refused = lead_of(&app, "+15005550034");
    let (c, csrf) = app.owner().await;
    let before = app.sandbox().sent_messages().len();
    let resp = reply(&app, &c, &csrf, opted_out, "We can help").await;
    let err = expect_error(resp, 409, "opted_out").await;
    assert!(err["hint"].as_str().unwrap().contains("START"), "{err}");
    let resp = reply(&app, &c, &csrf, refused, "We can help").await;
    let err = expect_error(resp, 502, "provider_error").await;
    assert_eq!(err["providerCode"], 30034);
    assert!(err["message"].as_str().unwrap().contains("10DLC"), "{err}");
    assert_eq!(
        app.sandbox().sent_messages().len(),
        before,
        "nothing went out"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE kind = 'reply' AND body = 'We can help' AND status = 'blocked'"),
        2,
        "both attempts are recorded with their reason"
    );
}
