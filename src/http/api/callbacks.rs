//! `POST /api/callbacks` and `GET /api/callbacks` (SPEC §12): "Call back" from the
//! business number. Twilio rings the signed-in user's own mobile from the business number
//! and, when they answer, dials the customer with the business number as caller ID.

use super::typed_number;
use crate::db::{callbacks, orgs};
use crate::error::{codes, ApiError};
use crate::frontdesk::callback::{self, CallbackError, Request};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CallbackBody {
    /// The customer, as typed ("(415) 555-0123") or in E.164.
    to: String,
    /// The call (or a voicemail's or lead's call) this answers: the callback goes out from
    /// the number that call came in on.
    call_id: Option<i64>,
}

pub async fn create(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Json<CallbackBody>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.principal.user_id;
    if let Err(retry_after) = state
        .rate_limits
        .check(&state.rate_limits.callbacks, &user.to_string())
    {
        return Err(ApiError::RateLimited { retry_after });
    }
    let org = auth.org_id();
    let country = state.db.query(move |c| orgs::country(c, org)).await?;
    let to = typed_number("to", &body.to, &country)?;
    let req = Request {
        org_id: org,
        user_id: user,
        user_email: auth.principal.email.clone(),
        to,
        call_id: body.call_id,
    };
    match callback::place(&state.desk, req).await {
        Ok(placed) => {
            let call = placed.call.as_ref().map(super::views::Call::from);
            let body = json!({ "callback": placed.callback, "call": call });
            let shown = {
                let body = body.clone();
                state
                    .db
                    .query(move |c| super::views::shown_for(c, org, &body))
                    .await?
            };
            let mut created = super::views::displayed(body, &shown);
            created.head_mut().status = actix_web::http::StatusCode::CREATED;
            Ok(created)
        }
        Err(CallbackError::NoMobile) => Err(ApiError::hinted(codes::MOBILE_REQUIRED,
            "mobile: you have no mobile number on file; a callback rings your own phone first, then the customer.",
            "Add your mobile in Settings → Notifications (PATCH /api/me {\"mobile\": \"…\"}).",
        )),
        Err(CallbackError::CallNotFound(id)) => Err(ApiError::not_found(format!("call {id}"))),
        Err(e @ CallbackError::NoBusinessNumber) => Err(ApiError::hinted(codes::NO_BUSINESS_NUMBER,
            e.to_string(),
            "Import or buy a number on the Numbers page first.",
        )),
        Err(e @ CallbackError::NoCredentials(_)) => Err(ApiError::hinted(codes::NO_CREDENTIALS,
            e.to_string(),
            "Set the Twilio credentials of the account that owns the number.",
        )),
        Err(CallbackError::Provider(e)) => Err(ApiError::Provider(e)),
        Err(CallbackError::Db(e)) => Err(e.into()),
    }
}

/// The org's latest callbacks: who placed each, from which number, how each side went.
pub async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    super::views::displayed_query(&state.db, org, move |c| {
        Ok(json!({ "callbacks": callbacks::list(c, org, 100)? }))
    })
    .await
}
