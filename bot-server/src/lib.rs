//! bot-server: a host for teloxide programs behind axum that never loses an update it
//! acknowledged. It is a library only: a program's `main` (the `bot-server` binary is the
//! reference bot's, in `crates/reference-bot`) calls [`Dispatcher::builder`].
//!
//! - `config`: configuration, validated before anything starts.
//! - `dispatcher`: [`Dispatcher::builder`], shaped like teloxide's, for your handler tree.
//! - `host`: what teloxide's dispatcher does for a tree, on the inbox: default and error
//!   handlers, panics caught, error classes, allowed updates, [`repl`] and [`commands_repl`].
//! - `startup`: [`App::build_with`] (binds, port 0 allowed) and [`App::run_until_stopped`].
//! - `serve`: the HTTP/1.1 server loop with header timeouts and a graceful drain.
//! - `routes`: `/webhook`, `/health`, `/ready`, `/webhook/health`, `/webhook/recover`, `/shutdown`, `/metrics`.
//! - `inbox`: the durable inbox (group commit) and the per-chat worker pool.
//! - `mode`: webhook registration, polling, and the fallback between them (on the instance
//!   holding the `webhook-leader` lease when several share one PostgreSQL).
//! - `coordination`: what the store says about touching the webhook (a recovery's lease,
//!   the watchdog's failover, another process using the token).
//! - `fleet`: several bot-servers on one PostgreSQL count each other and share send pacing.
//! - `recovery`: lossless webhook recovery in-process.
//! - `webhook_health`: getWebhookInfo judged and cached.
//! - `monitor`: process/system figures and the memory guard.
//! - [`bot`]: what handlers get from the core: teloxide's `Bot`, `Me`, [`TelbotStorage`].
//! - `vitals`: [`Vitals`], the live health a program's handlers can read (e.g. `/status`).
//! - `housekeeping`: the store check, the open-dialogue count and pruning, every 2 s.
//! - `dashboard`: the live page `/bot/dashboard`, its JSON, charts and CSRF guard.
//! - `health`: the health figures `/health`, `/webhook/health` and the dashboard read.
//! - `auth`: admin auth as extractors (token, session cookie, CSRF).
//! - `registration`: the setWebhook parameters and the call with back-off.
//! - `recent`: recent ack latencies and the dashboard's one-hour history, in fixed rings.
//! - `telemetry`: Prometheus metrics.
//! - `state`: what routes and tasks share.
//! - `bot_identity`: the bot's id in the store (refusing another bot's inbox).
//! - `jobs`: the periodic jobs' last runs, for `/health`'s `jobs`.

#![warn(unreachable_pub)]

mod auth;
pub mod bot;
mod bot_identity;
mod config;
mod coordination;
mod dashboard;
mod dispatcher;
mod fleet;
mod health;
mod host;
mod housekeeping;
mod inbox;
mod jobs;
mod mode;
mod monitor;
mod recent;
mod recovery;
mod registration;
mod routes;
mod serve;
mod startup;
mod state;
mod telemetry;
mod vitals;
mod webhook_health;

pub use bot::paced::PacedBot;
pub use bot::storage::TelbotStorage;
pub use config::{
    BotConfig, BotSection, DashboardConfig, InboxConfig, LimitsConfig, Mode, PollingConfig,
    ServerConfig, WebhookSettings,
};
pub use dispatcher::{Dispatcher, DispatcherBuilder};
pub use host::HealthCheck;
pub use host::repl::{commands_repl, repl};
pub use host::send::SendIgnoringResult;
pub use startup::{App, Exit, StartError};
pub use state::AppState;
pub use vitals::Vitals;
pub use webhook_health::Expectation;

/// Internals the integration tests drive directly (the inbox's SQL, parked updates, the queue
/// key, the claim path, the metrics handle, the dashboard's status wait). Not an API: it may
/// change with any release.
#[doc(hidden)]
pub mod testing {
    pub use crate::dashboard::status::WAIT as STATUS_WAIT;
    pub use crate::inbox::{Finish, Status, claim, key, parked, sql};
    pub use crate::telemetry::handle as metrics_handle;
}

/// Exit code after the RSS limit was passed (the platform should restart the bot).
pub const EXIT_MEMORY_LIMIT: i32 = 3;
/// Exit code for a configuration error (sysexits' EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;
/// Exit code when the app cannot start (store, port).
pub const EXIT_START: i32 = 1;
