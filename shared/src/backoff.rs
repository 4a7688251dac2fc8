//! The one retry schedule of the workspace: exponential back-off from `base`, doubling per
//! attempt, capped at `max`, optionally with jitter. The Bot API client and setWebhook use it
//! with jitter (many instances retrying at once should not stay in step); the inbox's handler
//! retries, the /ask client and the alert outbox without (their tests and operators read the
//! exact schedule).

use std::time::Duration;

/// A back-off schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: bool,
}

impl Backoff {
    /// `base · 2^(attempt-1)`, capped at `max`.
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            jitter: false,
        }
    }

    /// The same, with full jitter: a random time in `[delay / 2, delay]`.
    pub const fn jittered(self) -> Backoff {
        Backoff {
            jitter: true,
            ..self
        }
    }

    /// The delay before attempt `attempt + 1` (attempts count from 1; 0 counts as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max);
        if !self.jitter {
            return ceiling;
        }
        let floor = ceiling / 2;
        let span = ceiling.saturating_sub(floor).as_millis() as u64;
        let jitter = if span == 0 {
            0
        } else {
            rand::random_range(0..=span)
        };
        floor + Duration::from_millis(jitter)
    }
}

/// [`Backoff::jittered`] in one call: the delay before attempt `attempt + 1`.
pub fn jittered(base: Duration, max: Duration, attempt: u32) -> Duration {
    Backoff::new(base, max).jittered().delay(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_is_capped() {
        let s = Duration::from_secs;
        let b = Backoff::new(s(1), s(60));
        let got: Vec<Duration> = [0, 1, 2, 6, 7, 10_000].map(|n| b.delay(n)).into();
        assert_eq!(got, vec![s(1), s(1), s(2), s(32), s(60), s(60)]);
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole_delay_and_under_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for _ in 0..50 {
            let d1 = jittered(base, max, 1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= base);
            let d3 = jittered(base, max, 3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(jittered(base, max, 30) <= max);
        }
    }
}
