//! Provider credentials (Twilio master/subaccounts, Vapi keys), secrets encrypted at rest.
//! The ciphertext is bound to the provider and SID, so it cannot be moved to another row.

use super::Cached;
use crate::crypto::{CryptoError, SecretKey};
use rusqlite::{Connection, OptionalExtension};

#[derive(Debug, Clone)]
pub struct ProviderAccount {
    pub id: i64,
    pub org_id: Option<i64>,
    pub provider: String,
    pub kind: String,
    pub account_sid: Option<String>,
    pub is_managed: bool,
    pub status: String,
}

pub struct NewAccount<'a> {
    pub org_id: Option<i64>,
    pub created_by_saga: Option<i64>,
    pub provider: &'a str,
    pub kind: &'a str,
    pub account_sid: &'a str,
    pub secret: &'a str,
    pub is_managed: bool,
    pub friendly_name: Option<&'a str>,
}

fn context(provider: &str, sid: &str) -> String {
    format!("provider_accounts:{provider}:{sid}")
}

pub fn insert(conn: &Connection, key: &SecretKey, a: &NewAccount<'_>) -> rusqlite::Result<i64> {
    let ciphertext = key.encrypt(a.secret, &context(a.provider, a.account_sid));
    conn.exec_cached(
        "INSERT INTO provider_accounts (org_id, provider, kind, account_sid, secret_ciphertext, is_managed, friendly_name, created_by_saga)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![a.org_id, a.provider, a.kind, a.account_sid, ciphertext, a.is_managed, a.friendly_name, a.created_by_saga],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn find_by_sid(
    conn: &Connection,
    provider: &str,
    sid: &str,
) -> rusqlite::Result<Option<ProviderAccount>> {
    conn.row_cached(
        "SELECT id, org_id, provider, kind, account_sid, is_managed, status FROM provider_accounts
         WHERE provider = ?1 AND account_sid = ?2",
        [provider, sid],
        |r| {
            Ok(ProviderAccount {
                id: r.get(0)?,
                org_id: r.get(1)?,
                provider: r.get(2)?,
                kind: r.get(3)?,
                account_sid: r.get(4)?,
                is_managed: r.get(5)?,
                status: r.get(6)?,
            })
        },
    )
    .optional()
}

/// Decrypts the stored secret of an account.
pub fn secret(
    conn: &Connection,
    key: &SecretKey,
    provider: &str,
    sid: &str,
) -> Result<Option<String>, SecretError> {
    let stored: Option<Option<String>> = conn
        .row_cached(
            "SELECT secret_ciphertext FROM provider_accounts WHERE provider = ?1 AND account_sid = ?2 AND status = 'active'",
            [provider, sid],
            |r| r.get(0),
        )
        .optional()?;
    match stored.flatten() {
        Some(ciphertext) => Ok(Some(key.decrypt(&ciphertext, &context(provider, sid))?)),
        None => Ok(None),
    }
}

/// One stored encrypted secret with the context it is bound to, to test whether a key
/// opens this database's secrets; `None` when it holds none.
pub fn sealed_sample(conn: &Connection) -> rusqlite::Result<Option<(String, String)>> {
    conn.row_cached(
        "SELECT secret_ciphertext, provider, account_sid FROM provider_accounts
         WHERE secret_ciphertext IS NOT NULL AND account_sid IS NOT NULL ORDER BY id LIMIT 1",
        [],
        |r| {
            let provider: String = r.get(1)?;
            let sid: String = r.get(2)?;
            Ok((r.get(0)?, context(&provider, &sid)))
        },
    )
    .optional()
}

/// The first active master account of a provider (demo and single-tenant appliances).
pub fn master_sid(conn: &Connection, provider: &str) -> rusqlite::Result<Option<String>> {
    conn.row_cached(
        "SELECT account_sid FROM provider_accounts WHERE provider = ?1 AND kind = 'master' AND status = 'active'
         ORDER BY id LIMIT 1",
        [provider],
        |r| r.get(0),
    )
    .optional()
}

/// The org's managed Twilio subaccount, if it has one: (row id, SID).
pub fn managed_subaccount(
    conn: &Connection,
    org_id: i64,
) -> rusqlite::Result<Option<(i64, String)>> {
    conn.row_cached(
        "SELECT id, account_sid FROM provider_accounts
         WHERE org_id = ?1 AND provider = 'twilio' AND kind = 'subaccount' AND is_managed = 1 AND status = 'active'
         ORDER BY id DESC LIMIT 1",
        [org_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Marks an account closed and forgets its secret (SPEC §5.4: no stored credential
/// outlives the numbers it served).
pub fn close(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE provider_accounts SET status = 'closed', secret_ciphertext = NULL,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// [`close`] by SID: for an account found again at the provider after a crash, whose row
/// (if the crash came after it was written) the saga context never learnt.
pub fn close_by_sid(conn: &Connection, provider: &str, sid: &str) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE provider_accounts SET status = 'closed', secret_ciphertext = NULL,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE provider = ?1 AND account_sid = ?2",
        [provider, sid],
    )?;
    Ok(())
}

/// The SIDs of every active Twilio subaccount.
pub fn active_subaccount_sids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT account_sid FROM provider_accounts WHERE provider = 'twilio' AND kind = 'subaccount' AND status = 'active'",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}
