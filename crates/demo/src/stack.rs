//! Starting the whole system on loopback, in this process: telegram-sim, the mail catcher,
//! bot-server (SQLite in a temp dir, webhook mode) and the watchdog daemon with fast
//! schedules, all configured through the same environment names production uses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bot_server::{BotConfig, Exit};
use rand::distr::{Alphanumeric, SampleString};
use telegram_sim::Sim;
use tokio_util::sync::CancellationToken;
use watchdog::SystemClock;

use crate::bridge::{AlertBridge, Timeline};
use mail_sim::MailCatcher;

/// Who the alert e-mails come from and go to (the catcher takes any address).
pub const EMAIL_FROM: &str = "telbot watchdog <watchdog@telbot.demo>";
/// The on-call engineer's address.
pub const EMAIL_TO: &str = "oncall@telbot.demo";

/// Everything that runs, and how to reach it.
pub struct Stack {
    /// The offline Bot API (the demo injects users' messages and faults through it).
    pub sim: Sim,
    /// The SMTP mail catcher.
    pub catcher: MailCatcher,
    /// The bot's base URL, e.g. `http://127.0.0.1:41234`.
    pub bot_url: String,
    /// The admin token guarding the dashboard and admin routes (generated per run).
    pub admin_token: String,
    /// What the watchdog did.
    pub timeline: Arc<Mutex<Timeline>>,
    /// The environment both daemons were configured with.
    pub env: HashMap<String, String>,
    stop_bot: CancellationToken,
    bot: tokio::task::JoinHandle<Exit>,
    stop_watchdog: CancellationToken,
    watchdog: tokio::task::JoinHandle<()>,
    stop_catcher: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Stack {
    /// The dashboard page.
    pub fn dashboard_url(&self) -> String {
        format!("{}/bot/dashboard", self.bot_url)
    }

    /// Starts everything; returns once the bot has registered its webhook.
    pub async fn start() -> anyhow::Result<Stack> {
        let sim = Sim::builder()
            .allow_http_loopback(true)
            .time_scale(0.01)
            .set_webhook_rate_limit(false)
            .start()
            .await
            .context("starting telegram-sim")?;
        let stop_catcher = CancellationToken::new();
        let catcher = MailCatcher::start(stop_catcher.clone())
            .await
            .context("starting the mail catcher")?;
        let dir = tempfile::tempdir().context("creating a temp dir for SQLite")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the bot's port")?;
        let port = listener.local_addr()?.port();
        let bot_url = format!("http://127.0.0.1:{port}");
        let admin_token = token(24);
        let env = environment(&sim, &catcher, &dir, port, &admin_token);

        let cfg = BotConfig::load(None, &env).map_err(|e| anyhow::anyhow!("bot config: {e}"))?;
        let app = telbot_reference_bot::program(cfg, None, &env)
            .map_err(|e| anyhow::anyhow!("reference bot config: {e}"))?
            .listener(listener)
            .start()
            .await
            .context("building bot-server")?;
        let stop_bot = app.shutdown_token();
        let bot = tokio::spawn(app.run_until_stopped());
        let expected = format!("{bot_url}/webhook");
        let registered = sim
            .wait_for(Duration::from_secs(20), |s| {
                s.webhook_info()["url"] == expected.as_str()
            })
            .await;
        anyhow::ensure!(
            registered,
            "bot-server did not register its webhook within 20 s"
        );

        let timeline = Arc::new(Mutex::new(Timeline::default()));
        let plan = watchdog::Plan::load(None, &env)
            .map_err(|e| anyhow::anyhow!("watchdog config: {e}"))?;
        let cfg = plan
            .bots
            .into_iter()
            .next()
            .context("the watchdog's plan has no bot")?;
        let tl = timeline.clone();
        let wd = watchdog::App::build_with(cfg, Arc::new(SystemClock), move |sink| {
            Arc::new(AlertBridge::new(sink, tl))
        })
        .await
        .context("building the watchdog")?
        .watchdog;
        let stop_watchdog = wd.stop_token();
        let watchdog = tokio::spawn(async move {
            if let Err(e) = wd.run_until_stopped().await {
                tracing::error!(error = %e, "watchdog stopped with an error");
            }
        });
        Ok(Stack {
            sim,
            catcher,
            bot_url,
            admin_token,
            timeline,
            env,
            stop_bot,
            bot,
            stop_watchdog,
            watchdog,
            stop_catcher,
            _dir: dir,
        })
    }

    /// A copy of the watchdog's timeline.
    pub fn timeline(&self) -> Timeline {
        match self.timeline.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Stops the watchdog (finishing its run), then the bot (draining), then the rest.
    pub async fn shutdown(self) {
        self.stop_watchdog.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.watchdog).await;
        self.stop_bot.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.bot).await;
        self.stop_catcher.cancel();
        self.sim.shutdown();
    }
}

/// A random token of `n` letters and digits.
fn token(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

/// The environment both daemons read: the well-known names from DESIGN.md, plus fast
/// schedules and short back-offs so the incident plays out in seconds.
fn environment(
    sim: &Sim,
    catcher: &MailCatcher,
    dir: &tempfile::TempDir,
    port: u16,
    admin_token: &str,
) -> HashMap<String, String> {
    let db = format!("sqlite://{}/telbot.db?mode=rwc", dir.path().display());
    [
        ("TELEGRAM_BOT_TOKEN", sim.token()),
        ("TELEGRAM_API_URL", sim.base_url()),
        ("PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("PORT", port.to_string()),
        ("WEBHOOK_SECRET", token(32)),
        ("ADMIN_TOKEN", admin_token.to_string()),
        ("DATABASE_URL", db),
        ("DATA_DIR", dir.path().display().to_string()),
        ("BOT_MODE", "webhook".into()),
        ("SMTP_URL", catcher.smtp_url()),
        ("ALERT_EMAIL_FROM", EMAIL_FROM.into()),
        ("ALERT_EMAIL_TO", EMAIL_TO.into()),
        ("TELBOT__BOT__NAME", "telbot-demo".into()),
        ("TELBOT__SERVER__HOST", "127.0.0.1".into()),
        ("TELBOT__SERVER__GRACE_PERIOD", "5s".into()),
        ("TELBOT__TELEGRAM__RATE_LIMIT", "false".into()),
        ("TELBOT__TELEGRAM__BACKOFF_BASE", "20ms".into()),
        ("TELBOT__TELEGRAM__BACKOFF_MAX", "200ms".into()),
        ("TELBOT__INBOX__RETRY_DELAY", "50ms".into()),
        ("TELBOT__WEBHOOK__HEALTH_CACHE", "1s".into()),
        (
            "TELBOT__WATCHDOG__SCHEDULE__LIVENESS",
            "*/1 * * * * *".into(),
        ),
        (
            "TELBOT__WATCHDOG__SCHEDULE__PERFORMANCE",
            "*/2 * * * * *".into(),
        ),
        (
            "TELBOT__WATCHDOG__SCHEDULE__INTEGRATION",
            "*/5 * * * * *".into(),
        ),
        ("TELBOT__WATCHDOG__BOT__INTERVAL", "200ms".into()),
        ("TELBOT__WATCHDOG__CHECK_TIMEOUT", "20s".into()),
        ("TELBOT__ALERTS__SEND_TIMEOUT", "5s".into()),
        ("TELBOT__ALERTS__RETRY_BASE", "1s".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
