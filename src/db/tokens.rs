//! API tokens: shown once at creation, stored as SHA-256, used as `Authorization: Bearer`.

use super::users::{principal_from_row, Credential, Principal, PRINCIPAL_COLUMNS, PRINCIPAL_WIDTH};
use super::Cached;
use crate::crypto;
use rusqlite::{Connection, OptionalExtension, Row};

/// Every token starts with this, so leaked tokens are easy to recognise and grep for.
pub const TOKEN_PREFIX: &str = "sbt_";

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub user_id: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

fn from_row(r: &Row) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        user_id: r.get(3)?,
        created_at: r.get(4)?,
        last_used_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

const COLUMNS: &str = "id, name, prefix, user_id, created_at, last_used_at, revoked_at";

/// Creates a token; returns its row and the secret, which is never stored or shown again.
pub fn create(
    conn: &Connection,
    org_id: i64,
    user_id: i64,
    name: &str,
) -> rusqlite::Result<(ApiToken, String)> {
    let secret = format!("{TOKEN_PREFIX}{}", crypto::random_token(32));
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    conn.exec_cached(
        "INSERT INTO api_tokens (org_id, user_id, name, token_hash, prefix) VALUES (?1, ?2, ?3, ?4, ?5)",
        (org_id, user_id, name, crypto::token_hash(&secret), &prefix),
    )?;
    let id = conn.last_insert_rowid();
    let row = conn.query_row(
        &format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"),
        [id],
        from_row,
    )?;
    Ok((row, secret))
}

/// The principal behind a bearer token, if it exists and is not revoked. Records the use at
/// most once a minute so a busy integration does not write on every request.
pub fn principal(conn: &Connection, secret: &str) -> rusqlite::Result<Option<Principal>> {
    let found = conn
        .query_row(
            &format!(
                "SELECT {PRINCIPAL_COLUMNS}, t.id FROM api_tokens t
                 JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = t.org_id
                 WHERE t.token_hash = ?1 AND t.revoked_at IS NULL"
            ),
            [crypto::token_hash(secret)],
            |r| {
                principal_from_row(
                    r,
                    Credential::Token {
                        token_id: r.get(PRINCIPAL_WIDTH)?,
                    },
                )
            },
        )
        .optional()?;
    if let Some(Principal {
        credential: Credential::Token { token_id },
        ..
    }) = &found
    {
        conn.exec_cached(
            "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1
             AND (last_used_at IS NULL OR last_used_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 minute'))",
            (token_id, super::now()),
        )?;
    }
    Ok(found)
}

/// The org's tokens, newest first; with `user_id`, only that user's.
pub fn list_for_org(
    conn: &Connection,
    org_id: i64,
    user_id: Option<i64>,
) -> rusqlite::Result<Vec<ApiToken>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE org_id = ?1 AND (?2 IS NULL OR user_id = ?2)
         ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map((org_id, user_id), from_row)?;
    rows.collect()
}

/// Revokes a token of this org. `None` when no such token exists in the org.
pub fn revoke(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<ApiToken>> {
    conn.exec_cached(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND org_id = ?2",
        (id, org_id, super::now()),
    )?;
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1 AND org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}
