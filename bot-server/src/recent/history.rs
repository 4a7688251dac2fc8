//! The last hour of a few figures, for the dashboard's charts: one fixed-size ring of samples
//! (no unbounded growth), filled every `dashboard.history_interval` by the dashboard's
//! sampler task (`dashboard::sampler`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// How far back the charts reach.
const SPAN: Duration = Duration::from_secs(3600);

/// One point of every chart, taken at `at`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sample {
    /// Unix seconds (fractional, so sub-second intervals still order).
    pub at: f64,
    /// Ack latency p50 of the recent acks, milliseconds.
    pub ack_p50_ms: Option<f64>,
    /// Ack latency p99 of the recent acks, milliseconds.
    pub ack_p99_ms: Option<f64>,
    /// Handler success rate since the previous sample, percent (None: nothing handled).
    pub success_percent: Option<f64>,
    /// Updates Telegram holds for the webhook (None: not known).
    pub telegram_pending: Option<f64>,
    /// Updates stored and not yet handled.
    pub inbox_depth: f64,
    /// Webhook calls answered 200, since start (for requests per minute).
    pub acks_total: u64,
    /// Updates handled, since start.
    pub processed: u64,
    /// Failed handler attempts, since start.
    pub failed: u64,
}

/// A bounded ring of [`Sample`]s. The lock is a std mutex held only to copy in or out.
#[derive(Debug)]
pub(crate) struct History {
    /// Samples kept: one hour at the configured interval.
    capacity: usize,
    ring: Mutex<VecDeque<Sample>>,
}

impl History {
    /// A ring holding one hour of samples taken every `interval` (at least 2, at most 3600).
    pub(crate) fn new(interval: Duration) -> History {
        let per = interval.as_secs_f64().max(0.001);
        let capacity = ((SPAN.as_secs_f64() / per).ceil() as usize).clamp(2, 3600);
        History {
            capacity,
            ring: Mutex::new(VecDeque::with_capacity(capacity)),
        }
    }

    #[cfg(test)]
    /// Samples kept at most.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Adds a sample, dropping the oldest when full; fills `success_percent` from the previous
    /// sample's counters.
    pub(crate) fn push(&self, mut s: Sample) {
        let Ok(mut r) = self.ring.lock() else { return };
        if let Some(prev) = r.back() {
            s.success_percent = success_percent(
                s.processed.saturating_sub(prev.processed),
                s.failed.saturating_sub(prev.failed),
            );
        }
        if r.len() >= self.capacity {
            r.pop_front();
        }
        r.push_back(s);
    }

    /// A copy of the kept samples, oldest first.
    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.ring
            .lock()
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// Handled / (handled + failed attempts), percent; None when nothing happened.
pub(crate) fn success_percent(processed: u64, failed: u64) -> Option<f64> {
    let all = processed + failed;
    (all > 0).then(|| processed as f64 * 100.0 / all as f64)
}

/// A per-minute rate of a counter. In the first minute after start that is simply the count
/// so far (all of it happened within the last minute); later, from the oldest sample within
/// the last minute (or the oldest kept) to `now_value`, scaled to one minute.
pub(crate) fn per_minute(
    samples: &[Sample],
    now: f64,
    now_value: u64,
    uptime_s: f64,
    field: fn(&Sample) -> u64,
) -> f64 {
    if uptime_s <= 60.0 {
        return now_value as f64;
    }
    let base = samples
        .iter()
        .find(|s| now - s.at <= 60.0 + 1e-6)
        .or(samples.first())
        .filter(|s| now - s.at >= 1.0);
    match base {
        Some(s) => now_value.saturating_sub(field(s)) as f64 * 60.0 / (now - s.at),
        None => now_value as f64 * 60.0 / uptime_s,
    }
}

/// Unix time now, in fractional seconds.
pub(crate) fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64, acks: u64, processed: u64, failed: u64) -> Sample {
        Sample {
            at: t,
            acks_total: acks,
            processed,
            failed,
            ..Default::default()
        }
    }

    #[test]
    fn the_ring_keeps_one_hour_and_never_grows_past_it() {
        let h = History::new(Duration::from_secs(10));
        assert_eq!(h.capacity(), 360);
        for i in 0..1000 {
            h.push(at(f64::from(i), 0, 0, 0));
        }
        let s = h.samples();
        assert_eq!(s.len(), 360);
        assert_eq!(s[0].at, 640.0);
        assert_eq!(s[359].at, 999.0);
        assert_eq!(History::new(Duration::from_millis(1)).capacity(), 3600);
        assert_eq!(History::new(Duration::from_secs(7200)).capacity(), 2);
    }

    #[test]
    fn success_rate_is_per_interval() {
        let h = History::new(Duration::from_secs(10));
        h.push(at(0.0, 0, 10, 0));
        h.push(at(10.0, 0, 19, 1));
        h.push(at(20.0, 0, 19, 1));
        let s = h.samples();
        assert_eq!(s[0].success_percent, None);
        assert_eq!(s[1].success_percent, Some(90.0));
        assert_eq!(s[2].success_percent, None, "nothing handled: no point");
    }

    #[test]
    fn requests_per_minute_count_the_last_minute() {
        let samples: Vec<Sample> = (0..10)
            .map(|i: u32| at(f64::from(i) * 10.0, u64::from(i) * 5, 0, 0))
            .collect();
        // At t=100 with 50 acks: the oldest sample within 60 s is t=40 with 20 acks.
        let r = per_minute(&samples, 100.0, 50, 100.0, |s| s.acks_total);
        assert!((r - 30.0).abs() < 1e-9, "{r}");
        // No samples: the average since start.
        assert!((per_minute(&[], 100.0, 10, 120.0, |s| s.acks_total) - 5.0).abs() < 1e-9);
        // Within the first minute: the count so far.
        assert_eq!(per_minute(&samples, 100.0, 7, 30.0, |s| s.acks_total), 7.0);
    }
}
