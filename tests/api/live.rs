//! The live dashboard's event stream (SPEC §12): `GET /api/events` as server-sent events,
//! fed from the database writer's commits, scoped to the caller's organization, resumable
//! with `Last-Event-ID`.

use crate::helpers::{client, spawn_app, CALLER, MAIN_LINE};
use std::time::{Duration, Instant};
use switchboard::domain::UserRole;

/// Reads the stream until a frame containing `needle` arrives (or `within` passes).
async fn frame_with(
    stream: &mut reqwest::Response,
    needle: &str,
    within: Duration,
) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut buffer = String::new();
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if frame.contains(needle) {
                        return Some(frame);
                    }
                }
            }
            _ => return None,
        }
    }
    None
}

#[tokio::test]
async fn a_call_reaches_the_open_stream_of_its_own_org_within_a_second_and_can_be_replayed() {
    let app = spawn_app().await;
    let (owner, _) = app.owner().await;
    let resp = owner.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut mine = resp;
    assert!(frame_with(&mut mine, "retry: 1000", Duration::from_secs(2))
        .await
        .is_some());
    // Another business's user, connected too, hears nothing of it.
    let (other, _) = app
        .user_client("Other Co", "someone@other.example", UserRole::Owner)
        .await;
    let mut theirs = other.get(app.url("/api/events")).send().await.unwrap();
    frame_with(&mut theirs, "retry", Duration::from_secs(2)).await;

    let started = Instant::now();
    app.twilio().call("CALIVE1", CALLER, MAIN_LINE).await;
    let frame = frame_with(&mut mine, "event: change", Duration::from_secs(1))
        .await
        .expect("the call reached the stream within a second");
    let elapsed = started.elapsed();
    assert!(frame.contains("\"calls\""), "{frame}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    let id: u64 = frame
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        frame_with(&mut theirs, "event: change", Duration::from_millis(800))
            .await
            .is_none(),
        "another org's stream stays quiet"
    );

    // A client that reconnects with the last id it saw gets what it missed, and no more.
    app.twilio()
        .sms("SMLIVE2", CALLER, MAIN_LINE, "Are you open today?")
        .await;
    let mut resumed = owner
        .get(app.url("/api/events"))
        .header("Last-Event-ID", id.to_string())
        .send()
        .await
        .unwrap();
    let missed = frame_with(&mut resumed, "\"messages\"", Duration::from_secs(2))
        .await
        .expect("the text sent while away is replayed");
    assert!(!missed.contains(&format!("id: {id}\n")), "{missed}");
    // An id from before a restart (or too old) says: reload everything.
    let mut stale = owner
        .get(app.url("/api/events"))
        .header("Last-Event-ID", "1")
        .send()
        .await
        .unwrap();
    assert!(
        frame_with(&mut stale, "event: reset", Duration::from_secs(2))
            .await
            .is_some()
    );

    // Without a session or token: 401, as for every API route.
    let anonymous = client().get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(app.state.live.clients() >= 2);
}

/// In Chromium against the binary: with the Calls page open, a call appears within a
/// second with no reload; the appliance restarts (SIGTERM, then `serve` again on the same
/// port) and the page's EventSource reconnects by itself: the next call appears too.
#[tokio::test]
async fn the_calls_page_follows_live_and_reconnects_after_a_restart() {
    use crate::browser::{click, start_browser, type_into, wait_for, wait_text_with};
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let port = crate::helpers::free_port();
    let listen = format!("127.0.0.1:{port}");
    let (mut server, out) = crate::process::start_demo_on(&data, &[], &listen);
    let password = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let url = format!("http://{listen}");
    let simulate_call = |from: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .env_clear()
            .args([
                "--data-dir",
                &data,
                "simulate",
                "call",
                "--to",
                MAIN_LINE,
                "--from",
                from,
                "--url",
                &url,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let Some((_driver, c)) = start_browser().await else {
        let _ = server.kill();
        return;
    };
    c.goto(&format!("{url}/")).await.unwrap();
    wait_for(&c, "#login-email").await;
    type_into(&c, "#login-email", "owner@demo-plumbing.example").await;
    type_into(&c, "#login-password", &password).await;
    click(&c, "#login-submit").await;
    wait_for(&c, "#org-name").await;
    c.goto(&format!("{url}/#calls")).await.unwrap();
    wait_for(&c, "#page-calls:not([hidden])").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let rang = Instant::now();
    simulate_call("+14155550181");
    wait_text_with(&c, "#calls-table", "(415) 555-0181").await;
    assert!(
        rang.elapsed() < Duration::from_secs(2),
        "took {:?} (the simulator's own call included)",
        rang.elapsed()
    );

    // Restart: SIGTERM ends the open streams at once, so the stop is quick.
    let stopping = Instant::now();
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "the stop waited {:?}",
        stopping.elapsed()
    );
    let (mut server, out) = crate::process::start_demo_on(&data, &[], &listen);
    assert!(out.contains("ready in"), "{out}");
    // The page was not reloaded; its EventSource comes back by itself (retry: 1 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    simulate_call("+14155550182");
    let table = wait_text_with(&c, "#calls-table", "(415) 555-0182").await;
    assert!(table.contains("(415) 555-0181"), "{table}");
    c.close().await.unwrap();
    let _ = server.kill();
    let _ = server.wait();
}
