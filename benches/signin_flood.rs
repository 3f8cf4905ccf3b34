//! A sign-in flood against the release binary (SPEC §10, §11): peak and idle memory, and
//! `/twilio/voice` latency at a realistic 50 webhooks/s, first alone and then while 64
//! clients keep sending wrong passwords from many addresses (as a credential-stuffing botnet
//! does). Prints numbers; asserts nothing timed.
//!
//! Run with `cargo bench --bench signin_flood` (optionally `-- SECONDS`, default 10);
//! `SWITCHBOARD_BENCH_BIN=path` measures another build of the binary (an older release).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::simulator::{new_sid, Simulator, Target};

fn binary() -> String {
    std::env::var("SWITCHBOARD_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchboard").to_string())
}
const WEBHOOKS_PER_SEC: u64 = 50;
const FLOOD_CLIENTS: u64 = 64;

fn mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn setting(config: &str, name: &str) -> String {
    config
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in the demo's config"))
        .to_string()
}

/// `/twilio/voice` at a steady rate for `secs`; the latencies in ms, sorted.
async fn webhooks(sim: Arc<Simulator>, secs: u64) -> (Vec<f64>, usize) {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / WEBHOOKS_PER_SEC));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut sent = Vec::new();
    while Instant::now() < deadline {
        tick.tick().await;
        let sim = Arc::clone(&sim);
        sent.push(tokio::spawn(async move {
            let sid = new_sid("CA");
            let from = format!("+1415555{:04}", rand_digits());
            let started = Instant::now();
            let ok = sim
                .post_twilio(
                    "/twilio/voice",
                    &[
                        ("CallSid", &sid),
                        ("From", &from),
                        ("To", "+15550100001"),
                        ("CallStatus", "ringing"),
                        ("Direction", "inbound"),
                    ],
                )
                .await
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false);
            (started.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for s in sent {
        let (ms, ok) = s.await.unwrap();
        latencies.push(ms);
        errors += usize::from(!ok);
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, errors)
}

fn rand_digits() -> u32 {
    static N: AtomicU64 = AtomicU64::new(0);
    (N.fetch_add(7919, Ordering::Relaxed) % 10_000) as u32
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let bin = binary();
    let mut child = Command::new(&bin)
        .env_clear()
        .env("SWITCHBOARD_TRUST_PROXY", "true")
        .env("SWITCHBOARD_LOG", "warn")
        .env("SWITCHBOARD_RATE_TWILIO_VOICE_PER_MIN", "1000000")
        .args([
            "--data-dir",
            data,
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut base = String::new();
    for line in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if let Some(u) = line.trim().strip_prefix("dashboard:") {
            base = u.trim().trim_end_matches('/').to_string();
        }
        if line.contains("ready in") {
            break;
        }
    }
    let out = Command::new(&bin)
        .args(["--data-dir", data, "config"])
        .output()
        .unwrap();
    let config = String::from_utf8_lossy(&out.stdout).to_string();
    let account = (
        setting(&config, "SWITCHBOARD_TWILIO_ACCOUNT_SID"),
        setting(&config, "SWITCHBOARD_TWILIO_AUTH_TOKEN"),
    );
    let sim = Arc::new(
        Simulator::new(Target {
            base: base.clone(),
            signed_base: base.clone(),
            twilio: Some(account),
            vapi_secret: None,
        })
        .unwrap(),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = mib(pid, "VmRSS");
        let (quiet, quiet_errors) = webhooks(Arc::clone(&sim), secs).await;

        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(std::sync::Mutex::new(BTreeMap::<u16, u64>::new()));
        let next = Arc::new(AtomicU64::new(0));
        let flood: Vec<_> = (0..FLOOD_CLIENTS)
            .map(|_| {
                let (stop, answers, next) = (Arc::clone(&stop), Arc::clone(&answers), Arc::clone(&next));
                let url = format!("{base}/api/auth/login");
                tokio::spawn(async move {
                    let c = reqwest::Client::new();
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let status = c
                            .post(&url)
                            .header("X-Forwarded-For", format!("203.0.{}.{}", (n / 250) % 250, n % 250 + 1))
                            .json(&serde_json::json!({ "email": format!("guess{n}@example.com"), "password": "Winter2026!" }))
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .unwrap_or(0);
                        *answers.lock().unwrap().entry(status).or_default() += 1;
                    }
                })
            })
            .collect();
        let health = {
            let (stop, url) = (Arc::clone(&stop), format!("{base}/healthz"));
            tokio::spawn(async move {
                let c = reqwest::Client::new();
                let (mut ok, mut all) = (0u32, 0u32);
                while !stop.load(Ordering::Relaxed) {
                    all += 1;
                    ok += u32::from(c.get(&url).send().await.is_ok_and(|r| r.status() == 200));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                (ok, all)
            })
        };
        let (loaded, loaded_errors) = webhooks(Arc::clone(&sim), secs).await;
        stop.store(true, Ordering::Relaxed);
        for f in flood {
            f.await.unwrap();
        }
        let (health_ok, health_all) = health.await.unwrap();
        let peak = mib(pid, "VmHWM");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = mib(pid, "VmRSS");
        // Past one maintenance pass, which forgets the limiters' idle keys.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let settled = mib(pid, "VmRSS");

        println!("sign-in flood: {FLOOD_CLIENTS} clients, wrong passwords from many addresses, {secs} s; webhooks at {WEBHOOKS_PER_SEC}/s");
        println!("  sign-in answers by status: {:?}", answers.lock().unwrap());
        println!("  /healthz during the flood: {health_ok}/{health_all} answered 200");
        println!(
            "  /twilio/voice alone:       p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests, {} errors)",
            pct(&quiet, 0.5), pct(&quiet, 0.99), pct(&quiet, 1.0), quiet.len(), quiet_errors
        );
        println!(
            "  /twilio/voice under flood: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests, {} errors)",
            pct(&loaded, 0.5), pct(&loaded, 0.99), pct(&loaded, 1.0), loaded.len(), loaded_errors
        );
        println!("  RSS: idle {idle:.1} MiB, peak {peak:.1} MiB, 2 s after the flood {after:.1} MiB, 12 s after {settled:.1} MiB");
    });
    let _ = child.kill();
    let _ = child.wait();
}
