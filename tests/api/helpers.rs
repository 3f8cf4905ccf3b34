//! `spawn_app()`: every integration test starts a real appliance on port 0 with a fresh
//! temporary data directory (demo mode: sandbox providers, the demo org and its owner).

use reqwest::Client;
use serde_json::{json, Value};
use switchboard::config::{Config, Sources};
use switchboard::db::{orgs, users, Db};
use switchboard::domain::UserRole;
use switchboard::http::AppState;
use switchboard::startup::Application;
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub data_dir: TempDir,
    pub state: actix_web::web::Data<AppState>,
    pub owner_email: String,
    pub owner_password: String,
    pub sandbox_twilio: std::sync::Arc<switchboard::providers::sandbox::SandboxTwilio>,
}

/// Settings every test app gets; `extra` may override them.
fn sources(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Sources {
    let mut src = Sources::default();
    src.set("SWITCHBOARD_DATA_DIR", data_dir.display().to_string());
    src.set("SWITCHBOARD_LISTEN", "127.0.0.1:0");
    src.set("SWITCHBOARD_DEMO", "true");
    // Tests sign in often; the login limiter has its own test with a low limit.
    src.set("SWITCHBOARD_RATE_LOGIN_PER_MIN", "1000");
    for (k, v) in extra {
        src.set(k, *v);
    }
    src
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    spawn_in(data_dir, extra).await
}

/// Starts an app on an existing data dir (e.g. to test a restart).
pub async fn spawn_in(data_dir: TempDir, extra: &[(&str, &str)]) -> TestApp {
    let config =
        Config::from_sources(&sources(data_dir.path(), extra)).expect("test config is valid");
    let app = Application::build(config).await.expect("the app builds");
    let port = app.port();
    let state = app.state();
    let (owner_email, owner_password) = app
        .demo
        .as_ref()
        .and_then(|d| d.new_owner.clone())
        .unwrap_or_else(|| ("owner@demo-plumbing.example".into(), String::new()));
    let sandbox_twilio = app
        .sandbox
        .as_ref()
        .expect("demo mode has a sandbox")
        .twilio
        .clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        data_dir,
        state,
        owner_email,
        owner_password,
        sandbox_twilio,
    }
}

/// A client with its own cookie jar, like one browser.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Signs `client` in; returns the CSRF token.
    pub async fn login(&self, client: &Client, email: &str, password: &str) -> String {
        let resp = client
            .post(self.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "login of {email} failed: {}",
            resp.text().await.unwrap()
        );
        resp.json::<Value>().await.unwrap()["csrfToken"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A client signed in as the demo owner, with its CSRF token.
    pub async fn owner(&self) -> (Client, String) {
        let c = client();
        let csrf = self
            .login(&c, &self.owner_email, &self.owner_password)
            .await;
        (c, csrf)
    }

    /// Creates a user (and the org, if new) directly in the database; returns the password.
    pub fn add_user(&self, org: &str, email: &str, role: UserRole) -> String {
        let conn = self.db().conn().unwrap();
        let org_id = match orgs::find_by_name(&conn, org).unwrap() {
            Some(o) => o.id,
            None => orgs::create(&conn, org, "UTC", false).unwrap(),
        };
        let password = format!("pw-{}-long-enough", email.replace('@', "-"));
        let hash = switchboard::crypto::hash_password(&password).unwrap();
        users::create(&conn, org_id, email, &hash, role).unwrap();
        password
    }

    /// A signed-in client for a new user.
    pub async fn user_client(&self, org: &str, email: &str, role: UserRole) -> (Client, String) {
        let password = self.add_user(org, email, role);
        let c = client();
        let csrf = self.login(&c, email, &password).await;
        (c, csrf)
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db()
            .conn()
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }
}

/// Asserts the `{"error":{"code","message","hint"?}}` shape and returns the error object.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status, "unexpected status");
    let body: Value = resp.json().await.expect("error bodies are JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    body["error"].clone()
}
