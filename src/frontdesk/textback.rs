//! The missed-call text-back (SPEC §3.6): scheduled when a call ends missed (for the end
//! of quiet hours when it ends inside them), decided and sent once. A claim on the call
//! row makes it exactly-once whatever the number of status callbacks, sweeps or restarts;
//! a deferred one is cancelled, with the reason, when it has become pointless.

use super::messaging::{self, Outbound, Sent};
use super::{FrontDesk, JobContext};
use crate::db::{blocklist, callflows, calls, leads, messages, numbers, optouts};
use crate::domain::callflow::CallFlow;
use crate::domain::events::CallEvent;
use crate::domain::state::{Direction, MessageKind, MessageStatus, TextbackState};
use crate::domain::textback::{decide, deferred_until, outcome, Outcome, TextbackFacts};
use crate::domain::FlagKey;
use crate::metrics::TEXTBACKS;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use std::sync::Arc;

/// Schedules the one text-back of a missed call for `due`, or, when `due` falls in the
/// flow's quiet hours, for their end (recorded on the timeline). `true` when it is due
/// soon (the caller runs it after the delay); a deferred one is left to the sweep.
pub fn schedule(
    c: &Connection,
    call_id: i64,
    due: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
    flow: &CallFlow,
) -> rusqlite::Result<bool> {
    let deferred = deferred_until(due, tz, flow.textback.quiet_hours.as_ref());
    let at = crate::db::format_time(deferred.unwrap_or(due));
    if !calls::schedule_textback(c, call_id, &at, deferred.is_some())? {
        return Ok(false);
    }
    if let Some(when) = deferred {
        record_deferral(c, call_id, when, tz)?;
    }
    Ok(deferred.is_none())
}

/// The timeline's "scheduled for 08:00".
fn record_deferral(
    c: &Connection,
    call_id: i64,
    when: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
) -> rusqlite::Result<bool> {
    calls::record(
        c,
        call_id,
        &CallEvent::TextbackScheduled {
            due_at: &crate::db::format_time(when),
            local_time: &when.with_timezone(&tz).format("%H:%M").to_string(),
        },
    )
}

/// Why a pending text-back is no longer wanted, if it is not.
fn pointless(
    c: &Connection,
    call: &calls::Call,
    business: &str,
) -> rusqlite::Result<Option<&'static str>> {
    let caller = call.from_number.as_deref().unwrap_or_default();
    // Opting out while a text-back waited cancels it (before the call, it blocks it).
    if call.textback_deferred && optouts::is_opted_out(c, business, caller)? {
        return Ok(Some("opted_out"));
    }
    if calls::answered_later(c, call)? {
        return Ok(Some("answered_later"));
    }
    let since = call.ended_at.as_deref().unwrap_or(&call.started_at);
    if messages::texted_in_since(c, business, caller, since)? {
        return Ok(Some("texted_in"));
    }
    Ok(None)
}

/// Queues the missed-call notifications for the users who want them (nobody by email or
/// text unless they chose it: the text-back answers the caller and the call is on the
/// to-do list; a subscribed device gets a push).
fn missed_call_notice(
    c: &Connection,
    number: &numbers::Resolved,
    call: &calls::Call,
    public_url: &str,
    senders: crate::db::outbox::Senders,
    now: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<crate::db::outbox::Queued> {
    let country = crate::db::orgs::country(c, number.org_id)?;
    let caller = match call.from_number.as_deref() {
        Some(n) => crate::db::contacts::called(c, number.org_id, n, &country)?,
        None => "A withheld number".to_string(),
    };
    let line = number
        .friendly_name
        .clone()
        .unwrap_or_else(|| number.e164.clone());
    let url = format!("{public_url}/#calls/{}", call.id);
    let lead = format!("{caller} called {line} and nobody answered.");
    let (text, html) = super::mail::compose(&lead, None, "See the call and follow it up", &url);
    crate::db::outbox::enqueue(
        c,
        &crate::db::outbox::Notice {
            org_id: number.org_id,
            only: None,
            event: crate::db::outbox::Event::MissedCall,
            key: &format!("missed_call:{}", call.id),
            subject: &format!("Missed call from {caller} on {line}"),
            text: &text,
            html: &html,
            short: &format!("{lead} {url}"),
            url: &url,
            voicemail_id: None,
            phone_number_id: Some(number.id),
            call_id: Some(call.id),
            lead_id: None,
        },
        senders,
        now,
    )
}

/// Processes the text-back of `call_id` after `delay` seconds, in the background.
pub fn spawn(desk: &Arc<FrontDesk>, call_id: i64, delay: u64) {
    let desk = desk.clone();
    tokio::spawn(async move {
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(delay)).await;
        }
        process(&desk, call_id).await;
    });
}

enum Plan {
    Done,
    Blocked(&'static str),
    Cancelled(&'static str),
    Send(Outbound),
}

/// Decides and sends (or blocks) the text-back of one call, once: decided in one write
/// job (`plan`), sent, and the result recorded (`send`).
pub async fn process(desk: &FrontDesk, call_id: i64) {
    let ctx = desk.job_context();
    let plan = desk.db.write(move |c| plan(c, &ctx, call_id)).await;
    desk.notices_queued();
    match plan {
        Ok(Plan::Done) => {}
        Ok(Plan::Blocked(reason)) => {
            desk.metrics
                .incr(TEXTBACKS, &[("result", "blocked"), ("reason", reason)]);
        }
        Ok(Plan::Cancelled(reason)) => {
            desk.metrics
                .incr(TEXTBACKS, &[("result", "cancelled"), ("reason", reason)]);
        }
        Ok(Plan::Send(out)) => send(desk, call_id, out).await,
        Err(e) => log::error!("text-back for call {call_id} failed before sending: {e}"),
    }
}

/// Claims the call's text-back and decides it from what is known now; the missed call's
/// lead, notices and webhook are written with the claim.
fn plan(c: &Connection, ctx: &JobContext, call_id: i64) -> rusqlite::Result<Plan> {
    if !calls::claim_textback(c, call_id)? {
        return Ok(Plan::Done);
    }
    let Some(call) = calls::by_id(c, call_id)? else {
        return Ok(Plan::Done);
    };
    let Some(number) = call
        .phone_number_id
        .map(|id| numbers::resolve_id(c, id))
        .transpose()?
        .flatten()
    else {
        calls::set_textback_state(c, call_id, TextbackState::Skipped)?;
        return Ok(Plan::Done);
    };
    let flow = callflows::for_number(c, number.org_id, Some(number.id))?;
    // Re-derive: a dial result or voicemail that arrived since the call ended wins.
    let o = outcome(
        calls::facts(c, &call)?,
        flow.textback.misdial_threshold_secs,
    );
    let still_missed = o == Outcome::Missed
        || (o == Outcome::Voicemail && flow.textback.voicemail_counts_as_missed);
    if !still_missed
        || !ctx
            .flags
            .is_enabled(c, number.org_id, FlagKey::MissedCallTextback)?
    {
        calls::set_outcome(c, call_id, o)?;
        calls::set_textback_state(c, call_id, TextbackState::Skipped)?;
        calls::record(c, call_id, &CallEvent::TextbackNotNeeded { outcome: o })?;
        return Ok(Plan::Done);
    }
    if let Some(reason) = pointless(c, &call, &number.e164)? {
        calls::set_textback_state(c, call_id, TextbackState::Cancelled)?;
        calls::record(c, call_id, &CallEvent::TextbackCancelled { reason })?;
        return Ok(Plan::Cancelled(reason));
    }
    let lead_id = lead(c, &number, &call)?;
    missed_call_notice(c, &number, &call, &ctx.public_url, ctx.senders, ctx.now)?;
    super::webhooks::emit_call(c, number.org_id, "call.missed", call_id, None)?;
    let tz = number.org_timezone.parse().unwrap_or(chrono_tz::UTC);
    // Quiet hours began (or moved) since it was scheduled: wait for their end.
    if let Some(when) = deferred_until(ctx.now, tz, flow.textback.quiet_hours.as_ref()) {
        calls::defer_textback(c, call_id, &crate::db::format_time(when))?;
        record_deferral(c, call_id, when, tz)?;
        return Ok(Plan::Done);
    }
    decide_text(c, ctx.now, &number, &call, &flow, lead_id)
}

/// The missed call opens (or joins) the caller's conversation on this number, so the call,
/// the text-back and the replies are one thing to follow up (SPEC §7).
fn lead(
    c: &Connection,
    number: &numbers::Resolved,
    call: &calls::Call,
) -> rusqlite::Result<Option<i64>> {
    let caller = call
        .from_number
        .as_deref()
        .map(crate::domain::PhoneNumber::parse);
    let Some(Ok(caller)) = caller else {
        return Ok(None);
    };
    let (id, _) = leads::open_or_create(
        c,
        number.org_id,
        number.id,
        caller.as_str(),
        Some(call.id),
        "sms",
    )?;
    Ok(Some(id))
}

/// The text to send and to whom (`domain::textback::decide`), or the blocked text stored
/// with its reason.
fn decide_text(
    c: &Connection,
    now: DateTime<Utc>,
    number: &numbers::Resolved,
    call: &calls::Call,
    flow: &CallFlow,
    lead_id: Option<i64>,
) -> rusqlite::Result<Plan> {
    let call_id = call.id;
    let caller = call.from_number.clone().unwrap_or_default();
    let last = messages::last_textback_at(c, &number.e164, &caller)?
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let decision = decide(&TextbackFacts {
        caller: &caller,
        opted_out: optouts::is_opted_out(c, &number.e164, &caller)?,
        last_textback_at: last,
        now,
        settings: &flow.textback,
        stir_verstat: call.stir_verstat.as_deref(),
        blocklisted: blocklist::blocks(c, number.org_id, &caller)?,
    });
    let text = if call.textback_deferred {
        flow.textback.deferred_message.clone()
    } else {
        flow.textback.message.clone()
    };
    let reason = match decision {
        Ok(to) => {
            return Ok(Plan::Send(
                Outbound::from_number(number, to.to_string(), text, MessageKind::Textback)
                    .call(call_id)
                    .lead(lead_id),
            ))
        }
        Err(reason) => reason.as_str(),
    };
    messages::insert(
        c,
        &messages::NewMessage {
            org_id: Some(number.org_id),
            sid: None,
            direction: Direction::Outbound,
            from: &number.e164,
            to: &caller,
            phone_number_id: Some(number.id),
            call_id: Some(call_id),
            lead_id,
            body: &text,
            kind: MessageKind::Textback,
            status: MessageStatus::Blocked,
            blocked_reason: Some(reason),
            at: now,
        },
    )?;
    calls::set_textback_state(c, call_id, TextbackState::Blocked)?;
    calls::record(
        c,
        call_id,
        &CallEvent::TextbackBlocked {
            reason,
            provider_code: None,
        },
    )?;
    Ok(Plan::Blocked(reason))
}

/// Sends the decided text-back and records how it went on the call.
async fn send(desk: &FrontDesk, call_id: i64, out: Outbound) {
    let org = out.org_id;
    let result = messaging::send(desk, out).await;
    // What is recorded once the send is known, by the writer below.
    enum Done {
        Sent(String),
        Blocked(&'static str, Option<i64>),
    }
    let (state_text, done) = match &result {
        Ok(Sent::Sent { sid, .. }) => {
            desk.metrics
                .incr(TEXTBACKS, &[("result", "sent"), ("reason", "")]);
            (TextbackState::Sent, Done::Sent(sid.clone()))
        }
        Ok(Sent::Blocked { reason, code, .. }) => {
            desk.metrics
                .incr(TEXTBACKS, &[("result", "blocked"), ("reason", reason)]);
            (TextbackState::Blocked, Done::Blocked(reason, *code))
        }
        Ok(Sent::Duplicate) => return,
        Err(e) => {
            log::error!("text-back for call {call_id} could not be stored: {e}");
            return;
        }
    };
    let _ = desk
        .db
        .write(move |c| {
            calls::set_textback_state(c, call_id, state_text)?;
            if let (Done::Sent(sid), Some(org)) = (&done, org) {
                let sid = Some(("messageSid", serde_json::json!(sid)));
                super::webhooks::emit_call(c, org, "textback.sent", call_id, sid)?;
            }
            let event = match &done {
                Done::Sent(sid) => CallEvent::TextbackSent { sid },
                Done::Blocked(reason, code) => CallEvent::TextbackBlocked {
                    reason,
                    provider_code: *code,
                },
            };
            calls::record(c, call_id, &event)
        })
        .await;
}
