//! Feature flags for the caller's org (SPEC §5.1): list with the effective value, org
//! overrides (owners and admins), global switch and rollout (system admins). Every change
//! is audited and applies to the next request.

use super::views;
use crate::db::{audit, flags};
use crate::domain::flags::{evaluate, FlagState};
use crate::domain::FlagKey;
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

fn with_effective(org_id: i64, rows: &[flags::FlagRow]) -> Vec<views::Flag<'_>> {
    rows.iter()
        .map(|f| {
            let effective = FlagKey::parse(&f.key)
                .map(|k| {
                    let state = FlagState {
                        enabled_globally: f.enabled_globally,
                        rollout_percentage: f.rollout_percentage,
                    };
                    evaluate(org_id, k, state, f.org_override)
                })
                .unwrap_or(false);
            views::Flag::new(f, effective)
        })
        .collect()
}

pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let rows = state.db.query(move |c| flags::list(c, org)).await?;
    Ok(HttpResponse::Ok().json(json!({ "flags": with_effective(org, &rows) })))
}

fn known(key: &str) -> Result<FlagKey, ApiError> {
    FlagKey::parse(key).map_err(|_| ApiError::not_found(format!("feature flag '{key}'")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    enabled: bool,
}

/// `PUT /api/feature-flags/{key}/override {"enabled"}`: on or off for this org only.
pub async fn set_override(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<String>,
    body: web::Json<OverrideBody>,
) -> Result<HttpResponse, ApiError> {
    let key = known(&path.into_inner())?;
    let enabled = body.enabled;
    let org = auth.org_id();
    let rows = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            flags::set_override(&tx, org, key.as_str(), enabled, auth.principal.user_id)?;
            audit::record(
                &tx,
                auth.audit(
                    "feature_flag.override",
                    format!("flag:{key}"),
                    json!({ "enabled": enabled }),
                ),
            )?;
            tx.commit()?;
            Ok(flags::list(c, org)?)
        })
        .await?;
    state.desk.flags.invalidate();
    Ok(HttpResponse::Ok().json(json!({ "flags": with_effective(org, &rows) })))
}

/// `DELETE /api/feature-flags/{key}/override`: back to the global value and rollout.
pub async fn clear_override(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = known(&path.into_inner())?;
    let org = auth.org_id();
    let rows = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            if flags::clear_override(&tx, org, key.as_str())? {
                audit::record(
                    &tx,
                    auth.audit(
                        "feature_flag.clear_override",
                        format!("flag:{key}"),
                        json!({}),
                    ),
                )?;
            }
            tx.commit()?;
            Ok(flags::list(c, org)?)
        })
        .await?;
    state.desk.flags.invalidate();
    Ok(HttpResponse::Ok().json(json!({ "flags": with_effective(org, &rows) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GlobalBody {
    enabled_globally: Option<bool>,
    rollout_percentage: Option<u8>,
}

/// `PATCH /api/feature-flags/{key}`: the global switch and rollout, for every org on the
/// appliance, so only a system admin may change it.
pub async fn set_global(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<String>,
    body: web::Json<GlobalBody>,
) -> Result<HttpResponse, ApiError> {
    let key = known(&path.into_inner())?;
    if !auth.principal.is_system_admin {
        return Err(ApiError::hinted(codes::SYSTEM_ADMIN_REQUIRED,
            "The global value of a feature applies to every organization on this appliance.",
            "Turn the feature on or off for your organization with PUT /api/feature-flags/{key}/override instead.",
        ));
    }
    let GlobalBody {
        enabled_globally,
        rollout_percentage,
    } = body.into_inner();
    if rollout_percentage.is_some_and(|p| p > 100) {
        return Err(ApiError::new(
            codes::INVALID_FIELD,
            "rolloutPercentage must be 0 to 100",
        ));
    }
    let org = auth.org_id();
    let rows = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            flags::set_global(&tx, key.as_str(), enabled_globally, rollout_percentage)?;
            let detail = json!({ "enabledGlobally": enabled_globally, "rolloutPercentage": rollout_percentage });
            audit::record(&tx, auth.audit("feature_flag.global", format!("flag:{key}"), detail))?;
            tx.commit()?;
            Ok(flags::list(c, org)?)
        })
        .await?;
    state.desk.flags.invalidate();
    Ok(HttpResponse::Ok().json(json!({ "flags": with_effective(org, &rows) })))
}
