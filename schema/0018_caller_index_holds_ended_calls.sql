-- The caller index holds ended calls only. Caller numbers are random, so indexing a call
-- by its caller writes a page at a random place in the index: of the 3.3 pages the entry
-- webhook (which a ringing caller waits for) wrote per call, 1.3 were this index's (SPEC
-- §10). The call is indexed by caller when it ends, in the status callback nobody waits
-- on. Calls in progress are few, and `calls_active`
-- holds them; `calls_by_caller` reads both, so a query by caller sees every call: ended
-- ones through `calls_org_from`, the others through `calls_active` (Twilio ends every call
-- within a day, so it holds the calls ringing or talking now and those that lost their
-- status callback, which the monitoring view of active calls shows).
DROP INDEX calls_org_from;
CREATE INDEX calls_org_from ON calls(org_id, from_number, started_at DESC, id DESC)
    WHERE ended_at IS NOT NULL;
CREATE VIEW calls_by_caller AS
    SELECT * FROM calls WHERE ended_at IS NOT NULL
    UNION ALL
    SELECT * FROM calls INDEXED BY calls_active WHERE ended_at IS NULL;
