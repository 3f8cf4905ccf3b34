//! Two-factor sign-in (SPEC §14) with codes computed by PyPI's `pyotp`, an implementation
//! we did not write, at the appliance's own clock (which the tests move): enrol, confirm,
//! sign in with a code, a wrong code, a replayed code, a recovery code once, the org's
//! requirement, turning it off, and `switchboard user reset-2fa`.
//! Skipped with a message when pyotp is missing, except under CI=true, where `.ci/run`
//! installs it into `tests/py/venv`.

use crate::helpers::{self, expect_error, spawn_app, spawn_app_with, Api, TestApp};
use reqwest::Client;
use serde_json::{json, Value};
use switchboard::domain::UserRole;

const VENV_PYTHON: &str = "tests/py/venv/bin/python3";

/// A Python with pyotp, or `None` (skip) outside CI.
pub fn python_with(module: &str) -> Option<String> {
    for python in [VENV_PYTHON, "python3"] {
        let ok = std::process::Command::new(python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python.to_string());
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but Python's {module} is missing: .ci/run must install it into tests/py/venv"
    );
    eprintln!("skipped: python3 with {module} is not installed (pip install {module})");
    None
}

/// pyotp and a fresh appliance, or `None` (skip) outside CI without pyotp.
async fn pyotp_and_app() -> Option<(String, TestApp)> {
    let python = python_with("pyotp")?;
    Some((python, spawn_app().await))
}

/// The code pyotp computes for an `otpauth://` URI at a unix time.
fn pyotp_code(python: &str, uri: &str, at: i64) -> String {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import pyotp, sys; print(pyotp.parse_uri(sys.argv[1]).at(int(sys.argv[2])))",
            uri,
            &at.to_string(),
        ])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now(app: &TestApp) -> i64 {
    app.state.desk.clock.now().timestamp()
}

/// Moves the appliance's clock to the next 30-second step, so a new code is due.
fn next_step(app: &TestApp) {
    app.state.desk.clock.advance(chrono::Duration::seconds(30));
}

async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
    totp: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({ "email": email, "password": password });
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    helpers::client()
        .post(app.url("/api/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Enrols the API's user; returns the `otpauth://` URI and the recovery codes.
async fn enrol(app: &TestApp, api: &Api, python: &str) -> (String, Vec<String>) {
    let start = api.post("/api/me/totp", json!({})).await;
    assert_eq!(start.status(), 200);
    let start: Value = start.json().await.unwrap();
    let uri = start["uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(start["secret"].as_str().unwrap()));
    let svg = start["qrSvg"].as_str().unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("</svg>"),
        "the QR code is drawn as SVG"
    );
    let code = pyotp_code(python, &uri, now(app));
    let confirmed = api
        .post("/api/me/totp/confirm", json!({ "code": code }))
        .await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes: Vec<String> = confirmed["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (uri, codes)
}

fn has_session_cookie(resp: &reqwest::Response) -> bool {
    resp.headers().get_all("set-cookie").iter().any(|v| {
        v.to_str().unwrap().starts_with("sb_session=")
            && !v.to_str().unwrap().starts_with("sb_session=;")
    })
}

#[tokio::test]
async fn enrol_confirm_and_sign_in_with_codes_pyotp_computes() {
    let Some((python, app)) = pyotp_and_app().await else {
        return;
    };
    let api = app.owner_api().await;
    let me = api.get("/api/me").await;
    assert_eq!(me["user"]["twoFactor"], false);

    // Confirming before starting, and confirming with a wrong code, say what to do.
    expect_error(
        api.post("/api/me/totp/confirm", json!({ "code": "123456" }))
            .await,
        409,
        "totp_not_started",
    )
    .await;
    let start: Value = api
        .post("/api/me/totp", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let uri = start["uri"].as_str().unwrap();
    let right = pyotp_code(&python, uri, now(&app));
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let err = expect_error(
        api.post("/api/me/totp/confirm", json!({ "code": wrong }))
            .await,
        400,
        "totp_invalid",
    )
    .await;
    assert!(
        err["message"].as_str().unwrap().starts_with("code:"),
        "{err}"
    );
    // A second start before confirming replaces the secret; the new one is what counts.
    let (uri, recovery) = enrol(&app, &api, &python).await;
    assert_eq!(recovery.len(), 10);
    assert_eq!(api.get("/api/me").await["user"]["twoFactor"], true);
    expect_error(
        api.post("/api/me/totp", json!({})).await,
        409,
        "totp_already_on",
    )
    .await;
    // Only hashes are stored.
    let stored = app.count("SELECT count(*) FROM totp_recovery_codes WHERE used_at IS NULL");
    assert_eq!(stored, 10);
    let hash = app.text(
        "SELECT code_hash FROM totp_recovery_codes WHERE ?1 = ?1 LIMIT 1",
        "",
    );
    assert!(!recovery.iter().any(|c| hash.contains(&c.replace('-', ""))));
    assert!(!app
        .text("SELECT secret_sealed FROM user_totp WHERE ?1 = ?1", "")
        .contains(start["secret"].as_str().unwrap()));

    let (email, password) = (app.owner_email.clone(), app.owner_password.clone());
    // No code: 401 totp_required, and no session.
    let resp = login(&app, &email, &password, None).await;
    assert!(!has_session_cookie(&resp));
    expect_error(resp, 401, "totp_required").await;
    // The wrong password still says only that, whatever the code.
    expect_error(
        login(&app, &email, "wrong-password-entirely", Some("123456")).await,
        401,
        "invalid_credentials",
    )
    .await;

    // The code confirming enrolment was used: the next sign-in needs the next step's code.
    next_step(&app);
    let code = pyotp_code(&python, &uri, now(&app));
    let wrong = if code == "999999" { "888888" } else { "999999" };
    let resp = login(&app, &email, &password, Some(wrong)).await;
    assert!(!has_session_cookie(&resp));
    expect_error(resp, 401, "totp_invalid").await;
    let resp = login(
        &app,
        &email,
        &password,
        Some(&format!("{} {}", &code[..3], &code[3..])),
    )
    .await;
    assert_eq!(
        resp.status(),
        200,
        "a code typed as the app shows it (123 456) signs in"
    );
    assert!(has_session_cookie(&resp));
    assert_eq!(resp.json::<Value>().await.unwrap()["secondFactor"], "code");
    // The same code again, even within its 30 seconds: refused (no replay).
    expect_error(
        login(&app, &email, &password, Some(&code)).await,
        401,
        "totp_invalid",
    )
    .await;
    // A code from two steps ago is too old; one from the step before is fine if unused.
    next_step(&app);
    next_step(&app);
    let stale = pyotp_code(&python, &uri, now(&app) - 60);
    expect_error(
        login(&app, &email, &password, Some(&stale)).await,
        401,
        "totp_invalid",
    )
    .await;
    let previous = pyotp_code(&python, &uri, now(&app) - 30);
    assert_eq!(
        login(&app, &email, &password, Some(&previous))
            .await
            .status(),
        200,
        "±1 step"
    );

    // A recovery code works once, typed in capitals; then it is spent.
    let resp = login(&app, &email, &password, Some(&recovery[3].to_uppercase())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["secondFactor"],
        "recovery_code"
    );
    expect_error(
        login(&app, &email, &password, Some(&recovery[3])).await,
        401,
        "totp_invalid",
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.recovery_code_used'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM totp_recovery_codes WHERE used_at IS NULL"),
        9
    );

    // Turning it off takes a current code (a session alone is not enough).
    next_step(&app);
    let resp = api
        .send(
            reqwest::Method::DELETE,
            "/api/me/totp",
            Some(json!({ "code": wrong })),
        )
        .await;
    expect_error(resp, 401, "totp_invalid").await;
    let code = pyotp_code(&python, &uri, now(&app));
    let resp = api
        .send(
            reqwest::Method::DELETE,
            "/api/me/totp",
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(login(&app, &email, &password, None).await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM totp_recovery_codes"), 0);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action IN ('user.totp_on', 'user.totp_off')"
        ),
        2
    );
}

#[tokio::test]
async fn guessing_codes_is_rate_limited_like_passwords() {
    let Some(python) = python_with("pyotp") else {
        return;
    };
    // The production limit (5 a minute per user); the other tests raise it.
    let app = spawn_app_with(&[("SWITCHBOARD_RATE_LOGIN_PER_MIN", "5")]).await;
    let api = app.owner_api().await;
    let (uri, _) = enrol(&app, &api, &python).await;
    let (email, password) = (app.owner_email.clone(), app.owner_password.clone());
    let mut statuses = Vec::new();
    for guess in 0..8 {
        let resp = login(
            &app,
            &email,
            &password,
            Some(&format!("{:06}", 100_000 + guess)),
        )
        .await;
        statuses.push(resp.status().as_u16());
    }
    assert!(statuses.contains(&429), "guesses are limited: {statuses:?}");
    assert!(!statuses.contains(&200));
    // The right code is refused while the limit lasts, too.
    next_step(&app);
    let code = pyotp_code(&python, &uri, now(&app));
    assert_eq!(
        login(&app, &email, &password, Some(&code)).await.status(),
        429
    );
}

#[tokio::test]
async fn an_org_can_require_two_factor_of_owners_and_admins() {
    let Some((python, app)) = pyotp_and_app().await else {
        return;
    };
    let owner = app.owner_api().await;
    // Whoever requires it must have it on, so nobody locks the org out.
    expect_error(
        owner
            .put("/api/org/two-factor", json!({ "required": true }))
            .await,
        409,
        "totp_off_for_you",
    )
    .await;
    enrol(&app, &owner, &python).await;
    let resp = owner
        .put("/api/org/two-factor", json!({ "required": true }))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'org.two_factor_required'"),
        1
    );

    // An admin without two-factor signs in to enrolment only.
    let org = switchboard::demo::DEMO_ORG.to_string();
    let (admin, csrf) = app
        .user_client(&org, "admin@demo-plumbing.example", UserRole::Admin)
        .await;
    let admin = Api::new(admin, csrf, &app.address);
    let me = admin.get("/api/me").await;
    assert_eq!(me["twoFactorSetupRequired"], true);
    assert_eq!(me["requireTwoFactor"], true);
    let resp = admin
        .client
        .get(app.url("/api/calls"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "two_factor_setup_required").await;
    enrol(&app, &admin, &python).await;
    assert_eq!(admin.get("/api/me").await["twoFactorSetupRequired"], false);
    let resp = admin
        .client
        .get(app.url("/api/calls"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "everything opens once two-factor is on");
    // While required, an owner or admin cannot turn their own off.
    next_step(&app);
    let resp = admin
        .send(
            reqwest::Method::DELETE,
            "/api/me/totp",
            Some(json!({ "code": "123456" })),
        )
        .await;
    expect_error(resp, 403, "totp_required_by_org").await;

    // A viewer is not asked.
    let (viewer, _): (Client, _) = app
        .user_client(&org, "viewer@demo-plumbing.example", UserRole::Viewer)
        .await;
    assert_eq!(
        viewer
            .get(app.url("/api/calls"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_cli_resets_two_factor_for_a_locked_out_user() {
    let Some((python, app)) = pyotp_and_app().await else {
        return;
    };
    let api = app.owner_api().await;
    enrol(&app, &api, &python).await;
    let (email, password) = (app.owner_email.clone(), app.owner_password.clone());
    expect_error(
        login(&app, &email, &password, None).await,
        401,
        "totp_required",
    )
    .await;

    let data_dir = app.data_dir.path().to_str().unwrap().to_string();
    let out = crate::process::run_with_stdin(
        &["user", "reset-2fa", "--email", &email],
        &[("SWITCHBOARD_DATA_DIR", &data_dir)],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("two-factor sign-in of") && stdout.contains("is off"),
        "{stdout}"
    );
    // Signed out everywhere, and the password alone signs in again.
    let resp = api.client.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(login(&app, &email, &password, None).await.status(), 200);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'user.reset_2fa' AND actor = 'cli'"
        ),
        1
    );
    let out = crate::process::run_with_stdin(
        &["user", "reset-2fa", "--email", "nobody@example.com"],
        &[("SWITCHBOARD_DATA_DIR", &data_dir)],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user with the email"));
}

/// pyotp's code for a base32 secret as the page shows it (in groups of four).
fn pyotp_secret_code(python: &str, shown: &str, at: i64) -> String {
    let secret: String = shown.split_whitespace().collect();
    pyotp_code(python, &format!("otpauth://totp/x?secret={secret}"), at)
}

/// In Chromium: the owner turns two-factor on from Settings (scanning means reading the key
/// the page shows), requires it of admins, signs out and back in with a code; an admin
/// without it is led through enrolment before anything else.
#[tokio::test]
async fn in_the_browser_an_owner_enrols_requires_it_and_signs_in_with_a_code() {
    use crate::browser::{
        click, signed_in_at, type_into, wait_for, wait_text_with, wait_visible_text,
    };
    let Some((python, app)) = pyotp_and_app().await else {
        return;
    };
    let org = switchboard::demo::DEMO_ORG.to_string();
    let admin_password = app.add_user(&org, "admin@demo-plumbing.example", UserRole::Admin);
    let Some((_driver, c)) = signed_in_at(&app, "#settings").await else {
        return;
    };

    let status = wait_visible_text(&c, "#twofactor-status").await;
    assert!(status.starts_with("Off"), "{status}");
    click(&c, "#twofactor-start").await;
    let shown = wait_visible_text(&c, "#twofactor-secret").await;
    wait_for(&c, "#twofactor-qr svg").await;
    type_into(
        &c,
        "#twofactor-code",
        &pyotp_secret_code(&python, &shown, now(&app)),
    )
    .await;
    click(&c, "#twofactor-confirm-form button").await;
    let codes = wait_visible_text(&c, "#twofactor-code-list").await;
    assert_eq!(codes.lines().count(), 10, "{codes}");
    assert!(wait_visible_text(&c, "#twofactor-status")
        .await
        .starts_with("On"));

    click(&c, "#twofactor-require").await;
    wait_text_with(&c, "#twofactor-require-saved", "Saved").await;
    assert_eq!(
        app.count("SELECT require_two_factor FROM orgs ORDER BY id LIMIT 1"),
        1
    );

    // Signing in again takes a code: the form asks for it after the password.
    click(&c, "#logout").await;
    wait_for(&c, "#login-view:not([hidden])").await;
    type_into(&c, "#login-email", &app.owner_email).await;
    type_into(&c, "#login-password", &app.owner_password).await;
    click(&c, "#login-submit").await;
    let error = wait_text_with(&c, "#login-error", "authenticator").await;
    assert!(error.contains("enter the code"), "{error}");
    wait_for(&c, "#login-totp-field:not([hidden])").await;
    next_step(&app);
    type_into(
        &c,
        "#login-totp",
        &pyotp_secret_code(&python, &shown, now(&app)),
    )
    .await;
    click(&c, "#login-submit").await;
    assert_eq!(wait_visible_text(&c, "#org-name").await, "Demo Plumbing");

    // An admin without two-factor sees its enrolment and nothing else, then the dashboard.
    click(&c, "#logout").await;
    wait_for(&c, "#login-view:not([hidden])").await;
    type_into(&c, "#login-email", "admin@demo-plumbing.example").await;
    type_into(&c, "#login-password", &admin_password).await;
    click(&c, "#login-submit").await;
    let note = wait_visible_text(&c, "#twofactor-required-note").await;
    assert!(note.contains("requires two-factor"), "{note}");
    assert!(!nav_shown(&c).await, "only enrolment is reachable");
    click(&c, "#twofactor-start").await;
    let shown = wait_visible_text(&c, "#twofactor-secret").await;
    type_into(
        &c,
        "#twofactor-code",
        &pyotp_secret_code(&python, &shown, now(&app)),
    )
    .await;
    click(&c, "#twofactor-confirm-form button").await;
    wait_visible_text(&c, "#twofactor-code-list").await;
    click(&c, "#twofactor-continue").await;
    wait_for(&c, "#page-overview:not([hidden])").await;
    assert!(
        nav_shown(&c).await,
        "the whole dashboard opens once two-factor is on"
    );
    c.close().await.unwrap();
}

async fn nav_shown(c: &fantoccini::Client) -> bool {
    c.execute(
        "return getComputedStyle(document.getElementById('nav')).display !== 'none'",
        vec![],
    )
    .await
    .unwrap()
    .as_bool()
    .unwrap()
}
