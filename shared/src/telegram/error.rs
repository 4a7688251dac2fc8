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

    /// A 429's `retry_after`, in seconds.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            TelegramError::RetryAfter { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// A 429's `retry_after`.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after_secs().map(std::time::Duration::from_secs)
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

/// The HTTP status a Bot API `description` stands for, from its prefix ("Bad Request: …" is
/// 400, "Internal Server Error: restart" 500), for clients that keep the description but
/// not the status (teloxide's `ApiError`). `None` for a description of no known shape.
pub fn code_of_description(description: &str) -> Option<u16> {
    const PREFIXES: [(&str, u16); 11] = [
        ("Bad Request", 400),
        ("Unauthorized", 401),
        ("Forbidden", 403),
        ("Not Found", 404),
        ("Conflict", 409),
        ("Too Many Requests", 429),
        ("Internal Server Error", 500),
        ("Bad Gateway", 502),
        ("Service Unavailable", 503),
        ("Gateway Timeout", 504),
        ("Gateway Time-out", 504),
    ];
    let d = description.trim_start();
    PREFIXES
        .iter()
        .find(|(p, _)| d.starts_with(p))
        .map(|&(_, code)| code)
}

/// The 5xx status of a body that is not Telegram's JSON envelope but an intermediary's error
/// page (a proxy's or load balancer's HTML `502 Bad Gateway`, an empty 504), for clients
/// that keep the body but not the status. `None` for anything else, JSON of an unexpected
/// shape included: waiting does not fix that.
pub fn error_page_status(body: &str) -> Option<u16> {
    let b = body.trim();
    if b.is_empty() {
        return Some(502);
    }
    if b.starts_with('{') || b.starts_with('[') {
        return None;
    }
    // "<title>502 Bad Gateway</title>", "HTTP/1.1 504", "Error 503".
    let bytes = b.as_bytes();
    for (i, w) in bytes.windows(3).enumerate() {
        let edge = |j: Option<&u8>| j.is_none_or(|c| !c.is_ascii_digit());
        if w[0] == b'5'
            && w[1].is_ascii_digit()
            && w[2].is_ascii_digit()
            && edge(i.checked_sub(1).and_then(|j| bytes.get(j)))
            && edge(bytes.get(i + 3))
        {
            let code =
                u16::from(w[0] - b'0') * 100 + u16::from(w[1] - b'0') * 10 + u16::from(w[2] - b'0');
            return Some(code);
        }
    }
    let lower = b.to_ascii_lowercase();
    [
        ("bad gateway", 502),
        ("service unavailable", 503),
        ("gateway timeout", 504),
        ("gateway time-out", 504),
    ]
    .iter()
    .find(|(p, _)| lower.contains(p))
    .map(|&(_, code)| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_their_status() {
        assert_eq!(
            code_of_description("Bad Request: chat not found"),
            Some(400)
        );
        assert_eq!(
            code_of_description("Forbidden: bot was blocked by the user"),
            Some(403)
        );
        assert_eq!(
            code_of_description("Internal Server Error: restart"),
            Some(500)
        );
        assert_eq!(code_of_description("Bad Gateway"), Some(502));
        assert_eq!(
            code_of_description("Too Many Requests: retry after 5"),
            Some(429)
        );
        assert_eq!(code_of_description("something new"), None);
    }

    #[test]
    fn proxy_error_pages_are_5xx_and_json_is_not_a_page() {
        let nginx = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>";
        assert_eq!(error_page_status(nginx), Some(502));
        assert_eq!(
            error_page_status("<html><body><h1>504 Gateway Time-out</h1></body></html>"),
            Some(504)
        );
        assert_eq!(
            error_page_status("upstream connect error: Service Unavailable"),
            Some(503)
        );
        assert_eq!(error_page_status(""), Some(502), "an empty answer");
        assert_eq!(error_page_status("{\"ok\":true,\"result\":7}"), None);
        assert_eq!(error_page_status("<html>404 Not Found</html>"), None);
        assert_eq!(
            error_page_status("id 15023 not found"),
            None,
            "digits inside a number"
        );
    }
}
