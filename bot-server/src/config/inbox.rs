//! `[inbox]` (the worker pool and the durable queue) and `[polling]`, with their bounds.

use std::time::Duration;

use serde::Deserialize;
use telbot_shared::config::{ConfigError, TelegramConfig};

/// `[inbox]`: the worker pool and the durable queue.
#[derive(Debug, Clone, Deserialize)]
pub struct InboxConfig {
    /// Handlers running at once.
    pub workers: usize,
    /// Permanent handler failures before parking.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    /// Longest delay between two attempts (transient failures retry until Telegram's 24 h).
    #[serde(with = "humantime_serde")]
    pub retry_max_delay: Duration,
    /// Longest one handler run may take; must exceed the Bot API client's worst case.
    #[serde(with = "humantime_serde")]
    pub handler_timeout: Duration,
    /// Updates per transaction at most.
    pub batch_max: usize,
    /// Updates in memory at most.
    pub max_loaded: usize,
    /// Updates of one queue key (chat) in memory at most; the rest wait on disk.
    pub max_loaded_per_key: usize,
    /// How long done updates are kept for dedup.
    #[serde(with = "humantime_serde")]
    pub keep_done: Duration,
    /// PostgreSQL: how long an instance's claim on an update lasts unless extended (it is
    /// extended every third of it while the handler runs); a killed instance's claims are
    /// taken over after it.
    #[serde(with = "humantime_serde")]
    pub claim_lease: Duration,
    /// A store holding another bot's inbox: refused, or a fresh inbox (`inbox.new_bot`).
    #[serde(default)]
    pub new_bot: crate::bot_identity::NewBot,
}

impl InboxConfig {
    /// Every bound of `[inbox]`, the handler deadline against `telegram`'s worst case; each
    /// problem goes to `errs`.
    pub(super) fn check(&self, telegram: &TelegramConfig, errs: &mut Vec<ConfigError>) {
        if self.workers == 0
            || self.max_attempts == 0
            || self.batch_max == 0
            || self.max_loaded == 0
        {
            errs.push(ConfigError::invalid(
                "inbox.workers",
                "inbox.workers, max_attempts, batch_max and max_loaded must be at least 1",
            ));
        }
        if self.max_loaded_per_key == 0 || self.max_loaded_per_key > self.max_loaded {
            errs.push(ConfigError::invalid(
                "inbox.max_loaded_per_key",
                "must be at least 1 and at most inbox.max_loaded",
            ));
        }
        if self.claim_lease < Duration::from_secs(3) {
            errs.push(ConfigError::invalid(
                "inbox.claim_lease",
                "must be at least 3s (claims are extended every third of it)",
            ));
        }
        // Telegram redelivers an unconfirmed update for up to 24 h: a done update pruned sooner
        // would be run again when it comes back.
        if self.keep_done < Duration::from_secs(25 * 3600) {
            errs.push(ConfigError::invalid(
                "inbox.keep_done",
                "must be at least 25h (Telegram redelivers an update for up to 24 h; a done update pruned sooner is handled twice)",
            ));
        }
        if self.retry_max_delay < self.retry_delay {
            errs.push(ConfigError::invalid(
                "inbox.retry_max_delay",
                "must be at least inbox.retry_delay",
            ));
        }
        let worst = handler_worst_case(telegram);
        if self.handler_timeout <= worst {
            errs.push(ConfigError::invalid(
                "inbox.handler_timeout",
                format!(
                    "must be longer than one Bot API call's worst case ({} s: \
                     telegram.max_attempts x request_timeout and the waits between them up to \
                     max(max_retry_after, backoff_max)), or a handler that already sent could \
                     be cancelled and run again",
                    worst.as_secs()
                ),
            ));
        }
    }
}

/// One Bot API call at its worst: every attempt runs to its timeout, with the longest wait the
/// client accepts between attempts (a 429's retry_after up to `max_retry_after`, or the back-off
/// cap). A handler deadline shorter than this cancels handlers that are only waiting out a 429,
/// possibly after they already sent.
pub(super) fn handler_worst_case(t: &TelegramConfig) -> Duration {
    let attempts = t.max_attempts.max(1);
    let wait = t.max_retry_after.max(t.backoff_max);
    t.request_timeout.saturating_mul(attempts) + wait.saturating_mul(attempts - 1)
}

/// `[polling]`.
#[derive(Debug, Clone, Deserialize)]
pub struct PollingConfig {
    /// Long-poll timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Updates per call.
    pub limit: u32,
}

impl PollingConfig {
    /// `limit` 1-100 and `timeout` at most 50 s, as Telegram takes them.
    pub(super) fn check(&self, errs: &mut Vec<ConfigError>) {
        if !(1..=100).contains(&self.limit) {
            errs.push(ConfigError::invalid("polling.limit", "must be 1-100"));
        }
        if self.timeout > Duration::from_secs(50) {
            errs.push(ConfigError::invalid(
                "polling.timeout",
                "must be at most 50s (Telegram's maximum)",
            ));
        }
    }
}
