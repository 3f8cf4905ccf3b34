//! What an inbound text asks of the appliance (SPEC §3.2, §3.6, §3.7), as a pure function
//! of the number's role, the message's first word and the state already known. The
//! carrier keywords (STOP / START / HELP) come first on every number that converses;
//! then the role decides: customer intake, the sign-up conversation, or nothing.
//! `frontdesk::sms` loads the facts, asks here, persists and sends.

use super::textback::{keyword, Keyword};
use super::NumberRole;

/// The reply to HELP on an onboarding number.
pub const ONBOARDING_HELP: &str =
    "Text us the name of your business to set up your phone line. Reply STOP to stop.";

/// The facts an inbound text is planned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsFacts<'a> {
    /// The receiving number's role; `None` when it is not in `phone_numbers`.
    pub role: Option<NumberRole>,
    /// The MessageSid was seen before: a redelivery.
    pub redelivered: bool,
    pub body: &'a str,
    /// The org's `sms_onboarding` flag (asked only of onboarding numbers).
    pub onboarding_flag: bool,
    /// The sender is on the org's blocklist (SPEC §3.9): stored, never answered.
    pub blocked: bool,
}

/// What to do with an inbound text, once it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsPlan {
    /// Nothing more: a redelivery, or a system or unknown number (no conversation there).
    Nothing,
    /// Record the opt-out (Twilio's own handling confirms STOP to the sender); an open
    /// sign-up on an onboarding number is cancelled.
    OptOut { cancel_onboarding: bool },
    /// Record the opt-in.
    OptIn,
    /// Reply with the help text: the sign-up help on an onboarding number, the flow's
    /// help message on an operational one.
    Help { onboarding: bool },
    /// A customer's message: file it on the caller's open lead, acknowledge the first
    /// one (unless opted out) and tell the owner.
    Intake,
    /// The next step of the sign-up conversation.
    Onboarding,
    /// An onboarding number whose org has the `sms_onboarding` flag off: stored, no reply.
    OnboardingOff,
}

pub fn plan(f: &SmsFacts<'_>) -> SmsPlan {
    if f.redelivered {
        return SmsPlan::Nothing;
    }
    let role = match f.role {
        None | Some(NumberRole::System) => return SmsPlan::Nothing,
        Some(role) => role,
    };
    let onboarding = role == NumberRole::Onboarding;
    match keyword(f.body) {
        Some(Keyword::Stop) => SmsPlan::OptOut {
            cancel_onboarding: onboarding,
        },
        // A blocked sender gets no lead, no reply and no help; a STOP is still honoured.
        _ if f.blocked => SmsPlan::Nothing,
        Some(Keyword::Start) => SmsPlan::OptIn,
        Some(Keyword::Help) => SmsPlan::Help { onboarding },
        None if !onboarding => SmsPlan::Intake,
        None if f.onboarding_flag => SmsPlan::Onboarding,
        None => SmsPlan::OnboardingOff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_come_first_then_the_role_decides() {
        use NumberRole::{Onboarding, Operational, System};
        use SmsPlan as P;
        #[rustfmt::skip]
        let table: [(Option<NumberRole>, bool, &str, bool, SmsPlan); 20] = [
            (Some(Operational), false, "Do you fix boilers?", true, P::Intake),
            (Some(Operational), false, "Do you fix boilers?", false, P::Intake),
            (Some(Operational), false, "stop", true, P::OptOut { cancel_onboarding: false }),
            (Some(Operational), false, "UNSUBSCRIBE", true, P::OptOut { cancel_onboarding: false }),
            (Some(Operational), false, "Start", true, P::OptIn),
            (Some(Operational), false, "help", true, P::Help { onboarding: false }),
            (Some(Operational), false, "info.", true, P::Help { onboarding: false }),
            (Some(Operational), false, "stop calling me at night", true, P::Intake),
            (Some(Onboarding), false, "Joe's Plumbing", true, P::Onboarding),
            (Some(Onboarding), false, "Joe's Plumbing", false, P::OnboardingOff),
            (Some(Onboarding), false, "STOP", true, P::OptOut { cancel_onboarding: true }),
            (Some(Onboarding), false, "STOP", false, P::OptOut { cancel_onboarding: true }),
            (Some(Onboarding), false, "UNSTOP", true, P::OptIn),
            (Some(Onboarding), false, "HELP", false, P::Help { onboarding: true }),
            (Some(System), false, "hello", true, P::Nothing),
            (Some(System), false, "STOP", true, P::Nothing),
            (None, false, "hello", true, P::Nothing),
            (None, false, "HELP", true, P::Nothing),
            (Some(Operational), true, "Do you fix boilers?", true, P::Nothing),
            (Some(Onboarding), true, "STOP", true, P::Nothing),
        ];
        for (role, redelivered, body, onboarding_flag, want) in table {
            let facts = SmsFacts {
                role,
                redelivered,
                body,
                onboarding_flag,
                blocked: false,
            };
            assert_eq!(plan(&facts), want, "{role:?} {redelivered} {body:?}");
        }
    }

    #[test]
    fn a_blocked_sender_is_never_answered_but_may_opt_out() {
        for (body, want) in [
            ("Cheap loans!!!", SmsPlan::Nothing),
            ("HELP", SmsPlan::Nothing),
            ("START", SmsPlan::Nothing),
            (
                "STOP",
                SmsPlan::OptOut {
                    cancel_onboarding: false,
                },
            ),
        ] {
            let facts = SmsFacts {
                role: Some(NumberRole::Operational),
                redelivered: false,
                body,
                onboarding_flag: true,
                blocked: true,
            };
            assert_eq!(plan(&facts), want, "{body}");
        }
    }
}
