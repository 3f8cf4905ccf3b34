-- A call's ledger rows were found through an index on their reference (the CallSid or the
-- Vapi call id). Those ids are random, so every webhook's ledger row went into a random
-- page of that index, and each such page is one more page written to the WAL and copied
-- into the database for every webhook: with random CallSids, as Twilio sends them, a
-- fifth of the hot path's cost.
--
-- A ledger row about a call now also keeps the call's row id, which is recent for every
-- webhook of a live call, so its index grows at its end. The reference index keeps only
-- the rows no call row answers to (texts, and webhooks refused before their call was
-- stored). A lookup by reference goes through the call for the first and through the
-- reference for the second, and finds exactly the rows it found before.
ALTER TABLE webhook_ledger ADD COLUMN call_id INTEGER;

UPDATE webhook_ledger
SET call_id = (SELECT id FROM calls WHERE calls.call_sid = webhook_ledger.reference)
WHERE provider = 'twilio' AND reference IS NOT NULL;

UPDATE webhook_ledger
SET call_id = (SELECT id FROM calls WHERE calls.vapi_call_id = webhook_ledger.reference)
WHERE provider = 'vapi' AND reference IS NOT NULL;

DROP INDEX webhook_ledger_reference;
CREATE INDEX webhook_ledger_call ON webhook_ledger(call_id) WHERE call_id IS NOT NULL;
CREATE INDEX webhook_ledger_reference ON webhook_ledger(reference)
    WHERE reference IS NOT NULL AND call_id IS NULL;
