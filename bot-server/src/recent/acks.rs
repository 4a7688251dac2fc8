//! Recent ack latencies in a fixed-size ring (no unbounded growth), for p50/p99 figures.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Samples kept.
const RING: usize = 4096;

/// The last [`RING`] ack latencies in microseconds, and how many acks there were in all.
#[derive(Debug, Default)]
pub(crate) struct AckRing(Mutex<VecDeque<u32>>, AtomicU64);

impl AckRing {
    /// Acks (webhook calls answered 200) since start.
    pub(crate) fn total(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }

    /// p50 and p99 of the kept samples, in milliseconds.
    pub(crate) fn percentiles(&self) -> Option<(f64, f64)> {
        let mut v: Vec<u32> = self.0.lock().ok()?.iter().copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let at = |q: f64| f64::from(v[((v.len() - 1) as f64 * q) as usize]) / 1000.0;
        Some((at(0.5), at(0.99)))
    }

    /// Records one ack that took `took` from request to 200.
    pub(crate) fn record(&self, took: Duration) {
        self.1.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = self.0.lock() {
            if r.len() == RING {
                r.pop_front();
            }
            r.push_back(took.as_micros().min(u128::from(u32::MAX)) as u32);
        }
    }
}
