//! `GET /api/overview`: the owner's day at a glance — today's calls and what became of
//! them, voicemails waiting, leads, text-backs sent and blocked (with why), call volume for
//! 24 hours and 7 days, and a "needs attention" list where each item says what to do and
//! links to the page where it is done.

use crate::db::{calls, leads, voicemails};
use crate::domain::ivr::Anomaly;
use crate::domain::overview::{summarize, window_start};
use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// What a blocked text-back means for the owner, and what to do.
fn blocked_advice(reason: &str, code: Option<i64>) -> String {
    if let Some(hint) = code.and_then(crate::providers::twilio_error_hint) {
        return hint.to_string();
    }
    match reason {
        "opted_out" => "The caller texted STOP to your number earlier; nothing to do.".into(),
        "anonymous_caller" => "The caller withheld their number; nothing to do.".into(),
        "invalid_number" => "The caller ID was not a phone number that can get texts.".into(),
        "cooldown" => "They were texted after an earlier missed call; the cooldown (Call flow → Text-back) keeps them from getting two.".into(),
        "quiet_hours" => "It was quiet hours (Call flow → Text-back), so no text went out.".into(),
        "provider_refused" => "Twilio refused the text; the call's timeline has Twilio's reason.".into(),
        other => format!("Blocked: {other}."),
    }
}

/// What an invariant violation means, and where it is fixed.
pub(super) fn invariant_advice(name: &str) -> (String, &'static str) {
    match Anomaly::from_name(name) {
        Some(Anomaly::VoiceOnboardingNumber) => ("Calls reached a number meant for sign-ups by text; callers heard a polite refusal. If customers call it, make it a customer number.".into(), "#numbers"),
        Some(Anomaly::VapiNumberOnIvr) => ("Twilio sent calls for an AI-agent number here instead of to Vapi. On the Numbers page switch it to the menu and back to the AI agent.".into(), "#numbers"),
        Some(Anomaly::AgentWithoutSipUri) => ("An AI-agent number's agent has no SIP address, so misrouted calls could not reach it. Add it on the Agents page.".into(), "#agents"),
        _ => (format!("Something that should not happen happened ({name}); the call timelines on the Calls page show where."), "#calls"),
    }
}

pub async fn get(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let now = state.desk.clock.now();
    let mut config_warnings = state.config.warnings();
    config_warnings.extend(crate::http::health::provider_warnings(&state));
    let body = state
        .db
        .query(move |c| -> rusqlite::Result<Option<Value>> {
            let Some((settings, warnings)) = crate::doctor::warnings::with_warnings(c, org)? else {
                return Ok(None);
            };
            let tz = settings.time_zone();
            let midnight = crate::domain::overview::start_of_day(now, &tz);
            let from = window_start(now, &tz);
            let rows = calls::outcomes_since(c, org, &crate::db::format_time(from))?;
            let parsed: Vec<_> = rows
                .into_iter()
                .filter_map(|(at, outcome)| {
                    DateTime::parse_from_rfc3339(&at)
                        .ok()
                        .map(|t| (t.with_timezone(&Utc), outcome))
                })
                .collect();
            let (today, volume) = summarize(&parsed, now, &tz);
            let midnight_s = crate::db::format_time(midnight);
            let (sent, blocked) = calls::textbacks_since(
                c,
                org,
                &midnight_s,
                &crate::db::format_time(midnight - Duration::days(1)),
            )?;
            let (waiting, next_at) = calls::deferred_textbacks(c, org)?;
            let scheduled = json!({ "count": waiting, "nextAt": next_at });
            let (leads_open, leads_today) = (
                leads::open_count(c, org)?,
                leads::created_since(c, org, &midnight_s)?,
            );
            let week = crate::db::format_time(now - Duration::days(7));
            let mut attention: Vec<Value> = Vec::new();
            for (name, count) in calls::invariants_since(c, org, &week)? {
                let (what, link) = invariant_advice(&name);
                attention.push(json!({ "kind": "invariant", "name": name, "count": count, "message": what, "link": link }));
            }
            for w in config_warnings.iter().chain(warnings.iter()) {
                let link = if w.contains("Numbers page") { "#numbers" } else { "#settings" };
                attention.push(json!({ "kind": "configuration", "message": w, "link": link }));
            }
            let blocked: Vec<Value> = blocked
                .into_iter()
                .map(|(reason, code, count)| {
                    json!({ "reason": reason, "providerCode": code, "count": count, "advice": blocked_advice(&reason, code) })
                })
                .collect();
            Ok(Some(json!({
                "timezone": tz.name(),
                "today": today,
                "voicemailsWaiting": voicemails::waiting(c, org)?,
                "leads": { "open": leads_open, "newToday": leads_today },
                "textbacks": { "sent": sent, "blocked": blocked, "scheduled": scheduled },
                "volume": volume,
                "attention": attention,
            })))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("your organization"))?;
    Ok(HttpResponse::Ok().json(body))
}
