-- Never lose a caller (SPEC §3.6, §3.8, §3.9): a blocked caller's call has an outcome of
-- its own, a text-back deferred to the end of quiet hours can be cancelled, each call keeps
-- Twilio's caller-ID verification, and each organization has a blocklist.
--
-- Two CHECKs gain a value. As in migration 6, the stored definition is edited in place
-- (SQLite's documented way; every stored row satisfies the wider constraint), RESET makes
-- this connection read it again, and the CREATE TABLE below changes the schema, which makes
-- every other connection read it.
PRAGMA writable_schema = ON;

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'OR outcome = ''failed'')',
    'OR outcome = ''failed'' OR outcome = ''blocked'')'),
    'OR textback_state = ''skipped'')',
    'OR textback_state = ''skipped'' OR textback_state = ''cancelled'')')
WHERE type = 'table' AND name = 'calls';

PRAGMA writable_schema = RESET;

-- Twilio's `StirVerstat` (e.g. `TN-Validation-Passed-A`, `TN-Validation-Failed-B`), as sent.
ALTER TABLE calls ADD COLUMN stir_verstat TEXT;
-- 1 when the text-back waits for the end of quiet hours (`textback_due_at`).
ALTER TABLE calls ADD COLUMN textback_deferred INTEGER NOT NULL DEFAULT 0
    CHECK (textback_deferred = 0 OR textback_deferred = 1);

CREATE TABLE blocklist (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    -- Exactly one of: an E.164 number, or the start of one (`+1900`).
    number     TEXT,
    prefix     TEXT,
    note       TEXT NOT NULL DEFAULT '',
    -- Who added it (an email, or `cli`).
    created_by TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK ((number IS NULL) <> (prefix IS NULL))
);
CREATE UNIQUE INDEX blocklist_number ON blocklist(org_id, number) WHERE number IS NOT NULL;
CREATE UNIQUE INDEX blocklist_prefix ON blocklist(org_id, prefix) WHERE prefix IS NOT NULL;

