//! bot-server's resident memory during the soak: `VmRSS` from `/proc/<pid>/status` every few
//! seconds, and the figures the soak judges (per-minute medians, growth, peak).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One sample: seconds since the soak began, resident set in KiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the soak began.
    pub at_s: f64,
    /// VmRSS in KiB.
    pub rss_kib: u64,
}

/// `VmRSS` of process `pid` in KiB (`None`: the process is gone or the line is missing).
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&text)
}

/// The `VmRSS:   12345 kB` line of a `/proc/<pid>/status` text, in KiB.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.trim_start_matches("VmRSS:")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A running sampler; [`Sampler::stop`] ends it and returns the samples.
#[derive(Debug)]
pub struct Sampler {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    samples: Arc<Mutex<Vec<Sample>>>,
}

impl Sampler {
    /// Samples `pid` every `every`, times relative to `t0` (the first sample at once).
    pub fn start(pid: u32, t0: Instant, every: Duration) -> Sampler {
        let stop = CancellationToken::new();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, out) = (stop.clone(), samples.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = s.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Some(rss_kib) = vm_rss_kib(pid) {
                    let at_s = t0.elapsed().as_secs_f64();
                    out.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Sample { at_s, rss_kib });
                }
            }
        });
        Sampler {
            stop,
            task,
            samples,
        }
    }

    /// Stops sampling; the samples so far.
    pub async fn stop(self) -> Vec<Sample> {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One minute's samples (slot `i` covers `[i·len, (i+1)·len)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// 1-based number of the slot ("minute 2").
    pub number: usize,
    /// Samples in it.
    pub count: usize,
    /// Smallest, median and largest VmRSS in KiB.
    pub min_kib: u64,
    /// Median VmRSS in KiB.
    pub median_kib: u64,
    /// Largest VmRSS in KiB.
    pub max_kib: u64,
}

/// The samples grouped by slots of `len` seconds (`slots` of them; empty slots left out).
pub fn per_slot(samples: &[Sample], len_s: f64, slots: usize) -> Vec<Slot> {
    (0..slots)
        .filter_map(|i| {
            let (lo, hi) = (i as f64 * len_s, (i + 1) as f64 * len_s);
            let mut v: Vec<u64> = samples
                .iter()
                .filter(|s| s.at_s >= lo && s.at_s < hi)
                .map(|s| s.rss_kib)
                .collect();
            v.sort_unstable();
            Some(Slot {
                number: i + 1,
                count: v.len(),
                min_kib: *v.first()?,
                median_kib: v[v.len() / 2],
                max_kib: *v.last()?,
            })
        })
        .collect()
}

/// The growth the soak judges: the last slot's median minus slot 2's median, in KiB (`None`
/// with fewer than 3 slots: minute 2 would be the last one, or warm-up).
pub fn growth_kib(slots: &[Slot]) -> Option<(u64, u64, i64)> {
    let second = slots.iter().find(|s| s.number == 2)?;
    let last = slots.last()?;
    if last.number < 3 {
        return None;
    }
    Some((
        second.median_kib,
        last.median_kib,
        last.median_kib as i64 - second.median_kib as i64,
    ))
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_line_parses() {
        let status = "Name:\tbot-server\nVmPeak:\t  99 kB\nVmRSS:\t   23456 kB\nThreads: 9\n";
        assert_eq!(parse_vm_rss(status), Some(23456));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert!(vm_rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }

    #[test]
    fn growth_compares_the_second_and_the_last_minute_medians() {
        let s = |at_s: f64, rss_kib: u64| Sample { at_s, rss_kib };
        let samples = [
            s(0.0, 10),
            s(30.0, 50),
            s(60.0, 100),
            s(70.0, 300),
            s(80.0, 200),
            s(125.0, 250),
            s(130.0, 210),
            s(170.0, 240),
        ];
        let slots = per_slot(&samples, 60.0, 3);
        assert_eq!(slots.len(), 3);
        assert_eq!(
            (slots[1].min_kib, slots[1].median_kib, slots[1].max_kib),
            (100, 200, 300)
        );
        assert_eq!(growth_kib(&slots), Some((200, 240, 40)));
        assert_eq!(growth_kib(&slots[..2]), None, "two minutes judge nothing");
    }
}
