//! Vapi server messages (SPEC §4), parsed leniently: the envelope must be right, every
//! other field is optional and unknown fields and message types are accepted.

use super::state::{CallStatus, Direction};
use super::textback::Outcome;
use serde_json::Value;

/// A parsed `{"message": {...}}` envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: MessageType,
    pub call_id: Option<String>,
    pub call_type: Option<String>,
    pub phone_number_id: Option<String>,
    pub phone_number: Option<String>,
    pub customer_number: Option<String>,
    pub status: Option<String>,
    pub ended_reason: Option<String>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
    pub stereo_recording_url: Option<String>,
    pub cost: Option<f64>,
    pub duration_secs: Option<i64>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Epoch milliseconds, from a number or an ISO string.
    pub timestamp_ms: Option<i64>,
    pub tool_calls: Vec<ToolCall>,
}

/// A server message's `type`: the ones the front desk acts on, and any other (answered
/// `{}` and logged, as Vapi adds types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageType {
    AssistantRequest,
    StatusUpdate,
    EndOfCallReport,
    Hang,
    ConversationUpdate,
    ToolCalls,
    TransferDestinationRequest,
    Other(String),
}

impl MessageType {
    pub fn parse(kind: &str) -> MessageType {
        match kind {
            "assistant-request" => MessageType::AssistantRequest,
            "status-update" => MessageType::StatusUpdate,
            "end-of-call-report" => MessageType::EndOfCallReport,
            "hang" => MessageType::Hang,
            "conversation-update" => MessageType::ConversationUpdate,
            "tool-calls" => MessageType::ToolCalls,
            "transfer-destination-request" => MessageType::TransferDestinationRequest,
            other => MessageType::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MessageType::AssistantRequest => "assistant-request",
            MessageType::StatusUpdate => "status-update",
            MessageType::EndOfCallReport => "end-of-call-report",
            MessageType::Hang => "hang",
            MessageType::ConversationUpdate => "conversation-update",
            MessageType::ToolCalls => "tool-calls",
            MessageType::TransferDestinationRequest => "transfer-destination-request",
            MessageType::Other(other) => other,
        }
    }
}

impl std::fmt::Display for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// Arguments as an object (Vapi sends an object or a JSON-encoded string, under
    /// `function.arguments` or `parameters`).
    pub arguments: serde_json::Map<String, Value>,
}

fn s(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first(v: &Value, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|p| s(v, p))
}

/// Epoch ms from `1732230000000`, `1732230000` (seconds) or an RFC 3339 string.
pub fn timestamp_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            let x = n.as_f64()?;
            Some(if x > 1e11 {
                x as i64
            } else {
                (x * 1000.0) as i64
            })
        }
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis())
            .or_else(|| {
                s.parse::<f64>().ok().map(|x| {
                    if x > 1e11 {
                        x as i64
                    } else {
                        (x * 1000.0) as i64
                    }
                })
            }),
        _ => None,
    }
}

/// Why a body is not a Vapi envelope; the message names the problem.
pub fn parse(body: &[u8]) -> Result<Message, String> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Some(m) = root.get("message") else {
        return Err("the body has no \"message\" object: Vapi server messages look like {\"message\": {\"type\": …}}".into());
    };
    if !m.is_object() {
        return Err("\"message\" must be an object".into());
    }
    let Some(kind) = m
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Err("\"message.type\" is missing or not a string".into());
    };
    let tool_calls = m
        .get("toolCallList")
        .or_else(|| m.get("toolCalls"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(tool_call).collect())
        .unwrap_or_default();
    let cost = m
        .get("cost")
        .and_then(Value::as_f64)
        .or_else(|| m.pointer("/call/cost").and_then(Value::as_f64));
    let duration_secs = m
        .get("durationSeconds")
        .and_then(Value::as_f64)
        .map(|d| d.round() as i64)
        .or_else(|| {
            m.get("durationMs")
                .and_then(Value::as_f64)
                .map(|d| (d / 1000.0).round() as i64)
        });
    let started_at = first(m, &[&["startedAt"], &["call", "startedAt"]]);
    let ended_at = first(m, &[&["endedAt"], &["call", "endedAt"]]);
    // The report in Vapi's OpenAPI has no duration field: take it from the two times.
    let duration_secs = duration_secs
        .or_else(|| span_secs(started_at.as_deref()?, ended_at.as_deref()?))
        .filter(|d| (0..=MAX_CALL_SECS).contains(d));
    Ok(Message {
        kind: MessageType::parse(kind),
        call_id: first(m, &[&["call", "id"], &["callId"]]),
        call_type: first(m, &[&["call", "type"]]),
        phone_number_id: first(m, &[&["phoneNumber", "id"], &["call", "phoneNumberId"]]),
        phone_number: first(
            m,
            &[
                &["phoneNumber", "number"],
                &["call", "phoneNumber", "number"],
            ],
        ),
        customer_number: first(
            m,
            &[&["customer", "number"], &["call", "customer", "number"]],
        ),
        status: first(m, &[&["status"]]),
        ended_reason: first(m, &[&["endedReason"], &["call", "endedReason"]]),
        transcript: first(m, &[&["artifact", "transcript"], &["transcript"]]),
        summary: first(m, &[&["analysis", "summary"], &["summary"]]),
        recording_url: first(
            m,
            &[
                &["artifact", "recordingUrl"],
                &["recordingUrl"],
                &["artifact", "recording", "mono", "combinedUrl"],
            ],
        ),
        stereo_recording_url: first(
            m,
            &[&["artifact", "stereoRecordingUrl"], &["stereoRecordingUrl"]],
        ),
        cost,
        duration_secs,
        started_at,
        ended_at,
        timestamp_ms: m.get("timestamp").and_then(timestamp_ms),
        tool_calls,
    })
}

/// No phone call lasts longer than this (Vapi's own maximum is 12 h); a larger or negative
/// duration is a bad field, ignored rather than stored.
pub const MAX_CALL_SECS: i64 = 24 * 3600;

/// Whole seconds from one RFC 3339 time to another.
fn span_secs(start: &str, end: &str) -> Option<i64> {
    let start = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(end).ok()?;
    let ms = (end - start).num_milliseconds();
    Some((ms as f64 / 1000.0).round() as i64)
}

fn tool_call(v: &Value) -> Option<ToolCall> {
    let id = s(v, &["id"])?;
    let function = v.get("function").unwrap_or(v);
    let name = s(function, &["name"])?;
    // `function.arguments` (OpenAI style) or `parameters` (the shape Vapi's docs show).
    let arguments = match function
        .get("arguments")
        .or_else(|| v.get("arguments"))
        .or_else(|| v.get("parameters"))
        .or_else(|| function.get("parameters"))
    {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        },
        _ => serde_json::Map::new(),
    };
    Some(ToolCall {
        id,
        name,
        arguments,
    })
}

/// The call's outcome from Vapi's ended reason (SPEC §2 `outcome`). Vapi lists several
/// hundred reasons; they fall into families by prefix and wording: the caller reached a
/// person, was not reached, the call broke (provider, pipeline, assistant lookup, …), or the
/// assistant handled it to a normal end.
pub fn outcome(ended_reason: &str) -> Outcome {
    let r = ended_reason.to_ascii_lowercase();
    if matches!(
        r.as_str(),
        "assistant-forwarded-call"
            | "call.ending.hook-executed-transfer"
            | "call.ringing.hook-executed-transfer"
    ) {
        Outcome::Connected
    } else if matches!(
        r.as_str(),
        "customer-did-not-answer"
            | "customer-busy"
            | "voicemail"
            | "twilio-reported-customer-misdialed"
            | "call.forwarding.no-answer"
            | "call.forwarding.operator-busy"
            | "call.ringing.sip-inbound-caller-hungup-before-call-connect"
    ) {
        Outcome::Missed
    } else if r == "silence-timed-out" {
        // The caller stayed silent: the assistant ended a call that did work.
        Outcome::AiHandled
    } else if never_reached_assistant(&r)
        || [
            "error",
            "fault",
            "failed",
            "invalid",
            "timed-out",
            "unavailable",
        ]
        .iter()
        .any(|w| r.contains(w))
        || r.starts_with("pipeline-")
        || matches!(
            r.as_str(),
            "phone-call-provider-closed-websocket"
                | "phone-call-provider-bypass-enabled-but-no-call-received"
                | "worker-shutdown"
                | "vonage-rejected"
                | "customer-did-not-give-microphone-permission"
        )
    {
        Outcome::Failed
    } else {
        Outcome::AiHandled
    }
}

/// The caller never reached an assistant: the lookup of who answers failed (our
/// `assistant-request` answer, or the assistant it named). This is the dropped inbound AI
/// call of seed 003; it is counted as an invariant violation, not just a failed call.
pub fn never_reached_assistant(ended_reason: &str) -> bool {
    let r = ended_reason.to_ascii_lowercase();
    r.starts_with("assistant-request-")
        || r.starts_with("assistant-not-")
        || r == "assistant-join-timed-out"
        || r.starts_with("call.start.error-")
}

/// A call status in Vapi's words, as the appliance stores it. `None` for what is not a
/// step of a call (`not-found`, `deletion-failed`) or not Vapi's: such an update moves
/// nothing.
pub fn call_status(status: &str) -> Option<CallStatus> {
    match status {
        "scheduled" | "queued" | "ringing" | "in-progress" | "forwarding" | "ended" => {
            CallStatus::parse(status).ok()
        }
        _ => None,
    }
}

/// `inboundPhoneCall` / `outboundPhoneCall` / `webCall` → the `calls.direction` values.
pub fn direction(call_type: Option<&str>) -> Direction {
    match call_type {
        Some("outboundPhoneCall") => Direction::Outbound,
        Some("webCall") => Direction::Web,
        _ => Direction::Inbound,
    }
}

/// Whether an AI call's summary asks the business to call back ("please call me back",
/// "wants a callback", "return my call"); the same words the to-do list looks for.
pub fn asks_for_call_back(summary: &str) -> bool {
    let s = summary.to_lowercase();
    ["call me back", "call back", "callback", "call them back"]
        .iter()
        .any(|w| s.contains(w))
        || s.find("return").is_some_and(|i| s[i..].contains("call"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_of_call_report_is_read_from_the_documented_fields() {
        let body = br#"{"message":{"type":"end-of-call-report","timestamp":1732230000000,"endedReason":"customer-ended-call",
            "call":{"id":"call_1","type":"inboundPhoneCall","phoneNumberId":"pn_1"},"customer":{"number":"+14155550123"},
            "artifact":{"transcript":"AI: Hi\nUser: Hello","recordingUrl":"https://r/1.wav","stereoRecordingUrl":"https://r/1s.wav"},
            "analysis":{"summary":"Caller asked about prices."},"cost":0.12,"durationSeconds":42.4,"somethingNew":{"x":1}}}"#;
        let m = parse(body).unwrap();
        assert_eq!(m.kind, MessageType::EndOfCallReport);
        assert_eq!(m.call_id.as_deref(), Some("call_1"));
        assert_eq!(m.phone_number_id.as_deref(), Some("pn_1"));
        assert_eq!(m.customer_number.as_deref(), Some("+14155550123"));
        assert_eq!(m.transcript.as_deref(), Some("AI: Hi\nUser: Hello"));
        assert_eq!(m.summary.as_deref(), Some("Caller asked about prices."));
        assert_eq!(m.stereo_recording_url.as_deref(), Some("https://r/1s.wav"));
        assert_eq!(
            (m.cost, m.duration_secs, m.timestamp_ms),
            (Some(0.12), Some(42), Some(1_732_230_000_000))
        );
    }

    #[test]
    fn a_report_without_a_duration_takes_it_from_started_and_ended() {
        let m = parse(
            br#"{"message":{"type":"end-of-call-report","call":{"id":"c"},
            "startedAt":"2026-07-16T18:00:00.000Z","endedAt":"2026-07-16T18:03:00.400Z"}}"#,
        )
        .unwrap();
        assert_eq!(m.duration_secs, Some(180));
        let backwards = parse(
            br#"{"message":{"type":"end-of-call-report","call":{"id":"c"},
            "startedAt":"2026-07-16T18:03:00Z","endedAt":"2026-07-16T18:00:00Z"}}"#,
        )
        .unwrap();
        assert_eq!(
            backwards.duration_secs, None,
            "a negative span is not a duration"
        );
        let huge = parse(br#"{"message":{"type":"end-of-call-report","call":{"id":"c"},"durationSeconds":1e12}}"#).unwrap();
        assert_eq!(huge.duration_secs, None);
    }

    #[test]
    fn timestamps_may_be_milliseconds_seconds_or_iso() {
        assert_eq!(
            timestamp_ms(&serde_json::json!(1732230000123_i64)),
            Some(1_732_230_000_123)
        );
        assert_eq!(
            timestamp_ms(&serde_json::json!(1732230000)),
            Some(1_732_230_000_000)
        );
        assert_eq!(
            timestamp_ms(&serde_json::json!("2024-11-21T23:00:00.500Z")),
            Some(1_732_230_000_500)
        );
        assert_eq!(timestamp_ms(&serde_json::json!("yesterday")), None);
    }

    #[test]
    fn tool_call_arguments_may_be_an_object_or_a_string() {
        let body = br#"{"message":{"type":"tool-calls","toolCallList":[
            {"id":"t1","type":"function","function":{"name":"take_message","arguments":{"message":"Call me"}}},
            {"id":"t2","type":"function","function":{"name":"take_message","arguments":"{\"message\":\"Call me too\"}"}},
            {"id":"t3","name":"take_message","parameters":{"message":"Docs shape"}}]}}"#;
        let m = parse(body).unwrap();
        assert_eq!(m.tool_calls[2].arguments["message"], "Docs shape");
        assert_eq!(m.tool_calls[0].arguments["message"], "Call me");
        assert_eq!(m.tool_calls[1].arguments["message"], "Call me too");
    }

    #[test]
    fn a_body_that_is_not_an_envelope_names_the_problem() {
        assert!(parse(b"not json").unwrap_err().contains("not valid JSON"));
        assert!(parse(br#"{"type":"status-update"}"#)
            .unwrap_err()
            .contains("no \"message\" object"));
        assert!(parse(br#"{"message":"hi"}"#)
            .unwrap_err()
            .contains("must be an object"));
        assert!(parse(br#"{"message":{"status":"ended"}}"#)
            .unwrap_err()
            .contains("message.type"));
        assert_eq!(
            parse(br#"{"message":{"type":"brand-new-type"}}"#)
                .unwrap()
                .kind,
            MessageType::Other("brand-new-type".into())
        );
    }

    #[test]
    fn outcomes_and_ranks() {
        assert_eq!(outcome("customer-ended-call").as_str(), "ai_handled");
        assert_eq!(outcome("assistant-forwarded-call").as_str(), "connected");
        assert_eq!(
            outcome("pipeline-error-openai-llm-failed").as_str(),
            "failed"
        );
        assert_eq!(outcome("customer-did-not-answer").as_str(), "missed");
        for dropped in [
            "assistant-request-returned-invalid-assistant",
            "assistant-request-failed",
            "assistant-request-returned-no-assistant",
            "assistant-not-found",
            "assistant-join-timed-out",
            "call.start.error-get-assistant",
        ] {
            assert_eq!(outcome(dropped).as_str(), "failed", "{dropped}");
            assert!(never_reached_assistant(dropped), "{dropped}");
        }
        for handled in [
            "customer-ended-call",
            "assistant-ended-call",
            "silence-timed-out",
            "exceeded-max-duration",
        ] {
            assert_eq!(outcome(handled).as_str(), "ai_handled", "{handled}");
            assert!(!never_reached_assistant(handled));
        }
        assert_eq!(
            outcome("phone-call-provider-closed-websocket").as_str(),
            "failed"
        );
        assert_eq!(
            outcome("call.in-progress.error-vapifault-openai-llm-failed"),
            Outcome::Failed
        );
        assert_eq!(outcome("call.forwarding.no-answer").as_str(), "missed");
        let rank = |s| call_status(s).map(CallStatus::rank);
        assert!(rank("ended") > rank("in-progress"));
        assert!(rank("ringing") < rank("in-progress"));
        assert!(rank("scheduled") < rank("ringing"));
        for not_a_step in ["not-found", "deletion-failed", "completed", "sideways"] {
            assert_eq!(call_status(not_a_step), None, "{not_a_step}");
        }
    }

    #[test]
    fn a_summary_asking_for_a_call_back_is_recognised() {
        for yes in [
            "Please call me back after 5.",
            "Wants a CALLBACK about the boiler",
            "Asked us to return her call",
            "Call them back tomorrow",
        ] {
            assert!(super::asks_for_call_back(yes), "{yes}");
        }
        for no in [
            "Asked for opening hours.",
            "Booked a visit for Tuesday",
            "Called about a return of parts",
        ] {
            assert!(!super::asks_for_call_back(no), "{no}");
        }
    }
}
