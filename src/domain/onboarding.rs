//! The SMS onboarding conversation (SPEC §3.7): a small state machine per sender. Only
//! SMS can drive it.

/// Where a sender's sign-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Greeted,
    NameReceived,
    PendingApproval,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Greeted => "greeted",
            State::NameReceived => "name_received",
            State::PendingApproval => "pending_approval",
        }
    }

    /// A stored state; anything else is an error, never a restart of the conversation.
    pub fn parse(s: &str) -> Result<State, String> {
        match s {
            "greeted" => Ok(State::Greeted),
            "name_received" => Ok(State::NameReceived),
            "pending_approval" => Ok(State::PendingApproval),
            _ => Err(format!("unknown onboarding state {s:?}")),
        }
    }
}

/// The next state, the business name to store (if it changed) and the reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub state: State,
    pub business_name: Option<String>,
    pub reply: String,
}

fn is_yes(body: &str) -> bool {
    matches!(
        body.trim()
            .trim_end_matches(['.', '!'])
            .to_ascii_lowercase()
            .as_str(),
        "yes" | "y" | "yes please" | "correct" | "yep"
    )
}

/// Advances the conversation. `current` is `None` for a sender with no open request.
pub fn step(current: Option<(State, Option<&str>)>, body: &str, brand: &str) -> Step {
    let body = body.trim();
    match current {
        None => Step {
            state: State::Greeted,
            business_name: None,
            reply: format!("Welcome to {brand}! Let's set up your business phone line. What is the name of your business?"),
        },
        Some((State::Greeted, _)) | Some((State::NameReceived, _)) if body.is_empty() => Step {
            state: current.map(|c| c.0).unwrap_or(State::Greeted),
            business_name: None,
            reply: "Please reply with the name of your business.".into(),
        },
        Some((State::Greeted, _)) => name_received(body),
        Some((State::NameReceived, Some(name))) if is_yes(body) => Step {
            state: State::PendingApproval,
            business_name: None,
            reply: format!("Thanks! We'll review the request for \"{name}\" and text you as soon as it is approved."),
        },
        Some((State::NameReceived, _)) => name_received(body),
        Some((State::PendingApproval, _)) => Step {
            state: State::PendingApproval,
            business_name: None,
            reply: "Your request is being reviewed. We'll text you as soon as it is approved.".into(),
        },
    }
}

fn name_received(body: &str) -> Step {
    let name: String = body.chars().take(100).collect();
    Step {
        state: State::NameReceived,
        reply: format!("Got it: \"{name}\". Reply YES to confirm, or send the correct name."),
        business_name: Some(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_sender_is_greeted_and_asked_for_the_name() {
        let s = step(None, "hi", "switchboard");
        assert_eq!(s.state, State::Greeted);
        assert!(s.reply.contains("What is the name of your business?"));
    }

    #[test]
    fn the_name_is_confirmed_then_the_request_waits_for_approval() {
        let s = step(Some((State::Greeted, None)), "Joe's Plumbing", "x");
        assert_eq!(
            (s.state, s.business_name.as_deref()),
            (State::NameReceived, Some("Joe's Plumbing"))
        );
        let corrected = step(
            Some((State::NameReceived, Some("Joe's Plumbing"))),
            "Joe's Plumbing & Heating",
            "x",
        );
        assert_eq!(
            corrected.business_name.as_deref(),
            Some("Joe's Plumbing & Heating")
        );
        let done = step(
            Some((State::NameReceived, Some("Joe's Plumbing & Heating"))),
            "Yes!",
            "x",
        );
        assert_eq!(
            (done.state, done.business_name),
            (State::PendingApproval, None)
        );
        assert!(done.reply.contains("Joe's Plumbing & Heating"));
        let later = step(Some((State::PendingApproval, Some("x"))), "any news?", "x");
        assert_eq!(later.state, State::PendingApproval);
    }

    #[test]
    fn an_empty_message_asks_again() {
        let s = step(Some((State::Greeted, None)), "  ", "x");
        assert_eq!(s.state, State::Greeted);
        assert_eq!(s.business_name, None);
    }
}
