//! `GET /api/monitoring/{view}` (SPEC §8.2), for owners and admins: the monitoring views
//! of the caller's organization, each error row with what to do about it; and
//! `GET /api/monitoring/webhook_ledger?reference=` — the webhook ledger for one call or
//! message id.

use super::overview::invariant_advice;
use super::views;
use crate::db::monitoring::{self, View};
use crate::db::{ledger, orgs};
use crate::error::{codes, ApiError};
use crate::http::auth::Writer;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    reference: Option<String>,
}

/// `GET /api/monitoring/webhook_ledger?reference=`: every webhook about one call or text.
pub async fn ledger(
    state: web::Data<AppState>,
    writer: Writer,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, ApiError> {
    let org = writer.0.org_id();
    let reference = query
        .into_inner()
        .reference
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            ApiError::new(codes::REFERENCE_REQUIRED,
                "Name the call or message: ?reference=CA… (a CallSid, a MessageSid or a Vapi call id).",
            )
        })?;
    let rows = state
        .db
        .query(move |c| ledger::for_reference(c, &reference, Some(org)))
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "view": "webhook_ledger", "rows": views::all::<_, views::Webhook>(&rows) })))
}

/// `GET /api/monitoring/{view}`: one of the nine views, for the caller's organization.
pub async fn get(
    state: web::Data<AppState>,
    writer: Writer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = writer.0.org_id();
    let system_admin = writer.0.principal.is_system_admin;
    let name = path.into_inner();
    let view = View::from_name(&name).ok_or_else(|| {
        let known: Vec<&str> = View::ALL.iter().map(|v| v.name()).collect();
        ApiError::not_found(format!(
            "There is no monitoring view \"{name}\"; there are {} and webhook_ledger.",
            known.join(", ")
        ))
    })?;
    // The rows of no organization name callers, addresses and sign-in emails of every
    // organization here: only a system administrator sees them, or anyone who may see
    // this view when the appliance holds one organization.
    let (mut rows, appliance_wide) = state
        .db
        .query(move |c| {
            let appliance_wide = system_admin || orgs::count(c)? == 1;
            Ok((
                monitoring::rows(c, view, org, appliance_wide)?,
                appliance_wide,
            ))
        })
        .await?;
    for row in &mut rows {
        if let Some(fix) = advice(view, row) {
            row.insert("fix".into(), Value::from(fix));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "view": view.name(),
        "rows": rows,
        "applianceWide": appliance_wide,
    })))
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// What to do about an error row.
fn advice(view: View, row: &Map<String, Value>) -> Option<String> {
    match view {
        View::RecentErrors => Some(error_advice(row)),
        View::FailedTransactions => Some(
            match text(row, "state") {
                "compensated" => "It was undone, so nothing was left behind at Twilio or Vapi. Fix what the failed step says and try again.",
                "failed" => "Undoing it failed too: the failed step may have left a number or subaccount at Twilio or Vapi. Check the Numbers page and the provider's console, and remove what should not be there.",
                _ => "It has run for over 10 minutes: the appliance finishes or undoes it at its next start (restart it if this stays).",
            }
            .to_string(),
        ),
        _ => None,
    }
}

fn error_advice(row: &Map<String, Value>) -> String {
    let code = row.get("code").and_then(Value::as_i64);
    match text(row, "source") {
        "invariant" => invariant_advice(text(row, "what")).0,
        "provider" => code
            .and_then(crate::providers::twilio_error_hint)
            .map(str::to_string)
            .unwrap_or_else(|| "Twilio did not deliver the text; the detail has its reason.".into()),
        _ => match code {
            Some(401 | 403) => "The signature did not match. From Twilio or Vapi, that means PUBLIC_URL, a proxy or a secret is wrong: run Settings → Checks. From anyone else it was refused as it should be; nothing to do.".into(),
            Some(429) => "Rate limited: one caller or address sent more than the limit allows (see rate limit violations). Raise the limit in the settings file if this is real traffic.".into(),
            Some(400..=499) => "The request was refused as malformed; the detail says what was wrong. If it came from Twilio or Vapi, report it with this row.".into(),
            _ => "The appliance could not handle it and the provider will retry. If it repeats, the detail and the log say why (often the disk or the database: run Settings → Checks).".into(),
        },
    }
}
