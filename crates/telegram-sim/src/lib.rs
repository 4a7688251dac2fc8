//! An offline Telegram Bot API server with fault injection, for tests, the
//! demo and benchmarks. Each [`Sim`] binds its own 127.0.0.1 port and holds
//! no globals, so many run in parallel in one test process.
//!
//! Module map:
//! - [`builder`](SimBuilder): settings and `start()` (binds, spawns tasks).
//! - `sim`: [`Sim`], the handle tests hold (inject, faults, read-backs).
//! - `server`: accept loop, router, Bot API entry (token, params, faults).
//! - `api`: the `{"ok":…}` envelope and exact error texts.
//! - `params`: query / JSON / form / multipart parameters, merged.
//! - `methods/`: one module per method area (`me`, `webhook`, `updates`, `messages`).
//! - `webhook_url`: setWebhook URL and secret validation.
//! - `queue`: update ids, lifetimes, webhook queue keys, offset rules.
//! - `delivery/`: webhook delivery (planning, back-off, degraded mode) and attempts.
//! - `updates`: [`Upd`], builders of realistic update payloads.
//! - `faults`: [`WebhookFault`], [`ApiFault`].
//! - `control`: the `/_sim/…` HTTP control API.
//! - `ops`: operations shared by [`Sim`] and `control`.
//! - `state`, `records`, `clock`, `error`: shared state, logs, time, [`SimError`].
//!
//! Usage:
//! ```no_run
//! # async fn demo() -> Result<(), telegram_sim::SimError> {
//! use telegram_sim::{Sim, Upd, WebhookFault};
//! let sim = Sim::builder().allow_http_loopback(true).time_scale(0.01).start().await?;
//! // point the bot at sim.base_url() with sim.token(), then:
//! sim.inject(Upd::command(42, "/start"));
//! sim.break_webhook(WebhookFault::Status(500));
//! let _ = sim.webhook_info()["last_error_message"].clone();
//! # Ok(()) }
//! ```
//!
//! Time: use [`SimBuilder::time_scale`] to speed up Telegram's delays. Do
//! not combine the sim with `tokio::time::pause()`: its timers (read
//! timeout, back-off, long polls) would jump while sockets wait.
//!
//! Simplifications, on purpose (each is documented where it lives):
//! - getUpdates: no 3-second throttling of repeated 409s and no
//!   anti-busy-loop rules (forced timeout 3 s / limit 1 on rapid repeats).
//! - setWebhook answers synchronously, so there is no
//!   `Conflict: terminated by other setWebhook`; a certificate uploaded as a file
//!   is only noted (`has_custom_certificate`, its size checked), a fixed
//!   `ip_address` is checked, kept and shown by getWebhookInfo (otherwise it
//!   shows `"127.0.0.1"`) but delivery still goes to the URL's loopback host.
//! - Delivery: the degraded / healthy connection-opening rates (1 per 2 s,
//!   10 per 0.5 s) are not modelled, only the in-flight caps; the 23-hour
//!   "410 Gone" auto-delete is not modelled; queue size limits are not
//!   enforced. The sim never contacts non-loopback hosts (delivery to them
//!   fails with `Connection refused`).
//! - An update whose type `allowed_updates` filters out still uses up an
//!   update_id (so [`Sim::inject`] can return one); Telegram would not.
//! - Expiry compares the sim clock with unscaled Telegram delays, so a
//!   small time scale does not make updates live longer in retries.

mod api;
mod builder;
mod clock;
mod control;
mod delivery;
mod error;
mod faults;
mod methods;
mod ops;
mod params;
mod queue;
mod records;
mod server;
mod sim;
mod state;
mod updates;
mod webhook_url;

pub use builder::{DEFAULT_TOKEN, SimBuilder};
pub use error::SimError;
pub use faults::{ApiFault, WebhookFault};
pub use records::{Call, Delivery, SentMessage};
pub use sim::Sim;
pub use updates::Upd;
