use crate::helpers::{client, expect_error, get_json, spawn_app, spawn_app_with};
use serde_json::{json, Value};
use switchboard::domain::UserRole;

#[tokio::test]
async fn login_with_the_right_password_sets_a_strict_session_cookie_and_returns_a_csrf_token() {
    let app = spawn_app().await;
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": app.owner_email, "password": app.owner_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("sb_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "demo over http must not set Secure: {cookie}"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(body["csrfToken"].as_str().unwrap().len() >= 24);
}

#[tokio::test]
async fn sessions_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": app.owner_email, "password": app.owner_password }))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap();
    let token = cookie
        .trim_start_matches("sb_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let stored: String = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT token_hash FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_ne!(stored, token);
    assert_eq!(stored, switchboard::crypto::token_hash(&token));
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(&[("SWITCHBOARD_PUBLIC_URL", "https://phones.example.com")]).await;
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": app.owner_email, "password": app.owner_password }))
        .send()
        .await
        .unwrap();
    assert!(resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Secure"));
}

#[tokio::test]
async fn a_wrong_password_is_401_and_says_so() {
    let app = spawn_app().await;
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": app.owner_email, "password": "not-the-password" }))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("set-cookie").is_none());
    let err = expect_error(resp, 401, "invalid_credentials").await;
    assert_eq!(err["message"], "The email or password is wrong.");
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_as_a_wrong_password() {
    let app = spawn_app().await;
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "nobody@example.com", "password": "whatever-password" }))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn malformed_login_bodies_get_a_400_that_names_the_problem() {
    let app = spawn_app().await;
    let c = client();
    let cases: Vec<(reqwest::RequestBuilder, &str, &str)> = vec![
        (
            c.post(app.url("/api/auth/login"))
                .header("content-type", "application/json")
                .body("{not json"),
            "invalid_json",
            "not valid JSON",
        ),
        (
            c.post(app.url("/api/auth/login"))
                .json(&json!({ "email": 5, "password": "x" })),
            "invalid_field",
            "invalid type",
        ),
        (
            c.post(app.url("/api/auth/login"))
                .json(&json!({ "email": "a@b.c" })),
            "invalid_field",
            "missing field `password`",
        ),
        (
            c.post(app.url("/api/auth/login"))
                .json(&json!({ "email": "a@b.c", "password": "x", "remember": true })),
            "invalid_field",
            "unknown field `remember`",
        ),
        (
            c.post(app.url("/api/auth/login")).body("email=a"),
            "unsupported_content_type",
            "must be JSON",
        ),
        (
            c.post(app.url("/api/auth/login"))
                .json(&json!({ "email": "not-an-email", "password": "x" })),
            "invalid_email",
            "not an email",
        ),
    ];
    for (req, code, fragment) in cases {
        let err = expect_error(req.send().await.unwrap(), 400, code).await;
        assert!(err["message"].as_str().unwrap().contains(fragment), "{err}");
    }
}

#[tokio::test]
async fn an_oversized_api_body_is_413() {
    let app = spawn_app().await;
    let huge = "x".repeat(1_100_000);
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "a@b.c", "password": huge }))
        .send()
        .await
        .unwrap();
    expect_error(resp, 413, "payload_too_large").await;
}

#[tokio::test]
async fn me_requires_authentication() {
    let app = spawn_app().await;
    let resp = client().get(app.url("/api/me")).send().await.unwrap();
    expect_error(resp, 401, "unauthenticated").await;
    let resp = client()
        .get(app.url("/api/me"))
        .header("cookie", "sb_session=forged")
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "session_expired").await;
}

#[tokio::test]
async fn me_shows_the_user_org_and_csrf_token() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let me: Value = get_json(&c, app.url("/api/me")).await;
    assert_eq!(me["user"]["email"], app.owner_email);
    assert_eq!(me["user"]["role"], "owner");
    assert_eq!(me["org"]["name"], "Demo Plumbing");
    assert_eq!(me["csrfToken"], csrf);
    assert_eq!(me["authenticatedBy"], "session");
    assert_eq!(me["sandbox"], true);
}

#[tokio::test]
async fn a_cookie_authenticated_mutation_needs_the_right_csrf_token() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    let missing = c
        .post(app.url("/api/tokens"))
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    expect_error(missing, 403, "csrf_failed").await;
    let wrong = c
        .post(app.url("/api/tokens"))
        .header("x-csrf-token", "wrong")
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    expect_error(wrong, 403, "csrf_failed").await;
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens"),
        0,
        "nothing is written on a CSRF failure"
    );
    let ok = app
        .post_json(&c, &csrf, "/api/tokens", Some(&json!({ "name": "x" })))
        .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn logout_needs_csrf_and_ends_the_session() {
    let app = spawn_app().await;
    let (c, csrf) = app.owner().await;
    expect_error(
        c.post(app.url("/api/auth/logout")).send().await.unwrap(),
        403,
        "csrf_failed",
    )
    .await;
    let resp = app.post_json(&c, &csrf, "/api/auth/logout", None).await;
    assert_eq!(resp.status(), 204);
    expect_error(
        c.get(app.url("/api/me")).send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
}

#[tokio::test]
async fn a_viewer_can_read_but_not_change_anything() {
    let app = spawn_app().await;
    let (c, csrf) = app
        .user_client("Demo Plumbing", "viewer@example.com", UserRole::Viewer)
        .await;
    assert_eq!(
        c.get(app.url("/api/numbers"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = app
        .post_json(&c, &csrf, "/api/tokens", Some(&json!({ "name": "x" })))
        .await;
    let err = expect_error(resp, 403, "read_only").await;
    assert!(err["message"].as_str().unwrap().contains("viewer"));
    let resp = app
        .post_json(
            &c,
            &csrf,
            "/api/users",
            Some(&json!({ "email": "x@example.com", "role": "viewer" })),
        )
        .await;
    expect_error(resp, 403, "read_only").await;
    // Signing out is not a change to the business: a viewer may do it.
    let resp = app.post_json(&c, &csrf, "/api/auth/logout", None).await;
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn another_orgs_data_is_invisible_and_its_ids_are_404() {
    let app = spawn_app().await;
    let (owner, owner_csrf) = app.owner().await;
    let token: Value = app
        .post_json(
            &owner,
            &owner_csrf,
            "/api/tokens",
            Some(&json!({ "name": "demo-integration" })),
        )
        .await
        .json()
        .await
        .unwrap();
    let agents: Value = get_json(&owner, app.url("/api/agents")).await;
    let demo_agent_id = agents["agents"][0]["id"].as_i64().unwrap();

    let (other, other_csrf) = app
        .user_client("Other Bakery", "baker@example.com", UserRole::Owner)
        .await;
    let numbers: Value = get_json(&other, app.url("/api/numbers")).await;
    assert_eq!(numbers["numbers"], json!([]));
    let agents: Value = get_json(&other, app.url("/api/agents")).await;
    assert_eq!(agents["agents"], json!([]));
    let tokens: Value = get_json(&other, app.url("/api/tokens")).await;
    assert_eq!(tokens["tokens"], json!([]));
    let users: Value = get_json(&other, app.url("/api/users")).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 1);

    expect_error(
        other
            .get(app.url(&format!("/api/agents/{demo_agent_id}")))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    let revoke = app
        .delete_json(
            &other,
            &other_csrf,
            &format!("/api/tokens/{}", token["id"]),
            None,
        )
        .await;
    expect_error(revoke, 404, "not_found").await;
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL"),
        0
    );
    // The owner still sees their own agent.
    assert_eq!(
        owner
            .get(app.url(&format!("/api/agents/{demo_agent_id}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn too_many_logins_for_one_email_from_one_ip_are_429_with_retry_after() {
    let app = spawn_app_with(&[("SWITCHBOARD_RATE_LOGIN_PER_MIN", "3")]).await;
    let c = client();
    let attempt = || {
        c.post(app.url("/api/auth/login"))
            .json(&json!({ "email": app.owner_email, "password": "wrong-password" }))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.unwrap().status(), 401);
    }
    let limited = attempt().await.unwrap();
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    expect_error(limited, 429, "rate_limited").await;
    // Even the right password waits: the limiter runs before the check.
    let right = c
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": app.owner_email, "password": app.owner_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 429);
    switchboard::startup::flush_violations(&app.state).await;
    let count: i64 = app
        .db()
        .conn()
        .unwrap()
        .query_row(
            "SELECT count FROM rate_limit_violations WHERE limiter = 'login'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 2, "violations are aggregated into one row");
}

#[tokio::test]
async fn unknown_api_routes_are_json_404s() {
    let app = spawn_app().await;
    let resp = client().get(app.url("/api/nope")).send().await.unwrap();
    let err = expect_error(resp, 404, "unknown_route").await;
    assert_eq!(err["message"], "there is no API route GET /api/nope");
}

#[tokio::test]
async fn a_bad_path_parameter_is_a_400_not_a_500() {
    let app = spawn_app().await;
    let (c, _) = app.owner().await;
    expect_error(
        c.get(app.url("/api/agents/abc")).send().await.unwrap(),
        400,
        "invalid_path",
    )
    .await;
    expect_error(
        c.get(app.url("/api/numbers?includeReleased=maybe"))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn one_ip_spraying_a_password_over_many_emails_is_429_while_the_per_account_limit_stays() {
    let app = spawn_app_with(&[
        ("SWITCHBOARD_RATE_LOGIN_PER_MIN", "3"),
        ("SWITCHBOARD_RATE_LOGIN_PER_IP_PER_MIN", "6"),
    ])
    .await;
    let c = client();
    let attempt = |email: String| {
        c.post(app.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": "Summer2026!" }))
            .send()
    };
    // Each email is tried once, well under its own limit; the IP runs out after six.
    for i in 0..6 {
        let resp = attempt(format!("user{i}@example.com")).await.unwrap();
        assert_eq!(resp.status(), 401, "attempt {i}");
    }
    let limited = attempt("user6@example.com".into()).await.unwrap();
    assert!(limited.headers().get("retry-after").is_some());
    expect_error(limited, 429, "rate_limited").await;
    assert!(app.state.rate_limits.login_ip.rejected() >= 1);
}

#[tokio::test]
async fn who_may_ask_is_decided_before_what_was_asked_is_parsed() {
    let app = spawn_app().await;
    let (viewer, csrf) = app
        .user_client("Demo Plumbing", "viewer@example.com", UserRole::Viewer)
        .await;
    // Malformed and wrongly-typed bodies to routes a viewer may not use: 403, not 400.
    for (method, path, body) in [
        (reqwest::Method::PATCH, "/api/org", "{not json"),
        (reqwest::Method::POST, "/api/agents", r#"{"name": 5}"#),
        (reqwest::Method::PUT, "/api/call-flow", "[]"),
        (reqwest::Method::POST, "/api/users", "{"),
        (
            reqwest::Method::PUT,
            "/api/feature-flags/missed_call_textback/override",
            r#"{"enabled": "yes"}"#,
        ),
    ] {
        let resp = viewer
            .request(method.clone(), app.url(path))
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, 403, "read_only").await;
        assert!(
            err["message"].as_str().unwrap().contains("viewer"),
            "{method} {path}: {err}"
        );
    }
    // Without credentials the same requests are 401.
    let resp = client()
        .patch(app.url("/api/org"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "unauthenticated").await;
    // An owner with the same malformed body gets the 400 that names the problem.
    let (owner, csrf) = app.owner().await;
    let resp = owner
        .patch(app.url("/api/org"))
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
