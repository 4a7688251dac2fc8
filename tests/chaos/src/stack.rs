//! One row's world: telegram-sim (in this process), the Bot API fault proxy (both daemons'
//! `TELEGRAM_API_URL`), the webhook fault proxy (`PUBLIC_URL`, in front of the bot), the mail
//! catcher behind a TCP gate (`SMTP_URL`), the store (SQLite in a temp dir or a tmpfs, or a
//! PostgreSQL server of its own), and the real `bot-server` and `watchdog` binaries, configured
//! through the environment production uses (as crates/demo/src/stack.rs does, with fast
//! watchdog schedules).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_sim::MailCatcher;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::Value;
use telbot_testkit::PgServer;
use telegram_sim::Sim;
use tokio_util::sync::CancellationToken;

use crate::procs::{Binaries, Proc, binaries};
use crate::proxy::{FaultProxy, TcpGate};
use crate::tmpfs::Tmpfs;
use crate::{ChaosError, Variant};

/// inbox.workers the suite runs bot-server with (set in the stack's environment): how many
/// handlers can be between "sent" and "marked done" at a kill -9.
pub const INBOX_WORKERS: usize = 32;

/// Where the store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// SQLite in a temp dir.
    Sqlite,
    /// SQLite on a 16 MB tmpfs (the "volume full" row).
    SqliteTmpfs,
    /// A PostgreSQL server of its own.
    Postgres,
    /// A PostgreSQL server "on another host": reached through a relay that adds this round
    /// trip ([`telbot_testkit::DelayRelay`]; the fleet benchmark's scaling table).
    PostgresAcross {
        /// Microseconds added to every round trip.
        rtt_us: u32,
    },
}

/// How a row's stack is set up.
#[derive(Debug, Clone)]
pub struct StackOpts {
    /// The store.
    pub store: StoreKind,
    /// Whether SMTP accepts connections from the start.
    pub smtp_open: bool,
    /// The bot consumes by getUpdates (`BOT_MODE=polling`) instead of the webhook.
    pub polling: bool,
    /// The watchdog reaches the Bot API and the bot through proxies of its own
    /// ([`Stack::wd_api`], [`Stack::wd_bot`]): its network can be cut alone.
    pub watchdog_net: bool,
    /// A second bot-server on the same store, reached on its own port, is the webhook's backup
    /// (`webhook.backup_urls`), and the watchdog reaches the primary through its public front
    /// (`BOT_URL` unset, so it is `PUBLIC_URL`), as on Render.
    pub backup: bool,
    /// The bot answers webhook deliveries with its reply (`webhook.reply_in_answer`).
    pub reply_in_answer: bool,
}

/// A running stack. Dropping it kills both daemons, unmounts the tmpfs, stops PostgreSQL.
pub struct Stack {
    /// The bot-server child, while it runs.
    pub bot: Option<Proc>,
    /// The watchdog daemon child, while it runs.
    pub watchdog: Option<Proc>,
    /// The variant the row runs.
    pub variant: Variant,
    /// The simulated Bot API.
    pub sim: Sim,
    /// Between the daemons and the Bot API.
    pub api: FaultProxy,
    /// Between Telegram's webhook deliveries and the bot.
    pub hook: FaultProxy,
    /// The SMTP listener the watchdog's e-mails arrive at.
    pub catcher: MailCatcher,
    /// `SMTP_URL` points here; closed means nothing listens.
    pub smtp: TcpGate,
    /// The environment both daemons run with.
    pub env: HashMap<String, String>,
    /// What the watchdog runs with over [`Stack::env`] (an empty value unsets a name).
    pub watchdog_env: HashMap<String, String>,
    /// The watchdog's own way to the Bot API (with [`StackOpts::watchdog_net`]).
    pub wd_api: Option<FaultProxy>,
    /// The watchdog's own way to the bot (with [`StackOpts::watchdog_net`]).
    pub wd_bot: Option<FaultProxy>,
    /// The backup bot-server (with [`StackOpts::backup`]) and its port.
    pub backup: Option<(Option<Proc>, u16)>,
    /// The bot's own port (`BOT_URL`).
    pub bot_port: u16,
    /// Binaries in use.
    pub bins: Binaries,
    /// The tmpfs under the SQLite file, if any (dropped before the dir).
    pub tmpfs: Option<Tmpfs>,
    /// The PostgreSQL server, if any.
    pub pg: Option<Arc<Mutex<PgServer>>>,
    /// The relay that puts it a round trip away ([`StoreKind::PostgresAcross`]).
    pub pg_relay: Option<telbot_testkit::DelayRelay>,
    stop_catcher: CancellationToken,
    http: reqwest::Client,
    /// Logs and SQLite live here.
    pub dir: tempfile::TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.bot.take();
        self.backup.take();
        self.watchdog.take();
        self.stop_catcher.cancel();
        self.sim.shutdown();
    }
}

fn token(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

impl Stack {
    /// Starts everything except the daemons (see [`Stack::start_bot`],
    /// [`Stack::start_watchdog`]).
    pub async fn new(variant: Variant, opts: &StackOpts) -> Result<Stack, ChaosError> {
        let bins = binaries().await?;
        let scale = match variant {
            Variant::Short => 0.05,
            Variant::Full => 0.1,
        };
        let sim = Sim::builder()
            .allow_http_loopback(true)
            .time_scale(scale)
            .set_webhook_rate_limit(false)
            .log_cap(400_000)
            .start()
            .await
            .map_err(|e| ChaosError::Setup(format!("telegram-sim: {e}")))?;
        // CHAOS_KEEP=1 keeps the dir (logs, SQLite) for a look afterwards.
        let dir = tempfile::Builder::new()
            .prefix("telbot-chaos")
            .disable_cleanup(std::env::var_os("CHAOS_KEEP").is_some())
            .tempdir()
            .map_err(|e| ChaosError::io("temp dir", e))?;
        let bot_port = telbot_testkit::free_port().map_err(|e| ChaosError::io("free port", e))?;
        let bot_url = format!("http://127.0.0.1:{bot_port}");
        let api = FaultProxy::start(&sim.base_url()).await?;
        let hook = FaultProxy::start(&bot_url).await?;
        let stop_catcher = CancellationToken::new();
        let catcher = MailCatcher::start(stop_catcher.clone())
            .await
            .map_err(|e| ChaosError::io("mail catcher", e))?;
        let smtp = TcpGate::start(catcher.addr(), opts.smtp_open).await?;
        let mut pg_relay = None;
        let (tmpfs, pg, db_url, data_dir) = match opts.store {
            StoreKind::Sqlite => (None, None, None, dir.path().to_path_buf()),
            StoreKind::SqliteTmpfs => {
                let mnt: PathBuf = dir.path().join("vol");
                let t = Tmpfs::mount(&mnt, 16)?;
                (Some(t), None, None, mnt)
            }
            StoreKind::Postgres | StoreKind::PostgresAcross { .. } => {
                let rtt = match opts.store {
                    StoreKind::PostgresAcross { rtt_us } => {
                        Some(Duration::from_micros(u64::from(rtt_us)))
                    }
                    _ => None,
                };
                let pg = tokio::task::spawn_blocking(PgServer::start)
                    .await
                    .map_err(|e| ChaosError::Setup(format!("PostgreSQL: {e}")))?
                    .map_err(|e| ChaosError::Setup(format!("PostgreSQL test server: {e}")))?;
                let mut url = pg.url();
                if let Some(rtt) = rtt {
                    let relay = telbot_testkit::DelayRelay::start(
                        std::net::SocketAddr::from(([127, 0, 0, 1], pg.port())),
                        rtt / 2,
                    )
                    .map_err(|e| ChaosError::io("the delay relay", e))?;
                    url = pg.url_via(relay.addr().port());
                    pg_relay = Some(relay);
                }
                (
                    None,
                    Some(Arc::new(Mutex::new(pg))),
                    Some(url),
                    dir.path().to_path_buf(),
                )
            }
        };
        let db_url =
            db_url.unwrap_or_else(|| format!("sqlite://{}/telbot.db?mode=rwc", data_dir.display()));
        let mut env = environment(Env {
            sim: &sim,
            api: &api,
            hook: &hook,
            smtp_port: smtp.port(),
            bot_port,
            db_url,
            data_dir: data_dir.display().to_string(),
            variant,
        });
        if opts.polling {
            env.insert("BOT_MODE".into(), "polling".into());
        }
        if opts.reply_in_answer {
            env.insert("TELBOT__WEBHOOK__REPLY_IN_ANSWER".into(), "true".into());
        }
        let mut watchdog_env = HashMap::new();
        let (wd_api, wd_bot) = if opts.watchdog_net {
            let a = FaultProxy::start(&api.url()).await?;
            let b = FaultProxy::start(&bot_url).await?;
            watchdog_env.insert("TELEGRAM_API_URL".into(), a.url());
            watchdog_env.insert("BOT_URL".into(), b.url());
            (Some(a), Some(b))
        } else {
            (None, None)
        };
        let backup = if opts.backup {
            let port = telbot_testkit::free_port().map_err(|e| ChaosError::io("free port", e))?;
            watchdog_env.insert(
                "TELBOT__WEBHOOK__BACKUP_URLS".into(),
                format!("http://127.0.0.1:{port}"),
            );
            watchdog_env.insert("BOT_URL".into(), String::new());
            watchdog_env.insert("TELBOT__WEBHOOK__FAILBACK_AFTER".into(), "3s".into());
            Some((None, port))
        } else {
            None
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| ChaosError::Setup(format!("http client: {e}")))?;
        Ok(Stack {
            bot: None,
            watchdog: None,
            variant,
            sim,
            api,
            hook,
            catcher,
            smtp,
            env,
            watchdog_env,
            wd_api,
            wd_bot,
            backup,
            bot_port,
            bins,
            tmpfs,
            pg,
            pg_relay,
            stop_catcher,
            http,
            dir,
        })
    }

    /// The bot's own base URL (`BOT_URL`).
    pub fn bot_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.bot_port)
    }

    /// The webhook URL Telegram should have (through the webhook proxy; none when polling).
    pub fn expected_webhook(&self) -> String {
        if self.env.get("BOT_MODE").is_some_and(|m| m == "polling") {
            return String::new();
        }
        format!("{}/webhook", self.hook.url())
    }

    /// The webhook secret.
    pub fn secret(&self) -> String {
        self.env.get("WEBHOOK_SECRET").cloned().unwrap_or_default()
    }

    /// The admin token.
    pub fn admin_token(&self) -> String {
        self.env.get("ADMIN_TOKEN").cloned().unwrap_or_default()
    }

    /// A client for talking to the bot (3 s timeout).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Starts bot-server and waits (≤ 30 s) until its /health answers.
    pub async fn start_bot(&mut self) -> Result<(), ChaosError> {
        self.start_backup().await?;
        let log = self.dir.path().join("bot-server.log");
        self.bot = Some(Proc::spawn(
            "bot-server",
            &self.bins.bot_server,
            &[],
            &self.env,
            &log,
        )?);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if self.health().await.is_some() {
                return Ok(());
            }
            if let Some(p) = self.bot.as_mut()
                && let Some(st) = p.wait_exit(Duration::ZERO).await
            {
                return Err(ChaosError::Setup(format!(
                    "bot-server exited at start ({st}): {}",
                    p.log_tail(20)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(ChaosError::Setup(
            "bot-server did not answer /health within 30 s".into(),
        ))
    }

    /// Starts the backup bot-server (if the stack has one and it is not running), after the
    /// primary has taken the webhook leadership, and waits (≤ 30 s) for its `/health`.
    async fn start_backup(&mut self) -> Result<(), ChaosError> {
        let Some((None, port)) = self.backup else {
            return Ok(());
        };
        let mut env = self.env.clone();
        env.insert("PORT".into(), port.to_string());
        let data = self.dir.path().join("backup");
        std::fs::create_dir_all(&data).map_err(|e| ChaosError::io("backup data dir", e))?;
        env.insert("DATA_DIR".into(), data.display().to_string());
        let log = self.dir.path().join("bot-server-backup.log");
        let p = Proc::spawn("bot-server-backup", &self.bins.bot_server, &[], &env, &log)?;
        self.backup = Some((Some(p), port));
        let url = format!("http://127.0.0.1:{port}/health");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if self
                .http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(ChaosError::Setup(
            "the backup bot-server did not answer /health within 30 s".into(),
        ))
    }

    /// The backup's webhook URL, with [`StackOpts::backup`].
    pub fn backup_webhook(&self) -> Option<String> {
        self.backup
            .as_ref()
            .map(|(_, port)| format!("http://127.0.0.1:{port}{}", "/webhook"))
    }

    /// The environment the watchdog runs with.
    pub fn watchdog_environment(&self) -> HashMap<String, String> {
        let mut env = self.env.clone();
        for (k, v) in &self.watchdog_env {
            if v.is_empty() {
                env.remove(k);
            } else {
                env.insert(k.clone(), v.clone());
            }
        }
        env
    }

    /// Sends `sig` to bot-server and waits (≤ 40 s) until it exited.
    pub async fn stop_bot(&mut self, sig: &str) -> Result<(), ChaosError> {
        if let Some(mut p) = self.bot.take() {
            p.signal(sig)?;
            if p.wait_exit(Duration::from_secs(40)).await.is_none() {
                p.kill();
                return Err(ChaosError::Setup(format!(
                    "bot-server did not exit within 40 s of {sig}"
                )));
            }
        }
        Ok(())
    }

    /// Starts the watchdog daemon (`watchdog run`).
    pub fn start_watchdog(&mut self) -> Result<(), ChaosError> {
        let log = self.dir.path().join("watchdog.log");
        self.watchdog = Some(Proc::spawn(
            "watchdog",
            &self.bins.watchdog,
            &["run"],
            &self.watchdog_environment(),
            &log,
        )?);
        Ok(())
    }

    /// kill -9 of the watchdog daemon.
    pub async fn kill_watchdog(&mut self) -> Result<(), ChaosError> {
        if let Some(mut p) = self.watchdog.take() {
            p.signal("-KILL")?;
            let _ = p.wait_exit(Duration::from_secs(10)).await;
        }
        Ok(())
    }

    /// Starts a one-off watchdog command (e.g. `recover`) as its own process.
    pub fn watchdog_command(&self, args: &[&str]) -> Result<Proc, ChaosError> {
        let log = self.dir.path().join("watchdog-cli.log");
        Proc::spawn(
            "watchdog-cli",
            &self.bins.watchdog,
            args,
            &self.watchdog_environment(),
            &log,
        )
    }

    /// The bot's /health JSON when it answers 200 (status ok or degraded).
    pub async fn health(&self) -> Option<Value> {
        let r = self
            .http
            .get(format!("{}/health", self.bot_url()))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// A connection to the shared store (for reading the watchdog's recovery phase).
    pub async fn store(&self) -> Result<telbot_shared::store::Db, ChaosError> {
        let layered = telbot_shared::config::load(None, &self.env)
            .map_err(|e| ChaosError::Setup(format!("config: {e}")))?;
        let section = telbot_shared::config::section(&layered, "store")
            .map_err(|e| ChaosError::Setup(format!("config: {e}")))?;
        let cfg = telbot_shared::config::StoreConfig::from_section(section)
            .map_err(|e| ChaosError::Setup(format!("config: {e}")))?;
        telbot_shared::store::connect(&cfg)
            .await
            .map_err(|e| ChaosError::Setup(format!("store: {e}")))
    }

    /// The last lines of both daemons' logs.
    pub fn log_tails(&self, n: usize) -> String {
        let read = |name: &str| {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "--- bot-server.log (last {n}) ---\n{}\n--- watchdog.log (last {n}) ---\n{}",
            read("bot-server.log"),
            read("watchdog.log")
        )
    }
}

struct Env<'a> {
    sim: &'a Sim,
    api: &'a FaultProxy,
    hook: &'a FaultProxy,
    smtp_port: u16,
    bot_port: u16,
    db_url: String,
    data_dir: String,
    variant: Variant,
}

/// The environment both daemons read: the well-known names from DESIGN.md, fast watchdog
/// schedules and short back-offs (as the demo's), and the variant's Bot API timeout.
fn environment(e: Env<'_>) -> HashMap<String, String> {
    let retry_delay = match e.variant {
        Variant::Short => "100ms",
        Variant::Full => "1s",
    };
    [
        ("TELEGRAM_BOT_TOKEN", e.sim.token()),
        ("TELEGRAM_API_URL", e.api.url()),
        ("PUBLIC_URL", e.hook.url()),
        ("BOT_URL", format!("http://127.0.0.1:{}", e.bot_port)),
        ("PORT", e.bot_port.to_string()),
        ("WEBHOOK_SECRET", token(32)),
        ("ADMIN_TOKEN", token(24)),
        ("DATABASE_URL", e.db_url),
        ("DATA_DIR", e.data_dir),
        ("BOT_MODE", "webhook".into()),
        ("SMTP_URL", format!("smtp://127.0.0.1:{}", e.smtp_port)),
        (
            "ALERT_EMAIL_FROM",
            "telbot watchdog <watchdog@telbot.chaos>".into(),
        ),
        ("ALERT_EMAIL_TO", "oncall@telbot.chaos".into()),
        ("TELBOT__BOT__NAME", "telbot-chaos".into()),
        ("TELBOT__SERVER__HOST", "127.0.0.1".into()),
        ("TELBOT__SERVER__GRACE_PERIOD", "10s".into()),
        ("TELBOT__TELEGRAM__RATE_LIMIT", "false".into()),
        ("TELBOT__TELEGRAM__BACKOFF_BASE", "20ms".into()),
        ("TELBOT__TELEGRAM__BACKOFF_MAX", "200ms".into()),
        (
            "TELBOT__TELEGRAM__REQUEST_TIMEOUT",
            format!("{}ms", e.variant.request_timeout().as_millis()),
        ),
        ("TELBOT__INBOX__RETRY_DELAY", retry_delay.into()),
        // The suite checks the kill -9 bound (≤ inbox.workers answered twice) at this size.
        ("TELBOT__INBOX__WORKERS", INBOX_WORKERS.to_string()),
        ("TELBOT__WEBHOOK__HEALTH_CACHE", "1s".into()),
        ("TELBOT__WEBHOOK__RESTORE_INTERVAL", "1s".into()),
        // The test machine's own disk is no fault of a row (a `bot-resources` warning would
        // make a healthy run's level a warning).
        ("TELBOT__LIMITS__DISK_WARN_PERCENT", "100".into()),
        ("TELBOT__LIMITS__DISK_CRITICAL_PERCENT", "100".into()),
        // The token-conflict row resolves this long after the other process's last sign.
        (
            "TELBOT__WATCHDOG__CONFLICT_QUIET",
            match e.variant {
                Variant::Short => "5s",
                Variant::Full => "30s",
            }
            .into(),
        ),
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
        // Every row restarts bot-server (the fault itself, or the restart after it) and counts
        // the e-mails of the fault alone; a restart under a fault that keeps /webhook/health
        // unhealthy would add a deploy-verify page the row does not expect. The deploy watch
        // has its own tests (watchdog/tests/it/deploy_watch.rs).
        ("TELBOT__WATCHDOG__DEPLOY__VERIFY", "false".into()),
        (
            "TELBOT__WATCHDOG__CHECK_TIMEOUT",
            format!("{}ms", 2 * e.variant.request_timeout().as_millis()),
        ),
        // A store outage shows after this long; scaled like the outages themselves.
        (
            "TELBOT__STORE__ACQUIRE_TIMEOUT",
            format!("{}ms", e.variant.request_timeout().as_millis() / 4),
        ),
        ("TELBOT__ALERTS__SEND_TIMEOUT", "5s".into()),
        ("TELBOT__ALERTS__RETRY_BASE", "1s".into()),
        ("TELBOT__ALERTS__RETRY_MAX", "5s".into()),
        ("RUST_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
