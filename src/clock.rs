//! The time the front desk decides by (business hours, quiet hours, cooldowns, when a
//! text-back or a voicemail notice falls due). It is the system clock, shifted by an
//! offset that is zero in production; tests move it to any moment, or forward by a day,
//! instead of sleeping or editing the flow around the hour they happen to run at.

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A shared clock: clones see the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time.
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        if offset == 0 {
            return Utc::now();
        }
        Utc::now() + Duration::milliseconds(offset)
    }

    /// From now on the clock reads `at` (and runs on from there).
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = (at - Utc::now()).num_milliseconds();
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// Moves the clock forward (or, with a negative span, back).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_clock_reads_the_system_time_until_it_is_moved_and_clones_move_with_it() {
        let clock = Clock::default();
        assert!((clock.now() - Utc::now()).num_milliseconds().abs() < 1_000);
        let shared = clock.clone();
        let noon = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        clock.set(noon);
        assert!((shared.now() - noon).num_milliseconds().abs() < 1_000);
        shared.advance(Duration::hours(25));
        let later = noon + Duration::hours(25);
        assert!((clock.now() - later).num_milliseconds().abs() < 1_000);
    }
}
