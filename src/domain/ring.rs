//! Ringing people (SPEC §3.8): how a dial action rings its targets, what the person who
//! answers hears before the caller is put through, and what their answer means.
//!
//! A dial's `completed` does not mean a person took the call: a phone that is off or out
//! of coverage is answered at once by its carrier's voicemail. Screening asks whoever
//! answers to press 1; a machine never does, so only a person's key counts as answered.

pub use super::callflow::{screen_by_default, CallerIdShown, RingStrategy};
use super::callflow::{CallFlow, MenuAction};
use super::PhoneNumber;

/// How one screened leg ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegAnswer {
    /// The person pressed 1: the legs are bridged.
    Accepted,
    /// Another key: that phone's person does not take it.
    Declined,
    /// No key before the whisper timed out: a voicemail or a machine picked up.
    Silent,
}

impl LegAnswer {
    /// The key pressed in the whisper decides; only `1` accepts.
    pub fn from_digits(digits: Option<&str>) -> LegAnswer {
        match digits.map(str::trim).filter(|d| !d.is_empty()) {
            Some("1") => LegAnswer::Accepted,
            Some(_) => LegAnswer::Declined,
            None => LegAnswer::Silent,
        }
    }

    /// The call event recorded for it.
    pub fn event(self) -> &'static str {
        match self {
            LegAnswer::Accepted => "leg.accepted",
            LegAnswer::Declined => "leg.declined",
            LegAnswer::Silent => "leg.silent",
        }
    }
}

/// Seconds the whisper waits for a key.
pub const WHISPER_TIMEOUT_SECS: u32 = 6;

/// What the person who answers a screened leg hears: who is calling and for what, then
/// what to press. `caller` is a name, or the caller's number (read digit by digit).
pub fn whisper(business: &str, label: Option<&str>, caller: Option<&Caller<'_>>) -> Vec<String> {
    let mut first = format!("Call for {}", business.trim());
    if let Some(label) = label.map(str::trim).filter(|l| !l.is_empty()) {
        first.push_str(", ");
        first.push_str(label);
    }
    match caller {
        Some(Caller::Named(name)) => first.push_str(&format!(", from {}.", name.trim())),
        Some(Caller::Number(n)) => first.push_str(&format!(", from {}.", spoken_digits(n))),
        None => first.push_str(", from a withheld number."),
    }
    vec![
        first,
        "Press 1 to take it, or hang up to let it go to voicemail.".into(),
    ]
}

/// Who is calling, as the whisper names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller<'a> {
    Named(&'a str),
    Number(&'a PhoneNumber),
}

/// A number read the way a person reads it out: North American numbers in their three
/// groups without the country code ("5 5 5, 0 1 0, 0 1 2 3"), others digit by digit.
pub fn spoken_digits(n: &PhoneNumber) -> String {
    let digits: Vec<char> = n.as_str().chars().filter(char::is_ascii_digit).collect();
    let spaced = |ds: &[char]| ds.iter().map(char::to_string).collect::<Vec<_>>().join(" ");
    if digits.len() == 11 && digits[0] == '1' {
        format!(
            "{}, {}, {}",
            spaced(&digits[1..4]),
            spaced(&digits[4..7]),
            spaced(&digits[7..])
        )
    } else {
        spaced(&digits)
    }
}

/// A dial: who rings, for how long, and what the callbacks of its end must be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    /// Said to the caller first.
    pub preface: Option<String>,
    /// E.164 numbers ringing now (one at a time when sequential).
    pub targets: Vec<String>,
    pub ring_secs: u32,
    /// The bridged call is recorded (consent allows it, SPEC §3.4).
    pub record: bool,
    /// `callerId` shown to the targets; `None` shows the caller's number.
    pub caller_id: Option<String>,
    pub hop: Hop,
}

/// Which dial this is, carried in the URLs of its callbacks (the dial's action and each
/// number's screening URL) so they know without a lookup: screened or not, the menu key
/// whose action it is, and for a sequential ring the position of the target ringing now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hop {
    pub screened: bool,
    pub option: Option<String>,
    pub position: Option<usize>,
}

impl Hop {
    /// The query string (without `?`); empty for an unscreened dial outside the menu.
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if self.screened {
            q.append_pair("screen", "1");
        }
        if let Some(o) = &self.option {
            q.append_pair("option", o);
        }
        if let Some(p) = self.position {
            q.append_pair("position", &p.to_string());
        }
        q.finish()
    }

    /// Reads [`Hop::query`] back; anything unrecognised is left out (a plain dial).
    pub fn parse(query: &str) -> Hop {
        let mut hop = Hop::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "screen" => hop.screened = v == "1",
                "option" if v.len() == 1 => hop.option = Some(v.into_owned()),
                "position" => hop.position = v.parse::<usize>().ok().filter(|p| *p < 64),
                _ => {}
            }
        }
        hop
    }
}

impl Dial {
    /// A menu option's dial action, starting with its first target when sequential.
    /// `None` when the option is not a dial.
    pub fn for_option(
        flow: &CallFlow,
        digit: &str,
        position: usize,
        record: bool,
        business_number: Option<&str>,
    ) -> Option<Dial> {
        let MenuAction::Dial {
            targets,
            ring_timeout_secs,
            screen,
            strategy,
            caller_id,
        } = &flow.option(digit)?.action
        else {
            return None;
        };
        let (targets, position) = match strategy {
            RingStrategy::Simultaneous => (targets.iter().map(|t| t.to_string()).collect(), None),
            RingStrategy::Sequential => (vec![targets.get(position)?.to_string()], Some(position)),
        };
        Some(Dial {
            preface: None,
            targets,
            ring_secs: *ring_timeout_secs,
            record,
            caller_id: match caller_id {
                CallerIdShown::Caller => None,
                CallerIdShown::Business => business_number.map(str::to_string),
            },
            hop: Hop {
                screened: *screen,
                option: Some(digit.to_string()),
                position,
            },
        })
    }

    /// Putting the caller through to people outside the menu (after hours, or the human
    /// fallback of an AI line): every target at once, screened, never recorded.
    pub fn transfer(preface: Option<String>, targets: Vec<String>, ring_secs: u32) -> Dial {
        Dial {
            preface,
            targets,
            ring_secs,
            record: false,
            caller_id: None,
            hop: Hop {
                screened: true,
                option: None,
                position: None,
            },
        }
    }
}

/// What is known when a dial ends (its action callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialEnd<'a> {
    /// Twilio's `DialCallStatus`.
    pub status: &'a str,
    pub hop: &'a Hop,
    /// A person pressed 1 on some leg of this call (the screening route recorded it).
    pub accepted: bool,
    /// The next target's leg may be recorded.
    pub record: bool,
    pub business_number: Option<&'a str>,
}

/// What follows a dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterDial {
    /// A person took the call.
    Connected,
    /// Nobody took it yet: ring the next target of a sequential action.
    Next(Dial),
    /// Nobody took it: the appliance's voicemail.
    NobodyTook,
}

/// Whether a `DialCallStatus` says a leg was bridged.
pub fn bridged(status: &str) -> bool {
    matches!(status, "completed" | "answered")
}

/// Decides after a dial. A screened dial was answered only if a person accepted: a
/// `completed` whose only answer was a voicemail greeting (or a whisper hung up) is not.
/// An unscreened dial (an AI agent's SIP address, or screening switched off) trusts
/// Twilio's status.
pub fn after_dial(flow: &CallFlow, end: &DialEnd<'_>) -> AfterDial {
    let connected = if end.hop.screened {
        end.accepted
    } else {
        bridged(end.status)
    };
    if connected {
        return AfterDial::Connected;
    }
    let next = match (&end.hop.option, end.hop.position) {
        (Some(digit), Some(position)) => {
            Dial::for_option(flow, digit, position + 1, end.record, end.business_number)
        }
        _ => None,
    };
    next.map_or(AfterDial::NobodyTook, AfterDial::Next)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::callflow::MenuOption;

    fn flow(strategy: RingStrategy, screen: bool) -> CallFlow {
        let mut f = CallFlow::default();
        f.menu.push(MenuOption {
            digit: "1".into(),
            label: "sales".into(),
            action: MenuAction::Dial {
                targets: vec![
                    PhoneNumber::parse("+15550100101").unwrap(),
                    PhoneNumber::parse("+15550100102").unwrap(),
                ],
                ring_timeout_secs: 15,
                screen,
                strategy,
                caller_id: CallerIdShown::Business,
            },
        });
        f
    }

    fn hop(screened: bool, position: Option<usize>) -> Hop {
        Hop {
            screened,
            option: Some("1".into()),
            position,
        }
    }

    /// Screening × dial status × strategy (and position) → what follows.
    #[test]
    fn what_follows_a_dial_is_decided_by_who_accepted_not_by_the_dial_status_alone() {
        use RingStrategy::{Sequential, Simultaneous};
        let second = |screened| {
            AfterDial::Next(Dial {
                preface: None,
                targets: vec!["+15550100102".into()],
                ring_secs: 15,
                record: false,
                caller_id: Some("+15550100001".into()),
                hop: hop(screened, Some(1)),
            })
        };
        #[rustfmt::skip]
        let table = [
            // screened: only an acceptance counts, whatever Twilio says
            (Simultaneous, true, None, "completed", true, AfterDial::Connected),
            (Simultaneous, true, None, "completed", false, AfterDial::NobodyTook),
            (Simultaneous, true, None, "no-answer", false, AfterDial::NobodyTook),
            (Simultaneous, true, None, "busy", false, AfterDial::NobodyTook),
            (Sequential, true, Some(0), "completed", false, second(true)),
            (Sequential, true, Some(0), "no-answer", false, second(true)),
            (Sequential, true, Some(0), "completed", true, AfterDial::Connected),
            (Sequential, true, Some(1), "completed", false, AfterDial::NobodyTook),
            (Sequential, true, Some(1), "failed", false, AfterDial::NobodyTook),
            // unscreened: Twilio's status is all there is
            (Simultaneous, false, None, "completed", false, AfterDial::Connected),
            (Simultaneous, false, None, "answered", false, AfterDial::Connected),
            (Simultaneous, false, None, "no-answer", false, AfterDial::NobodyTook),
            (Simultaneous, false, None, "canceled", false, AfterDial::NobodyTook),
            (Sequential, false, Some(0), "busy", false, second(false)),
            (Sequential, false, Some(0), "completed", false, AfterDial::Connected),
            (Sequential, false, Some(1), "no-answer", false, AfterDial::NobodyTook),
        ];
        for (strategy, screened, position, status, accepted, want) in table {
            let f = flow(strategy, screened);
            let h = hop(screened, position);
            let end = DialEnd {
                status,
                hop: &h,
                accepted,
                record: false,
                business_number: Some("+15550100001"),
            };
            assert_eq!(
                after_dial(&f, &end),
                want,
                "{strategy:?} screened={screened} {position:?} {status} accepted={accepted}"
            );
        }
    }

    #[test]
    fn a_dial_carries_what_its_callbacks_need_in_its_urls() {
        let f = flow(RingStrategy::Sequential, true);
        let d = Dial::for_option(&f, "1", 0, true, Some("+15550100001")).unwrap();
        assert_eq!(d.targets, vec!["+15550100101"]);
        assert_eq!(d.caller_id.as_deref(), Some("+15550100001"));
        assert_eq!(d.hop.query(), "screen=1&option=1&position=0");
        assert_eq!(Hop::parse(&d.hop.query()), d.hop);
        assert_eq!(
            Dial::for_option(&f, "1", 2, true, None),
            None,
            "past the last target"
        );
        assert_eq!(Dial::for_option(&f, "9", 0, true, None), None, "not a dial");
        let star = Hop {
            screened: false,
            option: Some("*".into()),
            position: None,
        };
        assert_eq!(star.query(), "option=*");
        let pound = Hop {
            screened: true,
            option: Some("#".into()),
            position: Some(3),
        };
        assert_eq!(pound.query(), "screen=1&option=%23&position=3");
        assert_eq!(Hop::parse(&pound.query()), pound);
        assert_eq!(
            Hop::parse("screen=yes&option=12&position=x"),
            Hop::default()
        );
        let all = Dial::for_option(
            &flow(RingStrategy::Simultaneous, false),
            "1",
            0,
            false,
            None,
        )
        .unwrap();
        assert_eq!(all.targets.len(), 2);
        assert_eq!(all.hop.query(), "option=1");
    }

    #[test]
    fn only_the_key_one_accepts_a_screened_call() {
        #[rustfmt::skip]
        let table = [
            (Some("1"), LegAnswer::Accepted),
            (Some(" 1 "), LegAnswer::Accepted),
            (Some("2"), LegAnswer::Declined),
            (Some("*"), LegAnswer::Declined),
            (Some("11"), LegAnswer::Declined),
            (Some(""), LegAnswer::Silent),
            (None, LegAnswer::Silent),
        ];
        for (digits, want) in table {
            assert_eq!(LegAnswer::from_digits(digits), want, "{digits:?}");
        }
    }

    #[test]
    fn the_whisper_names_the_business_the_choice_and_the_caller() {
        let n = PhoneNumber::parse("+14155550123").unwrap();
        assert_eq!(
            whisper("Demo Plumbing", Some("sales"), Some(&Caller::Number(&n))),
            vec![
                "Call for Demo Plumbing, sales, from 4 1 5, 5 5 5, 0 1 2 3.".to_string(),
                "Press 1 to take it, or hang up to let it go to voicemail.".into(),
            ]
        );
        assert_eq!(
            whisper("Demo Plumbing", None, Some(&Caller::Named("Jane Smith")))[0],
            "Call for Demo Plumbing, from Jane Smith."
        );
        assert_eq!(
            whisper("Demo Plumbing", Some(" "), None)[0],
            "Call for Demo Plumbing, from a withheld number."
        );
        let uk = PhoneNumber::parse("+442071838750").unwrap();
        assert_eq!(spoken_digits(&uk), "4 4 2 0 7 1 8 3 8 7 5 0");
    }
}
