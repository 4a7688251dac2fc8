//! Faults a test can inject: how the webhook "server" misbehaves
//! ([`WebhookFault`], applied by the sim instead of contacting the URL) and
//! how Bot API methods fail ([`ApiFault`], consumed one per call).

use std::time::Duration;

/// A simulated webhook failure. While one is set, the delivery task does not
/// contact the webhook URL but records the outcome Telegram would record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFault {
    /// As if the webhook answered with this status (2xx counts as success).
    /// `Status(500)` records `Wrong response from the webhook: 500 Internal Server Error`.
    Status(u16),
    /// As if nothing listened on the port: `Connection refused`.
    Refuse,
    /// As if the webhook never answered: after 60 s × time scale,
    /// `Read timeout expired`.
    Hang,
    /// As if the webhook redirected (Telegram never follows redirects):
    /// `Wrong response from the webhook: 302 Found`.
    Redirect,
}

/// A simulated Bot API method failure, see [`crate::Sim::fail_method`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFault {
    /// HTTP 500 `{"ok":false,"error_code":500,"description":"Internal Server Error"}`.
    Status500,
    /// HTTP 429 with a `Retry-After` header and `parameters.retry_after`.
    TooManyRequests {
        /// Seconds the client is told to wait.
        retry_after: u32,
    },
    /// Answer normally, but only after this (unscaled) delay.
    Slow(Duration),
    /// Close the connection without sending any response.
    Drop,
    /// As a reverse proxy or load balancer in front of the Bot API answers when it cannot
    /// reach it: this status (502, 503, 504…) with an nginx-style HTML page, not Telegram's
    /// JSON.
    ProxyPage(u16),
}

/// The HTML page nginx sends with `code`.
pub(crate) fn proxy_page(code: u16) -> String {
    let title = format!("{code} {}", reason_phrase(code));
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// The reason phrase the sim uses for a status it fakes.
pub(crate) fn reason_phrase(code: u16) -> &'static str {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// `Wrong response from the webhook: <code> <reason>`.
pub(crate) fn wrong_response(code: u16, reason: &str) -> String {
    format!("Wrong response from the webhook: {code} {reason}")
}
