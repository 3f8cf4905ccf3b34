//! One AI-answered call as Vapi reports it to the Server URL: `assistant-request` while
//! the phone rings, then status updates and the end-of-call report — in order, shuffled,
//! or each delivered twice at once, as Vapi's at-least-once delivery may.

use super::{Hop, SimError, Simulator};
use crate::domain::webhook::VAPI_WEBHOOK;
use futures_util::future::join_all;
use rand::seq::SliceRandom;
use serde_json::{json, Value};

/// The order the call's events arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    InOrder,
    /// `assistant-request` first (Vapi waits for its answer), the rest in random order.
    Shuffled,
    /// Every event twice, the two copies at the same moment.
    Duplicated,
}

impl Sequence {
    pub fn parse(s: &str) -> Result<Sequence, String> {
        match s {
            "in-order" => Ok(Sequence::InOrder),
            "shuffled" => Ok(Sequence::Shuffled),
            "duplicated" => Ok(Sequence::Duplicated),
            other => Err(format!(
                "\"{other}\" is not a sequence: use in-order, shuffled or duplicated"
            )),
        }
    }
}

/// The events of one inbound AI call from `customer` to `number`, in the order Vapi
/// sends them.
fn events(call_id: &str, number: &str, customer: &str, started_ms: i64) -> Vec<Value> {
    let call = json!({
        "id": call_id,
        "type": "inboundPhoneCall",
        "phoneNumber": { "number": number },
        "customer": { "number": customer }
    });
    let envelope = |message: Value| {
        let mut m = message;
        m["call"] = call.clone();
        m["phoneNumber"] = json!({ "number": number });
        m["customer"] = json!({ "number": customer });
        json!({ "message": m })
    };
    let started = chrono::DateTime::from_timestamp_millis(started_ms).unwrap_or_default();
    let ended = started + chrono::Duration::seconds(63);
    vec![
        envelope(json!({ "type": "assistant-request", "timestamp": started_ms })),
        envelope(
            json!({ "type": "status-update", "status": "in-progress", "timestamp": started_ms + 1_000 }),
        ),
        envelope(json!({
            "type": "end-of-call-report",
            "timestamp": started_ms + 64_000,
            "endedReason": "customer-ended-call",
            "artifact": {
                "transcript": "AI: Hello, how can I help?\nUser: My sink is leaking, please call me back.",
                "recordingUrl": format!("https://storage.vapi.ai/{call_id}-mono.wav")
            },
            "analysis": { "summary": "The caller reported a leaking sink and asked for a call back." },
            "cost": 0.09,
            "startedAt": started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "endedAt": ended.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })),
        envelope(json!({
            "type": "status-update",
            "status": "ended",
            "endedReason": "customer-ended-call",
            "timestamp": started_ms + 63_000
        })),
    ]
}

fn describe(event: &Value) -> Vec<(String, String)> {
    let m = &event["message"];
    let mut shown = vec![
        (
            "type".to_string(),
            m["type"].as_str().unwrap_or("").to_string(),
        ),
        (
            "call".to_string(),
            m["call"]["id"].as_str().unwrap_or("").to_string(),
        ),
    ];
    if let Some(status) = m["status"].as_str() {
        shown.push(("status".into(), status.into()));
    }
    shown
}

impl Simulator {
    /// Sends one AI call's events for `number` in `sequence`; returns a hop per delivery.
    pub async fn vapi_call(
        &self,
        number: &str,
        customer: &str,
        sequence: Sequence,
        mut on_hop: impl FnMut(&Hop),
    ) -> Result<Vec<Hop>, SimError> {
        let call_id = format!("sim-{}", hex::encode(rand::random::<[u8; 8]>()));
        let mut events = events(
            &call_id,
            number,
            customer,
            chrono::Utc::now().timestamp_millis(),
        );
        if sequence == Sequence::Shuffled {
            events[1..].shuffle(&mut rand::thread_rng());
        }
        let mut hops = Vec::new();
        for event in &events {
            let copies = if sequence == Sequence::Duplicated {
                2
            } else {
                1
            };
            let answers = join_all((0..copies).map(|_| self.post_vapi(event))).await;
            for (i, answer) in answers.into_iter().enumerate() {
                let answer = answer?;
                let then = match (answer.status, i) {
                    (200, 0) => String::new(),
                    (200, _) => "the same delivery again, at the same moment".into(),
                    (status, _) => format!("Vapi would retry: HTTP {status}"),
                };
                let hop = Hop {
                    path: VAPI_WEBHOOK.into(),
                    shown: describe(event),
                    answer,
                    verbs: Vec::new(),
                    then,
                };
                on_hop(&hop);
                hops.push(hop);
            }
        }
        Ok(hops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_reads_back_as_the_appliance_parses_it() {
        let events = events("call_x", "+15550100004", "+14155550123", 1_763_766_000_000);
        let kinds: Vec<String> = events
            .iter()
            .map(|e| {
                crate::domain::vapi::parse(e.to_string().as_bytes())
                    .unwrap()
                    .kind
                    .to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "assistant-request",
                "status-update",
                "end-of-call-report",
                "status-update"
            ]
        );
        let report = crate::domain::vapi::parse(events[2].to_string().as_bytes()).unwrap();
        assert_eq!(report.phone_number.as_deref(), Some("+15550100004"));
        assert_eq!(report.customer_number.as_deref(), Some("+14155550123"));
        assert_eq!(report.duration_secs, Some(63));
    }

    #[test]
    fn sequences_parse_and_a_bad_one_names_the_choices() {
        assert_eq!(Sequence::parse("shuffled"), Ok(Sequence::Shuffled));
        assert!(Sequence::parse("random").unwrap_err().contains("in-order"));
    }
}
