//! STOP/START per business number (SPEC §3.6): an opted-out customer is never texted.

use super::Cached;
use rusqlite::{Connection, OptionalExtension};

pub fn is_opted_out(conn: &Connection, business: &str, customer: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .row_cached(
            "SELECT 1 FROM opt_outs WHERE business_number = ?1 AND customer_number = ?2",
            [business, customer],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn opt_out(
    conn: &Connection,
    business: &str,
    customer: &str,
    keyword: &str,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT OR IGNORE INTO opt_outs (business_number, customer_number, keyword) VALUES (?1, ?2, ?3)",
        [business, customer, keyword],
    )?;
    Ok(())
}

pub fn opt_in(conn: &Connection, business: &str, customer: &str) -> rusqlite::Result<bool> {
    Ok(conn.exec_cached(
        "DELETE FROM opt_outs WHERE business_number = ?1 AND customer_number = ?2",
        [business, customer],
    )? > 0)
}
