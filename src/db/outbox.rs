//! The notification outbox (SPEC §12): a row per (event, user, channel), written in the
//! transaction of the event it tells of — `INSERT OR IGNORE` on that key makes a webhook
//! delivered twice one row — then sent by a background worker with backoff. And each
//! user's choice of what reaches them by email.

use rusqlite::{Connection, OptionalExtension};

/// What a notification tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Voicemail,
    Lead,
    MissedCall,
}

impl Event {
    pub const ALL: [Event; 3] = [Event::Voicemail, Event::Lead, Event::MissedCall];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Voicemail => "voicemail",
            Event::Lead => "lead",
            Event::MissedCall => "missed_call",
        }
    }

    /// Whether a user gets it by email when they have not chosen: owners get voicemails
    /// and new leads; missed calls (the text-back already answers them) reach nobody.
    pub fn email_by_default(self, role: crate::domain::UserRole) -> bool {
        role == crate::domain::UserRole::Owner && self != Event::MissedCall
    }
}

/// An email about one event, for everyone of the org who wants that kind by email.
pub struct NewMail<'a> {
    pub org_id: i64,
    pub event: Event,
    /// The event's own key, e.g. `voicemail:12`: one email per key and user.
    pub key: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// A voicemail whose recording goes with it.
    pub voicemail_id: Option<i64>,
}

/// Queues `mail` for each user who wants it; returns how many rows are new (0 for a
/// repeat of the same event).
pub fn enqueue_email(conn: &Connection, mail: &NewMail<'_>) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR IGNORE INTO outbox
             (org_id, user_id, channel, event, recipient, subject, body_text, body_html, voicemail_id)
         SELECT ?1, u.id, 'email', ?2, u.email, ?3, ?4, ?5, ?6
         FROM users u
         LEFT JOIN notification_prefs p ON p.user_id = u.id AND p.event = ?7 AND p.channel = 'email'
         WHERE u.org_id = ?1
           AND COALESCE(p.enabled, u.role = 'owner' AND ?7 IN ('voicemail', 'lead'))",
        rusqlite::params![
            mail.org_id,
            mail.key,
            mail.subject,
            mail.text,
            mail.html,
            mail.voicemail_id,
            mail.event.as_str()
        ],
    )
}

/// A queued email whose time has come.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub voicemail_id: Option<i64>,
    pub attempts: i64,
}

pub fn due(conn: &Connection, now: &str, limit: u32) -> rusqlite::Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, recipient, subject, body_text, body_html, voicemail_id, attempts FROM outbox
         WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2",
    )?;
    let rows = stmt.query_map((now, limit), |r| {
        Ok(Due {
            id: r.get(0)?,
            recipient: r.get(1)?,
            subject: r.get(2)?,
            text: r.get(3)?,
            html: r.get(4)?,
            voicemail_id: r.get(5)?,
            attempts: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// When the next pending email falls due, if any.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )
}

pub fn mark_sent(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, last_error = NULL,
             sent_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// Records a failed attempt: tried again at `retry_at`, or given up (`None`).
pub fn mark_failed(
    conn: &Connection,
    id: i64,
    error: &str,
    retry_at: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
             status = CASE WHEN ?3 IS NULL THEN 'failed' ELSE 'pending' END,
             next_attempt_at = COALESCE(?3, next_attempt_at) WHERE id = ?1",
        rusqlite::params![id, error, retry_at],
    )?;
    Ok(())
}

/// How email delivery is going, for Health.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub sent: i64,
    pub pending: i64,
    pub failed: i64,
    /// The mail server's answer to the latest failed attempt still pending or given up.
    pub last_error: Option<String>,
    pub retrying: i64,
}

pub fn summary(conn: &Connection, org_id: i64) -> rusqlite::Result<Summary> {
    let (sent, pending, failed, retrying) = conn.query_row(
        "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'pending'),
                count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'pending' AND last_error IS NOT NULL)
         FROM outbox WHERE org_id = ?1",
        [org_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let last_error = conn
        .query_row(
            "SELECT last_error FROM outbox WHERE org_id = ?1 AND status <> 'sent' AND last_error IS NOT NULL
             ORDER BY next_attempt_at DESC LIMIT 1",
            [org_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(Summary {
        sent,
        pending,
        failed,
        last_error,
        retrying,
    })
}

/// A user's email choice for each event (their own, else the default for their role).
pub fn email_prefs(
    conn: &Connection,
    user_id: i64,
    role: crate::domain::UserRole,
) -> rusqlite::Result<Vec<(Event, bool)>> {
    let mut out = Vec::new();
    for event in Event::ALL {
        let chosen: Option<bool> = conn
            .query_row(
                "SELECT enabled FROM notification_prefs WHERE user_id = ?1 AND event = ?2 AND channel = 'email'",
                (user_id, event.as_str()),
                |r| r.get(0),
            )
            .optional()?;
        out.push((
            event,
            chosen.unwrap_or_else(|| event.email_by_default(role)),
        ));
    }
    Ok(out)
}

pub fn set_email_pref(
    conn: &Connection,
    user_id: i64,
    event: Event,
    enabled: bool,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO notification_prefs (user_id, event, channel, enabled) VALUES (?1, ?2, 'email', ?3)
         ON CONFLICT (user_id, event, channel) DO UPDATE SET enabled = excluded.enabled",
        (user_id, event.as_str(), enabled),
    )?;
    Ok(())
}
