//! What a Bot API call can end in. Variants exist where callers branch on them.

/// A failed Bot API call. Its text never holds the token (see [`crate::redact`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum TelegramError {
    /// Telegram answered `ok: false` (a 4xx other than 429, or a 5xx after the last attempt).
    #[error("Bot API {method}: {code} {description}")]
    Api {
        /// The method called.
        method: String,
        /// `error_code` (equal to the HTTP status).
        code: u16,
        /// Telegram's `description`.
        description: String,
    },
    /// 429 with a `retry_after` longer than the client waits, or still 429 after the last attempt.
    #[error("Bot API {method}: too many requests, retry after {retry_after} s")]
    RetryAfter {
        /// The method called.
        method: String,
        /// Seconds Telegram asked to wait.
        retry_after: u64,
    },
    /// The request did not complete: connection refused, reset, DNS, TLS.
    #[error("Bot API {method}: network error: {message}")]
    Network {
        /// The method called.
        method: String,
        /// The redacted cause.
        message: String,
    },
    /// No answer within the call's timeout.
    #[error("Bot API {method}: timed out")]
    Timeout {
        /// The method called.
        method: String,
    },
    /// An answer that is not Telegram's envelope, or a result of an unexpected shape.
    #[error("Bot API {method}: invalid response: {message}")]
    InvalidResponse {
        /// The method called.
        method: String,
        /// What was wrong (redacted, shortened).
        message: String,
    },
}

impl TelegramError {
    /// Worth another attempt: 5xx, network errors and timeouts (429 is handled separately).
    pub fn is_retryable(&self) -> bool {
        match self {
            TelegramError::Api { code, .. } => *code >= 500,
            TelegramError::Network { .. } | TelegramError::Timeout { .. } => true,
            TelegramError::RetryAfter { .. } | TelegramError::InvalidResponse { .. } => false,
        }
    }

    /// Waiting cures it: what [`Self::is_retryable`] covers, and a 429.
    pub fn is_transient(&self) -> bool {
        self.is_retryable() || self.code() == Some(429)
    }

    /// Telegram refused the token (401) — nothing will work until it is fixed.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, TelegramError::Api { code: 401, .. })
    }

    /// Telegram could not be reached or kept failing on its side.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            TelegramError::Network { .. }
                | TelegramError::Timeout { .. }
                | TelegramError::Api { code: 500.., .. }
        )
    }

    /// The HTTP status Telegram answered with, when it answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            TelegramError::Api { code, .. } => Some(*code),
            TelegramError::RetryAfter { .. } => Some(429),
            _ => None,
        }
    }

    /// A short label for metrics: `api_4xx`, `api_5xx`, `retry_after`, `network`, `timeout`, `invalid`.
    pub fn kind(&self) -> &'static str {
        match self {
            TelegramError::Api { code, .. } if *code >= 500 => "api_5xx",
            TelegramError::Api { .. } => "api_4xx",
            TelegramError::RetryAfter { .. } => "retry_after",
            TelegramError::Network { .. } => "network",
            TelegramError::Timeout { .. } => "timeout",
            TelegramError::InvalidResponse { .. } => "invalid",
        }
    }
}
