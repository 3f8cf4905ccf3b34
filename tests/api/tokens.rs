use crate::helpers::{client, expect_error, get_json, spawn_app};
use serde_json::{json, Value};
use switchboard::domain::UserRole;

async fn create_token(
    app: &crate::helpers::TestApp,
    c: &reqwest::Client,
    csrf: &str,
    name: &str,
) -> Value {
    let resp = app
        .post_json(c, csrf, "/api/tokens", Some(&json!({ "name": name })))
        .await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
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
    let resp = app
        .delete_json(&c, &csrf, &format!("/api/tokens/{}", created["id"]), None)
        .await;
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
        let resp = app
            .post_json(&c, &csrf, "/api/tokens", Some(&json!({ "name": name })))
            .await;
        expect_error(resp, 400, "invalid_name").await;
    }
}

#[tokio::test]
async fn creating_and_revoking_tokens_and_users_is_audited() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let created = create_token(&app, &c, &csrf, "audited").await;
    app.delete_json(&c, &csrf, &format!("/api/tokens/{}", created["id"]), None)
        .await;
    let resp = app
        .post_json(
            &c,
            &csrf,
            "/api/users",
            Some(&json!({ "email": "frontdesk@example.com", "role": "admin" })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let audit: Value = get_json(&c, app.url("/api/audit")).await;
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
    let resp = app
        .post_json(
            &admin,
            &csrf,
            "/api/users",
            Some(&json!({ "email": "New.Person@Example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["email"], "new.person@example.com");
    let password = body["password"].as_str().unwrap();
    app.login(&client(), "new.person@example.com", password)
        .await;

    let owner = app
        .post_json(
            &admin,
            &csrf,
            "/api/users",
            Some(&json!({ "email": "boss@example.com", "role": "owner" })),
        )
        .await;
    expect_error(owner, 403, "owner_required").await;
    let dup = app
        .post_json(
            &admin,
            &csrf,
            "/api/users",
            Some(&json!({ "email": "new.person@example.com", "role": "viewer" })),
        )
        .await;
    expect_error(dup, 409, "email_taken").await;
    let weak = app
        .post_json(
            &admin,
            &csrf,
            "/api/users",
            Some(&json!({ "email": "w@example.com", "role": "viewer", "password": "short" })),
        )
        .await;
    expect_error(weak, 400, "weak_password").await;
    let bad_role = app
        .post_json(
            &admin,
            &csrf,
            "/api/users",
            Some(&json!({ "email": "r@example.com", "role": "superuser" })),
        )
        .await;
    let err = expect_error(bad_role, 400, "invalid_field").await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("owner, admin, viewer"),
        "{err}"
    );
}

/// `DELETE /api/users/{id}` as the signed-in `c`.
async fn remove_user(
    app: &crate::helpers::TestApp,
    c: &reqwest::Client,
    csrf: &str,
    id: i64,
) -> reqwest::Response {
    app.delete_json(c, csrf, &format!("/api/users/{id}"), None)
        .await
}

/// The id of the org's user with this email.
fn user_id(app: &crate::helpers::TestApp, email: &str) -> i64 {
    app.db()
        .conn()
        .unwrap()
        .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| {
            r.get(0)
        })
        .unwrap()
}

#[tokio::test]
async fn a_removed_user_is_signed_out_and_their_tokens_stop_at_once() {
    let app = spawn_app().await;
    let (owner, csrf) = app.owner().await;
    let (leaver, leaver_csrf) = app
        .user_client("Demo Plumbing", "leaver@example.com", UserRole::Admin)
        .await;
    let token = create_token(&app, &leaver, &leaver_csrf, "their-script").await;
    let token = token["token"].as_str().unwrap().to_string();
    let id = user_id(&app, "leaver@example.com");

    let resp = remove_user(&app, &owner, &csrf, id).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["email"], "leaver@example.com");
    assert_eq!(body["revoked"], json!({ "sessions": 1, "tokens": 1 }));

    let session = leaver.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(session.status(), 401, "the open session ends at once");
    let bearer = client()
        .get(app.url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401, "their token stops at once");
    let login = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "leaver@example.com", "password": "pw-leaver-example.com-long-enough" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    let audited = app.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action = 'user.delete'
         AND json_extract(detail, '$.email') = 'leaver@example.com' AND actor = '{}'",
        app.owner_email
    ));
    assert_eq!(
        audited, 1,
        "the removal is audited with who was removed and by whom"
    );
    let again = remove_user(&app, &owner, &csrf, id).await;
    expect_error(again, 404, "not_found").await;
}

#[tokio::test]
async fn roles_change_at_the_next_request_and_owners_are_kept_by_owners() {
    let app = spawn_app().await;
    let (owner, csrf) = app.owner().await;
    let (admin, admin_csrf) = app
        .user_client("Demo Plumbing", "admin@example.com", UserRole::Admin)
        .await;
    let (viewer, _) = app
        .user_client("Demo Plumbing", "viewer@example.com", UserRole::Viewer)
        .await;
    let (viewer_id, admin_id) = (
        user_id(&app, "viewer@example.com"),
        user_id(&app, "admin@example.com"),
    );
    let owner_id = user_id(&app, &app.owner_email);
    let patch = |c: &reqwest::Client, csrf: &str, id: i64, role: &str| {
        c.patch(app.url(&format!("/api/users/{id}")))
            .header("x-csrf-token", csrf)
            .json(&json!({ "role": role }))
            .send()
    };

    // An admin promotes the viewer to admin: it can write from its very next request.
    let resp = patch(&admin, &admin_csrf, viewer_id, "admin")
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
    let me: Value = get_json(&viewer, app.url("/api/me")).await;
    assert_eq!(me["user"]["role"], "admin");

    // Only an owner makes, demotes or removes an owner.
    expect_error(
        patch(&admin, &admin_csrf, viewer_id, "owner")
            .await
            .unwrap(),
        403,
        "owner_required",
    )
    .await;
    expect_error(
        patch(&admin, &admin_csrf, owner_id, "viewer")
            .await
            .unwrap(),
        403,
        "owner_required",
    )
    .await;
    let remove_owner = remove_user(&app, &admin, &admin_csrf, owner_id).await;
    expect_error(remove_owner, 403, "owner_required").await;

    // The last owner stays an owner; with a second owner, the first may step down.
    expect_error(
        patch(&owner, &csrf, owner_id, "admin").await.unwrap(),
        409,
        "last_owner",
    )
    .await;
    assert_eq!(
        patch(&owner, &csrf, admin_id, "owner")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        patch(&owner, &csrf, owner_id, "admin")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE role = 'owner'"),
        1
    );
    let audited = app.count("SELECT count(*) FROM audit_log WHERE action = 'user.role'");
    assert_eq!(audited, 3);

    // Nobody removes themselves; a bad role names the choices; another org's user is 404.
    let me_gone = remove_user(&app, &admin, &admin_csrf, admin_id).await;
    expect_error(me_gone, 409, "cannot_remove_self").await;
    let bad = patch(&admin, &admin_csrf, viewer_id, "superuser")
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.add_user("Other Co", "other@example.com", UserRole::Viewer);
    let other = user_id(&app, "other@example.com");
    expect_error(
        patch(&admin, &admin_csrf, other, "admin").await.unwrap(),
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_viewer_sees_only_their_own_tokens_and_cannot_manage_users() {
    let app = spawn_app().await;
    let (owner, csrf) = app.owner().await;
    create_token(&app, &owner, &csrf, "owner-secret-sync").await;
    let (viewer, viewer_csrf) = app
        .user_client("Demo Plumbing", "viewer@example.com", UserRole::Viewer)
        .await;
    let list: Value = get_json(&viewer, app.url("/api/tokens")).await;
    assert_eq!(
        list["tokens"],
        json!([]),
        "a viewer does not see the owner's tokens"
    );
    let owners: Value = get_json(&owner, app.url("/api/tokens")).await;
    assert_eq!(owners["tokens"].as_array().unwrap().len(), 1);
    let owner_id = user_id(&app, &app.owner_email);
    let resp = remove_user(&app, &viewer, &viewer_csrf, owner_id).await;
    expect_error(resp, 403, "read_only").await;
}
