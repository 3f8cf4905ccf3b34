//! Reading the TwiML an appliance answers, as Twilio would: the verbs of a `<Response>`
//! in order, with the attributes that decide where a call goes next.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::fmt;

/// One TwiML verb the simulator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Say(String),
    Play(String),
    Pause(u32),
    Gather {
        action: Option<String>,
        timeout: u32,
        action_on_empty_result: bool,
        prompt: Vec<String>,
    },
    Dial {
        action: Option<String>,
        timeout: u32,
        record: bool,
        /// `<Number>`, `<Sip>` or `<Client>` contents, or the verb's own text.
        targets: Vec<String>,
        /// The `url` of its `<Number>`s: TwiML played to whoever answers before the
        /// caller is put through (call screening).
        screen: Option<String>,
    },
    /// A `<Number>` inside a `<Dial>`, with its `url`.
    Number {
        address: String,
        url: Option<String>,
    },
    Record {
        action: Option<String>,
        max_length: u32,
        recording_status_callback: Option<String>,
        transcribe_callback: Option<String>,
    },
    Redirect(String),
    Message(String),
    Hangup,
    Reject,
    /// A verb the simulator does not act on (it is shown and skipped).
    Other(String),
}

/// Parses a TwiML document; the error says what is wrong with it.
pub fn parse(doc: &str) -> Result<Vec<Verb>, String> {
    let mut reader = Reader::from_str(doc);
    let mut stack: Vec<Element> = Vec::new();
    let mut verbs = Vec::new();
    let mut seen_response = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        match event {
            Event::Start(s) => stack.push(Element::open(&s)?),
            Event::Empty(s) => {
                let element = Element::open(&s)?;
                close(element, &mut stack, &mut verbs, &mut seen_response)?;
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("a closing tag without its opening tag")?;
                close(element, &mut stack, &mut verbs, &mut seen_response)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text
                        .push_str(&t.decode().map_err(|e| format!("bad text: {e}"))?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.decode().map_err(|e| format!("bad reference: {e}"))?;
                    let raw = format!("&{name};");
                    let text = quick_xml::escape::unescape(&raw)
                        .map_err(|e| format!("unknown entity {raw}: {e}"))?;
                    top.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!("<{}> is never closed", stack[0].name));
    }
    if !seen_response {
        return Err("the document has no <Response> element".into());
    }
    Ok(verbs)
}

struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Verb>,
}

impl Element {
    fn open(s: &BytesStart) -> Result<Element, String> {
        let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in s.attributes() {
            let a = a.map_err(|e| format!("bad attribute on <{name}>: {e}"))?;
            let value = a
                .normalized_value(quick_xml::XmlVersion::default())
                .map_err(|e| format!("bad attribute value on <{name}>: {e}"))?;
            attrs.push((
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                value.into_owned(),
            ));
        }
        Ok(Element {
            name,
            attrs,
            text: String::new(),
            children: Vec::new(),
        })
    }

    fn attr(&self, key: &str) -> Option<String> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn number(&self, key: &str, default: u32) -> Result<u32, String> {
        match self.attr(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("<{}> {key}=\"{v}\" is not a whole number", self.name)),
        }
    }

    fn into_verb(self) -> Result<Verb, String> {
        let text = self.text.trim().to_string();
        Ok(match self.name.as_str() {
            "Say" => Verb::Say(text),
            "Play" => Verb::Play(text),
            "Pause" => Verb::Pause(self.number("length", 1)?),
            "Gather" => Verb::Gather {
                timeout: self.number("timeout", 5)?,
                action_on_empty_result: self.attr("actionOnEmptyResult").as_deref() == Some("true"),
                action: self.attr("action"),
                prompt: self
                    .children
                    .into_iter()
                    .filter_map(|v| match v {
                        Verb::Say(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
            },
            "Dial" => {
                let timeout = self.number("timeout", 30)?;
                let record = self.attr("record").is_some_and(|r| r != "do-not-record");
                let action = self.attr("action");
                let mut targets = Vec::new();
                let mut screen = None;
                for child in self.children {
                    match child {
                        Verb::Other(t) => targets.push(t),
                        Verb::Number { address, url } => {
                            screen = screen.or(url);
                            targets.push(address);
                        }
                        _ => {}
                    }
                }
                if targets.is_empty() && !text.is_empty() {
                    targets.push(text);
                }
                Verb::Dial {
                    timeout,
                    record,
                    action,
                    targets,
                    screen,
                }
            }
            "Record" => Verb::Record {
                max_length: self.number("maxLength", 3600)?,
                action: self.attr("action"),
                recording_status_callback: self.attr("recordingStatusCallback"),
                transcribe_callback: self.attr("transcribeCallback"),
            },
            "Redirect" => Verb::Redirect(text),
            "Message" => Verb::Message(text),
            "Hangup" => Verb::Hangup,
            "Reject" => Verb::Reject,
            // A dial target keeps its text for the enclosing <Dial>.
            "Number" => Verb::Number {
                url: self.attr("url"),
                address: text,
            },
            "Sip" | "Client" => Verb::Other(text),
            other => Verb::Other(format!("<{other}>")),
        })
    }
}

/// Attaches a finished element to its parent, or to the document's verbs.
fn close(
    element: Element,
    stack: &mut [Element],
    verbs: &mut Vec<Verb>,
    seen_response: &mut bool,
) -> Result<(), String> {
    if element.name == "Response" {
        if !stack.is_empty() {
            return Err("<Response> must be the document's root".into());
        }
        *seen_response = true;
        verbs.extend(element.children);
        return Ok(());
    }
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(element.into_verb()?);
            Ok(())
        }
        None => Err(format!(
            "<{}> is outside <Response>: TwiML's root must be <Response>",
            element.name
        )),
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verb::Say(t) => write!(f, "Say \"{t}\""),
            Verb::Play(u) => write!(f, "Play {u}"),
            Verb::Pause(s) => write!(f, "Pause {s} s"),
            Verb::Gather {
                timeout, prompt, ..
            } => {
                write!(f, "Gather a key ({timeout} s)")?;
                for line in prompt {
                    write!(f, "\n      Say \"{line}\"")?;
                }
                Ok(())
            }
            Verb::Dial {
                timeout,
                record,
                targets,
                screen,
                ..
            } => {
                let recorded = if *record { ", recorded" } else { "" };
                let screened = if screen.is_some() { ", screened" } else { "" };
                write!(
                    f,
                    "Dial {} ({timeout} s{recorded}{screened})",
                    targets.join(", ")
                )
            }
            Verb::Number { address, .. } => write!(f, "Number {address}"),
            Verb::Record { max_length, .. } => write!(f, "Record up to {max_length} s"),
            Verb::Redirect(u) => write!(f, "Redirect {u}"),
            Verb::Message(t) => write!(f, "Message \"{t}\""),
            Verb::Hangup => write!(f, "Hangup"),
            Verb::Reject => write!(f, "Reject"),
            Verb::Other(t) => write!(f, "{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twiml::{DialTarget, DialVerb, TwiML};

    #[test]
    fn reads_what_the_appliance_writes() {
        let doc = TwiML::new()
            .say("Tom & Jerry's")
            .gather(
                "/twilio/voice/menu?attempt=1&x=2",
                5,
                vec!["Press 1.".into()],
            )
            .dial(DialVerb {
                action: "/twilio/voice/dial-result".into(),
                timeout: 20,
                record: true,
                caller_id: None,
                target: DialTarget::Numbers {
                    numbers: vec!["+15550100101".into(), "+15550100102".into()],
                    screen: Some("/twilio/voice/screen?option=1".into()),
                },
            })
            .record_voicemail(120)
            .redirect("/twilio/voice")
            .hangup()
            .render();
        let verbs = parse(&doc).unwrap();
        assert_eq!(
            verbs,
            vec![
                Verb::Say("Tom & Jerry's".into()),
                Verb::Gather {
                    action: Some("/twilio/voice/menu?attempt=1&x=2".into()),
                    timeout: 5,
                    action_on_empty_result: true,
                    prompt: vec!["Press 1.".into()],
                },
                Verb::Dial {
                    action: Some("/twilio/voice/dial-result".into()),
                    timeout: 20,
                    record: true,
                    targets: vec!["+15550100101".into(), "+15550100102".into()],
                    screen: Some("/twilio/voice/screen?option=1".into()),
                },
                Verb::Record {
                    action: Some("/twilio/voice/voicemail-done".into()),
                    max_length: 120,
                    recording_status_callback: Some("/twilio/voice/recording".into()),
                    transcribe_callback: Some("/twilio/voice/transcription".into()),
                },
                Verb::Redirect("/twilio/voice".into()),
                Verb::Hangup,
            ]
        );
    }

    #[test]
    fn twilio_defaults_apply_and_a_bare_dial_number_is_its_target() {
        let verbs =
            parse("<Response><Gather/><Dial>+15550100101</Dial><Pause/><Reject/></Response>")
                .unwrap();
        assert_eq!(
            verbs,
            vec![
                Verb::Gather {
                    action: None,
                    timeout: 5,
                    action_on_empty_result: false,
                    prompt: vec![]
                },
                Verb::Dial {
                    action: None,
                    timeout: 30,
                    record: false,
                    targets: vec!["+15550100101".into()],
                    screen: None,
                },
                Verb::Pause(1),
                Verb::Reject,
            ]
        );
    }

    #[test]
    fn broken_documents_name_their_fault() {
        for (doc, fault) in [
            ("<Response><Say>hi</Response>", "not well-formed"),
            ("<Response><Say>hi</Say>", "never closed"),
            ("<Say>hi</Say>", "outside <Response>"),
            ("", "no <Response>"),
            (
                r#"<Response><Gather timeout="soon"/></Response>"#,
                "not a whole number",
            ),
        ] {
            let err = parse(doc).unwrap_err();
            assert!(err.contains(fault), "{doc}: {err}");
        }
    }
}
