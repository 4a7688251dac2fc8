//! Bot API methods, one module per area. [`dispatch`] runs a method by its
//! canonical name; [`canonical`] maps any casing (`GetMe`, `getme`) to it.

mod dice;
mod inline;
pub(crate) mod me;
mod messages;
mod updates;
mod webhook;

use std::sync::Arc;

use crate::api::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::Shared;

/// Methods the sim implements, in canonical camelCase.
const METHODS: &[&str] = &[
    "getMe",
    "getWebhookInfo",
    "setWebhook",
    "deleteWebhook",
    "getUpdates",
    "sendMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "sendDice",
    "answerInlineQuery",
];

/// Canonical name of a method, matched case-insensitively.
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

/// Run a method (canonical name) with its parameters.
pub(crate) async fn dispatch(shared: &Arc<Shared>, method: &str, p: &Params) -> ApiResult {
    match method {
        "getMe" => Ok(me::get_me(&shared.config)),
        "getWebhookInfo" => Ok(webhook::get_webhook_info(shared)),
        "setWebhook" => webhook::set_webhook(shared, p, false),
        "deleteWebhook" => webhook::set_webhook(shared, p, true),
        "getUpdates" => updates::get_updates(shared, p).await,
        "sendMessage" => messages::send_message(shared, p),
        "editMessageText" => messages::edit_message_text(shared, p),
        "editMessageReplyMarkup" => messages::edit_reply_markup(shared, p),
        "sendDice" => dice::send_dice(shared, p),
        "answerInlineQuery" => inline::answer_inline_query(p),
        "sendChatAction" | "answerCallbackQuery" | "deleteMessage" => messages::just_true(p),
        "setMyCommands" | "deleteMyCommands" | "getMyCommands" => {
            messages::commands(shared, method, p)
        }
        _ => Err(ApiError::new(404, "Not Found: method not found")),
    }
}

pub(crate) use webhook::webhook_info_value;

/// A sim's shared state without a server, for the methods' unit tests.
#[cfg(test)]
pub(crate) fn test_shared() -> Arc<Shared> {
    use crate::state::{Config, State};
    Arc::new(Shared {
        config: Config {
            token: "4242:test".to_owned(),
            allow_http_loopback: true,
            time_scale: 1.0,
            set_webhook_rate_limit: false,
        },
        state: std::sync::Mutex::new(State::new(1, 16)),
        delivery_wake: tokio::sync::Notify::new(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        http: reqwest::Client::new(),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    })
}
