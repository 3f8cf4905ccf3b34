//! The daily summary (SPEC §12): at the local hour a user chose, what the last 24 hours
//! brought — calls, missed calls, voicemails, new leads — and what is still to do, by the
//! channels they chose for it. One per user and local date (the outbox key says which).

use super::FrontDesk;
use crate::db::outbox::{self, Event, Notice, Senders};
use crate::db::{orgs, todo};
use chrono::{DateTime, Duration, Timelike, Utc};
use rusqlite::Connection;

/// The last day's figures of an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Day {
    calls: i64,
    missed: i64,
    voicemails: i64,
    leads: i64,
    to_do: usize,
}

fn day(c: &Connection, org: i64, now: DateTime<Utc>) -> rusqlite::Result<Day> {
    let since = crate::db::format_time(now - Duration::hours(24));
    let (calls, missed) = c.query_row(
        "SELECT count(*), count(*) FILTER (WHERE outcome = 'missed') FROM calls
         WHERE org_id = ?1 AND started_at >= ?2 AND direction = 'inbound'",
        (org, &since),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let voicemails = c.query_row(
        "SELECT count(*) FROM voicemails WHERE org_id = ?1 AND created_at >= ?2",
        (org, &since),
        |r| r.get(0),
    )?;
    let leads = c.query_row(
        "SELECT count(*) FROM leads WHERE org_id = ?1 AND created_at >= ?2",
        (org, &since),
        |r| r.get(0),
    )?;
    Ok(Day {
        calls,
        missed,
        voicemails,
        leads,
        to_do: todo::open(c, org, now)?.len(),
    })
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary's one line: "Yesterday: 12 calls (2 missed), 1 voicemail, 3 new leads. 4 to do."
fn line(d: &Day) -> String {
    let to_do = if d.to_do == 0 {
        "Nothing is waiting for you.".to_string()
    } else {
        format!(
            "{} waiting for you.",
            plural(d.to_do as i64, "thing is", "things are")
        )
    };
    format!(
        "Last 24 hours: {} ({} missed), {}, {}. {to_do}",
        plural(d.calls, "call", "calls"),
        d.missed,
        plural(d.voicemails, "voicemail", "voicemails"),
        plural(d.leads, "new lead", "new leads"),
    )
}

/// Queues each summary whose hour has come today (local to its org) and is not queued yet.
pub async fn queue_due(desk: &FrontDesk) {
    let (now, url) = (desk.clock.now(), desk.public_url.clone());
    let senders = desk.senders;
    let queued = desk
        .db
        .write(move |c| {
            let mut queued = 0;
            for (org, user, hour) in outbox::summary_takers(c)? {
                queued += queue_one(c, org, user, hour, now, &url, senders)?;
            }
            Ok(queued)
        })
        .await;
    match queued {
        Ok(0) => {}
        Ok(n) => {
            log::info!("{n} daily summary notifications queued");
            desk.notices_queued();
        }
        Err(e) => log::error!("daily summaries could not be queued: {e}"),
    }
}

fn queue_one(
    c: &Connection,
    org: i64,
    user: i64,
    hour: u32,
    now: DateTime<Utc>,
    url: &str,
    senders: Senders,
) -> rusqlite::Result<usize> {
    let local = now.with_timezone(&orgs::timezone(c, org)?);
    if local.hour() < hour {
        return Ok(0);
    }
    let key = format!("summary:{}", local.date_naive());
    let done: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE event = ?1 AND user_id = ?2)",
        (&key, user),
        |r| r.get(0),
    )?;
    if done {
        return Ok(0);
    }
    let d = day(c, org, now)?;
    let text_line = line(&d);
    let link = format!("{url}/#overview");
    let (text, html) = super::mail::compose(&text_line, None, "Open the dashboard", &link);
    let number = crate::db::callbacks::business_number(c, org, "", None)?;
    let q = outbox::enqueue(
        c,
        &Notice {
            org_id: org,
            only: Some(user),
            event: Event::Summary,
            key: &key,
            subject: &format!("Your day at the front desk: {}", local.format("%A %-d %B")),
            text: &text,
            html: &html,
            short: &format!("{text_line} {link}"),
            url: &link,
            voicemail_id: None,
            phone_number_id: number,
            call_id: None,
            lead_id: None,
        },
        senders,
        now,
    )?;
    Ok(q.email + q.sms + q.push)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_counts_in_words() {
        let d = Day {
            calls: 12,
            missed: 2,
            voicemails: 1,
            leads: 3,
            to_do: 4,
        };
        assert_eq!(
            line(&d),
            "Last 24 hours: 12 calls (2 missed), 1 voicemail, 3 new leads. 4 things are waiting for you."
        );
        let quiet = Day {
            calls: 1,
            missed: 0,
            voicemails: 0,
            leads: 1,
            to_do: 0,
        };
        assert_eq!(
            line(&quiet),
            "Last 24 hours: 1 call (0 missed), 0 voicemails, 1 new lead. Nothing is waiting for you."
        );
    }
}
