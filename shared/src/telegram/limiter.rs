//! Pacing of sends under Telegram's limits: a token bucket overall and one per chat.
//! Waiting happens outside the lock; time is `tokio::time` so tests can pause it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimits;

/// Chats remembered at most; older, refilled buckets are forgotten past this.
const MAX_CHATS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(cap: f64, now: Instant) -> Self {
        Bucket {
            tokens: cap,
            last: now,
        }
    }

    /// Takes a token or says how long until one is there.
    fn take(&mut self, rate: f64, cap: f64, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(cap);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// Send pacing shared by every caller of one client.
#[derive(Debug)]
pub(crate) struct SendLimiter {
    limits: RateLimits,
    /// Instances sharing the bot's limits (several bot-servers on one store): each paces at
    /// its share, `limits / share`.
    share: AtomicU32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    global: Bucket,
    chats: HashMap<i64, Bucket>,
}

impl SendLimiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        let now = Instant::now();
        SendLimiter {
            limits,
            share: AtomicU32::new(1),
            state: Mutex::new(State {
                global: Bucket::full(f64::from(limits.global_per_sec), now),
                chats: HashMap::new(),
            }),
        }
    }

    /// Paces at `1 / instances` of the limits from now on (at least one instance).
    pub(crate) fn set_share(&self, instances: u32) {
        self.share.store(instances.max(1), Ordering::Relaxed);
    }

    /// Waits until a message to `chat` may go out.
    pub(crate) async fn acquire(&self, chat: Option<i64>) {
        loop {
            let wait = self.try_take(chat, Instant::now());
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Takes a send slot for `chat` if one is free now, without waiting: a reply held for the
    /// webhook answer goes out with no further pacing, so it is held only when this says yes.
    pub(crate) fn try_acquire(&self, chat: Option<i64>) -> bool {
        self.try_take(chat, Instant::now()).is_none()
    }

    fn try_take(&self, chat: Option<i64>, now: Instant) -> Option<Duration> {
        let l = self.limits;
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let share = f64::from(self.share.load(Ordering::Relaxed).max(1));
        let chat_rate = f64::from(l.per_chat_per_sec) / share;
        let chat_cap = (f64::from(l.per_chat_burst) / share).max(1.0);
        if let Some(id) = chat {
            if st.chats.len() >= MAX_CHATS {
                st.chats
                    .retain(|_, b| now.saturating_duration_since(b.last) < Duration::from_secs(60));
            }
            let bucket = st
                .chats
                .entry(id)
                .or_insert_with(|| Bucket::full(chat_cap, now));
            // Peek without consuming: refill, check, put back.
            let mut probe = *bucket;
            if let Some(d) = probe.take(chat_rate, chat_cap, now) {
                return Some(d);
            }
        }
        let g_rate = f64::from(l.global_per_sec) / share;
        if let Some(d) = st.global.take(g_rate, g_rate.max(1.0), now) {
            return Some(d);
        }
        if let Some(id) = chat
            && let Some(b) = st.chats.get_mut(&id)
        {
            let _ = b.take(chat_rate, chat_cap, now);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            global_per_sec: 30,
            per_chat_per_sec: 1,
            per_chat_burst: 3,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_chat_gets_its_burst_then_one_per_second() {
        let l = SendLimiter::new(limits());
        let start = Instant::now();
        for _ in 0..6 {
            l.acquire(Some(7)).await;
        }
        // 3 at once, then 3 more at one per second.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(2900) && took < Duration::from_millis(3200),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn three_instances_each_take_a_third_of_the_rates() {
        let l = SendLimiter::new(limits());
        l.set_share(3);
        let start = Instant::now();
        for chat in 0..30 {
            l.acquire(Some(chat)).await;
        }
        // 10 from the (third-size) full bucket, then 20 more at 10/s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(2200),
            "{took:?}"
        );
        // One chat: a burst of 1 (3 / 3), then one every 3 s.
        let start = Instant::now();
        for _ in 0..3 {
            l.acquire(Some(1000)).await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(5900) && took < Duration::from_millis(6300),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn many_chats_are_held_to_the_global_rate() {
        let l = SendLimiter::new(limits());
        let start = Instant::now();
        for chat in 0..90 {
            l.acquire(Some(chat)).await;
        }
        // 30 from the full bucket, then 60 more at 30/s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(2200),
            "{took:?}"
        );
    }
}
