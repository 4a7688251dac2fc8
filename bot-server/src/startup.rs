//! Building and running the app: [`App::build`] connects, binds (port 0 allowed) and starts
//! the inbox; [`App::run_until_stopped`] serves until a shutdown signal, then drains in order:
//! stop accepting → finish in-flight handlers within the grace period → flush the inbox.
//! The webhook is never deleted on shutdown (the next instance may already have set it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use telbot_shared::store::{self, StoreError};
use telbot_shared::telegram::{TelegramClient, TelegramError};
use teloxide::dptree::di::DependencyMap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bot;
use crate::bot::storage::TelbotStorage;
use crate::config::BotConfig;
use crate::host::processor::{Bots, TreeProcessor};
use crate::host::{self, Program};
use crate::inbox::{self, Counters};
use crate::monitor;
use crate::state::{AppState, Shared};
use crate::vitals::Vitals;

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The Telegram client could not be built.
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    /// The handler tree asks for a dependency nobody provides (teloxide's dispatcher panics
    /// on this at `build`).
    #[error("the handler tree cannot run: {0}")]
    Handlers(String),
    /// The store holds another bot's inbox.
    #[error(transparent)]
    Identity(#[from] crate::bot_identity::IdentityError),
}

/// How the app ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A signal or POST /shutdown.
    Shutdown,
    /// The RSS limit was passed; the process should exit with [`crate::EXIT_MEMORY_LIMIT`].
    MemoryLimit,
}

/// A built, bound app.
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    workers: JoinHandle<()>,
    stop_workers: CancellationToken,
    writer: JoinHandle<()>,
    stop_writer: CancellationToken,
    /// Stops the gateway teloxide's `Bot` goes through (after the handlers).
    stop_gateway: CancellationToken,
    /// Every task the app spawns; a shutdown waits for them within the grace period.
    tasks: TaskTracker,
    /// The handlers' teloxide dialogues (swept every `bot.sweep_interval`).
    dialogues: Arc<TelbotStorage>,
    /// Held until the app is dropped (SQLite only).
    _instance_lock: Option<store::InstanceLock>,
}

impl App {
    /// Connects the store, binds `server.host:port`, and starts the inbox with your teloxide
    /// handler tree (`Dispatcher::builder` for a whole program: dependencies, default and
    /// error handlers, health checks).
    pub async fn build_with<E: std::fmt::Debug + Send + Sync + 'static>(
        cfg: BotConfig,
        tree: teloxide::dispatching::UpdateHandler<E>,
    ) -> Result<App, StartError> {
        let listener = TcpListener::bind(cfg.server.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: cfg.server.listen,
                source,
            })?;
        Self::build_on(cfg, tree, listener).await
    }

    /// [`App::build_with`] on a listener bound beforehand (tests bind first, so PUBLIC_URL
    /// can name the port).
    pub async fn build_on<E: std::fmt::Debug + Send + Sync + 'static>(
        cfg: BotConfig,
        tree: teloxide::dispatching::UpdateHandler<E>,
        listener: TcpListener,
    ) -> Result<App, StartError> {
        Self::assemble(cfg, Program::new(tree), listener).await
    }

    /// Everything [`App::build_on`] does for a whole program (see `Dispatcher::builder` in
    /// the dispatcher module).
    pub(crate) async fn assemble<E: std::fmt::Debug + Send + Sync + 'static>(
        mut cfg: BotConfig,
        program: Program<E>,
        listener: TcpListener,
    ) -> Result<App, StartError> {
        // Register what the tree handles, or Telegram never sends it.
        let handled = host::allowed::of_tree(&program.tree);
        let (allowed, warnings) = host::allowed::union(&cfg.webhook.allowed_updates, &handled);
        cfg.webhook.allowed_updates = allowed;
        cfg.warnings.extend(warnings);
        // Before the store is touched: a second bot-server on one SQLite file is refused.
        let instance_lock = store::lock_instance(&cfg.store)?;
        let db = store::connect(&cfg.store).await?;
        if cfg.webhook.generate_secret && cfg.webhook.secret.is_none() {
            cfg.webhook.secret = Some(telbot_shared::webhook_secret::get_or_create(&db).await?);
        }
        let cfg = Arc::new(cfg);
        let api = TelegramClient::new(cfg.telegram.clone())?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: cfg.server.listen,
            source,
        })?;
        let shutdown = CancellationToken::new();
        let stop_workers = CancellationToken::new();
        let tasks = TaskTracker::new();
        // The gateway outlives the handlers: stopped with the writer, once they are done.
        let stop_gateway = CancellationToken::new();
        let counters = Arc::new(Counters::default());
        // The live figures `/health` reads, also a dependency of the tree (`Vitals`).
        let vitals = Vitals::new(counters.clone());
        let me = bot::fetch_me(&api, &cfg.bot.name).await;
        check_identity(&db, &me, cfg.inbox.new_bot).await?;
        let instance: Arc<str> = Arc::from(format!(
            "{} #{:04x}",
            telbot_shared::lease::owner_name("bot-server"),
            rand::random::<u16>()
        ));
        // teloxide's `Bot` reaches the Bot API through telbot's client: one send path. Its own
        // timeout covers the client's retries (the handler's deadline).
        let plain_bot = bot::teloxide_bot(&cfg.telegram, cfg.inbox.handler_timeout)?;
        let runs = Arc::new(host::gateway::Runs::default());
        let gateway = host::gateway::start(
            api.clone(),
            &cfg.telegram.token,
            runs.clone(),
            &tasks,
            stop_gateway.clone(),
        )
        .await
        .map_err(|source| StartError::Bind {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            source,
        })?;
        // teloxide dialogues in the store, forgotten `bot.pending_ttl` after their last step.
        let dialogues = TelbotStorage::with_ttl(db.clone(), cfg.bot.pending_ttl);
        let Program {
            tree,
            deps: extra,
            default_handler,
            error_handler,
            keyer,
            requester,
            health_checks,
        } = program;
        let mut deps = DependencyMap::new();
        deps.insert(vitals.clone());
        deps.insert(db.clone());
        deps.insert(me);
        deps.insert(plain_bot.clone());
        deps.insert(api.clone());
        deps.insert(dialogues.clone());
        if let Some(make) = &requester {
            make(plain_bot.clone(), &mut deps);
        }
        deps.insert_container(extra);
        host::check_dependencies(&tree, &deps).map_err(StartError::Handlers)?;
        host::panic::install_hook();
        let processor: Arc<dyn inbox::Process> = Arc::new(TreeProcessor {
            tree,
            deps,
            bots: Bots {
                bot: plain_bot,
                gateway: format!("http://{gateway}"),
                runs,
                requester,
                api: api.clone(),
            },
            default_handler,
            error_handler,
            redactor: telbot_shared::redact::Redactor::new(cfg.secrets()),
        });
        let replies = cfg
            .webhook
            .reply_in_answer
            .then(|| Arc::new(inbox::reply::Waiters::default()));
        let inbox = inbox::start(
            db.clone(),
            cfg.inbox.clone(),
            processor,
            counters.clone(),
            stop_workers.clone(),
            &tasks,
            instance.clone(),
            Some(cfg.store.url.clone()),
            replies.clone(),
        )
        .await?;
        let writer = inbox.writer.clone().with_keyer(keyer);
        let auth = Arc::new(crate::auth::AdminAuth::new(
            cfg.server.admin_token.clone(),
            &cfg.dashboard,
            Some(db.clone()),
        ));
        // A store only one instance may use has its leader from the start: `/ready` never
        // says otherwise before the mode task runs.
        let sole = inbox::instances_allowed(db.backend) == Some(1);
        let state = AppState(Arc::new(Shared {
            cfg: cfg.clone(),
            db,
            api,
            writer,
            counters,
            mode: vitals.mode,
            store_up: vitals.store_up,
            figures: vitals.figures,
            dialogues: dialogues.clone(),
            health_checks,
            webhook_health: Default::default(),
            started: Instant::now(),
            shutdown,
            metrics: crate::telemetry::handle(),
            open_dialogues: AtomicU64::new(0),
            acks: Default::default(),
            history: crate::recent::History::new(cfg.dashboard.history_interval),
            recoveries: tokio_util::task::TaskTracker::new(),
            auth,
            redactor: telbot_shared::redact::Redactor::new(cfg.secrets()),
            instance,
            leader: AtomicBool::new(sole),
            draining: AtomicBool::new(false),
            replies,
            jobs: Arc::new(crate::jobs::Jobs::new(telbot_shared::unix_now())),
        }));
        Ok(App {
            listener,
            addr,
            state,
            workers: inbox.workers,
            stop_workers,
            writer: inbox.writer_task,
            stop_writer: inbox.stop_writer,
            stop_gateway,
            tasks,
            dialogues,
            _instance_lock: instance_lock,
        })
    }

    /// The bound address (the real port when built with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cancel it to shut down gracefully (what SIGTERM and POST /shutdown do).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// The shared state (tests read counters and health from it).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until shut down, then drains.
    pub async fn run_until_stopped(self) -> Exit {
        let App {
            listener,
            state,
            workers,
            stop_workers,
            writer,
            stop_writer,
            stop_gateway,
            tasks,
            dialogues,
            _instance_lock: instance_lock,
            ..
        } = self;
        let cfg = state.cfg.clone();
        for w in &cfg.warnings {
            tracing::warn!("{w}");
        }
        let shutdown = state.shutdown.clone();
        let background = shutdown.child_token();
        tasks.spawn(monitor::run(
            cfg.limits.clone(),
            cfg.data_dir.clone(),
            state.figures.clone(),
            shutdown.clone(),
        ));
        let sweep = dialogues.clone();
        tasks.spawn(crate::jobs::every(
            state.jobs.clone(),
            crate::jobs::DIALOGUE_SWEEP,
            cfg.bot.sweep_interval,
            background.clone(),
            move || {
                let s = sweep.clone();
                async move { s.sweep().await }
            },
        ));
        tasks.spawn(crate::housekeeping::run(state.clone(), background.clone()));
        tasks.spawn(crate::dashboard::sampler::run(
            state.clone(),
            background.clone(),
        ));
        let modes = tasks.spawn(crate::mode::run(state.clone(), background.clone()));
        let fleet = tasks.spawn(crate::fleet::run(state.clone(), background.clone()));
        tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), mode = cfg.mode.as_str(), "bot-server listening");
        let app = crate::routes::router(state.clone());
        let serving = CancellationToken::new();
        let server = tasks.spawn(crate::serve::serve(
            listener,
            app,
            cfg.server.header_timeout,
            crate::serve::ConnLimits::from_config(&cfg),
            serving.clone(),
            cfg.server.grace_period,
        ));
        shutdown.cancelled().await;
        // /ready says 503 at once; the Telegram-facing leadership is handed over at once.
        state.draining.store(true, Ordering::Release);
        background.cancel();
        if !cfg.server.drain_delay.is_zero() {
            tracing::info!(
                delay_ms = cfg.server.drain_delay.as_millis() as u64,
                "shutting down: /ready is 503; still serving while load balancers notice"
            );
            tokio::time::sleep(cfg.server.drain_delay).await;
        }
        tracing::info!("shutting down: no new connections; finishing in-flight work");
        serving.cancel();
        let deadline = Instant::now() + cfg.server.grace_period;
        let _ = tokio::time::timeout_at(deadline, server).await;
        let _ = tokio::time::timeout_at(deadline, modes).await;
        let _ = tokio::time::timeout_at(deadline, fleet).await;
        // A recovery in progress stops draining and sets the webhook again (the inbox writer
        // is still up for what it drained).
        state.recoveries.close();
        if tokio::time::timeout_at(deadline, state.recoveries.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "grace period over with a recovery still running; its phase is in the store"
            );
        }
        stop_workers.cancel();
        match tokio::time::timeout_at(deadline, workers).await {
            Ok(_) => tracing::info!("in-flight handlers finished"),
            Err(_) => tracing::warn!(
                "grace period over with handlers still running; their updates are replayed at next start"
            ),
        }
        // The writer commits what the workers queued last, then ends.
        stop_writer.cancel();
        stop_gateway.cancel();
        if tokio::time::timeout_at(deadline, writer).await.is_err() {
            tracing::warn!(
                "grace period over with completions not yet committed; their updates run again at next start"
            );
        }
        // The rest (monitor, sweeper, housekeeping, sampler) stopped with `background`.
        tasks.close();
        if tokio::time::timeout_at(deadline, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("grace period over with background tasks still running");
        }
        drop(instance_lock);
        if state.figures.over_limit.load(Ordering::Relaxed) {
            Exit::MemoryLimit
        } else {
            Exit::Shutdown
        }
    }
}

/// The store's inbox must be this bot's ([`crate::bot_identity`]); without getMe's answer
/// (the fallback `Me`, id 0) it cannot be told and is only warned of.
async fn check_identity(
    db: &telbot_shared::store::Db,
    me: &teloxide::types::Me,
    new_bot: crate::bot_identity::NewBot,
) -> Result<(), StartError> {
    use crate::bot_identity::{Identity, NewBot, check};
    let id = me.user.id.0;
    if id == 0 {
        tracing::warn!(
            "getMe failed at start: cannot check that the store's inbox belongs to this bot"
        );
        return Ok(());
    }
    let id = i64::try_from(id).unwrap_or(i64::MAX);
    if let Identity::Fresh(rows) = check(db, id, new_bot == NewBot::Fresh).await? {
        tracing::warn!(
            bot_id = id,
            rows,
            "the store held another bot's inbox; inbox.new_bot = \"fresh\": it was deleted and this bot starts a fresh one"
        );
    }
    Ok(())
}
