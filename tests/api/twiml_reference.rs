//! Every distinct TwiML document the appliance answers with, collected by driving the demo
//! through each caller path over HTTP, checked against Twilio's TwiML reference
//! (twilio.com/docs/voice/twiml: say, gather, dial, number, sip, record, hangup, reject,
//! redirect): only documented verbs, nouns and attributes, each value of its documented
//! form, each verb in a place Twilio allows it. A test lists the documents it checked.

use crate::helpers::{spawn_app_with, CALLER, MAIN_LINE, ONBOARDING_LINE, SYSTEM_LINE};
use quick_xml::events::Event;
use serde_json::json;
use std::collections::BTreeSet;

/// The documented form of an attribute value.
#[derive(Clone, Copy)]
enum Form {
    /// An absolute or relative URL.
    Url,
    /// `true` or `false`.
    Bool,
    /// A whole number in the range.
    Int(u32, u32),
    OneOf(&'static [&'static str]),
    Text,
    /// "voice: man, woman, alice, or an Amazon Polly (`Polly.Joanna`, `Polly.Joanna-Neural`)
    /// or Google (`Google.en-US-Standard-C`) voice" (TwiML <Say>, text-to-speech voices).
    Voice,
    /// A language tag from the <Say> language list (`en-US`, `es-MX`, `cmn-CN`).
    Language,
    /// A phone number in E.164 (<Dial callerId>: a Twilio number or verified caller ID).
    E164,
}

struct Rule {
    name: &'static str,
    attributes: &'static [(&'static str, Form)],
    /// Elements allowed inside; text content is allowed when `text` is set.
    children: &'static [&'static str],
    text: bool,
}

const METHOD: Form = Form::OneOf(&["GET", "POST"]);

/// From Twilio's TwiML reference, limited to what the appliance may use.
const RULES: &[Rule] = &[
    Rule {
        name: "Response",
        attributes: &[],
        children: &[
            "Say", "Play", "Pause", "Gather", "Dial", "Record", "Hangup", "Reject", "Redirect",
        ],
        text: false,
    },
    Rule {
        name: "Say",
        attributes: &[
            ("voice", Form::Voice),
            ("language", Form::Language),
            ("loop", Form::Int(0, 1000)),
        ],
        children: &[],
        text: true,
    },
    Rule {
        name: "Gather",
        attributes: &[
            ("action", Form::Url),
            ("method", METHOD),
            (
                "input",
                Form::OneOf(&["dtmf", "speech", "dtmf speech", "speech dtmf"]),
            ),
            ("numDigits", Form::Int(1, 1000)),
            ("timeout", Form::Int(1, 600)),
            ("finishOnKey", Form::Text),
            ("actionOnEmptyResult", Form::Bool),
        ],
        children: &["Say", "Play", "Pause"],
        text: false,
    },
    Rule {
        name: "Dial",
        attributes: &[
            ("action", Form::Url),
            ("method", METHOD),
            // "timeout: … between 5 and 600 seconds".
            ("timeout", Form::Int(5, 600)),
            ("timeLimit", Form::Int(1, 86_400)),
            ("callerId", Form::E164),
            ("answerOnBridge", Form::Bool),
            (
                "record",
                Form::OneOf(&[
                    "do-not-record",
                    "record-from-answer",
                    "record-from-ringing",
                    "record-from-answer-dual",
                    "record-from-ringing-dual",
                ]),
            ),
            ("recordingStatusCallback", Form::Url),
        ],
        children: &["Number", "Sip", "Client"],
        text: false,
    },
    Rule {
        name: "Number",
        attributes: &[("sendDigits", Form::Text), ("url", Form::Url)],
        children: &[],
        text: true,
    },
    Rule {
        name: "Sip",
        attributes: &[("username", Form::Text), ("password", Form::Text)],
        children: &[],
        text: true,
    },
    Rule {
        name: "Record",
        attributes: &[
            ("action", Form::Url),
            ("method", METHOD),
            ("timeout", Form::Int(0, 3600)),
            ("finishOnKey", Form::Text),
            // "maxLength: … the maximum length for the recording in seconds" (up to 4 h).
            ("maxLength", Form::Int(1, 14_400)),
            ("playBeep", Form::Bool),
            ("trim", Form::OneOf(&["trim-silence", "do-not-trim"])),
            ("recordingStatusCallback", Form::Url),
            ("recordingStatusCallbackMethod", METHOD),
            ("transcribe", Form::Bool),
            ("transcribeCallback", Form::Url),
        ],
        children: &[],
        text: false,
    },
    Rule {
        name: "Hangup",
        attributes: &[],
        children: &[],
        text: false,
    },
    Rule {
        name: "Reject",
        attributes: &[("reason", Form::OneOf(&["rejected", "busy"]))],
        children: &[],
        text: false,
    },
    Rule {
        name: "Redirect",
        attributes: &[("method", METHOD)],
        children: &[],
        text: true,
    },
];

fn value_ok(form: Form, v: &str) -> bool {
    match form {
        Form::Url => v.starts_with('/') || v.starts_with("https://") || v.starts_with("http://"),
        Form::Bool => v == "true" || v == "false",
        Form::Int(lo, hi) => v.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n)),
        Form::OneOf(values) => values.contains(&v),
        Form::Text => !v.is_empty(),
        Form::Voice => {
            let name_ok =
                |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            matches!(v, "man" | "woman" | "alice")
                || v.strip_prefix("Polly.")
                    .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_uppercase()) && name_ok(n))
                || v.strip_prefix("Google.")
                    .is_some_and(|n| n.split('-').count() >= 3 && name_ok(n))
        }
        Form::Language => {
            let (lang, region) = v.split_once('-').unwrap_or((v, ""));
            (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_lowercase())
                && (region.is_empty()
                    || (region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase()))
                    || (region.len() == 3 && region.chars().all(|c| c.is_ascii_digit())))
        }
        Form::E164 => v
            .strip_prefix('+')
            .is_some_and(|d| (7..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit())),
    }
}

/// Every way `doc` departs from the reference; empty when it conforms.
fn check(doc: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut stack: Vec<&'static Rule> = Vec::new();
    let mut roots = 0;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("not well-formed XML: {e}"));
                break;
            }
        };
        let (start, empty) = match &event {
            Event::Start(s) => (Some(s.clone()), false),
            Event::Empty(s) => (Some(s.clone()), true),
            _ => (None, false),
        };
        if let Some(s) = start {
            let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
            let Some(rule) = RULES.iter().find(|r| r.name == name) else {
                problems.push(format!(
                    "<{name}> is not a TwiML verb or noun the reference lists"
                ));
                break;
            };
            match stack.last() {
                None => {
                    roots += 1;
                    if name != "Response" {
                        problems.push(format!("the root is <{name}>, not <Response>"));
                    }
                }
                Some(parent) if !parent.children.contains(&rule.name) => {
                    problems.push(format!("<{name}> is not allowed inside <{}>", parent.name))
                }
                _ => {}
            }
            for a in s.attributes() {
                let a = a.unwrap();
                let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                let value = a
                    .normalized_value(quick_xml::XmlVersion::default())
                    .unwrap()
                    .into_owned();
                match rule.attributes.iter().find(|(k, _)| *k == key) {
                    None => problems.push(format!("<{name}> has no attribute {key}")),
                    Some((_, form)) if !value_ok(*form, &value) => problems.push(format!(
                        "<{name} {key}=\"{value}\"> is not a documented value"
                    )),
                    _ => {}
                }
            }
            if rule.text && empty {
                problems.push(format!("<{name}/> needs content"));
            }
            if !empty {
                stack.push(rule);
            }
        }
        match event {
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let text = t.decode().unwrap();
                if !text.trim().is_empty() && !stack.last().is_some_and(|r| r.text) {
                    problems.push(format!("text {text:?} where the reference allows none"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if roots != 1 {
        problems.push(format!("{roots} root elements"));
    }
    problems
}

/// Drives every caller path and returns each distinct document with where it came from.
async fn documents() -> Vec<(String, String)> {
    let app = spawn_app_with(&[("SWITCHBOARD_RATE_TWILIO_VOICE_PER_MIN", "1000")]).await;
    let tw = app.twilio();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    let mut sid = || {
        n += 1;
        format!("CAREF{n:04}")
    };
    macro_rules! keep {
        ($what:expr, $doc:expr) => {
            out.push(($what.to_string(), $doc))
        };
    }
    // Entry by role, and the menu's every branch.
    keep!(
        "entry: operational",
        tw.call(&sid(), CALLER, MAIN_LINE).await
    );
    keep!(
        "entry: onboarding",
        tw.call(&sid(), CALLER, ONBOARDING_LINE).await
    );
    keep!("entry: system", tw.call(&sid(), CALLER, SYSTEM_LINE).await);
    keep!(
        "entry: unknown",
        tw.call(&sid(), CALLER, "+15550109999").await
    );
    keep!(
        "entry: AI line (fallback person)",
        tw.call(&sid(), CALLER, "+15550100004").await
    );
    for (digits, what) in [
        ("1", "dial"),
        ("9", "voicemail"),
        ("*", "repeat"),
        ("7", "invalid"),
    ] {
        let s = sid();
        tw.call(&s, CALLER, MAIN_LINE).await;
        keep!(format!("menu: {what}"), tw.press(&s, 1, digits).await);
    }
    let s = sid();
    tw.call(&s, CALLER, MAIN_LINE).await;
    keep!("menu: retries used up", tw.press(&s, 3, "7").await);
    for status in ["completed", "no-answer"] {
        let s = sid();
        tw.call(&s, CALLER, MAIN_LINE).await;
        tw.press(&s, 1, "1").await;
        let doc = tw
            .twiml(
                "/twilio/voice/dial-result",
                &[
                    ("CallSid", &s),
                    ("To", MAIN_LINE),
                    ("DialCallStatus", status),
                ],
            )
            .await;
        keep!(format!("dial result: {status}"), doc);
    }
    let s = sid();
    tw.call(&s, CALLER, MAIN_LINE).await;
    keep!(
        "voicemail done",
        tw.twiml(
            "/twilio/voice/voicemail-done",
            &[
                ("CallSid", &s),
                ("To", MAIN_LINE),
                ("RecordingSid", "RE1"),
                ("RecordingDuration", "9")
            ]
        )
        .await
    );
    keep!(
        "callback: recording status",
        tw.twiml(
            "/twilio/voice/recording",
            &[
                ("CallSid", &s),
                ("To", MAIN_LINE),
                ("RecordingSid", "RE1"),
                ("RecordingStatus", "completed"),
                ("RecordingDuration", "9")
            ]
        )
        .await
    );
    keep!(
        "callback: menu for a system number",
        tw.twiml(
            "/twilio/voice/menu?attempt=1",
            &[("CallSid", &sid()), ("To", SYSTEM_LINE), ("Digits", "1")]
        )
        .await
    );
    // Recording consent, both modes, with the dialled leg recorded.
    app.change_call_flow(|f| f["recording"]["mode"] = json!("announce"))
        .await;
    let s = sid();
    keep!(
        "entry: recording announced",
        tw.call(&s, CALLER, MAIN_LINE).await
    );
    keep!("menu: dial, recorded", tw.press(&s, 1, "1").await);
    app.change_call_flow(|f| f["recording"]["mode"] = json!("opt_in"))
        .await;
    let s = sid();
    keep!(
        "entry: recording opt-in",
        tw.call(&s, CALLER, MAIN_LINE).await
    );
    keep!(
        "consent: declined",
        tw.twiml(
            "/twilio/voice/consent",
            &[("CallSid", &s), ("To", MAIN_LINE), ("Digits", "2")]
        )
        .await
    );
    // A long voicemail, a message option and a SIP agent option.
    app.db()
        .conn()
        .unwrap()
        .execute(
            "UPDATE agents SET sip_uri = 'sip:frontdesk@agents.example.test'",
            [],
        )
        .unwrap();
    let agent_id: i64 = app
        .db()
        .conn()
        .unwrap()
        .query_row("SELECT id FROM agents LIMIT 1", [], |r| r.get(0))
        .unwrap();
    app.change_call_flow(|f| {
        f["recording"]["mode"] = json!("off");
        f["voicemail"]["maxLengthSecs"] = json!(600);
        let menu = f["menu"].as_array_mut().unwrap();
        menu.push(json!({ "digit": "5", "label": "our hours", "action": { "type": "message", "text": "We are open 9 to 5." } }));
        menu.push(json!({ "digit": "6", "label": "our assistant", "action": { "type": "agent", "agentId": agent_id } }));
    })
    .await;
    for (digits, what) in [
        ("5", "message"),
        ("6", "agent over SIP"),
        ("9", "voicemail, 600 s"),
    ] {
        let s = sid();
        tw.call(&s, CALLER, MAIN_LINE).await;
        keep!(format!("menu: {what}"), tw.press(&s, 1, digits).await);
    }
    keep!(
        "entry: AI line (agent over SIP)",
        tw.call(&sid(), CALLER, "+15550100004").await
    );
    // After hours: closed every day, each after-hours action.
    for action in ["voicemail", "message", "dial"] {
        app.change_call_flow(|f| {
            f["hours"] = json!({ "weekly": {}, "holidays": [] });
            f["afterHours"]["action"] = json!(action);
            f["afterHours"]["targets"] = json!(["+15550100102"]);
        })
        .await;
        keep!(
            format!("entry: after hours, {action}"),
            tw.call(&sid(), CALLER, MAIN_LINE).await
        );
    }
    // Screening: the whisper to whoever answers, then their answer (SPEC §3.8).
    let s = sid();
    tw.call(&s, CALLER, MAIN_LINE).await;
    tw.press(&s, 1, "1").await;
    let leg = |digits: Option<&'static str>, path: &'static str| {
        let (tw, s) = (app.twilio(), s.clone());
        async move {
            let mut params = vec![
                ("CallSid", "CAREFLEG"),
                ("ParentCallSid", s.as_str()),
                ("To", "+15550100101"),
            ];
            if let Some(d) = digits {
                params.push(("Digits", d));
            }
            tw.twiml(path, &params).await
        }
    };
    keep!(
        "screen: the whisper",
        leg(None, "/twilio/voice/screen?screen=1&option=1").await
    );
    keep!(
        "screen: pressed 1",
        leg(Some("1"), "/twilio/voice/screen/answer?screen=1&option=1").await
    );
    keep!(
        "screen: silence",
        leg(None, "/twilio/voice/screen/answer?screen=1&option=1").await
    );
    // Sequential, showing the business number, in a Polly voice.
    app.change_call_flow(|f| {
        f["hours"] = serde_json::Value::Null;
        f["speech"] = json!({ "voice": "Polly.Joanna-Neural", "language": "en-US" });
        f["menu"][0]["action"] = json!({
            "type": "dial", "targets": ["+15550100101", "+15550100102"],
            "strategy": "sequential", "callerId": "business",
        });
    })
    .await;
    let s = sid();
    keep!("entry: a Polly voice", tw.call(&s, CALLER, MAIN_LINE).await);
    keep!(
        "menu: sequential dial, business caller ID",
        tw.press(&s, 1, "1").await
    );
    keep!(
        "dial result: the next target",
        tw.twiml(
            "/twilio/voice/dial-result?screen=1&option=1&position=0",
            &[
                ("CallSid", &s),
                ("To", MAIN_LINE),
                ("DialCallStatus", "no-answer")
            ]
        )
        .await
    );
    // A blocked caller.
    let (c, csrf) = app.owner().await;
    app.post_json(
        &c,
        &csrf,
        "/api/blocklist",
        Some(&json!({ "number": "+14155550166" })),
    )
    .await;
    keep!(
        "entry: a blocked caller",
        tw.call(&sid(), "+14155550166", MAIN_LINE).await
    );
    // A caller over the per-caller limit.
    let limited = spawn_app_with(&[("SWITCHBOARD_RATE_TWILIO_VOICE_PER_MIN", "1")]).await;
    let ltw = limited.twilio();
    ltw.call("CAREFL1", CALLER, MAIN_LINE).await;
    keep!(
        "entry: caller over the rate limit",
        ltw.call("CAREFL2", CALLER, MAIN_LINE).await
    );
    let mut seen = BTreeSet::new();
    out.retain(|(_, doc)| seen.insert(doc.clone()));
    out
}

#[tokio::test]
async fn every_twiml_document_the_appliance_answers_is_one_twilio_documents() {
    let docs = documents().await;
    let mut failures = Vec::new();
    for (what, doc) in &docs {
        eprintln!("{what}: {doc}");
        for problem in check(doc) {
            failures.push(format!("{what}: {problem}\n  {doc}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        docs.len() >= 24,
        "only {} distinct documents were collected",
        docs.len()
    );
}

#[test]
fn the_reference_check_refuses_what_twilio_would() {
    assert!(
        check(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>"#).is_empty()
    );
    for (bad, why) in [
        (
            r#"<Response><Dial timeout="2"><Number>+1</Number></Dial></Response>"#,
            "timeout below 5",
        ),
        (
            r#"<Response><Dial record="yes"><Number>+1</Number></Dial></Response>"#,
            "record value",
        ),
        (
            r#"<Response><Say voice="Joanna">Hi</Say></Response>"#,
            "a voice without its provider",
        ),
        (
            r#"<Response><Say language="english">Hi</Say></Response>"#,
            "a language that is not a tag",
        ),
        (
            r#"<Response><Dial callerId="Demo Plumbing"><Number>+15550100101</Number></Dial></Response>"#,
            "a caller ID that is not a number",
        ),
        (
            r#"<Response><Reject reason="spam"/></Response>"#,
            "an undocumented reject reason",
        ),
        (
            r#"<Response><Gather><Dial/></Gather></Response>"#,
            "Dial inside Gather",
        ),
        (
            r#"<Response><Record maxLength="ten"/></Response>"#,
            "maxLength not a number",
        ),
        (
            r#"<Response><Record transcribe="yes"/></Response>"#,
            "transcribe not a bool",
        ),
        (
            r#"<Response><Play loop="1">x</Play><Sms>hi</Sms></Response>"#,
            "Sms is not a voice verb here",
        ),
        (r#"<Response><Say/></Response>"#, "empty Say"),
        (
            r#"<Response><Hangup reason="x"/></Response>"#,
            "unknown attribute",
        ),
        (r#"<Say>hi</Say>"#, "root"),
    ] {
        assert!(!check(bad).is_empty(), "{why}: {bad}");
    }
}
