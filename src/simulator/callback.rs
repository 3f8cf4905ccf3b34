//! The Twilio side of a "Call back" placed from the dashboard (SPEC §12): the call Twilio
//! places to the user's own phone is answered (by the user, or by a voicemail greeting),
//! its TwiML dials the customer, the dial ends as asked, then the call's status callback.

use super::twiml::{self, Verb};
use super::{Hop, SimError, Simulator};
use crate::domain::webhook::TwilioRoute;

/// What happens on a callback's two legs.
#[derive(Debug, Clone)]
pub struct CallbackPlan {
    /// The callback (`callbacks.id`) and the call Twilio placed for it.
    pub id: i64,
    pub call_sid: String,
    /// The business number the call comes from, and the user's phone it rings.
    pub from: String,
    pub to: String,
    /// Twilio's `AnsweredBy`: `human`, or `machine_start` for a voicemail greeting.
    pub answered_by: String,
    /// How the dial to the customer ends (`DialCallStatus`).
    pub customer: String,
    /// How long the customer talked when they answered.
    pub seconds: u32,
}

impl Simulator {
    /// Plays the callback's legs; each request and answer is a [`Hop`].
    pub async fn callback(&self, plan: &CallbackPlan) -> Result<Vec<Hop>, SimError> {
        let query = format!("?callback={}", plan.id);
        let mut hops = Vec::new();
        let answer_path = format!("{}{query}", TwilioRoute::CallbackAnswer.path());
        let params = [
            ("CallSid", plan.call_sid.as_str()),
            ("From", plan.from.as_str()),
            ("To", plan.to.as_str()),
            ("Direction", "outbound-api"),
            ("CallStatus", "in-progress"),
            ("AnsweredBy", plan.answered_by.as_str()),
        ];
        let answer = self.twilio(&answer_path, &params).await?;
        let verbs = twiml::parse(&answer.body).unwrap_or_default();
        let dial = verbs.iter().find_map(|v| match v {
            Verb::Dial { action, .. } => Some(action.clone()),
            _ => None,
        });
        let then = match &dial {
            Some(_) => format!(
                "the customer's phone rings; the dial ends {}",
                plan.customer
            ),
            None => "the call ends without dialling the customer".into(),
        };
        hops.push(Hop {
            path: answer_path,
            shown: vec![("AnsweredBy".into(), plan.answered_by.clone())],
            answer,
            verbs,
            then,
        });
        let talked = plan.customer == "completed" || plan.customer == "answered";
        if let Some(Some(action)) = dial {
            let seconds = if talked { plan.seconds } else { 0 }.to_string();
            let params = [
                ("CallSid", plan.call_sid.as_str()),
                ("DialCallStatus", plan.customer.as_str()),
                ("DialCallDuration", seconds.as_str()),
            ];
            let answer = self.twilio(&action, &params).await?;
            let verbs = twiml::parse(&answer.body).unwrap_or_default();
            hops.push(Hop {
                path: action,
                shown: vec![
                    ("DialCallStatus".into(), plan.customer.clone()),
                    ("DialCallDuration".into(), seconds),
                ],
                answer,
                verbs,
                then: "the user's call ends".into(),
            });
        }
        let duration = (if talked { plan.seconds } else { 0 } + 5).to_string();
        let status_path = format!("{}{query}", TwilioRoute::CallbackStatus.path());
        let params = [
            ("CallSid", plan.call_sid.as_str()),
            ("CallStatus", "completed"),
            ("CallDuration", duration.as_str()),
        ];
        let answer = self.twilio(&status_path, &params).await?;
        hops.push(Hop {
            path: status_path,
            shown: vec![
                ("CallStatus".into(), "completed".into()),
                ("CallDuration".into(), duration),
            ],
            answer,
            verbs: Vec::new(),
            then: String::new(),
        });
        Ok(hops)
    }
}
