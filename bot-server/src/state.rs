//! What the routes and background tasks share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use metrics_exporter_prometheus::PrometheusHandle;
use telbot_shared::store::Db;
use telbot_shared::telegram::TelegramClient;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::bot::ai::Assistant;
use crate::bot::pending::PendingActions;
use crate::config::{BotConfig, Mode};
use crate::inbox::{Counters, Writer};
use crate::monitor::Figures;
use crate::webhook_health::HealthCache;

/// The mode that is live now (it can differ from the configured one after a fallback).
#[derive(Debug, Default)]
pub struct LiveMode(AtomicU8);

impl LiveMode {
    /// Sets the live mode.
    pub fn set(&self, m: Mode) {
        self.0
            .store(if m == Mode::Polling { 1 } else { 0 }, Ordering::Release);
    }
    /// The live mode.
    pub fn get(&self) -> Mode {
        if self.0.load(Ordering::Acquire) == 1 {
            Mode::Polling
        } else {
            Mode::Webhook
        }
    }
}

/// Shared by every route. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The shared parts.
pub struct Shared {
    /// Validated config.
    pub cfg: Arc<BotConfig>,
    /// The store.
    pub db: Db,
    /// Bot API client.
    pub api: TelegramClient,
    /// Inbox writer.
    pub writer: Writer,
    /// Update counters.
    pub counters: Arc<Counters>,
    /// Live mode.
    pub mode: LiveMode,
    /// Whether the store answered its last check (and took the last write).
    pub store_up: AtomicBool,
    /// Process and system figures.
    pub figures: Arc<Figures>,
    /// /ask client.
    pub assistant: Arc<Assistant>,
    /// Pending actions.
    pub pending: PendingActions,
    /// `/webhook/health` cache.
    pub webhook_health: HealthCache,
    /// Start time.
    pub started: Instant,
    /// Cancelled to shut down (SIGTERM, SIGINT, POST /shutdown, memory limit).
    pub shutdown: CancellationToken,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// Open multi-step actions (refreshed by the sweeper).
    pub pending_count: std::sync::atomic::AtomicU64,
    /// Recent ack latencies.
    pub acks: crate::dashboard_feed::AckRing,
    /// Recoveries started by `POST /webhook/recover`: a shutdown waits for them (within the
    /// grace period) so the webhook is set again before the process ends.
    pub recoveries: tokio_util::task::TaskTracker,
    /// The dashboard's CSRF and session tokens and its one-hour history.
    pub dashboard: crate::dashboard::Dashboard,
    /// This instance's name in the store's leases and inbox claims.
    pub instance: Arc<str>,
    /// Whether this instance holds the `webhook-leader` lease (always, on SQLite).
    pub leader: AtomicBool,
    /// Set at a shutdown signal: `/ready` answers 503 from then on.
    pub draining: AtomicBool,
}
