//! Hosting a teloxide program: what teloxide's dispatcher does for a handler tree, done on
//! top of the durable inbox.
//!
//! - [`processor`]: a stored update through the tree, the `default_handler` and the
//!   `error_handler`; panics caught.
//! - [`classify`]: a handler error's text and whether waiting cures it (one rule for telbot's
//!   client and teloxide's `Bot`).
//! - [`allowed`]: the update kinds a tree handles, registered with the webhook and polling.
//! - [`panic`]: a panicking handler as a failure with its message.
//! - [`repl`]: teloxide's `repl` and `commands_repl` on telbot.
//! - [`gateway`]: teloxide's `Bot` through telbot's client (one send path).
//! - [`send`]: `.send_ignoring_result()` for teloxide requests (replies in the webhook answer).

pub(crate) mod allowed;
pub(crate) mod classify;
pub(crate) mod gateway;
pub(crate) mod panic;
pub(crate) mod processor;
pub mod repl;
pub mod send;

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::di::DependencyMap;
use teloxide::error_handlers::ErrorHandler;
use teloxide::types::Update;

use crate::inbox::writer::Keyer;
use processor::DefaultHandler;

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

/// Every dependency the tree's handlers take is provided (teloxide's `build` checks the same
/// and panics; here it is a start error naming the type).
pub(crate) fn check_dependencies<E: 'static>(
    tree: &UpdateHandler<E>,
    deps: &DependencyMap,
) -> Result<(), crate::startup::StartError> {
    let given = [teloxide::dptree::Type::of::<Update>()];
    panic::catching_sync(|| teloxide::dptree::type_check(tree.sig(), deps, &given))
        .map_err(crate::startup::StartError::Handlers)
}
