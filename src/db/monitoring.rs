//! The monitoring views of SPEC §8.2 (`schema/0004_monitoring_views.sql`), read for one
//! organization as rows of named columns.

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::{Map, Value};

/// A monitoring view: its name in the API and on the Health page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    ActiveCalls,
    CallVolumeHourly,
    RecentErrors,
    RateLimitViolations,
    FailedTransactions,
    NumberProvisioningStatus,
    VoicemailBacklog,
    CallSuccessMetrics,
    ConsentMetrics,
}

impl View {
    pub const ALL: [View; 9] = [
        View::ActiveCalls,
        View::CallVolumeHourly,
        View::RecentErrors,
        View::RateLimitViolations,
        View::FailedTransactions,
        View::NumberProvisioningStatus,
        View::VoicemailBacklog,
        View::CallSuccessMetrics,
        View::ConsentMetrics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            View::ActiveCalls => "active_calls",
            View::CallVolumeHourly => "call_volume_hourly",
            View::RecentErrors => "recent_errors",
            View::RateLimitViolations => "rate_limit_violations",
            View::FailedTransactions => "failed_transactions",
            View::NumberProvisioningStatus => "number_provisioning_status",
            View::VoicemailBacklog => "voicemail_backlog",
            View::CallSuccessMetrics => "call_success_metrics",
            View::ConsentMetrics => "consent_metrics",
        }
    }

    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The query: the view's rows of `?1`'s organization, newest or largest first, and,
    /// when `appliance_wide`, the rows that belong to no organization (org_id NULL): rate
    /// limits, webhooks no number answered, provider work not yet tied to an org. Those
    /// name callers, addresses and sign-in emails from every organization on the appliance.
    /// `None`: the view holds nothing but such rows.
    fn sql(self, appliance_wide: bool) -> Option<&'static str> {
        Some(match (self, appliance_wide) {
            (View::ActiveCalls, _) => {
                "SELECT * FROM mon_active_calls WHERE org_id = ?1 ORDER BY started_at DESC LIMIT ?2"
            }
            (View::CallVolumeHourly, _) => {
                "SELECT * FROM mon_call_volume_hourly WHERE org_id = ?1 ORDER BY hour DESC LIMIT ?2"
            }
            (View::RecentErrors, true) => {
                "SELECT * FROM mon_recent_errors WHERE org_id = ?1 OR org_id IS NULL ORDER BY at DESC LIMIT ?2"
            }
            (View::RecentErrors, false) => {
                "SELECT * FROM mon_recent_errors WHERE org_id = ?1 ORDER BY at DESC LIMIT ?2"
            }
            (View::RateLimitViolations, true) => {
                "SELECT * FROM mon_rate_limit_violations ORDER BY rejected DESC, last_minute DESC LIMIT ?2"
            }
            (View::RateLimitViolations, false) => return None,
            (View::FailedTransactions, true) => {
                "SELECT * FROM mon_failed_transactions WHERE org_id = ?1 OR org_id IS NULL ORDER BY created_at DESC LIMIT ?2"
            }
            (View::FailedTransactions, false) => {
                "SELECT * FROM mon_failed_transactions WHERE org_id = ?1 ORDER BY created_at DESC LIMIT ?2"
            }
            (View::NumberProvisioningStatus, _) => {
                "SELECT * FROM mon_number_provisioning_status WHERE org_id = ?1 ORDER BY status, e164 LIMIT ?2"
            }
            (View::VoicemailBacklog, _) => {
                "SELECT * FROM mon_voicemail_backlog WHERE org_id = ?1 LIMIT ?2"
            }
            (View::CallSuccessMetrics, _) => {
                "SELECT * FROM mon_call_success_metrics WHERE org_id = ?1 ORDER BY day DESC LIMIT ?2"
            }
            (View::ConsentMetrics, _) => {
                "SELECT * FROM mon_consent_metrics WHERE org_id = ?1 ORDER BY calls DESC LIMIT ?2"
            }
        })
    }
}

/// At most this many rows of a view are returned.
pub const MAX_ROWS: i64 = 500;

/// The rows of `view` for `org_id`, each an object of its columns; with
/// `appliance_wide`, also the rows that belong to no organization (rate limits, webhooks
/// no number answered, provider work not yet tied to an org).
pub fn rows(
    conn: &Connection,
    view: View,
    org_id: i64,
    appliance_wide: bool,
) -> rusqlite::Result<Vec<Map<String, Value>>> {
    let Some(sql) = view.sql(appliance_wide) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let names: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let rows = stmt.query_map((org_id, MAX_ROWS), |r| {
        let mut row = Map::new();
        for (i, name) in names.iter().enumerate() {
            if name == "org_id" {
                continue;
            }
            let value = match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Real(f) => Value::from(f),
                ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => Value::Null,
            };
            row.insert(name.clone(), value);
        }
        Ok(row)
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_exists_and_reads_on_an_empty_database() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = crate::db::Db::open(&dir.path().join("t.db"), &dir.path().join("b")).unwrap();
        let conn = db.conn().unwrap();
        for (view, appliance_wide) in View::ALL.into_iter().flat_map(|v| [(v, true), (v, false)]) {
            assert_eq!(View::from_name(view.name()), Some(view));
            let rows = rows(&conn, view, 1, appliance_wide)
                .unwrap_or_else(|e| panic!("{}: {e}", view.name()));
            assert!(rows.is_empty(), "{}", view.name());
        }
        assert_eq!(View::from_name("calls"), None);
    }

    /// SPEC §10: a view answers in milliseconds on a year of calls only if it never
    /// scans a table that grows with the calls.
    #[test]
    fn no_view_scans_a_table_that_grows_with_calls() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = crate::db::Db::open(&dir.path().join("t.db"), &dir.path().join("b")).unwrap();
        let conn = db.conn().unwrap();
        let growing = [
            "calls",
            "c",
            "call_events",
            "e",
            "webhook_ledger",
            "messages",
            "voicemails",
        ];
        let queries = View::ALL
            .into_iter()
            .flat_map(|v| [(v, v.sql(true)), (v, v.sql(false))]);
        for (view, sql) in queries {
            let Some(sql) = sql else { continue };
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let details: Vec<String> = stmt
                .query_map((1, MAX_ROWS), |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for d in &details {
                if let Some(table) = d.strip_prefix("SCAN ") {
                    let table = table.split_whitespace().next().unwrap_or_default();
                    assert!(
                        !growing.contains(&table),
                        "{}: full scan of {table}: {details:?}",
                        view.name()
                    );
                }
            }
        }
    }
}
