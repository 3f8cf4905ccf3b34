//! Liveness, readiness and diagnostics (SPEC §8.1): `/healthz`, `/readyz`, `/api/health`.

use super::auth::Auth;
use super::AppState;
use crate::db::{migrations, settings};
use crate::error::ApiError;
use actix_web::{web, HttpResponse};
use rusqlite::OptionalExtension;
use serde_json::json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

pub fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(diagnostics));
}

/// Liveness: the process answers HTTP.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// Readiness: the database takes a write and the schema is current.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let result = state
        .db
        .run(|c| -> Result<u32, crate::db::DbError> {
            settings::set(c, "readyz_probe", &crate::db::now())?;
            Ok(migrations::current_version(c)?)
        })
        .await;
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

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Diagnostics for the dashboard: version, uptime, DB size, last webhook per provider and
/// configuration warnings.
async fn diagnostics(state: web::Data<AppState>, _auth: Auth) -> Result<HttpResponse, ApiError> {
    let (last_twilio, last_vapi, schema) = state
        .db
        .run(|c| -> Result<_, ApiError> {
            let last = |provider: &str| -> rusqlite::Result<Option<String>> {
                c.query_row(
                    "SELECT MAX(received_at) FROM webhook_ledger WHERE provider = ?1",
                    [provider],
                    |r| r.get(0),
                )
                .optional()
                .map(Option::flatten)
            };
            Ok((
                last("twilio")?,
                last("vapi")?,
                migrations::current_version(c)?,
            ))
        })
        .await?;
    let db_path = state.db.path();
    let wal = db_path.with_extension("db-wal");
    let (connections, idle) = state.db.pool_state();
    let mut warnings = state.config.warnings();
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
            "sizeBytes": file_size(db_path) + file_size(&wal),
            "schemaVersion": schema,
            "pool": { "connections": connections, "idle": idle },
        },
        "lastWebhook": { "twilio": last_twilio, "vapi": last_vapi },
        "warnings": warnings,
    })))
}
