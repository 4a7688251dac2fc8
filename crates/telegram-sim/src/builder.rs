//! [`SimBuilder`]: settings, then `start()` binds 127.0.0.1 and spawns the
//! server and the delivery task.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::SimError;
use crate::records::LOG_CAP;
use crate::sim::Sim;
use crate::state::{Config, Shared, State};
use crate::{clock, delivery, server};

/// The token a sim accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz012345";

impl Sim {
    /// Start configuring a sim. (Here, beside the builder, so that `sim.rs` need not import
    /// the module that builds it: an inherent `impl` may live in any module of the crate.)
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }
}

/// Configures and starts a [`Sim`]. Get one with [`Sim::builder`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    token: String,
    allow_http_loopback: bool,
    time_scale: f64,
    port: u16,
    first_update_id: Option<i64>,
    set_webhook_rate_limit: bool,
    log_cap: usize,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            token: DEFAULT_TOKEN.to_owned(),
            allow_http_loopback: false,
            time_scale: 1.0,
            port: 0,
            first_update_id: None,
            set_webhook_rate_limit: true,
            log_cap: LOG_CAP,
        }
    }
}

impl SimBuilder {
    /// The only valid token (others get 401 `Unauthorized`).
    pub fn token(mut self, t: impl Into<String>) -> Self {
        self.token = t.into();
        self
    }

    /// Accept and deliver to `http://` webhooks on 127.0.0.1/localhost/::1
    /// (default false: `bad webhook: An HTTPS URL must be provided for webhook`).
    pub fn allow_http_loopback(mut self, yes: bool) -> Self {
        self.allow_http_loopback = yes;
        self
    }

    /// Multiply Telegram's delays (back-off, Retry-After, 60 s read timeout,
    /// 10 s degraded window) by `s`; long-poll timeouts are not scaled.
    pub fn time_scale(mut self, s: f64) -> Self {
        self.time_scale = s;
        self
    }

    /// Port on 127.0.0.1 (default 0 = ephemeral).
    pub fn port(mut self, p: u16) -> Self {
        self.port = p;
        self
    }

    /// First update_id (default random in [2 000 001, 1 000 000 000)).
    pub fn first_update_id(mut self, id: i64) -> Self {
        self.first_update_id = Some(id);
        self
    }

    /// Enforce Telegram's one-setWebhook-per-second limit (default on; turn
    /// off for tests that restart bots quickly).
    pub fn set_webhook_rate_limit(mut self, on: bool) -> Self {
        self.set_webhook_rate_limit = on;
        self
    }

    /// How many entries each read-back log (calls, sent messages, deliveries, dropped ids)
    /// keeps before forgetting the oldest (default 20,000; at least 1). Long load tests that
    /// account for every message raise it.
    pub fn log_cap(mut self, n: usize) -> Self {
        self.log_cap = n;
        self
    }

    /// Bind and start serving.
    pub async fn start(self) -> Result<Sim, SimError> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(SimError::Config(format!(
                "time_scale must be a positive number, got {}",
                self.time_scale
            )));
        }
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))
            .await
            .map_err(|source| SimError::Bind {
                port: self.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            port: self.port,
            source,
        })?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(clock::scaled(60.0, self.time_scale))
            .no_proxy()
            .build()
            .map_err(SimError::Client)?;
        let first_id = self
            .first_update_id
            .unwrap_or_else(|| rand::rng().random_range(2_000_001..1_000_000_000));
        let shared = Arc::new(Shared {
            config: Config {
                token: self.token,
                allow_http_loopback: self.allow_http_loopback,
                time_scale: self.time_scale,
                set_webhook_rate_limit: self.set_webhook_rate_limit,
            },
            state: Mutex::new(State::new(first_id, self.log_cap)),
            delivery_wake: Notify::new(),
            shutdown: CancellationToken::new(),
            http,
            addr,
        });
        tokio::spawn(server::serve(listener, shared.clone()));
        tokio::spawn(delivery::run(shared.clone()));
        Ok(Sim::from_shared(shared))
    }
}
