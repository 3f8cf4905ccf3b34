//! `GET /api/events` (SPEC §12): the [`crate::live::Live`] feed as server-sent events, for one
//! organization, with `Last-Event-ID` replay and a heartbeat.

use super::auth::Auth;
use super::AppState;
use crate::error::ApiError;
use crate::live::{LiveEvent, Replay, HEARTBEAT};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::VecDeque;
use tokio::sync::broadcast;

fn frame(event: &LiveEvent) -> Bytes {
    Bytes::from(format!(
        "id: {}\nevent: change\ndata: {}\n\n",
        event.id,
        serde_json::json!({ "kinds": event.kinds })
    ))
}

const RESET: &str = "event: reset\ndata: {}\n\n";

/// `GET /api/events`: this organization's changes as server-sent events.
pub async fn events(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let live = state.live.clone();
    // Subscribed before the replay is read, so nothing falls between the two.
    let rx = live.subscribe();
    let last = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut first: VecDeque<Bytes> = VecDeque::from([Bytes::from_static(b"retry: 1000\n\n")]);
    match last.map(|l| live.since(org, l)) {
        Some(Replay::Events(missed)) => first.extend(missed.iter().map(|e| frame(e))),
        Some(Replay::Reset) => first.push_back(Bytes::from_static(RESET.as_bytes())),
        None => {}
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.reset();
    let mut closing = live.closing();
    if *closing.borrow_and_update() {
        return Err(ApiError::Unavailable("the appliance is stopping".into()));
    }
    let stream = futures_util::stream::unfold(
        (rx, first, heartbeat, closing),
        move |(mut rx, mut pending, mut heartbeat, mut closing)| async move {
            loop {
                if let Some(next) = pending.pop_front() {
                    return Some((
                        Ok::<_, std::convert::Infallible>(next),
                        (rx, pending, heartbeat, closing),
                    ));
                }
                tokio::select! {
                    _ = closing.changed() => return None,
                    got = rx.recv() => match got {
                        Ok(e) if e.org_id == org => pending.push_back(frame(&e)),
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            pending.push_back(Bytes::from_static(RESET.as_bytes()));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = heartbeat.tick() => pending.push_back(Bytes::from_static(b": keepalive\n\n")),
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
