//! The Bot API response envelope: `{"ok":true,"result":…,"description":…}`
//! and `{"ok":false,"error_code":N,"description":…,"parameters":…}`, with the
//! HTTP status equal to `error_code` and `Retry-After` on 429.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

/// A successful method result: raw JSON plus an optional description.
#[derive(Debug)]
pub(crate) struct ApiOk {
    /// Result serialized as JSON text (keeps our key order).
    pub result: String,
    /// e.g. `Webhook was set`.
    pub description: Option<&'static str>,
}

impl ApiOk {
    /// `result: true`.
    pub(crate) fn yes() -> Self {
        Self::raw("true".to_owned())
    }

    /// `result: true` with a description.
    pub(crate) fn yes_with(description: &'static str) -> Self {
        Self {
            result: "true".to_owned(),
            description: Some(description),
        }
    }

    pub(crate) fn raw(result: String) -> Self {
        Self {
            result,
            description: None,
        }
    }

    pub(crate) fn json<T: serde::Serialize>(v: &T) -> Self {
        Self::raw(serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned()))
    }

    /// The whole envelope as text.
    pub(crate) fn body(&self) -> String {
        match self.description {
            Some(d) => format!(
                "{{\"ok\":true,\"result\":{},\"description\":{}}}",
                self.result,
                Value::String(d.to_owned())
            ),
            None => format!("{{\"ok\":true,\"result\":{}}}", self.result),
        }
    }
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// `error_code` and HTTP status.
    pub code: u16,
    /// Exact Telegram description.
    pub description: String,
    /// `parameters.retry_after` and the `Retry-After` header.
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub(crate) fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 `Bad Request: <what>`.
    pub(crate) fn bad_request(what: &str) -> Self {
        Self::new(400, format!("Bad Request: {what}"))
    }

    /// 400 `Bad Request: bad webhook: <why>`.
    pub(crate) fn bad_webhook(why: &str) -> Self {
        Self::bad_request(&format!("bad webhook: {why}"))
    }

    /// 409 `Conflict: <what>`.
    pub(crate) fn conflict(what: &str) -> Self {
        Self::new(409, format!("Conflict: {what}"))
    }

    /// 429 `Too Many Requests: retry after N`.
    pub(crate) fn too_many(retry_after: u32) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    /// The whole envelope as text.
    pub(crate) fn body(&self) -> String {
        let desc = Value::String(self.description.clone());
        match self.retry_after {
            Some(n) => format!(
                "{{\"ok\":false,\"error_code\":{},\"description\":{desc},\"parameters\":{{\"retry_after\":{n}}}}}",
                self.code
            ),
            None => format!(
                "{{\"ok\":false,\"error_code\":{},\"description\":{desc}}}",
                self.code
            ),
        }
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    resp
}

impl IntoResponse for ApiOk {
    fn into_response(self) -> Response {
        json_response(StatusCode::OK, self.body())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = json_response(status, self.body());
        if let Some(n) = self.retry_after.filter(|n| *n > 0)
            && let Ok(v) = HeaderValue::from_str(&n.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Result of a Bot API method.
pub(crate) type ApiResult = Result<ApiOk, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_keep_telegram_key_order() {
        assert_eq!(
            ApiOk::yes_with("Webhook was set").body(),
            r#"{"ok":true,"result":true,"description":"Webhook was set"}"#
        );
        assert_eq!(
            ApiError::too_many(1).body(),
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#
        );
    }
}
