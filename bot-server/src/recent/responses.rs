//! The last hour of finished updates as the users felt them (the ops notes' daily checklist:
//! "success rate > 95 %", "response times < 5 s"): for each update, the time from being
//! stored to its handler finishing — its replies sent — and whether it was handled or parked.
//! A fixed-size ring of the newest completions (no unbounded growth); entries older than an
//! hour are left out of the figures.

use std::collections::VecDeque;
use std::sync::Mutex;

use telbot_shared::health::HourFigures;

/// How far back the figures reach, seconds.
const SPAN_S: i64 = 3600;
/// Completions kept at most: at a higher rate the figures cover the newest ones.
const CAP: usize = 16_384;

#[derive(Debug, Clone, Copy)]
struct Done {
    at: i64,
    ms: u32,
    parked: bool,
}

/// The ring. The lock is a std mutex held only to push or copy.
#[derive(Debug, Default)]
pub struct HourWindow {
    ring: Mutex<VecDeque<Done>>,
}

impl HourWindow {
    /// An update finished at `at` (unix seconds), `ms` after it was stored.
    pub fn record(&self, at: i64, ms: u64, parked: bool) {
        let Ok(mut r) = self.ring.lock() else { return };
        if r.len() >= CAP {
            r.pop_front();
        }
        r.push_back(Done {
            at,
            ms: u32::try_from(ms).unwrap_or(u32::MAX),
            parked,
        });
    }

    /// The figures of the hour before `now`.
    pub fn figures(&self, now: i64) -> HourFigures {
        let mut times: Vec<u32> = Vec::new();
        let mut parked = 0u64;
        if let Ok(r) = self.ring.lock() {
            for d in r.iter().filter(|d| now - d.at < SPAN_S) {
                if d.parked {
                    parked += 1;
                } else {
                    times.push(d.ms);
                }
            }
        }
        let finished = times.len() as u64 + parked;
        times.sort_unstable();
        let pick = |q: f64| -> Option<u64> {
            let last = times.len().checked_sub(1)?;
            let i = ((last as f64) * q).round() as usize;
            times.get(i.min(last)).map(|&v| u64::from(v))
        };
        HourFigures {
            finished,
            parked,
            handled_percent: (finished > 0)
                .then(|| 100.0 * (finished - parked) as f64 / finished as f64),
            response_p50_ms: pick(0.50),
            response_p95_ms: pick(0.95),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hour_figures_leave_out_older_completions_and_parked_ones_count_against_the_share() {
        let w = HourWindow::default();
        assert_eq!(w.figures(10_000).handled_percent, None);
        w.record(10_000 - 4_000, 90_000, false); // older than the hour
        for ms in 1..=100 {
            w.record(10_000 - 10, ms * 10, false);
        }
        w.record(10_000 - 5, 0, true);
        let f = w.figures(10_000);
        assert_eq!((f.finished, f.parked), (101, 1));
        assert_eq!(
            (f.response_p50_ms, f.response_p95_ms),
            (Some(510), Some(950))
        );
        let share = f.handled_percent.unwrap_or_default();
        assert!((share - 100.0 * 100.0 / 101.0).abs() < 1e-9, "{share}");
    }
}
