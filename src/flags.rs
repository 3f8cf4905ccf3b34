//! Feature flag evaluation with an in-memory snapshot (SPEC §5.1). The snapshot is
//! invalidated on every write through the API, so a change applies to the next request
//! without a restart; a change made outside the process is picked up within
//! [`crate::db::CACHE_MAX_AGE`].

use crate::domain::flags::{evaluate, FlagState};
use crate::domain::FlagKey;
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

struct Snapshot {
    loaded_at: std::time::Instant,
    flags: HashMap<String, FlagState>,
    overrides: HashMap<(i64, String), bool>,
}

#[derive(Default)]
pub struct Flags {
    snapshot: RwLock<Option<Arc<Snapshot>>>,
}

impl Flags {
    fn load(conn: &Connection) -> rusqlite::Result<Snapshot> {
        let mut snap = Snapshot {
            loaded_at: std::time::Instant::now(),
            flags: HashMap::new(),
            overrides: HashMap::new(),
        };
        for (key, enabled_globally, rollout_percentage) in crate::db::flags::all_global(conn)? {
            snap.flags.insert(
                key,
                FlagState {
                    enabled_globally,
                    rollout_percentage,
                },
            );
        }
        for (org, key, enabled) in crate::db::flags::all_overrides(conn)? {
            snap.overrides.insert((org, key), enabled);
        }
        Ok(snap)
    }

    /// Is `key` on for `org_id`? A flag missing from the database is off and logged: the
    /// migrations seed every flag, and a test keeps it that way.
    pub fn is_enabled(
        &self,
        conn: &Connection,
        org_id: i64,
        key: FlagKey,
    ) -> rusqlite::Result<bool> {
        let cached = self
            .snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let snap = match cached.filter(|s| s.loaded_at.elapsed() < crate::db::CACHE_MAX_AGE) {
            Some(s) => s,
            None => {
                let fresh = Arc::new(Self::load(conn)?);
                *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Some(fresh.clone());
                fresh
            }
        };
        let Some(state) = snap.flags.get(key.as_str()) else {
            log::error!("feature flag {key} is not in feature_flags; treating it as off");
            return Ok(false);
        };
        Ok(evaluate(
            org_id,
            key,
            *state,
            snap.overrides
                .get(&(org_id, key.as_str().to_string()))
                .copied(),
        ))
    }

    /// Call after any write to `feature_flags` or `org_feature_overrides`.
    pub fn invalidate(&self) {
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
