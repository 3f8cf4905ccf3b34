//! A small generic saga engine (SPEC §6.3): named steps, each an action with an optional
//! compensation, the shared context persisted before and after every step, and recovery at
//! start-up.
//!
//! A failure at step N compensates steps N-1…1 in reverse (and step N itself when its
//! outcome is unknown, e.g. a timeout: the provider may have done it). Compensations must
//! find what may exist from the context and the provider and treat "already gone" as done,
//! because after a crash a step can be "started" with its result never recorded.

use crate::db::{sagas, Db, DbError};
use crate::providers::{ProviderError, ProviderErrorKind};
use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};

/// Why a step failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The provider answered, but not as it must (e.g. a URL read back differs).
    #[error("{0}")]
    Check(String),
    #[error("database: {0}")]
    Db(String),
}

impl From<DbError> for StepError {
    fn from(e: DbError) -> Self {
        StepError::Db(e.to_string())
    }
}

impl From<rusqlite::Error> for StepError {
    fn from(e: rusqlite::Error) -> Self {
        StepError::Db(e.to_string())
    }
}

impl StepError {
    /// True when the step may have taken effect although it failed (no answer, 5xx).
    pub fn uncertain(&self) -> bool {
        match self {
            StepError::Provider(p) => p.kind == ProviderErrorKind::Unavailable,
            StepError::Check(_) => true,
            StepError::Db(_) => true,
        }
    }

    pub fn provider_code(&self) -> Option<i64> {
        match self {
            StepError::Provider(p) => p.code,
            _ => None,
        }
    }
}

/// What a compensation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    Done,
    /// There was nothing to undo.
    Nothing,
}

/// One named step of a saga over context `C`.
#[async_trait]
pub trait Step<C: Send>: Send + Sync {
    fn name(&self) -> &'static str;

    /// Does the work and records in `ctx` what it created.
    async fn run(&self, ctx: &mut C) -> Result<(), StepError>;

    /// Undoes [`Step::run`]; see the module docs for what it must tolerate.
    async fn compensate(&self, _ctx: &mut C) -> Result<Undo, StepError> {
        Ok(Undo::Nothing)
    }

    /// A final step that only writes the database: a saga interrupted with every earlier
    /// step done is completed by running it at recovery instead of being compensated.
    fn completes_on_recovery(&self) -> bool {
        false
    }
}

/// A saga that did not complete.
#[derive(Debug, Clone)]
pub struct SagaFailed {
    pub saga_id: i64,
    /// The step that failed.
    pub step: &'static str,
    pub error: StepError,
    /// A compensation that failed too: something may be left at a provider (the saga
    /// stays `compensating` and is retried at the next start).
    pub compensation_error: Option<(&'static str, StepError)>,
}

/// How a saga ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    Completed,
    Compensated,
    /// A compensation failed again; the saga is retried at the next start.
    StillCompensating(String),
    /// The saga cannot be resumed (its stored context no longer parses); it is marked
    /// `failed` for an operator to look at.
    Failed(String),
}

/// A saga definition: its kind and steps, bound to what the steps need.
pub struct Saga<C> {
    pub kind: &'static str,
    pub steps: Vec<Box<dyn Step<C>>>,
}

fn to_json<C: Serialize>(ctx: &C) -> serde_json::Value {
    serde_json::to_value(ctx).unwrap_or(serde_json::Value::Null)
}

impl<C> Saga<C>
where
    C: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Persists a new saga in state `running` and returns its id.
    pub async fn create(
        &self,
        db: &Db,
        org_id: Option<i64>,
        input: serde_json::Value,
        ctx: &C,
    ) -> Result<i64, DbError> {
        let (kind, context) = (self.kind, to_json(ctx));
        db.query(move |c| sagas::create(c, org_id, kind, &input, &context))
            .await
    }

    async fn record<F>(&self, db: &Db, f: F) -> Result<(), StepError>
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<()> + Send + 'static,
    {
        db.query(move |c| f(c)).await.map_err(StepError::from)
    }

    /// Logs that step `seq` (its action or its compensation) starts, with the context.
    async fn log_start(
        &self,
        db: &Db,
        saga_id: i64,
        seq: usize,
        phase: &'static str,
        ctx: &C,
    ) -> Result<(), StepError> {
        let (name, context) = (self.steps[seq].name(), to_json(ctx));
        self.record(db, move |c| {
            sagas::step_started(c, saga_id, seq, name, phase, &context)
        })
        .await
    }

    /// Logs how step `seq` ended: `Ok(state)`, or `Err(text)` when it failed.
    async fn log_end(
        &self,
        db: &Db,
        saga_id: i64,
        seq: usize,
        phase: &'static str,
        outcome: Result<&'static str, String>,
        ctx: &C,
    ) -> Result<(), StepError> {
        let context = to_json(ctx);
        let (state, error) = match outcome {
            Ok(state) => (state, None),
            Err(text) => ("failed", Some(text)),
        };
        self.record(db, move |c| {
            sagas::step_finished(c, saga_id, seq, phase, state, error.as_deref(), &context)
        })
        .await
    }

    /// Runs every step from the first; on failure compensates and reports the failed step.
    pub async fn run(&self, db: &Db, saga_id: i64, ctx: &mut C) -> Result<(), SagaFailed> {
        self.run_from(db, saga_id, 0, ctx).await
    }

    async fn run_from(
        &self,
        db: &Db,
        saga_id: i64,
        first: usize,
        ctx: &mut C,
    ) -> Result<(), SagaFailed> {
        for (seq, step) in self.steps.iter().enumerate().skip(first) {
            let name = step.name();
            let result = match self.log_start(db, saga_id, seq, "action", ctx).await {
                Ok(()) => step.run(ctx).await,
                Err(e) => Err(e),
            };
            let logged = match &result {
                Ok(()) => {
                    self.log_end(db, saga_id, seq, "action", Ok("succeeded"), ctx)
                        .await
                }
                Err(e) => {
                    let text = e.to_string();
                    // The step's own failure is what is reported, logged or not.
                    let _ = self
                        .log_end(db, saga_id, seq, "action", Err(text), ctx)
                        .await;
                    Ok(())
                }
            };
            if let Err(e) = result.and(logged) {
                return Err(self.fail(db, saga_id, seq, name, e, ctx).await);
            }
        }
        let _ = self
            .record(db, move |c| sagas::set_state(c, saga_id, "completed", None))
            .await;
        log::info!("saga {saga_id} ({}) completed", self.kind);
        Ok(())
    }

    /// Compensates after step `seq` failed with `error`.
    async fn fail(
        &self,
        db: &Db,
        saga_id: i64,
        seq: usize,
        name: &'static str,
        error: StepError,
        ctx: &mut C,
    ) -> SagaFailed {
        log::warn!(
            "saga {saga_id} ({}) failed at step {name}: {error}",
            self.kind
        );
        let detail = serde_json::json!({
            "step": name,
            "message": error.to_string(),
            "providerCode": error.provider_code(),
        });
        let _ = self
            .record(db, move |c| {
                sagas::set_state(c, saga_id, "compensating", Some(&detail))
            })
            .await;
        // The failed step is undone too when it may have taken effect.
        let last = if error.uncertain() {
            Some(seq)
        } else {
            seq.checked_sub(1)
        };
        let compensation_error = match last {
            Some(last) => self
                .compensate_down_from(db, saga_id, last, ctx)
                .await
                .err(),
            None => {
                self.finish_compensated(db, saga_id).await;
                None
            }
        };
        SagaFailed {
            saga_id,
            step: name,
            error,
            compensation_error,
        }
    }

    async fn finish_compensated(&self, db: &Db, saga_id: i64) {
        let _ = self
            .record(db, move |c| {
                sagas::set_state(c, saga_id, "compensated", None)
            })
            .await;
        log::info!("saga {saga_id} ({}) compensated", self.kind);
    }

    /// Compensates steps `last`…0 in reverse, each recorded; stops at the first failure
    /// (the saga then stays `compensating`, to be retried at the next start).
    async fn compensate_down_from(
        &self,
        db: &Db,
        saga_id: i64,
        last: usize,
        ctx: &mut C,
    ) -> Result<(), (&'static str, StepError)> {
        for seq in (0..=last.min(self.steps.len().saturating_sub(1))).rev() {
            let step = &self.steps[seq];
            let _ = self.log_start(db, saga_id, seq, "compensation", ctx).await;
            match step.compensate(ctx).await {
                Ok(undo) => {
                    let state = match undo {
                        Undo::Done => "succeeded",
                        Undo::Nothing => "skipped",
                    };
                    let _ = self
                        .log_end(db, saga_id, seq, "compensation", Ok(state), ctx)
                        .await;
                }
                Err(e) => {
                    log::error!(
                        "saga {saga_id} ({}): compensating {} failed: {e}; retried at the next start",
                        self.kind,
                        step.name()
                    );
                    let text = e.to_string();
                    let _ = self
                        .log_end(db, saga_id, seq, "compensation", Err(text), ctx)
                        .await;
                    return Err((step.name(), e));
                }
            }
        }
        self.finish_compensated(db, saga_id).await;
        Ok(())
    }

    /// Finishes a saga a crash interrupted: completes it when only a database step
    /// remains, otherwise compensates what was (or may have been) done.
    pub async fn recover(&self, db: &Db, row: &sagas::SagaRow) -> Result<Recovered, DbError> {
        let saga_id = row.id;
        let log = db.query(move |c| sagas::steps(c, saga_id)).await?;
        let mut ctx: C = match serde_json::from_value(row.context.clone()) {
            Ok(ctx) => ctx,
            Err(e) => {
                let detail = serde_json::json!({ "message": format!("unreadable context: {e}") });
                db.query(move |c| sagas::set_state(c, saga_id, "failed", Some(&detail)))
                    .await?;
                return Ok(Recovered::Failed(format!(
                    "saga {saga_id} has an unreadable context: {e}"
                )));
            }
        };
        let succeeded = |seq: usize| {
            log.iter()
                .any(|s| s.phase == "action" && s.seq == seq as i64 && s.state == "succeeded")
        };
        let touched = log
            .iter()
            .filter(|s| s.phase == "action")
            .map(|s| s.seq as usize)
            .max();
        if row.state == "running" {
            let next = (0..self.steps.len()).find(|&i| !succeeded(i));
            match next {
                None => {
                    db.query(move |c| sagas::set_state(c, saga_id, "completed", None))
                        .await?;
                    return Ok(Recovered::Completed);
                }
                Some(i) if self.steps[i].completes_on_recovery() && (0..i).all(succeeded) => {
                    return Ok(match self.run_from(db, saga_id, i, &mut ctx).await {
                        Ok(()) => Recovered::Completed,
                        Err(f) => match f.compensation_error {
                            None => Recovered::Compensated,
                            Some((step, e)) => Recovered::StillCompensating(format!("{step}: {e}")),
                        },
                    });
                }
                Some(_) => {}
            }
            let detail = serde_json::json!({ "message": "interrupted by a restart" });
            db.query(move |c| sagas::set_state(c, saga_id, "compensating", Some(&detail)))
                .await?;
        }
        // Compensate everything that was started, whether or not its end was recorded;
        // compensations already done are cheap to repeat (they find nothing).
        let Some(last) = touched else {
            self.finish_compensated(db, saga_id).await;
            return Ok(Recovered::Compensated);
        };
        Ok(
            match self.compensate_down_from(db, saga_id, last, &mut ctx).await {
                Ok(()) => Recovered::Compensated,
                Err((step, e)) => Recovered::StillCompensating(format!("{step}: {e}")),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::sync::{Arc, Mutex};

    #[derive(Default, Serialize, Deserialize)]
    struct Ctx {
        made: Vec<String>,
    }

    struct Make {
        name: &'static str,
        fail: Option<ProviderErrorKind>,
        journal: Arc<Mutex<Vec<String>>>,
        db_only: bool,
    }

    #[async_trait]
    impl Step<Ctx> for Make {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn run(&self, ctx: &mut Ctx) -> Result<(), StepError> {
            if let Some(kind) = self.fail {
                return Err(ProviderError::twilio(kind, Some(500), Some(1), "boom").into());
            }
            ctx.made.push(self.name.into());
            self.journal
                .lock()
                .unwrap()
                .push(format!("run {}", self.name));
            Ok(())
        }
        async fn compensate(&self, ctx: &mut Ctx) -> Result<Undo, StepError> {
            self.journal
                .lock()
                .unwrap()
                .push(format!("undo {}", self.name));
            let had = ctx.made.iter().any(|m| m == self.name);
            ctx.made.retain(|m| m != self.name);
            Ok(if had { Undo::Done } else { Undo::Nothing })
        }
        fn completes_on_recovery(&self) -> bool {
            self.db_only
        }
    }

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = Db::open(&dir.path().join("t.db"), &dir.path().join("b")).unwrap();
        (dir, db)
    }

    fn saga(
        fail_at: Option<(usize, ProviderErrorKind)>,
        journal: &Arc<Mutex<Vec<String>>>,
    ) -> Saga<Ctx> {
        let names = ["a", "b", "c"];
        Saga {
            kind: "test",
            steps: names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    Box::new(Make {
                        name: n,
                        fail: fail_at.filter(|(at, _)| *at == i).map(|(_, k)| k),
                        journal: journal.clone(),
                        db_only: i == 2,
                    }) as Box<dyn Step<Ctx>>
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn a_rejected_step_compensates_the_earlier_steps_in_reverse_and_records_each() {
        let (_dir, db) = db();
        let journal = Arc::default();
        let s = saga(Some((2, ProviderErrorKind::Rejected)), &journal);
        let mut ctx = Ctx::default();
        let id = s
            .create(&db, None, serde_json::json!({}), &ctx)
            .await
            .unwrap();
        let failed = s.run(&db, id, &mut ctx).await.unwrap_err();
        assert_eq!(failed.step, "c");
        assert!(failed.compensation_error.is_none());
        assert_eq!(
            *journal.lock().unwrap(),
            ["run a", "run b", "undo b", "undo a"]
        );
        let conn = db.conn().unwrap();
        assert_eq!(sagas::get(&conn, id).unwrap().unwrap().state, "compensated");
        let steps: Vec<(String, String, String)> = sagas::steps(&conn, id)
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.phase, s.state))
            .collect();
        let owned = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            steps,
            [
                owned("a", "action", "succeeded"),
                owned("b", "action", "succeeded"),
                owned("c", "action", "failed"),
                owned("b", "compensation", "succeeded"),
                owned("a", "compensation", "succeeded"),
            ]
        );
    }

    #[tokio::test]
    async fn a_step_whose_outcome_is_unknown_is_compensated_too() {
        let (_dir, db) = db();
        let journal = Arc::default();
        let s = saga(Some((1, ProviderErrorKind::Unavailable)), &journal);
        let mut ctx = Ctx::default();
        let id = s
            .create(&db, None, serde_json::json!({}), &ctx)
            .await
            .unwrap();
        s.run(&db, id, &mut ctx).await.unwrap_err();
        assert_eq!(*journal.lock().unwrap(), ["run a", "undo b", "undo a"]);
    }

    /// A saga as a crash leaves it: `done` steps logged as succeeded, then `started` begun
    /// with no end logged.
    async fn interrupted(
        db: &Db,
        s: &Saga<Ctx>,
        ctx: &Ctx,
        done: &[&str],
        started: Option<&str>,
    ) -> sagas::SagaRow {
        let id = s
            .create(db, None, serde_json::json!({}), ctx)
            .await
            .unwrap();
        let c = db.conn().unwrap();
        let v = serde_json::to_value(ctx).unwrap();
        for (seq, name) in done.iter().enumerate() {
            sagas::step_started(&c, id, seq, name, "action", &v).unwrap();
            sagas::step_finished(&c, id, seq, "action", "succeeded", None, &v).unwrap();
        }
        if let Some(name) = started {
            sagas::step_started(&c, id, done.len(), name, "action", &v).unwrap();
        }
        sagas::get(&c, id).unwrap().unwrap()
    }

    #[tokio::test]
    async fn recovery_completes_a_saga_when_only_the_database_step_remains() {
        let (_dir, db) = db();
        let journal = Arc::default();
        let s = saga(None, &journal);
        let ctx = Ctx {
            made: vec!["a".into(), "b".into()],
        };
        let row = interrupted(&db, &s, &ctx, &["a", "b"], None).await;
        assert_eq!(s.recover(&db, &row).await.unwrap(), Recovered::Completed);
        assert_eq!(*journal.lock().unwrap(), ["run c"]);
    }

    #[tokio::test]
    async fn recovery_compensates_a_step_that_started_but_never_finished() {
        let (_dir, db) = db();
        let journal = Arc::default();
        let s = saga(None, &journal);
        let ctx = Ctx {
            made: vec!["a".into()],
        };
        let row = interrupted(&db, &s, &ctx, &["a"], Some("b")).await;
        assert_eq!(s.recover(&db, &row).await.unwrap(), Recovered::Compensated);
        assert_eq!(*journal.lock().unwrap(), ["undo b", "undo a"]);
        let row = sagas::get(&db.conn().unwrap(), row.id).unwrap().unwrap();
        assert_eq!(row.state, "compensated");
        assert!(row.finished_at.is_some());
    }
}
