//! `spawn_app()`: every integration test starts a real appliance on port 0 with a fresh
//! temporary data directory (demo mode: sandbox providers, the demo org and its owner).

use reqwest::Client;
use serde_json::{json, Value};
use switchboard::config::{Config, Sources};
use switchboard::db::{orgs, users, Db};
use switchboard::domain::UserRole;
use switchboard::http::AppState;
use switchboard::simulator::{Simulator, Target};
use switchboard::startup::Application;
use tempfile::TempDir;

/// Methods of [`TestApp`] that send a signed-in change with [`send_json`].
macro_rules! changes {
    ($($name:ident => $method:ident),+) => {$(
        pub async fn $name(
            &self,
            c: &Client,
            csrf: &str,
            path: &str,
            body: Option<&Value>,
        ) -> reqwest::Response {
            send_json(c, csrf, reqwest::Method::$method, self.url(path), body).await
        }
    )+};
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub data_dir: TempDir,
    pub state: actix_web::web::Data<AppState>,
    pub owner_email: String,
    pub owner_password: String,
    pub sandbox_twilio: Option<std::sync::Arc<switchboard::providers::sandbox::SandboxTwilio>>,
}

/// Made-up master credentials the non-demo test apps are configured with.
pub const REAL_MASTER_SID: &str = "AC00000000000000000000000000000001";
pub const REAL_MASTER_TOKEN: &str = "test-master-auth-token-0123456789";
pub const REAL_PUBLIC_URL: &str = "https://phones.example.test";
pub const REAL_ORG: &str = "Acme Plumbing";
pub const REAL_OWNER_EMAIL: &str = "owner@plumbing.example";
pub const REAL_OWNER_PASSWORD: &str = "a-long-enough-test-password";

/// The settings of a real (non-demo) appliance whose providers are local mock servers:
/// the same for an in-process app and for the binary run as a command.
pub fn real_settings(
    data_dir: &std::path::Path,
    twilio_base: &str,
    vapi_base: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("SWITCHBOARD_DATA_DIR", data_dir.display().to_string()),
        ("SWITCHBOARD_PUBLIC_URL", REAL_PUBLIC_URL.into()),
        ("SWITCHBOARD_TWILIO_ACCOUNT_SID", REAL_MASTER_SID.into()),
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", REAL_MASTER_TOKEN.into()),
        ("SWITCHBOARD_TWILIO_API_BASE", twilio_base.into()),
        ("SWITCHBOARD_VAPI_API_KEY", "test-vapi-private-key".into()),
        ("SWITCHBOARD_VAPI_API_BASE", vapi_base.into()),
    ]
}

/// Creates the real appliance's owner (and org) with `switchboard user add`, as an
/// operator would; `env` are the binary's settings.
pub fn add_owner_by_cli(env: &[(&str, &str)]) {
    let out = crate::process::run_with_stdin(
        &[
            "user",
            "add",
            "--email",
            REAL_OWNER_EMAIL,
            "--role",
            "owner",
            "--org",
            REAL_ORG,
            "--password-stdin",
        ],
        env,
        Some(&format!("{REAL_OWNER_PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port nobody listens on at this moment (for a server to bind next).
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 and up by default): a port the kernel hands
    // out and takes back can go next to the outgoing connection of another test, before
    // the app it was meant for binds it. Ports below the range are never given to an
    // outgoing connection, and this counter gives each one out once per test binary.
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const END: u32 = 32_768;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % (END - FIRST);
    for _ in FIRST..END {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + (start + n) % (END - FIRST)).expect("below 32768");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {END}")
}

/// The HTTP status of a GET of `url` with `c`.
pub async fn get_status(c: &Client, url: String) -> u16 {
    c.get(url).send().await.unwrap().status().as_u16()
}

/// GETs `url` with `c` and parses the JSON body.
pub async fn get_json(c: &Client, url: String) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// Starts a real (non-demo) appliance on a fresh data dir whose Twilio and Vapi clients
/// talk to `twilio_base` / `vapi_base` (local mock servers), with one org and its owner.
pub async fn spawn_real(twilio_base: &str, vapi_base: &str) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    spawn_real_in(data_dir, twilio_base, vapi_base).await
}

pub async fn spawn_real_in(data_dir: TempDir, twilio_base: &str, vapi_base: &str) -> TestApp {
    spawn_real_with(data_dir, twilio_base, vapi_base, &[]).await
}

/// [`spawn_real_in`] with `extra` settings over the real ones.
pub async fn spawn_real_with(
    data_dir: TempDir,
    twilio_base: &str,
    vapi_base: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut src = sources(data_dir.path(), &[]);
    src.set("SWITCHBOARD_DEMO", "false");
    for (k, v) in real_settings(data_dir.path(), twilio_base, vapi_base) {
        src.set(k, v);
    }
    for (k, v) in extra {
        src.set(k, *v);
    }
    let config = Config::from_sources(&src).expect("test config is valid");
    let app = Application::build(config).await.expect("the app builds");
    let port = app.port();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let (email, password) = (
        REAL_OWNER_EMAIL.to_string(),
        REAL_OWNER_PASSWORD.to_string(),
    );
    {
        let conn = state.db.conn().unwrap();
        let org_id = match orgs::find_by_name(&conn, REAL_ORG).unwrap() {
            Some(o) => o.id,
            None => orgs::create(&conn, REAL_ORG, "America/New_York", false).unwrap(),
        };
        if users::find_by_email(&conn, &email).unwrap().is_none() {
            let hash = switchboard::crypto::hash_password(&password).unwrap();
            users::create(&conn, org_id, &email, &hash, UserRole::Owner).unwrap();
        }
    }
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        data_dir,
        state,
        owner_email: email,
        owner_password: password,
        sandbox_twilio: None,
    }
}

/// Settings every test app gets; `extra` may override them.
pub fn sources(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Sources {
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
    let sandbox_twilio = app.sandbox.as_ref().map(|s| s.twilio.clone());
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
    /// The sandbox Twilio of a demo app.
    pub fn sandbox(&self) -> &std::sync::Arc<switchboard::providers::sandbox::SandboxTwilio> {
        self.sandbox_twilio
            .as_ref()
            .expect("a demo app has a sandbox")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    // `post_json`, `put_json`, `patch_json`, `delete_json`: a signed-in change to `path`
    // ([`send_json`]).
    changes!(post_json => POST, put_json => PUT, patch_json => PATCH, delete_json => DELETE);

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

    /// An operational menu number of the real appliance's org (as `number import` makes
    /// it), owned by the master account.
    pub fn add_real_number(&self, e164: &str, twilio_sid: &str) {
        use switchboard::db::numbers;
        use switchboard::domain::{NumberHandler, NumberOrigin, NumberRole, PhoneNumber};
        let conn = self.db().conn().unwrap();
        let org = orgs::find_by_name(&conn, REAL_ORG).unwrap().unwrap().id;
        numbers::insert(
            &conn,
            &numbers::NewNumber {
                org_id: org,
                e164: &PhoneNumber::parse(e164).unwrap(),
                role: NumberRole::Operational,
                handler: NumberHandler::Ivr,
                origin: NumberOrigin::Imported,
                twilio_sid: Some(twilio_sid),
                provider_account_id: None,
                vapi_phone_number_id: None,
                agent_id: None,
                friendly_name: None,
                description: None,
            },
        )
        .unwrap();
    }

    /// A signed-in client for a new user.
    pub async fn user_client(&self, org: &str, email: &str, role: UserRole) -> (Client, String) {
        let password = self.add_user(org, email, role);
        let c = client();
        let csrf = self.login(&c, email, &password).await;
        (c, csrf)
    }

    /// The owner signed in, sending JSON with the CSRF token as the dashboard does.
    pub async fn owner_api(&self) -> Api {
        let (client, csrf) = self.owner().await;
        Api {
            client,
            csrf,
            base: self.address.clone(),
        }
    }

    /// The one text a query with one parameter selects.
    pub fn text(&self, sql: &str, param: &str) -> String {
        self.db()
            .conn()
            .unwrap()
            .query_row(sql, [param], |r| r.get(0))
            .unwrap()
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

/// The bodies of the texts the sandbox sent to `to`, oldest first.
pub fn sent_to(app: &TestApp, to: &str) -> Vec<String> {
    app.sandbox()
        .sent_messages()
        .into_iter()
        .filter(|m| m.to == to)
        .map(|m| m.body)
        .collect()
}

/// Plays Twilio against the app through the appliance's own simulator, which signs each
/// request like Twilio does.
pub struct Twilio {
    pub sim: Simulator,
}

pub const CALLER: &str = "+14155550123";
pub const MAIN_LINE: &str = "+15550100001";
pub const ONBOARDING_LINE: &str = "+15550100002";
pub const SYSTEM_LINE: &str = "+15550100003";
pub const OWNER_MOBILE: &str = "+15550100199";

impl TestApp {
    /// The simulator aimed at this app, signing with `twilio` and the demo's Vapi secret.
    pub fn simulator(&self, twilio: Option<(String, String)>) -> Simulator {
        Simulator::new(Target {
            base: self.address.clone(),
            signed_base: self.address.clone(),
            twilio,
            vapi_secret: self.state.vapi_webhook_secret.clone(),
        })
        .unwrap()
    }

    pub fn twilio(&self) -> Twilio {
        let master = self
            .state
            .accounts
            .master()
            .cloned()
            .expect("demo has a sandbox master account");
        Twilio {
            sim: self.simulator(Some((master.account_sid, master.auth_token))),
        }
    }

    /// Changes the org's call flow as the owner would (GET, edit, PUT) and returns the
    /// PUT's answer, which must be 200.
    pub async fn change_call_flow(&self, change: impl Fn(&mut Value)) -> Value {
        let (c, csrf) = self.owner().await;
        let mut flow = get_json(&c, self.url("/api/call-flow")).await;
        change(&mut flow["callFlow"]);
        let resp = c
            .put(self.url("/api/call-flow"))
            .header("x-csrf-token", &csrf)
            .json(&flow["callFlow"])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls `sql` (a count) until it equals `want`, for background work; panics after 10 s.
    pub async fn wait_count(&self, sql: &str, want: i64) {
        for _ in 0..200 {
            if self.count(sql) == want {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // A pooled connection that kept an old snapshot would read differently from a
        // new one: say what both read.
        let fresh: i64 = rusqlite::Connection::open(self.db().path())
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
            .unwrap();
        panic!(
            "`{sql}` never became {want} (is {}; a new connection reads {fresh})",
            self.count(sql)
        );
    }

    /// Waits until a counter reaches `want`: background work bumps its counters just after
    /// its rows commit, so a test that saw the rows may still be a moment early.
    pub async fn wait_counter(&self, name: &str, labels: &[(&str, &str)], want: u64) {
        for _ in 0..200 {
            if self.state.desk.metrics.counter(name, labels) == want {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let is = self.state.desk.metrics.counter(name, labels);
        panic!("counter {name}{labels:?} never became {want} (is {is})");
    }
}

impl Twilio {
    /// A signed POST as a `'static` future, to run many at once with `tokio::spawn`.
    pub fn spawn_post(&self, path: &str, params: &[(&str, &str)]) -> tokio::task::JoinHandle<u16> {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (sim, path) = (self.sim.clone(), path.to_string());
        tokio::spawn(async move {
            let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (&**k, &**v)).collect();
            sim.post_twilio(&path, &refs)
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }

    /// A signed POST of `params` (plus AccountSid) to `path`.
    pub async fn post(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.sim.post_twilio(path, params).await.unwrap()
    }

    /// A signed POST that must answer 200 TwiML; returns the TwiML.
    pub async fn twiml(&self, path: &str, params: &[(&str, &str)]) -> String {
        let resp = self.post(path, params).await;
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = resp.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(ct, "text/xml; charset=utf-8", "{path}");
        assert!(
            body.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#),
            "{body}"
        );
        body
    }

    pub async fn call(&self, call_sid: &str, from: &str, to: &str) -> String {
        self.twiml(
            "/twilio/voice",
            &[
                ("CallSid", call_sid),
                ("From", from),
                ("To", to),
                ("Direction", "inbound"),
                ("CallStatus", "ringing"),
            ],
        )
        .await
    }

    /// A call from `from` to the menu line that rang out unanswered: the entry webhook,
    /// then its 30 s `completed` status callback (a missed call, which may be texted back).
    pub async fn missed_call(&self, call_sid: &str, from: &str) {
        self.call(call_sid, from, MAIN_LINE).await;
        self.status(call_sid, from, MAIN_LINE, "completed", "30")
            .await;
    }

    /// The dialled leg ended with `status` (`completed`, `busy`, `no-answer`…); returns
    /// the TwiML answer.
    pub async fn dial_result(&self, call_sid: &str, status: &str) -> String {
        self.twiml(
            "/twilio/voice/dial-result",
            &[
                ("CallSid", call_sid),
                ("To", MAIN_LINE),
                ("DialCallStatus", status),
            ],
        )
        .await
    }

    /// A voicemail of `seconds` was recorded on the call as `recording_sid`.
    pub async fn recording(
        &self,
        call_sid: &str,
        recording_sid: &str,
        seconds: &str,
    ) -> reqwest::Response {
        let url = format!("https://api.twilio.com/rec/{recording_sid}");
        self.post(
            "/twilio/voice/recording",
            &[
                ("CallSid", call_sid),
                ("RecordingSid", recording_sid),
                ("RecordingUrl", &url),
                ("RecordingStatus", "completed"),
                ("RecordingDuration", seconds),
            ],
        )
        .await
    }

    /// A customer's text `body` from `from` to `to`; returns the TwiML answer.
    pub async fn sms(&self, message_sid: &str, from: &str, to: &str, body: &str) -> String {
        self.twiml(
            "/twilio/sms",
            &[
                ("MessageSid", message_sid),
                ("From", from),
                ("To", to),
                ("Body", body),
            ],
        )
        .await
    }

    pub async fn press(&self, call_sid: &str, attempt: u32, digits: &str) -> String {
        let path = format!("/twilio/voice/menu?attempt={attempt}");
        self.twiml(
            &path,
            &[
                ("CallSid", call_sid),
                ("From", CALLER),
                ("To", MAIN_LINE),
                ("Digits", digits),
            ],
        )
        .await
    }

    pub async fn status(&self, call_sid: &str, from: &str, to: &str, status: &str, duration: &str) {
        let resp = self
            .post(
                "/twilio/voice/status",
                &[
                    ("CallSid", call_sid),
                    ("From", from),
                    ("To", to),
                    ("CallStatus", status),
                    ("CallDuration", duration),
                ],
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
}

/// The kinds of a call's timeline events, in order (`GET /api/calls/{id}`).
pub fn event_kinds(detail: &Value) -> Vec<&str> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

/// A change as a signed-in page sends it: the CSRF header, and a JSON body if given.
pub async fn send_json(
    c: &Client,
    csrf: &str,
    method: reqwest::Method,
    url: impl reqwest::IntoUrl,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = c.request(method, url).header("x-csrf-token", csrf);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

/// A signed-in API client: JSON bodies, the CSRF header on every change.
pub struct Api {
    pub client: Client,
    pub csrf: String,
    base: String,
}

impl Api {
    pub fn new(client: Client, csrf: String, base: &str) -> Api {
        Api {
            client,
            csrf,
            base: base.to_string(),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        get_json(&self.client, format!("{}{path}", self.base)).await
    }

    /// A change (`POST`, `PUT`, `PATCH`, `DELETE`) with an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        send_json(&self.client, &self.csrf, method, url, body.as_ref()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path, None).await
    }
}
