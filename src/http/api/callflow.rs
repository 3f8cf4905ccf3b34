//! `GET /api/call-flow` and `PUT /api/call-flow`: the org's call flow, checked for dead
//! ends before it is saved (SPEC §3.3).

use crate::db::{agents, audit, callflows};
use crate::domain::callflow::{AgentInfo, CallFlow};
use crate::error::ApiError;
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
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

pub async fn put(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<CallFlow>,
) -> Result<HttpResponse, ApiError> {
    let flow = body.into_inner();
    let notices = flow.notices();
    let result = state
        .db
        .run(
            move |c| -> Result<Result<i64, Vec<crate::domain::callflow::FlowProblem>>, ApiError> {
                let org = auth.org_id();
                let agent_list = agents::list_for_org(c, org)?;
                let checked = flow.check(|id| {
                    agent_list.iter().find(|a| a.id == id).map(|a| AgentInfo {
                        has_sip_uri: a.sip_uri.as_deref().is_some_and(|s| !s.is_empty()),
                    })
                });
                if let Err(problems) = checked {
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
    state.flows.invalidate();
    match result {
        Ok(version) => {
            Ok(HttpResponse::Ok().json(json!({ "version": version, "notices": notices })))
        }
        Err(problems) => {
            let summary: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect();
            Ok(HttpResponse::BadRequest().json(json!({
                "error": {
                    "code": "call_flow_dead_end",
                    "message": format!("The call flow was not saved: {}", summary.join("; ")),
                    "hint": "Fix each listed path so every caller ends at a person, a voicemail or a goodbye, then save again.",
                    "problems": problems,
                }
            })))
        }
    }
}
