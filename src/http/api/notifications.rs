//! `GET/PUT /api/me/notifications`: which events reach the signed-in user by email
//! (SPEC §12). Without a choice an owner gets voicemails and new leads, nobody missed calls.

use crate::db::outbox::{self, Event};
use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

fn key(event: Event) -> &'static str {
    match event {
        Event::Voicemail => "voicemail",
        Event::Lead => "lead",
        Event::MissedCall => "missedCall",
    }
}

async fn answer(state: &AppState, auth: &Auth) -> Result<HttpResponse, ApiError> {
    let (user, role) = (auth.principal.user_id, auth.principal.role);
    let prefs = state
        .db
        .query(move |c| outbox::email_prefs(c, user, role))
        .await?;
    let email: Map<String, Value> = prefs
        .into_iter()
        .map(|(e, on)| (key(e).to_string(), json!(on)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "email": email,
        "address": auth.principal.email,
        "emailConfigured": state.config.smtp.is_some(),
    })))
}

pub async fn get(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    answer(&state, &auth).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EmailChoices {
    voicemail: Option<bool>,
    lead: Option<bool>,
    missed_call: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefsBody {
    email: EmailChoices,
}

pub async fn put(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<PrefsBody>,
) -> Result<HttpResponse, ApiError> {
    let e = &body.email;
    let changes: Vec<(Event, bool)> = [
        (Event::Voicemail, e.voicemail),
        (Event::Lead, e.lead),
        (Event::MissedCall, e.missed_call),
    ]
    .into_iter()
    .filter_map(|(event, on)| on.map(|on| (event, on)))
    .collect();
    let user = auth.principal.user_id;
    state
        .db
        .query(move |c| {
            for (event, on) in changes {
                outbox::set_email_pref(c, user, event, on)?;
            }
            Ok(())
        })
        .await?;
    answer(&state, &auth).await
}
