//! Many whole calls at once (`simulate load`): throughput, latency percentiles, errors.

use super::{CallPlan, SimError, Simulator};
use futures_util::stream::{self, StreamExt};
use std::fmt;
use std::time::{Duration, Instant};

/// How much load to make.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub calls: usize,
    pub concurrency: usize,
    /// Every call follows this plan, each with its own CallSid and caller number.
    pub call: CallPlan,
}

/// What the load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub calls: usize,
    /// Calls with at least one error (a non-200 hop, unreadable TwiML, no answer).
    pub failed_calls: usize,
    pub requests: usize,
    pub elapsed: Duration,
    /// Latency of each webhook request, sorted.
    pub request_latencies: Vec<Duration>,
    /// Time of each whole call (all its webhooks, one after another), sorted.
    pub call_latencies: Vec<Duration>,
    /// The first few errors, in words.
    pub errors: Vec<String>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

impl LoadReport {
    pub fn calls_per_sec(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p` quantile (0.0–1.0) of the webhook latencies.
    pub fn request_latency(&self, p: f64) -> Duration {
        percentile(&self.request_latencies, p)
    }

    /// The `p` quantile (0.0–1.0) of whole-call times.
    pub fn call_latency(&self, p: f64) -> Duration {
        percentile(&self.call_latencies, p)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} calls ({} webhooks) in {:.2} s: {:.0} calls/s, {:.0} webhooks/s",
            self.calls,
            self.requests,
            self.elapsed.as_secs_f64(),
            self.calls_per_sec(),
            self.requests_per_sec()
        )?;
        writeln!(
            f,
            "webhook latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(self.request_latency(0.50)),
            ms(self.request_latency(0.99)),
            ms(self.request_latency(1.0))
        )?;
        writeln!(
            f,
            "whole call:      p50 {:.2} ms, p99 {:.2} ms",
            ms(self.call_latency(0.50)),
            ms(self.call_latency(0.99))
        )?;
        write!(f, "failed calls: {}", self.failed_calls)?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// Errors kept in the report; the count of failed calls is always complete.
const ERRORS_KEPT: usize = 10;

impl Simulator {
    /// Runs `plan.calls` calls, `plan.concurrency` at a time.
    pub async fn load(&self, plan: &LoadPlan) -> Result<LoadReport, SimError> {
        if plan.calls == 0 || plan.concurrency == 0 {
            return Err(SimError::Setup(
                "--calls and --concurrency must be at least 1".into(),
            ));
        }
        let started = Instant::now();
        let mut runs = stream::iter(0..plan.calls)
            .map(|i| {
                let mut call = plan.call.clone();
                call.call_sid = None;
                // A different caller each time, so per-caller limits see ordinary traffic.
                call.from = format!("+1628{:07}", i % 10_000_000);
                // Each call is its own task, so a multi-threaded runtime spreads the
                // client's work over its threads.
                let sim = self.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    (sim.call(&call, |_| {}).await, t.elapsed())
                })
            })
            .buffer_unordered(plan.concurrency);
        let mut report = LoadReport {
            calls: 0,
            failed_calls: 0,
            requests: 0,
            elapsed: Duration::ZERO,
            request_latencies: Vec::with_capacity(plan.calls * 8),
            call_latencies: Vec::with_capacity(plan.calls),
            errors: Vec::new(),
        };
        while let Some(joined) = runs.next().await {
            let (result, took) =
                joined.map_err(|e| SimError::Setup(format!("a simulated call stopped: {e}")))?;
            report.calls += 1;
            let errors = match result {
                Ok(call) => {
                    report.requests += call.hops.len();
                    report
                        .request_latencies
                        .extend(call.hops.iter().map(|h| h.answer.elapsed));
                    report.call_latencies.push(took);
                    call.errors
                        .into_iter()
                        .map(|e| format!("{}: {e}", call.call_sid))
                        .collect()
                }
                Err(e) => vec![e.to_string()],
            };
            if !errors.is_empty() {
                report.failed_calls += 1;
                let room = ERRORS_KEPT.saturating_sub(report.errors.len());
                report.errors.extend(errors.into_iter().take(room));
            }
        }
        report.elapsed = started.elapsed();
        report.request_latencies.sort_unstable();
        report.call_latencies.sort_unstable();
        Ok(report)
    }
}
