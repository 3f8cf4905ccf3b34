//! Inbound SMS (SPEC §3.2, §3.6, §3.7): the number's role decides — customer intake on
//! operational numbers, the sign-up conversation on onboarding numbers, nothing on system
//! numbers. STOP/START/HELP are honoured everywhere. A redelivered message does nothing.

use super::messaging::{self, Outbound};
use super::FrontdeskError;
use super::{FrontDesk, JobContext};
use crate::db::{blocklist, callflows, leads, messages, numbers, onboarding, optouts};
use crate::domain::onboarding::step;
use crate::domain::phone::Party;
use crate::domain::sms::{self, SmsPlan};
use crate::domain::state::{Direction, MessageKind, MessageStatus};
use crate::domain::{FlagKey, NumberRole};
use crate::metrics::UNKNOWN_NUMBERS;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
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

/// `POST /twilio/sms`: the message is stored and decided on in one write job (`plan`),
/// then what was decided is sent (`apply`).
pub async fn inbound(desk: &Arc<FrontDesk>, m: InboundSms) -> Result<(), FrontdeskError> {
    let ctx = desk.job_context();
    let msg = m.clone();
    let (plan, known) = desk.db.write(move |c| plan(c, &ctx, &msg)).await?;
    if !known {
        desk.metrics.incr(UNKNOWN_NUMBERS, &[("kind", "sms")]);
        log::warn!(
            "SMS {} to a number that is not in phone_numbers; stored, no reply",
            m.sid
        );
    }
    apply(desk, &m, plan).await
}

/// Stores the message (once per SID), tells the business's webhooks, decides
/// (`domain::sms::plan`) and writes what the decision changes. `known`: the number is
/// ours (or the message a redelivery).
fn plan(c: &Connection, ctx: &JobContext, msg: &InboundSms) -> rusqlite::Result<(Plan, bool)> {
    let number = match msg.to.number() {
        Some(to) => numbers::resolve(c, to)?,
        None => None,
    };
    let stored = store(c, msg, number.as_ref(), ctx.now)?;
    if let (Some(n), Some(id)) = (&number, stored) {
        received(c, n, id, msg, ctx.now)?;
    }
    let onboarding_flag = match &number {
        Some(n) if n.role == NumberRole::Onboarding => {
            ctx.flags.is_enabled(c, n.org_id, FlagKey::SmsOnboarding)?
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
    Ok((act(c, ctx, decided, number, message_id, msg)?, true))
}

/// The message row, by role: an onboarding number's conversation or a customer's intake.
/// `None` for a redelivery.
fn store(
    c: &Connection,
    msg: &InboundSms,
    number: Option<&numbers::Resolved>,
    at: DateTime<Utc>,
) -> rusqlite::Result<Option<i64>> {
    let kind = match number.map(|n| n.role) {
        Some(NumberRole::Onboarding) => MessageKind::Onboarding,
        _ => MessageKind::Intake,
    };
    messages::insert(
        c,
        &messages::NewMessage {
            org_id: number.map(|n| n.org_id),
            sid: Some(&msg.sid),
            direction: Direction::Inbound,
            from: msg.from.as_str(),
            to: msg.to.as_str(),
            phone_number_id: number.map(|n| n.id),
            call_id: None,
            lead_id: None,
            body: &msg.body,
            kind,
            status: MessageStatus::Received,
            blocked_reason: None,
            at,
        },
    )
}

/// `message.received` for the business's own tools, once however often Twilio repeats it.
fn received(
    c: &Connection,
    n: &numbers::Resolved,
    id: i64,
    msg: &InboundSms,
    at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    crate::db::webhooks::emit(
        c,
        n.org_id,
        "message.received",
        &msg.sid,
        &crate::db::format_time(at),
        || {
            Ok(Some(serde_json::json!({
                "messageId": id,
                "messageSid": msg.sid,
                "from": msg.from.as_str(),
                "fromName": crate::db::contacts::name(c, n.org_id, msg.from.as_str())?,
                "to": n.e164,
                "body": msg.body,
                "receivedAt": crate::db::format_time(at),
            })))
        },
    )?;
    Ok(())
}

/// Writes what the decision changes and says what is left to send.
fn act(
    c: &Connection,
    ctx: &JobContext,
    decided: SmsPlan,
    number: numbers::Resolved,
    message_id: i64,
    msg: &InboundSms,
) -> rusqlite::Result<Plan> {
    let from = msg.from.as_str();
    Ok(match decided {
        SmsPlan::Nothing => Plan::Nothing,
        SmsPlan::OptOut { cancel_onboarding } => {
            optouts::opt_out(c, &number.e164, from, msg.body.trim())?;
            if cancel_onboarding {
                onboarding::cancel(c, number.id, from)?;
            }
            Plan::Nothing
        }
        SmsPlan::OptIn => {
            optouts::opt_in(c, &number.e164, from)?;
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
        SmsPlan::Intake => intake(c, ctx, number, message_id, msg)?,
        SmsPlan::OnboardingOff => {
            log::info!(
                "SMS onboarding is off for org {}; message {} stored without a reply",
                number.org_id,
                msg.sid
            );
            Plan::Nothing
        }
        SmsPlan::Onboarding => converse(c, number, msg)?,
    })
}

/// A customer's text: their open lead (or a new one) takes it; the first message of a
/// lead is acknowledged once, never after STOP; the lead's notices are queued in this
/// same transaction, so a crash cannot lose them.
fn intake(
    c: &Connection,
    ctx: &JobContext,
    number: numbers::Resolved,
    message_id: i64,
    msg: &InboundSms,
) -> rusqlite::Result<Plan> {
    let from = msg.from.as_str();
    let origin = messages::last_textback_call(c, &number.e164, from)?;
    let (lead_id, _) = leads::open_or_create(c, number.org_id, number.id, from, origin, "sms")?;
    messages::set_lead(c, message_id, lead_id)?;
    let opted_out = optouts::is_opted_out(c, &number.e164, from)?;
    let ack = if !opted_out && leads::claim_ack(c, lead_id)? {
        Some(
            callflows::for_number(c, number.org_id, Some(number.id))?
                .textback
                .intake_acknowledgement,
        )
    } else {
        None
    };
    let notified = super::notify::queue_lead(
        c,
        &super::notify::NewLead {
            lead_id,
            number: &number,
            customer: from,
            first_message: &msg.body,
            public_url: &ctx.public_url,
            senders: ctx.senders,
            now: ctx.now,
        },
    )?;
    Ok(Plan::Intake {
        number,
        lead_id,
        ack,
        notified,
    })
}

/// One step of the sign-up conversation (`domain::onboarding::step`).
fn converse(c: &Connection, number: numbers::Resolved, msg: &InboundSms) -> rusqlite::Result<Plan> {
    let from = msg.from.as_str();
    let open = onboarding::open(c, number.id, from)?;
    let current = open
        .as_ref()
        .map(|(_, state, name)| (*state, name.as_deref()));
    let next = step(current, &msg.body, BRAND);
    let id = match open {
        Some((id, _, _)) => id,
        None => onboarding::create(c, number.id, from, next.state)?,
    };
    onboarding::advance(c, id, next.state, next.business_name.as_deref())?;
    Ok(Plan::Reply {
        number,
        body: next.reply,
        kind: MessageKind::Onboarding,
        lead_id: None,
    })
}

/// Sends what [`plan`] left to send: a reply, or an intake's acknowledgement (and wakes
/// the notification worker for the lead's notices).
async fn apply(desk: &Arc<FrontDesk>, m: &InboundSms, plan: Plan) -> Result<(), FrontdeskError> {
    let (number, body, kind, lead_id) = match plan {
        Plan::Nothing => return Ok(()),
        Plan::Reply {
            number,
            body,
            kind,
            lead_id,
        } => (number, body, kind, lead_id),
        Plan::Intake {
            number,
            lead_id,
            ack,
            notified,
        } => {
            if notified {
                desk.notices_queued();
            }
            let Some(body) = ack else {
                return Ok(());
            };
            (number, body, MessageKind::Reply, Some(lead_id))
        }
    };
    let out = Outbound::from_number(&number, m.from.as_str(), body, kind).lead(lead_id);
    messaging::send(desk, out).await?;
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
