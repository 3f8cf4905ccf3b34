//! "Call back" from the business number (SPEC §12). Twilio rings the user's own phone
//! from the business number; when a person (not a voicemail greeting) answers, a whisper
//! says who is being called and the customer is dialled with the business number as
//! caller ID, so the customer sees the number they called and never a private one.
//!
//! The stored order: the `callbacks` row first, then `POST Calls.json`, then the outbound
//! call row under the SID Twilio gave — made by whichever comes first, that answer or the
//! call's own webhook, so neither a crash nor a fast answer loses it.

use super::{FrontDesk, FrontdeskError};
use crate::db::callbacks::{self, Callback, NewCallback};
use crate::db::{calls, numbers, orgs, users, DbError};
use crate::domain::events::CallEvent;
use crate::domain::state::CallStatus;
use crate::domain::textback::Outcome;
use crate::domain::typed::display;
use crate::domain::webhook::TwilioRoute;
use crate::domain::PhoneNumber;
use crate::providers::{OutboundCall, ProviderError};
use crate::twiml::{DialTarget, DialVerb, TwiML};

/// How long the user's own phone rings before the callback gives up.
pub const USER_RING_SECS: u32 = 25;
/// How long the customer's phone rings.
pub const CUSTOMER_RING_SECS: u32 = 30;

/// A callback asked for by a signed-in user.
pub struct Request {
    pub org_id: i64,
    pub user_id: i64,
    pub user_email: String,
    pub to: PhoneNumber,
    /// The call (or the call of a voicemail or lead) it answers.
    pub call_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("you have no mobile number on file: a callback rings your own phone first")]
    NoMobile,
    #[error("call {0}")]
    CallNotFound(i64),
    #[error("the organization has no active business number to call from")]
    NoBusinessNumber,
    #[error("no Twilio credentials for {0}: set SWITCHBOARD_TWILIO_ACCOUNT_SID")]
    NoCredentials(String),
    /// Twilio refused or failed; the callback row says so too.
    #[error(transparent)]
    Provider(ProviderError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A callback Twilio accepted, with its outbound call.
pub struct Placed {
    pub callback: Callback,
    pub call: Option<calls::Call>,
}

/// Rings the user's phone from the business number; the customer is dialled when they answer.
pub async fn place(desk: &FrontDesk, req: Request) -> Result<Placed, CallbackError> {
    let accounts = desk.messenger.accounts.clone();
    let to = req.to.as_str().to_string();
    let (cb, creds) = desk
        .db
        .write(move |c| {
            let mobile = users::reach(c, req.user_id)?.mobile;
            let Some(mobile) = mobile else {
                return Ok(Err(CallbackError::NoMobile));
            };
            let origin = match req.call_id {
                Some(id) => match calls::get(c, req.org_id, id)? {
                    Some(call) => Some(call),
                    None => return Ok(Err(CallbackError::CallNotFound(id))),
                },
                None => None,
            };
            let origin_number = origin.as_ref().and_then(|o| o.phone_number_id);
            let Some(number) = callbacks::business_number(c, req.org_id, &to, origin_number)?
                .map(|id| numbers::resolve_id(c, id))
                .transpose()?
                .flatten()
            else {
                return Ok(Err(CallbackError::NoBusinessNumber));
            };
            let creds = accounts.lookup(c, number.account_sid.as_deref());
            let Some(creds) = creds else {
                return Ok(Err(CallbackError::NoCredentials(number.e164)));
            };
            let id = callbacks::insert(
                c,
                &NewCallback {
                    org_id: req.org_id,
                    user_id: req.user_id,
                    phone_number_id: number.id,
                    business_number: &number.e164,
                    customer: &to,
                    user_mobile: &mobile,
                    origin_call_id: origin.map(|o| o.id),
                },
            )?;
            let cb = callbacks::get(c, id)?.expect("the row just written");
            Ok(Ok((cb, creds)))
        })
        .await??;
    let base = &desk.public_url;
    let query = format!("?callback={}", cb.id);
    let outbound = OutboundCall {
        from: cb.business_number.clone(),
        to: cb.user_mobile.clone(),
        url: format!("{}{query}", TwilioRoute::CallbackAnswer.url(base)),
        status_callback: format!("{}{query}", TwilioRoute::CallbackStatus.url(base)),
        timeout: USER_RING_SECS,
        machine_detection: true,
    };
    let placed = desk.messenger.twilio.place_call(&creds, &outbound).await;
    let (id, by) = (cb.id, req.user_email);
    match placed {
        Ok(p) => {
            let sid = p.sid;
            desk.db
                .write(move |c| {
                    let call_id = callbacks::attach_call(c, &cb, &sid)?;
                    calls::record(c, call_id, &CallEvent::CallbackPlaced { by: Some(&by) })?;
                    Ok(Placed {
                        callback: callbacks::get(c, id)?.expect("the row exists"),
                        call: calls::by_id(c, call_id)?,
                    })
                })
                .await
                .map_err(CallbackError::Db)
        }
        Err(e) => {
            let message = e.to_string();
            log::warn!("callback {id}: Twilio did not place the call: {message}");
            desk.db
                .write(move |c| callbacks::failed(c, id, &message))
                .await?;
            Err(CallbackError::Provider(e))
        }
    }
}

/// A phone number read out digit by digit ("4 1 5, 5 5 5, 0 1 2 3"), as a whisper says it.
fn spoken(number: &str) -> String {
    let mut out = String::new();
    for c in number.chars() {
        if c.is_ascii_digit() {
            if out.ends_with(|p: char| p.is_ascii_digit()) {
                out.push(' ');
            }
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(", ") && (c == ' ' || c == '-' || c == ')') {
            out.push_str(", ");
        }
    }
    out.trim_end_matches([',', ' ']).to_string()
}

/// The callback a Twilio request names (`?callback=N`), checked against the call's SID:
/// a request for another call is refused.
fn matching(c: &rusqlite::Connection, id: i64, call_sid: &str) -> Result<Callback, FrontdeskError> {
    let cb = callbacks::get(c, id)?
        .ok_or_else(|| FrontdeskError::BadRequest(format!("callback {id} does not exist")))?;
    if cb.call_sid.as_deref().is_some_and(|s| s != call_sid) {
        return Err(FrontdeskError::BadRequest(format!(
            "callback {id} belongs to another call than {call_sid}"
        )));
    }
    Ok(cb)
}

/// The user's phone answered. A person hears who is being called and the customer is
/// dialled from the business number; a voicemail greeting or a fax gets a hang-up, so the
/// customer is never connected to the user's voicemail.
pub async fn answered(
    desk: &FrontDesk,
    id: i64,
    call_sid: String,
    answered_by: Option<String>,
) -> Result<TwiML, FrontdeskError> {
    let machine = answered_by
        .as_deref()
        .is_some_and(|a| a.starts_with("machine") || a == "fax");
    let (cb, (country, name)) = desk
        .db
        .write(move |c| {
            let cb = match matching(c, id, &call_sid) {
                Ok(cb) => cb,
                Err(e) => return Ok(Err(e)),
            };
            let call_id = callbacks::attach_call(c, &cb, &call_sid)?;
            callbacks::set_user_status(c, id, if machine { "machine" } else { "answered" })?;
            calls::record(
                c,
                call_id,
                &CallEvent::CallbackUserAnswered {
                    answered_by: answered_by.as_deref(),
                    connected: !machine,
                },
            )?;
            let country = orgs::country(c, cb.org_id)?;
            let name = crate::db::contacts::name(c, cb.org_id, &cb.customer)?;
            Ok(Ok((cb, (country, name))))
        })
        .await??;
    if machine {
        return Ok(TwiML::new().hangup());
    }
    // A contact by name (SPEC §13), anyone else by their number read out.
    let who = name.unwrap_or_else(|| spoken(&display(&cb.customer, &country)));
    Ok(TwiML::new()
        .say(format!("Calling back {who}."))
        .dial(DialVerb {
            action: format!("{}?callback={id}", TwilioRoute::CallbackDial.path()),
            timeout: CUSTOMER_RING_SECS,
            record: false,
            caller_id: Some(cb.business_number.clone()),
            target: DialTarget::Numbers {
                numbers: vec![cb.customer.clone()],
                screen: None,
            },
        }))
}

/// The dial to the customer ended: whether they answered and for how long.
pub async fn dialled(
    desk: &FrontDesk,
    id: i64,
    call_sid: String,
    status: String,
    seconds: Option<i64>,
) -> Result<TwiML, FrontdeskError> {
    let answered = status == "completed" || status == "answered";
    let customer_status = if answered {
        "answered".to_string()
    } else {
        status.clone()
    };
    desk.db
        .write(move |c| {
            let cb = match matching(c, id, &call_sid) {
                Ok(cb) => cb,
                Err(e) => return Ok(Err(e)),
            };
            let call_id = callbacks::attach_call(c, &cb, &call_sid)?;
            callbacks::set_customer(c, id, &customer_status, seconds)?;
            calls::record(
                c,
                call_id,
                &CallEvent::CallbackCustomer {
                    status: &customer_status,
                    seconds,
                },
            )?;
            if answered {
                calls::mark_connected(c, call_id)?;
                calls::set_outcome(c, call_id, Outcome::Connected)?;
            }
            Ok(Ok(()))
        })
        .await??;
    Ok(if answered {
        TwiML::new().hangup()
    } else {
        let why = match status.as_str() {
            "busy" => "The line was busy.",
            "no-answer" => "There was no answer.",
            _ => "The call did not go through.",
        };
        TwiML::new().say(why).hangup()
    })
}

/// The callback's call ended (its status callback): how long, and how the user's leg
/// ended if it never answered.
pub async fn ended(
    desk: &FrontDesk,
    id: i64,
    call_sid: String,
    status: CallStatus,
    duration: Option<i64>,
) -> Result<(), FrontdeskError> {
    desk.db
        .write(move |c| {
            let cb = match matching(c, id, &call_sid) {
                Ok(cb) => cb,
                Err(e) => return Ok(Err(e)),
            };
            let call_id = callbacks::attach_call(c, &cb, &call_sid)?;
            if status.is_final() {
                calls::finish(c, call_id, status, duration)?;
                calls::record(c, call_id, &CallEvent::Ended { status, duration })?;
                callbacks::user_leg_ended(c, id, status.as_str())?;
            } else {
                calls::set_live_status(c, call_id, status)?;
            }
            Ok(Ok(()))
        })
        .await?
}

#[cfg(test)]
mod tests {
    use super::spoken;

    #[test]
    fn a_number_is_read_out_digit_by_digit_in_its_groups() {
        assert_eq!(spoken("(415) 555-0123"), "4 1 5, 5 5 5, 0 1 2 3");
        assert_eq!(spoken("+44 20 7946 0958"), "4 4, 2 0, 7 9 4 6, 0 9 5 8");
    }
}
