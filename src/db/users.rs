//! Dashboard users and the authenticated principal that sessions and API tokens resolve to.

use super::Cached;
use crate::domain::UserRole;
use rusqlite::{Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub org_id: i64,
    pub email: String,
    pub role: UserRole,
    pub is_system_admin: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Session { session_id: i64, csrf_token: String },
    Token { token_id: i64 },
}

/// The caller of an API request: a user, their org and how they authenticated.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub email: String,
    pub role: UserRole,
    pub is_system_admin: bool,
    pub org_id: i64,
    pub org_name: String,
    pub credential: Credential,
    /// Two-factor sign-in is on for this user.
    pub two_factor: bool,
    /// The org requires two-factor sign-in of owners and admins (SPEC §14).
    pub org_requires_two_factor: bool,
}

impl Principal {
    /// An owner or admin of an org that requires two-factor, who has not turned it on: their
    /// session reaches only enrolment until they do.
    pub fn two_factor_setup_required(&self) -> bool {
        self.org_requires_two_factor && self.role.can_write() && !self.two_factor
    }
}

/// Columns for building a [`Principal`]: `u` is users, `o` is orgs.
pub(crate) const PRINCIPAL_COLUMNS: &str =
    "u.id, u.email, u.role, u.is_system_admin, o.id, o.name, \
     EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL), \
     o.require_two_factor";
/// How many columns [`PRINCIPAL_COLUMNS`] selects; the credential's own columns follow.
pub(crate) const PRINCIPAL_WIDTH: usize = 8;

pub(crate) fn principal_from_row(r: &Row, credential: Credential) -> rusqlite::Result<Principal> {
    Ok(Principal {
        user_id: r.get(0)?,
        email: r.get(1)?,
        role: r.get(2)?,
        is_system_admin: r.get(3)?,
        org_id: r.get(4)?,
        org_name: r.get(5)?,
        credential,
        two_factor: r.get(6)?,
        org_requires_two_factor: r.get(7)?,
    })
}

const COLUMNS: &str = "id, org_id, email, role, is_system_admin, created_at, last_login_at";

fn from_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        org_id: r.get(1)?,
        email: r.get(2)?,
        role: r.get(3)?,
        is_system_admin: r.get(4)?,
        created_at: r.get(5)?,
        last_login_at: r.get(6)?,
    })
}

/// Checks an email address enough to catch typos; returns it trimmed and lowercased.
pub fn normalize_email(email: &str) -> Result<String, String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && !e.chars().any(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(e)
    } else {
        Err(format!(
            "'{}' is not an email address like owner@example.com",
            email.trim()
        ))
    }
}

pub fn create(
    conn: &Connection,
    org_id: i64,
    email: &str,
    password_hash: &str,
    role: UserRole,
) -> rusqlite::Result<i64> {
    conn.exec_cached(
        "INSERT INTO users (org_id, email, password_hash, role) VALUES (?1, ?2, ?3, ?4)",
        (org_id, email, password_hash, role.as_str()),
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1 AND org_id = ?2"),
        [id, org_id],
        from_row,
    )
    .optional()
}

pub fn find_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE email = ?1"),
        [email],
        from_row,
    )
    .optional()
}

/// The stored hash for a login attempt, with the user it belongs to.
pub fn credentials_for_login(
    conn: &Connection,
    email: &str,
) -> rusqlite::Result<Option<(i64, String)>> {
    conn.row_cached(
        "SELECT id, password_hash FROM users WHERE email = ?1",
        [email],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn list_for_org(conn: &Connection, org_id: i64) -> rusqlite::Result<Vec<User>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM users WHERE org_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([org_id], from_row)?;
    rows.collect()
}

/// Sets a new password hash and signs the user out everywhere.
pub fn set_password(conn: &Connection, user_id: i64, password_hash: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE users SET password_hash = ?1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?2",
        (password_hash, user_id),
    )?;
    conn.exec_cached("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
    Ok(())
}

/// The number of owners of an org (the last one may not be demoted or removed).
pub fn owner_count(conn: &Connection, org_id: i64) -> rusqlite::Result<i64> {
    conn.row_cached(
        "SELECT count(*) FROM users WHERE org_id = ?1 AND role = 'owner'",
        [org_id],
        |r| r.get(0),
    )
}

/// Changes a user's role; it applies from their next request (sessions and tokens read the
/// role each time).
/// Makes a user a system administrator of the appliance (or no longer one): they change
/// feature flags for every organization and see the monitoring rows of none
/// (rate limits, webhooks no number answered).
pub fn set_system_admin(conn: &Connection, user_id: i64, on: bool) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE users SET is_system_admin = ?2 WHERE id = ?1",
        (user_id, on),
    )?;
    Ok(())
}

pub fn set_role(conn: &Connection, org_id: i64, id: i64, role: UserRole) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE users SET role = ?3, updated_at = ?4 WHERE id = ?1 AND org_id = ?2",
        (id, org_id, role.as_str(), super::now()),
    )?;
    Ok(())
}

/// What removing a user took with it.
#[derive(Debug, Clone, Copy)]
pub struct Removed {
    pub sessions: usize,
    pub tokens: usize,
}

/// Removes a user of the org, signing them out everywhere and revoking their API tokens at
/// once. What they did stays in the audit log (its rows keep their email).
pub fn delete(conn: &Connection, org_id: i64, id: i64) -> rusqlite::Result<Removed> {
    let sessions = conn.exec_cached("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    let tokens = conn.exec_cached(
        "DELETE FROM api_tokens WHERE user_id = ?1 AND org_id = ?2",
        [id, org_id],
    )?;
    conn.exec_cached(
        "DELETE FROM users WHERE id = ?1 AND org_id = ?2",
        [id, org_id],
    )?;
    Ok(Removed { sessions, tokens })
}

/// The org a user belongs to (None if the user is gone).
pub fn org_of(conn: &Connection, user_id: i64) -> rusqlite::Result<Option<i64>> {
    conn.row_cached("SELECT org_id FROM users WHERE id = ?1", [user_id], |r| {
        r.get(0)
    })
    .optional()
}

pub fn touch_login(conn: &Connection, user_id: i64) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE users SET last_login_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        [user_id],
    )?;
    Ok(())
}

/// How a user is reached outside the dashboard (SPEC §12): their own mobile (texts, and
/// the phone a callback rings), their quiet hours (`HH:MM` in the org's zone) and the
/// local hour of their daily summary. The first owner's mobile is the org's notification
/// number (SPEC §3.3): triggers keep the two one number (schema 0014).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub mobile: Option<String>,
    pub quiet: Option<(String, String)>,
    pub summary_hour: u32,
}

pub fn reach(conn: &Connection, user_id: i64) -> rusqlite::Result<Reach> {
    conn.row_cached(
        "SELECT mobile, quiet_start, quiet_end, summary_hour FROM users WHERE id = ?1",
        [user_id],
        |r| {
            let (start, end): (Option<String>, Option<String>) = (r.get(1)?, r.get(2)?);
            Ok(Reach {
                mobile: r.get(0)?,
                quiet: start.zip(end),
                summary_hour: r.get(3)?,
            })
        },
    )
    .optional()
    .map(Option::unwrap_or_default)
}

pub fn set_reach(conn: &Connection, user_id: i64, reach: &Reach) -> rusqlite::Result<()> {
    let (start, end) = reach.quiet.clone().unzip();
    conn.exec_cached(
        "UPDATE users SET mobile = ?2, quiet_start = ?3, quiet_end = ?4, summary_hour = ?5,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        rusqlite::params![user_id, reach.mobile, start, end, reach.summary_hour],
    )?;
    Ok(())
}
