//! Tracing set-up for both binaries: readable lines on a terminal, JSON with `LOG_FORMAT=json`,
//! level from `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored).
pub fn init(log_format: Option<&str>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = log_format.is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// For a program that hosts telbot as a library: installs the subscriber [`init`] does
/// (`LOG_FORMAT` and `RUST_LOG` from the environment, and `log` records of the program and
/// its crates through tracing-log) unless the program installed one first. A program that
/// installed a `log` logger (env_logger, pretty_env_logger) keeps it, and telbot's events
/// reach it as `log` records (tracing's `log` feature). Returns whether it installed one.
pub fn init_unless_set() -> bool {
    if tracing::dispatcher::has_been_set() {
        return false;
    }
    init(std::env::var("LOG_FORMAT").ok().as_deref());
    tracing::dispatcher::has_been_set()
}
