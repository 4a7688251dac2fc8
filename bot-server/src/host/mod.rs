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
pub(crate) mod program;
pub(crate) mod repl;
pub(crate) mod send;

pub use program::HealthCheck;
pub(crate) use program::{Program, keyer};

use teloxide::dispatching::UpdateHandler;
use teloxide::dptree::di::DependencyMap;
use teloxide::types::Update;

/// Every dependency the tree's handlers take is provided (teloxide's `build` checks the same
/// and panics; here it is a start error naming the type).
pub(crate) fn check_dependencies<E: 'static>(
    tree: &UpdateHandler<E>,
    deps: &DependencyMap,
) -> Result<(), String> {
    let given = [teloxide::dptree::Type::of::<Update>()];
    panic::catching_sync(|| teloxide::dptree::type_check(tree.sig(), deps, &given))
}
