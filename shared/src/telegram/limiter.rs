//! Pacing of sends under Telegram's limits, as its FAQ states them: a token bucket overall
//! (about 30 a second), one per chat (about 1 a second, short bursts), and for a group,
//! supergroup or channel — a negative chat id, or an `@username` string, which is paced like
//! the numeric id of the same kind — at most [`GROUP_PER_MINUTE`] in any 60 s. A 429's
//! `retry_after` for a chat holds every send to that chat until it passes
//! ([`SendLimiter::hold`]). Waiting happens outside the lock; time is `tokio::time` so tests
//! can pause it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimits;

/// Chats remembered at most; older, refilled buckets are forgotten past this.
const MAX_CHATS: usize = 10_000;

/// Messages a bot may send to one group in a minute ("In a group, bots are not able to send
/// more than 20 messages per minute", Telegram's FAQ).
pub(crate) const GROUP_PER_MINUTE: u32 = 20;

/// The chat a send goes to: a numeric id, or a public `@username` (a channel or supergroup).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ChatKey {
    /// `chat_id` as a number (negative for groups, supergroups and channels).
    Id(i64),
    /// `chat_id` as a string: `@channelusername` (lower-cased), or a number sent as text.
    Name(String),
}

impl ChatKey {
    /// From a `chat_id` parameter: a number, a numeric string, or `@username`.
    pub(crate) fn of(v: &serde_json::Value) -> Option<ChatKey> {
        if let Some(id) = v.as_i64() {
            return Some(ChatKey::Id(id));
        }
        let s = v.as_str()?.trim();
        if let Ok(id) = s.parse::<i64>() {
            return Some(ChatKey::Id(id));
        }
        (!s.is_empty()).then(|| ChatKey::Name(s.to_ascii_lowercase()))
    }

    /// A group, supergroup or channel (paced at [`GROUP_PER_MINUTE`] besides the chat rate).
    fn is_group(&self) -> bool {
        match self {
            ChatKey::Id(id) => *id < 0,
            ChatKey::Name(_) => true,
        }
    }
}

/// One chat's pacing state.
#[derive(Debug, Clone)]
struct ChatState {
    bucket: Bucket,
    /// A group's sends of the last minute (at most [`GROUP_PER_MINUTE`]).
    minute: VecDeque<Instant>,
    /// A 429 for this chat said to wait until then.
    held_until: Option<Instant>,
}

impl ChatState {
    fn new(cap: f64, now: Instant) -> Self {
        ChatState {
            bucket: Bucket::full(cap, now),
            minute: VecDeque::new(),
            held_until: None,
        }
    }

    /// Nothing recent to remember (may be forgotten).
    fn idle(&self, now: Instant) -> bool {
        let recent = |t: Instant| now.saturating_duration_since(t) < Duration::from_secs(60);
        !recent(self.bucket.last)
            && self.minute.back().is_none_or(|t| !recent(*t))
            && self.held_until.is_none_or(|t| t <= now)
    }
}

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
    chats: HashMap<ChatKey, ChatState>,
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
    pub(crate) async fn acquire(&self, chat: Option<&ChatKey>) {
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
    pub(crate) fn try_acquire(&self, chat: Option<&ChatKey>) -> bool {
        self.try_take(chat, Instant::now()).is_none()
    }

    /// Telegram answered a send to `chat` with 429 `retry_after`: nothing more goes to that
    /// chat before it passes.
    pub(crate) fn hold(&self, chat: &ChatKey, retry_after: Duration) {
        let now = Instant::now();
        let cap = self.chat_cap();
        let mut st = self.lock();
        let until = now + retry_after;
        let c = st
            .chats
            .entry(chat.clone())
            .or_insert_with(|| ChatState::new(cap, now));
        c.held_until = Some(c.held_until.map_or(until, |t| t.max(until)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn share(&self) -> f64 {
        f64::from(self.share.load(Ordering::Relaxed).max(1))
    }

    fn chat_cap(&self) -> f64 {
        (f64::from(self.limits.per_chat_burst) / self.share()).max(1.0)
    }

    fn try_take(&self, chat: Option<&ChatKey>, now: Instant) -> Option<Duration> {
        let l = self.limits;
        let share = self.share();
        let chat_rate = f64::from(l.per_chat_per_sec) / share;
        let chat_cap = self.chat_cap();
        let group_max = ((f64::from(GROUP_PER_MINUTE) / share).floor() as usize).max(1);
        let mut st = self.lock();
        if let Some(key) = chat {
            if st.chats.len() >= MAX_CHATS {
                st.chats.retain(|_, c| !c.idle(now));
            }
            let c = st
                .chats
                .entry(key.clone())
                .or_insert_with(|| ChatState::new(chat_cap, now));
            if let Some(until) = c.held_until {
                if until > now {
                    return Some(until - now);
                }
                c.held_until = None;
            }
            if key.is_group() {
                while c
                    .minute
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(60))
                {
                    c.minute.pop_front();
                }
                if c.minute.len() >= group_max
                    && let Some(oldest) = c.minute.front()
                {
                    return Some(
                        (*oldest + Duration::from_secs(60)).saturating_duration_since(now),
                    );
                }
            }
            // Peek without consuming: refill, check, put back.
            let mut probe = c.bucket;
            if let Some(d) = probe.take(chat_rate, chat_cap, now) {
                return Some(d);
            }
        }
        let g_rate = f64::from(l.global_per_sec) / share;
        if let Some(d) = st.global.take(g_rate, g_rate.max(1.0), now) {
            return Some(d);
        }
        if let Some(key) = chat
            && let Some(c) = st.chats.get_mut(key)
        {
            let _ = c.bucket.take(chat_rate, chat_cap, now);
            if key.is_group() {
                c.minute.push_back(now);
                while c.minute.len() > group_max {
                    c.minute.pop_front();
                }
            }
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
            l.acquire(Some(&ChatKey::Id(7))).await;
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
            l.acquire(Some(&ChatKey::Id(chat))).await;
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
            l.acquire(Some(&ChatKey::Id(1000))).await;
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
            l.acquire(Some(&ChatKey::Id(chat))).await;
        }
        // 30 from the full bucket, then 60 more at 30/s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(2200),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_gets_twenty_messages_a_minute() {
        let l = SendLimiter::new(limits());
        let group = ChatKey::Id(-100_123);
        let start = Instant::now();
        for _ in 0..21 {
            l.acquire(Some(&group)).await;
        }
        // 20 at the chat rate (about 18 s), the 21st only a minute after the first.
        assert!(
            start.elapsed() >= Duration::from_secs(60),
            "{:?}",
            start.elapsed()
        );
        // A private chat is not held to it.
        let start = Instant::now();
        for _ in 0..3 {
            l.acquire(Some(&ChatKey::Id(77))).await;
        }
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_at_channel_chat_id_is_paced_like_a_numeric_one() {
        let l = SendLimiter::new(limits());
        let chan = ChatKey::of(&serde_json::json!("@MyChannel")).unwrap();
        assert_eq!(chan, ChatKey::of(&serde_json::json!("@mychannel")).unwrap());
        assert_eq!(
            ChatKey::of(&serde_json::json!("-100")),
            Some(ChatKey::Id(-100))
        );
        for _ in 0..3 {
            assert!(l.try_acquire(Some(&chan)), "the burst");
        }
        assert!(!l.try_acquire(Some(&chan)), "then paced");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_that_chat_for_its_retry_after() {
        let l = SendLimiter::new(limits());
        let chat = ChatKey::Id(5);
        l.hold(&chat, Duration::from_secs(30));
        assert!(!l.try_acquire(Some(&chat)));
        assert!(l.try_acquire(Some(&ChatKey::Id(6))), "other chats go on");
        let start = Instant::now();
        l.acquire(Some(&chat)).await;
        assert!(
            start.elapsed() >= Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
    }
}
