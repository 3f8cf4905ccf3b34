//! The call menu's decisions (SPEC §3.2–§3.5) as pure functions of plain facts: which step
//! a caller hears next, and what a call's end sets in motion. No database, no TwiML, no
//! clock: `frontdesk::voice` loads the facts, asks here, persists what was decided and
//! renders the [`Step`] (in `crate::twiml`, the one place TwiML is written). The
//! dashboard's "what a caller hears" preview walks the same functions, so it cannot drift
//! from what a real call does.

use super::callflow::{AfterHoursAction, CallFlow, MenuAction, RecordingMode};
use super::events::CallEvent;
use super::ring::{after_dial, AfterDial, Dial, DialEnd};
use super::state::Consent;
use super::textback::Outcome;
use super::{NumberHandler, NumberRole};

/// Said before a caller of a misrouted AI line is put through to a person.
pub const TRANSFER_MESSAGE: &str = "Please hold while we connect you.";
/// All a caller of an onboarding (text-only) number hears.
pub const ONBOARDING_VOICE_MESSAGE: &str =
    "This number is for text messages only. Please send us a text to get started.";
/// Ring time for a hand-off to a person when the flow names none.
pub const TRANSFER_RING_SECS: u32 = 20;
/// Ring time for a SIP hand-off to an AI agent.
pub const SIP_RING_SECS: u32 = 30;

/// What the caller hears next. Texts that come from the flow (menu prompt, voicemail
/// prompt and goodbye) are filled in when the step is rendered with that flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The menu, gathering one key for `attempt`; `preface` is said first (the recording
    /// disclosure, or "that was not a valid choice").
    Menu {
        attempt: u32,
        preface: Option<String>,
    },
    /// The recording opt-in question (disclosure, then what to press).
    ConsentQuestion,
    /// Ring people (SPEC §3.8); the bridged call is recorded only when consent allows.
    Dial(Dial),
    /// Hand the caller to an AI agent's SIP address.
    Sip {
        uri: String,
    },
    /// The voicemail prompt, the recorder and the goodbye.
    Voicemail {
        preface: Option<String>,
    },
    /// Say each line, then hang up.
    SayAndHangUp(Vec<String>),
    /// The flow's voicemail goodbye, then hang up (after a recording).
    Goodbye,
    HangUp,
    /// Refuse the call before it is answered (no charge to the caller).
    Reject,
    /// Refuse it as if the line were busy (a blocked caller, SPEC §3.9); Twilio does not
    /// bill a rejected call.
    RejectBusy,
}

/// Something that should never happen, decided here and counted by the caller as an
/// invariant violation (`switchboard_invariant_violations_total{name}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anomaly {
    /// A call to a text-only onboarding number.
    VoiceOnboardingNumber,
    /// Twilio sent a call for a number Vapi answers to this appliance's IVR.
    VapiNumberOnIvr,
    /// A menu option points at an agent that has no SIP address (any more).
    AgentWithoutSipUri,
    /// A mid-call callback for an onboarding number.
    CallbackOnboardingNumber,
    /// A mid-call callback for a system or unknown number.
    CallbackSystemNumber,
}

impl Anomaly {
    pub const ALL: [Anomaly; 5] = [
        Anomaly::VoiceOnboardingNumber,
        Anomaly::VapiNumberOnIvr,
        Anomaly::AgentWithoutSipUri,
        Anomaly::CallbackOnboardingNumber,
        Anomaly::CallbackSystemNumber,
    ];

    /// The anomaly recorded under `name` (a call event's or a metric's label).
    pub fn from_name(name: &str) -> Option<Anomaly> {
        Anomaly::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Anomaly::VoiceOnboardingNumber => "voice_onboarding_number",
            Anomaly::VapiNumberOnIvr => "voice_vapi_number_on_ivr",
            Anomaly::AgentWithoutSipUri => "agent_without_sip_uri",
            Anomaly::CallbackOnboardingNumber => "voice_callback_onboarding_number",
            Anomaly::CallbackSystemNumber => "voice_callback_system_number",
        }
    }
}

/// The called number as the menu sees it: `None` when it is not in `phone_numbers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub role: NumberRole,
    pub handler: NumberHandler,
}

/// How a call entered, for the call's first events and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Not in `phone_numbers`: treated as a system number and rejected.
    Unknown,
    /// The caller is on the org's blocklist.
    Blocked,
    System,
    Onboarding,
    /// A Vapi-handled number whose call came to the IVR anyway.
    Misrouted,
    /// An operational number outside business hours.
    Closed,
    /// An operational number in business hours; `announced` when the recording
    /// disclosure is played (which is the caller's consent in announce mode).
    Open {
        announced: bool,
    },
}

impl Entry {
    /// The outcome the entry alone settles (a refused call), if any.
    pub fn outcome(self) -> Option<Outcome> {
        match self {
            Entry::Unknown | Entry::System | Entry::Onboarding => Some(Outcome::Rejected),
            Entry::Blocked => Some(Outcome::Blocked),
            _ => None,
        }
    }
}

/// The facts the entry of a call is decided from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryFacts<'a> {
    pub line: Option<Line>,
    /// Inside business hours (org time zone, holidays).
    pub open: bool,
    /// The org's `call_recording` flag.
    pub recording_flag: bool,
    /// For a Vapi-handled number: its agent's SIP address.
    pub agent_sip: Option<&'a str>,
    /// For a Vapi-handled number: the org's human fallback.
    pub fallback: Option<&'a str>,
    /// The caller is on the org's blocklist (SPEC §3.9).
    pub blocked: bool,
}

/// A decision: what the caller hears, and what, if anything, went wrong to get there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<K> {
    pub kind: K,
    pub step: Step,
    pub anomaly: Option<Anomaly>,
}

impl Decision<Entry> {
    /// The events the entry writes on the call's timeline, in order: how it was refused,
    /// the invariant it broke, or that it started (and, closed, went to after-hours).
    /// `closed`: the business was closed by hand, until when and by whom.
    pub fn events<'a>(
        &self,
        f: &EntryFacts<'_>,
        closed: Option<(&'a str, Option<&'a str>)>,
    ) -> impl Iterator<Item = CallEvent<'a>> {
        let started = CallEvent::Started {
            open: f.open,
            closed,
        };
        let (first, then) = match self.kind {
            Entry::Unknown => (
                CallEvent::Rejected {
                    reason: "unknown_number",
                },
                None,
            ),
            Entry::Blocked => (CallEvent::Rejected { reason: "blocked" }, None),
            Entry::System => (
                CallEvent::Rejected {
                    reason: "system_number",
                },
                None,
            ),
            Entry::Onboarding => (
                CallEvent::Invariant {
                    name: Anomaly::VoiceOnboardingNumber.name(),
                    misrouted: None,
                },
                None,
            ),
            Entry::Misrouted => (
                CallEvent::Invariant {
                    name: Anomaly::VapiNumberOnIvr.name(),
                    misrouted: Some((f.agent_sip.is_some(), f.fallback.is_some())),
                },
                None,
            ),
            Entry::Closed => (started, Some(CallEvent::AfterHours)),
            Entry::Open { .. } => (started, None),
        };
        std::iter::once(first).chain(then)
    }
}

/// `POST /twilio/voice`: the first step of a call, by role (SPEC §3.2) and, for an
/// operational number, hours and recording mode (SPEC §3.3, §3.4).
pub fn entry(flow: &CallFlow, f: &EntryFacts<'_>) -> Decision<Entry> {
    let decided = |kind, step| Decision {
        kind,
        step,
        anomaly: None,
    };
    let Some(line) = f.line else {
        return decided(Entry::Unknown, Step::Reject);
    };
    match (line.role, line.handler) {
        (NumberRole::Operational, _) if f.blocked => decided(Entry::Blocked, Step::RejectBusy),
        (NumberRole::System, _) => decided(Entry::System, Step::Reject),
        (NumberRole::Onboarding, _) => Decision {
            kind: Entry::Onboarding,
            step: Step::SayAndHangUp(vec![ONBOARDING_VOICE_MESSAGE.into()]),
            anomaly: Some(Anomaly::VoiceOnboardingNumber),
        },
        // The business chose the AI for this number, not the menu: hand the caller to
        // the agent, else to a person, else take a message. Never the menu.
        (NumberRole::Operational, NumberHandler::Vapi) => Decision {
            kind: Entry::Misrouted,
            step: match (f.agent_sip, f.fallback) {
                (Some(uri), _) => Step::Sip { uri: uri.into() },
                (None, Some(person)) => Step::Dial(Dial::transfer(
                    Some(TRANSFER_MESSAGE.into()),
                    vec![person.into()],
                    TRANSFER_RING_SECS,
                )),
                (None, None) => Step::Voicemail { preface: None },
            },
            anomaly: Some(Anomaly::VapiNumberOnIvr),
        },
        (NumberRole::Operational, NumberHandler::Ivr) if !f.open => {
            let a = &flow.after_hours;
            let preface = Some(a.message.clone());
            let step = match a.action {
                AfterHoursAction::Voicemail => Step::Voicemail { preface },
                AfterHoursAction::Message => {
                    Step::SayAndHangUp(vec![a.message.clone(), "Goodbye.".into()])
                }
                AfterHoursAction::Dial => Step::Dial(Dial::transfer(
                    preface,
                    a.targets.iter().map(|t| t.to_string()).collect(),
                    TRANSFER_RING_SECS,
                )),
            };
            decided(Entry::Closed, step)
        }
        (NumberRole::Operational, NumberHandler::Ivr) => {
            let mode = if f.recording_flag {
                flow.recording.mode
            } else {
                RecordingMode::Off
            };
            let (announced, step) = match mode {
                RecordingMode::Off => (
                    false,
                    Step::Menu {
                        attempt: 1,
                        preface: None,
                    },
                ),
                RecordingMode::Announce => (
                    true,
                    Step::Menu {
                        attempt: 1,
                        preface: Some(flow.recording.disclosure.clone()),
                    },
                ),
                RecordingMode::OptIn => (false, Step::ConsentQuestion),
            };
            decided(Entry::Open { announced }, step)
        }
    }
}

/// Mid-call callbacks decide by role as the entry does: only an operational number has a
/// menu, so a callback for any other number ends the call. `None`: go on with the menu.
pub fn off_menu(role: Option<NumberRole>) -> Option<(Step, Anomaly)> {
    match role {
        Some(NumberRole::Operational) => None,
        Some(NumberRole::Onboarding) => Some((
            Step::SayAndHangUp(vec![ONBOARDING_VOICE_MESSAGE.into()]),
            Anomaly::CallbackOnboardingNumber,
        )),
        Some(NumberRole::System) | None => Some((Step::HangUp, Anomaly::CallbackSystemNumber)),
    }
}

/// `POST /twilio/voice/consent`: only the key 1 allows recording; anything else,
/// including no answer, means no recording. Either way the menu follows.
pub fn consent(digits: Option<&str>) -> (bool, Step) {
    (
        digits.map(str::trim) == Some("1"),
        Step::Menu {
            attempt: 1,
            preface: None,
        },
    )
}

/// Whether a dialled leg may be recorded: the flag on, a recording mode, and consent
/// announced or granted. Any doubt means no recording (SPEC §3.4).
pub fn may_record(recording_flag: bool, flow: &CallFlow, consent: Consent) -> bool {
    recording_flag && flow.recording.mode != RecordingMode::Off && consent.allows_recording()
}

/// The facts a menu answer is decided from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MenuFacts<'a> {
    /// 1 for the first playing of the menu.
    pub attempt: u32,
    /// The key pressed; `None` on a timeout.
    pub digits: Option<&'a str>,
    /// See [`may_record`].
    pub record: bool,
    /// The SIP address of the agent the chosen option names, if it names one that has it.
    pub agent_sip: Option<&'a str>,
    /// The called number, shown to ringing phones by a dial set to show it.
    pub business_number: Option<&'a str>,
}

/// `POST /twilio/voice/menu?attempt=N`: the pressed key's action; an unknown key or none
/// replays the menu until the flow's retries are used up, then voicemail.
pub fn menu(flow: &CallFlow, f: &MenuFacts<'_>) -> Decision<()> {
    let decided = |step| Decision {
        kind: (),
        step,
        anomaly: None,
    };
    let option = f.digits.map(str::trim).and_then(|d| flow.option(d));
    let Some(option) = option else {
        return decided(if f.attempt <= u32::from(flow.retries) {
            Step::Menu {
                attempt: f.attempt + 1,
                preface: Some(flow.invalid_input_message.clone()),
            }
        } else {
            Step::Voicemail { preface: None }
        });
    };
    match &option.action {
        MenuAction::Dial { .. } => {
            match Dial::for_option(flow, &option.digit, 0, f.record, f.business_number) {
                Some(dial) => decided(Step::Dial(dial)),
                // A dial without targets does not pass the check on save; never strand.
                None => decided(Step::Voicemail { preface: None }),
            }
        }
        MenuAction::Voicemail => decided(Step::Voicemail { preface: None }),
        MenuAction::Agent { .. } => match f.agent_sip {
            Some(uri) => decided(Step::Sip { uri: uri.into() }),
            // The check on save requires a SIP URI; if it was removed since, do not
            // strand the caller.
            None => Decision {
                kind: (),
                step: Step::Voicemail { preface: None },
                anomaly: Some(Anomaly::AgentWithoutSipUri),
            },
        },
        MenuAction::Message { text } => decided(Step::SayAndHangUp(vec![text.clone()])),
        MenuAction::Repeat => decided(Step::Menu {
            attempt: f.attempt,
            preface: None,
        }),
    }
}

/// `POST /twilio/voice/dial-result`: whether a person took the call (SPEC §3.8), and
/// what follows: a goodbye when one did, the next target of a sequential ring, or
/// voicemail.
pub fn dial_result(flow: &CallFlow, end: &DialEnd<'_>) -> (bool, Step) {
    match after_dial(flow, end) {
        AfterDial::Connected => (true, Step::HangUp),
        AfterDial::Next(dial) => (false, Step::Dial(dial)),
        AfterDial::NobodyTook => (false, Step::Voicemail { preface: None }),
    }
}

/// What an ended call on an operational number sets in motion (SPEC §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCall {
    /// Nothing: the caller was served.
    Nothing,
    /// Schedule the one text-back.
    TextBack,
    /// A text-back was due but the org's `missed_call_textback` flag is off (recorded).
    TextBackFlagOff,
}

/// A missed call (and, if the flow says so, a voicemail) earns one text-back.
pub fn after_call(outcome: Option<Outcome>, flow: &CallFlow, textback_flag: bool) -> AfterCall {
    let wants = match outcome {
        Some(Outcome::Missed) => true,
        Some(Outcome::Voicemail) => flow.textback.voicemail_counts_as_missed,
        _ => false,
    };
    match (wants, textback_flag) {
        (false, _) => AfterCall::Nothing,
        (true, true) => AfterCall::TextBack,
        (true, false) => AfterCall::TextBackFlagOff,
    }
}

/// One hop of a walk through the flow: what the caller heard, and what they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub step: Step,
    /// The key pressed at this step (`None`: no key, or the step takes none).
    pub pressed: Option<String>,
}

/// Walks an operational IVR number's flow the way a caller would: `keys` are pressed in
/// order at each menu or consent question (`None` in the sequence, or running out, is a
/// timeout); a dial rings out (nobody accepts) to its next target, then voicemail. Stops at a step that ends the
/// call or leaves the menu. `agent_sip` resolves an agent id to its SIP address.
pub fn walk(
    flow: &CallFlow,
    open: bool,
    recording_flag: bool,
    keys: &[Option<&str>],
    agent_sip: impl Fn(i64) -> Option<String>,
) -> Vec<Hop> {
    let facts = EntryFacts {
        line: Some(Line {
            role: NumberRole::Operational,
            handler: NumberHandler::Ivr,
        }),
        open,
        recording_flag,
        agent_sip: None,
        fallback: None,
        blocked: false,
    };
    let first = entry(flow, &facts);
    let mut consented = match first.kind {
        Entry::Open { announced: true } => Consent::Announced,
        _ => Consent::NotAsked,
    };
    let mut keys = keys.iter().copied();
    let mut hops = Vec::new();
    let mut step = first.step;
    // A flow with `repeat` options could loop for ever; a caller gives up long before.
    for _ in 0..64 {
        let next = match &step {
            Step::ConsentQuestion => {
                let key = keys.next().flatten();
                let (granted, next) = consent(key);
                consented = if granted {
                    Consent::Granted
                } else {
                    Consent::Declined
                };
                hops.push(Hop {
                    step: step.clone(),
                    pressed: key.map(String::from),
                });
                next
            }
            Step::Menu { attempt, .. } => {
                let key = keys.next().flatten();
                let sip = key
                    .and_then(|d| flow.option(d.trim()))
                    .and_then(|o| match o.action {
                        MenuAction::Agent { agent_id } => agent_sip(agent_id),
                        _ => None,
                    });
                let decided = menu(
                    flow,
                    &MenuFacts {
                        attempt: *attempt,
                        digits: key,
                        record: may_record(recording_flag, flow, consented),
                        agent_sip: sip.as_deref(),
                        business_number: None,
                    },
                );
                hops.push(Hop {
                    step: step.clone(),
                    pressed: key.map(String::from),
                });
                decided.step
            }
            Step::Dial(dial) => {
                hops.push(Hop {
                    step: step.clone(),
                    pressed: None,
                });
                // Nobody takes it: the next target of a sequential ring, then voicemail.
                let end = DialEnd {
                    status: "no-answer",
                    hop: &dial.hop,
                    accepted: false,
                    record: dial.record,
                    business_number: None,
                };
                dial_result(flow, &end).1
            }
            _ => {
                hops.push(Hop {
                    step: step.clone(),
                    pressed: None,
                });
                return hops;
            }
        };
        step = next;
    }
    hops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_anomaly_is_found_by_its_name_and_nothing_else_is() {
        for a in Anomaly::ALL {
            assert_eq!(Anomaly::from_name(a.name()), Some(a));
        }
        assert_eq!(Anomaly::from_name("vapi_hang"), None);
    }
    use crate::domain::callflow::{AfterHours, MenuOption};
    use crate::domain::PhoneNumber;

    /// Case, flow, facts → the entry kind, step and anomaly.
    type EntryRow<'a> = (
        &'a str,
        &'a CallFlow,
        EntryFacts<'a>,
        Entry,
        Step,
        Option<Anomaly>,
    );
    /// Attempt, key, may record, agent SIP → the step and anomaly.
    type MenuRow<'a> = (
        u32,
        Option<&'a str>,
        bool,
        Option<&'a str>,
        Step,
        Option<Anomaly>,
    );

    fn number(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    /// The demo's sales option as a dial step.
    fn sales(record: bool) -> Dial {
        Dial {
            preface: None,
            targets: vec!["+15550100101".into()],
            ring_secs: 20,
            record,
            caller_id: None,
            hop: super::super::ring::Hop {
                screened: true,
                option: Some("1".into()),
                position: None,
            },
        }
    }

    fn flow() -> CallFlow {
        let mut f = CallFlow::demo(number("+15550100101"), number("+15550100102"));
        f.retries = 2;
        f.menu.push(MenuOption {
            digit: "3".into(),
            label: "our assistant".into(),
            action: MenuAction::Agent { agent_id: 7 },
        });
        f.menu.push(MenuOption {
            digit: "4".into(),
            label: "our address".into(),
            action: MenuAction::Message {
                text: "We are at 1 Main St.".into(),
            },
        });
        f.menu.push(MenuOption {
            digit: "*".into(),
            label: "hear this again".into(),
            action: MenuAction::Repeat,
        });
        f
    }

    fn ivr(role: NumberRole) -> Option<Line> {
        Some(Line {
            role,
            handler: NumberHandler::Ivr,
        })
    }

    fn facts(line: Option<Line>, open: bool, flag: bool) -> EntryFacts<'static> {
        EntryFacts {
            line,
            open,
            recording_flag: flag,
            agent_sip: None,
            fallback: None,
            blocked: false,
        }
    }

    #[test]
    fn the_entry_writes_how_it_was_refused_or_that_it_started_then_after_hours() {
        let flow = CallFlow::default();
        let op = Some(Line {
            role: NumberRole::Operational,
            handler: NumberHandler::Ivr,
        });
        let kinds = |f: &EntryFacts<'_>, closed: Option<(&str, Option<&str>)>| {
            entry(&flow, f)
                .events(f, closed)
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>()
        };
        let closed = kinds(
            &facts(op, false, false),
            Some(("2026-12-08T08:00:00Z", Some("owner"))),
        );
        assert_eq!(closed.len(), 2, "{closed:?}");
        assert!(
            closed[0].starts_with("Started { open: false, closed: Some((\"2026-12-08T08:00:00Z\""),
            "{closed:?}"
        );
        assert_eq!(closed[1], "AfterHours");
        assert_eq!(
            kinds(&facts(op, true, false), None),
            ["Started { open: true, closed: None }"]
        );
        let blocked = EntryFacts {
            blocked: true,
            ..facts(op, true, false)
        };
        assert_eq!(kinds(&blocked, None), ["Rejected { reason: \"blocked\" }"]);
        assert_eq!(
            kinds(&facts(None, true, false), None),
            ["Rejected { reason: \"unknown_number\" }"]
        );
    }

    fn menu_step(attempt: u32, preface: Option<&str>) -> Step {
        Step::Menu {
            attempt,
            preface: preface.map(String::from),
        }
    }

    fn voicemail() -> Step {
        Step::Voicemail { preface: None }
    }

    #[test]
    fn the_entry_decides_by_role_hours_and_recording_mode() {
        let f = flow();
        let mut announce = flow();
        announce.recording.mode = RecordingMode::Announce;
        let mut opt_in = flow();
        opt_in.recording.mode = RecordingMode::OptIn;
        let disclosure = announce.recording.disclosure.clone();
        let onboarding = Step::SayAndHangUp(vec![ONBOARDING_VOICE_MESSAGE.into()]);
        let op = ivr(NumberRole::Operational);
        #[rustfmt::skip]
        let table: Vec<EntryRow> = vec![
            ("unknown number", &f, facts(None, true, true), Entry::Unknown, Step::Reject, None),
            ("system number", &f, facts(ivr(NumberRole::System), true, true), Entry::System, Step::Reject, None),
            ("onboarding number", &f, facts(ivr(NumberRole::Onboarding), true, false), Entry::Onboarding, onboarding, Some(Anomaly::VoiceOnboardingNumber)),
            ("open, recording off", &f, facts(op, true, true), Entry::Open { announced: false }, menu_step(1, None), None),
            ("open, announce", &announce, facts(op, true, true), Entry::Open { announced: true }, menu_step(1, Some(&disclosure)), None),
            ("open, announce, flag off", &announce, facts(op, true, false), Entry::Open { announced: false }, menu_step(1, None), None),
            ("open, opt-in", &opt_in, facts(op, true, true), Entry::Open { announced: false }, Step::ConsentQuestion, None),
            ("open, opt-in, flag off", &opt_in, facts(op, true, false), Entry::Open { announced: false }, menu_step(1, None), None),
            ("closed, voicemail", &announce, facts(op, false, true), Entry::Closed, Step::Voicemail { preface: Some(f.after_hours.message.clone()) }, None),
            ("blocked caller, open", &f, EntryFacts { blocked: true, ..facts(op, true, true) }, Entry::Blocked, Step::RejectBusy, None),
            ("blocked caller, closed", &f, EntryFacts { blocked: true, ..facts(op, false, true) }, Entry::Blocked, Step::RejectBusy, None),
        ];
        for (name, flow, facts, kind, step, anomaly) in table {
            let d = entry(flow, &facts);
            assert_eq!((d.kind, d.step, d.anomaly), (kind, step, anomaly), "{name}");
        }
    }

    #[test]
    fn after_hours_actions_each_end_somewhere() {
        let mut f = flow();
        let op = ivr(NumberRole::Operational);
        for (action, want) in [
            (
                AfterHoursAction::Message,
                Step::SayAndHangUp(vec!["Closed.".into(), "Goodbye.".into()]),
            ),
            (
                AfterHoursAction::Dial,
                Step::Dial(Dial::transfer(
                    Some("Closed.".into()),
                    vec!["+15550100199".into()],
                    TRANSFER_RING_SECS,
                )),
            ),
            (
                AfterHoursAction::Voicemail,
                Step::Voicemail {
                    preface: Some("Closed.".into()),
                },
            ),
        ] {
            f.after_hours = AfterHours {
                action,
                message: "Closed.".into(),
                targets: vec![number("+15550100199")],
            };
            let d = entry(&f, &facts(op, false, true));
            assert_eq!((d.kind, d.step), (Entry::Closed, want), "{action:?}");
        }
    }

    #[test]
    fn a_misrouted_ai_line_goes_to_the_agent_a_person_or_voicemail_never_the_menu() {
        let f = flow();
        let vapi = Some(Line {
            role: NumberRole::Operational,
            handler: NumberHandler::Vapi,
        });
        let person = Step::Dial(Dial::transfer(
            Some(TRANSFER_MESSAGE.into()),
            vec!["+15550100188".into()],
            TRANSFER_RING_SECS,
        ));
        let sip = Step::Sip {
            uri: "sip:a@b.test".into(),
        };
        for (agent_sip, fallback, open, want) in [
            (Some("sip:a@b.test"), Some("+15550100188"), true, &sip),
            (Some("sip:a@b.test"), None, false, &sip),
            (None, Some("+15550100188"), true, &person),
            (None, None, true, &voicemail()),
            (None, None, false, &voicemail()),
        ] {
            let d = entry(
                &f,
                &EntryFacts {
                    line: vapi,
                    open,
                    recording_flag: true,
                    agent_sip,
                    fallback,
                    blocked: false,
                },
            );
            assert_eq!(d.kind, Entry::Misrouted);
            assert_eq!(&d.step, want, "{agent_sip:?} {fallback:?}");
            assert_eq!(d.anomaly, Some(Anomaly::VapiNumberOnIvr));
        }
    }

    #[test]
    fn only_the_entry_of_a_refused_call_settles_its_outcome() {
        for (kind, want) in [
            (Entry::Unknown, Some(Outcome::Rejected)),
            (Entry::System, Some(Outcome::Rejected)),
            (Entry::Onboarding, Some(Outcome::Rejected)),
            (Entry::Blocked, Some(Outcome::Blocked)),
            (Entry::Misrouted, None),
            (Entry::Closed, None),
            (Entry::Open { announced: true }, None),
        ] {
            assert_eq!(kind.outcome(), want, "{kind:?}");
        }
    }

    #[test]
    fn each_key_takes_its_action_and_bad_keys_retry_then_voicemail() {
        let f = flow();
        let invalid = Some(f.invalid_input_message.as_str());
        let dial_sales = |record| Step::Dial(sales(record));
        #[rustfmt::skip]
        let table: Vec<MenuRow> = vec![
            (1, Some("1"), false, None, dial_sales(false), None),
            (1, Some(" 1 "), true, None, dial_sales(true), None),
            (1, Some("9"), false, None, voicemail(), None),
            (1, Some("3"), false, Some("sip:front@desk.test"), Step::Sip { uri: "sip:front@desk.test".into() }, None),
            (1, Some("3"), false, None, voicemail(), Some(Anomaly::AgentWithoutSipUri)),
            (1, Some("4"), false, None, Step::SayAndHangUp(vec!["We are at 1 Main St.".into()]), None),
            (2, Some("*"), false, None, menu_step(2, None), None),
            (1, None, false, None, menu_step(2, invalid), None),
            (1, Some("7"), false, None, menu_step(2, invalid), None),
            (2, Some("#"), false, None, menu_step(3, invalid), None),
            (3, None, false, None, voicemail(), None),
            (3, Some("1"), false, None, dial_sales(false), None),
        ];
        for (attempt, digits, record, agent_sip, step, anomaly) in table {
            let d = menu(
                &f,
                &MenuFacts {
                    attempt,
                    digits,
                    record,
                    agent_sip,
                    business_number: None,
                },
            );
            assert_eq!((d.step, d.anomaly), (step, anomaly), "{attempt} {digits:?}");
        }
    }

    #[test]
    fn no_retries_means_the_first_bad_key_goes_to_voicemail() {
        let mut f = flow();
        f.retries = 0;
        let d = menu(
            &f,
            &MenuFacts {
                attempt: 1,
                digits: Some("8"),
                record: false,
                agent_sip: None,
                business_number: None,
            },
        );
        assert_eq!(d.step, voicemail());
    }

    #[test]
    fn callbacks_off_the_menu_end_the_call_by_role() {
        assert_eq!(off_menu(Some(NumberRole::Operational)), None);
        assert_eq!(
            off_menu(Some(NumberRole::Onboarding)),
            Some((
                Step::SayAndHangUp(vec![ONBOARDING_VOICE_MESSAGE.into()]),
                Anomaly::CallbackOnboardingNumber
            ))
        );
        for role in [Some(NumberRole::System), None] {
            assert_eq!(
                off_menu(role),
                Some((Step::HangUp, Anomaly::CallbackSystemNumber))
            );
        }
    }

    #[test]
    fn consent_is_only_the_key_one() {
        for (digits, granted) in [
            (Some("1"), true),
            (Some(" 1"), true),
            (Some("2"), false),
            (Some("11"), false),
            (None, false),
        ] {
            assert_eq!(consent(digits), (granted, menu_step(1, None)), "{digits:?}");
        }
    }

    #[test]
    fn recording_needs_the_flag_a_mode_and_consent() {
        let mut f = flow();
        f.recording.mode = RecordingMode::OptIn;
        for (flag, mode, consent, want) in [
            (true, RecordingMode::OptIn, Consent::Granted, true),
            (true, RecordingMode::Announce, Consent::Announced, true),
            (true, RecordingMode::OptIn, Consent::Declined, false),
            (true, RecordingMode::OptIn, Consent::NotAsked, false),
            (true, RecordingMode::OptIn, Consent::Error, false),
            (false, RecordingMode::OptIn, Consent::Granted, false),
            (true, RecordingMode::Off, Consent::Granted, false),
        ] {
            f.recording.mode = mode;
            assert_eq!(
                may_record(flag, &f, consent),
                want,
                "{flag} {mode:?} {consent}"
            );
        }
    }

    #[test]
    fn dial_results_and_call_statuses() {
        let f = flow();
        // The demo's sales option is screened: Twilio's status alone never connects it.
        let screened = Dial::for_option(&f, "1", 0, false, None).unwrap().hop;
        assert!(screened.screened);
        for (status, accepted, connected) in [
            ("completed", true, true),
            ("completed", false, false),
            ("answered", false, false),
            ("busy", false, false),
            ("no-answer", false, false),
            ("failed", false, false),
            ("canceled", false, false),
            ("", false, false),
        ] {
            let end = DialEnd {
                status,
                hop: &screened,
                accepted,
                record: false,
                business_number: None,
            };
            let want = if connected { Step::HangUp } else { voicemail() };
            assert_eq!(
                dial_result(&f, &end),
                (connected, want),
                "{status} {accepted}"
            );
        }
        // An unscreened dial (an AI agent's SIP address) trusts the status.
        let plain = super::super::ring::Hop::default();
        for (status, connected) in [
            ("completed", true),
            ("answered", true),
            ("no-answer", false),
            ("busy", false),
        ] {
            let end = DialEnd {
                status,
                hop: &plain,
                accepted: false,
                record: false,
                business_number: None,
            };
            assert_eq!(dial_result(&f, &end).0, connected, "{status}");
        }
        use crate::domain::state::CallStatus;
        for (status, ended) in [
            ("completed", true),
            ("busy", true),
            ("failed", true),
            ("no-answer", true),
            ("canceled", true),
            ("ended", true),
            ("initiated", false),
            ("ringing", false),
            ("in-progress", false),
            ("queued", false),
        ] {
            let parsed = CallStatus::parse(status).unwrap();
            assert_eq!(parsed.is_final(), ended, "{status}");
        }
        assert!(CallStatus::parse("answered").is_err());
    }

    #[test]
    fn a_missed_call_earns_a_text_back_when_the_flag_allows() {
        let mut f = flow();
        #[rustfmt::skip]
        let table = [
            (Some(Outcome::Missed), false, true, AfterCall::TextBack),
            (Some(Outcome::Missed), false, false, AfterCall::TextBackFlagOff),
            (Some(Outcome::Voicemail), false, true, AfterCall::Nothing),
            (Some(Outcome::Voicemail), true, true, AfterCall::TextBack),
            (Some(Outcome::Voicemail), true, false, AfterCall::TextBackFlagOff),
            (Some(Outcome::Connected), true, true, AfterCall::Nothing),
            (Some(Outcome::Abandoned), true, true, AfterCall::Nothing),
            (Some(Outcome::Failed), true, true, AfterCall::Nothing),
            (Some(Outcome::Rejected), true, true, AfterCall::Nothing),
            (None, true, true, AfterCall::Nothing),
        ];
        for (outcome, vm_counts, flag, want) in table {
            f.textback.voicemail_counts_as_missed = vm_counts;
            assert_eq!(
                after_call(outcome, &f, flag),
                want,
                "{outcome:?} {vm_counts} {flag}"
            );
        }
    }

    #[test]
    fn a_walk_follows_keys_through_consent_and_retries_to_where_the_call_ends() {
        let mut f = flow();
        f.recording.mode = RecordingMode::OptIn;
        let sip = |id: i64| (id == 7).then(|| "sip:front@desk.test".to_string());
        // Consent granted, then sales: the dialled leg is recorded, rings out to voicemail.
        let hops = walk(&f, true, true, &[Some("1"), Some("1")], sip);
        let steps: Vec<_> = hops.iter().map(|h| h.step.clone()).collect();
        assert_eq!(
            steps,
            vec![
                Step::ConsentQuestion,
                menu_step(1, None),
                Step::Dial(sales(true)),
                voicemail(),
            ]
        );
        // Declined, then two wrong keys and a timeout: voicemail after the retries.
        let hops = walk(&f, true, true, &[Some("2"), Some("8"), Some("8")], sip);
        assert_eq!(hops.len(), 5);
        assert_eq!(hops[3].step, menu_step(3, Some(&f.invalid_input_message)));
        assert_eq!(hops[4].step, voicemail());
        // The agent option hands over by SIP.
        let hops = walk(&f, true, false, &[Some("3")], sip);
        assert_eq!(
            hops.last().map(|h| &h.step),
            Some(&Step::Sip {
                uri: "sip:front@desk.test".into()
            })
        );
        // Closed: the after-hours action, no menu.
        let hops = walk(&f, false, true, &[Some("1")], sip);
        assert_eq!(hops.len(), 1);
        assert!(matches!(hops[0].step, Step::Voicemail { .. }));
        // Repeat for ever stops.
        let keys = vec![Some("*"); 200];
        assert_eq!(walk(&f, true, false, &keys, sip).len(), 64);
    }
}
