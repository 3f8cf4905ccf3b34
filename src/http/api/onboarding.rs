//! SMS sign-ups waiting for an admin (SPEC §3.7): list, approve (creates the business's
//! organization, provisions its operational number when `managed_telephony` is on, and
//! texts the sender), reject, and retry a provisioning that failed at approval.

use super::views;
use super::Paging;
use crate::db::{audit, numbers, onboarding, orgs};
use crate::domain::state::MessageKind;
use crate::domain::{FlagKey, NumberHandler, NumberOrigin, NumberRole, PhoneNumber};
use crate::error::{codes, ApiError};
use crate::frontdesk::messaging::{self, Outbound};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use crate::providers::{NumberSearch, NumberType};
use crate::telephony::{self, provision};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
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
    Ok(HttpResponse::Ok()
        .json(json!({ "requests": views::all::<_, views::OnboardingRequest>(&rows) })))
}

/// Which number to give the new business, as sent; both optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LineChoiceBody {
    phone_number: Option<String>,
    area_code: Option<String>,
}

/// Which number to give the new business, checked. Without either, the first local number
/// in the sender's own area code is taken (then any local number).
#[derive(Default)]
pub struct LineChoice {
    phone_number: Option<PhoneNumber>,
    area_code: Option<String>,
}

impl LineChoice {
    /// An empty body means "choose for me"; anything else must be the JSON object.
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let choice: LineChoiceBody = serde_json::from_slice(body).map_err(|e| {
            ApiError::hinted(
                codes::INVALID_BODY,
                format!("the body is not a line choice: {e}"),
                "Send no body, or {\"phoneNumber\": \"+14155550123\"} or {\"areaCode\": \"415\"}.",
            )
        })?;
        if let Some(a) = &choice.area_code {
            if a.len() != 3 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::hinted(
                    codes::INVALID_FIELD,
                    "areaCode: use three digits, e.g. 415",
                    "Fix that field and approve again.",
                ));
            }
        }
        Ok(LineChoice {
            phone_number: choice
                .phone_number
                .map(|p| telephony::parse_number("phoneNumber", &p))
                .transpose()?,
            area_code: choice.area_code,
        })
    }
}

pub async fn approve(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let choice = LineChoice::parse(&body)?;
    let id = path.into_inner();
    let decided = decide(&state, &auth, id, true).await?;
    let new_org = decided.request.approved_org_id;
    let line = match new_org {
        Some(org) => give_line(&state, &auth, org, &decided.request.sender, choice).await,
        None => Line::Skipped("the approval created no organization".into()),
    };
    let name = decided.request.business_name.clone().unwrap_or_default();
    let text = match &line {
        Line::Provisioned(n) => format!(
            "Good news: \"{name}\" is approved! Your new phone line is {}. We'll be in touch shortly to finish setting it up.",
            n.e164
        ),
        _ => format!("Good news: \"{name}\" is approved! We'll be in touch shortly to finish setting up your phone line."),
    };
    reply(&state, decided.line, &decided.request.sender, text).await?;
    Ok(HttpResponse::Ok().json(json!({
        "request": views::OnboardingRequest::from(&decided.request),
        "number": line.number().map(views::Number::from),
        "provisioning": line.report(id),
    })))
}

pub async fn reject(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let decided = decide(&state, &auth, path.into_inner(), false).await?;
    let name = decided.request.business_name.clone().unwrap_or_default();
    let text = format!(
        "Sorry, we could not approve \"{name}\" right now. Reply to this message if you have questions."
    );
    reply(&state, decided.line, &decided.request.sender, text).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "request": views::OnboardingRequest::from(&decided.request) })))
}

/// Gives an approved business its number when the approval could not (the provider failed,
/// or `managed_telephony` was off then). Errors answer as a purchase does (502 with the
/// saga step, 403 when the flag is off); success texts the sender their new number.
pub async fn provision_line(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let choice = LineChoice::parse(&body)?;
    let id = path.into_inner();
    let org_id = auth.org_id();
    let (request, line) = state
        .db
        .query(move |c| {
            let request = onboarding::get_for_org(c, org_id, id)?;
            let line = match &request {
                Some(r) => r
                    .onboarding_number
                    .as_deref()
                    .map(|e| numbers::resolve_stored(c, e))
                    .transpose()?
                    .flatten(),
                None => None,
            };
            Ok((request, line))
        })
        .await?;
    let request = request.ok_or_else(|| ApiError::not_found(format!("sign-up request {id}")))?;
    let new_org = match (request.state.as_str(), request.approved_org_id) {
        ("approved", Some(org)) => org,
        _ => {
            return Err(ApiError::hinted(
                codes::NOT_APPROVED,
                format!("sign-up request {id} is '{}', not approved", request.state),
                "Approve the request first; approving provisions the number itself.",
            ))
        }
    };
    crate::http::features::require_flag(&state, org_id, FlagKey::ManagedTelephony).await?;
    let number = provision_for(&state, &auth, new_org, &request.sender, choice).await?;
    let name = request.business_name.clone().unwrap_or_default();
    reply(
        &state,
        line,
        &request.sender,
        format!("Your phone line for \"{name}\" is ready: {}.", number.e164),
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "request": views::OnboardingRequest::from(&request),
        "number": views::Number::from(&number),
    })))
}

struct Decided {
    request: onboarding::Request,
    /// The onboarding number the conversation ran on: the reply goes out from it.
    line: Option<numbers::Resolved>,
}

/// Records the decision (and creates the organization on approval) in one transaction.
async fn decide(
    state: &AppState,
    auth: &Auth,
    id: i64,
    approve: bool,
) -> Result<Decided, ApiError> {
    let auth = auth.clone();
    state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let request = onboarding::get_for_org(&tx, auth.org_id(), id)?.ok_or_else(|| ApiError::not_found(format!("sign-up request {id}")))?;
            if request.state != "pending_approval" {
                return Err(ApiError::hinted(codes::NOT_PENDING,
                    format!("sign-up request {id} is '{}', not waiting for approval", request.state),
                    "Only requests whose sender confirmed the business name can be approved or rejected.",
                ));
            }
            let name = request.business_name.clone().unwrap_or_default();
            let new_org = if approve {
                match orgs::create(&tx, &name, "UTC", false) {
                    Ok(org) => Some(org),
                    Err(e) if crate::db::is_unique_violation(&e) => {
                        return Err(ApiError::hinted(codes::ORG_EXISTS,
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
            let line = request.onboarding_number.as_deref().map(|e| numbers::resolve_stored(&tx, e)).transpose()?.flatten();
            tx.commit()?;
            let request = onboarding::get_for_org(c, auth.org_id(), id)?.ok_or_else(|| ApiError::not_found(format!("sign-up request {id}")))?;
            Ok(Decided { request, line })
        })
        .await
}

/// What approval did about the new business's number.
enum Line {
    Provisioned(Box<numbers::NumberRow>),
    /// Not attempted, and why (the flag is off, or there is no Twilio account to buy with).
    Skipped(String),
    /// Attempted and failed; nothing was left behind (the saga undid its steps).
    Failed(ApiError),
}

impl Line {
    fn number(&self) -> Option<&numbers::NumberRow> {
        match self {
            Line::Provisioned(n) => Some(n),
            _ => None,
        }
    }

    fn report(&self, request_id: i64) -> serde_json::Value {
        match self {
            Line::Provisioned(n) => json!({ "state": "provisioned", "phoneNumber": n.e164 }),
            Line::Skipped(why) => json!({ "state": "skipped", "reason": why }),
            Line::Failed(e) => json!({
                "state": "failed",
                "error": e.body()["error"],
                "retry": format!("POST /api/onboarding-requests/{request_id}/provision once the cause is fixed; the approval stands."),
            }),
        }
    }
}

/// The approval's attempt at a number: only when `managed_telephony` is on for the
/// approving organization and a Twilio account is configured to buy with.
async fn give_line(
    state: &AppState,
    auth: &Auth,
    new_org: i64,
    sender: &str,
    choice: LineChoice,
) -> Line {
    let approver = auth.org_id();
    if let Err(e) =
        crate::http::features::require_flag(state, approver, FlagKey::ManagedTelephony).await
    {
        return match e {
            ApiError::FeatureDisabled(_) => Line::Skipped(
                "Managed telephony is off, so no number was bought. Import or buy one for the new organization when it is ready.".into(),
            ),
            other => Line::Failed(other),
        };
    }
    if state.telephony.accounts.master().is_none() {
        return Line::Skipped(
            "No Twilio account is configured to buy numbers with (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN).".into(),
        );
    }
    match provision_for(state, auth, new_org, sender, choice).await {
        Ok(n) => Line::Provisioned(Box::new(n)),
        Err(e) => {
            log::warn!("approval of org {new_org}: provisioning its number failed: {e}");
            Line::Failed(e)
        }
    }
}

/// Picks a number (the one asked for, else the first local number near the sender) and
/// buys it for `new_org` as its operational menu line, through the provisioning saga.
async fn provision_for(
    state: &AppState,
    auth: &Auth,
    new_org: i64,
    sender: &str,
    choice: LineChoice,
) -> Result<numbers::NumberRow, ApiError> {
    let t = &state.telephony;
    let held = state
        .db
        .query(move |c| numbers::count_active(c, new_org, NumberOrigin::Managed))
        .await?;
    if held > 0 {
        return Err(ApiError::hinted(
            codes::ALREADY_PROVISIONED,
            "the approved organization already has its number",
            "Manage it on that organization's Numbers page.",
        ));
    }
    let e164 = match choice.phone_number {
        Some(p) => p,
        None => pick_number(state, choice.area_code.or_else(|| area_of(sender))).await?,
    };
    let req = telephony::NumberRequest {
        org_id: new_org,
        e164,
        role: NumberRole::Operational,
        handler: NumberHandler::Ivr,
        agent_id: None,
        friendly_name: Some("Main line".into()),
        actor: auth.principal.email.clone(),
        user_id: Some(auth.principal.user_id),
    };
    Ok(provision::provision(t, req).await?)
}

/// The NANP area code of a `+1` number.
fn area_of(sender: &str) -> Option<String> {
    let digits = sender.strip_prefix("+1")?;
    (digits.len() == 10).then(|| digits[..3].to_string())
}

/// The first available local number in `area` (then anywhere in the US).
async fn pick_number(state: &AppState, area: Option<String>) -> Result<PhoneNumber, ApiError> {
    let master = state.telephony.master()?;
    let mut tries = vec![area, None];
    tries.dedup();
    for area_code in tries {
        let search = NumberSearch {
            country: "US".into(),
            number_type: NumberType::Local,
            area_code,
            contains: None,
            limit: 1,
        };
        match state
            .providers
            .twilio
            .search_numbers(&master, &search)
            .await
        {
            Ok(found) => {
                if let Some(n) = found.into_iter().next() {
                    return Ok(telephony::parse_number("phoneNumber", &n.phone_number)?);
                }
            }
            Err(e) if e.code == Some(21452) || e.is_not_found() => {}
            Err(e) => return Err(ApiError::Provider(e)),
        }
    }
    Err(ApiError::hinted(
        codes::NO_NUMBERS_AVAILABLE,
        "Twilio has no local numbers available to buy",
        "Approve again later with {\"areaCode\": \"…\"} of a nearby area, or buy a number by hand.",
    ))
}

/// Texts the sender from the onboarding number the conversation ran on.
async fn reply(
    state: &AppState,
    line: Option<numbers::Resolved>,
    sender: &str,
    body: String,
) -> Result<(), ApiError> {
    let Some(n) = line else {
        return Ok(());
    };
    let out = Outbound::from_number(&n, sender, body, MessageKind::Onboarding);
    messaging::send(&state.desk, out).await?;
    Ok(())
}
