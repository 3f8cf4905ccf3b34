//! `idempotency_keys` (SPEC §6.2): (org, key) → request hash, state and the saved response.
//! Phase one inserts `in_progress` and commits before any provider call; phase two stores
//! the response. A key lives 24 hours.

use super::Cached;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// What the first phase found.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// The key is new: the caller runs the request and then completes or abandons it.
    Started,
    /// The same request ran before: its saved response.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The same key is still being processed.
    InProgress,
}

pub fn begin(conn: &mut Connection, org_id: i64, key: &str, hash: &str) -> rusqlite::Result<Begin> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // An expired key is forgotten, whatever the pruning job has not got to yet.
    tx.exec_cached(
        "DELETE FROM idempotency_keys WHERE org_id = ?1 AND key = ?2
             AND created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')",
        rusqlite::params![org_id, key],
    )?;
    type Found = (String, String, Option<u16>, Option<String>, Option<Vec<u8>>);
    let found: Option<Found> = tx
        .row_cached(
            "SELECT request_hash, state, response_status, response_headers, response_body
             FROM idempotency_keys WHERE org_id = ?1 AND key = ?2",
            rusqlite::params![org_id, key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let outcome = match found {
        None => {
            tx.exec_cached(
                "INSERT INTO idempotency_keys (org_id, key, request_hash, state) VALUES (?1, ?2, ?3, 'in_progress')",
                rusqlite::params![org_id, key, hash],
            )?;
            Begin::Started
        }
        Some((stored, _, _, _, _)) if stored != hash => Begin::Mismatch,
        Some((_, state, _, _, _)) if state == "in_progress" => Begin::InProgress,
        Some((_, _, status, headers, body)) => Begin::Replay {
            status: status.unwrap_or(200),
            content_type: headers,
            body: body.unwrap_or_default(),
        },
    };
    tx.commit()?;
    Ok(outcome)
}

/// Phase two: the response to replay for this key.
pub fn complete(
    conn: &Connection,
    org_id: i64,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE idempotency_keys SET state = 'completed', response_status = ?3, response_headers = ?4,
             response_body = ?5, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE org_id = ?1 AND key = ?2",
        rusqlite::params![org_id, key, status, content_type, body],
    )?;
    Ok(())
}

/// Forgets a key whose request failed without a result worth replaying (a 5xx): a retry
/// with the same key runs again.
pub fn abandon(conn: &Connection, org_id: i64, key: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "DELETE FROM idempotency_keys WHERE org_id = ?1 AND key = ?2 AND state = 'in_progress'",
        rusqlite::params![org_id, key],
    )?;
    Ok(())
}
