-- The Overview's to-do list: a missed call, or an AI call whose summary asks for a call
-- back, stays to do until it is followed up — marked done by a person (this column), or
-- settled by what happened since (the business replied by text, or the caller reached
-- someone on a later call), which the list's query reads.
ALTER TABLE calls ADD COLUMN followed_up_at TEXT;
CREATE INDEX calls_to_follow_up ON calls(org_id, started_at DESC)
    WHERE followed_up_at IS NULL AND (outcome = 'missed' OR outcome = 'ai_handled');
-- "Did this call become a conversation?" is asked of every call on the list.
CREATE INDEX leads_call ON leads(call_id) WHERE call_id IS NOT NULL;
