-- Notifications to the people of the business (SPEC §12): a row per (event, user, channel),
-- written in the same transaction as the event it tells of, so a webhook delivered twice
-- makes one row; a background worker sends it and retries with backoff.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel         TEXT NOT NULL CHECK (channel = 'email'),
    -- What it tells of: 'voicemail:12', 'lead:7', 'missed_call:40'.
    event           TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    -- A voicemail whose recording is attached.
    voicemail_id    INTEGER REFERENCES voicemails(id) ON DELETE SET NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status = 'pending' OR status = 'sent' OR status = 'failed'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- The server's answer to the last failed attempt (an SMTP reply, a connection error).
    last_error      TEXT,
    sent_at         TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (event, user_id, channel)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

-- Which events reach a user by which channel. No row: the default (an owner gets voicemail
-- and new-lead emails; nobody gets missed-call emails).
CREATE TABLE notification_prefs (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    event   TEXT NOT NULL CHECK (event = 'voicemail' OR event = 'lead' OR event = 'missed_call'),
    channel TEXT NOT NULL CHECK (channel = 'email'),
    enabled INTEGER NOT NULL,
    PRIMARY KEY (user_id, event, channel)
);
