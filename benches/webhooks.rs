//! Webhook throughput and latency (SPEC §10): `/twilio/voice` on the real appliance
//! (signature check, role lookup, blocklist, rate limit, call row insert, TwiML) against
//! the durable floor (`floor/`: signature check + one row committed through a group-commit
//! writer, checkpoints off the request path) and a bare actix-web handler returning fixed
//! TwiML, same machine, same run, same load generator.
//!
//! Run with `cargo bench --bench webhooks` (optionally `-- SECONDS CONNECTIONS`, default
//! 10 s and 64 connections). Every request is a new random CallSid from a random caller, as
//! real calls are, so each one inserts a call.
//! `benches/wrk.sh` runs the same comparison with wrk as the load generator instead.

mod common;
mod floor;

use actix_web::{web, App, HttpResponse, HttpServer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::simulator::{sign_form, CallPlan, LoadPlan, ScreenAnswer, Simulator, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FIXED_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" timeout="5" actionOnEmptyResult="true" action="/twilio/voice/menu?attempt=1"><Say>Thanks for calling.</Say></Gather></Response>"#;

struct Result {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Result {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns the status code.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Drives `connections` keep-alive connections for `duration`, each sending the next
/// pre-built request.
async fn load(
    port: u16,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
) -> Result {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (requests, next) = (requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            stream.set_nodelay(true).ok();
            let mut buf = Vec::with_capacity(16 * 1024);
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = requests.get(i) else { break };
                let t = Instant::now();
                stream.write_all(req).await.expect("write");
                match read_response(&mut stream, &mut buf).await {
                    Ok(200) => lat.push(t.elapsed().as_micros() as u32),
                    Ok(status) => {
                        if errors == 0 {
                            eprintln!("first error: HTTP {status}");
                        }
                        errors += 1
                    }
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("first error: {e}");
                        }
                        errors += 1;
                        stream = TcpStream::connect(("127.0.0.1", port))
                            .await
                            .expect("reconnect");
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("load task");
        latencies_us.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    Result {
        requests: latencies_us.len(),
        errors,
        elapsed,
        latencies_us,
    }
}

/// A new call as Twilio sends it: a random CallSid (32 random hex digits, so every
/// insert lands on a random page of the CallSid index, as in production) from a random
/// caller.
fn fresh_call() -> (String, String) {
    (
        switchboard::simulator::new_sid("CA"),
        format!("+1415{:07}", rand::random::<u32>() % 10_000_000),
    )
}

fn build_requests(n: usize, port: u16, sid: &str, token: &str) -> Vec<Vec<u8>> {
    let base = format!("http://127.0.0.1:{port}");
    (0..n)
        .map(|_| {
            let (call, from) = fresh_call();
            let form = sign_form(
                &base,
                (sid, token),
                "/twilio/voice",
                &[
                    ("CallSid", &call),
                    ("From", &from),
                    ("To", "+15550100001"),
                    ("Direction", "inbound"),
                    ("CallStatus", "ringing"),
                ],
            );
            format!(
                "POST /twilio/voice HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 X-Twilio-Signature: {}\r\nContent-Length: {}\r\n\r\n{}",
                form.signature,
                form.body.len(),
                form.body
            )
            .into_bytes()
        })
        .collect()
}

/// `assistant-request` messages for the demo's AI number, each a new call.
fn build_vapi_requests(n: usize, port: u16, secret: &str, number_id: &str) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let body = serde_json::json!({ "message": {
                "type": "assistant-request",
                "call": { "id": format!("bench-call-{i}"), "type": "inboundPhoneCall", "phoneNumberId": number_id },
                "phoneNumber": { "id": number_id, "number": "+15550100004" },
                "customer": { "number": format!("+1415{:07}", i % 10_000_000) }
            }})
            .to_string();
            format!(
                "POST /vapi/webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
                 X-Vapi-Secret: {secret}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
        .collect()
}

fn print(name: &str, r: &Result) {
    println!(
        "{name:<28} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
        r.rps(),
        r.pct(0.50),
        r.pct(0.99),
        r.errors
    );
}

/// For `benches/wrk.sh`: writes `<dir>/ports` (the targets' ports in order) and one request
/// file per target (lines of `signature<TAB>form body`), then serves them for `seconds`.
async fn serve_for_wrk(
    dir: &str,
    targets: &[(&str, u16)],
    sid: &str,
    token: &str,
    lines: usize,
    seconds: u64,
) {
    use std::io::Write;
    let ports: Vec<String> = targets.iter().map(|(_, p)| p.to_string()).collect();
    std::fs::write(format!("{dir}/ports"), format!("{}\n", ports.join(" "))).unwrap();
    for &(name, port) in targets {
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(format!("{dir}/{name}.txt")).unwrap());
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..lines {
            let (call, from) = fresh_call();
            let form = sign_form(
                &base,
                (sid, token),
                "/twilio/voice",
                &[("CallSid", &call), ("From", &from), ("To", "+15550100001")],
            );
            writeln!(out, "{}\t{}", form.signature, form.body).unwrap();
        }
    }
    std::fs::write(format!("{dir}/ready"), "").unwrap();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

/// Samples the size of the database's WAL file every 100 ms: (peak, latest) in bytes,
/// also written as `peak latest` to `report` when given (for `benches/wrk.sh`).
fn watch_wal(db: std::path::PathBuf, report: Option<String>) -> Arc<std::sync::Mutex<(u64, u64)>> {
    let seen = Arc::new(std::sync::Mutex::new((0, 0)));
    let out = seen.clone();
    let wal = switchboard::db::wal_path(&db);
    std::thread::spawn(move || loop {
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        {
            let mut s = seen.lock().unwrap();
            s.0 = s.0.max(size);
            s.1 = size;
            if let Some(path) = &report {
                let _ = std::fs::write(path, format!("{} {}\n", s.0, s.1));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    });
    out
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let connections: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    common::run(async move {
        let dir = tempfile::tempdir().unwrap();
        let app = common::demo_app(dir.path()).await;
        let app_port = app.port();
        let master = app.state().accounts.master().cloned().unwrap();
        let vapi_secret = app.state().vapi_webhook_secret.clone().unwrap();
        let vapi_number: String = app
            .state()
            .db
            .conn()
            .unwrap()
            .query_row(
                "SELECT vapi_phone_number_id FROM phone_numbers WHERE e164 = '+15550100004'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let report = std::env::var("WEBHOOKS_BENCH_SERVE")
            .ok()
            .map(|d| format!("{d}/wal"));
        let wal = watch_wal(app.state().db.path().to_path_buf(), report);
        tokio::task::spawn_local(app.run_until_stopped());

        let bare = HttpServer::new(|| {
            App::new().route(
                "/twilio/voice",
                // Reads the form body like the real handler (actix closes a keep-alive
                // connection whose body was left unread).
                web::post().to(|_body: web::Bytes| async {
                    HttpResponse::Ok()
                        .content_type("text/xml; charset=utf-8")
                        .body(FIXED_TWIML)
                }),
            )
        })
        .bind(("127.0.0.1", 0))
        .unwrap();
        let bare_port = bare.addrs()[0].port();
        tokio::task::spawn_local(bare.run());
        let floor_dir = tempfile::tempdir().unwrap();
        let floor_port = floor::start(floor_dir.path(), &master.auth_token);

        if let Ok(dir) = std::env::var("WEBHOOKS_BENCH_SERVE") {
            let lines: usize = std::env::var("WEBHOOKS_BENCH_LINES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(300_000);
            let mut targets = vec![
                ("app", app_port),
                ("bare", bare_port),
                ("floor", floor_port),
            ];
            // `benches/wrk.sh` starts the Node peer on this port once the requests are signed.
            if let Some(port) = std::env::var("WEBHOOKS_BENCH_NODE_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
            {
                targets.push(("node", port));
            }
            std::fs::write(format!("{dir}/token"), &master.auth_token).unwrap();
            serve_for_wrk(
                &dir,
                &targets,
                &master.account_sid,
                &master.auth_token,
                lines,
                seconds,
            )
            .await;
            return;
        }
        let duration = Duration::from_secs(seconds);
        let budget = 60_000 * seconds as usize;
        println!("switchboard webhook benchmark: {seconds} s per target, {connections} connections, {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
        let warm = Arc::new(build_requests(
            2_000,
            bare_port,
            &master.account_sid,
            &master.auth_token,
        ));
        load(bare_port, warm, connections, Duration::from_millis(500)).await;
        let bare_reqs = Arc::new(build_requests(
            budget,
            bare_port,
            &master.account_sid,
            &master.auth_token,
        ));
        let bare_result = load(bare_port, bare_reqs, connections, duration).await;
        print("bare actix handler", &bare_result);
        let floor_reqs = Arc::new(build_requests(
            budget,
            floor_port,
            &master.account_sid,
            &master.auth_token,
        ));
        let floor_result = load(floor_port, floor_reqs, connections, duration).await;
        print("durable floor", &floor_result);
        let app_reqs = Arc::new(build_requests(
            budget,
            app_port,
            &master.account_sid,
            &master.auth_token,
        ));
        let app_result = load(app_port, app_reqs, connections, duration).await;
        print("switchboard /twilio/voice", &app_result);
        println!(
            "ratio (switchboard / floor):  {:.1} %   (SPEC §10 target ≥ 90 %, p99 ≤ 10 ms at 64 connections)",
            100.0 * app_result.rps() / floor_result.rps()
        );
        println!(
            "ratio (floor / bare):         {:.1} %   (what durability costs any handler)",
            100.0 * floor_result.rps() / bare_result.rps()
        );
        let vapi_reqs = Arc::new(build_vapi_requests(
            budget,
            app_port,
            &vapi_secret,
            &vapi_number,
        ));
        let vapi_result = load(app_port, vapi_reqs, connections, duration).await;
        print("vapi assistant-request", &vapi_result);
        // Whole calls (menu → screened transfer whose carrier voicemail picks up and never
        // presses 1 → the whisper and its silent answer → this appliance's voicemail →
        // recording, status and transcript callbacks), each following the TwiML it gets, as
        // `simulate load --screen silent` does.
        let sim = Simulator::new(Target {
            base: format!("http://127.0.0.1:{app_port}"),
            signed_base: format!("http://127.0.0.1:{app_port}"),
            twilio: Some((master.account_sid.clone(), master.auth_token.clone())),
            vapi_secret: None,
        })
        .unwrap();
        let mut call = CallPlan::new("+16280000000", "+15550100001");
        call.digits = vec!["1".into()];
        call.screen = vec![ScreenAnswer::Silent];
        call.voicemail = Some("Please call me back about the boiler.".into());
        let flows = sim
            .load(&LoadPlan {
                calls: 1_000 * seconds as usize,
                concurrency: connections,
                call,
            })
            .await
            .unwrap();
        println!(
            "full call flows ({:.0} webhooks) {:>9.0} flows/s   webhook p99 {:.2} ms   failed {}   (SPEC §10 target ≥ 1,000 flows/s)",
            flows.requests as f64 / flows.calls as f64,
            flows.calls_per_sec(),
            flows.request_latency(0.99).as_secs_f64() * 1000.0,
            flows.failed_calls
        );
        println!(
            "process RSS after load:       {:.1} MiB (both servers and the load generator)",
            common::rss_kib() as f64 / 1024.0
        );
        let peak = wal.lock().unwrap().0;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = wal.lock().unwrap().1;
        println!(
            "WAL file: peak {:.1} MiB under load, {:.1} MiB after 3 s idle (bound: 64 MiB)",
            mib(peak),
            mib(idle)
        );
    });
}
