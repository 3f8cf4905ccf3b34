//! The signed-in user's own notifications (SPEC §12):
//! - `GET/PUT /api/me/notifications`: which events (voicemail, missed call, new lead, the
//!   daily summary) reach them by email, by text to their mobile, or by push;
//! - `PATCH /api/me`: their mobile, quiet hours and summary hour;
//! - `POST/DELETE /api/me/push`: this device's push subscription.
//!
//! Without a choice an owner gets voicemails and new leads by email and text, and a
//! subscribed device gets every event as it happens; nobody gets a summary unasked.

use super::typed_number;
use crate::db::outbox::{self, push, Channel, Event};
use crate::db::{orgs, users};
use crate::domain::callflow::parse_hhmm;
use crate::error::{codes, ApiError};
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
        Event::Summary => "summary",
    }
}

async fn answer(state: &AppState, auth: &Auth) -> Result<HttpResponse, ApiError> {
    let (user, role, org) = (auth.principal.user_id, auth.principal.role, auth.org_id());
    let (prefs, reach, devices, country) = state
        .db
        .query(move |c| {
            let mut prefs = Vec::new();
            for channel in Channel::ALL {
                prefs.push((*channel, outbox::prefs(c, user, role, *channel)?));
            }
            Ok((
                prefs,
                users::reach(c, user)?,
                push::of_user(c, user)?,
                orgs::country(c, org)?,
            ))
        })
        .await?;
    let mut out = Map::new();
    for (channel, events) in prefs {
        let choices: Map<String, Value> = events
            .into_iter()
            .map(|(e, on)| (key(e).to_string(), json!(on)))
            .collect();
        out.insert(channel.as_str().to_string(), Value::Object(choices));
    }
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| json!({ "id": d.id, "device": d.device, "endpoint": d.endpoint, "createdAt": d.created_at, "lastPushAt": d.last_push_at }))
        .collect();
    out.extend([
        ("address".into(), json!(auth.principal.email)),
        ("mobile".into(), json!(reach.mobile)),
        (
            "mobileDisplay".into(),
            json!(reach
                .mobile
                .as_deref()
                .map(|m| crate::domain::typed::display(m, &country))),
        ),
        (
            "quietHours".into(),
            json!(reach
                .quiet
                .map(|(start, end)| json!({ "start": start, "end": end }))),
        ),
        ("summaryHour".into(), json!(reach.summary_hour)),
        ("emailConfigured".into(), json!(state.config.smtp.is_some())),
        ("pushPublicKey".into(), json!(state.pusher.public_key())),
        ("devices".into(), json!(devices)),
    ]);
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}

pub async fn get(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    answer(&state, &auth).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Choices {
    voicemail: Option<bool>,
    lead: Option<bool>,
    missed_call: Option<bool>,
    summary: Option<bool>,
}

impl Choices {
    fn changes(&self) -> impl Iterator<Item = (Event, bool)> {
        [
            (Event::Voicemail, self.voicemail),
            (Event::Lead, self.lead),
            (Event::MissedCall, self.missed_call),
            (Event::Summary, self.summary),
        ]
        .into_iter()
        .filter_map(|(event, on)| on.map(|on| (event, on)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefsBody {
    #[serde(default)]
    email: Choices,
    #[serde(default)]
    sms: Choices,
    #[serde(default)]
    push: Choices,
}

pub async fn put(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<PrefsBody>,
) -> Result<HttpResponse, ApiError> {
    let changes: Vec<(Event, Channel, bool)> = [
        (Channel::Email, &body.email),
        (Channel::Sms, &body.sms),
        (Channel::Push, &body.push),
    ]
    .into_iter()
    .flat_map(|(channel, choices)| choices.changes().map(move |(e, on)| (e, channel, on)))
    .collect();
    let user = auth.principal.user_id;
    state
        .db
        .query(move |c| {
            for (event, channel, on) in changes {
                outbox::set_pref(c, user, event, channel, on)?;
            }
            Ok(())
        })
        .await?;
    answer(&state, &auth).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    start: String,
    end: String,
}

/// `PATCH /api/me`: a field left out is kept; `null` clears the mobile or the quiet hours.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeBody {
    #[serde(default, with = "serde_with_null")]
    mobile: Option<Option<String>>,
    #[serde(default, with = "serde_with_null")]
    quiet_hours: Option<Option<QuietHours>>,
    summary_hour: Option<u32>,
}

/// Tells a missing field (`None`) from an explicit `null` (`Some(None)`).
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

fn hhmm(field: &str, value: &str) -> Result<String, ApiError> {
    parse_hhmm(value.trim())
        .map(|t| t.format("%H:%M").to_string())
        .ok_or_else(|| {
            ApiError::new(
                codes::INVALID_FIELD,
                format!("{field}: '{value}' is not a time: write it as HH:MM, e.g. 21:00"),
            )
        })
}

pub async fn patch_me(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<MeBody>,
) -> Result<HttpResponse, ApiError> {
    let (user, org) = (auth.principal.user_id, auth.org_id());
    let body = body.into_inner();
    let country = state.db.query(move |c| orgs::country(c, org)).await?;
    let mobile = match body.mobile {
        Some(Some(m)) if !m.trim().is_empty() => Some(Some(
            typed_number("mobile", &m, &country)?.as_str().to_string(),
        )),
        Some(_) => Some(None),
        None => None,
    };
    let quiet = match body.quiet_hours {
        Some(Some(q)) => {
            let (start, end) = (
                hhmm("quietHours.start", &q.start)?,
                hhmm("quietHours.end", &q.end)?,
            );
            if start == end {
                return Err(ApiError::new(codes::INVALID_FIELD,
                    "quietHours.end: must differ from the start (clear quiet hours to be told at any hour)",
                ));
            }
            Some(Some((start, end)))
        }
        Some(None) => Some(None),
        None => None,
    };
    if let Some(h) = body.summary_hour.filter(|h| *h > 23) {
        return Err(ApiError::new(
            codes::INVALID_FIELD,
            format!("summaryHour: {h} is not an hour of the day (0 to 23)"),
        ));
    }
    let summary_hour = body.summary_hour;
    state
        .db
        .query(move |c| {
            let mut reach = users::reach(c, user)?;
            if let Some(m) = mobile {
                reach.mobile = m;
            }
            if let Some(q) = quiet {
                reach.quiet = q;
            }
            if let Some(h) = summary_hour {
                reach.summary_hour = h;
            }
            users::set_reach(c, user, &reach)
        })
        .await?;
    answer(&state, &auth).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    p256dh: String,
    auth: String,
}

/// A browser's `PushSubscription.toJSON()`, and what the device calls itself.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionBody {
    endpoint: String,
    keys: Keys,
    #[serde(default)]
    device: Option<String>,
}

/// `POST /api/me/push`: this device gets the user's notifications by push.
pub async fn subscribe(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<SubscriptionBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    state
        .pusher
        .check_endpoint(&b.endpoint)
        .await
        .map_err(|e| ApiError::new(codes::INVALID_FIELD, format!("endpoint: {e}")))?;
    let p256dh = crate::frontdesk::push::decode(&b.keys.p256dh)
        .ok()
        .filter(|k| p256::PublicKey::from_sec1_bytes(k).is_ok())
        .ok_or_else(|| {
            ApiError::new(codes::INVALID_FIELD,
                "keys.p256dh: not a P-256 public key in base64url, as PushSubscription.toJSON() gives it",
            )
        })?;
    let auth_secret = crate::frontdesk::push::decode(&b.keys.auth)
        .ok()
        .filter(|a| a.len() == 16)
        .ok_or_else(|| {
            ApiError::new(codes::INVALID_FIELD,
                "keys.auth: not a 16-byte secret in base64url, as PushSubscription.toJSON() gives it",
            )
        })?;
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (p256dh, auth_secret) = (b64.encode(p256dh), b64.encode(auth_secret));
    let device: String = b
        .device
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    let user = auth.principal.user_id;
    let endpoint = b.endpoint;
    let id = state
        .db
        .query(move |c| push::upsert(c, user, &endpoint, &p256dh, &auth_secret, &device))
        .await?;
    Ok(HttpResponse::Created().json(json!({ "id": id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeBody {
    endpoint: String,
}

/// `DELETE /api/me/push`: this device (by its endpoint) stops getting pushes.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    auth: Auth,
    body: web::Json<UnsubscribeBody>,
) -> Result<HttpResponse, ApiError> {
    let (user, endpoint) = (auth.principal.user_id, body.into_inner().endpoint);
    let removed = state
        .db
        .query(move |c| push::delete_endpoint(c, user, &endpoint))
        .await?;
    if !removed {
        return Err(ApiError::not_found("that device's subscription"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/me/push/{id}`: one of the user's devices, from the list in Settings.
pub async fn remove_device(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (user, id) = (auth.principal.user_id, path.into_inner());
    let removed = state
        .db
        .query(move |c| push::delete(c, id, Some(user)))
        .await?;
    if !removed {
        return Err(ApiError::not_found(format!("device {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}
