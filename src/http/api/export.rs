//! CSV export of calls, texts, voicemails and leads (SPEC §13): `?format=csv` or
//! `Accept: text/csv` on the list routes, over a date range (`from`, `to`).
//!
//! The rows are read on a blocking thread and written as RFC 4180 CSV (the `csv` crate,
//! CRLF line ends) into 64 KiB chunks passed through a channel of four, so a million rows
//! stream in constant memory and a slow client slows the reader instead of filling memory.
//! Every time is given in UTC and in the business's time zone; every number as stored, as
//! the business reads it, and with its contact's name. A cell that a spreadsheet would run as a formula (starting
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`, as OWASP
//! recommends — E.164 numbers included, which is why the national form sits beside them.

use crate::db::orgs;
use crate::domain::typed::display;
use crate::error::{codes, ApiError};
use crate::http::AppState;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use rusqlite::types::ValueRef;

/// Accepts `2026-11-21` or an RFC 3339 time; returns the storage format.
pub(super) fn parse_time(field: &str, value: &str) -> Result<String, ApiError> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(crate::db::format_time(
            d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc(),
        ));
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| crate::db::format_time(t.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            ApiError::new(
                codes::INVALID_QUERY,
                format!(
                    "{field}: must be a date like 2026-11-21 or a time like 2026-11-21T09:00:00Z"
                ),
            )
        })
}

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the reader and the client.
const IN_FLIGHT: usize = 4;

/// A CSV export when asked for one (`?format=csv`, or `Accept: text/csv` first) over
/// `dates` (`from`, `to`: `2026-11-21` or an RFC 3339 time); `None` for a JSON answer.
pub async fn if_wanted(
    state: &AppState,
    req: &HttpRequest,
    org: i64,
    format: Option<&str>,
    dates: (Option<&str>, Option<&str>),
    export: &'static Export,
) -> Result<Option<HttpResponse>, ApiError> {
    let by_accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if format != Some("csv") && !by_accept {
        return Ok(None);
    }
    let read = |field: &str, v: Option<&str>| v.map(|t| parse_time(field, t)).transpose();
    let (from, to) = (read("from", dates.0)?, read("to", dates.1)?);
    respond(state, org, export, from, to).await.map(Some)
}

/// What a column holds, for how it is written.
#[derive(Clone, Copy)]
pub enum Col {
    Text,
    /// A UTC time: written as is, then in the business's time zone.
    Time,
    /// A phone number: written as stored, then as the business reads it.
    Number,
}

/// One export: the query (its first parameter is the org, then `from` and `to` as UTC
/// times or NULL) and its columns' names and kinds, in the query's order.
pub struct Export {
    pub name: &'static str,
    pub sql: &'static str,
    pub columns: &'static [(&'static str, Col)],
}

/// The CSV of `export` for the caller's org between `from` and `to`.
async fn respond(
    state: &AppState,
    org: i64,
    export: &'static Export,
    from: Option<String>,
    to: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let (tz_name, country) = state
        .db
        .query(move |c| {
            let tz = orgs::get(c, org)?.map(|o| o.timezone).unwrap_or_default();
            Ok((tz, orgs::country(c, org)?))
        })
        .await?;
    let tz: chrono_tz::Tz = tz_name.parse().unwrap_or(chrono_tz::UTC);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(IN_FLIGHT);
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || {
        let result = db
            .conn()
            .map_err(|e| e.to_string())
            .and_then(|conn| write_rows(&conn, export, org, (from, to), (tz, &country), tx));
        if let Err(e) = result {
            log::warn!("{} export ended early: {e}", export.name);
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    let file = format!(
        "{}-{}.csv",
        export.name,
        chrono::Utc::now().with_timezone(&tz).format("%Y-%m-%d")
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header(("Cache-Control", "private, no-store"))
        .streaming(stream))
}

/// Writes `export`'s rows for `org` between `from` and `to`, times in `tz` and numbers as
/// read in `country`, into chunks sent on `tx`.
fn write_rows(
    conn: &rusqlite::Connection,
    export: &Export,
    org: i64,
    (from, to): (Option<String>, Option<String>),
    (tz, country): (chrono_tz::Tz, &str),
    tx: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), String> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Chunks {
            buf: Vec::with_capacity(CHUNK + 4096),
            tx,
        });
    let mut header = Vec::new();
    for (name, col) in export.columns {
        header.push(name.to_string());
        match col {
            Col::Time => header.push(format!("{name}_local")),
            Col::Number => {
                header.push(format!("{name}_national"));
                header.push(format!("{name}_name"));
            }
            Col::Text => {}
        }
    }
    out.write_record(&header).map_err(|e| e.to_string())?;
    // The org's contacts, for the names beside the numbers (as many as the business has
    // contacts, never as many as rows).
    let names: std::collections::HashMap<String, String> = conn
        .prepare("SELECT number, name FROM contacts WHERE org_id = ?1")
        .and_then(|mut s| {
            s.query_map([org], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(|e| e.to_string())?;
    let mut stmt = conn.prepare(export.sql).map_err(|e| e.to_string())?;
    let mut rows = stmt
        .query(rusqlite::params![org, from, to])
        .map_err(|e| e.to_string())?;
    let mut cells: Vec<String> = Vec::with_capacity(header.len());
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        cells.clear();
        for (i, (_, col)) in export.columns.iter().enumerate() {
            let value = match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => String::new(),
                ValueRef::Integer(n) => n.to_string(),
                ValueRef::Real(f) => f.to_string(),
                ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
            };
            let extra = match col {
                Col::Text => [None, None],
                Col::Time => [Some(local(&value, tz)), None],
                Col::Number if value.is_empty() => [Some(String::new()), Some(String::new())],
                Col::Number => [
                    Some(display(&value, country)),
                    Some(names.get(&value).cloned().unwrap_or_default()),
                ],
            };
            cells.push(neutralised(value));
            cells.extend(extra.into_iter().flatten().map(neutralised));
        }
        out.write_record(&cells).map_err(|e| e.to_string())?;
    }
    let mut rest = out.into_inner().map_err(|e| e.to_string())?;
    rest.send().map_err(|_| "the client went away".to_string())
}

/// The CSV writer's output: gathered into chunks, each handed to the client once it
/// holds [`CHUNK`] bytes (waiting while [`IN_FLIGHT`] chunks are on their way).
struct Chunks {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Bytes>,
}

impl Chunks {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
        self.tx.blocking_send(Bytes::from(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A UTC time as the business's local time (`2026-12-06 14:05:09`).
fn local(utc: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(utc)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A cell a spreadsheet would take for a formula, prefixed with `'` (OWASP).
pub fn neutralised(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

pub static CALLS: Export = Export {
    name: "calls",
    sql: "SELECT id, started_at, from_number, to_number, direction, outcome, duration_seconds,
                 menu_choices, textback_state, summary
          FROM calls WHERE org_id = ?1 AND (?2 IS NULL OR started_at >= ?2) AND (?3 IS NULL OR started_at < ?3)
          ORDER BY started_at, id",
    columns: &[
        ("id", Col::Text),
        ("started", Col::Time),
        ("caller", Col::Number),
        ("business_number", Col::Number),
        ("direction", Col::Text),
        ("outcome", Col::Text),
        ("duration_seconds", Col::Text),
        ("menu", Col::Text),
        ("textback", Col::Text),
        ("summary", Col::Text),
    ],
};

pub static MESSAGES: Export = Export {
    name: "texts",
    sql: "SELECT id, created_at, direction, from_number, to_number, kind, status, body, lead_id, call_id
          FROM messages WHERE org_id = ?1 AND (?2 IS NULL OR created_at >= ?2) AND (?3 IS NULL OR created_at < ?3)
          ORDER BY created_at, id",
    columns: &[
        ("id", Col::Text),
        ("at", Col::Time),
        ("direction", Col::Text),
        ("from", Col::Number),
        ("to", Col::Number),
        ("kind", Col::Text),
        ("status", Col::Text),
        ("body", Col::Text),
        ("lead_id", Col::Text),
        ("call_id", Col::Text),
    ],
};

pub static VOICEMAILS: Export = Export {
    name: "voicemails",
    sql: "SELECT v.id, v.created_at, c.from_number, c.to_number, v.duration_seconds,
                 v.transcription_text, CASE v.handled WHEN 1 THEN 'yes' ELSE 'no' END, v.call_id
          FROM voicemails v JOIN calls c ON c.id = v.call_id
          WHERE v.org_id = ?1 AND (?2 IS NULL OR v.created_at >= ?2) AND (?3 IS NULL OR v.created_at < ?3)
          ORDER BY v.created_at, v.id",
    columns: &[
        ("id", Col::Text),
        ("left", Col::Time),
        ("caller", Col::Number),
        ("business_number", Col::Number),
        ("duration_seconds", Col::Text),
        ("transcript", Col::Text),
        ("handled", Col::Text),
        ("call_id", Col::Text),
    ],
};

pub static LEADS: Export = Export {
    name: "leads",
    sql: "SELECT l.id, l.created_at, l.customer_number, n.e164, l.source, l.status, l.summary,
                 (SELECT body FROM messages m WHERE m.lead_id = l.id AND m.direction = 'inbound' ORDER BY m.id DESC LIMIT 1),
                 l.last_message_at, l.call_id
          FROM leads l LEFT JOIN phone_numbers n ON n.id = l.phone_number_id
          WHERE l.org_id = ?1 AND (?2 IS NULL OR l.created_at >= ?2) AND (?3 IS NULL OR l.created_at < ?3)
          ORDER BY l.created_at, l.id",
    columns: &[
        ("id", Col::Text),
        ("opened", Col::Time),
        ("customer", Col::Number),
        ("business_number", Col::Number),
        ("source", Col::Text),
        ("status", Col::Text),
        ("summary", Col::Text),
        ("last_text", Col::Text),
        ("last_activity", Col::Time),
        ("call_id", Col::Text),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (cell, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+14155550123", "'+14155550123"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("(415) 555-0123", "(415) 555-0123"),
            ("Leaking sink", "Leaking sink"),
            ("", ""),
        ] {
            assert_eq!(neutralised(cell.to_string()), want, "{cell:?}");
        }
    }

    #[test]
    fn times_are_given_in_the_business_time_zone() {
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        assert_eq!(local("2026-12-06T19:05:09.123Z", tz), "2026-12-06 14:05:09");
        assert_eq!(local("not a time", tz), "");
    }
}
