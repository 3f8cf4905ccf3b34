//! The Overview's to-do list: what a person at the business still has to do, newest
//! first — missed calls not followed up, AI calls that asked for a call back, voicemails
//! not handled, open conversations (leads).

use super::Cached;
use rusqlite::Connection;

/// Calls older than this many days leave the list on their own.
pub const CALL_DAYS: i64 = 14;
/// The most items the list holds.
pub const LIMIT: u32 = 50;

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `missed_call`, `ai_callback`, `voicemail` or `lead`.
    pub kind: &'static str,
    /// The call's, voicemail's or lead's id.
    pub id: i64,
    pub at: String,
    pub caller: Option<String>,
    /// What the caller said or asked, when known (a transcript, a summary, a text).
    pub text: Option<String>,
}

/// Calls to follow up since `since`. A missed call is settled when the business replied
/// by text after it, when the caller reached someone on a later call, or when a
/// conversation (lead) grew out of it or holds it — the caller's open conversation on that
/// number is the item then, and handling it follows the call up. An AI call counts when
/// its summary asks to be called back.
const CALLS: &str = "SELECT c.id, c.started_at, c.from_number, c.summary,
             CASE c.outcome WHEN 'missed' THEN 'missed_call' ELSE 'ai_callback' END
         FROM calls c INDEXED BY calls_to_follow_up
         WHERE c.org_id = ?1 AND c.started_at >= ?2 AND c.followed_up_at IS NULL
           AND (c.outcome = 'missed' OR c.outcome = 'ai_handled')
           AND (c.outcome = 'missed'
                OR lower(c.summary) LIKE '%call me back%' OR lower(c.summary) LIKE '%call back%'
                OR lower(c.summary) LIKE '%callback%' OR lower(c.summary) LIKE '%call them back%'
                OR lower(c.summary) LIKE '%return%call%')
           AND NOT EXISTS (SELECT 1 FROM messages m
                WHERE m.from_number = c.to_number AND m.to_number = c.from_number
                  AND m.kind = 'reply' AND m.created_at > c.started_at)
           AND NOT EXISTS (SELECT 1 FROM calls_by_caller later
                WHERE later.org_id = c.org_id AND later.from_number = c.from_number
                  AND later.started_at > c.started_at AND later.answered_at IS NOT NULL)
           AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.call_id = c.id)
           AND NOT EXISTS (SELECT 1 FROM leads l
                WHERE l.org_id = c.org_id AND l.phone_number_id = c.phone_number_id
                  AND l.customer_number = c.from_number AND l.status = 'open')
         ORDER BY c.started_at DESC LIMIT ?3";

/// Voicemails nobody marked handled (`?2` is unused: every one counts, however old).
const VOICEMAILS: &str = "SELECT v.id, v.created_at, c.from_number, v.transcription_text, 'voicemail'
         FROM voicemails v JOIN calls c ON c.id = v.call_id
         WHERE v.org_id = ?1 AND v.handled = 0 AND ?2 IS NOT NULL ORDER BY v.created_at DESC LIMIT ?3";

/// Open conversations, with the customer's latest text (`?2` unused as above). Like a
/// missed call, a conversation is settled once the customer has reached someone on a
/// call after the last thing they did in it (their latest text, else the call that opened
/// it).
const LEADS: &str = "SELECT l.id, COALESCE(l.last_message_at, l.created_at), l.customer_number,
             COALESCE((SELECT body FROM messages m WHERE m.lead_id = l.id AND m.direction = 'inbound'
                       ORDER BY m.id DESC LIMIT 1), l.summary), 'lead'
         FROM leads l WHERE l.org_id = ?1 AND l.status = 'open' AND ?2 IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM calls_by_caller later
                WHERE later.org_id = l.org_id AND later.from_number = l.customer_number
                  AND later.started_at > COALESCE(
                      (SELECT max(m.created_at) FROM messages m WHERE m.lead_id = l.id AND m.direction = 'inbound'),
                      (SELECT o.started_at FROM calls o WHERE o.id = l.call_id),
                      l.created_at)
                  AND later.answered_at IS NOT NULL)
         ORDER BY l.created_at DESC LIMIT ?3";

/// The items one of the queries above selects: (id, at, caller, text, kind).
fn items(
    conn: &Connection,
    sql: &str,
    org: i64,
    since: &str,
    limit: u32,
) -> rusqlite::Result<Vec<Item>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map((org, since, limit), |r| {
        let kind: String = r.get(4)?;
        Ok(Item {
            kind: match kind.as_str() {
                "missed_call" => "missed_call",
                "ai_callback" => "ai_callback",
                "voicemail" => "voicemail",
                _ => "lead",
            },
            id: r.get(0)?,
            at: r.get(1)?,
            caller: r.get(2)?,
            text: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Everything to do at `now`, newest first, at most [`LIMIT`]; calls of the last
/// [`CALL_DAYS`] days.
pub fn open(
    conn: &Connection,
    org: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<Vec<Item>> {
    let since = super::format_time(now - chrono::Duration::days(CALL_DAYS));
    let mut all = Vec::new();
    for sql in [CALLS, VOICEMAILS, LEADS] {
        all.extend(items(conn, sql, org, &since, LIMIT)?);
    }
    all.sort_by(|a, b| b.at.cmp(&a.at));
    all.truncate(LIMIT as usize);
    Ok(all)
}

/// Marks a call of the org followed up; `false` when there is no such call.
pub fn follow_up(conn: &Connection, org: i64, call_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "UPDATE calls SET followed_up_at = COALESCE(followed_up_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         WHERE id = ?1 AND org_id = ?2",
        (call_id, org),
    )? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> chrono::DateTime<chrono::Utc> {
        t.parse().unwrap()
    }

    fn db() -> Connection {
        let conn = super::super::migrations::in_memory();
        conn.execute_batch(
            "INSERT INTO orgs (id, name) VALUES (1, 'A');
             INSERT INTO calls (id, org_id, provider, call_sid, from_number, to_number, outcome, started_at)
                 VALUES (1, 1, 'twilio', 'CA1', '+14155550101', '+15550100001', 'missed', '2026-12-07T09:00:00.000Z'),
                        (2, 1, 'twilio', 'CA2', '+14155550102', '+15550100001', 'missed', '2026-12-07T09:10:00.000Z'),
                        (3, 1, 'twilio', 'CA3', '+14155550103', '+15550100001', 'missed', '2026-12-07T09:20:00.000Z'),
                        (4, 1, 'twilio', 'CA4', '+14155550104', '+15550100001', 'missed', '2026-12-07T09:30:00.000Z'),
                        (5, 1, 'twilio', 'CA5', '+14155550105', '+15550100001', 'connected', '2026-12-07T09:40:00.000Z'),
                        (6, 1, 'twilio', 'CA6', '+14155550103', '+15550100001', 'connected', '2026-12-07T10:00:00.000Z');
             UPDATE calls SET answered_at = started_at WHERE id = 6;
             INSERT INTO calls (id, org_id, provider, vapi_call_id, from_number, to_number, outcome, summary, started_at)
                 VALUES (7, 1, 'vapi', 'v7', '+14155550107', '+15550100004', 'ai_handled', 'Leaking boiler. Please call me back after 5.', '2026-12-07T10:10:00.000Z'),
                        (8, 1, 'vapi', 'v8', '+14155550108', '+15550100004', 'ai_handled', 'Asked for opening hours.', '2026-12-07T10:20:00.000Z');
             -- The business replied to call 2's caller by text; call 4 became a conversation.
             INSERT INTO messages (org_id, direction, from_number, to_number, body, kind, status, created_at)
                 VALUES (1, 'outbound', '+15550100001', '+14155550102', 'On our way', 'reply', 'sent', '2026-12-07T09:15:00.000Z');
             INSERT INTO leads (id, org_id, customer_number, call_id, source, status, created_at)
                 VALUES (9, 1, '+14155550104', 4, 'sms', 'open', '2026-12-07T09:35:00.000Z');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn the_calls_to_follow_up_are_found_without_scanning_a_growing_table() {
        let conn = super::super::migrations::in_memory();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {CALLS}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map((1, "2026-01-01", 50), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().any(|d| d.contains("calls_to_follow_up")),
            "{plan:?}"
        );
        for d in &plan {
            assert!(!d.starts_with("SCAN"), "a full scan: {plan:?}");
        }
    }

    #[test]
    fn what_opens_an_item_and_what_settles_it() {
        let conn = db();
        let items = open(&conn, 1, at("2026-12-08T00:00:00Z")).unwrap();
        let got: Vec<(&str, i64)> = items.iter().map(|i| (i.kind, i.id)).collect();
        // 1: missed, still to do. 2: replied by text. 3: reached someone later. 4: its
        // conversation is the item. 5, 6: answered. 7: the AI was asked for a call back.
        // 8: the AI handled it.
        assert_eq!(got, [("ai_callback", 7), ("lead", 9), ("missed_call", 1)]);
        assert!(follow_up(&conn, 1, 1).unwrap());
        assert!(!follow_up(&conn, 2, 7).unwrap(), "another org's call");
        let after: Vec<i64> = open(&conn, 1, at("2026-12-08T00:00:00Z"))
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert!(!after.contains(&1), "{after:?}");
        assert!(
            open(&conn, 1, at("2026-12-30T00:00:00Z"))
                .unwrap()
                .iter()
                .all(|i| i.kind == "lead"),
            "calls before `since` are left out"
        );
    }

    #[test]
    fn a_conversation_holds_its_callers_calls_until_handled() {
        let conn = super::super::migrations::in_memory();
        conn.execute_batch(
            "INSERT INTO orgs (id, name) VALUES (1, 'A');
             INSERT INTO phone_numbers (id, org_id, e164, role, handler, origin) VALUES (1, 1, '+15550100001', 'operational', 'ivr', 'imported');
             INSERT INTO calls (id, org_id, provider, call_sid, from_number, to_number, phone_number_id, outcome, started_at)
                 VALUES (1, 1, 'twilio', 'CA1', '+14155550101', '+15550100001', 1, 'missed', '2026-12-07T09:00:00.000Z'),
                        (2, 1, 'twilio', 'CA2', '+14155550101', '+15550100001', 1, 'missed', '2026-12-07T11:00:00.000Z');",
        )
        .unwrap();
        // The first missed call opened the conversation; the second joined it.
        let (lead, created) =
            super::super::leads::open_or_create(&conn, 1, 1, "+14155550101", Some(1), "sms")
                .unwrap();
        assert!(created);
        let items = open(&conn, 1, at("2026-12-08T00:00:00Z")).unwrap();
        let got: Vec<(&str, i64)> = items.iter().map(|i| (i.kind, i.id)).collect();
        assert_eq!(
            got,
            [("lead", lead)],
            "one item for the caller, not one per call"
        );
        // Handling it follows both calls up: nothing comes back.
        assert!(super::super::leads::set_status(&conn, 1, lead, "handled").unwrap());
        assert!(open(&conn, 1, at("2026-12-08T00:00:00Z"))
            .unwrap()
            .is_empty());
        let open_calls: i64 = conn
            .query_row(
                "SELECT count(*) FROM calls WHERE followed_up_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(open_calls, 0);
    }
}
