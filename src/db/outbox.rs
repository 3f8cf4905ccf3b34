//! The notification outbox (SPEC §12): a row per (event, user, channel, recipient), written
//! in the transaction of the event it tells of — `INSERT OR IGNORE` on that key makes a
//! webhook delivered twice one row — then sent by a background worker with backoff. And
//! each user's choice of which events reach them by which channel.

use super::Cached;
use crate::domain::UserRole;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

crate::domain::roles::string_enum!(
    /// How a notification reaches a person.
    Channel { Email => "email", Sms => "sms", Push => "push" }
);

crate::domain::roles::string_enum!(
    /// What a notification tells of.
    Event {
        Voicemail => "voicemail",
        Lead => "lead",
        MissedCall => "missed_call",
        Summary => "summary",
    }
);

impl Event {
    /// Whether a user gets it on `channel` when they have not chosen: an owner gets
    /// voicemails and new leads by email and by text (the org's notification number was
    /// the owner's, SPEC §3.3); a device someone subscribed gets every event as it
    /// happens; the daily summary is asked for, never sent unasked.
    pub fn by_default(self, channel: Channel, role: UserRole) -> bool {
        match channel {
            Channel::Email | Channel::Sms => {
                role == UserRole::Owner && matches!(self, Event::Voicemail | Event::Lead)
            }
            Channel::Push => self != Event::Summary,
        }
    }
}

/// One event told to everyone of the org who wants it, on each channel they chose.
pub struct Notice<'a> {
    pub org_id: i64,
    /// Only this user (a daily summary is one person's), else everyone of the org.
    pub only: Option<i64>,
    pub event: Event,
    /// The event's own key, e.g. `voicemail:12`: one notification per key, user and channel.
    pub key: &'a str,
    /// The email's subject and the push's title.
    pub subject: &'a str,
    /// The email, in plain text and HTML.
    pub text: &'a str,
    pub html: &'a str,
    /// The text message and the push's body.
    pub short: &'a str,
    /// The dashboard page it opens.
    pub url: &'a str,
    /// A voicemail whose recording goes with the email.
    pub voicemail_id: Option<i64>,
    /// The business number a text goes out from, and the call or lead it is filed with.
    pub phone_number_id: Option<i64>,
    pub call_id: Option<i64>,
    pub lead_id: Option<i64>,
}

/// Which channels can send at all (email needs an SMTP server; push needs the keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Senders {
    pub email: bool,
    pub push: bool,
}

/// How many notifications a notice queued, per channel (0 for a repeat of the event).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    pub email: usize,
    pub sms: usize,
    pub push: usize,
}

impl Queued {
    pub fn any(&self) -> bool {
        self.email + self.sms + self.push > 0
    }
}

/// A user as the outbox sees them.
struct Person {
    id: i64,
    role: UserRole,
    email: String,
    mobile: Option<String>,
    quiet: Option<(String, String)>,
}

fn people(conn: &Connection, org_id: i64) -> rusqlite::Result<Vec<Person>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, role, email, mobile, quiet_start, quiet_end FROM users WHERE org_id = ?1",
    )?;
    let rows = stmt.query_map([org_id], |r| {
        let (start, end): (Option<String>, Option<String>) = (r.get(4)?, r.get(5)?);
        Ok(Person {
            id: r.get(0)?,
            role: r.get(1)?,
            email: r.get(2)?,
            mobile: r.get(3)?,
            quiet: start.zip(end),
        })
    })?;
    rows.collect()
}

/// The user's choice for (event, channel), else the default for their role.
pub fn wants(
    conn: &Connection,
    user_id: i64,
    role: UserRole,
    event: Event,
    channel: Channel,
) -> rusqlite::Result<bool> {
    let chosen: Option<bool> = conn
        .prepare_cached(
            "SELECT enabled FROM notification_prefs WHERE user_id = ?1 AND event = ?2 AND channel = ?3",
        )?
        .query_row((user_id, event, channel), |r| r.get(0))
        .optional()?;
    Ok(chosen.unwrap_or_else(|| event.by_default(channel, role)))
}

/// When a text or push to someone with these quiet hours may go: at `now`, or when their
/// quiet hours end (org time zone). Email is not held: it waits in the inbox unheard.
pub fn not_before(
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    quiet: Option<&(String, String)>,
) -> DateTime<Utc> {
    let range = quiet.map(|(open, close)| crate::domain::callflow::TimeRange {
        open: open.clone(),
        close: close.clone(),
    });
    crate::domain::textback::deferred_until(now, tz, range.as_ref()).unwrap_or(now)
}

/// Queues `notice` for each user who wants it, on each channel they chose and can be
/// reached by; texts and pushes in someone's quiet hours wait for their end.
pub fn enqueue(
    conn: &Connection,
    notice: &Notice<'_>,
    senders: Senders,
    now: DateTime<Utc>,
) -> rusqlite::Result<Queued> {
    let tz = super::orgs::timezone(conn, notice.org_id)?;
    let mut queued = Queued::default();
    for p in people(conn, notice.org_id)? {
        if notice.only.is_some_and(|only| only != p.id) {
            continue;
        }
        let wants = |channel| wants(conn, p.id, p.role, notice.event, channel);
        let held = super::format_time(not_before(now, tz, p.quiet.as_ref()));
        if senders.email && wants(Channel::Email)? {
            queued.email += insert(conn, notice, p.id, Channel::Email, &p.email, None, None)?;
        }
        if let (Some(mobile), Some(_)) = (&p.mobile, notice.phone_number_id) {
            if wants(Channel::Sms)? {
                queued.sms += insert(conn, notice, p.id, Channel::Sms, mobile, None, Some(&held))?;
            }
        }
        if senders.push && wants(Channel::Push)? {
            for sub in subscriptions_of(conn, p.id)? {
                let to = format!("push:{sub}");
                queued.push += insert(
                    conn,
                    notice,
                    p.id,
                    Channel::Push,
                    &to,
                    Some(sub),
                    Some(&held),
                )?;
            }
        }
    }
    Ok(queued)
}

fn insert(
    conn: &Connection,
    n: &Notice<'_>,
    user_id: i64,
    channel: Channel,
    recipient: &str,
    subscription: Option<i64>,
    due: Option<&str>,
) -> rusqlite::Result<usize> {
    let (text, html) = match channel {
        Channel::Email => (n.text, n.html),
        Channel::Sms | Channel::Push => (n.short, ""),
    };
    conn.prepare_cached(
        "INSERT OR IGNORE INTO outbox
             (org_id, user_id, channel, event, recipient, subject, body_text, body_html, url, voicemail_id,
              phone_number_id, call_id, lead_id, push_subscription_id, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                 COALESCE(?15, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    )?
    .execute(rusqlite::params![
        n.org_id,
        user_id,
        channel,
        n.key,
        recipient,
        n.subject,
        text,
        html,
        n.url,
        if channel == Channel::Email {
            n.voicemail_id
        } else {
            None
        },
        n.phone_number_id,
        n.call_id,
        n.lead_id,
        subscription,
        due
    ])
}

fn subscriptions_of(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM push_subscriptions WHERE user_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    rows.collect()
}

/// A queued notification whose time has come.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub org_id: i64,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub url: String,
    pub voicemail_id: Option<i64>,
    pub phone_number_id: Option<i64>,
    pub call_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub push_subscription_id: Option<i64>,
    pub attempts: i64,
}

/// What falls due by `now`, on the channels that can send (`email: false` leaves emails
/// waiting for an SMTP server).
pub fn due(conn: &Connection, now: &str, email: bool, limit: u32) -> rusqlite::Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, org_id, channel, recipient, subject, body_text, body_html, url, voicemail_id, phone_number_id,
                call_id, lead_id, push_subscription_id, attempts
         FROM outbox
         WHERE status = 'pending' AND next_attempt_at <= ?1 AND (?2 OR channel <> 'email')
         ORDER BY next_attempt_at LIMIT ?3",
    )?;
    let rows = stmt.query_map(rusqlite::params![now, email, limit], |r| {
        Ok(Due {
            id: r.get(0)?,
            org_id: r.get(1)?,
            channel: r.get(2)?,
            recipient: r.get(3)?,
            subject: r.get(4)?,
            text: r.get(5)?,
            html: r.get(6)?,
            url: r.get(7)?,
            voicemail_id: r.get(8)?,
            phone_number_id: r.get(9)?,
            call_id: r.get(10)?,
            lead_id: r.get(11)?,
            push_subscription_id: r.get(12)?,
            attempts: r.get(13)?,
        })
    })?;
    rows.collect()
}

/// When the next pending notification falls due, if any.
pub fn next_due(conn: &Connection, email: bool) -> rusqlite::Result<Option<String>> {
    conn.row_cached(
        "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending' AND (?1 OR channel <> 'email')",
        [email],
        |r| r.get(0),
    )
}

pub fn mark_sent(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.exec_cached(
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
    conn.exec_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
             status = CASE WHEN ?3 IS NULL THEN 'failed' ELSE 'pending' END,
             next_attempt_at = COALESCE(?3, next_attempt_at) WHERE id = ?1",
        rusqlite::params![id, error, retry_at],
    )?;
    Ok(())
}

/// How delivery is going on one channel, for Health.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub sent: i64,
    pub pending: i64,
    pub failed: i64,
    /// The server's answer to the latest failed attempt still pending or given up (an
    /// SMTP reply, a push service's status, Twilio's code).
    pub last_error: Option<String>,
    pub retrying: i64,
}

pub fn summary(conn: &Connection, org_id: i64, channel: Channel) -> rusqlite::Result<Summary> {
    let (sent, pending, failed, retrying) = conn.row_cached(
        "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'pending'),
                count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'pending' AND last_error IS NOT NULL)
         FROM outbox WHERE org_id = ?1 AND channel = ?2",
        (org_id, channel),
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let last_error = conn
        .row_cached(
            "SELECT last_error FROM outbox WHERE org_id = ?1 AND channel = ?2 AND status <> 'sent'
                 AND last_error IS NOT NULL
             ORDER BY next_attempt_at DESC LIMIT 1",
            (org_id, channel),
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

/// A user's choice for each event on `channel` (their own, else the default for their role).
pub fn prefs(
    conn: &Connection,
    user_id: i64,
    role: UserRole,
    channel: Channel,
) -> rusqlite::Result<Vec<(Event, bool)>> {
    Event::ALL
        .iter()
        .map(|&event| Ok((event, wants(conn, user_id, role, event, channel)?)))
        .collect()
}

pub fn set_pref(
    conn: &Connection,
    user_id: i64,
    event: Event,
    channel: Channel,
    enabled: bool,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO notification_prefs (user_id, event, channel, enabled) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, event, channel) DO UPDATE SET enabled = excluded.enabled",
        (user_id, event, channel, enabled),
    )?;
    Ok(())
}

/// Users of every org who asked for the daily summary on some channel: (org, user, local
/// hour). Whether today's is due and not sent yet is the caller's to decide.
pub fn summary_takers(conn: &Connection) -> rusqlite::Result<Vec<(i64, i64, u32)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT u.org_id, u.id, u.summary_hour FROM users u
         JOIN notification_prefs p ON p.user_id = u.id AND p.event = 'summary' AND p.enabled",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// Push subscriptions (SPEC §12): one per user and device.
pub mod push {
    use crate::db::Cached;
    use rusqlite::{Connection, OptionalExtension};

    #[derive(Debug, Clone)]
    pub struct Subscription {
        pub id: i64,
        pub user_id: i64,
        pub endpoint: String,
        pub p256dh: String,
        pub auth: String,
        pub device: String,
        pub created_at: String,
        pub last_push_at: Option<String>,
    }

    const COLUMNS: &str = "id, user_id, endpoint, p256dh, auth, device, created_at, last_push_at";

    fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Subscription> {
        Ok(Subscription {
            id: r.get(0)?,
            user_id: r.get(1)?,
            endpoint: r.get(2)?,
            p256dh: r.get(3)?,
            auth: r.get(4)?,
            device: r.get(5)?,
            created_at: r.get(6)?,
            last_push_at: r.get(7)?,
        })
    }

    /// Stores a device's subscription for `user_id`; the same endpoint subscribing again
    /// (new keys, or another user signed in on that browser) replaces the old one.
    pub fn upsert(
        conn: &Connection,
        user_id: i64,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        device: &str,
    ) -> rusqlite::Result<i64> {
        conn.row_cached(
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, device) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,
                 auth = excluded.auth, device = excluded.device
             RETURNING id",
            (user_id, endpoint, p256dh, auth, device),
            |r| r.get(0),
        )
    }

    pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Subscription>> {
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM push_subscriptions WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()
    }

    pub fn of_user(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<Subscription>> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([user_id], from_row)?;
        rows.collect()
    }

    /// Removes one of the user's devices (or, by the push service's 404/410, any).
    pub fn delete(conn: &Connection, id: i64, user_id: Option<i64>) -> rusqlite::Result<bool> {
        Ok(conn.exec_cached(
            "DELETE FROM push_subscriptions WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
            (id, user_id),
        )? == 1)
    }

    pub fn delete_endpoint(
        conn: &Connection,
        user_id: i64,
        endpoint: &str,
    ) -> rusqlite::Result<bool> {
        Ok(conn.exec_cached(
            "DELETE FROM push_subscriptions WHERE user_id = ?1 AND endpoint = ?2",
            (user_id, endpoint),
        )? == 1)
    }

    pub fn pushed(conn: &Connection, id: i64) -> rusqlite::Result<()> {
        conn.exec_cached(
            "UPDATE push_subscriptions SET last_push_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::migrate_to;

    fn one<T: rusqlite::types::FromSql>(c: &Connection, sql: &str) -> T {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn migration_14_makes_the_orgs_notification_number_its_first_owners_mobile_and_keeps_the_outbox(
    ) {
        let backups = tempfile::tempdir().unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, backups.path(), 13).unwrap();
        conn.execute_batch(
            "INSERT INTO orgs (id, name, notification_number) VALUES (1, 'Plumbing', '+14155550199'), (2, 'Quiet', NULL);
             INSERT INTO users (id, org_id, email, password_hash, role) VALUES
                 (1, 1, 'admin@p.example', 'x', 'admin'), (2, 1, 'first@p.example', 'x', 'owner'),
                 (3, 1, 'second@p.example', 'x', 'owner'), (4, 2, 'q@q.example', 'x', 'owner');
             INSERT INTO outbox (org_id, user_id, channel, event, recipient, subject, body_text, body_html, status)
                 VALUES (1, 2, 'email', 'lead:1', 'first@p.example', 's', 't', 'h', 'sent');
             INSERT INTO notification_prefs (user_id, event, channel, enabled) VALUES (2, 'missed_call', 'email', 1);",
        )
        .unwrap();
        migrate_to(&mut conn, backups.path(), 14).unwrap();
        let mobiles: Vec<Option<String>> = conn
            .prepare("SELECT mobile FROM users ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(mobiles, [None, Some("+14155550199".into()), None, None]);
        assert_eq!(
            one::<String>(
                &conn,
                "SELECT channel || ' ' || event || ' ' || status FROM outbox"
            ),
            "email lead:1 sent"
        );
        assert!(wants(&conn, 2, UserRole::Owner, Event::MissedCall, Channel::Email).unwrap());
        // The owner's texts keep going to that number by default.
        assert!(wants(&conn, 2, UserRole::Owner, Event::Voicemail, Channel::Sms).unwrap());

        // From now on they are one number, whichever side changes.
        conn.execute(
            "UPDATE orgs SET notification_number = '+14155550100' WHERE id = 1",
            [],
        )
        .unwrap();
        assert_eq!(
            one::<String>(&conn, "SELECT mobile FROM users WHERE id = 2"),
            "+14155550100"
        );
        conn.execute("UPDATE users SET mobile = '+14155550111' WHERE id = 2", [])
            .unwrap();
        assert_eq!(
            one::<String>(&conn, "SELECT notification_number FROM orgs WHERE id = 1"),
            "+14155550111"
        );
        // Another owner's own mobile is theirs alone.
        conn.execute("UPDATE users SET mobile = '+14155550122' WHERE id = 3", [])
            .unwrap();
        assert_eq!(
            one::<String>(&conn, "SELECT notification_number FROM orgs WHERE id = 1"),
            "+14155550111"
        );
        // The first owner of an org with a number, created later, takes it.
        conn.execute_batch(
            "UPDATE orgs SET notification_number = '+14155550133' WHERE id = 2;
             DELETE FROM users WHERE id = 4;
             INSERT INTO users (id, org_id, email, password_hash, role) VALUES (5, 2, 'new@q.example', 'x', 'owner');",
        )
        .unwrap();
        assert_eq!(
            one::<String>(&conn, "SELECT mobile FROM users WHERE id = 5"),
            "+14155550133"
        );
    }

    #[test]
    fn a_text_or_push_in_quiet_hours_waits_for_their_end_across_midnight() {
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let quiet = ("21:00".to_string(), "07:30".to_string());
        // 23:00 in New York (04:00 UTC next day in winter): held until 07:30 local.
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-08T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            crate::db::format_time(not_before(at, tz, Some(&quiet))),
            "2026-12-08T12:30:00.000Z"
        );
        // 12:00 local: goes at once; and without quiet hours, always at once.
        let noon = chrono::DateTime::parse_from_rfc3339("2026-12-08T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(not_before(noon, tz, Some(&quiet)), noon);
        assert_eq!(not_before(at, tz, None), at);
    }

    #[test]
    fn defaults_give_owners_voicemails_and_leads_and_devices_everything_but_the_summary() {
        use Channel::*;
        use Event::*;
        for channel in [Email, Sms] {
            assert!(Voicemail.by_default(channel, UserRole::Owner));
            assert!(Lead.by_default(channel, UserRole::Owner));
            assert!(!MissedCall.by_default(channel, UserRole::Owner));
            assert!(!Voicemail.by_default(channel, UserRole::Admin));
        }
        for event in [Voicemail, Lead, MissedCall] {
            assert!(event.by_default(Push, UserRole::Viewer));
        }
        for channel in [Email, Sms, Push] {
            assert!(!Summary.by_default(channel, UserRole::Owner));
        }
    }
}
