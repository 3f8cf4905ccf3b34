use crate::helpers::{client, expect_error, spawn_app};
use serde_json::{json, Value};
use switchboard::domain::UserRole;

async fn create_token(
    app: &crate::helpers::TestApp,
    c: &reqwest::Client,
    csrf: &str,
    name: &str,
) -> Value {
    let resp = c
        .post(app.url("/api/tokens"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_bearer_token_authenticates_without_cookies_or_csrf() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let created = create_token(&app, &c, &csrf, "crm-sync").await;
    let secret = created["token"].as_str().unwrap();
    assert!(secret.starts_with("sbt_"));

    let bare = client();
    let me: Value = bare
        .get(app.url("/api/me"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["authenticatedBy"], "token");
    assert_eq!(me["csrfToken"], Value::Null);
    let resp = bare
        .post(app.url("/api/tokens"))
        .bearer_auth(secret)
        .json(&json!({ "name": "second" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        201,
        "no CSRF token is needed with a bearer token"
    );
}

#[tokio::test]
async fn tokens_are_stored_hashed_and_never_listed() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let created = create_token(&app, &c, &csrf, "crm-sync").await;
    let secret = created["token"].as_str().unwrap().to_string();
    let stored: String = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, switchboard::crypto::token_hash(&secret));
    let list = c
        .get(app.url("/api/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains(&secret));
    assert!(list.contains(created["prefix"].as_str().unwrap()));
}

#[tokio::test]
async fn a_revoked_or_forged_token_is_401() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let created = create_token(&app, &c, &csrf, "temp").await;
    let secret = created["token"].as_str().unwrap();
    let resp = c
        .delete(app.url(&format!("/api/tokens/{}", created["id"])))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    expect_error(
        client()
            .get(app.url("/api/me"))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
    expect_error(
        client()
            .get(app.url("/api/me"))
            .bearer_auth("sbt_forged")
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn token_names_are_validated() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    for name in ["", "   ", &"x".repeat(101)] {
        let resp = c
            .post(app.url("/api/tokens"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        expect_error(resp, 400, "invalid_name").await;
    }
}

#[tokio::test]
async fn creating_and_revoking_tokens_and_users_is_audited() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let created = create_token(&app, &c, &csrf, "audited").await;
    c.delete(app.url(&format!("/api/tokens/{}", created["id"])))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    let resp = c
        .post(app.url("/api/users"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "email": "frontdesk@example.com", "role": "admin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let audit: Value = c
        .get(app.url("/api/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..3],
        ["user.create", "token.revoke", "token.create"]
    );
    assert_eq!(audit["entries"][0]["actor"], app.owner_email);
    assert_eq!(audit["entries"][0]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn an_admin_creates_users_with_a_generated_password_that_works() {
    let app = spawn_app().await;
    let (admin, csrf) = app
        .user_client("Demo Plumbing", "admin@example.com", UserRole::Admin)
        .await;
    let resp = admin
        .post(app.url("/api/users"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "email": "New.Person@Example.com", "role": "viewer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["email"], "new.person@example.com");
    let password = body["password"].as_str().unwrap();
    app.login(&client(), "new.person@example.com", password)
        .await;

    let owner = admin
        .post(app.url("/api/users"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "email": "boss@example.com", "role": "owner" }))
        .send()
        .await
        .unwrap();
    expect_error(owner, 403, "owner_required").await;
    let dup = admin
        .post(app.url("/api/users"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "email": "new.person@example.com", "role": "viewer" }))
        .send()
        .await
        .unwrap();
    expect_error(dup, 409, "email_taken").await;
    let weak = admin
        .post(app.url("/api/users"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "email": "w@example.com", "role": "viewer", "password": "short" }))
        .send()
        .await
        .unwrap();
    expect_error(weak, 400, "weak_password").await;
    let bad_role = admin
        .post(app.url("/api/users"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "email": "r@example.com", "role": "superuser" }))
        .send()
        .await
        .unwrap();
    let err = expect_error(bad_role, 400, "invalid_field").await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("owner, admin, viewer"),
        "{err}"
    );
}
