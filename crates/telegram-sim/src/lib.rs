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
//! Simplifications (documented where they live): no 3-second 409
//! throttling and no anti-busy-loop rules in getUpdates; the sim never
//! contacts non-loopback hosts (delivery to them fails with
//! `Connection refused`).

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
