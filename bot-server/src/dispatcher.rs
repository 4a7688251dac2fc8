//! A dispatcher shaped like teloxide's, so a teloxide program moves onto telbot by changing
//! where its updates come from, not its handlers:
//!
//! ```text
//! // teloxide                                   // telbot
//! let bot = Bot::from_env();                    let cfg = BotConfig::from_env_or_exit();
//! Dispatcher::builder(bot, schema())            Dispatcher::builder(cfg, schema())
//!     .dependencies(dptree::deps![state])           .dependencies(dptree::deps![state])
//!     .default_handler(|upd| async move {..})       .default_handler(|upd| async move {..})
//!     .error_handler(LoggingErrorHandler::new())    .error_handler(LoggingErrorHandler::new())
//!     .enable_ctrlc_handler()                       .enable_ctrlc_handler()
//!     .build()                                      .build()
//!     .dispatch()                                   .dispatch()
//!     .await;                                       .await;
//! ```
//!
//! Handlers get what teloxide's dispatcher gives them (`Update`, `Me`, teloxide's `Bot`, and
//! the requester [`DispatcherBuilder::requester`] makes from it) plus
//! `Arc<TelbotStorage>` for `Dialogue<State, TelbotStorage>`, [`crate::Vitals`] (the
//! bot's live health in one line, e.g. for an admin command), telbot's own
//! `TelegramClient` and the store (`telbot_shared::store::Db`, for a program's own tables),
//! and whatever `dependencies` adds; every update reaches them through the
//! durable inbox. The tree's error type is any teloxide accepts.
//! [`DispatcherBuilder::health_check`] adds a program's own `checks.<name>` to `/health`.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::di::DependencyMap;
use teloxide::error_handlers::ErrorHandler;
use teloxide::requests::Requester;
use teloxide::types::Update;
use tokio::net::TcpListener;

use crate::config::BotConfig;
use crate::host::{self, Program};
use crate::startup::{App, Exit, StartError};

/// teloxide's `Dispatcher` on telbot: made by [`Dispatcher::builder`], run by
/// [`Dispatcher::dispatch`].
pub struct Dispatcher<E> {
    builder: Option<DispatcherBuilder<E>>,
}

impl<E: Debug + Send + Sync + 'static> Dispatcher<E> {
    /// A bot-server running `handler` with the settings in `cfg` (teloxide's
    /// `Dispatcher::builder(bot, handler)`).
    pub fn builder(cfg: BotConfig, handler: UpdateHandler<E>) -> DispatcherBuilder<E> {
        DispatcherBuilder {
            cfg,
            program: Program::new(handler),
            listener: None,
        }
    }

    /// Starts (store, port, inbox), serves until SIGTERM, SIGINT or `POST /shutdown`, then
    /// drains. If the bot cannot start, the cause is logged and the process exits with code 1;
    /// past the RSS limit it exits with code 3 so the platform restarts it.
    pub async fn dispatch(&mut self) {
        match self.try_dispatch().await {
            Ok(Exit::Shutdown) => {}
            Ok(Exit::MemoryLimit) => std::process::exit(crate::EXIT_MEMORY_LIMIT),
            Err(e) => {
                tracing::error!("cannot start: {e}");
                std::process::exit(crate::EXIT_START);
            }
        }
    }

    /// [`Dispatcher::dispatch`] that returns how it ended instead of exiting.
    pub async fn try_dispatch(&mut self) -> Result<Exit, StartError> {
        let Some(builder) = self.builder.take() else {
            return Ok(Exit::Shutdown);
        };
        Ok(builder.start().await?.dispatch().await)
    }
}

/// What [`Dispatcher::builder`] returns: teloxide's `DispatcherBuilder` methods, and
/// [`DispatcherBuilder::listener`] for tests.
pub struct DispatcherBuilder<E> {
    cfg: BotConfig,
    program: Program<E>,
    listener: Option<TcpListener>,
}

impl<E: Debug + Send + Sync + 'static> DispatcherBuilder<E> {
    /// Adds dependencies the handlers can take (teloxide's `dptree::deps![...]`); they win
    /// over telbot's own of the same type.
    #[must_use]
    pub fn dependencies(mut self, deps: DependencyMap) -> Self {
        self.program.deps.insert_container(deps);
        self
    }

    /// Called with each update no branch of the tree took (teloxide's default logs it;
    /// telbot's does nothing). The update is done once it returns.
    #[must_use]
    pub fn default_handler<H, Fut>(mut self, handler: H) -> Self
    where
        H: Fn(Arc<Update>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.program.default_handler = Some(Arc::new(move |u| {
            let handler = handler.clone();
            Box::pin(async move { handler(u).await })
        }));
        self
    }

    /// Sees every error a handler returns. The inbox still decides what happens to the
    /// update: retried, and parked after `inbox.max_attempts` (a transient Bot API failure:
    /// after Telegram's 24 h).
    #[must_use]
    pub fn error_handler(mut self, handler: Arc<dyn ErrorHandler<E> + Send + Sync>) -> Self {
        self.program.error_handler = Some(handler);
        self
    }

    /// Accepted for teloxide's sake: SIGINT and SIGTERM always stop the bot gracefully.
    #[must_use]
    pub fn enable_ctrlc_handler(self) -> Self {
        self
    }

    /// Accepted for teloxide's sake: how many updates of one key wait in memory is
    /// `inbox.max_loaded_per_key`.
    #[must_use]
    pub fn worker_queue_size(self, _size: usize) -> Self {
        self
    }

    /// Accepted for teloxide's sake (deprecated there too: a no-op since teloxide 0.15).
    #[must_use]
    #[deprecated(note = "a no-op in teloxide and in telbot; remove it")]
    pub fn stack_size(self, _size: usize) -> Self {
        self
    }

    /// Which updates run one at a time, in order (teloxide's distribution function; by
    /// default per chat, as Telegram queues them). The key becomes the inbox's queue key, so
    /// it holds across every instance on one PostgreSQL; `None` runs the update beside
    /// everything else.
    #[must_use]
    pub fn distribution_function<K>(mut self, f: fn(&Update) -> Option<K>) -> Self
    where
        K: Hash + Eq + Debug + Send + Sync + 'static,
    {
        self.program.keyer = Some(host::keyer(f));
        self
    }

    /// The requester handlers take, made from telbot's `Bot` for each update: e.g.
    /// `|bot| bot.parse_mode(ParseMode::Html)` or `|bot| bot.trace(Settings::TRACE_REQUESTS)`;
    /// handlers then take `bot: DefaultParseMode<Bot>`. Plain `Bot` stays available. telbot's
    /// `Bot` is already paced and retried (its calls go through telbot's client), so
    /// teloxide's `Throttle` is not needed; build nothing expensive here.
    #[must_use]
    pub fn requester<R, F>(mut self, make: F) -> Self
    where
        R: Requester + Clone + Send + Sync + 'static,
        F: Fn(teloxide::Bot) -> R + Send + Sync + 'static,
    {
        self.program.requester = Some(Arc::new(move |bot, deps| {
            deps.insert(make(bot));
        }));
        self
    }

    /// Adds `checks.<name>` to `/health` (e.g. the reference bot's `checks.openai` with its
    /// circuit breaker's state): `check` is called at each read and must be cheap; `None`
    /// leaves the check out (a service that is not configured). A check that is not `ok`
    /// makes `/health`'s `status` `degraded` (never `down`: that is for the bot itself).
    #[must_use]
    pub fn health_check<F>(mut self, name: &str, check: F) -> Self
    where
        F: Fn() -> Option<telbot_shared::health::CheckStatus> + Send + Sync + 'static,
    {
        self.program
            .health_checks
            .push((name.to_string(), Arc::new(check)));
        self
    }

    /// Masks `secret` (e.g. an API key from the program's own config section) wherever telbot
    /// masks its own: stored failure causes, logs of handler failures, the dashboard.
    #[must_use]
    pub fn redact(mut self, secret: secrecy::SecretString) -> Self {
        self.cfg.program_secrets.push(secret);
        self
    }

    /// The settings the program is built with (a program reads e.g. `inbox.handler_timeout`).
    pub fn config(&self) -> &BotConfig {
        &self.cfg
    }

    /// Serves on a listener bound beforehand instead of binding `server.host:port`.
    #[must_use]
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// The dispatcher, to [`Dispatcher::dispatch`] (teloxide's `build`).
    #[must_use]
    pub fn build(self) -> Dispatcher<E> {
        Dispatcher {
            builder: Some(self),
        }
    }

    /// Installs telbot's log subscriber unless the program has one, connects the store, binds,
    /// and starts the inbox: the running [`App`], for programs and tests that drive it.
    pub async fn start(self) -> Result<App, StartError> {
        telbot_shared::logging::init_unless_set();
        let listener = match self.listener {
            Some(l) => l,
            None => TcpListener::bind(self.cfg.server.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: self.cfg.server.listen,
                    source,
                })?,
        };
        App::assemble(self.cfg, self.program, listener).await
    }
}

impl App {
    /// Serves until SIGTERM, SIGINT or `POST /shutdown`, then drains (teloxide's
    /// `dispatch()` with its Ctrl-C handler).
    pub async fn dispatch(self) -> Exit {
        let stop = self.shutdown_token();
        let signal = tokio::spawn(async move {
            telbot_shared::signal::shutdown().await;
            tracing::info!("signal received");
            stop.cancel();
        });
        let exit = self.run_until_stopped().await;
        signal.abort();
        exit
    }
}
