-- Contacts (SPEC §13): who a number is, per organization. The name replaces the bare
-- number in every list, timeline, notification and the screening whisper.
CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    -- E.164, as calls and texts store it.
    number     TEXT NOT NULL,
    name       TEXT NOT NULL CHECK (length(name) >= 1 AND length(name) <= 120),
    notes      TEXT NOT NULL DEFAULT '',
    -- A JSON array of short words ("vip", "landlord").
    tags       TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (org_id, number)
);
CREATE INDEX contacts_org_name ON contacts (org_id, name COLLATE NOCASE);

-- A contact's history reads each kind by the customer's number, newest first.
CREATE INDEX messages_org_from ON messages (org_id, from_number, created_at DESC);
CREATE INDEX messages_org_to ON messages (org_id, to_number, created_at DESC);
CREATE INDEX leads_org_customer ON leads (org_id, customer_number, created_at DESC);
