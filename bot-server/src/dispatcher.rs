//! A builder shaped like teloxide's, so moving a bot onto telbot is a few lines:
//!
//! ```text
//! // teloxide                                   // telbot
//! Dispatcher::builder(bot, handler)            Dispatcher::builder(cfg, handler)
//!     .dependencies(dptree::deps![storage])        .dependencies(dptree::deps![my_dep])
//!     .enable_ctrlc_handler()                      .build().await?
//!     .build()                                     .dispatch().await;
//!     .dispatch().await;
//! ```
//!
//! Handlers get what teloxide's dispatcher gives them (`Update`, `Message`, `Me`, teloxide's
//! `Bot`) plus `Arc<TelbotStorage>` for `Dialogue<State, TelbotStorage>` and whatever
//! `dependencies` adds; every update reaches them through the durable inbox.

use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::di::DependencyMap;
use tokio::net::TcpListener;

use crate::bot::HandlerError;
use crate::config::BotConfig;
use crate::startup::{App, Exit, StartError};

/// Entry point of the builder, named after teloxide's.
#[derive(Debug)]
pub struct Dispatcher;

impl Dispatcher {
    /// A bot-server running `handler` with the settings in `cfg`.
    pub fn builder(cfg: BotConfig, handler: UpdateHandler<HandlerError>) -> DispatcherBuilder {
        DispatcherBuilder {
            cfg,
            handler,
            deps: DependencyMap::new(),
            listener: None,
        }
    }
}

/// What [`Dispatcher::builder`] returns.
pub struct DispatcherBuilder {
    cfg: BotConfig,
    handler: UpdateHandler<HandlerError>,
    deps: DependencyMap,
    listener: Option<TcpListener>,
}

impl DispatcherBuilder {
    /// Adds dependencies the handlers can take (teloxide's `dptree::deps![...]`); they win
    /// over telbot's own of the same type.
    pub fn dependencies(mut self, deps: DependencyMap) -> Self {
        self.deps.insert_container(deps);
        self
    }

    /// Serves on a listener bound beforehand instead of binding `server.host:port`.
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Connects the store, binds, and starts the inbox.
    pub async fn build(self) -> Result<App, StartError> {
        let listener = match self.listener {
            Some(l) => l,
            None => {
                TcpListener::bind(self.cfg.listen)
                    .await
                    .map_err(|source| StartError::Bind {
                        addr: self.cfg.listen,
                        source,
                    })?
            }
        };
        App::assemble(self.cfg, self.handler, listener, self.deps).await
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
