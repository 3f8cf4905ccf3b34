//! Dashboard sessions: a random cookie value stored as its SHA-256, plus a CSRF token.

use super::users::{principal_from_row, Credential, Principal, PRINCIPAL_COLUMNS, PRINCIPAL_WIDTH};
use super::Cached;
use crate::crypto;
use rusqlite::{Connection, OptionalExtension};

/// A newly created session: the cookie value (shown once) and its CSRF token.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

pub fn create(
    conn: &Connection,
    user_id: i64,
    ttl_hours: u32,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> rusqlite::Result<NewSession> {
    let token = crypto::random_token(32);
    let csrf_token = crypto::random_token(24);
    let expires =
        super::format_time(chrono::Utc::now() + chrono::Duration::hours(i64::from(ttl_hours)));
    conn.exec_cached(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, ip, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        (crypto::token_hash(&token), user_id, &csrf_token, expires, ip, user_agent.map(|u| u.chars().take(200).collect::<String>())),
    )?;
    Ok(NewSession { token, csrf_token })
}

/// The principal behind a session cookie, if the session exists and has not expired.
pub fn principal(conn: &Connection, token: &str) -> rusqlite::Result<Option<Principal>> {
    conn.query_row(
        &format!(
            "SELECT {PRINCIPAL_COLUMNS}, s.id, s.csrf_token FROM sessions s
             JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2"
        ),
        [crypto::token_hash(token), super::now()],
        |r| {
            principal_from_row(
                r,
                Credential::Session {
                    session_id: r.get(PRINCIPAL_WIDTH)?,
                    csrf_token: r.get(PRINCIPAL_WIDTH + 1)?,
                },
            )
        },
    )
    .optional()
}

pub fn delete(conn: &Connection, session_id: i64) -> rusqlite::Result<()> {
    conn.exec_cached("DELETE FROM sessions WHERE id = ?1", [session_id])?;
    Ok(())
}

pub fn purge_expired(conn: &Connection) -> rusqlite::Result<usize> {
    conn.exec_cached(
        "DELETE FROM sessions WHERE expires_at <= ?1",
        [super::now()],
    )
}
