-- Two-factor sign-in (SPEC §14): a user's TOTP secret, sealed with the appliance key. While
-- `enabled_at` is NULL the user is enrolling (the secret was shown, no code confirmed yet).
-- `last_step` is the highest 30-second step a code was accepted for, so no code works twice.
CREATE TABLE user_totp (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    enabled_at TEXT,
    last_step INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One-time recovery codes, stored as SHA-256; `used_at` set when one signs a user in.
CREATE TABLE totp_recovery_codes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX totp_recovery_codes_user ON totp_recovery_codes (user_id);

-- Owners and admins of an org with this on must sign in with a second factor; until they
-- enrol, their sessions reach only enrolment.
ALTER TABLE orgs ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;
