//! In-process rate limiting (SPEC §6.1): named keyed GCRA limiters from `governor`, idle
//! keys expired periodically so memory stays bounded under a flood of distinct keys, and
//! violations aggregated in memory per (limiter, key, minute) and flushed in batches so a
//! flood never costs a database write per rejected request.

use crate::config::RateLimitConfig;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Above this many distinct pending (limiter, key, minute) rows, further keys are folded
/// into one `(other)` row until the next flush.
const MAX_PENDING_VIOLATION_KEYS: usize = 10_000;

pub struct Limiter {
    pub name: &'static str,
    /// Keyed by a keyed hash of the key, not the key itself: a flood of distinct keys (a
    /// botnet's addresses, sprayed emails) costs a few bytes each until they expire.
    inner: DefaultKeyedRateLimiter<u64>,
    rejected: AtomicU64,
}

impl Limiter {
    fn per_minute(name: &'static str, per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("max(1) is non-zero");
        Limiter {
            name,
            inner: RateLimiter::keyed(Quota::per_minute(n)),
            rejected: AtomicU64::new(0),
        }
    }

    /// Rejections since start, for metrics.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Keys currently tracked (bounded by [`RateLimits::retain_recent`]).
    pub fn tracked_keys(&self) -> usize {
        self.inner.len()
    }
}

/// One aggregated violation row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub limiter: String,
    pub key: String,
    pub minute: String,
    pub count: u32,
}

/// Callbacks one user may place a minute: enough to work down a list, too few to run up
/// a bill from a stolen session.
pub const CALLBACKS_PER_USER_PER_MIN: u32 = 5;

pub struct RateLimits {
    /// `/twilio/voice` per caller, applied after the signature check.
    pub twilio_voice: Limiter,
    /// Requests that fail webhook authentication, per source IP.
    pub auth_failures: Limiter,
    /// The JSON API per token or session.
    pub api: Limiter,
    /// Login attempts per IP + email (guessing one account's password).
    pub login: Limiter,
    /// Login attempts per IP whatever the email (one password tried on every account).
    pub login_ip: Limiter,
    /// Login attempts from everywhere together, so a flood from many addresses and many
    /// emails is slowed too (one key).
    pub login_global: Limiter,
    /// Second-factor codes per user, wherever they come from: six digits must not be
    /// guessable by spreading the guesses over many addresses (SPEC §14). Same rate as
    /// `login`.
    pub two_factor: Limiter,
    /// "Call back" per user (SPEC §12): each one rings two phones and costs money.
    pub callbacks: Limiter,
    pending: Mutex<HashMap<(&'static str, String, String), u32>>,
    /// Randomly keyed per process, so nobody can choose keys that collide.
    hasher: RandomState,
}

impl RateLimits {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        RateLimits {
            twilio_voice: Limiter::per_minute("twilio_voice", cfg.twilio_voice_per_caller),
            auth_failures: Limiter::per_minute("auth_failures", cfg.auth_failures_per_ip),
            api: Limiter::per_minute("api", cfg.api_per_principal),
            login: Limiter::per_minute("login", cfg.login_per_ip_email),
            login_ip: Limiter::per_minute("login_ip", cfg.login_per_ip),
            login_global: Limiter::per_minute("login_global", cfg.login_global),
            two_factor: Limiter::per_minute("two_factor", cfg.login_per_ip_email),
            callbacks: Limiter::per_minute("callbacks", CALLBACKS_PER_USER_PER_MIN),
            pending: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
        }
    }

    pub fn all(&self) -> [&Limiter; 8] {
        [
            &self.twilio_voice,
            &self.auth_failures,
            &self.api,
            &self.login,
            &self.login_ip,
            &self.login_global,
            &self.two_factor,
            &self.callbacks,
        ]
    }

    /// Lets the request through, or says how long to wait (rounded up to whole seconds,
    /// at least 1, for `Retry-After`) and records the violation.
    pub fn check(&self, limiter: &Limiter, key: &str) -> Result<(), u64> {
        match limiter.inner.check_key(&self.hasher.hash_one(key)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                limiter.rejected.fetch_add(1, Ordering::Relaxed);
                self.record(limiter.name, key);
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait.is_zero()))
            }
        }
    }

    fn record(&self, limiter: &'static str, key: &str) {
        let minute = chrono::Utc::now().format("%Y-%m-%dT%H:%MZ").to_string();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut entry_key = (limiter, key.to_string(), minute);
        if pending.len() >= MAX_PENDING_VIOLATION_KEYS && !pending.contains_key(&entry_key) {
            entry_key.1 = "(other)".into();
        }
        *pending.entry(entry_key).or_insert(0) += 1;
    }

    /// Drains the aggregated violations for a batched write.
    pub fn take_violations(&self) -> Vec<Violation> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending
            .drain()
            .map(|((limiter, key, minute), count)| Violation {
                limiter: limiter.into(),
                key,
                minute,
                count,
            })
            .collect()
    }

    /// Forgets keys whose buckets are full again (idle), bounding memory.
    pub fn retain_recent(&self) {
        for limiter in self.all() {
            limiter.inner.retain_recent();
            limiter.inner.shrink_to_fit();
        }
    }
}

/// How often idle keys are dropped and violations are flushed.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_min: u32) -> RateLimits {
        RateLimits::new(&RateLimitConfig {
            twilio_voice_per_caller: per_min,
            auth_failures_per_ip: per_min,
            api_per_principal: per_min,
            login_per_ip_email: per_min,
            login_per_ip: per_min,
            login_global: per_min,
        })
    }

    #[test]
    fn a_key_gets_its_burst_then_is_told_when_to_retry() {
        let rl = limits(3);
        for _ in 0..3 {
            assert!(rl.check(&rl.login, "1.2.3.4|a@b.c").is_ok());
        }
        let retry = rl.check(&rl.login, "1.2.3.4|a@b.c").unwrap_err();
        assert!((1..=20).contains(&retry), "retry after {retry}");
        assert!(
            rl.check(&rl.login, "1.2.3.4|other@b.c").is_ok(),
            "keys are independent"
        );
        assert_eq!(rl.login.rejected(), 1);
    }

    #[test]
    fn violations_are_aggregated_per_key_and_minute() {
        let rl = limits(1);
        rl.check(&rl.api, "t1").unwrap();
        for _ in 0..5 {
            let _ = rl.check(&rl.api, "t1");
        }
        let v = rl.take_violations();
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].limiter.as_str(), v[0].key.as_str(), v[0].count),
            ("api", "t1", 5)
        );
        assert!(rl.take_violations().is_empty());
    }

    #[test]
    fn idle_keys_are_forgotten_so_memory_stays_bounded() {
        let rl = limits(1_000_000);
        for i in 0..10_000 {
            rl.check(&rl.twilio_voice, &format!("+1415{i:07}")).unwrap();
        }
        assert_eq!(rl.twilio_voice.tracked_keys(), 10_000);
        // At a million per minute a bucket refills in 60 µs: every key is idle again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        rl.retain_recent();
        assert_eq!(rl.twilio_voice.tracked_keys(), 0);
    }

    #[test]
    fn pending_violation_keys_are_bounded() {
        let rl = limits(1);
        for i in 0..(MAX_PENDING_VIOLATION_KEYS + 500) {
            let key = format!("k{i}");
            rl.check(&rl.auth_failures, &key).unwrap();
            let _ = rl.check(&rl.auth_failures, &key);
        }
        let v = rl.take_violations();
        assert!(v.len() <= MAX_PENDING_VIOLATION_KEYS + 1);
        assert_eq!(
            v.iter().map(|v| v.count as usize).sum::<usize>(),
            MAX_PENDING_VIOLATION_KEYS + 500
        );
    }
}
