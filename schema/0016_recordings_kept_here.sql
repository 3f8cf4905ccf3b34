-- Recordings kept here (SPEC §13): after the recording callback the appliance downloads
-- the audio and keeps it in this database — so `switchboard backup`, `restore` and
-- Litestream carry it with everything else, in one consistent file — plays it from here,
-- then deletes it at Twilio. Each org may delete recordings and transcripts after N days.
CREATE TABLE recordings (
    voicemail_id  INTEGER PRIMARY KEY REFERENCES voicemails(id) ON DELETE CASCADE,
    org_id        INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    recording_sid TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    audio         BLOB NOT NULL,
    stored_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The keeping of a voicemail's recording: due at `keep_due_at` (download, then the delete
-- at Twilio), retried with backoff; the last failure is kept for Health.
ALTER TABLE voicemails ADD COLUMN keep_due_at TEXT;
ALTER TABLE voicemails ADD COLUMN keep_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE voicemails ADD COLUMN keep_error TEXT;
-- When Twilio's copy was deleted (or found gone).
ALTER TABLE voicemails ADD COLUMN twilio_deleted_at TEXT;
-- When the retention deleted the recording and transcript here.
ALTER TABLE voicemails ADD COLUMN purged_at TEXT;
CREATE INDEX voicemails_keep_due ON voicemails (keep_due_at) WHERE keep_due_at IS NOT NULL;
CREATE INDEX voicemails_org_created ON voicemails (org_id, created_at) WHERE purged_at IS NULL;

-- Delete each recording at Twilio once it is kept here (on by default); delete recordings
-- and transcripts older than this many days (NULL: keep them).
ALTER TABLE orgs ADD COLUMN delete_recordings_at_twilio INTEGER NOT NULL DEFAULT 1
    CHECK (delete_recordings_at_twilio = 0 OR delete_recordings_at_twilio = 1);
ALTER TABLE orgs ADD COLUMN recording_retention_days INTEGER
    CHECK (recording_retention_days IS NULL OR recording_retention_days >= 1);
