//! telbot's reference bot, a user of the `bot-server` library like any other program:
//! `/start`, `/help`, `/status` (admin chats), `/report` (a two-step conversation per chat
//! member), `/ask` (an OpenAI-compatible endpoint behind a circuit breaker) and `/ping`.
//! Its binary is `bot-server`: [`program`] and a few lines of wiring.
//!
//! - [`handlers`]: the handler tree and its commands, on teloxide's `Bot`.
//! - [`report`]: `/report` as a `Dialogue<State, TelbotStorage>` keyed by chat and member.
//! - [`ai`]: the `/ask` client with its breaker, and its `/health` check `openai`.
//! - [`settings`]: `[ai]` and `bot.admin_chat_ids`, read from bot-server's sources.

pub mod ai;
pub mod handlers;
pub mod report;
pub mod settings;

use std::path::Path;
use std::sync::Arc;

use bot_server::{BotConfig, Dispatcher, DispatcherBuilder};
use telbot_shared::config::{ConfigError, EnvMap};
use teloxide::dptree;

pub use handlers::{Command, HandlerError, tree};
pub use settings::{AiConfig, Settings};

/// The reference bot on `cfg`, its own settings read from the same sources (`file` is
/// `--config`, `env` the environment): a [`DispatcherBuilder`] to `build().dispatch()` or
/// `start()`, with the tree, its dependencies (the assistant, the admin chats), the `openai`
/// health check and the API key masked. A bad setting is an error naming its key.
pub fn program(
    cfg: BotConfig,
    file: Option<&Path>,
    env: &EnvMap,
) -> Result<DispatcherBuilder<HandlerError>, ConfigError> {
    program_with(cfg, Settings::load(file, env)?)
}

/// [`program`] with settings loaded beforehand; checks them against `cfg` (the handler
/// deadline must cover /ask).
pub fn program_with(
    cfg: BotConfig,
    settings: Settings,
) -> Result<DispatcherBuilder<HandlerError>, ConfigError> {
    settings.check_against(&cfg)?;
    let api_key = settings.ai.api_key.clone();
    let assistant = Arc::new(ai::Assistant::new(settings.ai));
    let admins = Arc::new(handlers::Admins(settings.admin_chat_ids));
    let check = assistant.clone();
    let mut builder = Dispatcher::builder(cfg, tree())
        .dependencies(dptree::deps![assistant, admins])
        .health_check("openai", move || check.health());
    if let Some(key) = api_key {
        builder = builder.redact(key);
    }
    Ok(builder)
}
