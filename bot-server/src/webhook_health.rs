//! `GET /webhook/health`: Telegram's view of the webhook (getWebhookInfo) judged against what
//! this bot expects, cached so the route cannot be used to hammer Telegram.
//!
//! Telegram keeps `last_error_date` long after deliveries work again, so an error followed by
//! a delivery this bot accepted (an authenticated webhook POST answered 200) is history, not a
//! problem. The refresh is cancellation-safe: a request dropped while getWebhookInfo is in
//! flight does not leave the "refreshing" flag set (which would freeze the cache).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use telbot_shared::telegram::{TelegramClient, WebhookInfo};
use tokio::time::Instant;

use crate::config::Mode;

/// What the bot expects of its webhook.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The URL it registers, if any.
    pub url: Option<String>,
    /// The live mode.
    pub mode: Mode,
    /// Pending above this is a problem.
    pub max_pending: u64,
    /// An error younger than this is a problem.
    pub error_window: Duration,
}

/// The problems a person should know about; empty means healthy. `last_delivery` is when this
/// bot last accepted a webhook delivery (unix seconds): an error before it, or in the same
/// second (Telegram's dates have no finer grain), is history.
pub(crate) fn assess(
    info: &WebhookInfo,
    exp: &Expectation,
    now: i64,
    last_delivery: Option<i64>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if exp.mode == Mode::Webhook {
        match &exp.url {
            _ if info.url.is_empty() => problems.push("no webhook is set".to_string()),
            Some(want) if *want != info.url => {
                problems.push(format!("webhook URL is {} but should be {want}", info.url));
            }
            _ => {}
        }
    }
    if info.pending_update_count > exp.max_pending {
        problems.push(format!(
            "{} updates pending (more than {})",
            info.pending_update_count, exp.max_pending
        ));
    }
    if let Some(date) = info
        .last_error_date
        .filter(|d| last_delivery.is_none_or(|l| l < *d))
    {
        let age = now - date;
        if age >= 0 && (age as u64) < exp.error_window.as_secs() {
            let msg = info
                .last_error_message
                .as_deref()
                .unwrap_or("unknown error");
            problems.push(format!("delivery error {age} s ago: {msg}"));
        }
    }
    problems
}

/// The cached answer.
#[derive(Debug, Default)]
pub struct HealthCache {
    value: Mutex<Option<(Instant, Value, bool)>>,
    refreshing: AtomicBool,
    /// When the bot last accepted a webhook delivery (unix seconds; 0 = never).
    last_delivery: AtomicI64,
}

/// Clears the refreshing flag when the refresh ends — also when its request is dropped.
struct Refreshing<'a>(&'a AtomicBool);

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl HealthCache {
    /// The answer and whether it is healthy, refreshed when older than `max_age`.
    pub async fn get(
        &self,
        api: &TelegramClient,
        exp: &Expectation,
        max_age: Duration,
    ) -> (Value, bool) {
        let cached = self.value.lock().ok().and_then(|g| g.clone());
        if let Some((at, v, ok)) = &cached
            && at.elapsed() < max_age
        {
            return (v.clone(), *ok);
        }
        if cached.is_some() && self.refreshing.swap(true, Ordering::AcqRel) {
            // Someone else is asking Telegram; answer with what we have.
            let (_, v, ok) = cached.unwrap_or((Instant::now(), Value::Null, false));
            return (v, ok);
        }
        let _refreshing = cached.is_some().then_some(Refreshing(&self.refreshing));
        let fresh = build(api, exp, self.last_delivery()).await;
        if let Ok(mut g) = self.value.lock() {
            *g = Some((Instant::now(), fresh.0.clone(), fresh.1));
        }
        fresh
    }

    /// Notes a webhook delivery accepted now (called for every authenticated 200).
    pub fn delivered(&self, at: i64) {
        self.last_delivery.fetch_max(at, Ordering::Relaxed);
    }

    /// When the bot last accepted a webhook delivery.
    pub fn last_delivery(&self) -> Option<i64> {
        let v = self.last_delivery.load(Ordering::Relaxed);
        (v > 0).then_some(v)
    }

    /// Whether a refresh is in flight (tests watch the flag).
    pub fn is_refreshing(&self) -> bool {
        self.refreshing.load(Ordering::Acquire)
    }

    /// Forgets the cached answer (after a recovery or a mode change).
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.value.lock() {
            *g = None;
        }
    }
}

async fn build(
    api: &TelegramClient,
    exp: &Expectation,
    last_delivery: Option<i64>,
) -> (Value, bool) {
    let now = telbot_shared::unix_now();
    let checked_at = humantime_now();
    let (mut info, problems) = match api.get_webhook_info().await {
        Ok(info) => {
            let p = assess(&info, exp, now, last_delivery);
            (serde_json::to_value(&info).unwrap_or_else(|_| json!({})), p)
        }
        Err(e) => (json!({}), vec![format!("Bot API unreachable: {e}")]),
    };
    let healthy = problems.is_empty();
    if let Some(obj) = info.as_object_mut() {
        obj.insert("is_healthy".into(), healthy.into());
        obj.insert("problems".into(), json!(problems));
    }
    let v = json!({
        "webhook_info": info,
        "expected_url": exp.url.clone().unwrap_or_default(),
        "mode": exp.mode.as_str(),
        "checked_at": checked_at,
    });
    (v, healthy)
}

fn humantime_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp() -> Expectation {
        Expectation {
            url: Some("https://bot.example/webhook".into()),
            mode: Mode::Webhook,
            max_pending: 5,
            error_window: Duration::from_secs(600),
        }
    }

    #[test]
    fn each_problem_is_named() {
        let now = 1_000_000;
        let ok = WebhookInfo {
            url: "https://bot.example/webhook".into(),
            ..Default::default()
        };
        assert!(assess(&ok, &exp(), now, None).is_empty());
        let cases = [
            (WebhookInfo::default(), "no webhook"),
            (
                WebhookInfo {
                    url: "https://old.example/webhook".into(),
                    ..Default::default()
                },
                "should be",
            ),
            (
                WebhookInfo {
                    pending_update_count: 6,
                    ..ok.clone()
                },
                "6 updates pending",
            ),
            (
                WebhookInfo {
                    last_error_date: Some(now - 30),
                    last_error_message: Some(
                        "Wrong response from the webhook: 500 Internal Server Error".into(),
                    ),
                    ..ok.clone()
                },
                "500 Internal Server Error",
            ),
        ];
        for (info, want) in cases {
            let p = assess(&info, &exp(), now, None);
            assert!(p.iter().any(|s| s.contains(want)), "{p:?} lacks {want}");
        }
    }

    #[test]
    fn an_old_error_is_history_not_a_problem() {
        let info = WebhookInfo {
            url: "https://bot.example/webhook".into(),
            last_error_date: Some(1_000_000 - 3600),
            last_error_message: Some("Connection refused".into()),
            ..Default::default()
        };
        assert!(assess(&info, &exp(), 1_000_000, None).is_empty());
    }

    #[test]
    fn a_recent_error_followed_by_a_delivery_is_history() {
        let now = 1_000_000;
        let info = WebhookInfo {
            url: "https://bot.example/webhook".into(),
            last_error_date: Some(now - 60),
            last_error_message: Some("Wrong response from the webhook: 502 Bad Gateway".into()),
            ..Default::default()
        };
        // Nothing arrived since the error (or ever): a problem.
        assert_eq!(assess(&info, &exp(), now, None).len(), 1);
        assert_eq!(assess(&info, &exp(), now, Some(now - 120)).len(), 1);
        assert_eq!(assess(&info, &exp(), now, Some(now - 61)).len(), 1);
        // A delivery arrived after it (or in its second): history.
        assert!(assess(&info, &exp(), now, Some(now - 60)).is_empty());
        assert!(assess(&info, &exp(), now, Some(now - 59)).is_empty());
    }
}
