//! The business's own settings (SPEC §7 Settings): the owner's notification number, the AI
//! line's human fallback, the time zone, and the warnings that say what is still missing.

use super::views;
use crate::db::{audit, orgs};
use crate::doctor::warnings::with_warnings;
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub async fn get(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let (settings, warnings) = state
        .db
        .query(move |c| with_warnings(c, org))
        .await?
        .ok_or_else(|| ApiError::not_found("your organization"))?;
    let shown = views::Shown {
        country: settings.country.clone(),
        ..Default::default()
    };
    Ok(views::displayed(
        json!({ "org": views::OrgSettings::from(&settings), "warnings": warnings }),
        &shown,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrgBody {
    name: Option<String>,
    timezone: Option<String>,
    #[serde(default, deserialize_with = "super::numbers::nullable")]
    notification_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::numbers::nullable")]
    fallback_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::numbers::nullable")]
    fallback_message: Option<Option<String>>,
    /// Two-letter code of the country typed numbers are read in.
    country: Option<String>,
    /// Delete each recording at Twilio once it is kept here.
    delete_recordings_at_twilio: Option<bool>,
    /// Delete recordings and transcripts after this many days; null keeps them.
    #[serde(default, deserialize_with = "super::numbers::nullable")]
    recording_retention_days: Option<Option<i64>>,
}

/// A settings number: absent keeps `current`, null or empty clears it.
fn number(
    field: &str,
    v: Option<Option<String>>,
    current: Option<String>,
    country: &str,
) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(current),
        Some(Some(s)) if !s.trim().is_empty() => {
            Ok(Some(super::typed_number(field, &s, country)?.to_string()))
        }
        Some(_) => Ok(None),
    }
}

/// The fields checked before anything is written; the country as a code, if sent.
fn check(b: &OrgBody) -> Result<Option<String>, ApiError> {
    if let Some(tz) = &b.timezone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            return Err(ApiError::hinted(
                codes::INVALID_FIELD,
                format!("timezone: '{tz}' is not a time zone name"),
                "Use an IANA name such as America/New_York or Europe/London.",
            ));
        }
    }
    if b.name
        .as_ref()
        .is_some_and(|n| n.trim().is_empty() || n.chars().count() > 100)
    {
        return Err(ApiError::new(
            codes::INVALID_FIELD,
            "name: 1 to 100 characters",
        ));
    }
    if b.fallback_message
        .as_ref()
        .and_then(|m| m.as_ref())
        .is_some_and(|m| m.chars().count() > 500)
    {
        return Err(ApiError::new(
            codes::INVALID_FIELD,
            "fallbackMessage: at most 500 characters",
        ));
    }
    if let Some(Some(days)) = b.recording_retention_days {
        if !(1..=3650).contains(&days) {
            return Err(ApiError::new(codes::INVALID_FIELD,
                format!("recordingRetentionDays: {days} is not between 1 and 3650 days (null keeps recordings)"),
            ));
        }
    }
    Ok(match &b.country {
        Some(c) => Some(crate::domain::typed::country(c).ok_or_else(|| {
            ApiError::hinted(
                codes::INVALID_FIELD,
                format!("country: '{c}' is not a country code"),
                "Use the two-letter code of your country, like US, CA or GB.",
            )
        })?),
        None => None,
    })
}

pub async fn patch(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<OrgBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let country = check(&b)?;
    let org = auth.org_id();
    let (settings, warnings) = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let mut s = orgs::settings(&tx, org)?.ok_or_else(|| ApiError::not_found("your organization"))?;
            if let Some(c) = &country {
                s.country = c.clone();
            }
            s.notification_number = number("notificationNumber", b.notification_number.clone(), s.notification_number.take(), &s.country)?;
            s.fallback_number = number("fallbackNumber", b.fallback_number.clone(), s.fallback_number.take(), &s.country)?;
            if let Some(m) = b.fallback_message.clone() {
                s.fallback_message = m.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
            }
            if let Some(tz) = &b.timezone {
                s.timezone = tz.clone();
            }
            if let Some(on) = b.delete_recordings_at_twilio {
                s.delete_recordings_at_twilio = on;
            }
            if let Some(days) = b.recording_retention_days {
                s.recording_retention_days = days;
            }
            if let Some(name) = &b.name {
                s.name = name.trim().to_string();
            }
            orgs::update_settings(&tx, &s).map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    ApiError::hinted(codes::ORG_EXISTS, "Another organization on this appliance has that name.", "Pick another name.")
                } else {
                    e.into()
                }
            })?;
            audit::record(&tx, auth.audit("org.update", format!("org:{org}"), json!({
                "timezone": s.timezone, "country": s.country, "notificationNumber": s.notification_number.as_deref().map(crate::domain::phone::redact),
                "fallbackNumber": s.fallback_number.as_deref().map(crate::domain::phone::redact),
            })))?;
            tx.commit()?;
            Ok(with_warnings(c, org)?)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("your organization"))?;
    // Call flows read the org's time zone through the cache.
    state.desk.flows.invalidate();
    let shown = views::Shown {
        country: settings.country.clone(),
        ..Default::default()
    };
    Ok(views::displayed(
        json!({ "org": views::OrgSettings::from(&settings), "warnings": warnings }),
        &shown,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// `hour`, `day` (to midnight) or `reopen` (until someone reopens).
    r#for: String,
}

fn closed_view(
    closed: Option<(String, Option<String>)>,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    match closed.filter(|(until, _)| crate::domain::closing::holds(Some(until), now)) {
        Some((until, by)) => {
            let until_reopened = until.starts_with("9999-");
            json!({ "closed": true, "closedUntil": (!until_reopened).then_some(until), "untilReopened": until_reopened, "closedBy": by })
        }
        None => {
            json!({ "closed": false, "closedUntil": null, "untilReopened": false, "closedBy": null })
        }
    }
}

/// `GET /api/org/closed`: whether calls get the after-hours action now because someone
/// closed the business by hand ("Closed now"), until when and by whom.
pub async fn closed(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let now = state.desk.clock.now();
    let closed = state.db.query(move |c| orgs::closed(c, org)).await?;
    Ok(HttpResponse::Ok().json(closed_view(closed, now)))
}

/// `PUT /api/org/closed {"for": "hour"|"day"|"reopen"}`: closes now (audited); calls get
/// the after-hours action until then, and the timeline says who closed it.
pub async fn close(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<CloseBody>,
) -> Result<HttpResponse, ApiError> {
    use crate::domain::closing::CloseFor;
    let choice = CloseFor::parse(&body.r#for).ok_or_else(|| {
        ApiError::hinted(
            codes::INVALID_FIELD,
            format!("for: '{}' is not how long to close", body.r#for),
            "Use hour, day (until midnight) or reopen (until someone reopens).",
        )
    })?;
    set_closed(state, auth, Some(choice)).await
}

/// `DELETE /api/org/closed`: reopens now (audited); the business hours apply again.
pub async fn reopen(
    state: web::Data<AppState>,
    Writer(auth): Writer,
) -> Result<HttpResponse, ApiError> {
    set_closed(state, auth, None).await
}

async fn set_closed(
    state: web::Data<AppState>,
    auth: Auth,
    choice: Option<crate::domain::closing::CloseFor>,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let now = state.desk.clock.now();
    let closed = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let tz = orgs::settings(&tx, org)?
                .ok_or_else(|| ApiError::not_found("your organization"))?
                .time_zone();
            let until = choice.map(|ch| {
                crate::db::format_time(crate::domain::closing::closed_until(ch, now, tz))
            });
            let by = until.as_ref().map(|_| auth.principal.email.clone());
            orgs::set_closed(&tx, org, until.as_deref(), by.as_deref())?;
            let action = if until.is_some() {
                "org.close"
            } else {
                "org.reopen"
            };
            audit::record(
                &tx,
                auth.audit(
                    action,
                    format!("org:{org}"),
                    json!({ "closedUntil": until }),
                ),
            )?;
            tx.commit()?;
            Ok(until.map(|u| (u, by)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(closed_view(closed, now)))
}
