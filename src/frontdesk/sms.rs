//! Inbound SMS (SPEC §3.2, §3.6, §3.7): the number's role decides — customer intake on
//! operational numbers, the sign-up conversation on onboarding numbers, nothing on system
//! numbers. STOP/START/HELP are honoured everywhere. A redelivered message does nothing.

use super::messaging::{self, Outbound};
use super::FrontDesk;
use super::FrontdeskError;
use crate::db::{blocklist, callflows, leads, messages, numbers, onboarding, optouts};
use crate::domain::onboarding::{step, State};
use crate::domain::phone::Party;
use crate::domain::sms::{self, SmsPlan};
use crate::domain::state::{Direction, MessageKind, MessageStatus};
use crate::domain::{FlagKey, NumberRole};
use crate::metrics::UNKNOWN_NUMBERS;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct InboundSms {
    pub sid: String,
    pub from: Party,
    pub to: Party,
    pub body: String,
}

const BRAND: &str = "switchboard";

enum Plan {
    Nothing,
    Reply {
        number: numbers::Resolved,
        body: String,
        kind: MessageKind,
        lead_id: Option<i64>,
    },
    Intake {
        number: numbers::Resolved,
        lead_id: i64,
        ack: Option<String>,
        /// The lead's notifications were queued with it: wake the worker.
        notified: bool,
    },
}

pub async fn inbound(desk: &Arc<FrontDesk>, m: InboundSms) -> Result<(), FrontdeskError> {
    let flags = desk.flags.clone();
    let msg = m.clone();
    let at = desk.clock.now();
    let (public_url, senders) = (desk.public_url.clone(), desk.senders);
    let plan = desk
        .db
        .write(move |c| {
            let number = match msg.to.number() {
                Some(to) => numbers::resolve(c, to)?,
                None => None,
            };
            let role = number
                .as_ref()
                .map(|n| n.role)
                .unwrap_or(NumberRole::System);
            let kind = if role == NumberRole::Onboarding {
                MessageKind::Onboarding
            } else {
                MessageKind::Intake
            };
            let stored = messages::insert(
                c,
                &messages::NewMessage {
                    org_id: number.as_ref().map(|n| n.org_id),
                    sid: Some(&msg.sid),
                    direction: Direction::Inbound,
                    from: msg.from.as_str(),
                    to: msg.to.as_str(),
                    phone_number_id: number.as_ref().map(|n| n.id),
                    call_id: None,
                    lead_id: None,
                    body: &msg.body,
                    kind,
                    status: MessageStatus::Received,
                    blocked_reason: None,
                    at,
                },
            )?;
            // Told to the business's own tools once, however often Twilio repeats it.
            let wanted = match &number {
                Some(n) if stored.is_some() => {
                    crate::db::webhooks::wanted(c, n.org_id, "message.received")?
                }
                _ => false,
            };
            if let (Some(n), Some(id), true) = (&number, stored, wanted) {
                crate::db::webhooks::emit(
                    c,
                    n.org_id,
                    "message.received",
                    &msg.sid,
                    &serde_json::json!({
                        "messageId": id,
                        "messageSid": msg.sid,
                        "from": msg.from.as_str(),
                        "fromName": crate::db::contacts::name(c, n.org_id, msg.from.as_str())?,
                        "to": n.e164,
                        "body": msg.body,
                        "receivedAt": crate::db::format_time(at),
                    }),
                    &crate::db::format_time(at),
                )?;
            }
            let onboarding_flag = match &number {
                Some(n) if n.role == NumberRole::Onboarding => {
                    flags.is_enabled(c, n.org_id, FlagKey::SmsOnboarding)?
                }
                _ => false,
            };
            let blocked = match (&number, msg.from.number()) {
                (Some(n), Some(from)) => blocklist::blocks(c, n.org_id, from.as_str())?,
                _ => false,
            };
            let decided = sms::plan(&sms::SmsFacts {
                role: number.as_ref().map(|n| n.role),
                redelivered: stored.is_none(),
                body: &msg.body,
                onboarding_flag,
                blocked,
            });
            let known = number.is_some() || stored.is_none();
            let (Some(number), Some(message_id)) = (number, stored) else {
                return Ok((Plan::Nothing, known));
            };
            let plan = match decided {
                SmsPlan::Nothing => Plan::Nothing,
                SmsPlan::OptOut { cancel_onboarding } => {
                    optouts::opt_out(c, &number.e164, msg.from.as_str(), msg.body.trim())?;
                    if cancel_onboarding {
                        onboarding::cancel(c, number.id, msg.from.as_str())?;
                    }
                    Plan::Nothing
                }
                SmsPlan::OptIn => {
                    optouts::opt_in(c, &number.e164, msg.from.as_str())?;
                    Plan::Nothing
                }
                SmsPlan::Help { onboarding } => {
                    let body = if onboarding {
                        sms::ONBOARDING_HELP.to_string()
                    } else {
                        callflows::for_number(c, number.org_id, Some(number.id))?
                            .textback
                            .help_message
                    };
                    Plan::Reply {
                        number,
                        body,
                        kind: MessageKind::Reply,
                        lead_id: None,
                    }
                }
                SmsPlan::Intake => {
                    let origin = messages::last_textback_call(c, &number.e164, msg.from.as_str())?;
                    let (lead_id, _) = leads::open_or_create(
                        c,
                        number.org_id,
                        number.id,
                        msg.from.as_str(),
                        origin,
                        "sms",
                    )?;
                    messages::set_lead(c, message_id, lead_id)?;
                    // The first message of a lead is acknowledged once, never after STOP.
                    let opted_out = optouts::is_opted_out(c, &number.e164, msg.from.as_str())?;
                    let ack = if !opted_out && leads::claim_ack(c, lead_id)? {
                        Some(
                            callflows::for_number(c, number.org_id, Some(number.id))?
                                .textback
                                .intake_acknowledgement,
                        )
                    } else {
                        None
                    };
                    // Told in the transaction that made the lead: a crash cannot lose it.
                    let notified = super::notify::queue_lead(
                        c,
                        &super::notify::NewLead {
                            lead_id,
                            number: &number,
                            customer: msg.from.as_str(),
                            first_message: &msg.body,
                            public_url: &public_url,
                            senders,
                            now: at,
                        },
                    )?;
                    Plan::Intake {
                        number,
                        lead_id,
                        ack,
                        notified,
                    }
                }
                SmsPlan::OnboardingOff => {
                    log::info!(
                        "SMS onboarding is off for org {}; message {} stored without a reply",
                        number.org_id,
                        msg.sid
                    );
                    Plan::Nothing
                }
                SmsPlan::Onboarding => {
                    let open = onboarding::open(c, number.id, msg.from.as_str())?;
                    let current = open
                        .as_ref()
                        .and_then(|(_, s, name)| State::parse(s).map(|st| (st, name.clone())));
                    let next = step(
                        current.as_ref().map(|(s, n)| (*s, n.as_deref())),
                        &msg.body,
                        BRAND,
                    );
                    let id = match open {
                        Some((id, _, _)) => id,
                        None => onboarding::create(
                            c,
                            number.id,
                            msg.from.as_str(),
                            next.state.as_str(),
                        )?,
                    };
                    onboarding::advance(c, id, next.state.as_str(), next.business_name.as_deref())?;
                    Plan::Reply {
                        number,
                        body: next.reply,
                        kind: MessageKind::Onboarding,
                        lead_id: None,
                    }
                }
            };
            Ok((plan, true))
        })
        .await?;
    let (plan, known) = plan;
    if !known {
        desk.metrics.incr(UNKNOWN_NUMBERS, &[("kind", "sms")]);
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
            let out = Outbound::from_number(&number, m.from.as_str(), body, kind).lead(lead_id);
            messaging::send(desk, out).await?;
        }
        Plan::Intake {
            number,
            lead_id,
            ack,
            notified,
        } => {
            if notified {
                desk.notices_queued();
            }
            if let Some(body) = ack {
                let out = Outbound::from_number(&number, m.from.as_str(), body, MessageKind::Reply)
                    .lead(Some(lead_id));
                messaging::send(desk, out).await?;
            }
        }
    }
    Ok(())
}

/// `POST /twilio/sms/status`: delivery updates for messages we sent (e.g. 30034 arrives here).
pub async fn delivery_status(
    desk: &FrontDesk,
    sid: String,
    status: MessageStatus,
    error_code: Option<String>,
) -> Result<(), FrontdeskError> {
    desk.db
        .write(move |c| messages::update_status(c, &sid, status, error_code.as_deref()))
        .await?;
    Ok(())
}
