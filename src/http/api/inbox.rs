//! The owner's inbox: voicemails, messages and leads (SPEC §1 read API), marking them
//! handled, and replying to a lead by SMS.

use super::page_limit;
use super::views;
use crate::db::{audit, leads, messages, numbers, voicemails};
use crate::domain::phone::redact;
use crate::domain::state::MessageKind;
use crate::error::{codes, ApiError};
use crate::frontdesk::messaging::{self, Outbound, Sent};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use crate::providers::{ProviderError, ProviderErrorKind};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailQuery {
    handled: Option<bool>,
    limit: Option<u32>,
    before: Option<i64>,
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn voicemails(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<VoicemailQuery>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (org, handled, before, limit) = (auth.org_id(), q.handled, q.before, page_limit(q.limit));
    let range = (q.from.as_deref(), q.to.as_deref());
    if let Some(csv) = super::export::if_wanted(
        &state,
        &req,
        org,
        q.format.as_deref(),
        range,
        &super::export::VOICEMAILS,
    )
    .await?
    {
        return Ok(csv);
    }
    views::displayed_query(&state.db, org, move |c| {
        let rows = voicemails::list(c, org, handled, before, limit)?;
        // How long the org keeps recordings: "deleted after N days" (SPEC §13).
        let retention = crate::db::orgs::settings(c, org)?.and_then(|s| s.recording_retention_days);
        Ok(json!({
            "voicemails": views::all::<_, views::Voicemail>(&rows),
            "recordingRetentionDays": retention,
        }))
    })
    .await
}

/// A `Range` that cannot be satisfied: answered 416.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// A `Range: bytes=…` header against a body of `len` bytes (RFC 9110 §14): `Ok(None)` to
/// send the whole (no header, or several ranges, which a server may ignore), `Ok(Some((first,
/// last)))` inclusive.
pub fn byte_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        // The last N bytes.
        (true, false) => {
            let n: u64 = b.parse().map_err(|_| Unsatisfiable)?;
            if n == 0 || len == 0 {
                return Err(Unsatisfiable);
            }
            (len.saturating_sub(n), len - 1)
        }
        (false, _) => {
            let first: u64 = a.parse().map_err(|_| Unsatisfiable)?;
            let last = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                b.parse::<u64>()
                    .map_err(|_| Unsatisfiable)?
                    .min(len.saturating_sub(1))
            };
            if first >= len || last < first {
                return Err(Unsatisfiable);
            }
            (first, last)
        }
        (true, true) => return Err(Unsatisfiable),
    };
    Ok(Some(range))
}

/// `GET /api/voicemails/{id}/recording`: the audio as kept here (or, until it is, as
/// Twilio serves it), with `Range` requests for players that seek.
pub async fn recording(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<i64>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    use crate::frontdesk::mail::RecordingError;
    let id = path.into_inner();
    let audio = crate::frontdesk::mail::recording(&state.desk, id, Some(auth.org_id()))
        .await
        .map_err(|e| match e {
            RecordingError::NotFound(_) => ApiError::not_found(format!("voicemail {id}")),
            RecordingError::NoRecording(_) => {
                ApiError::not_found(format!("the recording of voicemail {id}"))
            }
            RecordingError::NoCredentials => ApiError::Unavailable(e.to_string()),
            RecordingError::Provider(p) => ApiError::Provider(p),
            RecordingError::Db(d) => d.into(),
        })?;
    let len = audio.bytes.len() as u64;
    let range = req
        .headers()
        .get(actix_web::http::header::RANGE)
        .and_then(|v| v.to_str().ok());
    let mut resp = match byte_range(range, len) {
        Ok(None) => HttpResponse::Ok(),
        Ok(Some(_)) => HttpResponse::PartialContent(),
        Err(Unsatisfiable) => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header(("Content-Range", format!("bytes */{len}")))
                .finish())
        }
    };
    resp.content_type(audio.content_type)
        .insert_header(("Accept-Ranges", "bytes"))
        .insert_header(("Cache-Control", "private, no-store"));
    Ok(match byte_range(range, len) {
        Ok(Some((first, last))) => resp
            .insert_header(("Content-Range", format!("bytes {first}-{last}/{len}")))
            .body(audio.bytes[first as usize..=last as usize].to_vec()),
        _ => resp.body(audio.bytes),
    })
}

#[cfg(test)]
mod range_tests {
    use super::byte_range;

    #[test]
    fn byte_ranges_read_as_rfc_9110_says() {
        assert_eq!(byte_range(None, 100), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(byte_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(Some("bytes=50-500"), 100), Ok(Some((50, 99))));
        assert_eq!(byte_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(
            byte_range(Some("bytes=100-"), 100),
            Err(super::Unsatisfiable)
        );
        assert_eq!(
            byte_range(Some("bytes=9-3"), 100),
            Err(super::Unsatisfiable)
        );
        assert_eq!(byte_range(Some("bytes=x-"), 100), Err(super::Unsatisfiable));
        assert_eq!(byte_range(Some("items=0-1"), 100), Ok(None));
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandledBody {
    handled: bool,
}

pub async fn update_voicemail(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<HandledBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, handled) = (path.into_inner(), body.handled);
    let vm = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let vm =
                voicemails::set_handled(&tx, auth.org_id(), id, handled, auth.principal.user_id)?;
            if vm.is_some() {
                audit::record(
                    &tx,
                    auth.audit(
                        "voicemail.update",
                        format!("voicemail:{id}"),
                        json!({ "handled": handled }),
                    ),
                )?;
            }
            tx.commit()?;
            Ok(vm)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("voicemail {id}")))?;
    Ok(HttpResponse::Ok().json(json!({ "voicemail": views::Voicemail::from(&vm) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessagesQuery {
    lead_id: Option<i64>,
    limit: Option<u32>,
    before: Option<i64>,
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/leads`: paging, or a CSV export over a range.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadsQuery {
    limit: Option<u32>,
    before: Option<i64>,
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn messages(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<MessagesQuery>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (org, lead, before, limit) = (auth.org_id(), q.lead_id, q.before, page_limit(q.limit));
    let range = (q.from.as_deref(), q.to.as_deref());
    if let Some(csv) = super::export::if_wanted(
        &state,
        &req,
        org,
        q.format.as_deref(),
        range,
        &super::export::MESSAGES,
    )
    .await?
    {
        return Ok(csv);
    }
    views::displayed_query(&state.db, org, move |c| {
        let rows = messages::list(c, org, lead, before, limit)?;
        Ok(json!({ "messages": views::all::<_, views::Message>(&rows) }))
    })
    .await
}

pub async fn leads(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<LeadsQuery>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (org, before, limit) = (auth.org_id(), q.before, page_limit(q.limit));
    let range = (q.from.as_deref(), q.to.as_deref());
    if let Some(csv) = super::export::if_wanted(
        &state,
        &req,
        org,
        q.format.as_deref(),
        range,
        &super::export::LEADS,
    )
    .await?
    {
        return Ok(csv);
    }
    views::displayed_query(&state.db, org, move |c| {
        let rows = leads::list(c, org, before, limit)?;
        Ok(json!({ "leads": views::all::<_, views::Lead>(&rows) }))
    })
    .await
}

/// `GET /api/inbox`: what waits for the owner (the dashboard's navigation shows it).
pub async fn counts(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let now = state.desk.clock.now();
    let (voicemails, leads, todo) = state
        .db
        .query(move |c| {
            Ok((
                voicemails::waiting(c, org)?,
                leads::open_count(c, org)?,
                crate::db::todo::open(c, org, now)?.len(),
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "voicemailsWaiting": voicemails, "leadsOpen": leads, "todo": todo })))
}

/// `GET /api/leads/{id}`: one lead, with the voicemail left on the call that started it
/// (its messages are `GET /api/messages?leadId=`).
pub async fn lead(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (auth.org_id(), path.into_inner());
    let found = state
        .db
        .query(move |c| {
            let Some(lead) = leads::get(c, org, id)? else {
                return Ok(None);
            };
            let voicemails = match lead.call_id {
                Some(call) => voicemails::for_call(c, org, call)?,
                None => Vec::new(),
            };
            let body = json!({
                "lead": views::Lead::from(&lead),
                "voicemails": views::all::<_, views::Voicemail>(&voicemails),
            });
            let shown = views::shown_for(c, org, &body)?;
            Ok(Some((body, shown)))
        })
        .await?;
    let (body, shown) = found.ok_or_else(|| ApiError::not_found(format!("lead {id}")))?;
    Ok(views::displayed(body, &shown))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadBody {
    status: String,
}

pub async fn update_lead(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<LeadBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let status = body.into_inner().status;
    if !matches!(status.as_str(), "open" | "handled") {
        return Err(ApiError::new(
            codes::INVALID_FIELD,
            format!("status '{status}' is not one of: open, handled"),
        ));
    }
    let lead = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            if !leads::set_status(&tx, auth.org_id(), id, &status)? {
                return Ok(None);
            }
            audit::record(
                &tx,
                auth.audit(
                    "lead.update",
                    format!("lead:{id}"),
                    json!({ "status": status }),
                ),
            )?;
            let lead = leads::get(&tx, auth.org_id(), id)?;
            tx.commit()?;
            Ok(lead)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("lead {id}")))?;
    Ok(HttpResponse::Ok().json(json!({ "lead": views::Lead::from(&lead) })))
}

/// Twilio's limit on a message body (it splits longer texts into segments up to this).
const MAX_REPLY_CHARS: usize = 1600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    body: String,
}

/// `POST /api/leads/{id}/messages`: the owner answers a lead by SMS from the business
/// number the customer wrote to. The text is recorded like every message, with its
/// status; an opted-out customer is not texted.
pub async fn reply(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<i64>,
    body: web::Json<ReplyBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let text = body.into_inner().body.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_REPLY_CHARS {
        return Err(ApiError::hinted(
            codes::INVALID_BODY,
            format!("the reply must be 1 to {MAX_REPLY_CHARS} characters"),
            "Write a shorter text, or call the customer.",
        ));
    }
    let org_id = auth.org_id();
    let (customer, number) = state
        .db
        .query(move |c| {
            let Some((customer, number_id)) = leads::reply_route(c, org_id, id)? else {
                return Ok((None, None));
            };
            let number = match number_id {
                Some(n) => numbers::resolve_id(c, n)?,
                None => None,
            };
            Ok((Some(customer), number))
        })
        .await?;
    let customer = customer.ok_or_else(|| ApiError::not_found(format!("lead {id}")))?;
    let number = number.ok_or_else(|| {
        ApiError::hinted(
            codes::NUMBER_RELEASED,
            "the number this customer wrote to is no longer active",
            "Call the customer, or text them from your phone.",
        )
    })?;
    let out = Outbound::from_number(&number, customer.clone(), text.clone(), MessageKind::Reply)
        .lead(Some(id));
    let message_id = match messaging::send(&state.desk, out).await? {
        Sent::Sent { message_id, .. } | Sent::Blocked { message_id, .. } => message_id,
        Sent::Duplicate => {
            return Err(ApiError::Internal(
                "a new reply was taken for a duplicate".into(),
            ))
        }
    };
    let message = state
        .db
        .run(move |c| -> Result<_, ApiError> {
            let tx = c.transaction()?;
            let detail = json!({ "message": message_id, "chars": text.chars().count() });
            audit::record(&tx, auth.audit("lead.reply", format!("lead:{id}"), detail))?;
            leads::touch(&tx, id)?;
            let message = messages::get(&tx, org_id, message_id)?
                .ok_or_else(|| ApiError::Internal("the stored reply vanished".into()))?;
            tx.commit()?;
            Ok(message)
        })
        .await?;
    match message.blocked_reason.as_deref() {
        None => {
            Ok(HttpResponse::Created().json(json!({ "message": views::Message::from(&message) })))
        }
        Some("opted_out") => Err(ApiError::hinted(
            codes::OPTED_OUT,
            format!(
                "{} texted STOP to this number, so they are not texted",
                redact(&customer)
            ),
            "They can text START to get texts again; call them instead.",
        )),
        Some("no_credentials") => Err(ApiError::hinted(
            codes::NO_CREDENTIALS,
            "no Twilio credentials are configured for this number",
            "Set SWITCHBOARD_TWILIO_ACCOUNT_SID and SWITCHBOARD_TWILIO_AUTH_TOKEN, then try again.",
        )),
        Some(reason) => {
            let kind = if reason == "provider_refused" {
                ProviderErrorKind::Rejected
            } else {
                ProviderErrorKind::Unavailable
            };
            let code = message.error_code.as_deref().and_then(|c| c.parse().ok());
            let said = message
                .error_message
                .as_deref()
                .unwrap_or("no reason given");
            Err(ApiError::Provider(ProviderError::twilio(
                kind, None, code, said,
            )))
        }
    }
}
