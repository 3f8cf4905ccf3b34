//! Rate-limit violations, aggregated per limiter, key and minute (SPEC §6.1).

/// Adds aggregated violations to `rate_limit_violations` in one transaction.
pub fn flush(
    conn: &mut rusqlite::Connection,
    violations: &[crate::ratelimit::Violation],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO rate_limit_violations (limiter, key, minute, count) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(limiter, key, minute) DO UPDATE SET count = count + excluded.count",
        )?;
        for v in violations {
            stmt.execute((&v.limiter, &v.key, &v.minute, v.count))?;
        }
    }
    tx.commit()
}
