//! Two-factor sign-in storage (SPEC §14): each user's TOTP secret sealed with the appliance
//! key, the last step a code was accepted for (so a code works once), and hashed one-time
//! recovery codes.

use super::Cached;
use crate::crypto::SecretKey;
use crate::domain::totp::{recovery_hash, TotpSecret};
use rusqlite::{Connection, OptionalExtension};

/// Where a user stands with two-factor sign-in.
#[derive(Debug, Clone)]
pub enum Status {
    Off,
    /// A secret was handed out; no code has confirmed it yet.
    Enrolling(TotpSecret),
    On {
        secret: TotpSecret,
        last_step: u64,
        recovery_left: i64,
    },
}

fn context(user_id: i64) -> String {
    format!("totp:{user_id}")
}

/// The user's two-factor state. A secret that no longer opens with the appliance key (the
/// key was replaced) is an error, not "off": sign-in must not quietly lose its second factor.
pub fn status(conn: &Connection, key: &SecretKey, user_id: i64) -> Result<Status, StoreError> {
    let row: Option<(String, Option<String>, i64)> = conn
        .row_cached(
            "SELECT secret_sealed, enabled_at, last_step FROM user_totp WHERE user_id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((sealed, enabled_at, last_step)) = row else {
        return Ok(Status::Off);
    };
    let secret = key
        .decrypt(&sealed, &context(user_id))
        .ok()
        .and_then(|b32| TotpSecret::from_base32(&b32))
        .ok_or(StoreError::Unreadable)?;
    if enabled_at.is_none() {
        return Ok(Status::Enrolling(secret));
    }
    let recovery_left = conn.row_cached(
        "SELECT count(*) FROM totp_recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        [user_id],
        |r| r.get(0),
    )?;
    Ok(Status::On {
        secret,
        last_step: u64::try_from(last_step).unwrap_or(0),
        recovery_left,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error("the two-factor secret cannot be read with this appliance's key (was SWITCHBOARD_SECRET_KEY or data/secret.key replaced?); reset it with `switchboard user reset-2fa`")]
    Unreadable,
}

/// Starts (or restarts) enrolment with a new secret. Refused (false) when two-factor is on.
pub fn begin(
    conn: &Connection,
    key: &SecretKey,
    user_id: i64,
    secret: &TotpSecret,
) -> rusqlite::Result<bool> {
    let changed = conn.exec_cached(
        "INSERT INTO user_totp (user_id, secret_sealed) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed,
             last_step = 0, created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE user_totp.enabled_at IS NULL",
        (user_id, key.encrypt(&secret.base32(), &context(user_id))),
    )?;
    Ok(changed == 1)
}

/// Turns two-factor on at `step` and stores the recovery codes' hashes, replacing any
/// earlier ones. False when the user was not enrolling (nothing changed).
pub fn confirm(
    conn: &Connection,
    user_id: i64,
    step: u64,
    recovery_codes: &[String],
) -> rusqlite::Result<bool> {
    let changed = conn.exec_cached(
        "UPDATE user_totp SET enabled_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), last_step = ?2
         WHERE user_id = ?1 AND enabled_at IS NULL",
        (user_id, step as i64),
    )?;
    if changed == 0 {
        return Ok(false);
    }
    conn.exec_cached(
        "DELETE FROM totp_recovery_codes WHERE user_id = ?1",
        [user_id],
    )?;
    let mut insert = conn
        .prepare_cached("INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES (?1, ?2)")?;
    for code in recovery_codes {
        insert.execute((user_id, recovery_hash(code)))?;
    }
    Ok(true)
}

/// Accepts a code's step if it is later than every step accepted before: two sign-ins with
/// one code (a replay, or the same code raced twice) get one true between them.
pub fn accept_step(conn: &Connection, user_id: i64, step: u64) -> rusqlite::Result<bool> {
    let changed = conn.exec_cached(
        "UPDATE user_totp SET last_step = ?2
         WHERE user_id = ?1 AND enabled_at IS NOT NULL AND last_step < ?2",
        (user_id, step as i64),
    )?;
    Ok(changed == 1)
}

/// Uses up a recovery code; true if it was the user's and unused.
pub fn use_recovery_code(conn: &Connection, user_id: i64, code: &str) -> rusqlite::Result<bool> {
    let changed = conn.exec_cached(
        "UPDATE totp_recovery_codes SET used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        (user_id, recovery_hash(code)),
    )?;
    Ok(changed == 1)
}

/// Turns two-factor off (or abandons enrolment) and forgets the recovery codes. True if
/// there was anything to remove.
pub fn remove(conn: &Connection, user_id: i64) -> rusqlite::Result<bool> {
    conn.exec_cached(
        "DELETE FROM totp_recovery_codes WHERE user_id = ?1",
        [user_id],
    )?;
    Ok(conn.exec_cached("DELETE FROM user_totp WHERE user_id = ?1", [user_id])? == 1)
}

/// Whether the org requires two-factor sign-in of its owners and admins.
pub fn org_requires(conn: &Connection, org_id: i64) -> rusqlite::Result<bool> {
    conn.row_cached(
        "SELECT require_two_factor FROM orgs WHERE id = ?1",
        [org_id],
        |r| r.get(0),
    )
}

pub fn set_org_requires(conn: &Connection, org_id: i64, required: bool) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE orgs SET require_two_factor = ?2 WHERE id = ?1",
        (org_id, required),
    )?;
    Ok(())
}
