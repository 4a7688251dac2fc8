//! The watchdog's alerting pipeline: check results become notifications people can trust.
//!
//! `Observation` → `policy` (per-incident state in the store: flap damping, reminders,
//! silences) → `render` (a pure function) → `outbox` (persisted, retried) → `notify`
//! channels. The modules are private; what the watchdog and tests use is re-exported here. Everything is keyed by incident and kept in the shared store, so a restarted
//! watchdog sends no second e-mail.
//!
//! - `model`: [`Level`], [`Observation`], [`ActionNote`] (the watchdog's input) and
//!   [`Decision`] (what happened, printable by `watchdog check --json`).
//! - `config`: the `[alerts]` section, validated into [`AlertsConfig`].
//! - `policy`: the pure state machine deciding open / repeat / escalate / resolve / hold.
//! - `incident`: incident rows in `alert_incidents`.
//! - `silence`: `watchdog silence …` rows and maintenance windows.
//! - `ack`: `watchdog ack INCIDENT`: no reminders or escalation until it resolves.
//! - `render`: subject, text and HTML of a message; escaped and redacted.
//! - `outbox`: the persisted outbox and its back-off.
//! - `notify`: the [`Notifier`] trait; e-mail (lettre SMTP), Resend, Slack, Discord,
//!   PagerDuty, Telegram, a generic webhook, SMS (Twilio).
//! - `checks`: small checks shared by the config and the channels' settings.
//! - `channels`: the channels a config enables, built once.
//! - `pipeline`: [`AlertPipeline`], what the watchdog calls (`observe`, `flush_outbox`,
//!   `silence`, `unsilence`, `test_alert`, `incidents`).
//! - `delivery`: `flush_outbox`: sending due rows, back-off, reporting a failing channel.
//! - `heartbeat`: healthchecks.io-compatible pings around each run.
//! - `error`: the crate's error type, [`AlertError`].

#![warn(unreachable_pub)]

mod ack;
mod channels;
mod checks;
mod config;
mod delivery;
mod error;
mod heartbeat;
mod incident;
mod model;
mod notify;
mod outbox;
mod pipeline;
mod policy;
mod render;
mod silence;

pub use config::{
    ALERT_ENV, AlertsConfig, AlertsSection, MaintenanceSection, MaintenanceWindow, StringList,
};
pub use delivery::FlushReport;
pub use error::AlertError;
pub use heartbeat::Heartbeat;
pub use model::{ActionNote, Decision, DecisionKind, Level, Observation};
pub use notify::Notifier;
pub use notify::email::SmtpSettings;
pub use notify::pagerduty::PagerDutySettings;
pub use notify::resend::ResendSettings;
pub use notify::sms::TwilioSettings;
pub use notify::telegram::TelegramAlertSettings;
pub use notify::webhook::GenericWebhookSettings;
pub use pipeline::{AlertPipeline, ChannelResult};
pub use render::{Message, Notice, NoticeKind, RenderCtx, format_time, html_escape, render};
