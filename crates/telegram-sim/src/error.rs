//! Errors a caller of [`crate::SimBuilder::start`] can branch on.

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound (port in use, no permission).
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port that was asked for (0 = ephemeral).
        port: u16,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A builder setting is out of range (e.g. a non-positive time scale).
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The HTTP client used for webhook delivery could not be built.
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}
