-- SPEC §8.2: the monitoring views behind GET /api/monitoring/{view} and the Health page.
-- Each has an org_id column (NULL for rows that belong to the appliance, not to one
-- business: an unsigned webhook, a rate-limited address) and reads a bounded, indexed
-- window, so it answers in milliseconds however many calls the database holds.

-- Calls that have not ended, newest first (the partial index calls_active holds only them).
-- Twilio ends every call within 24 hours, so an older one lost its status callback.
CREATE VIEW mon_active_calls AS
SELECT org_id, id, provider, coalesce(call_sid, vapi_call_id) AS call_id, from_number,
       to_number, status, started_at,
       CAST((julianday('now') - julianday(started_at)) * 86400 AS INTEGER) AS age_seconds
  FROM calls
 WHERE ended_at IS NULL
   AND started_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day');

-- Calls per hour over the last 24 hours, by what became of them.
CREATE VIEW mon_call_volume_hourly AS
SELECT org_id, substr(started_at, 1, 13) || ':00Z' AS hour, count(*) AS calls,
       sum(outcome IN ('connected', 'ai_handled')) AS answered,
       sum(outcome = 'voicemail') AS voicemail,
       sum(outcome IN ('missed', 'abandoned')) AS missed,
       sum(outcome IN ('rejected', 'failed')) AS failed,
       sum(outcome IS NULL) AS in_progress
  FROM calls
 WHERE started_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
 GROUP BY org_id, hour;

-- What went wrong in the last 24 hours (invariants: 7 days): webhooks answered with an
-- error, texts a provider refused, and invariant violations by name. Each part is read
-- through a small partial index of 0005 (invariants start from the events).
CREATE VIEW mon_recent_errors AS
SELECT org_id, received_at AS at, 'webhook' AS source,
       route || ' answered ' || http_status ||
           CASE WHEN signature IN ('invalid', 'missing') THEN ' (signature ' || signature || ')' ELSE '' END AS what,
       reference, coalesce(error, '') AS detail, http_status AS code
  FROM webhook_ledger
 WHERE http_status >= 400
   AND received_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
UNION ALL
SELECT org_id, updated_at, 'provider', kind || ' text to ' || to_number || ' ' || status,
       sid, coalesce(error_message, blocked_reason, ''), CAST(error_code AS INTEGER)
  FROM messages
 WHERE created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
   AND (error_code IS NOT NULL OR status IN ('failed', 'undelivered'))
UNION ALL
SELECT c.org_id, e.at, 'invariant', json_extract(e.detail, '$.name'),
       coalesce(c.call_sid, c.vapi_call_id), coalesce(e.detail, ''), NULL
  FROM call_events e CROSS JOIN calls c ON c.id = e.call_id
 WHERE e.kind = 'invariant' AND e.at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days');

-- Rate-limited keys over the last 24 hours (the table is per limiter, key and minute).
CREATE VIEW mon_rate_limit_violations AS
SELECT NULL AS org_id, limiter, key, sum(count) AS rejected,
       min(minute) AS first_minute, max(minute) AS last_minute
  FROM rate_limit_violations
 WHERE minute >= strftime('%Y-%m-%dT%H:%MZ', 'now', '-1 day')
 GROUP BY limiter, key;

-- Multi-step provider work (buy, import, release a number) that failed, was undone, or
-- has been running for more than 10 minutes, over the last 30 days, with the step that
-- failed.
CREATE VIEW mon_failed_transactions AS
SELECT s.org_id, s.id, s.kind, s.state,
       json_extract(s.input_json, '$.phoneNumber') AS phone_number,
       (SELECT st.name || ': ' || coalesce(st.error, '') FROM saga_steps st
         WHERE st.saga_id = s.id AND st.state = 'failed' ORDER BY st.id DESC LIMIT 1) AS failed_step,
       coalesce(json_extract(s.error_json, '$.message'), s.error_json, '') AS error,
       s.created_at, s.finished_at
  FROM sagas s
 WHERE s.created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days')
   AND (s.state IN ('failed', 'compensated')
        OR (s.state IN ('running', 'compensating')
            AND s.updated_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 minutes')));

-- Every number with where it stands, and the provider work on it still under way.
CREATE VIEW mon_number_provisioning_status AS
SELECT n.org_id, n.e164, n.role, n.handler, n.origin, n.status, n.twilio_sid,
       n.vapi_phone_number_id, n.created_at, n.released_at,
       (SELECT s.kind || ' ' || s.state FROM sagas s
         WHERE s.state IN ('running', 'compensating')
           AND json_extract(s.input_json, '$.phoneNumber') = n.e164
         ORDER BY s.id DESC LIMIT 1) AS in_progress
  FROM phone_numbers n
 WHERE n.status = 'active'
    OR n.released_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days');

-- Voicemails nobody marked handled: how many, the oldest, and those still without a
-- transcript or an owner text.
CREATE VIEW mon_voicemail_backlog AS
SELECT org_id, count(*) AS waiting, min(created_at) AS oldest,
       sum(transcription_status = 'pending') AS awaiting_transcript,
       sum(owner_notified_at IS NULL) AS owner_not_texted
  FROM voicemails
 WHERE handled = 0
 GROUP BY org_id;

-- The last 7 days, a row a day: calls, what became of them, the answer rate (answered ÷
-- calls that wanted an answer; misdials and rejected calls do not count).
CREATE VIEW mon_call_success_metrics AS
SELECT org_id, substr(started_at, 1, 10) AS day, count(*) AS calls,
       sum(outcome = 'connected') AS connected, sum(outcome = 'ai_handled') AS ai_handled,
       sum(outcome = 'voicemail') AS voicemail, sum(outcome = 'missed') AS missed,
       sum(outcome = 'abandoned') AS abandoned, sum(outcome = 'rejected') AS rejected,
       sum(outcome = 'failed') AS failed,
       round(100.0 * sum(outcome IN ('connected', 'ai_handled'))
             / nullif(sum(outcome IN ('connected', 'ai_handled', 'voicemail', 'missed')), 0), 1)
           AS answer_rate_percent
  FROM calls
 WHERE started_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')
 GROUP BY org_id, day;

-- Recording consent over the last 7 days (SPEC §3.4): how callers answered.
CREATE VIEW mon_consent_metrics AS
SELECT org_id, consent_outcome, count(*) AS calls
  FROM calls
 WHERE started_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days')
 GROUP BY org_id, consent_outcome;
