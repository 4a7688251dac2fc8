//! The Telegram Bot API client layer: [`TelegramClient`] with retries, pacing and redaction,
//! its errors, and the API shapes both daemons read.

mod backoff;
mod client;
mod error;
mod limiter;
mod types;

pub use backoff::delay as backoff_delay;
pub use client::{ClientStats, TelegramClient, describe_metrics};
pub use error::TelegramError;
pub use types::{BotUser, SetWebhook, WebhookInfo};
