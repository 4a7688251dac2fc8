//! What a hosted teloxide program's handlers get from the core: teloxide's `Bot` as built
//! here, the `Me` of the bot, and dialogues in the store. The handlers themselves are the
//! program's (the reference bot's are in the `telbot-reference-bot` crate).
//!
//! - [`paced`]: [`paced::PacedBot`], the name a paced `Bot` had (now `Bot` itself).
//! - [`storage`]: [`storage::TelbotStorage`], teloxide's dialogue `Storage` on the store.

pub mod paced;
pub mod storage;

use std::future::Future;

use telbot_shared::telegram::{TelegramClient, TelegramError};
use teloxide::types::Me;

/// The error type of most handler trees (teloxide's own examples use it too).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

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

/// The bot's `Me` from getMe, or [`fallback_me`] when the Bot API cannot be reached at start.
pub(crate) async fn fetch_me(api: &TelegramClient, name: &str) -> Me {
    match api.call::<Me>("getMe", &serde_json::json!({})).await {
        Ok(me) => me,
        Err(e) => {
            tracing::warn!(error = %e, "getMe failed at start; commands still work without @mentions");
            fallback_me(name)
        }
    }
}
