//! Pacing of request starts (`--max-requests-per-second`).
//!
//! Hosted servers throttle per client at a few requests per second and answer the excess with
//! 429; spacing starts evenly keeps a migration under the limit instead of bouncing off it.
//! Retries are paced too, since they start requests like any other.

use std::{sync::Mutex, time::Duration};

use tokio::time::Instant;

pub(crate) struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// `None` when `per_second` sets no usable limit (absent, zero, negative or not finite).
    pub(crate) fn new(per_second: Option<f64>) -> Option<Self> {
        let rate = per_second.filter(|r| r.is_finite() && *r > 0.0)?;
        Some(Self { interval: Duration::from_secs_f64(1.0 / rate), next: Mutex::new(None) })
    }

    /// Waits for this request's start slot.
    pub(crate) async fn wait(&self) {
        let slot = self.reserve(Instant::now());
        tokio::time::sleep_until(slot).await;
    }

    /// Takes the next free slot at or after `now`: slots are `interval` apart, and time left
    /// unused in a quiet spell is not saved up for a burst.
    fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().expect("pacer lock is never poisoned");
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + self.interval);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_and_idle_time_is_not_banked() {
        let p = Pacer::new(Some(4.0)).unwrap();
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..3).map(|_| p.reserve(t0) - t0).collect();
        assert_eq!(slots, [Duration::ZERO, Duration::from_millis(250), Duration::from_millis(500)]);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(p.reserve(later), later);
        assert_eq!(p.reserve(later) - later, Duration::from_millis(250));
    }

    #[test]
    fn no_limit_without_a_positive_rate() {
        assert!(Pacer::new(None).is_none());
        assert!(Pacer::new(Some(0.0)).is_none());
        assert!(Pacer::new(Some(f64::NAN)).is_none());
    }
}
