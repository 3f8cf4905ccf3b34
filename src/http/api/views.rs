//! What the API shows of the stored rows (SPEC §1, §7). The rows in `db/` are what a query
//! reads; these views are the JSON contract the dashboard and scripts rely on. A column
//! added to a table stays out of the API until a view names it, and a view can be renamed
//! or reshaped without touching a query. Views borrow from their row: building one copies
//! nothing.

use crate::db::{
    agents, audit, calls, flags, leads, ledger, messages, numbers, onboarding, orgs, sagas, tokens,
    users, voicemails,
};
use crate::domain::state::{
    CallStatus, Consent, Direction, MessageKind, MessageStatus, TextbackState,
};
use crate::domain::textback::Outcome;
use crate::domain::{NumberHandler, NumberOrigin, NumberRole, NumberStatus, UserRole};
use serde::Serialize;
use serde_json::Value;

/// Views of a list of rows, in the same order.
pub fn all<'a, R, V: From<&'a R>>(rows: &'a [R]) -> Vec<V> {
    rows.iter().map(V::from).collect()
}

/// A call, as the Calls page and `GET /api/calls/{id}` show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call<'a> {
    id: i64,
    org_id: Option<i64>,
    provider: &'a str,
    call_sid: Option<&'a str>,
    vapi_call_id: Option<&'a str>,
    direction: Direction,
    from_number: Option<&'a str>,
    to_number: Option<&'a str>,
    phone_number_id: Option<i64>,
    number_role: Option<NumberRole>,
    agent_id: Option<i64>,
    status: CallStatus,
    outcome: Option<Outcome>,
    started_at: &'a str,
    answered_at: Option<&'a str>,
    ended_at: Option<&'a str>,
    duration_seconds: Option<i64>,
    menu_choices: &'a str,
    consent_outcome: Consent,
    consent_at: Option<&'a str>,
    ended_reason: Option<&'a str>,
    transcript: Option<&'a str>,
    summary: Option<&'a str>,
    recording_url: Option<&'a str>,
    cost: Option<f64>,
    textback_state: Option<TextbackState>,
    /// Twilio's caller-ID verification (`TN-Validation-Passed-A`, …).
    stir_verstat: Option<&'a str>,
    /// When a scheduled text-back goes out, and whether it waits for quiet hours.
    textback_due_at: Option<&'a str>,
    textback_deferred: bool,
}

impl<'a> From<&'a calls::Call> for Call<'a> {
    fn from(c: &'a calls::Call) -> Self {
        Call {
            id: c.id,
            org_id: c.org_id,
            provider: &c.provider,
            call_sid: c.call_sid.as_deref(),
            vapi_call_id: c.vapi_call_id.as_deref(),
            direction: c.direction,
            from_number: c.from_number.as_deref(),
            to_number: c.to_number.as_deref(),
            phone_number_id: c.phone_number_id,
            number_role: c.number_role,
            agent_id: c.agent_id,
            status: c.status,
            outcome: c.outcome,
            started_at: &c.started_at,
            answered_at: c.answered_at.as_deref(),
            ended_at: c.ended_at.as_deref(),
            duration_seconds: c.duration_seconds,
            menu_choices: &c.menu_choices,
            consent_outcome: c.consent_outcome,
            consent_at: c.consent_at.as_deref(),
            ended_reason: c.ended_reason.as_deref(),
            transcript: c.transcript.as_deref(),
            summary: c.summary.as_deref(),
            recording_url: c.recording_url.as_deref(),
            cost: c.cost,
            textback_state: c.textback_state,
            stir_verstat: c.stir_verstat.as_deref(),
            textback_due_at: c.textback_due_at.as_deref(),
            textback_deferred: c.textback_deferred,
        }
    }
}

/// One entry of a call's timeline.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallEvent<'a> {
    id: i64,
    at: &'a str,
    kind: &'a str,
    detail: Option<&'a Value>,
}

impl<'a> From<&'a calls::CallEvent> for CallEvent<'a> {
    fn from(e: &'a calls::CallEvent) -> Self {
        CallEvent {
            id: e.id,
            at: &e.at,
            kind: &e.kind,
            detail: e.detail.as_ref(),
        }
    }
}

/// A text sent or received.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message<'a> {
    id: i64,
    sid: Option<&'a str>,
    direction: Direction,
    from_number: &'a str,
    to_number: &'a str,
    call_id: Option<i64>,
    lead_id: Option<i64>,
    body: &'a str,
    kind: MessageKind,
    status: MessageStatus,
    blocked_reason: Option<&'a str>,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    created_at: &'a str,
}

impl<'a> From<&'a messages::Message> for Message<'a> {
    fn from(m: &'a messages::Message) -> Self {
        Message {
            id: m.id,
            sid: m.sid.as_deref(),
            direction: m.direction,
            from_number: &m.from_number,
            to_number: &m.to_number,
            call_id: m.call_id,
            lead_id: m.lead_id,
            body: &m.body,
            kind: m.kind,
            status: m.status,
            blocked_reason: m.blocked_reason.as_deref(),
            error_code: m.error_code.as_deref(),
            error_message: m.error_message.as_deref(),
            created_at: &m.created_at,
        }
    }
}

/// A webhook as the ledger recorded it: which route, whether its signature held, what it
/// was answered.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook<'a> {
    id: i64,
    provider: &'a str,
    route: &'a str,
    signature: &'a str,
    http_status: i64,
    latency_ms: Option<f64>,
    error: Option<&'a str>,
    received_at: &'a str,
}

impl<'a> From<&'a ledger::Row> for Webhook<'a> {
    fn from(r: &'a ledger::Row) -> Self {
        Webhook {
            id: r.id,
            provider: &r.provider,
            route: &r.route,
            signature: &r.signature,
            http_status: r.http_status,
            latency_ms: r.latency_ms,
            error: r.error.as_deref(),
            received_at: &r.received_at,
        }
    }
}

/// A phone number with its role, handler and agent.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Number<'a> {
    id: i64,
    e164: &'a str,
    role: NumberRole,
    handler: NumberHandler,
    origin: NumberOrigin,
    status: NumberStatus,
    twilio_sid: Option<&'a str>,
    vapi_phone_number_id: Option<&'a str>,
    agent_id: Option<i64>,
    agent_name: Option<&'a str>,
    agent_assistant_id: Option<&'a str>,
    account_sid: Option<&'a str>,
    provider_account_id: Option<i64>,
    friendly_name: Option<&'a str>,
    description: Option<&'a str>,
    created_at: &'a str,
    released_at: Option<&'a str>,
}

impl<'a> From<&'a numbers::NumberRow> for Number<'a> {
    fn from(n: &'a numbers::NumberRow) -> Self {
        Number {
            id: n.id,
            e164: &n.e164,
            role: n.role,
            handler: n.handler,
            origin: n.origin,
            status: n.status,
            twilio_sid: n.twilio_sid.as_deref(),
            vapi_phone_number_id: n.vapi_phone_number_id.as_deref(),
            agent_id: n.agent_id,
            agent_name: n.agent_name.as_deref(),
            agent_assistant_id: n.agent_assistant_id.as_deref(),
            account_sid: n.account_sid.as_deref(),
            provider_account_id: n.provider_account_id,
            friendly_name: n.friendly_name.as_deref(),
            description: n.description.as_deref(),
            created_at: &n.created_at,
            released_at: n.released_at.as_deref(),
        }
    }
}

/// A voicemail in the inbox, with the caller and the number called.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Voicemail<'a> {
    id: i64,
    call_id: i64,
    recording_sid: Option<&'a str>,
    recording_url: Option<&'a str>,
    duration_seconds: Option<i64>,
    transcription_text: Option<&'a str>,
    transcription_status: crate::domain::state::TranscriptionStatus,
    handled: bool,
    handled_at: Option<&'a str>,
    owner_notified_at: Option<&'a str>,
    created_at: &'a str,
    from_number: Option<&'a str>,
    to_number: Option<&'a str>,
    /// The recording is kept on this appliance (SPEC §13).
    kept: bool,
    twilio_deleted_at: Option<&'a str>,
    /// The org's retention deleted the recording and transcript then.
    purged_at: Option<&'a str>,
}

impl<'a> From<&'a voicemails::Voicemail> for Voicemail<'a> {
    fn from(v: &'a voicemails::Voicemail) -> Self {
        Voicemail {
            id: v.id,
            call_id: v.call_id,
            recording_sid: v.recording_sid.as_deref(),
            recording_url: v.recording_url.as_deref(),
            duration_seconds: v.duration_seconds,
            transcription_text: v.transcription_text.as_deref(),
            transcription_status: v.transcription_status,
            handled: v.handled,
            handled_at: v.handled_at.as_deref(),
            owner_notified_at: v.owner_notified_at.as_deref(),
            created_at: &v.created_at,
            from_number: v.from_number.as_deref(),
            to_number: v.to_number.as_deref(),
            kept: v.kept,
            twilio_deleted_at: v.twilio_deleted_at.as_deref(),
            purged_at: v.purged_at.as_deref(),
        }
    }
}

/// A business's request to join by text, and what was decided.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingRequest<'a> {
    id: i64,
    sender: &'a str,
    state: &'a str,
    business_name: Option<&'a str>,
    onboarding_number: Option<&'a str>,
    approved_org_id: Option<i64>,
    decided_at: Option<&'a str>,
    created_at: &'a str,
    approved_line: Option<&'a str>,
}

impl<'a> From<&'a onboarding::Request> for OnboardingRequest<'a> {
    fn from(r: &'a onboarding::Request) -> Self {
        OnboardingRequest {
            id: r.id,
            sender: &r.sender,
            state: &r.state,
            business_name: r.business_name.as_deref(),
            onboarding_number: r.onboarding_number.as_deref(),
            approved_org_id: r.approved_org_id,
            decided_at: r.decided_at.as_deref(),
            created_at: &r.created_at,
            approved_line: r.approved_line.as_deref(),
        }
    }
}

/// A user of the dashboard; never their password hash.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User<'a> {
    id: i64,
    org_id: i64,
    email: &'a str,
    role: UserRole,
    is_system_admin: bool,
    created_at: &'a str,
    last_login_at: Option<&'a str>,
}

impl<'a> From<&'a users::User> for User<'a> {
    fn from(u: &'a users::User) -> Self {
        User {
            id: u.id,
            org_id: u.org_id,
            email: &u.email,
            role: u.role,
            is_system_admin: u.is_system_admin,
            created_at: &u.created_at,
            last_login_at: u.last_login_at.as_deref(),
        }
    }
}

/// What removing a user also ended.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    sessions: usize,
    tokens: usize,
}

impl From<&users::Removed> for Removed {
    fn from(r: &users::Removed) -> Self {
        Removed {
            sessions: r.sessions,
            tokens: r.tokens,
        }
    }
}

/// One line of the audit log.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry<'a> {
    id: i64,
    actor: &'a str,
    action: &'a str,
    target: Option<&'a str>,
    detail: Option<&'a Value>,
    ip: Option<&'a str>,
    at: &'a str,
}

impl<'a> From<&'a audit::AuditEntry> for AuditEntry<'a> {
    fn from(e: &'a audit::AuditEntry) -> Self {
        AuditEntry {
            id: e.id,
            actor: &e.actor,
            action: &e.action,
            target: e.target.as_deref(),
            detail: e.detail.as_ref(),
            ip: e.ip.as_deref(),
            at: &e.at,
        }
    }
}

/// An API token by its name and visible prefix; never the secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Token<'a> {
    id: i64,
    name: &'a str,
    prefix: &'a str,
    user_id: i64,
    created_at: &'a str,
    last_used_at: Option<&'a str>,
    revoked_at: Option<&'a str>,
}

impl<'a> From<&'a tokens::ApiToken> for Token<'a> {
    fn from(t: &'a tokens::ApiToken) -> Self {
        Token {
            id: t.id,
            name: &t.name,
            prefix: &t.prefix,
            user_id: t.user_id,
            created_at: &t.created_at,
            last_used_at: t.last_used_at.as_deref(),
            revoked_at: t.revoked_at.as_deref(),
        }
    }
}

/// A voice agent and the active numbers it answers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent<'a> {
    id: i64,
    name: &'a str,
    vapi_assistant_id: Option<&'a str>,
    sip_uri: Option<&'a str>,
    numbers: &'a [String],
    created_at: &'a str,
}

impl<'a> From<&'a agents::Agent> for Agent<'a> {
    fn from(a: &'a agents::Agent) -> Self {
        Agent {
            id: a.id,
            name: &a.name,
            vapi_assistant_id: a.vapi_assistant_id.as_deref(),
            sip_uri: a.sip_uri.as_deref(),
            numbers: &a.numbers,
            created_at: &a.created_at,
        }
    }
}

/// A feature flag as one organization sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flag<'a> {
    key: &'a str,
    name: &'a str,
    description: &'a str,
    enabled_globally: bool,
    rollout_percentage: u8,
    org_override: Option<bool>,
    /// Whether the flag is on for this organization, all rules applied.
    effective: bool,
}

impl<'a> Flag<'a> {
    pub fn new(f: &'a flags::FlagRow, effective: bool) -> Self {
        Flag {
            key: &f.key,
            name: &f.name,
            description: &f.description,
            enabled_globally: f.enabled_globally,
            rollout_percentage: f.rollout_percentage,
            org_override: f.org_override,
            effective,
        }
    }
}

/// A lead with its last message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lead<'a> {
    id: i64,
    customer_number: &'a str,
    business_number: Option<&'a str>,
    call_id: Option<i64>,
    source: &'a str,
    status: &'a str,
    summary: Option<&'a str>,
    message_count: i64,
    last_message: Option<&'a str>,
    last_message_at: Option<&'a str>,
    created_at: &'a str,
}

impl<'a> From<&'a leads::Lead> for Lead<'a> {
    fn from(l: &'a leads::Lead) -> Self {
        Lead {
            id: l.id,
            customer_number: &l.customer_number,
            business_number: l.business_number.as_deref(),
            call_id: l.call_id,
            source: &l.source,
            status: &l.status,
            summary: l.summary.as_deref(),
            message_count: l.message_count,
            last_message: l.last_message.as_deref(),
            last_message_at: l.last_message_at.as_deref(),
            created_at: &l.created_at,
        }
    }
}

/// An organization, as a system administrator lists them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Org<'a> {
    id: i64,
    name: &'a str,
    timezone: &'a str,
    is_demo: bool,
    created_at: &'a str,
}

impl<'a> From<&'a orgs::Org> for Org<'a> {
    fn from(o: &'a orgs::Org) -> Self {
        Org {
            id: o.id,
            name: &o.name,
            timezone: &o.timezone,
            is_demo: o.is_demo,
            created_at: &o.created_at,
        }
    }
}

/// The organization's own settings page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgSettings<'a> {
    id: i64,
    name: &'a str,
    timezone: &'a str,
    notification_number: Option<&'a str>,
    fallback_number: Option<&'a str>,
    fallback_message: Option<&'a str>,
    max_managed_numbers: i64,
    is_demo: bool,
    country: &'a str,
    delete_recordings_at_twilio: bool,
    recording_retention_days: Option<i64>,
}

impl<'a> From<&'a orgs::OrgSettings> for OrgSettings<'a> {
    fn from(s: &'a orgs::OrgSettings) -> Self {
        OrgSettings {
            id: s.id,
            name: &s.name,
            timezone: &s.timezone,
            notification_number: s.notification_number.as_deref(),
            fallback_number: s.fallback_number.as_deref(),
            fallback_message: s.fallback_message.as_deref(),
            max_managed_numbers: s.max_managed_numbers,
            is_demo: s.is_demo,
            country: &s.country,
            delete_recordings_at_twilio: s.delete_recordings_at_twilio,
            recording_retention_days: s.recording_retention_days,
        }
    }
}

/// The latest provisioning run of a number (SPEC §5): where it got and what failed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Saga<'a> {
    id: i64,
    state: &'a str,
    phone_number: &'a Value,
    error: Option<&'a Value>,
    created_at: &'a str,
}

impl<'a> From<&'a sagas::SagaRow> for Saga<'a> {
    fn from(s: &'a sagas::SagaRow) -> Self {
        Saga {
            id: s.id,
            state: &s.state,
            phone_number: &s.input["phoneNumber"],
            error: s.error.as_ref(),
            created_at: &s.created_at,
        }
    }
}

/// One step of a run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SagaStep<'a> {
    seq: i64,
    name: &'a str,
    phase: &'a str,
    state: &'a str,
    error: Option<&'a str>,
    started_at: &'a str,
    finished_at: Option<&'a str>,
}

impl<'a> From<&'a sagas::StepRow> for SagaStep<'a> {
    fn from(s: &'a sagas::StepRow) -> Self {
        SagaStep {
            seq: s.seq,
            name: &s.name,
            phase: &s.phase,
            state: &s.state,
            error: s.error.as_deref(),
            started_at: &s.started_at,
            finished_at: s.finished_at.as_deref(),
        }
    }
}

/// How the business reads numbers: its country (national formatting) and the names of
/// its contacts (SPEC §7, §13).
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub country: String,
    pub names: std::collections::HashMap<String, String>,
}

/// What [`displayed`] needs to show `body` to org `org`: its country and the names of the
/// contacts among the numbers in it, read in one trip.
pub fn shown_for(
    c: &rusqlite::Connection,
    org: i64,
    body: &serde_json::Value,
) -> rusqlite::Result<Shown> {
    let mut numbers = Vec::new();
    collect_numbers(body, &mut numbers);
    numbers.sort_unstable();
    numbers.dedup();
    Ok(Shown {
        country: crate::db::orgs::country(c, org)?,
        names: crate::db::contacts::names(c, org, &numbers)?,
    })
}

fn collect_numbers<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) if looks_e164(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_numbers(i, out)),
        serde_json::Value::Object(map) => map.values().for_each(|i| collect_numbers(i, out)),
        _ => {}
    }
}

/// A JSON answer in which every E.164 number also comes as the business reads it:
/// `"fromNumber": "+14155550123"` gains `"fromNumberDisplay": "(415) 555-0123"` for a US
/// business (SPEC §7: numbers shown nationally for the org's country, E.164 for others),
/// and, when the number is a contact, `"fromNumberName": "Jane Smith"` (SPEC §13).
pub fn displayed(mut body: serde_json::Value, shown: &Shown) -> actix_web::HttpResponse {
    with_display(&mut body, shown);
    actix_web::HttpResponse::Ok().json(body)
}

/// [`displayed`] for an answer built in one database read: `build` makes the JSON, and
/// the org's country and contact names are read in the same trip.
pub async fn displayed_query<F>(
    db: &crate::db::Db,
    org: i64,
    build: F,
) -> Result<actix_web::HttpResponse, crate::error::ApiError>
where
    F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<serde_json::Value> + Send + 'static,
{
    let (body, shown) = db
        .query(move |c| {
            let body = build(c)?;
            let shown = shown_for(c, org, &body)?;
            Ok((body, shown))
        })
        .await?;
    Ok(displayed(body, &shown))
}

fn with_display(v: &mut serde_json::Value, shown: &Shown) {
    match v {
        serde_json::Value::Object(map) => {
            let mut extra: Vec<(String, serde_json::Value)> = Vec::new();
            for (k, val) in map.iter() {
                let show = |s: &str| {
                    serde_json::Value::String(crate::domain::typed::display(s, &shown.country))
                };
                match val {
                    serde_json::Value::String(s) if looks_e164(s) => {
                        extra.push((format!("{k}Display"), show(s)));
                        if let Some(name) = shown.names.get(s.as_str()) {
                            extra.push((format!("{k}Name"), serde_json::json!(name)));
                        }
                    }
                    // A list of numbers (the phones a dial rang).
                    serde_json::Value::Array(items)
                        if !items.is_empty()
                            && items.iter().all(|i| i.as_str().is_some_and(looks_e164)) =>
                    {
                        extra.push((
                            format!("{k}Display"),
                            serde_json::Value::Array(
                                items.iter().filter_map(|i| i.as_str()).map(show).collect(),
                            ),
                        ));
                    }
                    _ => {}
                }
            }
            for child in map.values_mut() {
                with_display(child, shown);
            }
            map.extend(extra);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                with_display(item, shown);
            }
        }
        _ => {}
    }
}

fn looks_e164(s: &str) -> bool {
    s.len() >= 8
        && s.len() <= 16
        && s.starts_with('+')
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod display_tests {
    #[test]
    fn every_number_in_an_answer_gains_its_display_form() {
        let mut v = serde_json::json!({
            "calls": [{ "fromNumber": "+14155550123", "toNumber": "+442079460958", "callSid": "CA1" }],
            "detail": { "to": "+15550100155", "targets": ["+14155550188", "+442079460958"] },
            "count": 2
        });
        let shown = super::Shown {
            country: "US".into(),
            names: [("+14155550123".to_string(), "Jane Smith".to_string())].into(),
        };
        super::with_display(&mut v, &shown);
        assert_eq!(v["calls"][0]["fromNumberDisplay"], "(415) 555-0123");
        assert_eq!(
            v["calls"][0]["fromNumberName"], "Jane Smith",
            "a contact's name"
        );
        assert!(v["calls"][0].get("toNumberName").is_none());
        assert_eq!(v["calls"][0]["toNumberDisplay"], "+442079460958");
        assert!(v["calls"][0].get("callSidDisplay").is_none());
        assert_eq!(v["detail"]["toDisplay"], "(555) 010-0155");
        assert_eq!(
            v["detail"]["targetsDisplay"],
            serde_json::json!(["(415) 555-0188", "+442079460958"])
        );
    }
}
