-- switchboard schema v1: the whole data model of SPEC §2.
-- Timestamps are UTC ISO-8601 text ('2026-11-21T23:16:01.123Z') so they sort and index as text.
-- Every enum-like column has a CHECK so a bad value can never be stored (principle 1).

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE orgs (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(name)) > 0),
    timezone            TEXT NOT NULL DEFAULT 'UTC',
    notification_number TEXT,
    fallback_number     TEXT,
    fallback_message    TEXT,
    max_managed_numbers INTEGER NOT NULL DEFAULT 1 CHECK (max_managed_numbers >= 0),
    is_demo             INTEGER NOT NULL DEFAULT 0 CHECK (is_demo IN (0, 1)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    is_system_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_system_admin IN (0, 1)),
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_login_at   TEXT
);
CREATE INDEX users_org ON users(org_id);

-- Session and API token secrets are stored as SHA-256 hashes only (SPEC §11).
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at   TEXT NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_org ON api_tokens(org_id, created_at DESC);

-- Feature flags (SPEC §5.1). Every flag the code references is seeded here; a test fails
-- otherwise (the seed-000 outage: a route guarded by a flag no migration created).
CREATE TABLE feature_flags (
    flag_key           TEXT PRIMARY KEY,
    flag_name          TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    enabled_globally   INTEGER NOT NULL DEFAULT 0 CHECK (enabled_globally IN (0, 1)),
    rollout_percentage INTEGER NOT NULL DEFAULT 100 CHECK (rollout_percentage BETWEEN 0 AND 100),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO feature_flags (flag_key, flag_name, description, enabled_globally, rollout_percentage) VALUES
    ('managed_telephony', 'Managed telephony',
     'Search, buy, import and release phone numbers from the dashboard.', 1, 100),
    ('missed_call_textback', 'Missed-call text-back',
     'Text a caller back when their call was missed. Needs a registered messaging sender (10DLC) in the US.', 0, 100),
    ('ai_agents', 'AI agents', 'Hand calls to Vapi voice agents.', 1, 100),
    ('sms_onboarding', 'SMS onboarding', 'Sign up new businesses by text message on onboarding numbers.', 1, 100),
    ('call_recording', 'Call recording', 'Allow call recording with a consent disclosure.', 1, 100);

CREATE TABLE org_feature_overrides (
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    flag_key   TEXT NOT NULL REFERENCES feature_flags(flag_key) ON DELETE CASCADE,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    PRIMARY KEY (org_id, flag_key)
);

-- Provider credentials. `secret_ciphertext` is AEAD-encrypted with the appliance key
-- (data/secret.key or SWITCHBOARD_SECRET_KEY); plaintext secrets never touch the disk.
CREATE TABLE provider_accounts (
    id                INTEGER PRIMARY KEY,
    org_id            INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    provider          TEXT NOT NULL CHECK (provider IN ('twilio', 'vapi')),
    kind              TEXT NOT NULL CHECK (kind IN ('master', 'subaccount', 'api_key')),
    account_sid       TEXT,
    secret_ciphertext TEXT,
    is_managed        INTEGER NOT NULL DEFAULT 0 CHECK (is_managed IN (0, 1)),
    friendly_name     TEXT,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_by_saga   INTEGER,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX provider_accounts_sid ON provider_accounts(provider, account_sid)
    WHERE account_sid IS NOT NULL;
CREATE INDEX provider_accounts_org ON provider_accounts(org_id, provider, status);

CREATE TABLE agents (
    id                INTEGER PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name              TEXT NOT NULL CHECK (length(trim(name)) > 0),
    vapi_assistant_id TEXT,
    sip_uri           TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (org_id, name)
);
CREATE UNIQUE INDEX agents_assistant ON agents(vapi_assistant_id) WHERE vapi_assistant_id IS NOT NULL;

-- The single source of truth for a number (SPEC §2, §3.2). The role is stored, never
-- inferred; the number→agent link lives here and only here.
CREATE TABLE phone_numbers (
    id                   INTEGER PRIMARY KEY,
    org_id               INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    e164                 TEXT NOT NULL CHECK (e164 GLOB '+[1-9]*' AND length(e164) BETWEEN 8 AND 16),
    role                 TEXT NOT NULL CHECK (role IN ('operational', 'onboarding', 'system')),
    handler              TEXT NOT NULL DEFAULT 'ivr' CHECK (handler IN ('ivr', 'vapi')),
    origin               TEXT NOT NULL CHECK (origin IN ('managed', 'imported', 'manual')),
    status               TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'released')),
    twilio_sid           TEXT,
    provider_account_id  INTEGER REFERENCES provider_accounts(id) ON DELETE SET NULL,
    vapi_phone_number_id TEXT,
    agent_id             INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    friendly_name        TEXT,
    description          TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    released_at          TEXT,
    -- An onboarding number is SMS-only: the AI may never answer it (seed 003).
    CHECK (NOT (role = 'onboarding' AND handler = 'vapi')),
    CHECK ((status = 'released') = (released_at IS NOT NULL))
);
CREATE UNIQUE INDEX phone_numbers_active_e164 ON phone_numbers(e164) WHERE status = 'active';
CREATE UNIQUE INDEX phone_numbers_active_vapi ON phone_numbers(vapi_phone_number_id)
    WHERE vapi_phone_number_id IS NOT NULL AND status = 'active';
CREATE INDEX phone_numbers_role ON phone_numbers(role);
CREATE INDEX phone_numbers_org ON phone_numbers(org_id, status);
CREATE INDEX phone_numbers_agent ON phone_numbers(agent_id) WHERE agent_id IS NOT NULL;

-- Call flow per org (phone_number_id NULL) or per number; JSON validated by the
-- no-dead-ends check (SPEC §3.3) before it is stored.
CREATE TABLE call_flows (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    phone_number_id INTEGER REFERENCES phone_numbers(id) ON DELETE CASCADE,
    config_json     TEXT NOT NULL CHECK (json_valid(config_json)),
    version         INTEGER NOT NULL DEFAULT 1,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_by      INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX call_flows_scope ON call_flows(org_id, ifnull(phone_number_id, 0));

-- One row per call, whichever provider answered it.
CREATE TABLE calls (
    id                   INTEGER PRIMARY KEY,
    org_id               INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    provider             TEXT NOT NULL CHECK (provider IN ('twilio', 'vapi')),
    call_sid             TEXT,
    vapi_call_id         TEXT,
    direction            TEXT NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound', 'web')),
    from_number          TEXT,
    to_number            TEXT,
    phone_number_id      INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    number_role          TEXT CHECK (number_role IS NULL OR number_role IN ('operational', 'onboarding', 'system')),
    agent_id             INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    status               TEXT NOT NULL DEFAULT 'ringing',
    outcome              TEXT CHECK (outcome IS NULL OR outcome IN
                             ('connected', 'voicemail', 'missed', 'abandoned', 'rejected', 'ai_handled', 'failed')),
    started_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    answered_at          TEXT,
    ended_at             TEXT,
    duration_seconds     INTEGER,
    menu_choices         TEXT NOT NULL DEFAULT '',
    consent_outcome      TEXT NOT NULL DEFAULT 'not_asked' CHECK (consent_outcome IN
                             ('not_asked', 'announced', 'granted', 'declined', 'error')),
    consent_at           TEXT,
    ended_reason         TEXT,
    transcript           TEXT,
    summary              TEXT,
    recording_url        TEXT,
    stereo_recording_url TEXT,
    cost                 REAL,
    -- Missed-call text-back: scheduled when the call ends missed, processed once.
    textback_state       TEXT CHECK (textback_state IS NULL OR textback_state IN
                             ('scheduled', 'processing', 'sent', 'blocked', 'skipped')),
    textback_due_at      TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (call_sid IS NOT NULL OR vapi_call_id IS NOT NULL)
);
-- Provider ids are unique where present; partial indexes keep the other provider's NULLs
-- out of each index (one B-tree write less per call).
CREATE UNIQUE INDEX calls_call_sid ON calls(call_sid) WHERE call_sid IS NOT NULL;
CREATE UNIQUE INDEX calls_vapi_call_id ON calls(vapi_call_id) WHERE vapi_call_id IS NOT NULL;
CREATE INDEX calls_org_started ON calls(org_id, started_at DESC, id DESC);
CREATE INDEX calls_org_number ON calls(org_id, phone_number_id, started_at DESC);
CREATE INDEX calls_org_from ON calls(org_id, from_number, started_at DESC);
CREATE INDEX calls_org_outcome ON calls(org_id, outcome, started_at DESC);
CREATE INDEX calls_active ON calls(started_at) WHERE ended_at IS NULL;
CREATE INDEX calls_textback_due ON calls(textback_due_at) WHERE textback_state = 'scheduled';

-- Append-only timeline per call; dedup_key makes a redelivered event a no-op.
CREATE TABLE call_events (
    id        INTEGER PRIMARY KEY,
    call_id   INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    kind      TEXT NOT NULL,
    detail    TEXT CHECK (detail IS NULL OR json_valid(detail)),
    dedup_key TEXT,
    UNIQUE (call_id, dedup_key)
);
-- UNIQUE (call_id, dedup_key) also serves "the events of a call".

CREATE TABLE voicemails (
    id                   INTEGER PRIMARY KEY,
    org_id               INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    call_id              INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    recording_sid        TEXT UNIQUE,
    recording_url        TEXT,
    duration_seconds     INTEGER,
    transcription_text   TEXT,
    transcription_status TEXT NOT NULL DEFAULT 'pending'
                             CHECK (transcription_status IN ('pending', 'completed', 'failed', 'absent')),
    handled              INTEGER NOT NULL DEFAULT 0 CHECK (handled IN (0, 1)),
    handled_at           TEXT,
    handled_by           INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- The owner is texted once: when the transcript is ready, or at this time without it.
    notify_due_at        TEXT,
    owner_notified_at    TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX voicemails_notify_due ON voicemails(notify_due_at) WHERE owner_notified_at IS NULL;
CREATE INDEX voicemails_org ON voicemails(org_id, handled, created_at DESC);
CREATE INDEX voicemails_call ON voicemails(call_id);

CREATE TABLE leads (
    id                INTEGER PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    phone_number_id   INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    customer_number   TEXT NOT NULL,
    call_id           INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    source            TEXT NOT NULL DEFAULT 'sms' CHECK (source IN ('sms', 'vapi', 'manual')),
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'handled')),
    summary           TEXT,
    acknowledged_at   TEXT,
    owner_notified_at TEXT,
    last_message_at   TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX leads_org ON leads(org_id, created_at DESC);
CREATE INDEX leads_customer ON leads(org_id, phone_number_id, customer_number, status);

-- Every SMS in and out. Blocked text-backs are stored too, with the reason (SPEC §3.6).
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    sid             TEXT UNIQUE,
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number     TEXT NOT NULL,
    to_number       TEXT NOT NULL,
    phone_number_id INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    call_id         INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    lead_id         INTEGER REFERENCES leads(id) ON DELETE SET NULL,
    body            TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL CHECK (kind IN ('textback', 'onboarding', 'intake', 'notification', 'reply')),
    status          TEXT NOT NULL,
    blocked_reason  TEXT,
    error_code      TEXT,
    error_message   TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX messages_org ON messages(org_id, created_at DESC);
CREATE INDEX messages_cooldown ON messages(from_number, to_number, kind, created_at);
-- At most one text-back per call, whatever the number of status callbacks (SPEC §3.6).
CREATE UNIQUE INDEX messages_one_textback_per_call ON messages(call_id)
    WHERE kind = 'textback' AND call_id IS NOT NULL;

CREATE TABLE onboarding_requests (
    id              INTEGER PRIMARY KEY,
    phone_number_id INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    sender          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN
                        ('greeted', 'name_received', 'pending_approval', 'approved', 'rejected', 'cancelled')),
    business_name   TEXT,
    approved_org_id INTEGER REFERENCES orgs(id) ON DELETE SET NULL,
    decided_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    decided_at      TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX onboarding_open ON onboarding_requests(phone_number_id, sender)
    WHERE state IN ('greeted', 'name_received', 'pending_approval');

-- STOP is per business number (the sender the customer replied to), kept across releases.
CREATE TABLE opt_outs (
    business_number TEXT NOT NULL,
    customer_number TEXT NOT NULL,
    opted_out_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    keyword         TEXT,
    PRIMARY KEY (business_number, customer_number)
);

CREATE TABLE webhook_ledger (
    id              INTEGER PRIMARY KEY,
    provider        TEXT NOT NULL CHECK (provider IN ('twilio', 'vapi')),
    route           TEXT NOT NULL,
    idempotency_key TEXT,
    reference       TEXT,
    org_id          INTEGER REFERENCES orgs(id) ON DELETE SET NULL,
    signature       TEXT NOT NULL CHECK (signature IN ('valid', 'invalid', 'missing', 'skipped')),
    http_status     INTEGER NOT NULL,
    latency_ms      REAL,
    error           TEXT,
    remote_ip       TEXT,
    received_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX webhook_ledger_provider ON webhook_ledger(provider, received_at);
CREATE INDEX webhook_ledger_key ON webhook_ledger(provider, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX webhook_ledger_reference ON webhook_ledger(reference) WHERE reference IS NOT NULL;

CREATE TABLE idempotency_keys (
    org_id           INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
    response_status  INTEGER,
    response_headers TEXT,
    response_body    BLOB,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE sagas (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER REFERENCES orgs(id) ON DELETE SET NULL,
    kind         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('running', 'compensating', 'completed', 'compensated', 'failed')),
    input_json   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(input_json)),
    context_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(context_json)),
    error_json   TEXT CHECK (error_json IS NULL OR json_valid(error_json)),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at  TEXT
);
CREATE INDEX sagas_unfinished ON sagas(state) WHERE state IN ('running', 'compensating');
CREATE INDEX sagas_org ON sagas(org_id, created_at DESC);

CREATE TABLE saga_steps (
    id          INTEGER PRIMARY KEY,
    saga_id     INTEGER NOT NULL REFERENCES sagas(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    name        TEXT NOT NULL,
    phase       TEXT NOT NULL CHECK (phase IN ('action', 'compensation')),
    state       TEXT NOT NULL CHECK (state IN ('started', 'succeeded', 'failed', 'skipped')),
    output_json TEXT CHECK (output_json IS NULL OR json_valid(output_json)),
    error       TEXT,
    started_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at TEXT,
    UNIQUE (saga_id, seq, phase)
);

-- Aggregated per (limiter, key, minute): a flood costs one write per key and minute.
CREATE TABLE rate_limit_violations (
    limiter TEXT NOT NULL,
    key     TEXT NOT NULL,
    minute  TEXT NOT NULL,
    count   INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (limiter, key, minute)
);
CREATE INDEX rate_limit_violations_minute ON rate_limit_violations(minute);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    org_id  INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    detail  TEXT CHECK (detail IS NULL OR json_valid(detail)),
    ip      TEXT,
    at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX audit_log_org ON audit_log(org_id, at DESC);
