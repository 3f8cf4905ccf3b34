//! `calls` and `call_events`: one row per call, upserted by provider id so duplicate and
//! out-of-order webhooks converge, plus its append-only timeline.

use super::Cached;
use crate::domain::state::{CallStatus, Consent, Direction, TextbackState};
use crate::domain::textback::Outcome;
use crate::domain::NumberRole;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Call {
    pub id: i64,
    pub org_id: Option<i64>,
    pub provider: String,
    pub call_sid: Option<String>,
    pub vapi_call_id: Option<String>,
    pub direction: Direction,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub phone_number_id: Option<i64>,
    pub number_role: Option<NumberRole>,
    pub agent_id: Option<i64>,
    pub status: CallStatus,
    pub outcome: Option<Outcome>,
    pub started_at: String,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_seconds: Option<i64>,
    pub menu_choices: String,
    pub consent_outcome: Consent,
    pub consent_at: Option<String>,
    pub ended_reason: Option<String>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
    pub cost: Option<f64>,
    pub textback_state: Option<TextbackState>,
    /// Twilio's `StirVerstat` (caller-ID verification), as sent.
    pub stir_verstat: Option<String>,
    /// When the text-back is due (scheduled), and whether it waits for quiet hours to end.
    pub textback_due_at: Option<String>,
    pub textback_deferred: bool,
}

const COLUMNS: &str = "id, org_id, provider, call_sid, vapi_call_id, direction, from_number, to_number, phone_number_id,
    number_role, agent_id, status, outcome, started_at, answered_at, ended_at, duration_seconds, menu_choices,
    consent_outcome, consent_at, ended_reason, transcript, summary, recording_url, cost, textback_state,
    stir_verstat, textback_due_at, textback_deferred";

fn from_row(r: &Row) -> rusqlite::Result<Call> {
    Ok(Call {
        id: r.get(0)?,
        org_id: r.get(1)?,
        provider: r.get(2)?,
        call_sid: r.get(3)?,
        vapi_call_id: r.get(4)?,
        direction: r.get(5)?,
        from_number: r.get(6)?,
        to_number: r.get(7)?,
        phone_number_id: r.get(8)?,
        number_role: r.get(9)?,
        agent_id: r.get(10)?,
        status: r.get(11)?,
        outcome: r.get(12)?,
        started_at: r.get(13)?,
        answered_at: r.get(14)?,
        ended_at: r.get(15)?,
        duration_seconds: r.get(16)?,
        menu_choices: r.get(17)?,
        consent_outcome: r.get(18)?,
        consent_at: r.get(19)?,
        ended_reason: r.get(20)?,
        transcript: r.get(21)?,
        summary: r.get(22)?,
        recording_url: r.get(23)?,
        cost: r.get(24)?,
        textback_state: r.get(25)?,
        stir_verstat: r.get(26)?,
        textback_due_at: r.get(27)?,
        textback_deferred: r.get(28)?,
    })
}

/// What a Twilio webhook knows about its call; missing facts are filled in later.
#[derive(Debug, Clone)]
pub struct TwilioCall<'a> {
    pub call_sid: &'a str,
    pub org_id: Option<i64>,
    pub direction: Direction,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub phone_number_id: Option<i64>,
    pub number_role: Option<&'a str>,
    /// Twilio's `StirVerstat`, sent with the call's first webhook when the carrier checked.
    pub stir_verstat: Option<&'a str>,
}

/// Creates the call on first sight, or fills in what an earlier (out-of-order) webhook
/// could not know. Returns the call id and whether this created it.
pub fn upsert_twilio(conn: &Connection, c: &TwilioCall<'_>) -> rusqlite::Result<(i64, bool)> {
    let inserted = conn.exec_cached(
        "INSERT INTO calls (provider, call_sid, org_id, direction, from_number, to_number, phone_number_id, number_role,
             started_at, created_at, updated_at, stir_verstat)
         VALUES ('twilio', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8, ?9)
         ON CONFLICT(call_sid) WHERE call_sid IS NOT NULL DO NOTHING",
        // The time is bound rather than left to the columns' strftime defaults: on the
        // hot path three strftime calls per row cost more than the insert's own work.
        rusqlite::params![c.call_sid, c.org_id, c.direction, c.from, c.to, c.phone_number_id, c.number_role, super::now(), c.stir_verstat],
    )? == 1;
    if !inserted {
        conn.exec_cached(
            "UPDATE calls SET org_id = COALESCE(org_id, ?2), from_number = COALESCE(from_number, ?3),
                 to_number = COALESCE(to_number, ?4), phone_number_id = COALESCE(phone_number_id, ?5),
                 number_role = COALESCE(number_role, ?6)
             WHERE call_sid = ?1 AND (org_id IS NULL OR from_number IS NULL OR to_number IS NULL
                 OR phone_number_id IS NULL OR number_role IS NULL)",
            rusqlite::params![c.call_sid, c.org_id, c.from, c.to, c.phone_number_id, c.number_role],
        )?;
    }
    let id = if inserted {
        conn.last_insert_rowid()
    } else {
        conn.row_cached(
            "SELECT id FROM calls WHERE call_sid = ?1",
            [c.call_sid],
            |r| r.get(0),
        )?
    };
    Ok((id, inserted))
}

pub fn by_sid(conn: &Connection, call_sid: &str) -> rusqlite::Result<Option<Call>> {
    conn.row_cached(
        &format!("SELECT {COLUMNS} FROM calls WHERE call_sid = ?1"),
        [call_sid],
        from_row,
    )
    .optional()
}

pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Call>> {
    conn.row_cached(
        &format!("SELECT {COLUMNS} FROM calls WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

/// Appends to the timeline; with a `dedup_key` a redelivered event is a no-op. Returns
/// whether the event is new.
fn event(
    conn: &Connection,
    call_id: i64,
    kind: &str,
    detail: Option<Value>,
    dedup_key: Option<&str>,
) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "INSERT OR IGNORE INTO call_events (call_id, kind, detail, dedup_key, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        (call_id, kind, detail.map(|d| d.to_string()), dedup_key, super::now()),
    )? == 1)
}

/// Appends a typed event to the call's timeline (`event` with the event's own kind,
/// detail and dedup key); `false` when it was recorded before.
pub fn record(
    conn: &Connection,
    call_id: i64,
    e: &crate::domain::events::CallEvent<'_>,
) -> rusqlite::Result<bool> {
    event(conn, call_id, e.kind(), e.detail(), Some(&e.dedup_key()))
}

#[derive(Debug, Clone)]
pub struct CallEvent {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub detail: Option<Value>,
}

pub fn events(conn: &Connection, call_id: i64) -> rusqlite::Result<Vec<CallEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, kind, detail FROM call_events WHERE call_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([call_id], |r| {
        let detail: Option<String> = r.get(3)?;
        Ok(CallEvent {
            id: r.get(0)?,
            at: r.get(1)?,
            kind: r.get(2)?,
            detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
    })?;
    rows.collect()
}

/// Records the consent outcome once; later answers do not overwrite it.
pub fn set_consent(conn: &Connection, call_id: i64, outcome: Consent) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET consent_outcome = ?2, consent_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND consent_outcome = 'not_asked'",
        (call_id, outcome),
    )?;
    Ok(())
}

pub fn add_menu_choice(conn: &Connection, call_id: i64, choice: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET menu_choices = menu_choices || ?2 WHERE id = ?1",
        (call_id, choice),
    )?;
    Ok(())
}

/// Whether a person took the call (a screened leg accepted, or an unscreened dial was
/// bridged).
pub fn answered(conn: &Connection, call_id: i64) -> rusqlite::Result<bool> {
    conn.row_cached(
        "SELECT answered_at IS NOT NULL FROM calls WHERE id = ?1",
        [call_id],
        |r| r.get(0),
    )
}

/// When the call's latest event of `kind` was recorded.
pub fn last_event_at(
    conn: &Connection,
    call_id: i64,
    kind: &str,
) -> rusqlite::Result<Option<String>> {
    conn.row_cached(
        "SELECT at FROM call_events WHERE call_id = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1",
        (call_id, kind),
        |r| r.get(0),
    )
    .optional()
}

/// A dialled leg answered: the call connected.
pub fn mark_connected(conn: &Connection, call_id: i64) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET answered_at = COALESCE(answered_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) WHERE id = ?1",
        [call_id],
    )?;
    Ok(())
}

/// The final status callback: status, duration and end time (terminal statuses only).
pub fn finish(
    conn: &Connection,
    call_id: i64,
    status: CallStatus,
    duration: Option<i64>,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET status = ?2, duration_seconds = COALESCE(?3, duration_seconds),
             ended_at = COALESCE(ended_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        (call_id, status, duration),
    )?;
    Ok(())
}

/// Sets the status of a live call unless it already ended (state never moves backwards).
pub fn set_live_status(
    conn: &Connection,
    call_id: i64,
    status: CallStatus,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET status = ?2 WHERE id = ?1 AND ended_at IS NULL",
        (call_id, status),
    )?;
    Ok(())
}

pub fn set_outcome(conn: &Connection, call_id: i64, outcome: Outcome) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET outcome = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        (call_id, outcome),
    )?;
    Ok(())
}

/// The consent outcome and whether the call has ended.
pub fn consent_and_ended(conn: &Connection, call_id: i64) -> rusqlite::Result<(Consent, bool)> {
    conn.row_cached(
        "SELECT consent_outcome, ended_at IS NOT NULL FROM calls WHERE id = ?1",
        [call_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// What the outcome rules need to know about a finished IVR call (SPEC §3.5).
pub fn facts(
    conn: &Connection,
    call: &Call,
) -> rusqlite::Result<crate::domain::textback::CallFacts> {
    Ok(crate::domain::textback::CallFacts {
        connected: call.answered_at.is_some(),
        voicemail_left: voicemail_left(conn, call.id)?,
        duration_secs: u32::try_from(
            call.duration_seconds
                .or_else(|| elapsed(call))
                .unwrap_or(0)
                .max(0),
        )
        .unwrap_or(u32::MAX),
        failed: call.status == CallStatus::Failed,
        blocked: call.outcome == Some(Outcome::Blocked),
    })
}

/// Whole seconds from the call's start to its end as this appliance saw them: the duration
/// when Twilio's was missing or out of range.
fn elapsed(call: &Call) -> Option<i64> {
    let start = chrono::DateTime::parse_from_rfc3339(&call.started_at).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(call.ended_at.as_deref()?).ok()?;
    Some((end - start).num_seconds())
}

/// A voicemail with audio exists for the call.
pub fn voicemail_left(conn: &Connection, call_id: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .row_cached(
            "SELECT 1 FROM voicemails WHERE call_id = ?1 AND recording_sid IS NOT NULL
             AND COALESCE(duration_seconds, 1) > 0 LIMIT 1",
            [call_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Schedules the text-back once per call; `deferred` when it waits for quiet hours to end.
pub fn schedule_textback(
    conn: &Connection,
    call_id: i64,
    due_at: &str,
    deferred: bool,
) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE calls SET textback_state = 'scheduled', textback_due_at = ?2, textback_deferred = ?3
         WHERE id = ?1 AND textback_state IS NULL",
        (call_id, due_at, deferred),
    )? == 1)
}

/// Puts a text-back being processed back on the schedule, deferred to `due_at`.
pub fn defer_textback(conn: &Connection, call_id: i64, due_at: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET textback_state = 'scheduled', textback_due_at = ?2, textback_deferred = 1
         WHERE id = ?1 AND textback_state = 'processing'",
        (call_id, due_at),
    )?;
    Ok(())
}

/// Whether, since the call `after` started, the same caller reached a person on a later
/// call to the same number (which makes a pending text-back pointless).
pub fn answered_later(conn: &Connection, call: &Call) -> rusqlite::Result<bool> {
    let (Some(org), Some(from), Some(number)) =
        (call.org_id, &call.from_number, call.phone_number_id)
    else {
        return Ok(false);
    };
    Ok(conn
        .row_cached(
            "SELECT 1 FROM calls_by_caller WHERE org_id = ?1 AND from_number = ?2 AND phone_number_id = ?3
                 AND started_at > ?4 AND id <> ?5
                 AND (answered_at IS NOT NULL OR outcome = 'ai_handled') LIMIT 1",
            (org, from, number, &call.started_at, call.id),
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Takes the scheduled text-back for processing; only one caller ever gets `true`.
pub fn claim_textback(conn: &Connection, call_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached("UPDATE calls SET textback_state = 'processing' WHERE id = ?1 AND textback_state = 'scheduled'", [call_id])? == 1)
}

pub fn set_textback_state(
    conn: &Connection,
    call_id: i64,
    state: TextbackState,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET textback_state = ?2 WHERE id = ?1",
        (call_id, state),
    )?;
    Ok(())
}

/// Scheduled text-backs due at or before `now`.
pub fn due_textbacks(conn: &Connection, now: &str) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM calls WHERE textback_state = 'scheduled' AND textback_due_at <= ?1 LIMIT 100")?;
    let rows = stmt.query_map([now], |r| r.get(0))?;
    rows.collect()
}

/// Text-backs of the org waiting for the end of quiet hours: how many, and the first due.
pub fn deferred_textbacks(
    conn: &Connection,
    org_id: i64,
) -> rusqlite::Result<(i64, Option<String>)> {
    conn.row_cached(
        "SELECT count(*), min(textback_due_at) FROM calls INDEXED BY calls_textback_due
         WHERE textback_state = 'scheduled' AND textback_deferred = 1 AND org_id = ?1",
        [org_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Filters of `GET /api/calls`.
#[derive(Debug, Default, Clone)]
pub struct CallFilter {
    pub number: Option<String>,
    pub caller: Option<String>,
    pub call_sid: Option<String>,
    pub outcome: Option<Outcome>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// The org's calls, newest first.
pub fn list(conn: &Connection, org_id: i64, f: &CallFilter) -> rusqlite::Result<Vec<Call>> {
    let (sql, args) = list_query(org_id, f);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), from_row)?;
    rows.collect()
}

/// The SQL and arguments of [`list`].
fn list_query(org_id: i64, f: &CallFilter) -> (String, Vec<rusqlite::types::Value>) {
    // By caller, ended calls are read through their index and those in progress beside
    // them (migration 18).
    let table = if f.caller.is_some() {
        "calls_by_caller"
    } else {
        "calls"
    };
    let mut sql = format!("SELECT {COLUMNS} FROM {table} WHERE org_id = ?");
    let mut args: Vec<rusqlite::types::Value> = vec![org_id.into()];
    let text = |v: &Option<String>| v.clone().map(rusqlite::types::Value::Text);
    let filters = [
        (" AND to_number = ?", text(&f.number), 1),
        (" AND from_number = ?", text(&f.caller), 1),
        // The call id may be a Twilio CallSid or a Vapi call id.
        (
            " AND (call_sid = ? OR vapi_call_id = ?)",
            text(&f.call_sid),
            2,
        ),
        (
            " AND outcome = ?",
            f.outcome
                .map(|o| rusqlite::types::Value::Text(o.as_str().into())),
            1,
        ),
        (" AND started_at >= ?", text(&f.from), 1),
        (" AND started_at < ?", text(&f.to), 1),
        (
            " AND id < ?",
            f.before.map(rusqlite::types::Value::Integer),
            1,
        ),
    ];
    for (clause, value, times) in filters {
        if let Some(v) = value {
            sql.push_str(clause);
            args.extend(std::iter::repeat_n(v, times));
        }
    }
    sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ?");
    args.push(i64::from(f.limit).into());
    (sql, args)
}

/// One call of the org (another org's id is `None`).
pub fn get(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<Call>> {
    conn.row_cached(
        &format!("SELECT {COLUMNS} FROM calls WHERE id = ?1 AND org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}

/// When each of the org's calls since `from` started, and its outcome (the Overview).
pub fn outcomes_since(
    conn: &Connection,
    org_id: i64,
    from: &str,
) -> rusqlite::Result<Vec<(String, Option<Outcome>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT started_at, outcome FROM calls WHERE org_id = ?1 AND started_at >= ?2",
    )?;
    let rows = stmt.query_map((org_id, from), |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Invariant violations recorded on the org's calls since `from`, by name, most first.
pub fn invariants_since(
    conn: &Connection,
    org_id: i64,
    from: &str,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(e.detail, '$.name') AS name, count(*)
         FROM call_events e CROSS JOIN calls c ON c.id = e.call_id
         WHERE e.kind = 'invariant' AND e.at >= ?2 AND c.org_id = ?1
         GROUP BY name ORDER BY count(*) DESC",
    )?;
    let rows = stmt.query_map((org_id, from), |r| {
        Ok((
            r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            r.get(1)?,
        ))
    })?;
    rows.collect()
}

/// Text-backs sent, and blocked ones as (reason, Twilio's error code, count).
pub type Textbacks = (i64, Vec<(String, Option<i64>, i64)>);

/// Text-backs of the org's calls since `from` (calls that started up to a day earlier
/// included, as a text-back follows its call): how many went out, and the blocked ones by
/// reason (with Twilio's error code when Twilio refused), most first.
pub fn textbacks_since(
    conn: &Connection,
    org_id: i64,
    from: &str,
    calls_from: &str,
) -> rusqlite::Result<Textbacks> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.kind, json_extract(e.detail, '$.reason'), json_extract(e.detail, '$.providerCode'), count(*)
         FROM call_events e CROSS JOIN calls c ON c.id = e.call_id
         WHERE e.kind IN ('textback.sent', 'textback.blocked') AND e.at >= ?2
           AND c.org_id = ?1 AND c.started_at >= ?3
         GROUP BY 1, 2, 3 ORDER BY 4 DESC",
    )?;
    let mut sent = 0;
    let mut blocked = Vec::new();
    let rows = stmt.query_map((org_id, from, calls_from), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        match row? {
            (kind, _, _, n) if kind == "textback.sent" => sent += n,
            (_, reason, code, n) => blocked.push((reason.unwrap_or_default(), code, n)),
        }
    }
    Ok((sent, blocked))
}

/// What a Vapi message knows about its call; missing facts are filled in later.
#[derive(Debug, Clone)]
pub struct VapiCall<'a> {
    pub vapi_call_id: &'a str,
    pub org_id: Option<i64>,
    pub direction: Direction,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub phone_number_id: Option<i64>,
    pub agent_id: Option<i64>,
}

/// Creates the AI call on its first event, whichever type that is (no race, no retry
/// loop), or fills in what earlier events did not know.
pub fn upsert_vapi(conn: &Connection, c: &VapiCall<'_>) -> rusqlite::Result<i64> {
    let inserted = conn.exec_cached(
        "INSERT INTO calls (provider, vapi_call_id, org_id, direction, from_number, to_number, phone_number_id, number_role, agent_id, status)
         VALUES ('vapi', ?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?6 IS NULL THEN NULL ELSE 'operational' END, ?7, 'queued')
         ON CONFLICT(vapi_call_id) WHERE vapi_call_id IS NOT NULL DO NOTHING",
        rusqlite::params![c.vapi_call_id, c.org_id, c.direction, c.from, c.to, c.phone_number_id, c.agent_id],
    )? == 1;
    if inserted {
        return Ok(conn.last_insert_rowid());
    }
    conn.exec_cached(
        "UPDATE calls SET org_id = COALESCE(org_id, ?2), from_number = COALESCE(from_number, ?3),
             to_number = COALESCE(to_number, ?4), phone_number_id = COALESCE(phone_number_id, ?5),
             agent_id = COALESCE(agent_id, ?6),
             number_role = COALESCE(number_role, CASE WHEN ?5 IS NULL THEN NULL ELSE 'operational' END)
         WHERE vapi_call_id = ?1",
        rusqlite::params![c.vapi_call_id, c.org_id, c.from, c.to, c.phone_number_id, c.agent_id],
    )?;
    conn.row_cached(
        "SELECT id FROM calls WHERE vapi_call_id = ?1",
        [c.vapi_call_id],
        |r| r.get(0),
    )
}

/// Moves the status forward only ([`CallStatus::rank`]); returns whether it moved.
pub fn advance_status(
    conn: &Connection,
    call_id: i64,
    status: CallStatus,
) -> rusqlite::Result<bool> {
    let current: CallStatus =
        conn.row_cached("SELECT status FROM calls WHERE id = ?1", [call_id], |r| {
            r.get(0)
        })?;
    if status.rank() <= current.rank() {
        return Ok(false);
    }
    conn.exec_cached(
        "UPDATE calls SET status = ?2,
             answered_at = CASE WHEN ?2 = 'in-progress' THEN COALESCE(answered_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ELSE answered_at END,
             ended_at = CASE WHEN ?2 = 'ended' THEN COALESCE(ended_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ELSE ended_at END,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        (call_id, status),
    )?;
    Ok(true)
}

/// The end-of-call report: everything Vapi knows once the call is over.
#[derive(Debug, Clone, Default)]
pub struct EndReport {
    pub ended_reason: Option<String>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
    pub stereo_recording_url: Option<String>,
    pub cost: Option<f64>,
    pub duration_secs: Option<i64>,
    pub ended_at: Option<String>,
    pub outcome: Option<Outcome>,
}

pub fn apply_end_report(conn: &Connection, call_id: i64, r: &EndReport) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE calls SET status = 'ended',
             ended_at = COALESCE(?2, ended_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
             ended_reason = COALESCE(?3, ended_reason), transcript = COALESCE(?4, transcript),
             summary = COALESCE(?5, summary), recording_url = COALESCE(?6, recording_url),
             stereo_recording_url = COALESCE(?7, stereo_recording_url), cost = COALESCE(?8, cost),
             duration_seconds = COALESCE(?9, duration_seconds), outcome = COALESCE(?10, outcome),
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        rusqlite::params![
            call_id,
            r.ended_at,
            r.ended_reason,
            r.transcript,
            r.summary,
            r.recording_url,
            r.stereo_recording_url,
            r.cost,
            r.duration_secs,
            r.outcome
        ],
    )?;
    Ok(())
}

/// AI-answered numbers (handler `vapi`) whose calls Twilio still sent to the menu in the
/// last 7 days, with how many: their voice URL points at this appliance, not at Vapi.
pub fn misrouted_ai_numbers(
    conn: &Connection,
    org_id: i64,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.e164, count(*)
           FROM call_events e CROSS JOIN calls c ON c.id = e.call_id
           JOIN phone_numbers n ON n.id = c.phone_number_id
          WHERE e.kind = 'invariant' AND e.at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')
            AND c.org_id = ?1
            AND json_extract(e.detail, '$.name') = 'voice_vapi_number_on_ivr'
            AND n.handler = 'vapi' AND n.status = 'active'
          GROUP BY n.e164 ORDER BY n.e164",
    )?;
    let rows = stmt.query_map([org_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// One consent row per call started in [from, to): (id, call sid, started, from, to,
/// consent outcome, consent time), for the consent ledger export.
pub type ConsentRow = (i64, String, String, String, String, String, String);

pub fn consent_ledger(
    conn: &Connection,
    org_id: i64,
    from: &str,
    to: &str,
) -> rusqlite::Result<Vec<ConsentRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, COALESCE(call_sid, vapi_call_id), started_at, COALESCE(from_number, ''), COALESCE(to_number, ''),
                consent_outcome, COALESCE(consent_at, '')
         FROM calls WHERE org_id = ?1 AND started_at >= ?2 AND started_at < ?3 ORDER BY started_at, id",
    )?;
    let rows = stmt.query_map(rusqlite::params![org_id, from, to], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caller index holds ended calls (migration 18): a query by caller still sees a
    /// call in progress, and a call that ends moves from one side to the other, listed once.
    #[test]
    fn a_query_by_caller_sees_calls_in_progress_and_ended_ones_once() {
        let conn = super::super::migrations::in_memory();
        conn.execute_batch(
            "INSERT INTO orgs (id, name) VALUES (1, 'o');
             INSERT INTO phone_numbers (id, org_id, e164, role, handler, origin)
             VALUES (1, 1, '+15550100001', 'operational', 'ivr', 'imported');
             INSERT INTO calls (id, org_id, provider, call_sid, from_number, to_number, phone_number_id, started_at, ended_at, answered_at)
             VALUES (1, 1, 'twilio', 'CA1', '+14155550123', '+15550100001', 1, '2026-01-01T10:00:00Z', '2026-01-01T10:01:00Z', NULL),
                    (2, 1, 'twilio', 'CA2', '+14155550123', '+15550100001', 1, '2026-01-01T11:00:00Z', NULL, '2026-01-01T11:00:05Z'),
                    (3, 1, 'twilio', 'CA3', '+14155550999', '+15550100001', 1, '2026-01-01T12:00:00Z', NULL, NULL);",
        )
        .unwrap();
        let by_caller = |conn: &Connection| -> Vec<i64> {
            let f = CallFilter {
                caller: Some("+14155550123".into()),
                limit: 50,
                ..Default::default()
            };
            list(conn, 1, &f).unwrap().iter().map(|c| c.id).collect()
        };
        assert_eq!(by_caller(&conn), [2, 1]);
        // The caller reached someone on the call still in progress: the missed one's
        // text-back is pointless.
        let first = by_id(&conn, 1).unwrap().unwrap();
        assert!(answered_later(&conn, &first).unwrap());
        conn.execute(
            "UPDATE calls SET ended_at = '2026-01-01T11:05:00Z' WHERE id = 2",
            [],
        )
        .unwrap();
        assert_eq!(by_caller(&conn), [2, 1]);
    }

    /// SPEC §10: the Calls page stays fast on a year of calls. Each filter is served by an
    /// index on that filter which also gives the page's order, so no filter walks the
    /// org's whole history by date (as a filter by caller once did).
    #[test]
    fn every_calls_page_filter_reads_its_own_index_in_page_order() {
        let conn = super::super::migrations::in_memory();
        let text = |v: &str| Some(v.to_string());
        let (number, caller) = (text("+15550100001"), text("+14155550123"));
        let cases = [
            (CallFilter::default(), "calls_org_started (org_id=?)"),
            (
                CallFilter {
                    number: number.clone(),
                    ..Default::default()
                },
                "calls_org_number (org_id=? AND to_number=?)",
            ),
            (
                CallFilter {
                    caller: caller.clone(),
                    ..Default::default()
                },
                "calls_org_from (org_id=? AND from_number=?)",
            ),
            (
                CallFilter {
                    caller,
                    before: Some(500),
                    ..Default::default()
                },
                "calls_org_from (org_id=? AND from_number=?)",
            ),
            (
                CallFilter {
                    outcome: Some(Outcome::Missed),
                    ..Default::default()
                },
                "calls_org_outcome (org_id=? AND outcome=?)",
            ),
            (
                CallFilter {
                    outcome: Some(Outcome::Missed),
                    number,
                    ..Default::default()
                },
                "(org_id=? AND ",
            ),
            (
                CallFilter {
                    from: text("2026-01-01"),
                    to: text("2026-02-01"),
                    ..Default::default()
                },
                "calls_org_started (org_id=? AND started_at>? AND started_at<?)",
            ),
        ];
        for (mut f, index) in cases {
            f.limit = 50;
            let (sql, args) = list_query(1, &f);
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(params_from_iter(args), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains(index), "{f:?} should use {index}: {plan}");
            // By caller, the calls still in progress (a handful: Twilio ends every call
            // within a day) are read beside the index of ended calls, in the same order.
            let rest = if f.caller.is_some() {
                let active = "calls USING INDEX calls_active";
                assert!(plan.contains(active), "{f:?} should read {active}: {plan}");
                plan.replace(&format!("SCAN {active}"), "")
            } else {
                plan.clone()
            };
            assert!(
                !rest.contains("SCAN") && !rest.contains("TEMP B-TREE"),
                "{f:?}: {plan}"
            );
        }
    }
}
