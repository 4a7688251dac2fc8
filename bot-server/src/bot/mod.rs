//! The reference bot: teloxide handlers run by the inbox's workers. Users replace
//! [`handlers::tree`] with their own (see the README); everything else stays.
//!
//! - [`handlers`]: /start, /help, /status, /report (multi-step), /ask.
//! - [`paced`]: [`paced::PacedBot`], teloxide's `Bot` behind teloxide's `Throttle`.
//! - [`pending`]: multi-step actions in the store with a TTL.
//! - [`storage`]: [`storage::TelbotStorage`], teloxide's dialogue `Storage` on the store.
//! - [`ai`]: the /ask endpoint client with a circuit breaker.

pub mod ai;
pub mod handlers;
pub mod paced;
pub mod pending;
pub mod storage;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use telbot_shared::store::Db;
use telbot_shared::telegram::{TelegramClient, TelegramError};
use teloxide::dispatching::UpdateHandler;
use teloxide::dptree;
use teloxide::types::{Me, Update, UpdateKind};

use crate::inbox::{Item, Outcome, Process};

/// The error type handlers return.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What every handler can reach: injected into the handler tree as `Arc<BotCtx>`.
pub struct BotCtx {
    /// The Bot API client (retries, pacing, redaction).
    pub api: TelegramClient,
    /// The shared store.
    pub db: Db,
    /// Multi-step actions.
    pub pending: pending::PendingActions,
    /// The /ask endpoint.
    pub assistant: Arc<ai::Assistant>,
    /// Chats allowed to use /status.
    pub admin_chat_ids: Vec<i64>,
    /// One line of health for /status.
    pub status_line: Box<dyn Fn() -> String + Send + Sync>,
}

/// Runs the handler tree for stored updates.
pub struct BotProcessor {
    tree: UpdateHandler<HandlerError>,
    deps: dptree::di::DependencyMap,
    /// Masks the token (and every other secret) in the handler errors the inbox stores.
    redactor: telbot_shared::redact::Redactor,
}

impl BotProcessor {
    /// A processor running `tree` with `ctx`, `me`, teloxide's `bot`, the same bot paced
    /// (`bot: PacedBot`) and `extra` as dependencies, so handlers can take `bot: Bot` or
    /// `bot: PacedBot` and call any Bot API method teloxide knows. Every secret in `secrets`
    /// is masked in the errors it records.
    pub fn new(
        tree: UpdateHandler<HandlerError>,
        ctx: Arc<BotCtx>,
        me: Me,
        pacing: &paced::Pacing,
        extra: dptree::di::DependencyMap,
        secrets: Vec<secrecy::SecretString>,
    ) -> Self {
        let mut deps = dptree::di::DependencyMap::new();
        deps.insert(ctx);
        deps.insert(me);
        deps.insert(pacing.bot().into_inner());
        deps.insert(pacing.bot());
        deps.insert_container(extra);
        BotProcessor {
            tree,
            deps,
            redactor: telbot_shared::redact::Redactor::new(secrets),
        }
    }
}

/// teloxide's `Bot` for handlers: pointed at the configured Bot API URL, every request bounded
/// by `telegram.request_timeout`. teloxide hides the token in its network errors; the inbox
/// masks it again in what it stores.
pub fn teloxide_bot(
    cfg: &telbot_shared::config::TelegramConfig,
) -> Result<teloxide::Bot, TelegramError> {
    use secrecy::ExposeSecret;
    let client = reqwest::Client::builder()
        .timeout(cfg.request_timeout)
        .connect_timeout(cfg.request_timeout.min(std::time::Duration::from_secs(10)))
        .build()
        .map_err(|e| TelegramError::InvalidResponse {
            method: "client".into(),
            message: e.without_url().to_string(),
        })?;
    Ok(
        teloxide::Bot::with_client(cfg.token.expose_secret(), client)
            .set_api_url(cfg.api_url.clone()),
    )
}

impl Process for BotProcessor {
    fn process<'a>(&'a self, item: &'a Item) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let update: Update = match serde_json::from_str(&item.payload) {
                Ok(u) => u,
                Err(e) => {
                    tracing::info!(update_id = item.update_id, kind = %item.kind, error = %e, "update of a kind this build cannot parse; kept raw");
                    return Outcome::Unknown;
                }
            };
            if matches!(update.kind, UpdateKind::Error(_)) {
                tracing::info!(update_id = item.update_id, kind = %item.kind, "update of a kind this build cannot parse; kept raw");
                return Outcome::Unknown;
            }
            let mut deps = self.deps.clone();
            deps.insert(update);
            match self.tree.dispatch(deps).await {
                std::ops::ControlFlow::Break(Ok(())) | std::ops::ControlFlow::Continue(_) => {
                    Outcome::Done
                }
                std::ops::ControlFlow::Break(Err(e)) => match outcome_of(e.as_ref()) {
                    Outcome::Failed { error, transient } => Outcome::Failed {
                        error: self.redactor.redact(&error),
                        transient,
                    },
                    other => other,
                },
            }
        })
    }
}

/// Runs `sweep` every `every` until `stop`, saying how many expired `what` it removed.
async fn sweep_every<F, Fut, E>(
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
    what: &'static str,
    sweep: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => match sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "swept expired {what}"),
                Err(e) => tracing::warn!(error = %e, "cannot sweep {what}"),
            },
            _ = stop.cancelled() => return,
        }
    }
}

/// A handler error as the inbox sees it: a Bot API failure that waiting can cure (network,
/// timeout, 5xx, 429) is transient and retried until Telegram's 24 h pass; anything else (a
/// 4xx such as "chat not found", a handler's own error) is permanent and parked after
/// `inbox.max_attempts`.
pub fn outcome_of(e: &(dyn std::error::Error + Send + Sync + 'static)) -> Outcome {
    let transient = e
        .downcast_ref::<TelegramError>()
        .is_some_and(TelegramError::is_transient)
        || e.downcast_ref::<teloxide::RequestError>().is_some_and(|t| {
            matches!(
                t,
                teloxide::RequestError::Network(_)
                    | teloxide::RequestError::RetryAfter(_)
                    | teloxide::RequestError::Io(_)
            )
        });
    Outcome::Failed {
        error: e.to_string(),
        transient,
    }
}

/// `Me` for when getMe could not be reached at start (commands still parse without a mention).
pub fn fallback_me(name: &str) -> Me {
    let user = teloxide::types::User {
        id: teloxide::types::UserId(0),
        is_bot: true,
        first_name: name.to_string(),
        last_name: None,
        username: Some(name.to_string()),
        language_code: None,
        is_premium: false,
        added_to_attachment_menu: false,
    };
    Me {
        user,
        can_join_groups: false,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
        can_connect_to_business: false,
        has_main_web_app: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient(e: HandlerError) -> bool {
        matches!(
            outcome_of(e.as_ref()),
            Outcome::Failed {
                transient: true,
                ..
            }
        )
    }

    #[test]
    fn bot_api_errors_that_waiting_cures_are_transient() {
        let m = || "sendMessage".to_string();
        let api = |code| TelegramError::Api {
            method: m(),
            code,
            description: "x".into(),
        };
        assert!(transient(Box::new(api(500))));
        assert!(transient(Box::new(api(502))));
        assert!(transient(Box::new(TelegramError::RetryAfter {
            method: m(),
            retry_after: 90
        })));
        assert!(transient(Box::new(TelegramError::Network {
            method: m(),
            message: "refused".into()
        })));
        assert!(transient(Box::new(TelegramError::Timeout { method: m() })));
        assert!(!transient(Box::new(api(400))));
        assert!(!transient(Box::new(api(403))));
        assert!(!transient("a handler's own error".into()));
    }
}
