//! What both benchmarks share: the runtime they measure on, and a demo appliance on a
//! fresh data dir with the limiters out of the way (every request is a new caller).

use switchboard::config::{Config, Sources};
use switchboard::startup::Application;

/// Runs `body` on a 2-thread runtime inside a `LocalSet` (the appliance's server runs
/// as a local task), as `serve` does.
pub fn run<F: std::future::Future<Output = ()>>(body: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body);
}

/// A demo appliance in `dir`, built but not yet serving.
pub async fn demo_app(dir: &std::path::Path) -> Application {
    let mut src = Sources::default();
    src.set("SWITCHBOARD_DATA_DIR", dir.display().to_string());
    src.set("SWITCHBOARD_LISTEN", "127.0.0.1:0");
    src.set("SWITCHBOARD_DEMO", "true");
    src.set("SWITCHBOARD_LOG", "warn");
    src.set("SWITCHBOARD_RATE_TWILIO_VOICE_PER_MIN", "1000000");
    src.set("SWITCHBOARD_RATE_API_PER_MIN", "1000000");
    Application::build(Config::from_sources(&src).unwrap())
        .await
        .unwrap()
}

/// This process's resident memory, in KiB (`VmRSS`).
#[allow(dead_code)] // not every benchmark reports it
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A client signed in to the dashboard at `base` (its session in the cookie jar).
#[allow(dead_code)] // not every benchmark signs in
pub async fn signed_in(base: &str, email: &str, password: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert!(
        login.status().is_success(),
        "sign-in: {}",
        login.text().await.unwrap_or_default()
    );
    client
}
