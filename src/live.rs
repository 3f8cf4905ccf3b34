//! The live dashboard's feed (SPEC §12): changes from the database writer's commits,
//! served as server-sent events by `http::live`. Each committed batch's changed rows (calls and their
//! timelines, texts, voicemails, leads) are mapped to their organizations and become one
//! numbered event per organization; a page that shows such things reloads them. A client
//! that reconnects with `Last-Event-ID` gets what it missed from the last
//! [`REMEMBERED`] events, or `reset` (reload everything) if that is too long ago; a client
//! that falls behind gets `reset` too, so no client holds more than the shared buffer.
//! A commit that queued outgoing webhooks wakes their sender.

use crate::db::writer::{Change, Watched};
use crate::db::Db;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Events kept for clients that reconnect.
pub const REMEMBERED: usize = 512;
/// Events a slow client may fall behind before it is told to reload.
const BACKLOG: usize = 256;
/// A comment this often keeps proxies from closing an idle stream.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// What changed for one organization in one commit.
#[derive(Debug)]
pub struct LiveEvent {
    pub id: u64,
    pub org_id: i64,
    /// `calls`, `messages`, `voicemails`, `leads`.
    pub kinds: Vec<&'static str>,
}

pub struct Live {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    /// Set when the appliance stops, so open streams end instead of holding up the
    /// graceful shutdown (the browsers reconnect to the next start).
    closing: tokio::sync::watch::Sender<bool>,
    recent: Mutex<VecDeque<Arc<LiveEvent>>>,
    next_id: AtomicU64,
}

/// What a reconnecting client missed.
pub enum Replay {
    Events(Vec<Arc<LiveEvent>>),
    /// Too long ago (or from before a restart): reload everything.
    Reset,
}

impl Live {
    /// Starts mapping the writer's commits to events, and waking `deliveries` (the
    /// outgoing webhooks' sender) when a commit queued some. Ids start from the time of
    /// start, so an id from before a restart is never mistaken for a recent one.
    pub fn start(db: Db, deliveries: Arc<tokio::sync::Notify>) -> Arc<Live> {
        let start = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0) * 1000;
        let live = Arc::new(Live {
            tx: broadcast::channel(BACKLOG).0,
            closing: tokio::sync::watch::channel(false).0,
            recent: Mutex::new(VecDeque::with_capacity(REMEMBERED)),
            next_id: AtomicU64::new(start),
        });
        if let Some(mut changes) = db.take_changes() {
            let feed = live.clone();
            tokio::spawn(async move {
                while let Some(batch) = changes.recv().await {
                    if batch.iter().any(|c| c.table == Watched::WebhookDeliveries) {
                        deliveries.notify_one();
                    }
                    // Nobody to tell: no query (a tenth of a core under full load).
                    if feed.unwatched() {
                        continue;
                    }
                    match orgs_of(&db, batch).await {
                        Ok(orgs) => {
                            for (org, kinds) in orgs {
                                feed.publish(org, kinds);
                            }
                        }
                        Err(e) => log::warn!("live update not sent: {e}"),
                    }
                }
            });
        }
        live
    }

    fn publish(&self, org_id: i64, kinds: Vec<&'static str>) {
        let event = Arc::new(LiveEvent {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            org_id,
            kinds,
        });
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == REMEMBERED {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// True when no client is connected. The events remembered are then dropped and an id
    /// skipped, so a client that reconnects later with one of them is told to reload
    /// rather than told nothing happened; with nothing remembered, every earlier id already
    /// gets that, so a run of unwatched commits skips one id. Checked under the lock
    /// [`Live::since`] takes, so a client that subscribes meanwhile either gets the batch's
    /// events or, asking what it missed, the reset.
    fn unwatched(&self) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if self.tx.receiver_count() > 0 {
            return false;
        }
        if !recent.is_empty() {
            recent.clear();
            self.next_id.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Turns true when the appliance is stopping: open streams end.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }

    /// Ends every open stream (the appliance is stopping).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// This org's events after `last`, if the buffer still reaches back that far (an id
    /// from before a restart never does: ids start at the time of start).
    pub fn since(&self, org_id: i64, last: u64) -> Replay {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let next = self.next_id.load(Ordering::Relaxed);
        if last.saturating_add(1) >= next {
            return Replay::Events(Vec::new());
        }
        match recent.front() {
            Some(oldest) if oldest.id <= last + 1 => Replay::Events(
                recent
                    .iter()
                    .filter(|e| e.id > last && e.org_id == org_id)
                    .cloned()
                    .collect(),
            ),
            _ => Replay::Reset,
        }
    }

    /// Connected clients (for Health and the benchmark).
    pub fn clients(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// The watched tables a dashboard shows: how to find the organizations of changed rows,
/// and what changed for them. (The outgoing webhooks' queue is watched too, but only to
/// wake its sender.)
const DASHBOARD_TABLES: [(Watched, &str, &str); 5] = [
    (Watched::Calls, "SELECT DISTINCT org_id FROM calls WHERE id IN (SELECT value FROM json_each(?1))", "calls"),
    (
        Watched::CallEvents,
        "SELECT DISTINCT c.org_id FROM call_events e JOIN calls c ON c.id = e.call_id WHERE e.id IN (SELECT value FROM json_each(?1))",
        "calls",
    ),
    (Watched::Messages, "SELECT DISTINCT org_id FROM messages WHERE id IN (SELECT value FROM json_each(?1))", "messages"),
    (Watched::Voicemails, "SELECT DISTINCT org_id FROM voicemails WHERE id IN (SELECT value FROM json_each(?1))", "voicemails"),
    (Watched::Leads, "SELECT DISTINCT org_id FROM leads WHERE id IN (SELECT value FROM json_each(?1))", "leads"),
];

/// The organizations a batch of changed rows belongs to, with what changed for each.
async fn orgs_of(
    db: &Db,
    batch: Vec<Change>,
) -> Result<Vec<(i64, Vec<&'static str>)>, crate::db::DbError> {
    db.query(move |c| {
        let mut out: std::collections::BTreeMap<i64, BTreeSet<&'static str>> = Default::default();
        for (table, sql, kind) in DASHBOARD_TABLES {
            let ids: BTreeSet<i64> = batch
                .iter()
                .filter(|ch| ch.table == table)
                .map(|ch| ch.rowid)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
            let mut stmt = c.prepare_cached(sql)?;
            let orgs = stmt.query_map([list], |r| r.get::<_, Option<i64>>(0))?;
            for org in orgs {
                if let Some(org) = org? {
                    out.entry(org).or_default().insert(kind);
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|(org, kinds)| (org, kinds.into_iter().collect()))
            .collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            tx: broadcast::channel(BACKLOG).0,
            closing: tokio::sync::watch::channel(false).0,
            recent: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(100),
        }
    }

    /// A commit nobody watched costs no query, yet a client that comes back with the last
    /// id it saw is told to reload rather than told nothing happened.
    #[test]
    fn a_commit_nobody_watched_makes_a_returning_client_reload() {
        let live = live();
        let client = live.subscribe();
        assert!(!live.unwatched(), "a connected client is told");
        live.publish(7, vec!["calls"]);
        assert!(matches!(live.since(7, 100), Replay::Events(e) if e.is_empty()));
        drop(client);

        assert!(live.unwatched());
        assert!(live.unwatched(), "a run of unwatched commits");
        assert!(matches!(live.since(7, 100), Replay::Reset));
        assert!(matches!(live.since(7, 99), Replay::Reset));
        // One gap for the run: the next event follows it, and a client that saw that
        // event has missed nothing.
        let _client = live.subscribe();
        live.publish(7, vec!["calls"]);
        assert_eq!(live.recent.lock().unwrap().back().unwrap().id, 102);
        assert!(matches!(live.since(7, 102), Replay::Events(e) if e.is_empty()));
        assert!(matches!(live.since(7, 101), Replay::Events(e) if e.len() == 1));
    }
}
