//! Vapi server messages (SPEC §4): the assistant for an inbound AI call, race-free call
//! tracking whatever order and however often events arrive, and the built-in tools. Each
//! message is one job for the database writer, so concurrent deliveries serialise.

use super::FrontDesk;
use super::FrontdeskError;
use crate::db::{agents, calls, leads, numbers, orgs};
use crate::domain::events::{CallEvent, VapiAnswer, VapiMessageKind};
use crate::domain::phone::Party;
use crate::domain::state::{CallStatus, Direction};
use crate::domain::textback::Outcome;
use crate::domain::vapi::{
    asks_for_call_back, call_status, direction, never_reached_assistant, outcome, Message,
    MessageType,
};
use crate::domain::FlagKey;
use rusqlite::Connection;
use serde_json::{json, Value};
use std::sync::Arc;

pub const NO_AGENT_MESSAGE: &str =
    "Sorry, no one can take your call right now. Please call back later.";
pub const ASSISTANT_FALLBACKS: &str = "switchboard_vapi_assistant_fallback_total";
/// AI calls that ended on a failure reason, by reason.
pub const FAILED_CALLS: &str = "switchboard_vapi_failed_calls_total";

/// Resolves the number and upserts the call (when the message names one).
fn context(
    c: &Connection,
    m: &Message,
) -> rusqlite::Result<(Option<numbers::Resolved>, Option<i64>)> {
    let by_id = match m.phone_number_id.as_deref() {
        Some(id) => numbers::resolve_vapi(c, id)?,
        None => None,
    };
    // Without a known Vapi id, the number itself (when it is one) names the line.
    let number = match (by_id, m.phone_number.as_deref().map(Party::parse)) {
        (Some(n), _) => Some(n),
        (None, Some(Party::Number(n))) => numbers::resolve(c, &n)?,
        (None, _) => None,
    };
    let Some(call_id) = m.call_id.as_deref() else {
        return Ok((number, None));
    };
    let dir = direction(m.call_type.as_deref());
    let ours = number.as_ref().map(|n| n.e164.as_str());
    let (from, to) = if dir == Direction::Outbound {
        (ours, m.customer_number.as_deref())
    } else {
        (m.customer_number.as_deref(), ours)
    };
    let id = calls::upsert_vapi(
        c,
        &calls::VapiCall {
            vapi_call_id: call_id,
            org_id: number.as_ref().map(|n| n.org_id),
            direction: dir,
            from,
            to,
            phone_number_id: number.as_ref().map(|n| n.id),
            agent_id: number.as_ref().and_then(|n| n.agent_id),
        },
    )?;
    Ok((number, Some(id)))
}

fn dedup_key(m: &Message) -> String {
    format!(
        "vapi:{}:{}:{}",
        m.kind,
        m.status.as_deref().unwrap_or(""),
        m.timestamp_ms.map(|t| t.to_string()).unwrap_or_default()
    )
}

pub async fn handle(desk: &Arc<FrontDesk>, m: Message) -> Result<Value, FrontdeskError> {
    match &m.kind {
        MessageType::AssistantRequest => assistant_request(desk, m).await,
        MessageType::StatusUpdate
        | MessageType::EndOfCallReport
        | MessageType::Hang
        | MessageType::ConversationUpdate => track(desk, m).await,
        MessageType::ToolCalls => tool_calls(desk, m).await,
        MessageType::TransferDestinationRequest => transfer_destination(desk, m).await,
        MessageType::Other(other) => {
            log::info!("Vapi message type '{other}' is not handled; answered 200 {{}}");
            Ok(json!({}))
        }
    }
}

enum Decision {
    Assistant(String),
    Transfer(String, Option<String>),
    Refuse(String, &'static str),
}

/// Which assistant answers: the agent linked to the number; otherwise the org's
/// fallback number, otherwise a spoken error. Never a silent drop.
async fn assistant_request(desk: &FrontDesk, m: Message) -> Result<Value, FrontdeskError> {
    let flags = desk.flags.clone();
    let key = dedup_key(&m);
    let decision = desk
        .db
        .write(move |c| {
            let (number, call_id) = context(c, &m)?;
            let decision = match &number {
                None => Decision::Refuse(NO_AGENT_MESSAGE.into(), "unknown_number"),
                Some(n) => {
                    let enabled = flags.is_enabled(c, n.org_id, FlagKey::AiAgents)?;
                    let assistant = match n.agent_id {
                        Some(id) if enabled => {
                            agents::get(c, n.org_id, id)?.and_then(|a| a.vapi_assistant_id)
                        }
                        _ => None,
                    };
                    match assistant {
                        Some(a) => Decision::Assistant(a),
                        None => {
                            let reason = if enabled {
                                "no_agent"
                            } else {
                                "ai_agents_disabled"
                            };
                            match orgs::fallback(c, n.org_id)? {
                                (Some(number), message) => Decision::Transfer(number, message),
                                (None, message) => Decision::Refuse(
                                    message.unwrap_or_else(|| NO_AGENT_MESSAGE.into()),
                                    reason,
                                ),
                            }
                        }
                    }
                }
            };
            if let Some(id) = call_id {
                let answer = match &decision {
                    Decision::Assistant(a) => VapiAnswer::Assistant(a),
                    Decision::Transfer(n, _) => VapiAnswer::Transfer(n),
                    Decision::Refuse(_, reason) => VapiAnswer::Refused(reason),
                };
                calls::record(
                    c,
                    id,
                    &CallEvent::VapiAssistantRequest { answer, key: &key },
                )?;
                calls::advance_status(c, id, CallStatus::Ringing)?;
            }
            Ok(decision)
        })
        .await?;
    Ok(match decision {
        Decision::Assistant(id) => json!({ "assistantId": id }),
        Decision::Transfer(number, message) => {
            desk.metrics
                .incr(ASSISTANT_FALLBACKS, &[("result", "transfer")]);
            log::warn!("Vapi assistant-request without an agent: transferring to the org's fallback number");
            let mut dest = json!({ "type": "number", "number": number });
            if let Some(msg) = message {
                dest["message"] = json!(msg);
            }
            json!({ "destination": dest })
        }
        Decision::Refuse(message, reason) => {
            desk.metrics
                .incr(ASSISTANT_FALLBACKS, &[("result", reason)]);
            log::warn!(
                "Vapi assistant-request refused ({reason}): no agent and no fallback number"
            );
            json!({ "error": message })
        }
    })
}

/// What ending a call on a failed reason reported, once per call.
enum Failure {
    /// The caller never reached an assistant (seed 003's dropped inbound AI call).
    Dropped(String),
    Failed(String),
}

/// Status updates, end-of-call reports, hangs and conversation updates: upsert by call id,
/// never move state backwards, record the timeline once per distinct event. A message
/// without a call (Vapi's schema makes `call` optional) cannot be tied to a call: it is
/// acknowledged and logged, never refused, so Vapi does not retry it forever.
async fn track(desk: &FrontDesk, m: Message) -> Result<Value, FrontdeskError> {
    if m.kind == MessageType::Hang {
        desk.metrics.incr(
            crate::metrics::INVARIANT_VIOLATIONS,
            &[("name", "vapi_hang")],
        );
    }
    if m.call_id.is_none() {
        log::warn!(
            "Vapi {} message without message.call.id: acknowledged, nothing to attach it to (status {:?}, endedReason {:?})",
            m.kind,
            m.status,
            m.ended_reason
        );
        return Ok(json!({}));
    }
    let key = dedup_key(&m);
    let failure = desk
        .db
        .write(move |c| {
            let (_, Some(call_id)) = context(c, &m)? else {
                return Ok(None);
            };
            if let Some(kind) = VapiMessageKind::parse(m.kind.as_str()) {
                calls::record(
                    c,
                    call_id,
                    &CallEvent::VapiMessage {
                        kind,
                        status: m.status.as_deref(),
                        ended_reason: m.ended_reason.as_deref(),
                        cost: m.cost,
                        key: &key,
                    },
                )?;
            }
            let ended = match m.kind {
                MessageType::StatusUpdate if m.status.as_deref() == Some("ended") => true,
                MessageType::EndOfCallReport => true,
                MessageType::StatusUpdate => {
                    if let Some(status) = m.status.as_deref().and_then(call_status) {
                        calls::advance_status(c, call_id, status)?;
                    }
                    false
                }
                _ => false,
            };
            if !ended {
                return Ok(None);
            }
            end(c, call_id, m)
        })
        .await?;
    if let Some(failure) = failure {
        report(desk, failure);
    }
    Ok(json!({}))
}

/// A call's end (a final status or the end-of-call report): its report applied, a lead
/// when the AI promised a call back, and a failure, the first time it is told.
fn end(c: &rusqlite::Connection, call_id: i64, m: Message) -> rusqlite::Result<Option<Failure>> {
    let outcome = m.ended_reason.as_deref().map(outcome);
    let report = if m.kind == MessageType::StatusUpdate {
        calls::advance_status(c, call_id, CallStatus::Ended)?;
        calls::EndReport {
            ended_reason: m.ended_reason.clone(),
            outcome,
            ..Default::default()
        }
    } else {
        calls::EndReport {
            ended_reason: m.ended_reason.clone(),
            transcript: m.transcript.clone(),
            summary: m.summary.clone(),
            recording_url: m.recording_url.clone(),
            stereo_recording_url: m.stereo_recording_url.clone(),
            cost: m.cost,
            duration_secs: m.duration_secs,
            ended_at: m.ended_at.clone(),
            outcome: Some(outcome.unwrap_or(Outcome::AiHandled)),
        }
    };
    calls::apply_end_report(c, call_id, &report)?;
    if report.outcome == Some(Outcome::AiHandled)
        && report.summary.as_deref().is_some_and(asks_for_call_back)
    {
        callback_lead(c, call_id, report.summary.as_deref().unwrap_or_default())?;
    }
    let Some(reason) = m.ended_reason.filter(|_| outcome == Some(Outcome::Failed)) else {
        return Ok(None);
    };
    // Counted once per call, however many of its end messages say so.
    let first = calls::record(
        c,
        call_id,
        &CallEvent::VapiFailed {
            ended_reason: &reason,
        },
    )?;
    Ok(first.then(|| {
        if never_reached_assistant(&reason) {
            Failure::Dropped(reason)
        } else {
            Failure::Failed(reason)
        }
    }))
}
/// Counts and logs a failed AI call; one that never reached an assistant is an invariant.
fn report(desk: &FrontDesk, failure: Failure) {
    match failure {
        Failure::Dropped(reason) => {
            desk.metrics.incr(
                crate::metrics::INVARIANT_VIOLATIONS,
                &[("name", "vapi_call_dropped")],
            );
            desk.metrics.incr(FAILED_CALLS, &[("reason", &reason)]);
            log::error!("an inbound AI call never reached an assistant (endedReason {reason}): check the number's agent and the assistant-request answers");
        }
        Failure::Failed(reason) => {
            desk.metrics.incr(FAILED_CALLS, &[("reason", &reason)]);
            log::warn!("an AI call failed (endedReason {reason})");
        }
    }
}

/// The assistant wants to transfer but has no destination: the org's human fallback, or
/// an error Vapi speaks to the caller (never an empty answer, which Vapi cannot act on).
async fn transfer_destination(desk: &FrontDesk, m: Message) -> Result<Value, FrontdeskError> {
    let key = dedup_key(&m);
    let found = desk
        .db
        .write(move |c| {
            let (number, call_id) = context(c, &m)?;
            let found = match &number {
                Some(n) => Some(orgs::fallback(c, n.org_id)?),
                None => None,
            };
            if let Some(id) = call_id {
                let to = found.as_ref().and_then(|f| f.0.clone());
                calls::record(
                    c,
                    id,
                    &CallEvent::VapiTransferRequest {
                        fallback: to.as_deref(),
                        key: &key,
                    },
                )?;
            }
            Ok(found)
        })
        .await?;
    Ok(match found {
        Some((Some(number), _)) => json!({
            "destination": { "type": "number", "number": number },
            "message": { "type": "request-start", "content": "Transferring you now." },
        }),
        Some((None, message)) => {
            desk.metrics.incr(
                ASSISTANT_FALLBACKS,
                &[("result", "no_transfer_destination")],
            );
            log::warn!("Vapi asked where to transfer a call, but the org has no fallback number");
            json!({ "error": message.unwrap_or_else(|| "No one is available to take the call right now. Offer to take a message instead.".into()) })
        }
        None => {
            log::warn!(
                "Vapi asked where to transfer a call on a number this appliance does not hold"
            );
            json!({ "error": "This phone number is not set up on the appliance." })
        }
    })
}

/// `take_message` (a lead) and `transfer_to_human` (the org's fallback).
async fn tool_calls(desk: &Arc<FrontDesk>, m: Message) -> Result<Value, FrontdeskError> {
    let (public_url, senders, now) = (desk.public_url.clone(), desk.senders, desk.clock.now());
    let (results, notified) = desk
        .db
        .write(move |c| {
            let (number, call_id) = context(c, &m)?;
            let mut results = Vec::new();
            let mut notified = false;
            for tool in &m.tool_calls {
                let arg = |k: &str| tool.arguments.get(k).and_then(Value::as_str).map(str::to_string);
                let result = match (tool.name.as_str(), &number) {
                    ("take_message", Some(_)) if arg("message").is_none_or(|t| t.trim().is_empty()) => {
                        // Never tell the assistant a message was kept when there was none.
                        json!({ "toolCallId": tool.id, "name": tool.name,
                            "error": "No message was given. Ask the caller what they would like to pass on, then call take_message with it in 'message'." })
                    }
                    ("take_message", Some(n)) => {
                        let customer = arg("callbackNumber")
                            .or_else(|| arg("phone"))
                            .or_else(|| m.customer_number.clone())
                            .unwrap_or_else(|| "unknown".into());
                        let text = [arg("name").map(|n| format!("{n}: ")), arg("message")].into_iter().flatten().collect::<String>();
                        let (lead_id, _) = leads::open_or_create(c, n.org_id, n.id, &customer, call_id, "vapi")?;
                        // A redelivered tool call is recognised by its id on the call's timeline.
                        let first = match call_id {
                            Some(id) => calls::record(c, id, &CallEvent::VapiTakeMessage { lead_id, tool_call_id: &tool.id })?,
                            None => true,
                        };
                        if first {
                            leads::append_summary(c, lead_id, &text)?;
                        }
                        // Told in the transaction that kept the message.
                        notified |= super::notify::queue_lead(c, &super::notify::NewLead {
                            lead_id, number: n, customer: &customer, first_message: &text,
                            public_url: &public_url, senders, now,
                        })?;
                        json!({ "toolCallId": tool.id, "name": tool.name, "result": "Message taken. The team will get back to the caller soon." })
                    }
                    ("transfer_to_human", Some(n)) => match orgs::fallback(c, n.org_id)?.0 {
                        Some(number) => json!({ "toolCallId": tool.id, "name": tool.name, "result": format!("Transfer the caller to {number}.") }),
                        None => json!({ "toolCallId": tool.id, "name": tool.name,
                            "result": "No one is available to take the call right now. Offer to take a message instead." }),
                    },
                    (_, None) => json!({ "toolCallId": tool.id, "name": tool.name, "error": "This phone number is not set up on the appliance." }),
                    (other, _) => json!({ "toolCallId": tool.id, "name": other, "error": format!("unknown tool '{other}'") }),
                };
                results.push(result);
            }
            if let Some(id) = call_id {
                let tools = m.tool_calls.iter().map(|t| t.name.as_str()).collect();
                calls::record(c, id, &CallEvent::VapiToolCalls { tools, key: &dedup_key(&m) })?;
            }
            Ok((results, notified))
        })
        .await?;
    if notified {
        desk.notices_queued();
    }
    Ok(json!({ "results": results }))
}

/// An AI call whose summary asks for a call back opens (or joins) the caller's conversation
/// on that number with the summary in it, once however often Vapi repeats its end report.
fn callback_lead(c: &Connection, call_id: i64, summary: &str) -> rusqlite::Result<()> {
    let Some(call) = calls::by_id(c, call_id)? else {
        return Ok(());
    };
    let (Some(org), Some(number), Some(Ok(caller))) = (
        call.org_id,
        call.phone_number_id,
        call.from_number
            .as_deref()
            .map(crate::domain::PhoneNumber::parse),
    ) else {
        return Ok(());
    };
    let (lead_id, _) =
        leads::open_or_create(c, org, number, caller.as_str(), Some(call_id), "vapi")?;
    let first = calls::record(c, call_id, &CallEvent::VapiCallbackRequested { lead_id })?;
    if first {
        leads::append_summary(c, lead_id, summary)?;
    }
    Ok(())
}
