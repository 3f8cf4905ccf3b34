//! `GET /api/calls` (filters, paging), `GET /api/calls/{id}` (with its timeline) and the
//! consent ledger as CSV (SPEC §1, §3.4).

use super::export::parse_time;
use super::{page_limit, views};
use crate::db::{calls, ledger, messages};
use crate::domain::textback::Outcome;
use crate::domain::PhoneNumber;
use crate::error::{codes, ApiError};
use crate::http::auth::Auth;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CallsQuery {
    number: Option<String>,
    caller: Option<String>,
    call_sid: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    before: Option<i64>,
    /// `csv`: the whole range as CSV (see [`super::export`]).
    format: Option<String>,
}

/// A number filter as typed (`4155550123`, `(415) 555-0123`, `+1…`), read in `country`.
fn parse_number(field: &str, value: &str, country: &str) -> Result<String, ApiError> {
    if let Ok(p) = PhoneNumber::parse(value) {
        return Ok(p.to_string());
    }
    crate::domain::typed::read(value, country)
        .map(|p| p.to_string())
        .map_err(|e| ApiError::new(codes::INVALID_QUERY, format!("{field}: {e}")))
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<CallsQuery>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let org_id = auth.org_id();
    let range = (q.from.as_deref(), q.to.as_deref());
    let export = &super::export::CALLS;
    if let Some(csv) =
        super::export::if_wanted(&state, &req, org_id, q.format.as_deref(), range, export).await?
    {
        return Ok(csv);
    }
    // The org's country is read only when a number filter is not already E.164.
    let typed = [&q.number, &q.caller]
        .iter()
        .any(|v| v.as_deref().is_some_and(|n| PhoneNumber::parse(n).is_err()));
    let country = if typed {
        state
            .db
            .query(move |c| crate::db::orgs::country(c, org_id))
            .await?
    } else {
        crate::domain::typed::DEFAULT_COUNTRY.to_string()
    };
    let outcome = q
        .outcome
        .as_deref()
        .map(Outcome::parse)
        .transpose()
        .map_err(|e| ApiError::new(codes::INVALID_QUERY, format!("outcome: {e}")))?;
    let filter = calls::CallFilter {
        number: q
            .number
            .as_deref()
            .map(|n| parse_number("number", n, &country))
            .transpose()?,
        caller: q
            .caller
            .as_deref()
            .map(|n| parse_number("caller", n, &country))
            .transpose()?,
        call_sid: q.call_sid,
        outcome,
        from: q
            .from
            .as_deref()
            .map(|t| parse_time("from", t))
            .transpose()?,
        to: q.to.as_deref().map(|t| parse_time("to", t)).transpose()?,
        before: q.before,
        limit: page_limit(q.limit),
    };
    views::displayed_query(&state.db, org_id, move |c| {
        let rows = calls::list(c, org_id, &filter)?;
        let next = rows.last().map(|c| c.id);
        let mut list = json!(views::all::<_, views::Call>(&rows));
        with_callbacks(c, &rows, &mut list)?;
        Ok(json!({ "calls": list, "nextBefore": next }))
    })
    .await
}

/// Adds to each outbound call placed by "Call back" (SPEC §12) who placed it and how each
/// side went, as `callback`.
fn with_callbacks(
    c: &rusqlite::Connection,
    rows: &[calls::Call],
    shown: &mut serde_json::Value,
) -> rusqlite::Result<()> {
    for (row, view) in rows.iter().zip(shown.as_array_mut().into_iter().flatten()) {
        if row.direction != crate::domain::state::Direction::Outbound {
            continue;
        }
        if let Some(cb) = crate::db::callbacks::by_call(c, row.id)? {
            view["callback"] = json!(cb);
        }
    }
    Ok(())
}

pub async fn detail(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, id) = (auth.org_id(), path.into_inner());
    let found = state
        .db
        .query(move |c| {
            let Some(call) = calls::get(c, org_id, id)? else {
                return Ok(None);
            };
            let events = calls::events(c, id)?;
            let texts = messages::for_call(c, id)?;
            let reference = call
                .call_sid
                .clone()
                .or_else(|| call.vapi_call_id.clone())
                .unwrap_or_default();
            let webhooks = ledger::for_reference(c, &reference, Some(org_id))?;
            let mut shown = json!([views::Call::from(&call)]);
            with_callbacks(c, std::slice::from_ref(&call), &mut shown)?;
            let body = json!({
                "call": shown[0],
                "events": views::all::<_, views::CallEvent>(&events),
                "messages": views::all::<_, views::Message>(&texts),
                "webhooks": views::all::<_, views::Webhook>(&webhooks),
            });
            let shown = views::shown_for(c, org_id, &body)?;
            Ok(Some((body, shown)))
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("call {id}")))?;
    Ok(views::displayed(found.0, &found.1))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentQuery {
    from: Option<String>,
    to: Option<String>,
}

fn csv_field(s: &str) -> String {
    // Quote every field; a leading =, - or @ is prefixed so spreadsheets do not run it
    // (phone numbers keep their +: quoted, they stay text).
    let safe = if s.starts_with(['=', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", safe.replace('"', "\"\""))
}

/// `GET /api/calls/consent.csv`: every call's consent outcome with its time (SPEC §3.4).
pub async fn consent_csv(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<ConsentQuery>,
) -> Result<HttpResponse, ApiError> {
    let from = q
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?;
    let to = q.to.as_deref().map(|t| parse_time("to", t)).transpose()?;
    let org_id = auth.org_id();
    let rows = state
        .db
        .query(move |c| {
            calls::consent_ledger(
                c,
                org_id,
                &from.unwrap_or_default(),
                &to.unwrap_or_else(|| "9999".into()),
            )
        })
        .await?;
    let mut csv = String::from("call_id,call_sid,started_at,from,to,consent_outcome,consent_at\n");
    for (id, sid, started, from, to, outcome, at) in rows {
        let fields = [id.to_string(), sid, started, from, to, outcome, at];
        csv.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push('\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"consent-ledger.csv\"",
        ))
        .body(csv))
}
