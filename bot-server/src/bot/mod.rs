//! The reference bot: teloxide handlers run by the inbox's workers. Users replace
//! [`handlers::tree`] with their own (see the README); everything else stays.
//!
//! - [`handlers`]: /start, /help, /status, /report (multi-step), /ask.
//! - [`paced`]: [`paced::PacedBot`], the name a paced `Bot` had (now `Bot` itself).
//! - [`pending`]: multi-step actions in the store with a TTL.
//! - [`storage`]: [`storage::TelbotStorage`], teloxide's dialogue `Storage` on the store.
//! - [`ai`]: the /ask endpoint client with a circuit breaker.

pub mod ai;
pub mod handlers;
pub mod paced;
pub mod pending;
pub mod storage;

use std::future::Future;
use std::sync::Arc;

use telbot_shared::store::Db;
use telbot_shared::telegram::{TelegramClient, TelegramError};
use teloxide::types::Me;

/// The error type handlers return.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What every handler can reach: injected into the handler tree as `Arc<BotCtx>`.
pub struct BotCtx {
    /// The Bot API client (retries, pacing, redaction).
    pub api: TelegramClient,
    /// The shared store.
    pub db: Db,
    /// Multi-step actions.
    pub pending: pending::PendingActions,
    /// The /ask endpoint.
    pub assistant: Arc<ai::Assistant>,
    /// Chats allowed to use /status.
    pub admin_chat_ids: Vec<i64>,
    /// One line of health for /status.
    pub status_line: Box<dyn Fn() -> String + Send + Sync>,
}

/// teloxide's `Bot` with the bot's token, every request bounded by `timeout`. bot-server points
/// each handler run's copy at its gateway (telbot's client behind it); as built here it talks
/// to the configured Bot API URL directly. teloxide hides the token in its network errors; the
/// inbox masks it again in what it stores.
pub fn teloxide_bot(
    cfg: &telbot_shared::config::TelegramConfig,
    timeout: std::time::Duration,
) -> Result<teloxide::Bot, TelegramError> {
    use secrecy::ExposeSecret;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(cfg.request_timeout.min(std::time::Duration::from_secs(10)))
        .build()
        .map_err(|e| TelegramError::InvalidResponse {
            method: "client".into(),
            message: e.without_url().to_string(),
        })?;
    Ok(
        teloxide::Bot::with_client(cfg.token.expose_secret(), client)
            .set_api_url(cfg.api_url.clone()),
    )
}

/// Runs `sweep` every `every` until `stop`, saying how many expired `what` it removed.
async fn sweep_every<F, Fut, E>(
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
    what: &'static str,
    sweep: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => match sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "swept expired {what}"),
                Err(e) => tracing::warn!(error = %e, "cannot sweep {what}"),
            },
            _ = stop.cancelled() => return,
        }
    }
}

/// `Me` for when getMe could not be reached at start (commands still parse without a mention).
pub fn fallback_me(name: &str) -> Me {
    let user = teloxide::types::User {
        id: teloxide::types::UserId(0),
        is_bot: true,
        first_name: name.to_string(),
        last_name: None,
        username: Some(name.to_string()),
        language_code: None,
        is_premium: false,
        added_to_attachment_menu: false,
    };
    Me {
        user,
        can_join_groups: false,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
        can_connect_to_business: false,
        has_main_web_app: false,
    }
}
