//! [`PacedBot`]: teloxide's `Bot` behind teloxide's own `Throttle` adaptor, for handlers that
//! want telbot's pacing and `retry_after` handling on every Bot API method teloxide knows.
//!
//! - Pacing: Throttle's per-chat and overall limits, set from `telegram.global_per_sec` and
//!   `telegram.per_chat_per_sec`, and cut to this instance's share when several bot-servers
//!   share one store ([`Pacing::share`], called by the fleet heartbeat).
//! - `retry_after`: Throttle freezes the chat (or the bot) for the time Telegram asks and sends
//!   the same request again, inside the handler's call.
//! - Other transient failures (network, 5xx) return to the handler as teloxide's error; the
//!   inbox counts them as transient and runs the update again with its back-off.
//! - Errors carry no token: teloxide keeps the token out of its errors, and the inbox masks
//!   every secret again in what it stores.
//!
//! Throttle's worker releases queued sends on a 250 ms tick, so each paced send can wait up
//! to that long. Handlers that keep teloxide's plain `bot: Bot` get the same `Bot` without
//! the adaptor (no tick; a 429 returns to the inbox, which retries the update).

use telbot_shared::config::RateLimits;
use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::{Limits, Settings};

/// The adaptor stack handlers can take as `bot: PacedBot`.
pub type PacedBot = Throttle<teloxide::Bot>;

/// Overall rate with pacing turned off (`telegram.rate_limit = false`): Throttle always
/// paces, so "off" is a rate no bot reaches.
const UNPACED_PER_SEC: u32 = 10_000;

/// The paced bot and the limits of a whole fleet, to share among its instances.
#[derive(Clone)]
pub struct Pacing {
    bot: PacedBot,
    full: Limits,
    /// The last limits change still waiting for Throttle's worker (see [`Pacing::share`]).
    pending: std::sync::Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Pacing {
    /// Wraps `bot` in Throttle at `rate` (no pacing to speak of when `None`). Spawns
    /// Throttle's worker on the current runtime; it ends when the last clone is dropped.
    pub fn new(bot: teloxide::Bot, rate: Option<RateLimits>) -> Self {
        let full = limits(rate);
        let bot = Throttle::spawn_with_settings(bot, Settings::default().limits(full));
        Pacing {
            bot,
            full,
            pending: Default::default(),
        }
    }

    /// The handlers' bot.
    pub fn bot(&self) -> PacedBot {
        self.bot.clone()
    }

    /// Paces at `1 / instances` of the configured limits. Does not wait: Throttle's worker
    /// takes a limits change only between sends (while nothing is sent it answers nothing), so
    /// the change is handed over on a task of its own, replacing one still waiting. Awaiting
    /// it in the fleet heartbeat held bot-server's shutdown for its whole grace period.
    pub fn share(&self, instances: u32) {
        let bot = self.bot.clone();
        let limits = share(self.full, instances);
        let task = tokio::spawn(async move { bot.set_limits(limits).await });
        if let Ok(mut pending) = self.pending.lock()
            && let Some(old) = pending.replace(task)
        {
            old.abort();
        }
    }
}

fn limits(rate: Option<RateLimits>) -> Limits {
    let mut l = Limits::default();
    match rate {
        Some(r) => {
            l.messages_per_sec_overall = r.global_per_sec;
            l.messages_per_sec_chat = r.per_chat_per_sec;
        }
        None => {
            l.messages_per_sec_overall = UNPACED_PER_SEC;
            l.messages_per_sec_chat = UNPACED_PER_SEC;
            l.messages_per_min_chat = UNPACED_PER_SEC * 60;
            l.messages_per_min_channel_or_supergroup = UNPACED_PER_SEC * 60;
        }
    }
    l
}

/// `full` split among `instances` (each limit at least 1).
fn share(full: Limits, instances: u32) -> Limits {
    let n = instances.max(1);
    let part = |v: u32| (v / n).max(1);
    let mut l = full;
    l.messages_per_sec_overall = part(full.messages_per_sec_overall);
    l.messages_per_sec_chat = part(full.messages_per_sec_chat);
    l.messages_per_min_chat = part(full.messages_per_min_chat);
    l.messages_per_min_channel_or_supergroup = part(full.messages_per_min_channel_or_supergroup);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_rates_become_throttle_limits_and_are_split_across_the_fleet() {
        let full = limits(Some(RateLimits {
            global_per_sec: 30,
            per_chat_per_sec: 1,
            per_chat_burst: 3,
        }));
        assert_eq!(
            (full.messages_per_sec_overall, full.messages_per_sec_chat),
            (30, 1)
        );
        let third = share(full, 3);
        assert_eq!(third.messages_per_sec_overall, 10);
        assert_eq!(third.messages_per_sec_chat, 1, "never below 1");
        assert_eq!(third.messages_per_min_chat, full.messages_per_min_chat / 3);
        assert_eq!(share(full, 0), full, "0 live instances counts as 1");
        assert_eq!(share(full, 1), full);
    }

    #[tokio::test]
    async fn sharing_the_limits_does_not_wait_for_a_send() {
        let bot = teloxide::Bot::new("1:x").set_api_url(
            reqwest::Url::parse("http://127.0.0.1:9").unwrap_or_else(|_| unreachable!()),
        );
        let pacing = Pacing::new(bot, None);
        // Nothing is sent through the bot, so Throttle's worker never reads the change; the
        // call returns anyway, and a second one replaces the first.
        pacing.share(3);
        pacing.share(2);
        let pending = pacing.pending.lock().map(|p| p.is_some()).unwrap_or(false);
        assert!(pending, "the change waits on its own task");
    }

    #[test]
    fn pacing_off_is_a_rate_no_bot_reaches() {
        let l = limits(None);
        assert!(l.messages_per_sec_overall >= 1_000);
        assert!(l.messages_per_sec_chat >= 1_000);
    }
}
