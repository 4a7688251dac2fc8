//! The crate's one error type. Texts never hold a secret: every message that may carry
//! outside text (an SMTP answer, an HTTP body) is passed through the pipeline's redactor.

/// What went wrong in the alerting pipeline.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The store could not be read or written.
    #[error("alerts store: {0}")]
    Store(String),
    /// A channel could not deliver a message (the outbox retries it later).
    #[error("{channel}: {problem}")]
    Send {
        /// The channel name (`email`, `resend`, `slack`, `discord`, `telegram`, `heartbeat`).
        channel: String,
        /// What went wrong, already redacted.
        problem: String,
    },
    /// The provider refused the message for good (e.g. a 4xx other than 429: a bad number,
    /// wrong credentials): it is not retried, and the channel is reported through the others.
    #[error("{channel}: refused, not retried: {problem}")]
    Rejected {
        /// The channel name.
        channel: String,
        /// What the provider said, already redacted.
        problem: String,
    },
    /// A channel could not be built from its settings.
    #[error("alerts setup: {0}")]
    Setup(String),
    /// A bad argument from the caller (e.g. an empty silence target).
    #[error("alerts: {0}")]
    Invalid(String),
}

impl AlertError {
    /// A send failure on `channel`.
    pub(crate) fn send(channel: &str, problem: impl Into<String>) -> Self {
        AlertError::Send {
            channel: channel.to_string(),
            problem: problem.into(),
        }
    }
}

impl AlertError {
    /// A permanent refusal on `channel`.
    pub(crate) fn rejected(channel: &str, problem: impl Into<String>) -> Self {
        AlertError::Rejected {
            channel: channel.to_string(),
            problem: problem.into(),
        }
    }
}

impl From<sqlx::Error> for AlertError {
    fn from(e: sqlx::Error) -> Self {
        AlertError::Store(e.to_string())
    }
}

impl From<serde_json::Error> for AlertError {
    fn from(e: serde_json::Error) -> Self {
        AlertError::Store(format!("json: {e}"))
    }
}
