//! Sending an SMS: store it, send it through the provider trait, store the result. Every
//! outbound text goes through here, so each one is in `messages` with its status or error.

use super::FrontDesk;
use crate::db::{messages, numbers, optouts, DbError};
use crate::domain::state::{Direction, MessageKind, MessageStatus};
use crate::domain::webhook::TwilioRoute;
use crate::metrics::SMS_SENT;
use crate::providers::{OutboundSms, ProviderErrorKind};

/// The provider texts go out through and the credentials they are sent with.
pub struct Messenger {
    pub twilio: std::sync::Arc<dyn crate::providers::TwilioApi>,
    /// The accounts texts are sent with (each number's own).
    pub accounts: crate::accounts::TwilioAccounts,
}

pub struct Outbound {
    pub org_id: Option<i64>,
    pub from: String,
    pub from_number_id: Option<i64>,
    /// The sending number's own Twilio account (a subaccount), if not the master.
    pub account_sid: Option<String>,
    pub to: String,
    pub body: String,
    pub kind: MessageKind,
    pub call_id: Option<i64>,
    pub lead_id: Option<i64>,
}

impl Outbound {
    /// A text from one of our numbers (its own Twilio account signs it), tied to nothing
    /// yet: `call` and `lead` attach it.
    pub fn from_number(
        number: &numbers::Resolved,
        to: impl Into<String>,
        body: String,
        kind: MessageKind,
    ) -> Outbound {
        Outbound {
            org_id: Some(number.org_id),
            from: number.e164.clone(),
            from_number_id: Some(number.id),
            account_sid: number.account_sid.clone(),
            to: to.into(),
            body,
            kind,
            call_id: None,
            lead_id: None,
        }
    }

    /// About this call.
    pub fn call(mut self, call_id: i64) -> Outbound {
        self.call_id = Some(call_id);
        self
    }

    /// Part of this lead's conversation.
    pub fn lead(mut self, lead_id: Option<i64>) -> Outbound {
        self.lead_id = lead_id;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Sent {
        message_id: i64,
        sid: String,
    },
    /// Not sent; stored with this reason (and the provider's code when it refused).
    Blocked {
        message_id: i64,
        reason: &'static str,
        code: Option<i64>,
    },
    /// Already sent once (a duplicate delivery); nothing was done.
    Duplicate,
}

/// Stores the text (once: a duplicate is [`Sent::Duplicate`]), then sends it with its
/// number's own account, unless the recipient opted out or no account can send it.
pub async fn send(desk: &FrontDesk, out: Outbound) -> Result<Sent, DbError> {
    let kind = out.kind;
    let Some((message_id, opted_out, creds)) = store(desk, &out).await? else {
        return Ok(Sent::Duplicate);
    };
    let blocked = |reason| Sent::Blocked {
        message_id,
        reason,
        code: None,
    };
    if opted_out {
        desk.metrics.incr(
            SMS_SENT,
            &[("kind", kind.as_str()), ("result", "opted_out")],
        );
        return Ok(blocked("opted_out"));
    }
    let Some(creds) = creds else {
        let msg = "no Twilio credentials are configured for the sending number: set SWITCHBOARD_TWILIO_ACCOUNT_SID";
        log::error!("{msg}");
        desk.db
            .write(move |c| {
                messages::mark_refused(
                    c,
                    message_id,
                    MessageStatus::Failed,
                    Some("no_credentials"),
                    None,
                    msg,
                )
            })
            .await?;
        desk.metrics.incr(
            SMS_SENT,
            &[("kind", kind.as_str()), ("result", "no_credentials")],
        );
        return Ok(blocked("no_credentials"));
    };
    deliver(desk, message_id, &creds, out).await
}

/// The message row (queued, or blocked for an opted-out recipient) and the sending
/// account's credentials, in one write; `None` when it was stored before.
async fn store(
    desk: &FrontDesk,
    out: &Outbound,
) -> Result<Option<(i64, bool, Option<crate::providers::TwilioCreds>)>, DbError> {
    let (org_id, from, to, body, number_id, call_id, lead_id, account, kind) = (
        out.org_id,
        out.from.clone(),
        out.to.clone(),
        out.body.clone(),
        out.from_number_id,
        out.call_id,
        out.lead_id,
        out.account_sid.clone(),
        out.kind,
    );
    let accounts = desk.messenger.accounts.clone();
    let at = desk.clock.now();
    desk.db
        .write(move |c| {
            let opted_out = optouts::is_opted_out(c, &from, &to)?;
            let (status, reason) = if opted_out {
                (MessageStatus::Blocked, Some("opted_out"))
            } else {
                (MessageStatus::Queued, None)
            };
            let msg = messages::NewMessage {
                org_id,
                sid: None,
                direction: Direction::Outbound,
                from: &from,
                to: &to,
                phone_number_id: number_id,
                call_id,
                lead_id,
                body: &body,
                kind,
                status,
                blocked_reason: reason,
                at,
            };
            let Some(id) = messages::insert(c, &msg)? else {
                return Ok(None);
            };
            let creds = accounts.lookup(c, account.as_deref());
            Ok(Some((id, opted_out, creds)))
        })
        .await
}

/// Hands the stored text to Twilio and records its answer: the SID, or the refusal.
async fn deliver(
    desk: &FrontDesk,
    message_id: i64,
    creds: &crate::providers::TwilioCreds,
    out: Outbound,
) -> Result<Sent, DbError> {
    let kind = out.kind;
    let sms = OutboundSms {
        from: out.from,
        to: out.to,
        body: out.body,
        status_callback: Some(TwilioRoute::SmsStatus.url(&desk.public_url)),
    };
    let e = match desk.messenger.twilio.send_sms(creds, &sms).await {
        Ok(sent) => {
            let sid = sent.sid.clone();
            // Twilio answers a send `queued` or `accepted`; a status it adds later is still
            // a message on its way, and the delivery callbacks will say where it got.
            let status = MessageStatus::parse(&sent.status).unwrap_or_else(|e| {
                log::warn!("SMS {sid} was sent; {e}: stored as queued");
                MessageStatus::Queued
            });
            desk.db
                .write(move |c| messages::mark_sent(c, message_id, &sent.sid, status))
                .await?;
            desk.metrics
                .incr(SMS_SENT, &[("kind", kind.as_str()), ("result", "sent")]);
            return Ok(Sent::Sent { message_id, sid });
        }
        Err(e) => e,
    };
    log::warn!(
        "SMS ({kind}) from {} was not sent: {e}",
        crate::domain::phone::redact(&sms.from)
    );
    let (status, reason) = match e.kind {
        ProviderErrorKind::Rejected | ProviderErrorKind::NotFound => {
            (MessageStatus::Blocked, "provider_refused")
        }
        ProviderErrorKind::Auth | ProviderErrorKind::Unavailable => {
            (MessageStatus::Failed, "provider_error")
        }
    };
    let (code, message) = (e.code, e.message.clone());
    desk.db
        .write(move |c| messages::mark_refused(c, message_id, status, Some(reason), code, &message))
        .await?;
    desk.metrics
        .incr(SMS_SENT, &[("kind", kind.as_str()), ("result", reason)]);
    Ok(Sent::Blocked {
        message_id,
        reason,
        code,
    })
}
