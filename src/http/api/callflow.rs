//! `GET /api/call-flow` and `PUT /api/call-flow`: the org's call flow, checked for dead
//! ends before it is saved (SPEC §3.3); `POST /api/call-flow/preview` walks an unsaved flow
//! the way a caller would.

use crate::db::{agents, audit, callflows, orgs};
use crate::domain::callflow::{AgentInfo, CallFlow, FlowProblem};
use crate::domain::ivr::walk;
use crate::domain::FlagKey;
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use crate::twiml::TwiML;
use actix_web::{web, HttpResponse, ResponseError};
use serde::Deserialize;
use serde_json::json;

pub async fn get(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let (flow, version) = state.db.query(move |c| callflows::org_flow(c, org)).await?;
    let notices = flow.notices();
    Ok(
        HttpResponse::Ok()
            .json(json!({ "callFlow": flow, "version": version, "notices": notices })),
    )
}

/// The no-dead-ends check against the org's agents (an AI option needs one with a SIP
/// address).
fn check(flow: &CallFlow, agent_list: &[agents::Agent]) -> Result<(), Vec<FlowProblem>> {
    flow.check(|id| {
        agent_list.iter().find(|a| a.id == id).map(|a| AgentInfo {
            has_sip_uri: a.sip_uri.as_deref().is_some_and(|s| !s.is_empty()),
        })
    })
}

/// Reads the numbers a person typed into a flow's ring targets (`415 555 0123`) in the
/// org's country, as E.164, then the flow itself. Every unreadable number is a problem at
/// its option, as a dead end is.
fn typed_flow(mut v: serde_json::Value, country: &str) -> Result<CallFlow, Box<HttpResponse>> {
    let mut problems = Vec::new();
    let mut read = |path: String, targets: Option<&mut serde_json::Value>| {
        for t in targets.and_then(|t| t.as_array_mut()).into_iter().flatten() {
            let Some(raw) = t.as_str() else { continue };
            match crate::domain::typed::read(raw, country) {
                Ok(n) => *t = json!(n.to_string()),
                Err(e) => problems.push(FlowProblem {
                    path: path.clone(),
                    message: e.to_string(),
                }),
            }
        }
    };
    if let Some(menu) = v.get_mut("menu").and_then(|m| m.as_array_mut()) {
        for (i, option) in menu.iter_mut().enumerate() {
            let targets = option.get_mut("action").and_then(|a| a.get_mut("targets"));
            read(format!("menu[{i}].action"), targets);
        }
    }
    let after = v.get_mut("afterHours").and_then(|a| a.get_mut("targets"));
    read("afterHours.targets".into(), after);
    if !problems.is_empty() {
        return Err(Box::new(dead_ends(
            problems,
            "Some numbers could not be read",
        )));
    }
    serde_json::from_value(v).map_err(|e| {
        Box::new(
            ApiError::new(
                codes::INVALID_FIELD,
                format!("the call flow has a wrong or missing field: {e}"),
            )
            .error_response(),
        )
    })
}

pub async fn put(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let country = state.db.query(move |c| orgs::country(c, org)).await?;
    let flow = match typed_flow(body.into_inner(), &country) {
        Ok(f) => f,
        Err(refused) => return Ok(*refused),
    };
    let notices = flow.notices();
    let result = state
        .db
        .run(
            move |c| -> Result<Result<i64, Vec<FlowProblem>>, ApiError> {
                let org = auth.org_id();
                if let Err(problems) = check(&flow, &agents::list_for_org(c, org)?) {
                    return Ok(Err(problems));
                }
                let tx = c.transaction()?;
                let version =
                    callflows::put_org_flow(&tx, org, &flow, Some(auth.principal.user_id))?;
                audit::record(
                    &tx,
                    auth.audit(
                        "call_flow.update",
                        format!("org:{org}"),
                        json!({ "version": version }),
                    ),
                )?;
                tx.commit()?;
                Ok(Ok(version))
            },
        )
        .await?;
    state.desk.flows.invalidate();
    match result {
        Ok(version) => {
            Ok(HttpResponse::Ok().json(json!({ "version": version, "notices": notices })))
        }
        Err(problems) => Ok(dead_ends(problems, "The call flow was not saved")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreviewBody {
    /// Read with [`typed_flow`].
    call_flow: serde_json::Value,
    /// Local time of the call, `YYYY-MM-DDTHH:MM` in the org's time zone; now when absent.
    at: Option<String>,
    /// The keys the caller presses, in order; `null` is waiting without pressing.
    #[serde(default)]
    keys: Vec<Option<String>>,
}

/// The 400 a flow with dead ends gets, each problem with the path of its field.
fn dead_ends(problems: Vec<FlowProblem>, what: &str) -> HttpResponse {
    let summary: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect();
    HttpResponse::BadRequest().json(json!({
        "error": {
            "code": "call_flow_dead_end",
            "message": format!("{what}: {}", summary.join("; ")),
            "hint": "Fix each listed path so every caller ends at a person, a voicemail or a goodbye, then save again.",
            "problems": problems,
        }
    }))
}

/// `POST /api/call-flow/preview`: what a caller hears with this (unsaved) flow at a given
/// time pressing given keys, hop by hop. The walk is `domain::ivr::walk` and the words come
/// from the TwiML the webhooks would answer, so the preview cannot drift from real calls.
pub async fn preview(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<PreviewBody>,
) -> Result<HttpResponse, ApiError> {
    let PreviewBody {
        call_flow,
        at,
        keys,
    } = body.into_inner();
    if keys.len() > 20 {
        return Err(ApiError::new(
            codes::INVALID_FIELD,
            "keys: at most 20 key presses",
        ));
    }
    let org = auth.org_id();
    let now = state.desk.clock.now();
    let flags = state.desk.flags.clone();
    let (agent_list, tz, recording_flag, country, closed) = state
        .db
        .query(move |c| {
            let settings = orgs::settings(c, org)?;
            let closed = orgs::closed(c, org)?.map(|(until, _)| until);
            Ok((
                agents::list_for_org(c, org)?,
                settings.as_ref().map_or(chrono_tz::UTC, |s| s.time_zone()),
                flags.is_enabled(c, org, FlagKey::CallRecording)?,
                settings.map_or_else(
                    || crate::domain::typed::DEFAULT_COUNTRY.to_string(),
                    |s| s.country,
                ),
                closed,
            ))
        })
        .await?;
    let flow = match typed_flow(call_flow, &country) {
        Ok(f) => f,
        Err(refused) => return Ok(*refused),
    };
    if let Err(problems) = check(&flow, &agent_list) {
        return Ok(dead_ends(problems, "This flow has dead ends"));
    }
    let when = match at.as_deref() {
        None | Some("") => now,
        Some(local) => chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|t| t.and_local_timezone(tz).earliest())
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(|| {
                ApiError::new(
                    codes::INVALID_FIELD,
                    format!("at: '{local}' is not a local time like 2026-11-23T09:30"),
                )
            })?,
    };
    // Closed by hand ("Closed now") at that moment wins over the hours, as for a real call.
    let closed_by_hand = crate::domain::closing::holds(closed.as_deref(), when);
    let open = !closed_by_hand && flow.is_open(when, tz);
    let keys: Vec<Option<&str>> = keys
        .iter()
        .map(|k| k.as_deref().filter(|k| !k.is_empty()))
        .collect();
    let hops = walk(&flow, open, recording_flag, &keys, |id| {
        agent_list
            .iter()
            .find(|a| a.id == id)
            .and_then(|a| a.sip_uri.clone())
    });
    let hops: Vec<_> = hops
        .iter()
        .map(|h| json!({ "heard": TwiML::step(&h.step, &flow).heard(), "pressed": h.pressed }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "open": open,
        "at": when.with_timezone(&tz).format("%A %Y-%m-%d %H:%M").to_string(),
        "timezone": tz.name(),
        "recording": recording_flag,
        "closedNow": closed_by_hand,
        "hops": hops,
    })))
}
