//! The watchdog daemon wired once, for the command line and for programs that embed it (the
//! demo): [`Plan::load`] reads and validates every setting in one pass (the bots, each one's
//! watchdog and alerts settings, the metrics address), and [`App::build`] opens one store pool
//! per bot that the watchdog and its alert pipeline share.

use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use telbot_alerts::{AlertPipeline, AlertsConfig, Heartbeat};
use telbot_shared::config::{self as shared, EnvMap};

use crate::alert::AlertSink;
use crate::alerting::PipelineSink;
use crate::bots;
use crate::clock::{Clock, SystemClock};
use crate::config::WatchdogConfig;
use crate::watchdog::{Watchdog, WatchdogError};

/// Why the app could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A setting is wrong (exit 78); the message names the key, never a secret.
    #[error("{0}")]
    Config(String),
    /// The store or a client could not be opened (exit 69).
    #[error("cannot start: {0}")]
    Start(#[from] WatchdogError),
}

/// One watched bot's validated settings.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The bot's name: a `[[bots]]` entry's, else `alerts.bot_name`.
    pub name: String,
    /// What the watchdog checks and does.
    pub watchdog: WatchdogConfig,
    /// Where and how it alerts.
    pub alerts: AlertsConfig,
    /// `ADMIN_TOKEN`, masked in every message (and used by `replay-parked`).
    pub admin_token: Option<SecretString>,
}

/// Everything one watchdog process runs, from one read of the configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The bots, in the order configured (one unless `[[bots]]` is used).
    pub bots: Vec<AppConfig>,
    /// Whether `[[bots]]` was used (the output then names each bot).
    pub fleet: bool,
    /// `watchdog.metrics_listen`: where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

impl Plan {
    /// Loads (defaults → `file` → environment) and validates every bot's settings; the error
    /// lists the problems, each with its key.
    pub fn load(file: Option<&std::path::Path>, env: &EnvMap) -> Result<Plan, String> {
        let raw = shared::load(file, env).map_err(|e| e.to_string())?;
        let metrics_listen = metrics_listen(&raw)?;
        let admin_token = env
            .get("ADMIN_TOKEN")
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::from(t.clone()));
        let entries = bots::entries(&raw).map_err(|e| e.to_string())?;
        if entries.is_empty() {
            let watchdog = WatchdogConfig::from_config(&raw).map_err(|e| e.to_string())?;
            let alerts = AlertsConfig::load(&raw, env).map_err(|e| e.to_string())?;
            return Ok(Plan {
                bots: vec![AppConfig {
                    name: alerts.bot_name.clone(),
                    watchdog,
                    alerts,
                    admin_token,
                }],
                fleet: false,
                metrics_listen,
            });
        }
        let mut bots = Vec::new();
        for e in &entries {
            let name = e.name.trim().to_string();
            let c = bots::bot_config(&raw, e, env).map_err(|e| e.to_string())?;
            let prefix = |m: String| {
                m.lines()
                    .map(|l| format!("bots[{name}]: {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let watchdog = WatchdogConfig::from_config(&c).map_err(|x| prefix(x.to_string()))?;
            let alerts = AlertsConfig::load(&c, env).map_err(|x| prefix(x.to_string()))?;
            bots.push(AppConfig {
                name,
                watchdog,
                alerts,
                admin_token: admin_token.clone(),
            });
        }
        let ids: Vec<(String, String)> = bots
            .iter()
            .map(|b| {
                (
                    b.name.clone(),
                    b.watchdog.store.url.expose_secret().to_string(),
                )
            })
            .collect();
        bots::check_distinct(&ids).map_err(|e| e.to_string())?;
        Ok(Plan {
            bots,
            fleet: true,
            metrics_listen,
        })
    }
}

/// `watchdog.metrics_listen`, parsed.
fn metrics_listen(raw: &config::Config) -> Result<Option<SocketAddr>, String> {
    let s = raw
        .get_string("watchdog.metrics_listen")
        .unwrap_or_default();
    match s.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| {
            format!("config: TELBOT__WATCHDOG__METRICS_LISTEN (watchdog.metrics_listen): not an address like 127.0.0.1:9464: {s:?}")
        }),
    }
}

/// One watched bot, ready to run: its watchdog and its alert pipeline, on one store pool.
pub struct App {
    /// The bot's name.
    pub name: String,
    /// The watchdog.
    pub watchdog: Watchdog,
    /// The alert pipeline the watchdog reports to (also used by `silence`, `ack`, `test-alert`).
    pub sink: Arc<PipelineSink>,
}

impl App {
    /// Opens the store once, builds the alert pipeline (and heartbeat) and the watchdog on it,
    /// with the system clock.
    pub async fn build(cfg: AppConfig) -> Result<App, AppError> {
        Self::build_with(cfg, Arc::new(SystemClock), |sink| sink).await
    }

    /// [`App::build`] with an injected clock, and `wrap` around the alert sink the watchdog
    /// reports to (the demo keeps a timeline of what the watchdog did).
    pub async fn build_with<W>(
        cfg: AppConfig,
        clock: Arc<dyn Clock>,
        wrap: impl FnOnce(Arc<PipelineSink>) -> Arc<W>,
    ) -> Result<App, AppError>
    where
        W: AlertSink + 'static,
    {
        let AppConfig {
            name,
            watchdog,
            alerts,
            admin_token,
        } = cfg;
        let mut secrets = vec![watchdog.telegram.token.clone()];
        secrets.extend(watchdog.webhook.secret.clone());
        secrets.extend(admin_token);
        let heartbeat = Heartbeat::from_config(&alerts)
            .map_err(|e| AppError::Config(format!("alerts.heartbeat_url: {e}")))?;
        let db = match telbot_shared::store::connect(&watchdog.store).await {
            // The URL names the wrong kind of pooler: a configuration error (exit 78), not an
            // unavailable store that might come back.
            Err(e @ telbot_shared::store::StoreError::Pooler { .. }) => {
                return Err(AppError::Config(e.to_string()));
            }
            r => r.map_err(WatchdogError::from)?,
        };
        let pipeline = AlertPipeline::new(alerts, db.clone(), secrets)
            .map_err(|e| AppError::Config(format!("alerts: {e}")))?;
        let sink = Arc::new(PipelineSink::new(pipeline, heartbeat));
        let reporter: Arc<dyn AlertSink> = wrap(sink.clone());
        let watchdog = Watchdog::build_on(watchdog, db, clock, reporter)?;
        Ok(App {
            name,
            watchdog,
            sink,
        })
    }
}
