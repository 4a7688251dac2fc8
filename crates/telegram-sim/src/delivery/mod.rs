//! Webhook delivery: one background task per sim plans attempts, one task
//! per attempt sends it ([`attempt`]).
//!
//! Rules (reference §4): updates are split into queues (per chat, per
//! callback sender, …); one attempt in flight per queue, so a failing update
//! blocks only its queue; at most `max_connections` attempts in flight, or 1
//! in degraded mode (no 2xx in the last 10 s × scale, including right after
//! setWebhook); retries after 0, 2, 4, 8, 16, 32, min(rand 60–120, 64), then
//! rand 60–120 s (× scale), or after `Retry-After` (≤ 3600 s × scale); an
//! update is dropped when `now + next delay > expires_at` (sim clock,
//! unscaled delay).

mod attempt;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::time::Instant;
use url::Url;

use crate::faults::WebhookFault;
use crate::records::Delivery;
use crate::state::Shared;

/// One planned delivery attempt (a snapshot, so no lock is needed to send it).
#[derive(Debug)]
pub(crate) struct Attempt {
    /// Delivery epoch it belongs to; stale results are ignored.
    pub epoch: u64,
    pub update_id: i64,
    /// URL as set (for records).
    pub url: String,
    pub parsed: Url,
    pub secret: Option<String>,
    /// The update JSON, `update_id` first.
    pub body: String,
    /// Fault to apply instead of contacting the URL.
    pub fault: Option<WebhookFault>,
}

/// How an attempt ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// 2xx: the update is acknowledged.
    Acked { status: u16 },
    /// Anything else: the update is retried later or dropped.
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<u64>,
        /// Whether Telegram would show it as `last_error_message`.
        record: bool,
    },
}

/// The delivery task; runs until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        let (attempts, wake_at) = plan(&shared);
        for a in attempts {
            tokio::spawn(attempt::run(shared.clone(), a));
        }
        let wake_at = wake_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = shared.shutdown.cancelled() => break,
            () = shared.delivery_wake.notified() => {}
            () = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

/// Pick the attempts to start now and the next time something becomes due.
fn plan(shared: &Shared) -> (Vec<Attempt>, Option<Instant>) {
    let mut st = shared.lock();
    let Some(wh) = st.webhook.clone() else {
        return (Vec::new(), None);
    };
    st.gc();
    let now = Instant::now();
    let window = shared.config.scaled(10.0);
    let degraded = st
        .delivery
        .last_success
        .is_none_or(|t| now.duration_since(t) > window);
    let limit = if degraded {
        1
    } else {
        usize::try_from(wh.max_connections).unwrap_or(1)
    };
    let fault = st.webhook_fault;
    let epoch = st.delivery.epoch;
    let mut in_flight = st.delivery.in_flight;
    let mut seen: HashSet<String> = HashSet::new();
    let mut starts = Vec::new();
    let mut wake: Option<Instant> = None;
    for p in st.queue.items.iter_mut() {
        if !seen.insert(p.queue_key.clone()) || p.in_flight {
            continue; // not the head of its queue, or already being sent
        }
        if p.next_attempt > now {
            wake = Some(wake.map_or(p.next_attempt, |w| w.min(p.next_attempt)));
            continue;
        }
        if in_flight >= limit {
            continue; // a finishing attempt wakes the planner
        }
        p.in_flight = true;
        in_flight += 1;
        starts.push(Attempt {
            epoch,
            update_id: p.id,
            url: wh.url.clone(),
            parsed: wh.parsed.clone(),
            secret: wh.secret.clone(),
            body: p.to_json(),
            fault,
        });
    }
    st.delivery.in_flight = in_flight;
    (starts, wake)
}

/// Seconds to wait before the next attempt after a failure (Telegram seconds).
fn next_delay(fail_count: u32, delay_secs: &mut u64, retry_after: Option<u64>) -> u64 {
    if let Some(r) = retry_after {
        return r.min(3600);
    }
    if fail_count <= 1 {
        return 0;
    }
    let r: u64 = rand::rng().random_range(60..=120);
    *delay_secs = r.min(delay_secs.saturating_mul(2));
    *delay_secs
}

/// Apply an attempt's outcome to the queue and the records.
fn complete(shared: &Shared, a: &Attempt, outcome: &Outcome) {
    let mut st = shared.lock();
    let (status, error) = match outcome {
        Outcome::Acked { status } => (Some(*status), None),
        Outcome::Failed { status, error, .. } => (*status, Some(error.clone())),
    };
    st.deliveries.push(Delivery {
        update_id: a.update_id,
        url: a.url.clone(),
        status,
        error,
        at: SystemTime::now(),
    });
    if st.delivery.epoch != a.epoch {
        return;
    }
    st.delivery.in_flight = st.delivery.in_flight.saturating_sub(1);
    let now = Instant::now();
    match outcome {
        Outcome::Acked { .. } => {
            st.queue.remove(a.update_id);
            st.delivery.last_success = Some(now);
        }
        Outcome::Failed {
            error,
            retry_after,
            record,
            ..
        } => {
            let sim_now = st.now_unix();
            if *record {
                st.last_error = Some((sim_now, error.clone()));
            }
            let scale = shared.config.time_scale;
            let give_up = st.queue.get_mut(a.update_id).is_some_and(|p| {
                p.in_flight = false;
                p.fail_count += 1;
                let wait = next_delay(p.fail_count, &mut p.delay_secs, *retry_after);
                let wait_i = i64::try_from(wait).unwrap_or(i64::MAX);
                if sim_now.saturating_add(wait_i) > p.expires_at {
                    true
                } else {
                    #[allow(clippy::cast_precision_loss)]
                    let secs = wait as f64;
                    p.next_attempt = now + crate::clock::scaled(secs, scale);
                    false
                }
            });
            if give_up {
                st.queue.remove(a.update_id);
                st.dropped.push(a.update_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::next_delay;

    #[test]
    fn backoff_schedule_matches_telegram() {
        let mut delay = 1;
        let waits: Vec<u64> = (1..=6).map(|n| next_delay(n, &mut delay, None)).collect();
        assert_eq!(waits, vec![0, 2, 4, 8, 16, 32]);
        let seventh = next_delay(7, &mut delay, None);
        assert!((60..=64).contains(&seventh), "{seventh}");
        for n in 8..20 {
            let w = next_delay(n, &mut delay, None);
            assert!((60..=120).contains(&w), "{w}");
        }
        assert_eq!(next_delay(3, &mut delay, Some(5000)), 3600);
    }
}
