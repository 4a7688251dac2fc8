//! The checks. Each looks at one side of the system and yields [`Finding`]s, one per incident
//! key it judges (ok ones too, so the alert policy can send "resolved"):
//!
//! - [`telegram`]: getMe (token) and getWebhookInfo (url, pending, error age, sync errors,
//!   max_connections, allowed_updates), judged by the pure [`telegram::judge_webhook`].
//! - [`bot`]: `/health` liveness (N attempts), memory, and the performance figures (response
//!   time, store, dependencies, handler success rate).
//! - [`integration`]: a webhook POST without the secret must get 401; `/webhook/health`.
//! - [`upkeep`]: the bot's resources, periodic jobs and last-hour figures from `/health`.
//! - [`canary`]: a synthetic update through the bot's webhook and inbox, read back from the
//!   store (with the integration probes).
//! - [`tls`]: the certificate of PUBLIC_URL's host (expiry, host name, trust), read hourly.

pub(crate) mod blind;
pub(crate) mod bot;
pub mod canary;
pub(crate) mod conflict;
pub(crate) mod integration;
pub(crate) mod telegram;
pub mod tls;
pub(crate) mod upkeep;
