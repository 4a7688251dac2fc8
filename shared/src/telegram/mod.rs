//! The Telegram Bot API client layer: [`TelegramClient`] with retries, pacing and redaction,
//! its errors, and the API shapes both daemons read.

mod certificate;
mod client;
mod error;
mod fit;
mod forward;
mod limiter;
pub mod reply;
mod types;

pub use certificate::{Certificate, CertificateError, MAX_CERTIFICATE_BYTES};
pub use client::{ClientStats, TelegramClient, describe_metrics};
pub use error::{TelegramError, code_of_description, error_page_status};
pub use types::{BotUser, DEFAULT_UPDATE_KINDS, SetWebhook, WebhookInfo, same_allowed_updates};
