//! Numbers the business brings (SPEC §5.2, outside the managed-telephony flag):
//! `GET /api/numbers/importable`, `POST /api/numbers/import`, and changing or releasing any
//! of the org's numbers with `PATCH` / `DELETE /api/numbers/{e164}`.

use super::views;
use crate::domain::{NumberHandler, NumberRole};
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use crate::telephony::{self, import, release, update};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub async fn importable(state: web::Data<AppState>, _auth: Auth) -> Result<HttpResponse, ApiError> {
    let numbers = import::importable(&state.telephony).await?;
    let hint = numbers.is_empty().then_some(
        "Every number of the Twilio account is already here. Buy one under Numbers → Buy, or add one to the Twilio account first.",
    );
    Ok(HttpResponse::Ok().json(json!({ "numbers": numbers, "hint": hint })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImportBody {
    e164: String,
    role: NumberRole,
    #[serde(default = "ivr")]
    handler: NumberHandler,
    agent_id: Option<i64>,
    friendly_name: Option<String>,
}

fn ivr() -> NumberHandler {
    NumberHandler::Ivr
}

/// A friendly name: trimmed, at most 64 characters (Twilio's limit), empty = none.
pub fn friendly_name(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let name = raw.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 64) {
        return Err(ApiError::new(
            codes::INVALID_FIELD,
            "friendlyName: at most 64 characters",
        ));
    }
    Ok(name)
}

pub async fn import(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<ImportBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let req = telephony::NumberRequest {
        org_id: auth.org_id(),
        e164: telephony::parse_number("e164", &b.e164)?,
        role: b.role,
        handler: b.handler,
        agent_id: b.agent_id,
        friendly_name: friendly_name(b.friendly_name)?,
        actor: auth.principal.email.clone(),
        user_id: Some(auth.principal.user_id),
    };
    let number = import::import(&state.telephony, req).await?;
    Ok(HttpResponse::Created().json(json!({ "number": views::Number::from(&number) })))
}

/// `PATCH` body: absent fields stay as they are; `agentId: null` unlinks the agent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchBody {
    role: Option<NumberRole>,
    handler: Option<NumberHandler>,
    #[serde(default, deserialize_with = "nullable")]
    agent_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    friendly_name: Option<Option<String>>,
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

pub async fn patch(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<String>,
    body: web::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let e164 = telephony::parse_number("the number in the URL", &path.into_inner())?;
    let b = body.into_inner();
    let change = update::Change {
        role: b.role,
        handler: b.handler,
        agent_id: b.agent_id,
        friendly_name: match b.friendly_name {
            Some(name) => Some(friendly_name(name)?),
            None => None,
        },
    };
    let number = update::update(
        &state.telephony,
        auth.org_id(),
        &e164,
        change,
        &auth.principal.email,
        Some(auth.principal.user_id),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "number": views::Number::from(&number) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReleaseQuery {
    #[serde(default)]
    dry_run: bool,
}

pub async fn delete(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<String>,
    q: web::Query<ReleaseQuery>,
) -> Result<HttpResponse, ApiError> {
    let e164 = telephony::parse_number("the number in the URL", &path.into_inner())?;
    let outcome = release::release(
        &state.telephony,
        auth.org_id(),
        &e164,
        q.dry_run,
        &auth.principal.email,
        Some(auth.principal.user_id),
    )
    .await?;
    Ok(match outcome {
        release::Outcome::Plan {
            number,
            plan,
            already_released,
        } => HttpResponse::Ok().json(json!({
            "number": views::Number::from(&*number),
            "plan": plan,
            "alreadyReleased": already_released,
        })),
        release::Outcome::Released(number) => {
            HttpResponse::Ok().json(json!({ "number": views::Number::from(&*number) }))
        }
    })
}
