//! Exponential back-off with full jitter, the one retry schedule the workspace uses.

use std::time::Duration;

/// Delay before attempt `attempt + 1` (attempt counts from 1): a random time in
/// `[base·2^(attempt-1) / 2, base·2^(attempt-1)]`, capped at `max`.
pub fn delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exp.min(max);
    let floor = ceiling / 2;
    let span = ceiling.saturating_sub(floor).as_millis() as u64;
    let jitter = if span == 0 {
        0
    } else {
        rand::random_range(0..=span)
    };
    floor + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for _ in 0..50 {
            let d1 = delay(base, max, 1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= base);
            let d3 = delay(base, max, 3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(delay(base, max, 30) <= max);
        }
    }
}
