-- The owner's loop (SPEC §12): each user's own mobile, quiet hours and daily-summary hour;
-- notifications by SMS and web push through the same outbox as email; push subscriptions;
-- callbacks placed from the business number.

ALTER TABLE users ADD COLUMN mobile TEXT;
-- 'HH:MM' in the org's time zone; both set or both NULL (no quiet hours).
ALTER TABLE users ADD COLUMN quiet_start TEXT;
ALTER TABLE users ADD COLUMN quiet_end TEXT;
-- The local hour the daily summary goes out, when the user asked for one.
ALTER TABLE users ADD COLUMN summary_hour INTEGER NOT NULL DEFAULT 8
    CHECK (summary_hour >= 0 AND summary_hour <= 23);

-- The org's notification number (SPEC §3.3) becomes its first owner's mobile, which the
-- owner's SMS preference texts (voicemails and new leads, as before).
UPDATE users SET mobile = (SELECT notification_number FROM orgs WHERE orgs.id = users.org_id)
WHERE mobile IS NULL AND role = 'owner'
  AND id = (SELECT min(u.id) FROM users u WHERE u.org_id = users.org_id AND u.role = 'owner');

-- And they stay one: the Business settings' notification number and the first owner's own
-- mobile (Settings → Notifications) are the same number, whichever is changed.
CREATE TRIGGER org_notification_number_is_owner_mobile
AFTER UPDATE OF notification_number ON orgs
BEGIN
    UPDATE users SET mobile = NEW.notification_number
    WHERE id = (SELECT min(u.id) FROM users u WHERE u.org_id = NEW.id AND u.role = 'owner')
      AND mobile IS NOT NEW.notification_number;
END;
CREATE TRIGGER owner_mobile_is_org_notification_number
AFTER UPDATE OF mobile ON users
WHEN NEW.role = 'owner'
 AND NEW.id = (SELECT min(u.id) FROM users u WHERE u.org_id = NEW.org_id AND u.role = 'owner')
BEGIN
    UPDATE orgs SET notification_number = NEW.mobile
    WHERE id = NEW.org_id AND notification_number IS NOT NEW.mobile;
END;
CREATE TRIGGER first_owner_takes_org_notification_number
AFTER INSERT ON users
WHEN NEW.role = 'owner' AND NEW.mobile IS NULL
 AND NEW.id = (SELECT min(u.id) FROM users u WHERE u.org_id = NEW.org_id AND u.role = 'owner')
BEGIN
    UPDATE users SET mobile = (SELECT notification_number FROM orgs WHERE id = NEW.org_id)
    WHERE id = NEW.id;
END;

-- One subscription per user and device (browser), as the browser's push service gave it.
CREATE TABLE push_subscriptions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    endpoint     TEXT NOT NULL UNIQUE,
    p256dh       TEXT NOT NULL,
    auth         TEXT NOT NULL,
    -- What the device called itself when it subscribed ("Chrome on Android").
    device       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_push_at TEXT
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);

-- The outbox takes SMS and push beside email. A push row is per device (its recipient is
-- the subscription), so one device failing never sends twice to another.
CREATE TABLE outbox_v2 (
    id                   INTEGER PRIMARY KEY,
    org_id               INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel              TEXT NOT NULL CHECK (channel = 'email' OR channel = 'sms' OR channel = 'push'),
    event                TEXT NOT NULL,
    -- An email address, a mobile number, or 'push:<subscription id>'.
    recipient            TEXT NOT NULL,
    subject              TEXT NOT NULL,
    body_text            TEXT NOT NULL,
    body_html            TEXT NOT NULL,
    -- The dashboard page the notification opens (a push's click, an SMS's link).
    url                  TEXT NOT NULL DEFAULT '',
    voicemail_id         INTEGER REFERENCES voicemails(id) ON DELETE SET NULL,
    -- An SMS goes from this business number, filed with its call or lead.
    phone_number_id      INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    call_id              INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    lead_id              INTEGER REFERENCES leads(id) ON DELETE SET NULL,
    push_subscription_id INTEGER REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status = 'pending' OR status = 'sent' OR status = 'failed'),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_error           TEXT,
    sent_at              TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (event, user_id, channel, recipient)
);
INSERT INTO outbox_v2 (id, org_id, user_id, channel, event, recipient, subject, body_text, body_html,
                       voicemail_id, status, attempts, next_attempt_at, last_error, sent_at, created_at)
SELECT id, org_id, user_id, channel, event, recipient, subject, body_text, body_html,
       voicemail_id, status, attempts, next_attempt_at, last_error, sent_at, created_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_org ON outbox (org_id, status);

CREATE TABLE notification_prefs_v2 (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    event   TEXT NOT NULL CHECK (event = 'voicemail' OR event = 'lead' OR event = 'missed_call' OR event = 'summary'),
    channel TEXT NOT NULL CHECK (channel = 'email' OR channel = 'sms' OR channel = 'push'),
    enabled INTEGER NOT NULL,
    PRIMARY KEY (user_id, event, channel)
);
INSERT INTO notification_prefs_v2 SELECT user_id, event, channel, enabled FROM notification_prefs;
DROP TABLE notification_prefs;
ALTER TABLE notification_prefs_v2 RENAME TO notification_prefs;

-- "Call back" (SPEC §12): Twilio rings the user's own phone from the business number, then
-- dials the customer. The outbound call row is made once Twilio names the call (its SID).
CREATE TABLE callbacks (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    phone_number_id INTEGER REFERENCES phone_numbers(id) ON DELETE SET NULL,
    business_number TEXT NOT NULL,
    customer        TEXT NOT NULL,
    user_mobile     TEXT NOT NULL,
    -- The call, voicemail's call or lead's call it answers, if any.
    origin_call_id  INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    call_sid        TEXT UNIQUE,
    call_id         INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    -- The user's side: requested → ringing → answered, or no-answer / busy / failed / machine.
    user_status     TEXT NOT NULL DEFAULT 'requested',
    -- The customer's side once dialled: answered, no-answer, busy, failed, canceled.
    customer_status TEXT,
    customer_seconds INTEGER,
    error           TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX callbacks_org ON callbacks (org_id, id);
CREATE INDEX callbacks_call ON callbacks (call_id) WHERE call_id IS NOT NULL;
