//! Inbound SMS (SPEC §3.2, §3.6, §3.7): the number's role decides — customer intake on
//! operational numbers, the sign-up conversation on onboarding numbers, nothing on system
//! numbers. STOP/START/HELP are honoured everywhere. A redelivered message does nothing.

use super::messaging::{self, Outbound};
use super::FrontdeskError;
use crate::app::AppState;
use crate::db::{callflows, leads, messages, numbers, onboarding, optouts};
use crate::domain::onboarding::{step, State};
use crate::domain::textback::{keyword, Keyword};
use crate::domain::{FlagKey, NumberRole};
use crate::metrics::UNKNOWN_NUMBERS;

#[derive(Debug, Clone)]
pub struct InboundSms {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
}

pub const ONBOARDING_HELP: &str =
    "Text us the name of your business to set up your phone line. Reply STOP to stop.";
const BRAND: &str = "switchboard";

enum Plan {
    Nothing,
    Reply {
        number: numbers::Resolved,
        body: String,
        kind: &'static str,
        lead_id: Option<i64>,
    },
    Intake {
        number: numbers::Resolved,
        lead_id: i64,
        ack: Option<String>,
        notify: bool,
    },
}

pub async fn inbound(state: &AppState, m: InboundSms) -> Result<(), FrontdeskError> {
    let flags = state.flags.clone();
    let msg = m.clone();
    let plan = state
        .db
        .write(move |c| {
            let number = numbers::resolve(c, &msg.to)?;
            let role = number
                .as_ref()
                .map(|n| n.role)
                .unwrap_or(NumberRole::System);
            let kind = if role == NumberRole::Onboarding {
                "onboarding"
            } else {
                "intake"
            };
            let stored = messages::insert(
                c,
                &messages::NewMessage {
                    org_id: number.as_ref().map(|n| n.org_id),
                    sid: Some(&msg.sid),
                    direction: "inbound",
                    from: &msg.from,
                    to: &msg.to,
                    phone_number_id: number.as_ref().map(|n| n.id),
                    call_id: None,
                    lead_id: None,
                    body: &msg.body,
                    kind,
                    status: "received",
                    blocked_reason: None,
                },
            )?;
            let Some(message_id) = stored else {
                return Ok((Plan::Nothing, true));
            };
            let Some(number) = number.filter(|n| n.role != NumberRole::System) else {
                return Ok((Plan::Nothing, role == NumberRole::System));
            };
            match keyword(&msg.body) {
                Some(Keyword::Stop) => {
                    optouts::opt_out(c, &number.e164, &msg.from, msg.body.trim())?;
                    if number.role == NumberRole::Onboarding {
                        onboarding::cancel(c, number.id, &msg.from)?;
                    }
                    // Twilio's own opt-out handling confirms STOP to the sender.
                    return Ok((Plan::Nothing, true));
                }
                Some(Keyword::Start) => {
                    optouts::opt_in(c, &number.e164, &msg.from)?;
                    return Ok((Plan::Nothing, true));
                }
                Some(Keyword::Help) => {
                    let body = match number.role {
                        NumberRole::Onboarding => ONBOARDING_HELP.to_string(),
                        _ => {
                            callflows::for_number(c, number.org_id, Some(number.id))?
                                .textback
                                .help_message
                        }
                    };
                    return Ok((
                        Plan::Reply {
                            number,
                            body,
                            kind: "reply",
                            lead_id: None,
                        },
                        true,
                    ));
                }
                None => {}
            }
            match number.role {
                NumberRole::Operational => {
                    let origin = messages::last_textback_call(c, &number.e164, &msg.from)?;
                    let (lead_id, _) = leads::open_or_create(
                        c,
                        number.org_id,
                        number.id,
                        &msg.from,
                        origin,
                        "sms",
                    )?;
                    messages::set_lead(c, message_id, lead_id)?;
                    let opted_out = optouts::is_opted_out(c, &number.e164, &msg.from)?;
                    let ack = if !opted_out && leads::claim_ack(c, lead_id)? {
                        Some(
                            callflows::for_number(c, number.org_id, Some(number.id))?
                                .textback
                                .intake_acknowledgement,
                        )
                    } else {
                        None
                    };
                    Ok((
                        Plan::Intake {
                            number,
                            lead_id,
                            ack,
                            notify: true,
                        },
                        true,
                    ))
                }
                NumberRole::Onboarding => {
                    if !flags.is_enabled(c, number.org_id, FlagKey::SmsOnboarding)? {
                        log::info!(
                            "SMS onboarding is off for org {}; message {} stored without a reply",
                            number.org_id,
                            msg.sid
                        );
                        return Ok((Plan::Nothing, true));
                    }
                    let open = onboarding::open(c, number.id, &msg.from)?;
                    let current = open
                        .as_ref()
                        .and_then(|(_, s, name)| State::parse(s).map(|st| (st, name.clone())));
                    let next = step(
                        current.as_ref().map(|(s, n)| (*s, n.as_deref())),
                        &msg.body,
                        BRAND,
                    );
                    match open {
                        Some((id, _, _)) => onboarding::advance(
                            c,
                            id,
                            next.state.as_str(),
                            next.business_name.as_deref(),
                        )?,
                        None => {
                            let id =
                                onboarding::create(c, number.id, &msg.from, next.state.as_str())?;
                            onboarding::advance(
                                c,
                                id,
                                next.state.as_str(),
                                next.business_name.as_deref(),
                            )?;
                        }
                    }
                    Ok((
                        Plan::Reply {
                            number,
                            body: next.reply,
                            kind: "onboarding",
                            lead_id: None,
                        },
                        true,
                    ))
                }
                NumberRole::System => Ok((Plan::Nothing, true)),
            }
        })
        .await?;
    let (plan, known) = plan;
    if !known {
        state.metrics.incr(UNKNOWN_NUMBERS, &[("kind", "sms")]);
        log::warn!(
            "SMS {} to a number that is not in phone_numbers; stored, no reply",
            m.sid
        );
    }
    match plan {
        Plan::Nothing => {}
        Plan::Reply {
            number,
            body,
            kind,
            lead_id,
        } => {
            messaging::send(state, reply(&number, &m.from, body, kind, lead_id)).await?;
        }
        Plan::Intake {
            number,
            lead_id,
            ack,
            notify,
        } => {
            if let Some(body) = ack {
                messaging::send(state, reply(&number, &m.from, body, "reply", Some(lead_id)))
                    .await?;
            }
            if notify {
                super::notify::spawn_lead(state, lead_id, number, m.from.clone(), m.body.clone());
            }
        }
    }
    Ok(())
}

fn reply(
    number: &numbers::Resolved,
    to: &str,
    body: String,
    kind: &'static str,
    lead_id: Option<i64>,
) -> Outbound {
    Outbound {
        org_id: Some(number.org_id),
        from: number.e164.clone(),
        from_number_id: Some(number.id),
        account_sid: number.account_sid.clone(),
        to: to.to_string(),
        body,
        kind,
        call_id: None,
        lead_id,
    }
}

/// `POST /twilio/sms/status`: delivery updates for messages we sent (e.g. 30034 arrives here).
pub async fn delivery_status(
    state: &AppState,
    sid: String,
    status: String,
    error_code: Option<String>,
) -> Result<(), FrontdeskError> {
    state
        .db
        .write(move |c| messages::update_status(c, &sid, &status, error_code.as_deref()))
        .await?;
    Ok(())
}
