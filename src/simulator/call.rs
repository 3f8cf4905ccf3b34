//! One whole inbound call, played as Twilio plays it: the Voice URL first, then wherever
//! the TwiML sends the call (a key or a timeout for `<Gather>`, the chosen result for
//! `<Dial>`, a recording for `<Record>`), then the recording, transcription and status
//! callbacks.

use super::twiml::{self, Verb};
use super::{new_sid, Hop, SimError, Simulator};
use crate::domain::webhook::TwilioRoute;

/// How a `<Dial>` ends (Twilio's `DialCallStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialOutcome {
    Completed,
    Busy,
    NoAnswer,
    Failed,
}

impl DialOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DialOutcome::Completed => "completed",
            DialOutcome::Busy => "busy",
            DialOutcome::NoAnswer => "no-answer",
            DialOutcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<DialOutcome, String> {
        match s {
            "completed" => Ok(DialOutcome::Completed),
            "busy" => Ok(DialOutcome::Busy),
            "no-answer" => Ok(DialOutcome::NoAnswer),
            "failed" => Ok(DialOutcome::Failed),
            other => Err(format!(
                "\"{other}\" is not a dial result: use completed, busy, no-answer or failed"
            )),
        }
    }
}

/// What the person who answers a screened `<Dial>` does at the whisper (SPEC §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenAnswer {
    /// Presses 1: the call is theirs.
    Accept,
    /// Presses 2: lets it go.
    Decline,
    /// Presses nothing: a carrier voicemail or a machine picked up.
    Silent,
}

impl ScreenAnswer {
    pub fn as_str(self) -> &'static str {
        match self {
            ScreenAnswer::Accept => "accept",
            ScreenAnswer::Decline => "decline",
            ScreenAnswer::Silent => "silent",
        }
    }

    pub fn parse(s: &str) -> Result<ScreenAnswer, String> {
        match s.trim() {
            "accept" => Ok(ScreenAnswer::Accept),
            "decline" => Ok(ScreenAnswer::Decline),
            "silent" => Ok(ScreenAnswer::Silent),
            other => Err(format!(
                "\"{other}\" is not a screening answer: use accept, decline or silent"
            )),
        }
    }
}

/// What the caller does.
#[derive(Debug, Clone)]
pub struct CallPlan {
    pub to: String,
    pub from: String,
    /// The call's SID; a new random one when `None`.
    pub call_sid: Option<String>,
    /// What to press at each `<Gather>`, in order; an empty entry (or running out) lets
    /// that one time out.
    pub digits: Vec<String>,
    /// How every `<Dial>` ends.
    pub dial: DialOutcome,
    /// At each screened `<Dial>` in turn, a phone answers and its person does this (the
    /// last one repeats); empty: a screened dial answered (`dial` completed) is accepted.
    pub screen: Vec<ScreenAnswer>,
    /// What the caller says at the beep; `None` hangs up when asked to leave a message.
    pub voicemail: Option<String>,
    /// The caller hangs up after this many seconds of call time.
    pub hangup_after: Option<u32>,
    /// Seconds the caller talks once a `<Dial>` is answered.
    pub talk_secs: u32,
}

impl CallPlan {
    pub fn new(from: &str, to: &str) -> CallPlan {
        CallPlan {
            to: to.into(),
            from: from.into(),
            call_sid: None,
            digits: Vec::new(),
            dial: DialOutcome::NoAnswer,
            screen: Vec::new(),
            voicemail: None,
            hangup_after: None,
            talk_secs: 30,
        }
    }
}

/// What happened on a call.
#[derive(Debug, Clone)]
pub struct CallReport {
    pub call_sid: String,
    pub hops: Vec<Hop>,
    /// Simulated call time, in seconds.
    pub duration_secs: u32,
    /// The final `CallStatus` sent in the status callback.
    pub status: &'static str,
    /// Every hop that was not a 200, or whose TwiML could not be read, in words.
    pub errors: Vec<String>,
}

/// Hops a call may take before the simulator calls it a loop.
const MAX_HOPS: usize = 40;
/// About how long it takes to say a word, in seconds.
const SECS_PER_WORD: f64 = 0.4;

fn speech_secs(text: &str) -> f64 {
    text.split_whitespace().count() as f64 * SECS_PER_WORD
}

/// A request still to make: the path and what it adds to the call's own parameters.
struct Next {
    path: String,
    extra: Vec<(&'static str, String)>,
}

/// The relative part of a TwiML URL: Twilio resolves relative URLs against the request's
/// URL; an absolute one on the appliance's own base is sent to the target instead.
fn local_path(url: &str, signed_base: &str) -> Option<String> {
    if url.starts_with('/') {
        return Some(url.to_string());
    }
    url.strip_prefix(signed_base.trim_end_matches('/'))
        .filter(|rest| rest.starts_with('/'))
        .map(str::to_string)
}

/// A screened dial that a phone answered: the leg to play before the dial's end.
struct Screening {
    url: String,
    target: String,
    action: Option<String>,
    answer: ScreenAnswer,
}

/// What a verb leaves the call to do.
enum Flow {
    /// Play the answering leg of a screened dial, then post its action.
    Screen(Screening),
    /// Go on with the document's next verb.
    Continue,
    /// Request this URL; the rest of the document is not played.
    Request(Next),
    /// The call is over.
    End,
}

/// A call in progress: simulated time, what is left to press, callbacks due at the end.
struct Caller<'a> {
    plan: &'a CallPlan,
    /// Screened dials played so far (which of `plan.screen` comes next).
    screened: usize,
    signed_base: &'a str,
    account_sid: &'a str,
    clock: f64,
    digits: std::slice::Iter<'a, String>,
    callbacks: Vec<Next>,
    rejected: bool,
    /// What happened on the current hop, in words.
    said: Vec<String>,
}

impl Caller<'_> {
    fn hung_up(&self) -> bool {
        self.plan
            .hangup_after
            .is_some_and(|h| self.clock >= f64::from(h))
    }

    fn path(&self, url: Option<&str>) -> Option<String> {
        url.and_then(|u| local_path(u, self.signed_base))
    }

    /// Plays one verb of the answer to `from` (the path that answered it).
    fn act(&mut self, verb: &Verb, from: &str) -> Flow {
        match verb {
            Verb::Say(text) => self.clock += speech_secs(text),
            Verb::Play(_) => self.clock += 5.0,
            Verb::Pause(secs) => self.clock += f64::from(*secs),
            Verb::Message(_) | Verb::Other(_) | Verb::Number { .. } => {}
            Verb::Gather {
                action,
                timeout,
                action_on_empty_result,
                prompt,
            } => {
                if let Some(flow) =
                    self.gather(action, *timeout, *action_on_empty_result, prompt, from)
                {
                    return flow;
                }
            }
            Verb::Dial {
                action,
                timeout,
                targets,
                screen,
                ..
            } => {
                if let Some(flow) = self.dial(action, *timeout, targets, screen) {
                    return flow;
                }
            }
            Verb::Record {
                action,
                max_length,
                recording_status_callback,
                transcribe_callback,
            } => {
                return self.record(
                    action,
                    *max_length,
                    recording_status_callback,
                    transcribe_callback,
                )
            }
            Verb::Redirect(url) => return self.redirect(url),
            Verb::Hangup => {
                self.said.push("Twilio hangs up".into());
                return Flow::End;
            }
            Verb::Reject => {
                self.said
                    .push("Twilio rejects the call before answering".into());
                self.rejected = true;
                return Flow::End;
            }
        }
        if self.hung_up() {
            Flow::End
        } else {
            Flow::Continue
        }
    }

    /// A menu: the caller presses the planned key, or nothing until the timeout.
    fn gather(
        &mut self,
        action: &Option<String>,
        timeout: u32,
        action_on_empty_result: bool,
        prompt: &[String],
        from: &str,
    ) -> Option<Flow> {
        self.clock += prompt.iter().map(|p| speech_secs(p)).sum::<f64>();
        // Without an action Twilio posts the keys back to the same URL.
        let path = self
            .path(action.as_deref())
            .unwrap_or_else(|| from.to_string());
        if let Some(d) = self.digits.next().filter(|d| !d.is_empty()) {
            self.clock += 1.0;
            self.said.push(format!("the caller presses {d}"));
            return Some(Flow::Request(Next {
                path,
                extra: vec![("Digits", d.clone())],
            }));
        }
        self.clock += f64::from(timeout);
        if self.hung_up() {
            return Some(Flow::End);
        }
        self.said
            .push(format!("the caller presses nothing for {timeout} s"));
        action_on_empty_result.then_some(Flow::Request(Next {
            path,
            extra: vec![],
        }))
    }

    /// A dial: a screened leg to play when a phone answers, else the planned outcome.
    fn dial(
        &mut self,
        action: &Option<String>,
        timeout: u32,
        targets: &[String],
        screen: &Option<String>,
    ) -> Option<Flow> {
        let answer = self
            .plan
            .screen
            .get(self.screened)
            .or(self.plan.screen.last());
        let answered = answer.is_some() || self.plan.dial == DialOutcome::Completed;
        if let (Some(url), true) = (screen.as_deref().and_then(|u| self.path(Some(u))), answered) {
            self.screened += 1;
            self.clock += 5.0;
            let target = targets.first().cloned().unwrap_or_default();
            self.said.push(format!("{target} answers"));
            return Some(Flow::Screen(Screening {
                url,
                target,
                action: self.path(action.as_deref()),
                answer: answer.copied().unwrap_or(ScreenAnswer::Accept),
            }));
        }
        let dial = self.plan.dial;
        let (wait, talked) = match dial {
            DialOutcome::Completed => (5.0, self.plan.talk_secs),
            DialOutcome::Busy | DialOutcome::Failed => (2.0, 0),
            DialOutcome::NoAnswer => (f64::from(timeout), 0),
        };
        self.clock += wait + f64::from(talked);
        if self.hung_up() {
            return Some(Flow::End);
        }
        self.said
            .push(format!("the dialled party: {}", dial.as_str()));
        let path = self.path(action.as_deref())?;
        Some(Flow::Request(Next {
            path,
            extra: vec![
                ("DialCallStatus", dial.as_str().into()),
                ("DialCallSid", new_sid("CA")),
                ("DialCallDuration", talked.to_string()),
            ],
        }))
    }

    /// A redirect: followed when it points back here; elsewhere, Twilio leaves.
    fn redirect(&mut self, url: &str) -> Flow {
        match local_path(url, self.signed_base) {
            Some(path) => {
                self.said
                    .push(format!("Twilio follows the redirect to {path}"));
                Flow::Request(Next {
                    path,
                    extra: vec![],
                })
            }
            None => {
                self.said.push(format!(
                    "a redirect to {url}, which is not this appliance: Twilio leaves"
                ));
                Flow::End
            }
        }
    }

    /// The caller leaves the planned voicemail (or hangs up at the beep); the recording
    /// and transcript callbacks are due once the call ends.
    fn record(
        &mut self,
        action: &Option<String>,
        max_length: u32,
        recording_status_callback: &Option<String>,
        transcribe_callback: &Option<String>,
    ) -> Flow {
        let Some(text) = &self.plan.voicemail else {
            self.clock += 1.0;
            self.said.push("the caller hangs up at the beep".into());
            return Flow::End;
        };
        // Speech plus the moment before the caller presses a key or hangs up.
        let mut secs = speech_secs(text) + 2.0;
        if let Some(h) = self.plan.hangup_after {
            secs = secs.min((f64::from(h) - self.clock).max(1.0));
        }
        let secs = (secs.round() as u32).clamp(1, max_length.max(1));
        self.clock += f64::from(secs);
        self.said.push(format!(
            "the caller leaves a {secs} s voicemail: \"{text}\""
        ));
        let rec = new_sid("RE");
        let recording = vec![
            ("RecordingSid", rec.clone()),
            (
                "RecordingUrl",
                format!(
                    "https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{rec}",
                    self.account_sid
                ),
            ),
            ("RecordingDuration", secs.to_string()),
        ];
        if let Some(path) = self.path(recording_status_callback.as_deref()) {
            let mut extra = recording.clone();
            extra.extend([
                ("RecordingStatus", "completed".into()),
                ("RecordingChannels", "1".into()),
                ("RecordingSource", "RecordVerb".into()),
            ]);
            self.callbacks.push(Next { path, extra });
        }
        // Twilio transcribes recordings of 2 to 120 seconds only.
        let transcribable = (2..=120).contains(&secs);
        if let Some(path) = self
            .path(transcribe_callback.as_deref())
            .filter(|_| transcribable)
        {
            let mut extra = recording.clone();
            extra.extend([
                ("TranscriptionSid", new_sid("TR")),
                ("TranscriptionText", text.clone()),
                ("TranscriptionStatus", "completed".into()),
            ]);
            self.callbacks.push(Next { path, extra });
        }
        match self.path(action.as_deref()) {
            Some(path) => {
                let mut extra = recording;
                extra.push(("Digits", "hangup".into()));
                Flow::Request(Next { path, extra })
            }
            None => Flow::Continue,
        }
    }
}

/// Plays a hop's answer: the next request, or a screened leg to play first (neither
/// when the call is over), with what happened written on the hop.
fn play(
    caller: &mut Caller<'_>,
    hop: &mut Hop,
    errors: &mut Vec<String>,
) -> (Option<Next>, Option<Screening>) {
    if hop.answer.status != 200 {
        hop.then = format!(
            "Twilio plays its application-error message and hangs up (HTTP {})",
            hop.answer.status
        );
        errors.push(format!("{} answered HTTP {}", hop.path, hop.answer.status));
        return (None, None);
    }
    let verbs = match twiml::parse(&hop.answer.body) {
        Ok(verbs) => verbs,
        Err(e) => {
            hop.then = format!("Twilio cannot read this TwiML ({e}) and hangs up");
            errors.push(format!("{}: {e}", hop.path));
            return (None, None);
        }
    };
    let (mut next, mut screening, mut ended) = (None, None, false);
    for verb in &verbs {
        match caller.act(verb, &hop.path) {
            Flow::Continue => continue,
            Flow::Request(r) => next = Some(r),
            Flow::Screen(s) => screening = Some(s),
            Flow::End => ended = true,
        }
        break;
    }
    if caller.hung_up() {
        next = None;
        caller.said.push(format!(
            "the caller hangs up after {} s",
            caller.plan.hangup_after.unwrap_or_default()
        ));
    } else if next.is_none() && screening.is_none() && !ended {
        caller.said.push("the TwiML ends: Twilio hangs up".into());
    }
    hop.verbs = verbs;
    hop.then = std::mem::take(&mut caller.said).join("; ");
    (next, screening)
}

/// The call is over: its duration and status, and the callbacks Twilio sends now (the
/// recording, the call's end, a transcript later).
fn ending(caller: &mut Caller<'_>) -> (u32, &'static str, Vec<Next>) {
    let plan = caller.plan;
    let duration_secs = if caller.rejected {
        0
    } else {
        let clock = match plan.hangup_after {
            Some(h) => caller.clock.min(f64::from(h)),
            None => caller.clock,
        };
        clock.round() as u32
    };
    let status = if caller.rejected { "busy" } else { "completed" };
    let mut callbacks = std::mem::take(&mut caller.callbacks);
    let transcript = callbacks
        .iter()
        .position(|c| c.path.starts_with(TwilioRoute::Transcription.path()))
        .map(|i| callbacks.remove(i));
    let end = Next {
        path: TwilioRoute::VoiceStatus.path().into(),
        extra: vec![
            ("CallStatus", status.into()),
            ("CallDuration", duration_secs.to_string()),
        ],
    };
    callbacks.extend([end].into_iter().chain(transcript));
    (duration_secs, status, callbacks)
}

impl Simulator {
    /// Plays a call to the end; `on_hop` sees each hop as it happens.
    pub async fn call(
        &self,
        plan: &CallPlan,
        mut on_hop: impl FnMut(&Hop),
    ) -> Result<CallReport, SimError> {
        let call_sid = plan.call_sid.clone().unwrap_or_else(|| new_sid("CA"));
        let mut caller = Caller {
            plan,
            screened: 0,
            signed_base: &self.target.signed_base,
            account_sid: self.account()?.0,
            clock: 0.0,
            digits: plan.digits.iter(),
            callbacks: Vec::new(),
            rejected: false,
            said: Vec::new(),
        };
        let mut hops = Vec::new();
        let mut errors = Vec::new();
        let mut next = Some(Next {
            path: TwilioRoute::Voice.path().into(),
            extra: vec![("CallStatus", "ringing".into())],
        });
        let mut screening: Option<Screening>;
        while let Some(request) = next.take() {
            if hops.len() >= MAX_HOPS {
                errors.push(format!(
                    "the call went through {MAX_HOPS} webhooks without ending: a loop?"
                ));
                break;
            }
            let mut hop = self
                .call_hop(plan, &call_sid, &request, "in-progress")
                .await?;
            (next, screening) = play(&mut caller, &mut hop, &mut errors);
            on_hop(&hop);
            hops.push(hop);
            if let Some(s) = screening.take() {
                next = self
                    .screen_leg(plan, &call_sid, s, &mut caller, &mut |h: Hop| {
                        on_hop(&h);
                        hops.push(h);
                    })
                    .await?;
            }
        }

        let (duration_secs, status, callbacks) = ending(&mut caller);
        for request in callbacks {
            let mut hop = self
                .call_hop(plan, &call_sid, &request, "completed")
                .await?;
            if hop.answer.status != 200 {
                hop.then = format!("Twilio logs error 11200 (HTTP {})", hop.answer.status);
                errors.push(format!("{} answered HTTP {}", hop.path, hop.answer.status));
            }
            on_hop(&hop);
            hops.push(hop);
        }
        Ok(CallReport {
            call_sid,
            hops,
            duration_secs,
            status,
            errors,
        })
    }

    /// Plays the answering leg of a screened dial as Twilio does: the leg's request for
    /// the `<Number url>` (its own CallSid, the caller's as ParentCallSid), the whisper's
    /// `<Gather>` answered by a key or by silence, then the dial's action with the status
    /// Twilio reports (`completed` also for a leg that hung up in the whisper).
    async fn screen_leg(
        &self,
        plan: &CallPlan,
        call_sid: &str,
        s: Screening,
        caller: &mut Caller<'_>,
        record: &mut impl FnMut(Hop),
    ) -> Result<Option<Next>, SimError> {
        let leg_sid = new_sid("CA");
        let base: Vec<(&str, String)> = vec![
            ("CallSid", leg_sid.clone()),
            ("ParentCallSid", call_sid.to_string()),
            ("From", plan.from.clone()),
            ("To", s.target.clone()),
            ("Direction", "outbound-dial".into()),
            ("CallStatus", "in-progress".into()),
            ("ApiVersion", "2010-04-01".into()),
        ];
        let target = s.target.clone();
        let post = |path: String, extra: Vec<(&'static str, String)>| {
            let mut params = base.clone();
            let target = target.clone();
            params.extend(extra.iter().cloned());
            async move {
                let refs: Vec<(&str, &str)> =
                    params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let answer = self.twilio(&path, &refs).await?;
                let verbs = twiml::parse(&answer.body).unwrap_or_default();
                let mut shown = vec![
                    ("ParentCallSid".to_string(), call_sid.to_string()),
                    ("To".to_string(), target),
                ];
                shown.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
                Ok::<_, SimError>(Hop {
                    path,
                    shown,
                    answer,
                    verbs,
                    then: String::new(),
                })
            }
        };
        let mut hop = post(s.url.clone(), vec![]).await?;
        let gather = hop.verbs.iter().find_map(|v| match v {
            Verb::Gather {
                action,
                timeout,
                prompt,
                ..
            } => Some((action.clone(), *timeout, prompt.clone())),
            _ => None,
        });
        let Some((action, timeout, prompt)) = gather.filter(|_| hop.answer.status == 200) else {
            hop.then = "no whisper to answer: that phone hangs up".into();
            record(hop);
            return Ok(self.dial_end(caller, &s, "completed", 0));
        };
        caller.clock += prompt.iter().map(|p| speech_secs(p)).sum::<f64>();
        let (extra, said) = match s.answer {
            ScreenAnswer::Accept => (vec![("Digits", "1".to_string())], "the person presses 1"),
            ScreenAnswer::Decline => (vec![("Digits", "2".to_string())], "the person presses 2"),
            ScreenAnswer::Silent => {
                caller.clock += f64::from(timeout);
                (
                    vec![],
                    "nobody presses a key: a voicemail greeting is playing",
                )
            }
        };
        hop.then = said.into();
        let path = action
            .and_then(|a| caller.path(Some(&a)))
            .unwrap_or_else(|| s.url.clone());
        record(hop);
        let mut hop = post(path, extra).await?;
        let bridged = hop.answer.status == 200
            && !hop
                .verbs
                .iter()
                .any(|v| matches!(v, Verb::Hangup | Verb::Reject));
        let talked = if bridged { plan.talk_secs } else { 0 };
        hop.then = if bridged {
            format!("the legs are bridged; they talk for {talked} s")
        } else {
            "that phone hangs up; the caller is still waiting".into()
        };
        caller.clock += f64::from(talked);
        record(hop);
        Ok(self.dial_end(caller, &s, "completed", talked))
    }

    /// The dial's action request, unless the caller has hung up meanwhile.
    fn dial_end(
        &self,
        caller: &Caller<'_>,
        s: &Screening,
        status: &str,
        talked: u32,
    ) -> Option<Next> {
        if caller.hung_up() {
            return None;
        }
        s.action.clone().map(|path| Next {
            path,
            extra: vec![
                ("DialCallStatus", status.to_string()),
                ("DialCallSid", new_sid("CA")),
                ("DialCallDuration", talked.to_string()),
            ],
        })
    }

    async fn call_hop(
        &self,
        plan: &CallPlan,
        call_sid: &str,
        request: &Next,
        call_status: &str,
    ) -> Result<Hop, SimError> {
        let mut params: Vec<(&str, &str)> = vec![
            ("CallSid", call_sid),
            ("From", &plan.from),
            ("To", &plan.to),
            ("Caller", &plan.from),
            ("Called", &plan.to),
            ("Direction", "inbound"),
            ("ApiVersion", "2010-04-01"),
        ];
        if !request.extra.iter().any(|(k, _)| *k == "CallStatus") {
            params.push(("CallStatus", call_status));
        }
        for (k, v) in &request.extra {
            params.push((k, v));
        }
        let answer = self.twilio(&request.path, &params).await?;
        Ok(Hop {
            path: request.path.clone(),
            shown: request
                .extra
                .iter()
                .filter(|(k, _)| !matches!(*k, "RecordingUrl" | "DialCallSid"))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            answer,
            verbs: Vec::new(),
            then: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_urls_resolve_to_paths_on_the_appliance() {
        let base = "https://phones.example.test";
        assert_eq!(
            local_path("/twilio/voice/menu?attempt=2", base).as_deref(),
            Some("/twilio/voice/menu?attempt=2")
        );
        assert_eq!(
            local_path("https://phones.example.test/twilio/voice", base).as_deref(),
            Some("/twilio/voice")
        );
        assert_eq!(local_path("https://elsewhere.example/x", base), None);
        assert_eq!(local_path("https://phones.example.testing/x", base), None);
    }

    #[test]
    fn dial_outcomes_round_trip_and_a_bad_one_says_what_is_allowed() {
        for o in [
            DialOutcome::Completed,
            DialOutcome::Busy,
            DialOutcome::NoAnswer,
            DialOutcome::Failed,
        ] {
            assert_eq!(DialOutcome::parse(o.as_str()), Ok(o));
        }
        assert!(DialOutcome::parse("answered")
            .unwrap_err()
            .contains("no-answer"));
    }
}
