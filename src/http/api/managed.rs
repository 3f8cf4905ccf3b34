//! Managed telephony (SPEC §5.2) under `/api/managed-telephony`, every route behind the
//! `managed_telephony` flag (one guard on the scope): status, phone status, number search, buy, list, change,
//! release, and the progress of the latest provisioning.

use super::numbers::{self as byo, friendly_name};
use super::views;
use crate::db::{numbers, orgs, provider_accounts, sagas};
use crate::domain::{FlagKey, NumberHandler, NumberOrigin, NumberRole};
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::features;
use crate::http::AppState;
use crate::providers::{NumberSearch, NumberType};
use crate::telephony::{self, provision};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/managed-telephony")
            .wrap(from_fn(|req, next| {
                features::guard(FlagKey::ManagedTelephony, req, next)
            }))
            .route("/status", web::get().to(status))
            .route("/phone-status", web::get().to(phone_status))
            .route("/available-numbers", web::get().to(available))
            .route("/numbers", web::get().to(list))
            .route("/numbers", web::post().to(buy))
            .route("/numbers/{e164}", web::patch().to(byo::patch))
            .route("/numbers/{e164}", web::delete().to(byo::delete))
            .route("/provisioning", web::get().to(progress)),
    );
}

async fn status(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let (numbers, subaccount, settings) = state
        .db
        .query(move |c| {
            Ok((
                numbers::list_for_org(c, org, false)?,
                provider_accounts::managed_subaccount(c, org)?,
                orgs::settings(c, org)?,
            ))
        })
        .await?;
    let managed = numbers
        .iter()
        .filter(|n| n.origin == NumberOrigin::Managed)
        .count();
    Ok(HttpResponse::Ok().json(json!({
        "enabled": true,
        "twilioConfigured": state.telephony.accounts.master().is_some(),
        "vapiConfigured": state.telephony.vapi_ready,
        "sandbox": state.providers.sandbox,
        "publicUrl": state.public_url,
        "subaccount": subaccount.map(|(_, sid)| json!({ "sid": sid })),
        "maxManagedNumbers": settings.map(|s| s.max_managed_numbers).unwrap_or(1),
        "managedNumbers": managed,
        "numbers": views::all::<_, views::Number>(&numbers),
    })))
}

async fn phone_status(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let numbers = state
        .db
        .query(move |c| numbers::list_for_org(c, org, false))
        .await?;
    let pick = numbers
        .iter()
        .find(|n| n.origin == NumberOrigin::Managed)
        .or_else(|| numbers.first());
    let kind = match pick.map(|n| n.origin) {
        Some(NumberOrigin::Managed) => "managed",
        Some(_) => "imported",
        None => "none",
    };
    Ok(HttpResponse::Ok().json(json!({
        "hasPhoneNumber": pick.is_some(),
        "phoneNumberType": kind,
        "phoneNumber": pick.map(|n| n.e164.clone()),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchQuery {
    country: Option<String>,
    number_type: Option<String>,
    area_code: Option<String>,
    contains: Option<String>,
    limit: Option<u32>,
}

fn invalid(field: &str, problem: &str) -> ApiError {
    ApiError::hinted(
        codes::INVALID_FIELD,
        format!("{field}: {problem}"),
        "Fix that field and search again.",
    )
}

/// Validates a search, naming the field at fault.
fn search_from(q: SearchQuery) -> Result<NumberSearch, ApiError> {
    let country = q
        .country
        .unwrap_or_else(|| "US".into())
        .to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(invalid(
            "country",
            "use a two-letter ISO country code, e.g. US",
        ));
    }
    let number_type = match q.number_type.as_deref().unwrap_or("local") {
        "local" => NumberType::Local,
        "tollfree" => NumberType::TollFree,
        "mobile" => NumberType::Mobile,
        _ => return Err(invalid("numberType", "use local, tollfree or mobile")),
    };
    let area_code = q.area_code.filter(|a| !a.is_empty());
    if area_code
        .as_ref()
        .is_some_and(|a| a.len() != 3 || !a.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(invalid("areaCode", "use three digits, e.g. 415"));
    }
    let contains = q.contains.filter(|c| !c.is_empty());
    if contains.as_ref().is_some_and(|c| {
        c.len() > 16 || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '*')
    }) {
        return Err(invalid(
            "contains",
            "use up to 16 digits or letters (* matches any digit)",
        ));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(invalid("limit", "use 1 to 50"));
    }
    Ok(NumberSearch {
        country,
        number_type,
        area_code,
        contains,
        limit,
    })
}

async fn available(
    state: web::Data<AppState>,
    _auth: Auth,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let search = search_from(q.into_inner())?;
    let master = state.telephony.master()?;
    let found = state
        .providers
        .twilio
        .search_numbers(&master, &search)
        .await;
    let numbers = match found {
        Ok(numbers) => numbers,
        // Twilio answers 21452 / 404 when an area has no numbers: that is "none", not a failure.
        Err(e) if e.code == Some(21452) || e.is_not_found() => Vec::new(),
        Err(e) => return Err(ApiError::Provider(e)),
    };
    let hint = numbers.is_empty().then_some(
        "No numbers match. Try a nearby area code, remove 'contains', or another number type.",
    );
    Ok(HttpResponse::Ok().json(json!({ "numbers": numbers, "hint": hint })))
}

async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let rows = state
        .db
        .query(move |c| numbers::list_for_org(c, org, false))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "numbers": views::all::<_, views::Number>(&rows) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuyBody {
    phone_number: String,
    role: Option<NumberRole>,
    handler: Option<NumberHandler>,
    agent_id: Option<i64>,
    friendly_name: Option<String>,
}

async fn buy(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<BuyBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let req = telephony::NumberRequest {
        org_id: auth.org_id(),
        e164: telephony::parse_number("phoneNumber", &b.phone_number)?,
        role: b.role.unwrap_or(NumberRole::Operational),
        handler: b.handler.unwrap_or(NumberHandler::Ivr),
        agent_id: b.agent_id,
        friendly_name: friendly_name(b.friendly_name)?,
        actor: auth.principal.email.clone(),
        user_id: Some(auth.principal.user_id),
    };
    let number = provision::provision(&state.telephony, req).await?;
    Ok(HttpResponse::Created().json(json!({ "number": views::Number::from(&number) })))
}

/// The latest provisioning of the org with its step log: the dashboard polls this while a
/// purchase runs to show each step.
async fn progress(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let latest = state
        .db
        .query(move |c| {
            let Some(saga) = sagas::recent_for_org(c, org, Some(provision::KIND), 1)?
                .into_iter()
                .next()
            else {
                return Ok(None);
            };
            let steps = sagas::steps(c, saga.id)?;
            Ok(Some((saga, steps)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(match latest {
        Some((saga, steps)) => json!({
            "saga": views::Saga::from(&saga),
            "steps": views::all::<_, views::SagaStep>(&steps),
        }),
        None => json!({ "saga": null, "steps": [] }),
    }))
}
