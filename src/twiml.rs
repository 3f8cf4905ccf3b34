//! TwiML responses, built from typed verbs and rendered with every text and attribute
//! XML-escaped. One module writes TwiML, so a caller's input can never inject markup.

use crate::domain::callflow::{CallFlow, Speech};
use crate::domain::ivr::{Step, SIP_RING_SECS};
use crate::domain::ring::{Dial, Hop, WHISPER_TIMEOUT_SECS};
use crate::domain::webhook::TwilioRoute;
use std::fmt::Write;

/// A `<Response>` under construction.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TwiML {
    verbs: Vec<Verb>,
    /// The voice and language of every `<Say>` (SPEC §3.8).
    speech: Speech,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verb {
    Say(String),
    Gather {
        action: String,
        num_digits: u8,
        timeout: u32,
        prompt: Vec<String>,
    },
    Dial(DialVerb),
    Record {
        action: String,
        max_length: u32,
        transcribe_callback: String,
        recording_callback: String,
    },
    Hangup,
    /// `<Reject/>`, or with `busy`, `<Reject reason="busy"/>`.
    Reject {
        busy: bool,
    },
    Redirect(String),
}

/// A `<Dial>`: always `answerOnBridge`, so the caller hears ringing until someone takes
/// the call and billing and "answered" start at the bridge (SPEC §3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialVerb {
    pub action: String,
    pub timeout: u32,
    /// `record-from-answer-dual`, only when consent allows (SPEC §3.4).
    pub record: bool,
    /// The number the ringing phones show; `None`: the caller's.
    pub caller_id: Option<String>,
    pub target: DialTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// Phone numbers; with `screen`, each answering leg first gets the TwiML at that URL.
    Numbers {
        numbers: Vec<String>,
        screen: Option<String>,
    },
    Sip(String),
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0; drop them.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// `path?query`, or `path` when the query is empty.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// The `<Dial>` of a decided dial: its action and each number's screening URL carry the
/// dial's [`Hop`], so the callbacks know which dial ends or which leg answers.
fn dial_verb(dial: &Dial) -> DialVerb {
    let query = dial.hop.query();
    DialVerb {
        action: with_query(TwilioRoute::DialResult.path(), &query),
        timeout: dial.ring_secs,
        record: dial.record,
        caller_id: dial.caller_id.clone(),
        target: DialTarget::Numbers {
            numbers: dial.targets.clone(),
            screen: dial
                .hop
                .screened
                .then(|| with_query(TwilioRoute::Screen.path(), &query)),
        },
    }
}

impl TwiML {
    pub fn new() -> Self {
        TwiML::default()
    }

    /// Every `<Say>` of this document speaks with `speech`'s voice and language.
    pub fn speaking(mut self, speech: &Speech) -> Self {
        self.speech = speech.clone();
        self
    }

    pub fn say(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        if !text.trim().is_empty() {
            self.verbs.push(Verb::Say(text));
        }
        self
    }

    /// A one-digit DTMF menu; `actionOnEmptyResult` makes Twilio call `action` on a timeout
    /// too, so the menu itself decides what happens next (no dead end).
    pub fn gather(mut self, action: impl Into<String>, timeout: u32, prompt: Vec<String>) -> Self {
        self.verbs.push(Verb::Gather {
            action: action.into(),
            num_digits: 1,
            timeout,
            prompt,
        });
        self
    }

    /// Connects the caller.
    pub fn dial(mut self, dial: DialVerb) -> Self {
        self.verbs.push(Verb::Dial(dial));
        self
    }

    /// What the person answering a screened leg hears (SPEC §3.8): the whisper inside a
    /// one-key `<Gather>` whose action decides on a key or on silence alike.
    pub fn whisper(hop: &Hop, lines: Vec<String>) -> TwiML {
        let action = with_query(TwilioRoute::ScreenAnswer.path(), &hop.query());
        TwiML::new()
            .gather(action, WHISPER_TIMEOUT_SECS, lines)
            .hangup()
    }

    /// The voicemail recorder of SPEC §3.3.
    pub fn record_voicemail(mut self, max_length: u32) -> Self {
        self.verbs.push(Verb::Record {
            action: TwilioRoute::VoicemailDone.path().into(),
            max_length,
            transcribe_callback: TwilioRoute::Transcription.path().into(),
            recording_callback: TwilioRoute::Recording.path().into(),
        });
        self
    }

    pub fn hangup(mut self) -> Self {
        self.verbs.push(Verb::Hangup);
        self
    }

    pub fn reject(mut self) -> Self {
        self.verbs.push(Verb::Reject { busy: false });
        self
    }

    /// Refuses the call with a busy signal (a blocked caller; Twilio does not bill it).
    pub fn reject_busy(mut self) -> Self {
        self.verbs.push(Verb::Reject { busy: true });
        self
    }

    pub fn redirect(mut self, url: impl Into<String>) -> Self {
        self.verbs.push(Verb::Redirect(url.into()));
        self
    }

    /// The TwiML of one decided [`Step`] of the call menu; `flow` fills in its texts.
    /// Every path ends at a person, a recorder, a goodbye or a menu whose action decides.
    pub fn step(step: &Step, flow: &CallFlow) -> TwiML {
        fn say_first(preface: &Option<String>) -> TwiML {
            match preface {
                Some(text) => TwiML::new().say(text),
                None => TwiML::new(),
            }
        }
        match step {
            Step::Menu { attempt, preface } => say_first(preface).gather(
                format!("{}?attempt={attempt}", TwilioRoute::Menu.path()),
                flow.gather_timeout_secs,
                flow.menu_prompt(),
            ),
            Step::ConsentQuestion => TwiML::new().gather(
                TwilioRoute::Consent.path(),
                flow.gather_timeout_secs,
                vec![
                    flow.recording.disclosure.clone(),
                    flow.recording.opt_in_prompt.clone(),
                ],
            ),
            Step::Dial(dial) => say_first(&dial.preface).dial(dial_verb(dial)),
            Step::Sip { uri } => TwiML::new().dial(DialVerb {
                action: TwilioRoute::DialResult.path().into(),
                timeout: SIP_RING_SECS,
                record: false,
                caller_id: None,
                target: DialTarget::Sip(uri.clone()),
            }),
            Step::Voicemail { preface } => say_first(preface)
                .say(&flow.voicemail.prompt)
                .record_voicemail(flow.voicemail.max_length_secs)
                .say(&flow.voicemail.goodbye)
                .hangup(),
            Step::SayAndHangUp(lines) => lines
                .iter()
                .fold(TwiML::new(), |t, line| t.say(line))
                .hangup(),
            Step::Goodbye => TwiML::new().say(&flow.voicemail.goodbye).hangup(),
            Step::HangUp => TwiML::new().hangup(),
            Step::Reject => TwiML::new().reject(),
            Step::RejectBusy => TwiML::new().reject_busy(),
        }
        .speaking(&flow.speech)
    }

    /// What a caller experiences from this document, in words, one line a verb: what is
    /// said, and in brackets what happens (the call-flow preview shows this).
    pub fn heard(&self) -> Vec<String> {
        let mut out = Vec::new();
        for verb in &self.verbs {
            match verb {
                Verb::Say(text) => out.push(text.clone()),
                Verb::Gather {
                    timeout, prompt, ..
                } => {
                    out.extend(prompt.iter().filter(|l| !l.trim().is_empty()).cloned());
                    out.push(format!("[waits {timeout} s for a key]"));
                }
                Verb::Dial(DialVerb {
                    timeout,
                    record,
                    target,
                    ..
                }) => {
                    let recorded = if *record { ", recorded" } else { "" };
                    out.push(match target {
                        DialTarget::Numbers { numbers, screen } => {
                            let screened = if screen.is_some() {
                                "; whoever answers hears who is calling and must press 1 to take it"
                            } else {
                                ""
                            };
                            format!(
                                "[rings {} for {timeout} s{recorded}{screened}]",
                                numbers.join(", ")
                            )
                        }
                        DialTarget::Sip(_) => format!("[connects to the AI agent{recorded}]"),
                    });
                }
                Verb::Record { max_length, .. } => {
                    out.push(format!("[records a voicemail of up to {max_length} s]"));
                }
                Verb::Hangup => out.push("[hangs up]".into()),
                Verb::Reject { busy: false } => {
                    out.push("[the call is refused before it is answered]".into())
                }
                Verb::Reject { busy: true } => {
                    out.push("[the caller hears a busy signal; the call is never answered]".into())
                }
                Verb::Redirect(_) => {}
            }
        }
        out
    }

    /// `<Say>` with this document's voice and language.
    fn write_say(&self, out: &mut String, text: &str) {
        out.push_str("<Say");
        if let Some(v) = &self.speech.voice {
            let _ = write!(out, r#" voice="{}""#, escape(v));
        }
        if let Some(l) = &self.speech.language {
            let _ = write!(out, r#" language="{}""#, escape(l));
        }
        let _ = write!(out, ">{}</Say>", escape(text));
    }

    pub fn render(&self) -> String {
        let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
        for verb in &self.verbs {
            match verb {
                Verb::Say(text) => self.write_say(&mut out, text),
                Verb::Gather {
                    action,
                    num_digits,
                    timeout,
                    prompt,
                } => {
                    let _ = write!(
                        out,
                        r#"<Gather input="dtmf" numDigits="{num_digits}" timeout="{timeout}" actionOnEmptyResult="true" action="{}">"#,
                        escape(action)
                    );
                    for line in prompt.iter().filter(|l| !l.trim().is_empty()) {
                        self.write_say(&mut out, line);
                    }
                    out.push_str("</Gather>");
                }
                Verb::Dial(DialVerb {
                    action,
                    timeout,
                    record,
                    caller_id,
                    target,
                }) => {
                    let _ = write!(
                        out,
                        r#"<Dial action="{}" timeout="{timeout}" answerOnBridge="true""#,
                        escape(action)
                    );
                    if let Some(id) = caller_id {
                        let _ = write!(out, r#" callerId="{}""#, escape(id));
                    }
                    if *record {
                        out.push_str(r#" record="record-from-answer-dual""#);
                    }
                    out.push('>');
                    match target {
                        DialTarget::Numbers { numbers, screen } => {
                            for n in numbers {
                                match screen {
                                    Some(url) => {
                                        let _ = write!(
                                            out,
                                            r#"<Number url="{}">{}</Number>"#,
                                            escape(url),
                                            escape(n)
                                        );
                                    }
                                    None => {
                                        let _ = write!(out, "<Number>{}</Number>", escape(n));
                                    }
                                }
                            }
                        }
                        DialTarget::Sip(uri) => {
                            let _ = write!(out, "<Sip>{}</Sip>", escape(uri));
                        }
                    }
                    out.push_str("</Dial>");
                }
                Verb::Record {
                    action,
                    max_length,
                    transcribe_callback,
                    recording_callback,
                } => {
                    let _ = write!(
                        out,
                        r#"<Record maxLength="{max_length}" playBeep="true" transcribe="true" transcribeCallback="{}" recordingStatusCallback="{}" action="{}"/>"#,
                        escape(transcribe_callback),
                        escape(recording_callback),
                        escape(action)
                    );
                }
                Verb::Hangup => out.push_str("<Hangup/>"),
                Verb::Reject { busy: false } => out.push_str("<Reject/>"),
                Verb::Reject { busy: true } => out.push_str(r#"<Reject reason="busy"/>"#),
                Verb::Redirect(url) => {
                    let _ = write!(out, "<Redirect>{}</Redirect>", escape(url));
                }
            }
        }
        out.push_str("</Response>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

    #[test]
    fn an_empty_response_is_valid_twiml() {
        assert_eq!(
            TwiML::new().render(),
            format!("{HEAD}<Response></Response>")
        );
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let xml = TwiML::new()
            .say(r#"Tom & Jerry's <"shop">"#)
            .redirect("/a?b=1&c=2")
            .render();
        assert_eq!(
            xml,
            format!("{HEAD}<Response><Say>Tom &amp; Jerry&apos;s &lt;&quot;shop&quot;&gt;</Say><Redirect>/a?b=1&amp;c=2</Redirect></Response>")
        );
    }

    #[test]
    fn empty_say_is_skipped_and_control_characters_are_dropped() {
        assert_eq!(
            TwiML::new().say("  ").say("a\u{0}b").render(),
            format!("{HEAD}<Response><Say>ab</Say></Response>")
        );
    }

    #[test]
    fn a_menu_gather_matches_the_spec() {
        let xml = TwiML::new()
            .gather(
                "/twilio/voice/menu?attempt=1",
                5,
                vec!["Hello.".into(), "Press 1.".into()],
            )
            .render();
        assert_eq!(
            xml,
            format!(
                "{HEAD}<Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"5\" actionOnEmptyResult=\"true\" \
                 action=\"/twilio/voice/menu?attempt=1\"><Say>Hello.</Say><Say>Press 1.</Say></Gather></Response>"
            )
        );
    }

    fn plain_dial(record: bool, target: DialTarget) -> DialVerb {
        DialVerb {
            action: "/twilio/voice/dial-result".into(),
            timeout: 20,
            record,
            caller_id: None,
            target,
        }
    }

    #[test]
    fn dial_always_answers_on_bridge_and_records_only_when_asked() {
        let numbers = DialTarget::Numbers {
            numbers: vec!["+15550100101".into()],
            screen: None,
        };
        assert_eq!(
            TwiML::new().dial(plain_dial(false, numbers.clone())).render(),
            format!("{HEAD}<Response><Dial action=\"/twilio/voice/dial-result\" timeout=\"20\" answerOnBridge=\"true\"><Number>+15550100101</Number></Dial></Response>")
        );
        assert!(TwiML::new()
            .dial(plain_dial(true, numbers))
            .render()
            .contains(r#" record="record-from-answer-dual">"#));
        assert!(TwiML::new()
            .dial(plain_dial(
                false,
                DialTarget::Sip("sip:agent@example.com".into())
            ))
            .render()
            .contains("<Sip>sip:agent@example.com</Sip>"));
    }

    #[test]
    fn a_screened_dial_sends_each_answering_leg_to_the_whisper_with_its_hop() {
        let dial = Dial {
            preface: None,
            targets: vec!["+15550100101".into(), "+15550100102".into()],
            ring_secs: 15,
            record: false,
            caller_id: Some("+15550100001".into()),
            hop: Hop {
                screened: true,
                option: Some("#".into()),
                position: None,
            },
        };
        assert_eq!(
            TwiML::step(&Step::Dial(dial), &CallFlow::default()).render(),
            format!(
                "{HEAD}<Response><Dial action=\"/twilio/voice/dial-result?screen=1&amp;option=%23\" timeout=\"15\" answerOnBridge=\"true\" callerId=\"+15550100001\">\
                 <Number url=\"/twilio/voice/screen?screen=1&amp;option=%23\">+15550100101</Number>\
                 <Number url=\"/twilio/voice/screen?screen=1&amp;option=%23\">+15550100102</Number></Dial></Response>"
            )
        );
        let hop = Hop {
            screened: true,
            option: Some("1".into()),
            position: Some(0),
        };
        assert_eq!(
            TwiML::whisper(&hop, vec!["Call for Demo Plumbing.".into(), "Press 1.".into()]).render(),
            format!(
                "{HEAD}<Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"6\" actionOnEmptyResult=\"true\" \
                 action=\"/twilio/voice/screen/answer?screen=1&amp;option=1&amp;position=0\"><Say>Call for Demo Plumbing.</Say><Say>Press 1.</Say></Gather><Hangup/></Response>"
            )
        );
    }

    #[test]
    fn every_say_speaks_with_the_flows_voice_and_language() {
        let flow = CallFlow {
            speech: Speech {
                voice: Some("Polly.Joanna".into()),
                language: Some("en-US".into()),
            },
            ..CallFlow::default()
        };
        let xml = TwiML::step(
            &Step::Voicemail {
                preface: Some("Closed.".into()),
            },
            &flow,
        )
        .render();
        assert_eq!(
            xml.matches(r#"<Say voice="Polly.Joanna" language="en-US">"#)
                .count(),
            3,
            "{xml}"
        );
        assert!(!xml.contains("<Say>"), "{xml}");
        let menu = TwiML::step(
            &Step::Menu {
                attempt: 1,
                preface: None,
            },
            &flow,
        )
        .render();
        assert!(menu.contains(r#"<Gather input="dtmf" numDigits="1" timeout="5" actionOnEmptyResult="true" action="/twilio/voice/menu?attempt=1"><Say voice="Polly.Joanna" language="en-US">"#), "{menu}");
    }

    #[test]
    fn the_voicemail_recorder_matches_the_spec() {
        assert_eq!(
            TwiML::new().record_voicemail(120).render(),
            format!(
                "{HEAD}<Response><Record maxLength=\"120\" playBeep=\"true\" transcribe=\"true\" \
                 transcribeCallback=\"/twilio/voice/transcription\" recordingStatusCallback=\"/twilio/voice/recording\" \
                 action=\"/twilio/voice/voicemail-done\"/></Response>"
            )
        );
    }
}
