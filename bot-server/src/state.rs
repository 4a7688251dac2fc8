//! What the routes and background tasks share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use telbot_shared::redact::Redactor;
use telbot_shared::store::Db;
use telbot_shared::telegram::TelegramClient;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::AdminAuth;
use crate::bot::storage::TelbotStorage;
use crate::config::{BotConfig, Mode};
use crate::inbox::{Counters, Writer};
use crate::monitor::Figures;
use crate::recent::{AckRing, History};
use crate::webhook_health::HealthCache;

/// The mode that is live now (it can differ from the configured one after a fallback).
#[derive(Debug, Default)]
pub(crate) struct LiveMode(AtomicU8);

impl LiveMode {
    /// Sets the live mode.
    pub(crate) fn set(&self, m: Mode) {
        self.0
            .store(if m == Mode::Polling { 1 } else { 0 }, Ordering::Release);
    }
    /// The live mode.
    pub(crate) fn get(&self) -> Mode {
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

/// The shared parts, one per process. Fields are the crate's own; programs and tests read
/// them through the accessors below.
pub struct Shared {
    /// Validated config.
    pub(crate) cfg: Arc<BotConfig>,
    /// The store.
    pub(crate) db: Db,
    /// Bot API client.
    pub(crate) api: TelegramClient,
    /// Inbox writer.
    pub(crate) writer: Writer,
    /// Update counters.
    pub(crate) counters: Arc<Counters>,
    /// Live mode (shared with the handlers' [`crate::Vitals`]).
    pub(crate) mode: Arc<LiveMode>,
    /// Whether the store answered its last check (and took the last write).
    pub(crate) store_up: Arc<AtomicBool>,
    /// Process and system figures.
    pub(crate) figures: Arc<Figures>,
    /// The program's teloxide dialogues (counted in `/health`'s `pending_actions`).
    pub(crate) dialogues: Arc<TelbotStorage>,
    /// The program's own `/health` checks (`DispatcherBuilder::health_check`), by name.
    pub(crate) health_checks: Vec<(String, crate::host::HealthCheck)>,
    /// `/webhook/health` cache.
    pub(crate) webhook_health: HealthCache,
    /// Start time.
    pub(crate) started: Instant,
    /// Cancelled to shut down (SIGTERM, SIGINT, POST /shutdown, memory limit).
    pub(crate) shutdown: CancellationToken,
    /// Prometheus renderer.
    pub(crate) metrics: PrometheusHandle,
    /// Open dialogues, `/health`'s `pending_actions` (refreshed every 2 s).
    pub(crate) open_dialogues: AtomicU64,
    /// Recent ack latencies.
    pub(crate) acks: AckRing,
    /// The last hour of the dashboard's chart figures.
    pub(crate) history: History,
    /// Recoveries started by `POST /webhook/recover`: a shutdown waits for them (within the
    /// grace period) so the webhook is set again before the process ends.
    pub(crate) recoveries: TaskTracker,
    /// The admin token and the dashboard's session and CSRF tokens.
    pub(crate) auth: Arc<AdminAuth>,
    /// Masks every configured secret in what the dashboard sends.
    pub(crate) redactor: Redactor,
    /// This instance's name in the store's leases and inbox claims.
    pub(crate) instance: Arc<str>,
    /// Whether this instance holds the `webhook-leader` lease (always, on SQLite).
    pub(crate) leader: AtomicBool,
    /// Set at a shutdown signal: `/ready` answers 503 from then on.
    pub(crate) draining: AtomicBool,
    /// `webhook.reply_in_answer`: webhook requests waiting for their update's reply.
    pub(crate) replies: Option<Arc<crate::inbox::reply::Waiters>>,
    /// The periodic jobs' ledger (`/health`'s `jobs`).
    pub(crate) jobs: Arc<crate::jobs::Jobs>,
}

impl FromRef<AppState> for Arc<AdminAuth> {
    fn from_ref(app: &AppState) -> Arc<AdminAuth> {
        app.auth.clone()
    }
}

impl AppState {
    /// Webhook requests waiting for their update's reply (`webhook.reply_in_answer`).
    pub fn reply_waiters(&self) -> usize {
        self.replies.as_ref().map_or(0, |w| w.len())
    }
    /// The store.
    pub fn db(&self) -> &Db {
        &self.db
    }
    /// The Bot API client.
    pub fn api(&self) -> &TelegramClient {
        &self.api
    }
    /// The mode that is live now.
    pub fn mode(&self) -> Mode {
        self.mode.get()
    }
    /// Whether this instance leads (registers the webhook, runs the polling fallback).
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }
    /// The update counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// Whether the store answered its last check (and took the last write).
    pub fn store_up(&self) -> bool {
        self.store_up.load(Ordering::Relaxed)
    }
    /// The program's teloxide dialogues (`Dialogue<State, TelbotStorage>`).
    pub fn dialogues(&self) -> &Arc<TelbotStorage> {
        &self.dialogues
    }
    /// The `/webhook/health` cache.
    pub fn webhook_health(&self) -> &HealthCache {
        &self.webhook_health
    }
}
