//! A flood of sign-ins (SPEC §10, §11): bounded memory, quick refusals, the phones still up.

use crate::helpers::{client, expect_error, spawn_app_with};
use crate::process::{served_url, start_demo_with};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A field of `/proc/PID/status` in MiB (`VmRSS` now, `VmHWM` the peak).
fn mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    kib / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_sign_ins_from_many_addresses_keep_memory_bounded_and_the_appliance_up(
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    // Many addresses, as a botnet sends them: the proxy header stands in for each.
    let (mut child, out) = start_demo_with(&data, &[("SWITCHBOARD_TRUST_PROXY", "true")]);
    let base = served_url(&out);
    let pid = child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = mib(pid, "VmRSS");

    let stop = Arc::new(AtomicBool::new(false));
    let health = {
        let (stop, url) = (Arc::clone(&stop), format!("{base}/healthz"));
        tokio::spawn(async move {
            let c = client();
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                seen.push(
                    c.get(&url)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0),
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            seen
        })
    };
    let mut answers: BTreeMap<u16, u32> = BTreeMap::new();
    let mut busy_bodies = Vec::new();
    for round in 0..3 {
        let attempts: Vec<_> = (0..64)
            .map(|i| {
                let url = format!("{base}/api/auth/login");
                tokio::spawn(async move {
                    let n = round * 64 + i;
                    let resp = client()
                        .post(url)
                        .header("X-Forwarded-For", format!("198.51.{}.{}", n / 200, n % 200 + 1))
                        .json(&json!({ "email": format!("guess{n}@example.com"), "password": "Winter2026!" }))
                        .send()
                        .await
                        .unwrap();
                    let status = resp.status().as_u16();
                    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                    let body: serde_json::Value = resp.json().await.unwrap();
                    (status, retry, body)
                })
            })
            .collect();
        for a in attempts {
            let (status, retry, body) = a.await.unwrap();
            *answers.entry(status).or_default() += 1;
            if status == 503 {
                busy_bodies.push((retry, body));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let health = health.await.unwrap();
    let peak = mib(pid, "VmHWM");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = mib(pid, "VmRSS");
    let metrics = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(
        answers.keys().all(|s| [401, 429, 503].contains(s)),
        "every answer is a refusal: {answers:?}"
    );
    assert!(
        answers.get(&401).copied().unwrap_or(0) > 0,
        "some were checked: {answers:?}"
    );
    for (retry, body) in &busy_bodies {
        assert_eq!(retry.as_deref(), Some("2"), "{body}");
        assert_eq!(body["error"]["code"], "sign_in_busy", "{body}");
    }
    let refused: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("switchboard_password_hash_rejected_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        refused,
        busy_bodies.len() as u64,
        "each 503 is counted:\n{metrics}"
    );
    assert!(
        !health.is_empty() && health.iter().all(|s| *s == 200),
        "{health:?}"
    );
    assert!(peak <= 64.0, "peak RSS {peak:.1} MiB (idle {idle:.1} MiB)");
    assert!(
        after <= idle + 8.0,
        "RSS after the flood {after:.1} MiB, idle before {idle:.1} MiB"
    );
}

#[tokio::test]
async fn sign_ins_from_everywhere_together_meet_a_global_limit() {
    let app = spawn_app_with(&[("SWITCHBOARD_RATE_LOGIN_GLOBAL_PER_MIN", "3")]).await;
    for i in 0..3 {
        let resp = client()
            .post(app.url("/api/auth/login"))
            .json(
                &json!({ "email": format!("nobody{i}@example.com"), "password": "wrong-password" }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    // Another email, still within its own per-IP and per-email limits: the global one says no.
    let resp = client()
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": app.owner_email, "password": app.owner_password }))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    expect_error(resp, 429, "rate_limited").await;
}

#[tokio::test]
async fn with_every_hashing_thread_busy_and_no_queue_a_sign_in_is_503_with_retry_after() {
    let app = spawn_app_with(&[
        ("SWITCHBOARD_PASSWORD_HASH_THREADS", "1"),
        ("SWITCHBOARD_PASSWORD_HASH_QUEUE", "0"),
    ])
    .await;
    let attempts: Vec<_> = (0..6)
        .map(|i| {
            let url = app.url("/api/auth/login");
            tokio::spawn(async move {
                client()
                    .post(url)
                    .json(&json!({ "email": format!("nobody{i}@example.com"), "password": "wrong-password" }))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut busy = 0;
    for a in attempts {
        let resp = a.await.unwrap();
        match resp.status().as_u16() {
            401 => {}
            503 => {
                busy += 1;
                assert_eq!(resp.headers()["retry-after"], "2");
                let body = expect_error(resp, 503, "sign_in_busy").await;
                assert_eq!(body["hint"], "Wait 2 s and try again.");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(busy > 0, "six at once with one thread and no queue");
    app.wait_counter(
        "switchboard_password_hash_rejected_total",
        &[("reason", "queue_full")],
        busy,
    )
    .await;
}
