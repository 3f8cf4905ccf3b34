//! What a call's timeline records (`call_events`): one variant per kind of event, each
//! with its detail and the key that makes a redelivered webhook record it only once. The
//! strings stored are the dashboard's and the API's vocabulary; they are written here and
//! nowhere else.

use super::ring::LegAnswer;
use super::state::{CallStatus, Consent, TranscriptionStatus};
use super::textback::Outcome;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent<'a> {
    /// The call reached the menu (or the after-hours action, `open: false`); `closed` when
    /// the business was closed by hand ("Closed now"): until when, and by whom.
    Started {
        open: bool,
        closed: Option<(&'a str, Option<&'a str>)>,
    },
    /// Refused at the entry: `unknown_number`, `system_number` or `blocked`.
    Rejected {
        reason: &'static str,
    },
    /// Something that should never happen, named as the invariant metric is.
    Invariant {
        name: &'static str,
        /// For a misrouted AI line: whether its agent has a SIP address, and whether the
        /// org has a human fallback.
        misrouted: Option<(bool, bool)>,
    },
    AfterHours,
    Consent {
        outcome: Consent,
    },
    /// A key at the menu's `attempt`, or none (a timeout).
    Menu {
        attempt: u32,
        digits: Option<&'a str>,
    },
    /// People started ringing (SPEC §3.8); `option` and `position` say which dial.
    DialStarted {
        targets: &'a [String],
        screened: bool,
        option: Option<&'a str>,
        position: Option<usize>,
        ring_secs: u32,
    },
    /// A dial ended; `taken` when a person took the call.
    DialResult {
        status: &'a str,
        screened: bool,
        taken: bool,
        option: Option<&'a str>,
        position: Option<usize>,
    },
    /// A screened leg picked up and heard the whisper.
    LegAnswered {
        leg_sid: &'a str,
        target: Option<&'a str>,
    },
    /// What the person on that leg did, `after_secs` from the ringing's start.
    Leg {
        answer: LegAnswer,
        leg_sid: &'a str,
        target: Option<&'a str>,
        after_secs: Option<i64>,
    },
    VoicemailRecording {
        sid: &'a str,
        status: Option<&'a str>,
        duration: Option<i64>,
    },
    VoicemailTranscription {
        sid: &'a str,
        status: TranscriptionStatus,
    },
    Ended {
        status: CallStatus,
        duration: Option<i64>,
    },
    /// Waiting for quiet hours to end (SPEC §3.6).
    TextbackScheduled {
        due_at: &'a str,
        local_time: &'a str,
    },
    TextbackSent {
        sid: &'a str,
    },
    TextbackBlocked {
        reason: &'a str,
        /// Twilio's error code when Twilio refused it (30034: unregistered 10DLC sender).
        provider_code: Option<i64>,
    },
    /// The missed-call text-back feature is off for the org.
    TextbackFlagOff,
    /// The call turned out not to be missed after all.
    TextbackNotNeeded {
        outcome: Outcome,
    },
    /// A deferred text-back became pointless: `answered_later`, `texted_in`, `opted_out`.
    TextbackCancelled {
        reason: &'static str,
    },
    NotifyVoicemail,
    /// The owner could not be told: `no_notification_number`.
    NotifySkipped {
        reason: &'static str,
    },
    /// Vapi asked which assistant answers (SPEC §4); `key` is the message's dedup key.
    VapiAssistantRequest {
        answer: VapiAnswer<'a>,
        key: &'a str,
    },
    /// A status update, the end-of-call report, a hang or a conversation update.
    VapiMessage {
        kind: VapiMessageKind,
        status: Option<&'a str>,
        ended_reason: Option<&'a str>,
        cost: Option<f64>,
        key: &'a str,
    },
    /// The AI call failed (counted once per call).
    VapiFailed {
        ended_reason: &'a str,
    },
    /// The assistant asked where to transfer the caller: the org's fallback, if any.
    VapiTransferRequest {
        fallback: Option<&'a str>,
        key: &'a str,
    },
    /// The assistant's tool calls, by name.
    VapiToolCalls {
        tools: Vec<&'a str>,
        key: &'a str,
    },
    /// `take_message` kept a message in the caller's conversation.
    VapiTakeMessage {
        lead_id: i64,
        tool_call_id: &'a str,
    },
    /// The summary asked for a call back: it is in the caller's conversation.
    VapiCallbackRequested {
        lead_id: i64,
    },
    /// A user placed this call from the dashboard ("Call back", SPEC §12).
    CallbackPlaced {
        by: Option<&'a str>,
    },
    /// The user's own phone picked up; `connected` unless a machine answered.
    CallbackUserAnswered {
        answered_by: Option<&'a str>,
        connected: bool,
    },
    /// How the dial to the customer ended.
    CallbackCustomer {
        status: &'a str,
        seconds: Option<i64>,
    },
}

/// What the appliance answered Vapi's assistant request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VapiAnswer<'a> {
    Assistant(&'a str),
    Transfer(&'a str),
    Refused(&'a str),
}

/// The Vapi server messages recorded on a call's timeline as they come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VapiMessageKind {
    StatusUpdate,
    EndOfCallReport,
    Hang,
    ConversationUpdate,
}

impl VapiMessageKind {
    pub fn parse(kind: &str) -> Option<VapiMessageKind> {
        Some(match kind {
            "status-update" => VapiMessageKind::StatusUpdate,
            "end-of-call-report" => VapiMessageKind::EndOfCallReport,
            "hang" => VapiMessageKind::Hang,
            "conversation-update" => VapiMessageKind::ConversationUpdate,
            _ => return None,
        })
    }

    fn event(self) -> &'static str {
        match self {
            VapiMessageKind::StatusUpdate => "vapi.status-update",
            VapiMessageKind::EndOfCallReport => "vapi.end-of-call-report",
            VapiMessageKind::Hang => "vapi.hang",
            VapiMessageKind::ConversationUpdate => "vapi.conversation-update",
        }
    }
}

/// `dial:K:N` — a dial's key and position, `-` for none.
fn dial_key(prefix: &str, option: Option<&str>, position: Option<usize>) -> String {
    format!(
        "{prefix}:{}:{}",
        option.unwrap_or("-"),
        position.map_or("-".to_string(), |p| p.to_string())
    )
}

impl CallEvent<'_> {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            CallEvent::Started { .. } => "call.started",
            CallEvent::Rejected { .. } => "rejected",
            CallEvent::Invariant { .. } => "invariant",
            CallEvent::AfterHours => "after_hours",
            CallEvent::Consent { .. } => "consent",
            CallEvent::Menu { .. } => "menu",
            CallEvent::DialStarted { .. } => "dial.started",
            CallEvent::DialResult { .. } => "dial.result",
            CallEvent::LegAnswered { .. } => "leg.answered",
            CallEvent::Leg { answer, .. } => answer.event(),
            CallEvent::VoicemailRecording { .. } => "voicemail.recording",
            CallEvent::VoicemailTranscription { .. } => "voicemail.transcription",
            CallEvent::Ended { .. } => "call.ended",
            CallEvent::TextbackScheduled { .. } => "textback.scheduled",
            CallEvent::TextbackSent { .. } => "textback.sent",
            CallEvent::TextbackBlocked { .. } => "textback.blocked",
            CallEvent::TextbackFlagOff | CallEvent::TextbackNotNeeded { .. } => "textback.skipped",
            CallEvent::TextbackCancelled { .. } => "textback.cancelled",
            CallEvent::NotifyVoicemail => "notify.voicemail",
            CallEvent::NotifySkipped { .. } => "notify.skipped",
            CallEvent::VapiAssistantRequest { .. } => "vapi.assistant-request",
            CallEvent::VapiMessage { kind, .. } => kind.event(),
            CallEvent::VapiFailed { .. } => "vapi.failed",
            CallEvent::VapiTransferRequest { .. } => "vapi.transfer-destination-request",
            CallEvent::VapiToolCalls { .. } => "vapi.tool-calls",
            CallEvent::VapiTakeMessage { .. } => "vapi.take_message",
            CallEvent::VapiCallbackRequested { .. } => "vapi.callback_requested",
            CallEvent::CallbackPlaced { .. } => "callback.placed",
            CallEvent::CallbackUserAnswered { .. } => "callback.user_answered",
            CallEvent::CallbackCustomer { .. } => "callback.customer",
        }
    }

    /// The stored detail (JSON), if the kind has one.
    pub fn detail(&self) -> Option<Value> {
        Some(match self {
            CallEvent::Started { open, closed: None } => json!({ "open": open }),
            CallEvent::Started {
                open,
                closed: Some((until, by)),
            } => json!({ "open": open, "closedUntil": until, "closedBy": by }),
            CallEvent::Rejected { reason } => json!({ "reason": reason }),
            CallEvent::Invariant {
                name,
                misrouted: None,
            } => json!({ "name": name }),
            CallEvent::Invariant {
                name,
                misrouted: Some((agent_sip, fallback)),
            } => json!({ "name": name, "agentSip": agent_sip, "fallback": fallback }),
            CallEvent::AfterHours | CallEvent::NotifyVoicemail => return None,
            CallEvent::Consent { outcome } => json!({ "outcome": outcome }),
            CallEvent::Menu { attempt, digits } => json!({ "attempt": attempt, "digits": digits }),
            CallEvent::DialStarted {
                targets,
                screened,
                position,
                ring_secs,
                ..
            } => json!({
                "targets": targets, "screened": screened, "position": position, "ringSecs": ring_secs,
            }),
            CallEvent::DialResult {
                status,
                screened,
                taken,
                ..
            } => json!({ "status": status, "screened": screened, "taken": taken }),
            CallEvent::LegAnswered { target, .. } => json!({ "target": target }),
            CallEvent::Leg {
                target, after_secs, ..
            } => json!({ "target": target, "afterSecs": after_secs }),
            CallEvent::VoicemailRecording {
                status, duration, ..
            } => json!({ "status": status, "duration": duration }),
            CallEvent::VoicemailTranscription { status, .. } => json!({ "status": status }),
            CallEvent::Ended { status, duration } => {
                json!({ "status": status, "duration": duration })
            }
            CallEvent::TextbackScheduled { due_at, local_time } => {
                json!({ "dueAt": due_at, "localTime": local_time, "reason": "quiet_hours" })
            }
            CallEvent::TextbackSent { sid } => json!({ "sid": sid }),
            CallEvent::TextbackBlocked {
                reason,
                provider_code: None,
            } => json!({ "reason": reason }),
            CallEvent::TextbackBlocked {
                reason,
                provider_code: Some(code),
            } => json!({ "reason": reason, "providerCode": code }),
            CallEvent::TextbackFlagOff => json!({ "reason": "flag_off" }),
            CallEvent::TextbackNotNeeded { outcome } => json!({ "outcome": outcome.as_str() }),
            CallEvent::TextbackCancelled { reason } | CallEvent::NotifySkipped { reason } => {
                json!({ "reason": reason })
            }
            CallEvent::VapiAssistantRequest { answer, .. } => match answer {
                VapiAnswer::Assistant(a) => json!({ "assistantId": a }),
                VapiAnswer::Transfer(n) => json!({ "fallback": n }),
                VapiAnswer::Refused(reason) => json!({ "refused": reason }),
            },
            CallEvent::VapiMessage {
                kind: VapiMessageKind::StatusUpdate,
                status,
                ended_reason,
                ..
            } => json!({ "status": status, "endedReason": ended_reason }),
            CallEvent::VapiMessage {
                kind: VapiMessageKind::EndOfCallReport,
                ended_reason,
                cost,
                ..
            } => json!({ "endedReason": ended_reason, "cost": cost }),
            CallEvent::VapiMessage { .. } => json!({}),
            CallEvent::VapiFailed { ended_reason } => json!({ "endedReason": ended_reason }),
            CallEvent::VapiTransferRequest { fallback, .. } => json!({ "fallback": fallback }),
            CallEvent::VapiToolCalls { tools, .. } => json!({ "tools": tools }),
            CallEvent::VapiTakeMessage { lead_id, .. }
            | CallEvent::VapiCallbackRequested { lead_id } => json!({ "leadId": lead_id }),
            CallEvent::CallbackPlaced { by } => json!({ "by": by }),
            CallEvent::CallbackUserAnswered {
                answered_by,
                connected,
            } => json!({ "answeredBy": answered_by, "connected": connected }),
            CallEvent::CallbackCustomer { status, seconds } => {
                json!({ "status": status, "seconds": seconds })
            }
        })
    }

    /// The key that makes a redelivered webhook record the event only once.
    pub fn dedup_key(&self) -> String {
        match self {
            CallEvent::Started { .. }
            | CallEvent::Rejected { .. }
            | CallEvent::Invariant { .. } => "entry".into(),
            CallEvent::AfterHours => "after_hours".into(),
            CallEvent::Consent { .. } => "consent".into(),
            CallEvent::Menu { attempt, digits } => {
                format!("menu:{attempt}:{}", digits.unwrap_or("-"))
            }
            CallEvent::DialStarted {
                option, position, ..
            } => dial_key("dial", *option, *position),
            CallEvent::DialResult {
                option, position, ..
            } => dial_key("dial-result", *option, *position),
            CallEvent::LegAnswered { leg_sid, .. } => format!("leg:{leg_sid}:answered"),
            CallEvent::Leg { leg_sid, .. } => format!("leg:{leg_sid}:answer"),
            CallEvent::VoicemailRecording { sid, .. } => format!("recording:{sid}"),
            CallEvent::VoicemailTranscription { sid, .. } => format!("transcription:{sid}"),
            CallEvent::Ended { .. } => "status:final".into(),
            CallEvent::TextbackScheduled { .. } => "textback:deferred".into(),
            CallEvent::TextbackSent { .. }
            | CallEvent::TextbackBlocked { .. }
            | CallEvent::TextbackFlagOff
            | CallEvent::TextbackNotNeeded { .. }
            | CallEvent::TextbackCancelled { .. } => "textback".into(),
            CallEvent::NotifyVoicemail | CallEvent::NotifySkipped { .. } => {
                "notify:voicemail".into()
            }
            CallEvent::VapiAssistantRequest { key, .. }
            | CallEvent::VapiMessage { key, .. }
            | CallEvent::VapiTransferRequest { key, .. }
            | CallEvent::VapiToolCalls { key, .. } => (*key).to_string(),
            CallEvent::VapiFailed { .. } => "vapi:failed".into(),
            CallEvent::VapiTakeMessage { tool_call_id, .. } => format!("tool:{tool_call_id}"),
            CallEvent::VapiCallbackRequested { .. } => "vapi:callback-lead".into(),
            CallEvent::CallbackPlaced { .. } => "callback:placed".into(),
            CallEvent::CallbackUserAnswered { .. } => "callback:user".into(),
            CallEvent::CallbackCustomer { .. } => "callback:customer".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_keeps_its_stored_kind_detail_and_key() {
        let targets = vec!["+15550100101".to_string()];
        #[rustfmt::skip]
        let table: Vec<(CallEvent, &str, Option<Value>, &str)> = vec![
            (CallEvent::Started { open: true, closed: None }, "call.started", Some(json!({ "open": true })), "entry"),
            (CallEvent::Started { open: false, closed: Some(("2026-12-07T14:00:00.000Z", Some("sam@example.com"))) }, "call.started",
                Some(json!({ "open": false, "closedUntil": "2026-12-07T14:00:00.000Z", "closedBy": "sam@example.com" })), "entry"),
            (CallEvent::Rejected { reason: "blocked" }, "rejected", Some(json!({ "reason": "blocked" })), "entry"),
            (CallEvent::Invariant { name: "voice_vapi_number_on_ivr", misrouted: Some((false, true)) }, "invariant",
                Some(json!({ "name": "voice_vapi_number_on_ivr", "agentSip": false, "fallback": true })), "entry"),
            (CallEvent::AfterHours, "after_hours", None, "after_hours"),
            (CallEvent::Menu { attempt: 2, digits: None }, "menu", Some(json!({ "attempt": 2, "digits": null })), "menu:2:-"),
            (CallEvent::DialStarted { targets: &targets, screened: true, option: Some("1"), position: Some(0), ring_secs: 20 }, "dial.started",
                Some(json!({ "targets": ["+15550100101"], "screened": true, "position": 0, "ringSecs": 20 })), "dial:1:0"),
            (CallEvent::DialResult { status: "completed", screened: false, taken: true, option: None, position: None }, "dial.result",
                Some(json!({ "status": "completed", "screened": false, "taken": true })), "dial-result:-:-"),
            (CallEvent::Leg { answer: LegAnswer::Silent, leg_sid: "CA2", target: Some("+1"), after_secs: Some(9) }, "leg.silent",
                Some(json!({ "target": "+1", "afterSecs": 9 })), "leg:CA2:answer"),
            (CallEvent::Ended { status: CallStatus::Completed, duration: Some(30) }, "call.ended",
                Some(json!({ "status": "completed", "duration": 30 })), "status:final"),
            (CallEvent::TextbackFlagOff, "textback.skipped", Some(json!({ "reason": "flag_off" })), "textback"),
            (CallEvent::TextbackNotNeeded { outcome: Outcome::Connected }, "textback.skipped", Some(json!({ "outcome": "connected" })), "textback"),
            (CallEvent::TextbackCancelled { reason: "texted_in" }, "textback.cancelled", Some(json!({ "reason": "texted_in" })), "textback"),
            (CallEvent::NotifyVoicemail, "notify.voicemail", None, "notify:voicemail"),
            (CallEvent::VapiAssistantRequest { answer: VapiAnswer::Refused("no_agent"), key: "vapi:assistant-request::1" }, "vapi.assistant-request",
                Some(json!({ "refused": "no_agent" })), "vapi:assistant-request::1"),
            (CallEvent::VapiMessage { kind: VapiMessageKind::EndOfCallReport, status: None, ended_reason: Some("customer-ended-call"), cost: Some(0.5), key: "k" },
                "vapi.end-of-call-report", Some(json!({ "endedReason": "customer-ended-call", "cost": 0.5 })), "k"),
            (CallEvent::VapiFailed { ended_reason: "pipeline-error" }, "vapi.failed", Some(json!({ "endedReason": "pipeline-error" })), "vapi:failed"),
            (CallEvent::VapiTakeMessage { lead_id: 7, tool_call_id: "call_1" }, "vapi.take_message", Some(json!({ "leadId": 7 })), "tool:call_1"),
            (CallEvent::VapiCallbackRequested { lead_id: 7 }, "vapi.callback_requested", Some(json!({ "leadId": 7 })), "vapi:callback-lead"),
        ];
        for (event, kind, detail, key) in table {
            assert_eq!(
                (event.kind(), event.detail(), event.dedup_key().as_str()),
                (kind, detail, key),
                "{event:?}"
            );
        }
    }
}
