//! [`TreeProcessor`]: runs a stored update through the program's teloxide handler tree, as
//! teloxide's dispatcher would: the dependencies, then the `default_handler` for an update no
//! branch took, the `error_handler` for every handler error. The inbox decides what an
//! outcome means (retry, park); a panic is caught around every run by `inbox::job`, which
//! stores its message masked by [`Process::redact`].

use std::fmt::Debug;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;

use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::di::DependencyMap;
use teloxide::error_handlers::ErrorHandler;
use teloxide::types::{Update, UpdateId, UpdateKind};

use super::program::{DefaultHandler, MakeRequester};
use super::{classify, gateway, send};
use crate::inbox::{Item, Outcome, Process};

/// Each run's teloxide `Bot`, pointed at the gateway under the run's own path, and the
/// program's requester made from it.
pub(crate) struct Bots {
    /// telbot's `Bot` (its api_url is replaced for each run).
    pub bot: teloxide::Bot,
    /// `http://127.0.0.1:<gateway port>`.
    pub gateway: String,
    pub runs: Arc<gateway::Runs>,
    pub requester: Option<MakeRequester>,
    /// telbot's client, for [`crate::SendIgnoringResult`].
    pub api: telbot_shared::telegram::TelegramClient,
}

/// A program's handler tree with what it needs.
pub(crate) struct TreeProcessor<E> {
    pub tree: UpdateHandler<E>,
    pub deps: DependencyMap,
    pub bots: Bots,
    pub default_handler: Option<DefaultHandler>,
    pub error_handler: Option<Arc<dyn ErrorHandler<E> + Send + Sync>>,
    /// Masks the token (and every other secret) in the errors the inbox stores.
    pub redactor: telbot_shared::redact::Redactor,
}

impl<E: Debug + Send + Sync + 'static> Process for TreeProcessor<E> {
    fn process<'a>(&'a self, item: &'a Item) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(send::with_api(self.bots.api.clone(), self.run(item)))
    }

    fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }
}

impl<E: Debug + Send + Sync + 'static> TreeProcessor<E> {
    async fn run(&self, item: &Item) -> Outcome {
        let (update, known) = parse(item);
        let mut deps = self.deps.clone();
        deps.insert(update);
        // This run's `Bot`: its calls reach the gateway under the run's path, which finds the
        // run's reply slot there.
        let _run = telbot_shared::telegram::reply::current()
            .map(|slot| self.bots.runs.enter(item.seq, slot));
        match reqwest::Url::parse(&format!("{}/r/{}", self.bots.gateway, item.seq)) {
            Ok(url) => {
                let bot = self.bots.bot.clone().set_api_url(url);
                if let Some(make) = &self.bots.requester {
                    make(bot.clone(), &mut deps);
                }
                deps.insert(bot);
            }
            Err(e) => return Outcome::transient(format!("the gateway's URL: {e}")),
        }
        let outcome = match self.tree.dispatch(deps).await {
            ControlFlow::Break(Ok(())) => Outcome::Done,
            ControlFlow::Continue(deps) => {
                if let Some(h) = &self.default_handler {
                    h(deps.get::<Update>()).await;
                }
                Outcome::Done
            }
            ControlFlow::Break(Err(e)) => {
                let (error, transient) = classify::describe(&e);
                let retry_after = classify::retry_after(&e);
                if let Some(h) = &self.error_handler {
                    h.clone().handle_error(e).await;
                }
                Outcome::Failed {
                    error: self.redactor.redact(&error),
                    transient,
                    retry_after,
                }
            }
        };
        if known {
            return outcome;
        }
        // A kind newer than this teloxide: handed on like any update, never retried or
        // parked, counted as unknown.
        if let Outcome::Failed { error, .. } = &outcome {
            tracing::info!(update_id = item.update_id, kind = %item.kind, error = %error, "a handler failed on an update of a kind this teloxide does not know; not retried");
        } else {
            tracing::info!(update_id = item.update_id, kind = %item.kind, "update of a kind this teloxide does not know; handed to the tree as UpdateKind::Error");
        }
        Outcome::Unknown
    }
}

/// The stored update as teloxide's `Update`, and whether teloxide knows its kind. A kind it
/// does not know (or cannot read) becomes `UpdateKind::Error` with the raw JSON, as teloxide's
/// own listeners hand it over.
fn parse(item: &Item) -> (Update, bool) {
    match serde_json::from_str::<Update>(&item.payload) {
        Ok(u) => {
            let known = !matches!(u.kind, UpdateKind::Error(_));
            (u, known)
        }
        Err(_) => {
            let raw = serde_json::from_str(&item.payload).unwrap_or(serde_json::Value::Null);
            let id = UpdateId(u32::try_from(item.update_id).unwrap_or(0));
            (
                Update {
                    id,
                    kind: UpdateKind::Error(raw),
                },
                false,
            )
        }
    }
}
