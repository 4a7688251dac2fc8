//! A panicking handler is a failed run, not a dead worker: [`catching`] runs a handler future
//! and turns a panic into its message (with where it happened). While a handler is being
//! polled the process's panic hook stays quiet for it (no backtrace per `unwrap` on a photo;
//! the inbox logs the failure once, redacted); panics anywhere else reach the hook the
//! program had.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use futures::FutureExt;

thread_local! {
    /// A handler is being polled on this thread.
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
    /// Where the last handler panic on this thread happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs, once per process, a panic hook that records handler panics instead of printing
/// them and hands every other panic to the hook installed before it.
pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_HANDLER.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                LOCATION.with(|l| *l.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `fut`; a panic inside it comes back as `Err(message)`, e.g.
/// `called `Option::unwrap()` on a `None` value (at src/bot.rs:12)`.
pub(crate) async fn catching<F: Future>(fut: F) -> Result<F::Output, String> {
    let quiet = Quiet {
        inner: Box::pin(fut),
    };
    match AssertUnwindSafe(quiet).catch_unwind().await {
        Ok(out) => Ok(out),
        Err(payload) => {
            let at = LOCATION.with(|l| l.borrow_mut().take());
            Err(describe(payload.as_ref(), at))
        }
    }
}

/// [`catching`] for a closure.
pub(crate) fn catching_sync<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let outer = IN_HANDLER.with(|f| f.replace(true));
    let _unmark = (!outer).then(|| Unmark);
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let at = LOCATION.with(|l| l.borrow_mut().take());
        describe(payload.as_ref(), at)
    })
}

fn describe(payload: &(dyn std::any::Any + Send), at: Option<String>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    match at {
        Some(at) => format!("{message} (at {at})"),
        None => message,
    }
}

/// Marks this thread as running a handler while `inner` is polled.
struct Quiet<F> {
    inner: Pin<Box<F>>,
}

/// Clears the mark when the poll returns or unwinds.
struct Unmark;

impl Drop for Unmark {
    fn drop(&mut self) {
        IN_HANDLER.with(|f| f.set(false));
    }
}

impl<F: Future> Future for Quiet<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let outer = IN_HANDLER.with(|f| f.replace(true));
        let _unmark = (!outer).then(|| Unmark);
        self.inner.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_its_message_and_place() {
        install_hook();
        let out = catching(async {
            let none: Option<u8> = std::hint::black_box(None);
            #[allow(clippy::unwrap_used)]
            none.unwrap()
        })
        .await;
        let err = out.err().unwrap_or_default();
        assert!(err.contains("on a `None` value"), "{err}");
        assert!(err.contains("panic.rs:"), "{err}");
        let formatted = catching(async { panic!("bad input {}", 7) }).await;
        assert_eq!(
            formatted
                .err()
                .as_deref()
                .map(|e| e.starts_with("bad input 7")),
            Some(true)
        );
        assert_eq!(catching(async { 5 }).await, Ok(5));
        assert!(
            !IN_HANDLER.with(Cell::get),
            "the mark is cleared after a panic"
        );
        // Nested (the inbox's floor around the processor's catch): the inner one still knows
        // where.
        let nested = catching(catching(async { panic!("inner") })).await;
        let inner = nested.ok().and_then(|r| r.err()).unwrap_or_default();
        assert!(inner.contains("panic.rs:"), "{inner}");
    }
}
