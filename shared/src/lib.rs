//! What both telbot daemons share.
//!
//! - [`config`]: layered configuration (compiled-in defaults → file → `TELBOT__…` → well-known
//!   names) and the validated sections both daemons use.
//! - [`telegram`]: the Bot API client with timeouts, back-off, 429 handling, send pacing and
//!   token redaction.
//! - [`redact`]: masking secrets in text.
//! - [`signal`]: the shutdown signal (SIGTERM or SIGINT).
//! - [`store`]: the shared database (SQLite or PostgreSQL) and its migrations.
//! - [`stored_reply`]: the reply stored with an inbox row (`webhook.reply_in_answer`) and
//!   which path carried it, so it goes out once.
//! - [`check_request`]: the dashboard's "Refresh status" asking the watchdog for a check.
//! - [`canary`]: the watchdog's synthetic update (its id range, body and inbox state).
//! - [`queue_key`]: the queue key of an update (one classifier for the inbox and the replay).
//! - [`migration_lock`]: the lock row migrations run under (no advisory lock).
//! - [`level`]: how bad a finding is (`ok`, `warning`, `critical`), for the watchdog and the
//!   alerts pipeline alike.
//! - [`lease`]: named leases (rows with owner, token and expiry): the one recovery lock and the
//!   two leaderships.
//! - [`recovery`]: the lossless recovery sequence both daemons run ([`recovery::run`]) and its
//!   persisted phase.
//! - [`health`]: the `/health` document.
//! - [`logging`]: tracing set-up (`LOG_FORMAT=json`).
//! - [`metrics_upkeep`]: draining the Prometheus recorder when nobody scrapes it.
//! - [`backoff`]: the one retry schedule (exponential, capped, optionally jittered).
//! - [`deploy_verification`]: the watchdog's verification of the latest deploy (kv), which
//!   the dashboard shows.
//! - [`action`]: a watchdog action's detail ([`action::ActionDetail`], stored as JSON) and the
//!   same in words, for its alerts, the digest and the dashboard.
//! - [`conflict`]: what bot-server saw of another process using the token (kv), for the
//!   watchdog's `token-conflict` incident.
//! - [`failover`]: the failover record (kv): while it is set bot-server registers nothing.
//! - [`html`]: escaping text for the pages and e-mails.
//! - [`owner`]: the owner name a lease is taken with (`watchdog on host (pid 12)`).
//! - [`pooler_probe`]: whether a PostgreSQL URL's pooler keeps prepared statements.
//! - [`webhook_secret`]: the generated webhook secret kept in the store.
//! - [`webhook_settings`]: the webhook settings bot-server registered (kv), which a
//!   recovery restores.

#![warn(unreachable_pub)]

pub mod action;
pub mod backoff;
pub mod canary;
pub mod check_request;
pub mod config;
pub mod conflict;
pub mod deploy_verification;
pub mod failover;
pub mod health;
pub mod html;
pub mod lease;
pub mod level;
pub mod logging;
pub mod metrics_upkeep;
pub mod migration_lock;
pub mod owner;
pub mod pooler_probe;
pub mod queue_key;
pub mod recovery;
pub mod redact;
pub mod signal;
pub mod store;
pub mod stored_reply;
pub mod telegram;
pub mod webhook_secret;
pub mod webhook_settings;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The version both binaries report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
