//! The call flow of an operational number (SPEC §3.3, §3.4): greeting, menu, retries,
//! business hours, after-hours action, recording consent, voicemail and text-back settings,
//! plus the no-dead-ends check that runs before a flow is saved.

use super::PhoneNumber;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which targets ring when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RingStrategy {
    /// Every target at once; the first to accept takes the call.
    #[default]
    Simultaneous,
    /// Each target in order for its own ring time, then the next, then voicemail.
    Sequential,
}

/// The number a ringing phone shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerIdShown {
    /// The caller's own number (Twilio's default for a forwarded call).
    #[default]
    Caller,
    /// The business number that was called, so the person knows it is a work call.
    Business,
}

/// Screening is on unless a dial action turns it off.
pub fn screen_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CallFlow {
    pub greeting: String,
    pub menu: Vec<MenuOption>,
    /// How many times an invalid or empty choice replays the menu before voicemail.
    pub retries: u8,
    pub invalid_input_message: String,
    /// Seconds the menu waits for a key.
    pub gather_timeout_secs: u32,
    /// `None`: open 24/7.
    pub hours: Option<BusinessHours>,
    pub after_hours: AfterHours,
    pub recording: Recording,
    pub voicemail: Voicemail,
    pub textback: Textback,
    /// The voice and language of every `<Say>`.
    pub speech: Speech,
}

/// How the flow speaks (Twilio's `<Say voice language>`); unset is Twilio's default voice.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Speech {
    /// `man`, `woman`, `alice`, `Polly.<Name>[-Neural|-Generative]` or `Google.<voice>`.
    pub voice: Option<String>,
    /// A BCP-47 tag, e.g. `en-US`, `es-MX`.
    pub language: Option<String>,
}

impl Speech {
    /// Whether Twilio knows the voice name: its documented basic voices, or an Amazon
    /// Polly or Google voice written as its TTS reference names them.
    pub fn voice_is_valid(voice: &str) -> bool {
        let name_ok =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        match voice {
            "man" | "woman" | "alice" => true,
            v => match v.split_once('.') {
                Some(("Polly", name)) => {
                    name.starts_with(|c: char| c.is_ascii_uppercase()) && name_ok(name)
                }
                Some(("Google", name)) => name.matches('-').count() >= 2 && name_ok(name),
                _ => false,
            },
        }
    }

    /// A language tag as Twilio takes it: `en`, `en-US`, `cmn-CN`, `es-419`.
    pub fn language_is_valid(language: &str) -> bool {
        let mut parts = language.split('-');
        let primary = parts.next().unwrap_or("");
        let region = parts.next();
        parts.next().is_none()
            && (2..=3).contains(&primary.len())
            && primary.chars().all(|c| c.is_ascii_lowercase())
            && region.is_none_or(|r| {
                (r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()))
                    || (r.len() == 3 && r.chars().all(|c| c.is_ascii_digit()))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MenuOption {
    /// `0`–`9`, `*` or `#`.
    pub digit: String,
    /// Spoken as "For {label}, press {digit}."
    #[serde(default)]
    pub label: String,
    pub action: MenuAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MenuAction {
    Dial {
        targets: Vec<PhoneNumber>,
        /// How long each target rings (all at once, or each in turn when sequential).
        #[serde(default = "default_ring_timeout", rename = "ringTimeoutSecs")]
        ring_timeout_secs: u32,
        /// Whoever answers must press 1 before the caller is put through (SPEC §3.8).
        #[serde(default = "screen_by_default")]
        screen: bool,
        #[serde(default)]
        strategy: RingStrategy,
        /// The number the ringing phones show.
        #[serde(default, rename = "callerId")]
        caller_id: CallerIdShown,
    },
    Voicemail,
    Agent {
        #[serde(rename = "agentId")]
        agent_id: i64,
    },
    Message {
        text: String,
    },
    Repeat,
}

fn default_ring_timeout() -> u32 {
    20
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BusinessHours {
    /// Opening ranges per weekday (`monday` … `sunday`); a missing day is closed.
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<TimeRange>>,
    /// Dates (YYYY-MM-DD, org time zone) when the business is closed all day.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// `HH:MM`, org time zone.
    pub open: String,
    pub close: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterHoursAction {
    Voicemail,
    Message,
    Dial,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AfterHours {
    pub action: AfterHoursAction,
    /// Said first; for `message` it is all the caller hears before a polite goodbye.
    pub message: String,
    /// For `dial`.
    pub targets: Vec<PhoneNumber>,
}

impl Default for AfterHours {
    fn default() -> Self {
        AfterHours {
            action: AfterHoursAction::Voicemail,
            message: "We're closed right now.".into(),
            targets: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    Off,
    Announce,
    OptIn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Recording {
    pub mode: RecordingMode,
    pub disclosure: String,
    /// For `opt_in`: what to press.
    pub opt_in_prompt: String,
}

impl Default for Recording {
    fn default() -> Self {
        Recording {
            mode: RecordingMode::Off,
            disclosure: "This call may be recorded for quality and training.".into(),
            opt_in_prompt:
                "To allow recording, press 1. To continue without recording, press any other key."
                    .into(),
        }
    }
}

/// Twilio transcribes recordings of 2 to 120 seconds only (its error 13617): a longer
/// voicemail is kept, with its recording, but never gets a transcript.
pub const TRANSCRIBE_MAX_SECS: u32 = 120;
pub const TRANSCRIBE_MIN_SECS: u32 = 2;

/// Can Twilio transcribe a recording this long?
pub fn transcribable(duration_secs: i64) -> bool {
    (i64::from(TRANSCRIBE_MIN_SECS)..=i64::from(TRANSCRIBE_MAX_SECS)).contains(&duration_secs)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Voicemail {
    pub prompt: String,
    pub max_length_secs: u32,
    pub goodbye: String,
}

impl Default for Voicemail {
    fn default() -> Self {
        Voicemail {
            prompt: "Please leave a message after the beep. Press any key when you are done."
                .into(),
            max_length_secs: TRANSCRIBE_MAX_SECS,
            goodbye: "Thank you for your message. Goodbye.".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Textback {
    pub message: String,
    pub cooldown_hours: u32,
    /// `None`: text at any hour.
    pub quiet_hours: Option<TimeRange>,
    /// Calls at most this long are misdials, not missed calls.
    pub misdial_threshold_secs: u32,
    /// Text back even when the caller left a voicemail.
    pub voicemail_counts_as_missed: bool,
    pub intake_acknowledgement: String,
    pub help_message: String,
    /// Sent at the end of quiet hours for a call missed during them (SPEC §3.6).
    pub deferred_message: String,
    /// Text back a caller whose caller ID failed verification (STIR/SHAKEN
    /// `TN-Validation-Failed-*`, SPEC §3.9); off by default, as such calls are mostly spoofed.
    pub text_unverified_callers: bool,
}

impl Default for Textback {
    fn default() -> Self {
        Textback {
            message:
                "Sorry we missed your call — reply with what you need and we'll get back to you."
                    .into(),
            cooldown_hours: 24,
            quiet_hours: Some(TimeRange {
                open: "21:00".into(),
                close: "08:00".into(),
            }),
            misdial_threshold_secs: 4,
            voicemail_counts_as_missed: false,
            intake_acknowledgement: "Thanks! We got your message and will get back to you soon."
                .into(),
            help_message:
                "Reply with what you need and we'll get back to you. Reply STOP to stop texts."
                    .into(),
            deferred_message:
                "Sorry we missed your call last night — reply with what you need and we'll get back to you."
                    .into(),
            text_unverified_callers: false,
        }
    }
}

impl Default for CallFlow {
    /// A new business: greeting, voicemail on 9, repeat on *, open 24/7 until hours are set.
    fn default() -> Self {
        CallFlow {
            greeting: "Thank you for calling.".into(),
            menu: vec![
                MenuOption {
                    digit: "9".into(),
                    label: "leave a message".into(),
                    action: MenuAction::Voicemail,
                },
                MenuOption {
                    digit: "*".into(),
                    label: "hear these options again".into(),
                    action: MenuAction::Repeat,
                },
            ],
            retries: 1,
            invalid_input_message: "Sorry, I didn't get that.".into(),
            gather_timeout_secs: 5,
            hours: None,
            after_hours: AfterHours::default(),
            recording: Recording::default(),
            voicemail: Voicemail::default(),
            textback: Textback::default(),
            speech: Speech::default(),
        }
    }
}

/// One problem found by [`CallFlow::check`]: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowProblem {
    pub path: String,
    pub message: String,
}

/// What the check needs to know about an agent an option hands off to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub has_sip_uri: bool,
}

pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// True when `t` falls in a range that may wrap midnight (`21:00`–`08:00`).
pub fn in_range(range: &TimeRange, t: NaiveTime) -> bool {
    match (parse_hhmm(&range.open), parse_hhmm(&range.close)) {
        (Some(open), Some(close)) if open <= close => t >= open && t < close,
        (Some(open), Some(close)) => t >= open || t < close,
        _ => false,
    }
}

impl CallFlow {
    /// The demo's flow (SPEC §9.1): 1 sales, 2 support, 9 voicemail, * repeat; open 24/7,
    /// no quiet hours, so every path behaves the same at any hour.
    pub fn demo(sales: PhoneNumber, support: PhoneNumber) -> CallFlow {
        let dial = |n: PhoneNumber| MenuAction::Dial {
            targets: vec![n],
            ring_timeout_secs: 20,
            screen: true,
            strategy: RingStrategy::Simultaneous,
            caller_id: CallerIdShown::Caller,
        };
        let mut flow = CallFlow {
            greeting: "Thanks for calling Demo Plumbing.".into(),
            menu: vec![
                MenuOption {
                    digit: "1".into(),
                    label: "sales".into(),
                    action: dial(sales),
                },
                MenuOption {
                    digit: "2".into(),
                    label: "support".into(),
                    action: dial(support),
                },
            ],
            ..CallFlow::default()
        };
        flow.menu.extend(CallFlow::default().menu);
        flow.textback.quiet_hours = None;
        flow
    }

    pub fn option(&self, digit: &str) -> Option<&MenuOption> {
        self.menu.iter().find(|o| o.digit == digit)
    }

    /// What the menu says: the greeting, then one sentence per option.
    pub fn menu_prompt(&self) -> Vec<String> {
        let mut lines = vec![self.greeting.clone()];
        for o in &self.menu {
            let key = match o.digit.as_str() {
                "*" => "star".to_string(),
                "#" => "pound".to_string(),
                d => d.to_string(),
            };
            if o.label.trim().is_empty() {
                lines.push(format!("Press {key}."));
            } else if o.action == MenuAction::Repeat || o.action == MenuAction::Voicemail {
                lines.push(format!("To {}, press {key}.", o.label.trim()));
            } else {
                lines.push(format!("For {}, press {key}.", o.label.trim()));
            }
        }
        lines
    }

    /// Open at `now` in the org's time zone? Holidays close the whole day.
    pub fn is_open(&self, now: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
        let Some(hours) = &self.hours else {
            return true;
        };
        let local = now.with_timezone(&tz);
        if hours.holidays.contains(&local.date_naive()) {
            return false;
        }
        let day = weekday_name(local.weekday());
        hours
            .weekly
            .get(day)
            .is_some_and(|ranges| ranges.iter().any(|r| in_range(r, local.time())))
    }

    /// What the flow does that the owner should know although it is allowed: a voicemail
    /// longer than Twilio can transcribe keeps its recording but gets no transcript.
    pub fn notices(&self) -> Vec<FlowProblem> {
        let mut out = Vec::new();
        if self.voicemail.max_length_secs > TRANSCRIBE_MAX_SECS {
            out.push(FlowProblem {
                path: "voicemail.maxLengthSecs".into(),
                message: format!(
                    "messages longer than {TRANSCRIBE_MAX_SECS} s are kept but not transcribed (Twilio transcribes {TRANSCRIBE_MIN_SECS} to {TRANSCRIBE_MAX_SECS} s); the owner's text says so and links the recording"
                ),
            });
        }
        out
    }

    /// The no-dead-ends check (SPEC §3.3): every way a caller can go ends at a person, a
    /// voicemail or a polite goodbye, retries are bounded, recording never starts before
    /// the disclosure. Returns every problem, each with the path to it.
    pub fn check(&self, agent: impl Fn(i64) -> Option<AgentInfo>) -> Result<(), Vec<FlowProblem>> {
        let mut problems = Vec::new();
        let mut bad = |path: String, message: &str| {
            problems.push(FlowProblem {
                path,
                message: message.to_string(),
            })
        };
        if self.greeting.trim().is_empty() {
            bad(
                "greeting".into(),
                "is empty: callers would hear silence before the menu",
            );
        }
        if self.menu.iter().all(|o| o.action == MenuAction::Repeat) {
            bad(
                "menu".into(),
                "has no options: callers could only wait until voicemail; add at least one choice",
            );
        }
        if self.retries > 3 {
            bad("retries".into(), "must be 0 to 3: after that many invalid or empty choices the caller goes to voicemail");
        }
        if !(1..=30).contains(&self.gather_timeout_secs) {
            bad("gatherTimeoutSecs".into(), "must be 1 to 30 seconds");
        }
        if self.invalid_input_message.trim().is_empty() {
            bad(
                "invalidInputMessage".into(),
                "is empty: a caller who presses a wrong key would not know why the menu repeats",
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, o) in self.menu.iter().enumerate() {
            let path = format!("menu[{i}] (key {})", o.digit);
            if !matches!(
                o.digit.as_str(),
                "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "*" | "#"
            ) {
                bad(path.clone(), "the key must be one of 0-9, * or #");
            }
            if !seen.insert(o.digit.clone()) {
                bad(path.clone(), "the key is used by more than one option");
            }
            match &o.action {
                MenuAction::Dial { targets, ring_timeout_secs, .. } => {
                    if targets.is_empty() {
                        bad(format!("{path}.action"), "no phone number to ring: enter at least one, like 415 555 0123");
                    }
                    if !(5..=120).contains(ring_timeout_secs) {
                        bad(format!("{path}.action.ringTimeoutSecs"), "must be 5 to 120 seconds");
                    }
                }
                MenuAction::Agent { agent_id } => match agent(*agent_id) {
                    None => bad(format!("{path}.action.agentId"), "no such agent in this organization"),
                    Some(a) if !a.has_sip_uri => bad(
                        format!("{path}.action.agentId"),
                        "the agent has no SIP URI, so a call cannot be handed to it; set the agent's SIP URI first",
                    ),
                    Some(_) => {}
                },
                MenuAction::Message { text } if text.trim().is_empty() => {
                    bad(format!("{path}.action.text"), "is empty: the caller would hear nothing before the call ends")
                }
                _ => {}
            }
        }
        if let Some(hours) = &self.hours {
            for (day, ranges) in &hours.weekly {
                if !WEEKDAYS.contains(&day.as_str()) {
                    bad(
                        format!("hours.weekly.{day}"),
                        "is not a weekday: use monday … sunday",
                    );
                }
                for (i, r) in ranges.iter().enumerate() {
                    match (parse_hhmm(&r.open), parse_hhmm(&r.close)) {
                        (Some(o), Some(c)) if o < c => {}
                        (Some(_), Some(_)) => bad(
                            format!("hours.weekly.{day}[{i}]"),
                            "open must be before close (HH:MM, same day)",
                        ),
                        _ => bad(
                            format!("hours.weekly.{day}[{i}]"),
                            "times must be HH:MM, e.g. 09:00",
                        ),
                    }
                }
            }
            match self.after_hours.action {
                AfterHoursAction::Message if self.after_hours.message.trim().is_empty() => bad(
                    "afterHours.message".into(),
                    "is empty: after hours the caller would hear nothing before the call ends",
                ),
                AfterHoursAction::Dial if self.after_hours.targets.is_empty() => bad(
                    "afterHours.targets".into(),
                    "no phone number to ring after hours: enter one, like 415 555 0123, or use voicemail",
                ),
                _ => {}
            }
        }
        if self.voicemail.prompt.trim().is_empty() {
            bad(
                "voicemail.prompt".into(),
                "is empty: callers would hear a beep with no explanation",
            );
        }
        if !(10..=600).contains(&self.voicemail.max_length_secs) {
            bad(
                "voicemail.maxLengthSecs".into(),
                "must be 10 to 600 seconds, or voicemail is unreachable in practice",
            );
        }
        if self.recording.mode != RecordingMode::Off && self.recording.disclosure.trim().is_empty()
        {
            bad(
                "recording.disclosure".into(),
                "is empty: recording would start before callers are told",
            );
        }
        if self.recording.mode == RecordingMode::OptIn
            && self.recording.opt_in_prompt.trim().is_empty()
        {
            bad(
                "recording.optInPrompt".into(),
                "is empty: callers would not know how to allow recording",
            );
        }
        let t = &self.textback;
        if t.message.trim().is_empty() || t.message.chars().count() > 320 {
            bad("textback.message".into(), "must be 1 to 320 characters");
        }
        if t.quiet_hours.is_some()
            && (t.deferred_message.trim().is_empty() || t.deferred_message.chars().count() > 320)
        {
            bad(
                "textback.deferredMessage".into(),
                "must be 1 to 320 characters: it is sent when quiet hours end for a call missed during them",
            );
        }
        if let Some(v) = &self.speech.voice {
            if !Speech::voice_is_valid(v) {
                bad(
                    "speech.voice".into(),
                    "is not a Twilio voice: use man, woman, alice, a Polly voice like Polly.Joanna or Polly.Joanna-Neural, or a Google voice like Google.en-US-Standard-C",
                );
            }
        }
        if let Some(l) = &self.speech.language {
            if !Speech::language_is_valid(l) {
                bad(
                    "speech.language".into(),
                    "is not a language tag: use one like en-US, en-GB or es-MX",
                );
            }
        }
        if t.cooldown_hours > 720 {
            bad(
                "textback.cooldownHours".into(),
                "must be at most 720 (30 days)",
            );
        }
        if t.misdial_threshold_secs > 60 {
            bad(
                "textback.misdialThresholdSecs".into(),
                "must be at most 60 seconds",
            );
        }
        if let Some(q) = &t.quiet_hours {
            if parse_hhmm(&q.open).is_none() || parse_hhmm(&q.close).is_none() || q.open == q.close
            {
                bad(
                    "textback.quietHours".into(),
                    "must be two different HH:MM times, e.g. 21:00 to 08:00",
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn pn(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    fn no_agents(_: i64) -> Option<AgentInfo> {
        None
    }

    fn paths(flow: &CallFlow) -> Vec<String> {
        flow.check(no_agents)
            .unwrap_err()
            .into_iter()
            .map(|p| p.path)
            .collect()
    }

    #[test]
    fn the_default_and_demo_flows_pass_the_check() {
        assert_eq!(CallFlow::default().check(no_agents), Ok(()));
        assert_eq!(
            CallFlow::demo(pn("+15550100101"), pn("+15550100102")).check(no_agents),
            Ok(())
        );
    }

    #[test]
    fn the_demo_menu_prompt_lists_every_option() {
        let flow = CallFlow::demo(pn("+15550100101"), pn("+15550100102"));
        assert_eq!(
            flow.menu_prompt(),
            vec![
                "Thanks for calling Demo Plumbing.",
                "For sales, press 1.",
                "For support, press 2.",
                "To leave a message, press 9.",
                "To hear these options again, press star.",
            ]
        );
    }

    #[test]
    fn dead_ends_are_named_by_path() {
        let mut flow = CallFlow::default();
        flow.menu.push(MenuOption {
            digit: "1".into(),
            label: "sales".into(),
            action: MenuAction::Dial {
                targets: vec![],
                ring_timeout_secs: 20,
                screen: true,
                strategy: RingStrategy::Simultaneous,
                caller_id: CallerIdShown::Caller,
            },
        });
        flow.menu.push(MenuOption {
            digit: "2".into(),
            label: "hours".into(),
            action: MenuAction::Message { text: " ".into() },
        });
        flow.menu.push(MenuOption {
            digit: "3".into(),
            label: "ai".into(),
            action: MenuAction::Agent { agent_id: 7 },
        });
        flow.retries = 9;
        assert_eq!(
            paths(&flow),
            vec![
                "retries",
                "menu[2] (key 1).action",
                "menu[3] (key 2).action.text",
                "menu[4] (key 3).action.agentId"
            ]
        );
    }

    #[test]
    fn a_menu_of_only_repeat_is_refused() {
        let flow = CallFlow {
            menu: vec![MenuOption {
                digit: "*".into(),
                label: "".into(),
                action: MenuAction::Repeat,
            }],
            ..CallFlow::default()
        };
        assert_eq!(paths(&flow), vec!["menu"]);
    }

    #[test]
    fn recording_before_disclosure_is_refused() {
        let mut flow = CallFlow::default();
        flow.recording.mode = RecordingMode::Announce;
        flow.recording.disclosure = String::new();
        assert_eq!(paths(&flow), vec!["recording.disclosure"]);
    }

    #[test]
    fn an_after_hours_message_without_text_is_a_dead_end() {
        let mut flow = CallFlow {
            hours: Some(BusinessHours::default()),
            ..CallFlow::default()
        };
        flow.after_hours = AfterHours {
            action: AfterHoursAction::Message,
            message: String::new(),
            targets: vec![],
        };
        assert_eq!(paths(&flow), vec!["afterHours.message"]);
    }

    #[test]
    fn duplicate_and_invalid_keys_are_refused() {
        let mut flow = CallFlow::default();
        flow.menu.push(MenuOption {
            digit: "9".into(),
            label: "x".into(),
            action: MenuAction::Voicemail,
        });
        flow.menu.push(MenuOption {
            digit: "10".into(),
            label: "x".into(),
            action: MenuAction::Voicemail,
        });
        assert_eq!(paths(&flow), vec!["menu[2] (key 9)", "menu[3] (key 10)"]);
    }

    #[test]
    fn an_agent_needs_a_sip_uri() {
        let mut flow = CallFlow::default();
        flow.menu.push(MenuOption {
            digit: "3".into(),
            label: "ai".into(),
            action: MenuAction::Agent { agent_id: 1 },
        });
        let err = flow
            .check(|_| Some(AgentInfo { has_sip_uri: false }))
            .unwrap_err();
        assert!(err[0].message.contains("SIP URI"));
        assert_eq!(
            flow.check(|_| Some(AgentInfo { has_sip_uri: true })),
            Ok(())
        );
    }

    #[test]
    fn business_hours_follow_the_org_time_zone_and_holidays() {
        let mut weekly = BTreeMap::new();
        weekly.insert(
            "monday".to_string(),
            vec![TimeRange {
                open: "09:00".into(),
                close: "17:00".into(),
            }],
        );
        let flow = CallFlow {
            hours: Some(BusinessHours {
                weekly,
                holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 28).unwrap()],
            }),
            ..CallFlow::default()
        };
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        // Monday 2026-11-23 14:30 UTC is 09:30 in New York: open.
        assert!(flow.is_open(Utc.with_ymd_and_hms(2026, 11, 23, 14, 30, 0).unwrap(), tz));
        // 13:30 UTC is 08:30 in New York: closed.
        assert!(!flow.is_open(Utc.with_ymd_and_hms(2026, 11, 23, 13, 30, 0).unwrap(), tz));
        // Tuesday: no hours, closed.
        assert!(!flow.is_open(Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(), tz));
        // A Monday holiday: closed all day.
        assert!(!flow.is_open(Utc.with_ymd_and_hms(2026, 12, 28, 15, 0, 0).unwrap(), tz));
        assert!(
            CallFlow::default().is_open(Utc.with_ymd_and_hms(2026, 12, 28, 3, 0, 0).unwrap(), tz)
        );
    }

    #[test]
    fn ranges_may_wrap_midnight() {
        let quiet = TimeRange {
            open: "21:00".into(),
            close: "08:00".into(),
        };
        assert!(in_range(&quiet, NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
        assert!(in_range(&quiet, NaiveTime::from_hms_opt(7, 59, 0).unwrap()));
        assert!(!in_range(&quiet, NaiveTime::from_hms_opt(8, 0, 0).unwrap()));
        assert!(!in_range(
            &quiet,
            NaiveTime::from_hms_opt(12, 0, 0).unwrap()
        ));
    }

    #[test]
    fn speech_settings_take_twilios_voice_names_and_language_tags() {
        for ok in [
            "man",
            "alice",
            "Polly.Joanna",
            "Polly.Joanna-Neural",
            "Google.en-US-Standard-C",
        ] {
            assert!(Speech::voice_is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            "Joanna",
            "polly.joanna",
            "Polly.",
            "Polly.Jo anna",
            "Google.Wavenet",
            "Amazon.Joanna",
        ] {
            assert!(!Speech::voice_is_valid(bad), "{bad}");
        }
        for ok in ["en", "en-US", "es-MX", "cmn-CN", "es-419"] {
            assert!(Speech::language_is_valid(ok), "{ok}");
        }
        for bad in ["", "EN-us", "english", "en_US", "en-US-x", "e"] {
            assert!(!Speech::language_is_valid(bad), "{bad}");
        }
        let flow = CallFlow {
            speech: Speech {
                voice: Some("Joanna".into()),
                language: Some("en_US".into()),
            },
            ..CallFlow::default()
        };
        assert_eq!(paths(&flow), vec!["speech.voice", "speech.language"]);
    }

    #[test]
    fn json_uses_camel_case_and_refuses_unknown_fields() {
        let flow: CallFlow = serde_json::from_str(r#"{"greeting":"Hi","menu":[{"digit":"1","label":"sales","action":{"type":"dial","targets":["+15550100101"]}}]}"#).unwrap();
        assert_eq!(
            flow.option("1").unwrap().action,
            MenuAction::Dial {
                targets: vec![pn("+15550100101")],
                ring_timeout_secs: 20,
                screen: true,
                strategy: RingStrategy::Simultaneous,
                caller_id: CallerIdShown::Caller,
            },
            "a dial is screened, rings every target at once and shows the caller unless it says otherwise"
        );
        assert_eq!(flow.retries, 1, "missing fields take their defaults");
        let err = serde_json::from_str::<CallFlow>(r#"{"greting":"Hi"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `greting`"), "{err}");
        let err = serde_json::from_str::<CallFlow>(
            r#"{"menu":[{"digit":"1","action":{"type":"dial","targets":["555"]}}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("E.164"), "{err}");
    }
}
