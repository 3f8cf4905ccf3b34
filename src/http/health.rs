//! Liveness, readiness and diagnostics (SPEC §8.1): `/healthz`, `/readyz`, `/api/health`.

use super::auth::{Auth, Writer};
use super::AppState;
use crate::db::outbox::{self, Channel};
use crate::db::{ledger, migrations, settings};
use crate::doctor::{all_pass, Doctor};
use crate::error::ApiError;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(prometheus));
}

pub fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(diagnostics))
        .route("/doctor", web::get().to(doctor))
        .route("/metrics", web::get().to(metrics_json));
}

/// `GET /api/doctor` (owners and admins): `switchboard doctor`'s checks from inside the
/// appliance, against its own providers (the sandbox in a demo), for the caller's numbers.
async fn doctor(state: web::Data<AppState>, writer: Writer) -> Result<HttpResponse, ApiError> {
    let doctor = Doctor {
        config: (*state.config).clone(),
        db: state.db.clone(),
        telephony: Some(state.telephony.clone()),
        master: state.accounts.master().cloned(),
        public_url: Some(state.public_url.clone()),
        org: Some(writer.0.org_id()),
        tls: state.tls.clone(),
    };
    let checks = doctor.examine().await;
    Ok(HttpResponse::Ok().json(json!({ "ok": all_pass(&checks), "checks": checks })))
}

/// Values computed at scrape time: rate-limit rejections, pool use, ledger drops, uptime.
fn gauges(state: &AppState) -> Vec<(String, &'static str, f64)> {
    let (connections, idle) = state.db.pool_state();
    let mut out: Vec<(String, &'static str, f64)> = state
        .rate_limits
        .all()
        .iter()
        .map(|l| {
            (
                format!(
                    "switchboard_rate_limit_rejections_total{{limiter=\"{}\"}}",
                    l.name
                ),
                "Requests rejected by a rate limiter.",
                l.rejected() as f64,
            )
        })
        .collect();
    out.push((
        "switchboard_db_pool_connections".into(),
        "Open database connections.",
        f64::from(connections),
    ));
    out.push((
        "switchboard_db_pool_busy".into(),
        "Database connections in use.",
        f64::from(connections - idle),
    ));
    out.push((
        "switchboard_ledger_dropped_total".into(),
        "Webhook ledger rows dropped because the writer queue was full.",
        state.ledger.dropped() as f64,
    ));
    out.push((
        "switchboard_uptime_seconds".into(),
        "Seconds since start.",
        state.started_at.elapsed().as_secs_f64(),
    ));
    out
}

/// `GET /metrics`: Prometheus text format. Counts only, no secrets or phone numbers;
/// restrict it at the proxy if the appliance is reachable from the internet.
async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    let gauges = gauges(&state);
    let refs: Vec<(&str, &str, f64)> = gauges
        .iter()
        .map(|(n, h, v)| (n.as_str(), *h, *v))
        .collect();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.desk.metrics.render_prometheus(&refs))
}

/// `GET /api/metrics`: the same counters as JSON.
async fn metrics_json(state: web::Data<AppState>, _auth: Auth) -> HttpResponse {
    let mut counters = state.desk.metrics.counters_json();
    for (name, _, value) in gauges(&state) {
        counters.insert(name, json!(value));
    }
    HttpResponse::Ok().json(json!({ "counters": counters }))
}

/// Liveness: the process answers HTTP.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// The last readiness probe and when it ran: one, shared by the server's workers (see
/// `startup`), reused for a few seconds (`/readyz` is unauthenticated).
#[derive(Default)]
pub struct Readiness(tokio::sync::Mutex<Option<(std::time::Instant, Result<u32, String>)>>);

/// How long a probe's answer is reused: `/readyz` needs no credentials, so however often
/// it is called, the database sees at most one probe write per this interval.
const READY_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Readiness: the database takes a write and the schema is current. One probe at a time;
/// callers within [`READY_TTL`] of it get its answer.
async fn readyz(state: web::Data<AppState>, readiness: web::Data<Readiness>) -> HttpResponse {
    let mut last = readiness.0.lock().await;
    let result = match &*last {
        Some((at, result)) if at.elapsed() < READY_TTL => result.clone(),
        _ => {
            let result = state
                .db
                .run(|c| -> Result<u32, crate::db::DbError> {
                    settings::set(c, "readyz_probe", &crate::db::now())?;
                    Ok(migrations::current_version(c)?)
                })
                .await
                .map_err(|e| e.to_string());
            *last = Some((std::time::Instant::now(), result.clone()));
            result
        }
    };
    drop(last);
    let latest = migrations::latest_version();
    match result {
        Ok(v) if v == latest => HttpResponse::Ok().json(json!({ "status": "ready", "schemaVersion": v })),
        Ok(v) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "not_ready",
            "problems": [format!("schema version {v} is not the binary's {latest}: run `switchboard migrate`")],
        })),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "not_ready",
                "problems": [format!("the database is not writable: {e}")],
            }))
        }
    }
}

/// What is missing for the providers to work (beside [`crate::config::Config::warnings`]).
pub fn provider_warnings(state: &AppState) -> Vec<String> {
    let mut out = Vec::new();
    if state.telephony.accounts.master().is_none() {
        out.push("No Twilio account is configured: numbers cannot be imported or bought, and texts cannot be sent. Set SWITCHBOARD_TWILIO_ACCOUNT_SID and SWITCHBOARD_TWILIO_AUTH_TOKEN.".into());
    }
    out
}

/// Diagnostics for the dashboard: version, uptime, DB size, last webhook per provider and
/// configuration warnings.
async fn diagnostics(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let (last_twilio, last_vapi, schema, org_warnings, (email, sms, push, kept)) = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            Ok((
                ledger::last_received(c, "twilio")?,
                ledger::last_received(c, "vapi")?,
                migrations::current_version(c)?,
                crate::doctor::warnings::with_warnings(c, org)?
                    .map(|(_, w)| w)
                    .unwrap_or_default(),
                (
                    outbox::summary(c, org, Channel::Email)?,
                    outbox::summary(c, org, Channel::Sms)?,
                    outbox::summary(c, org, Channel::Push)?,
                    crate::db::recordings::summary(c, org)?,
                ),
            ))
        })
        .await?;
    let db_path = state.db.path();
    let (connections, idle) = state.db.pool_state();
    let mut warnings = state.config.warnings();
    warnings.extend(org_warnings);
    warnings.extend(provider_warnings(&state));
    for (summary, what, who, fix) in [
        (&email, "Email notices", "The mail server", "Check SWITCHBOARD_SMTP_URL and SWITCHBOARD_SMTP_FROM."),
        (&sms, "Text notices", "Twilio", "Check the mobile numbers in Settings → Notifications and the business number's messaging."),
        (&push, "Push notices", "The push service", "Turn notifications off and on again on that device."),
    ] {
        if let Some(error) = summary
            .last_error
            .as_deref()
            .filter(|_| summary.retrying + summary.failed > 0)
        {
            warnings.push(format!(
                "{what} are not getting through: {} waiting to be tried again, {} given up. {who} said: {error}. {fix}",
                summary.retrying, summary.failed
            ));
        }
    }
    if let Some(error) = kept.last_error.as_deref().filter(|_| kept.failing > 0) {
        warnings.push(format!(
            "Recordings are not all kept here yet: {} failing (the download or the delete at Twilio is retried). The last error: {error}",
            kept.failing
        ));
    }
    if let Some(tls) = &state.tls {
        if let Some(e) = tls.renewal().last_error {
            let what = if tls.info().is_some() {
                "renewed"
            } else {
                "obtained"
            };
            warnings.push(format!("The HTTPS certificate could not be {what}: {e}. It is tried again with backoff; `switchboard doctor` says what to check."));
        }
    }
    if state.providers.sandbox {
        warnings.insert(
            0,
            "SANDBOX: demo mode with built-in sandbox providers; no real calls or texts happen."
                .into(),
        );
    }
    Ok(HttpResponse::Ok().json(json!({
        "version": crate::VERSION,
        "uptimeSeconds": state.started_at.elapsed().as_secs(),
        "sandbox": state.providers.sandbox,
        "publicUrl": state.public_url,
        "database": {
            "path": db_path.display().to_string(),
            "sizeBytes": crate::db::size_on_disk(db_path),
            "schemaVersion": schema,
            "pool": { "connections": connections, "idle": idle },
        },
        "lastWebhook": { "twilio": last_twilio, "vapi": last_vapi },
        "email": state.config.smtp.as_ref().map(|_| email),
        "notifications": { "sms": sms, "push": push },
        "recordings": kept,
        "https": state.tls.as_ref().map(|t| json!({
            "certificate": t.info(),
            "renewal": t.renewal(),
            "httpsListen": t.https_listen.to_string(),
            "httpListen": t.http_listen.to_string(),
        })),
        "warnings": warnings,
    })))
}
