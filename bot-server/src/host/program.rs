//! [`Program`]: what a teloxide program hands telbot (its tree and what teloxide's
//! `DispatcherBuilder` would hold), and [`keyer`], its `distribution_function` as the inbox's
//! queue key.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::di::DependencyMap;
use teloxide::error_handlers::ErrorHandler;
use teloxide::types::Update;

use crate::inbox::writer::Keyer;

/// What a program hands telbot: its tree and what teloxide's `DispatcherBuilder` would hold.
pub(crate) struct Program<E> {
    pub tree: UpdateHandler<E>,
    pub deps: DependencyMap,
    pub default_handler: Option<DefaultHandler>,
    pub error_handler: Option<Arc<dyn ErrorHandler<E> + Send + Sync>>,
    pub keyer: Option<Keyer>,
    /// Builds the program's requester (teloxide's adaptors over telbot's `Bot`) into the
    /// dependencies.
    pub requester: Option<MakeRequester>,
    /// The program's own `/health` checks, by name.
    pub health_checks: Vec<(String, HealthCheck)>,
}

/// A program's `/health` check (`DispatcherBuilder::health_check`): called at each `/health`
/// read, so it must be cheap (read a state, call nothing); `None` leaves it out of the document.
pub type HealthCheck =
    Arc<dyn Fn() -> Option<telbot_shared::health::CheckStatus> + Send + Sync + 'static>;

/// teloxide's `default_handler`: called with an update no branch of the tree took.
pub(crate) type DefaultHandler =
    Arc<dyn Fn(Arc<Update>) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// Puts the program's requester, made from a run's `Bot`, into the dependencies (once per run).
pub(crate) type MakeRequester = Arc<dyn Fn(teloxide::Bot, &mut DependencyMap) + Send + Sync>;

impl<E> Program<E> {
    pub(crate) fn new(tree: UpdateHandler<E>) -> Self {
        Program {
            tree,
            deps: DependencyMap::new(),
            default_handler: None,
            error_handler: None,
            keyer: None,
            requester: None,
            health_checks: Vec::new(),
        }
    }
}

/// teloxide's `distribution_function` as the inbox's queue key: updates with the same key run
/// one at a time in order on the whole fleet; `None` gives the update a key of its own (it
/// runs beside everything else, as in teloxide).
pub(crate) fn keyer<K>(f: fn(&Update) -> Option<K>) -> Keyer
where
    K: Hash + Eq + Debug + Send + Sync + 'static,
{
    Arc::new(move |raw: &str| {
        let update: Update = serde_json::from_str(raw).ok()?;
        Some(match f(&update) {
            Some(k) => format!("d:{k:?}"),
            None => format!("u:{}", update.id.0),
        })
    })
}
