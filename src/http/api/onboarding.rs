//! SMS sign-ups waiting for an admin (SPEC §3.7): list, approve (creates the business's
//! organization and texts the sender), reject.

use super::Paging;
use crate::db::{audit, numbers, onboarding, orgs};
use crate::error::ApiError;
use crate::frontdesk::messaging::{self, Outbound};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    let (org, before, limit) = (auth.org_id(), q.before, q.limit());
    let rows = state
        .db
        .query(move |c| onboarding::list_for_org(c, org, before, limit))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "requests": rows })))
}

pub async fn approve(
    state: web::Data<AppState>,
    writer: Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    decide(state, writer, path.into_inner(), true).await
}

pub async fn reject(
    state: web::Data<AppState>,
    writer: Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    decide(state, writer, path.into_inner(), false).await
}

async fn decide(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    id: i64,
    approve: bool,
) -> Result<HttpResponse, ApiError> {
    let (request, reply) = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let request = onboarding::get_for_org(&tx, auth.org_id(), id)?.ok_or_else(|| ApiError::not_found(format!("sign-up request {id}")))?;
            if request.state != "pending_approval" {
                return Err(ApiError::conflict(
                    "not_pending",
                    format!("sign-up request {id} is '{}', not waiting for approval", request.state),
                    "Only requests whose sender confirmed the business name can be approved or rejected.",
                ));
            }
            let name = request.business_name.clone().unwrap_or_default();
            let new_org = if approve {
                match orgs::create(&tx, &name, "UTC", false) {
                    Ok(org) => Some(org),
                    Err(e) if crate::db::is_unique_violation(&e) => {
                        return Err(ApiError::conflict(
                            "org_exists",
                            format!("an organization named \"{name}\" already exists"),
                            "Reject this request or ask the sender for a distinct name.",
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                None
            };
            let state_text = if approve { "approved" } else { "rejected" };
            onboarding::decide(&tx, id, state_text, new_org, auth.principal.user_id)?;
            audit::record(&tx, auth.audit(if approve { "onboarding.approve" } else { "onboarding.reject" }, format!("onboarding:{id}"), json!({ "businessName": name, "org": new_org })))?;
            let number = request.onboarding_number.as_deref().map(|e| numbers::resolve(&tx, e)).transpose()?.flatten();
            tx.commit()?;
            let body = if approve {
                format!("Good news: \"{name}\" is approved! We'll be in touch shortly to finish setting up your phone line.")
            } else {
                format!("Sorry, we could not approve \"{name}\" right now. Reply to this message if you have questions.")
            };
            let reply = number.map(|n| Outbound {
                org_id: Some(n.org_id),
                from: n.e164.clone(),
                from_number_id: Some(n.id),
                account_sid: n.account_sid.clone(),
                to: request.sender.clone(),
                body,
                kind: "onboarding",
                call_id: None,
                lead_id: None,
            });
            let updated = onboarding::get_for_org(c, auth.org_id(), id)?;
            Ok((updated, reply))
        })
        .await?;
    if let Some(out) = reply {
        messaging::send(&state, out).await?;
    }
    Ok(HttpResponse::Ok().json(json!({ "request": request })))
}
