-- Counting a day or a week of a year's calls (the Overview, the monitoring views) read
-- every call's row for its outcome, and every call's timeline for the rare invariant or
-- text-back event: tens of milliseconds at a million calls.
--
-- The index that serves the Calls page order also carries outcome and consent, so those
-- counts read the index alone (the same number of index writes per call as before).
DROP INDEX calls_org_started;
CREATE INDEX calls_org_started ON calls(org_id, started_at DESC, id DESC, outcome, consent_outcome);

-- Invariant violations, text-backs and failed webhooks are a few rows among millions:
-- small partial indexes find them by time (a row of another kind costs no index write).
CREATE INDEX call_events_invariants ON call_events(at) WHERE kind = 'invariant';
CREATE INDEX call_events_textbacks ON call_events(at) WHERE kind IN ('textback.sent', 'textback.blocked');
CREATE INDEX webhook_ledger_errors ON webhook_ledger(received_at) WHERE http_status >= 400;

-- Recent errors, read through those indexes.
DROP VIEW mon_recent_errors;
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

