//! The live dashboard's cost (SPEC §10, §12): the memory of open event streams
//! (`GET /api/events`), and how long a call takes to reach an open stream while other
//! webhooks keep the appliance busy.
//!
//! Run with `cargo bench --bench live` (optionally `-- STREAMS SECONDS`, default 1000
//! streams and 10 s of load). The load is signed `/twilio/voice` calls to the demo
//! business at 16 connections; the latency is measured on a second business, whose one
//! stream hears only its own calls: from sending a call's webhook to the stream's frame.

mod common;

use std::time::{Duration, Instant};
use switchboard::simulator::{Simulator, Target};

/// Reads `stream` until an event frame arrives.
async fn next_change(stream: &mut reqwest::Response, buffer: &mut String) -> bool {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if frame.contains("event: change") {
                return true;
            }
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return false,
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let streams: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    common::run(async move {
        let dir = tempfile::tempdir().unwrap();
        let app = common::demo_app(dir.path()).await;
        let port = app.port();
        let state = app.state();
        let (email, password) = app.demo.as_ref().unwrap().new_owner.clone().unwrap();
        let master = state.accounts.master().cloned().unwrap();
        // A second business with a number and an owner, for the latency stream.
        let other_password = "a-long-enough-bench-password";
        {
            let conn = state.db.conn().unwrap();
            conn.execute_batch(&format!(
                "INSERT INTO orgs (id, name, timezone) VALUES (900, 'Bench Two', 'UTC');
                 INSERT INTO phone_numbers (org_id, e164, role, handler, origin)
                     VALUES (900, '+15550100900', 'operational', 'ivr', 'imported');
                 INSERT INTO users (org_id, email, password_hash, role)
                     VALUES (900, 'two@bench.example', '{}', 'owner');",
                switchboard::crypto::hash_password(other_password).unwrap()
            ))
            .unwrap();
        }
        tokio::task::spawn_local(app.run_until_stopped());
        let base = format!("http://127.0.0.1:{port}");
        let owner = common::signed_in(&base, &email, &password).await;

        // Memory: this many open streams of the demo business.
        let before = common::rss_kib();
        let mut open = Vec::with_capacity(streams);
        for _ in 0..streams {
            let resp = owner
                .get(format!("{base}/api/events"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            open.push(resp);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = common::rss_kib();
        println!(
            "switchboard live-update benchmark: {streams} streams, {seconds} s of load, 2 cores"
        );
        println!(
            "open streams:                 {} (server and clients in one process)",
            state.live.clients()
        );
        println!(
            "RSS for {streams} open streams:    +{:.1} MiB ({:.1} KiB per stream, client side included)",
            (after.saturating_sub(before)) as f64 / 1024.0,
            (after.saturating_sub(before)) as f64 / streams as f64
        );

        // Latency under load: the second business's stream, while the demo business
        // takes signed calls at 16 connections (its streams all receive their events).
        let two = common::signed_in(&base, "two@bench.example", other_password).await;
        let mut stream = two.get(format!("{base}/api/events")).send().await.unwrap();
        let sim = Simulator::new(Target {
            base: base.clone(),
            signed_base: base.clone(),
            twilio: Some((master.account_sid.clone(), master.auth_token.clone())),
            vapi_secret: None,
        })
        .unwrap();
        let stop = Instant::now() + Duration::from_secs(seconds);
        let mut load = Vec::new();
        for worker in 0..16 {
            let sim = sim.clone();
            load.push(tokio::task::spawn_local(async move {
                let mut n = 0u64;
                while Instant::now() < stop {
                    let sid = format!("CALOAD{worker:02}{n:010}");
                    let from = format!("+1628{:07}", (worker as u64 * 1_000_000 + n) % 10_000_000);
                    let _ = sim
                        .post_twilio(
                            "/twilio/voice",
                            &[
                                ("CallSid", &sid),
                                ("From", &from),
                                ("To", "+15550100001"),
                                ("CallStatus", "ringing"),
                            ],
                        )
                        .await;
                    n += 1;
                }
                n
            }));
        }
        let mut buffer = String::new();
        let mut latencies = Vec::new();
        let mut i = 0;
        while Instant::now() < stop {
            let sid = format!("CAMARK{i:010}");
            let sent = Instant::now();
            let resp = sim
                .post_twilio(
                    "/twilio/voice",
                    &[
                        ("CallSid", &sid),
                        ("From", "+14155550900"),
                        ("To", "+15550100900"),
                        ("CallStatus", "ringing"),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            if next_change(&mut stream, &mut buffer).await {
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut calls = 0;
        for l in load {
            calls += l.await.unwrap();
        }
        latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "webhook load meanwhile:       {:.0} calls/s to the demo business",
            calls as f64 / seconds as f64
        );
        println!(
            "call → open stream:           p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms   ({} calls; SPEC: within a second)",
            pct(&latencies, 0.5),
            pct(&latencies, 0.99),
            latencies.last().copied().unwrap_or(f64::NAN),
            latencies.len()
        );
        drop(open);
    });
}
