//! Scale with data (SPEC §10): fills a database with a year of calls (1,000,000 by
//! default, with their events, texts, voicemails and 60 days of webhook ledger over the
//! demo's numbers), serves it, and times from outside — over HTTP, signed in like the
//! dashboard — the Calls page query with each filter, a call's timeline, a contact's history and every
//! monitoring view (target ≤ 50 ms each). Then measures `/twilio/voice` p99 under load
//! with and without the 30-day ledger retention pruning running.
//!
//! Run with `cargo bench --bench scale [-- CALLS]`.

mod common;

use rusqlite::params;
use std::time::{Duration, Instant};
use switchboard::simulator::{CallPlan, LoadPlan, Simulator, Target};

const YEAR_SECS: i64 = 365 * 24 * 3600;
const NUMBERS: [&str; 4] = [
    "+15550100001",
    "+15550100002",
    "+15550100003",
    "+15550100004",
];
const OUTCOMES: [&str; 7] = [
    "connected",
    "voicemail",
    "missed",
    "abandoned",
    "rejected",
    "ai_handled",
    "failed",
];
const CALLERS: i64 = 50_000;

/// A deterministic spread: the same database every run.
fn mix(i: i64, salt: i64) -> i64 {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (salt as u64);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 11) as i64
}

fn time_at(now: chrono::DateTime<chrono::Utc>, secs_ago: i64) -> String {
    switchboard::db::format_time(now - chrono::Duration::seconds(secs_ago))
}

/// Inserts `n` calls spread over a year, newest last, with three events each, a text-back
/// for one in ten, a voicemail for one in seven, and webhook ledger rows for the last 30
/// days. Returns (a frequent caller, a call SID from the middle, the middle call's id).
fn fill(
    conn: &mut rusqlite::Connection,
    org: i64,
    number_ids: &[i64],
    n: i64,
) -> (String, String, i64) {
    let now = chrono::Utc::now();
    let tx = conn.transaction().unwrap();
    {
        let mut call = tx
            .prepare(
                "INSERT INTO calls (org_id, provider, call_sid, direction, from_number, to_number, phone_number_id,
                   number_role, status, outcome, started_at, ended_at, duration_seconds, consent_outcome)
                 VALUES (?1, 'twilio', ?2, 'inbound', ?3, ?4, ?5, 'operational', 'completed', ?6, ?7, ?7, ?8, ?9)",
            )
            .unwrap();
        let mut event = tx
            .prepare("INSERT INTO call_events (call_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        let mut text = tx
            .prepare(
                "INSERT INTO messages (org_id, sid, direction, from_number, to_number, phone_number_id, call_id, body,
                   kind, status, created_at, updated_at) VALUES (?1, ?2, 'outbound', ?3, ?4, ?5, ?6, 'Sorry we missed you', 'textback', 'sent', ?7, ?7)",
            )
            .unwrap();
        let mut voicemail = tx
            .prepare(
                "INSERT INTO voicemails (org_id, call_id, recording_sid, duration_seconds, transcription_text,
                   transcription_status, handled, created_at, updated_at) VALUES (?1, ?2, ?3, 20, 'Please call me back', 'completed', ?4, ?5, ?5)",
            )
            .unwrap();
        let mut ledger = tx
            .prepare(
                "INSERT INTO webhook_ledger (provider, route, reference, org_id, signature, http_status, latency_ms, received_at, call_id)
                 VALUES ('twilio', ?1, ?2, ?3, 'valid', ?4, 1.5, ?5, ?6)",
            )
            .unwrap();
        let consents = ["not_asked", "announced", "granted", "declined"];
        for i in 0..n {
            let secs_ago = YEAR_SECS - (i * YEAR_SECS / n);
            let at = time_at(now, secs_ago);
            let sid = format!("CA{:032x}", i);
            let caller = format!("+1415{:07}", mix(i, 1) % CALLERS);
            let k = (mix(i, 2) % NUMBERS.len() as i64) as usize;
            let outcome = OUTCOMES[(mix(i, 3) % OUTCOMES.len() as i64) as usize];
            let consent = consents[(mix(i, 4) % 4) as usize];
            call.execute(params![
                org,
                sid,
                caller,
                NUMBERS[k],
                number_ids[k],
                outcome,
                at,
                mix(i, 5) % 300,
                consent
            ])
            .unwrap();
            let id = tx.last_insert_rowid();
            for kind in ["call.started", "menu.choice", "call.ended"] {
                event
                    .execute(params![id, at, kind, None::<String>])
                    .unwrap();
            }
            if outcome == "missed" && i % 10 == 0 {
                text.execute(params![
                    org,
                    format!("SM{:032x}", i),
                    NUMBERS[k],
                    caller,
                    number_ids[k],
                    id,
                    at
                ])
                .unwrap();
            }
            if outcome == "voicemail" && i % 7 == 0 {
                let handled = i32::from(secs_ago > 7 * 24 * 3600);
                voicemail
                    .execute(params![org, id, format!("RE{:032x}", i), handled, at])
                    .unwrap();
            }
            if secs_ago < 30 * 24 * 3600 {
                for (route, status) in [
                    ("/twilio/voice", 200),
                    ("/twilio/voice/status", if i % 500 == 0 { 500 } else { 200 }),
                ] {
                    ledger
                        .execute(params![route, sid, org, status, at, id])
                        .unwrap();
                }
            }
        }
    }
    tx.commit().unwrap();
    let frequent = format!("+1415{:07}", mix(n / 2, 1) % CALLERS);
    let mid_sid = format!("CA{:032x}", n / 2);
    let mid_id: i64 = conn
        .query_row(
            "SELECT id FROM calls WHERE call_sid = ?1",
            [&mid_sid],
            |r| r.get(0),
        )
        .unwrap();
    (frequent, mid_sid, mid_id)
}

/// Adds `rows` webhook ledger rows from 31 to 59 days ago: past the 30-day retention.
fn age_ledger(conn: &mut rusqlite::Connection, org: i64, rows: i64) {
    let now = chrono::Utc::now();
    let tx = conn.transaction().unwrap();
    {
        let mut ledger = tx
            .prepare(
                "INSERT INTO webhook_ledger (provider, route, reference, org_id, signature, http_status, latency_ms, received_at)
                 VALUES ('twilio', '/twilio/voice', ?1, ?2, 'valid', 200, 1.5, ?3)",
            )
            .unwrap();
        let span = 28 * 24 * 3600;
        for i in 0..rows {
            let at = time_at(now, 31 * 24 * 3600 + i * span / rows.max(1));
            ledger
                .execute(params![format!("CAold{i:029x}"), org, at])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// GETs `path` `runs` times; returns (median, slowest) in ms, and panics on a non-200.
async fn time(c: &reqwest::Client, base: &str, path: &str, runs: usize) -> (f64, f64) {
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let resp = c.get(format!("{base}{path}")).send().await.unwrap();
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        took.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    took.sort_by(f64::total_cmp);
    (took[runs / 2], took[runs - 1])
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn main() {
    let n: i64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    common::run(async move {
        let dir = tempfile::tempdir().unwrap();
        let app = common::demo_app(dir.path()).await;
        let state = app.state();
        let (email, password) = app.demo.as_ref().and_then(|d| d.new_owner.clone()).unwrap();
        let master = state.accounts.master().cloned().unwrap();
        let port = app.port();
        let base = format!("http://127.0.0.1:{port}");

        let started = Instant::now();
        let (org, number_ids) = {
            let conn = state.db.conn().unwrap();
            let org: i64 = conn
                .query_row("SELECT id FROM orgs LIMIT 1", [], |r| r.get(0))
                .unwrap();
            let ids: Vec<i64> = NUMBERS
                .iter()
                .map(|e| {
                    conn.query_row("SELECT id FROM phone_numbers WHERE e164 = ?1", [e], |r| {
                        r.get(0)
                    })
                    .unwrap()
                })
                .collect();
            (org, ids)
        };
        let (caller, mid_sid, mid_id) = {
            let mut conn = state.db.conn().unwrap();
            let filled = fill(&mut conn, org, &number_ids, n);
            conn.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap();
            filled
        };
        let size: i64 = state
            .db
            .conn()
            .unwrap()
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                [],
                |r| r.get(0),
            )
            .unwrap();
        println!(
            "filled {n} calls (a year, {} events, 30 days of ledger) in {:.1} s; database {:.0} MiB",
            3 * n,
            started.elapsed().as_secs_f64(),
            size as f64 / 1048576.0
        );
        tokio::task::spawn_local(app.run_until_stopped());

        let c = common::signed_in(&base, &email, &password).await;

        let half_year = chrono::Utc::now() - chrono::Duration::days(182);
        let week_from = half_year.format("%Y-%m-%d").to_string();
        let week_to = (half_year + chrono::Duration::days(7))
            .format("%Y-%m-%d")
            .to_string();
        let before = mid_id;
        let mut paths: Vec<(String, String)> = vec![
            ("calls, newest".into(), "/api/calls".into()),
            (
                "calls by outcome".into(),
                "/api/calls?outcome=missed".into(),
            ),
            (
                "calls by number".into(),
                format!("/api/calls?number={}", encode(NUMBERS[0])),
            ),
            (
                "calls by caller".into(),
                format!("/api/calls?caller={}", encode(&caller)),
            ),
            (
                "calls by date (a week)".into(),
                format!("/api/calls?from={week_from}&to={week_to}"),
            ),
            (
                "calls by call id".into(),
                format!("/api/calls?callSid={mid_sid}"),
            ),
            (
                "outcome+number, older page".into(),
                format!(
                    "/api/calls?outcome=voicemail&number={}&before={before}",
                    encode(NUMBERS[1])
                ),
            ),
            ("a call's timeline".into(), format!("/api/calls/{mid_id}")),
            (
                "a contact's history (calls, texts…)".into(),
                format!("/api/contacts/{}", encode(&caller)),
            ),
            ("overview".into(), "/api/overview".into()),
        ];
        for view in switchboard::db::monitoring::View::ALL {
            paths.push((
                format!("monitoring: {}", view.name()),
                format!("/api/monitoring/{}", view.name()),
            ));
        }
        paths.push((
            "monitoring: webhook_ledger".into(),
            format!(
                "/api/monitoring/webhook_ledger?reference={}",
                switchboard_recent_sid(n)
            ),
        ));
        println!(
            "\n{:<36} {:>10} {:>10}   (target ≤ 50 ms)",
            "query (HTTP, signed in)", "median ms", "max ms"
        );
        let mut worst = 0.0_f64;
        for (name, path) in &paths {
            time(&c, &base, path, 3).await; // warm the cache
            let (median, max) = time(&c, &base, path, 15).await;
            worst = worst.max(median);
            println!("{name:<36} {median:>10.2} {max:>10.2}");
        }
        println!("slowest median: {worst:.2} ms");

        // /twilio/voice under load, then the same load while the ledger is pruned.
        let sim = Simulator::new(Target {
            base: base.clone(),
            signed_base: base.clone(),
            twilio: Some((master.account_sid.clone(), master.auth_token.clone())),
            vapi_secret: None,
        })
        .unwrap();
        let plan = |calls| LoadPlan {
            calls,
            concurrency: 32,
            call: {
                let mut p = CallPlan::new("+16280000000", NUMBERS[0]);
                p.hangup_after = Some(1);
                p
            },
        };
        sim.load(&plan(1_000)).await.unwrap(); // warm up: the indexes' pages into the cache
        let quiet = sim.load(&plan(3_000)).await.unwrap();
        println!(
            "\n/twilio/voice + status, 32 at a time:        p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            quiet.request_latency(0.5).as_secs_f64() * 1000.0,
            quiet.request_latency(0.99).as_secs_f64() * 1000.0,
            quiet.request_latency(1.0).as_secs_f64() * 1000.0
        );
        // A month of ledger past its retention (as after the first month, or downtime),
        // pruned in one statement as before, then in batches as now.
        let expired = n * 30 / 365 * 2;
        for (how, gentle) in [("in one statement", false), ("in batches", true)] {
            age_ledger(&mut state.db.conn().unwrap(), org, expired);
            let pruning = {
                let db = state.db.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    let pruned = if gentle {
                        switchboard::db::ledger::prune(&db).await.unwrap()
                    } else {
                        db.query(|c| switchboard::db::ledger::prune_batch(c, i64::MAX))
                            .await
                            .unwrap()
                    };
                    (pruned, t.elapsed())
                })
            };
            let busy = sim.load(&plan(3_000)).await.unwrap();
            let (pruned, took) = pruning.await.unwrap();
            println!(
                "the same while pruning {pruned} expired ledger rows {how} ({:.1} s): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                took.as_secs_f64(),
                busy.request_latency(0.5).as_secs_f64() * 1000.0,
                busy.request_latency(0.99).as_secs_f64() * 1000.0,
                busy.request_latency(1.0).as_secs_f64() * 1000.0,
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
}

/// A call SID from the last day (its ledger rows are kept).
fn switchboard_recent_sid(n: i64) -> String {
    format!("CA{:032x}", n - 10)
}
