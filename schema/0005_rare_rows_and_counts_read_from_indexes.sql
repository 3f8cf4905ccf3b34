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
