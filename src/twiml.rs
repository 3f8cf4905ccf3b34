//! TwiML responses, built from typed verbs and rendered with every text and attribute
//! XML-escaped. One module writes TwiML, so a caller's input can never inject markup.

use crate::domain::callflow::CallFlow;
use crate::domain::ivr::{Step, SIP_RING_SECS};
use crate::domain::webhook::TwilioRoute;
use std::fmt::Write;

/// A `<Response>` under construction.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TwiML {
    verbs: Vec<Verb>,
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
    Dial {
        action: String,
        timeout: u32,
        record: bool,
        target: DialTarget,
    },
    Record {
        action: String,
        max_length: u32,
        transcribe_callback: String,
        recording_callback: String,
    },
    Hangup,
    Reject,
    Redirect(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    Numbers(Vec<String>),
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

impl TwiML {
    pub fn new() -> Self {
        TwiML::default()
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

    /// Connects the caller; `record` only when consent allows (SPEC §3.4).
    pub fn dial(
        mut self,
        action: impl Into<String>,
        timeout: u32,
        record: bool,
        target: DialTarget,
    ) -> Self {
        self.verbs.push(Verb::Dial {
            action: action.into(),
            timeout,
            record,
            target,
        });
        self
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
        self.verbs.push(Verb::Reject);
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
            Step::Dial {
                preface,
                targets,
                ring_secs,
                record,
            } => say_first(preface).dial(
                TwilioRoute::DialResult.path(),
                *ring_secs,
                *record,
                DialTarget::Numbers(targets.clone()),
            ),
            Step::Sip { uri } => TwiML::new().dial(
                TwilioRoute::DialResult.path(),
                SIP_RING_SECS,
                false,
                DialTarget::Sip(uri.clone()),
            ),
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
        }
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
                Verb::Dial {
                    timeout,
                    record,
                    target,
                    ..
                } => {
                    let recorded = if *record { ", recorded" } else { "" };
                    out.push(match target {
                        DialTarget::Numbers(numbers) => {
                            format!("[rings {} for {timeout} s{recorded}]", numbers.join(", "))
                        }
                        DialTarget::Sip(_) => format!("[connects to the AI agent{recorded}]"),
                    });
                }
                Verb::Record { max_length, .. } => {
                    out.push(format!("[records a voicemail of up to {max_length} s]"));
                }
                Verb::Hangup => out.push("[hangs up]".into()),
                Verb::Reject => out.push("[the call is refused before it is answered]".into()),
                Verb::Redirect(_) => {}
            }
        }
        out
    }

    pub fn render(&self) -> String {
        let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
        for verb in &self.verbs {
            match verb {
                Verb::Say(text) => {
                    let _ = write!(out, "<Say>{}</Say>", escape(text));
                }
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
                        let _ = write!(out, "<Say>{}</Say>", escape(line));
                    }
                    out.push_str("</Gather>");
                }
                Verb::Dial {
                    action,
                    timeout,
                    record,
                    target,
                } => {
                    let _ = write!(
                        out,
                        r#"<Dial action="{}" timeout="{timeout}""#,
                        escape(action)
                    );
                    if *record {
                        out.push_str(r#" record="record-from-answer-dual""#);
                    }
                    out.push('>');
                    match target {
                        DialTarget::Numbers(numbers) => {
                            for n in numbers {
                                let _ = write!(out, "<Number>{}</Number>", escape(n));
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
                Verb::Reject => out.push_str("<Reject/>"),
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

    #[test]
    fn dial_records_only_when_asked() {
        let numbers = DialTarget::Numbers(vec!["+15550100101".into()]);
        assert_eq!(
            TwiML::new().dial("/twilio/voice/dial-result", 20, false, numbers.clone()).render(),
            format!("{HEAD}<Response><Dial action=\"/twilio/voice/dial-result\" timeout=\"20\"><Number>+15550100101</Number></Dial></Response>")
        );
        assert!(TwiML::new()
            .dial("/x", 20, true, numbers)
            .render()
            .contains(r#" record="record-from-answer-dual">"#));
        assert!(TwiML::new()
            .dial(
                "/x",
                20,
                false,
                DialTarget::Sip("sip:agent@example.com".into())
            )
            .render()
            .contains("<Sip>sip:agent@example.com</Sip>"));
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
