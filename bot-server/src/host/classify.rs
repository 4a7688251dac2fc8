//! A handler's error as the inbox sees it: what it says (its text, the cause stored with a
//! parked update) and whether waiting cures it. The one rule is
//! [`TelegramError::is_transient`]: a teloxide [`RequestError`] is first translated into what
//! happened on the wire ([`telegram_error`]), so a 5xx, an intermediary's HTML 502/504, a
//! reset connection, a timeout or a 429 is transient through telbot's client and through
//! teloxide's `Bot` and its adaptors alike.

use std::fmt::Debug;

use telbot_shared::telegram::{TelegramError, code_of_description, error_page_status};
use teloxide::RequestError;

/// `error`'s text and whether it is transient. Understands the error types teloxide
/// programs return: `Box<dyn Error + Send + Sync>`, teloxide's `RequestError`,
/// `anyhow::Error`, and telbot's [`TelegramError`], looking through their causes; anything
/// else is described by its `Debug` and is permanent.
pub(crate) fn describe<E: Debug + 'static>(error: &E) -> (String, bool) {
    let any: &dyn std::any::Any = error;
    if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>() {
        let e: &(dyn std::error::Error + 'static) = e.as_ref();
        return (e.to_string(), chain_is_transient(e));
    }
    if let Some(e) = any.downcast_ref::<RequestError>() {
        return (e.to_string(), telegram_error(e).is_transient());
    }
    if let Some(e) = any.downcast_ref::<TelegramError>() {
        return (e.to_string(), e.is_transient());
    }
    if let Some(e) = any.downcast_ref::<anyhow::Error>() {
        let transient = e.chain().any(one_is_transient);
        return (format!("{e:#}"), transient);
    }
    (format!("{error:?}"), false)
}

/// The wait a 429 in `error` (or one of its causes) asked for, through the same error types
/// as [`describe`].
pub(crate) fn retry_after<E: Debug + 'static>(error: &E) -> Option<std::time::Duration> {
    let any: &dyn std::any::Any = error;
    let secs = if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>() {
        let e: &(dyn std::error::Error + 'static) = e.as_ref();
        std::iter::successors(Some(e), |e| e.source()).find_map(one_retry_after)
    } else if let Some(e) = any.downcast_ref::<RequestError>() {
        telegram_error(e).retry_after_secs()
    } else if let Some(e) = any.downcast_ref::<TelegramError>() {
        e.retry_after_secs()
    } else if let Some(e) = any.downcast_ref::<anyhow::Error>() {
        e.chain().find_map(one_retry_after)
    } else {
        None
    };
    secs.map(std::time::Duration::from_secs)
}

fn one_retry_after(e: &(dyn std::error::Error + 'static)) -> Option<u64> {
    if let Some(t) = e.downcast_ref::<TelegramError>() {
        return t.retry_after_secs();
    }
    e.downcast_ref::<RequestError>()
        .and_then(|r| telegram_error(r).retry_after_secs())
}

/// Whether `e` or one of its sources is a Bot API failure that waiting cures.
fn chain_is_transient(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if one_is_transient(e) {
            return true;
        }
        next = e.source();
    }
    false
}

fn one_is_transient(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(t) = e.downcast_ref::<TelegramError>() {
        return t.is_transient();
    }
    e.downcast_ref::<RequestError>()
        .is_some_and(|r| telegram_error(r).is_transient())
}

/// What a teloxide call's failure was on the wire, as telbot's client reports it. teloxide
/// keeps Telegram's description but not the status, so the status is read back from the
/// description's prefix; a body that was not JSON is an intermediary's error page when it
/// names a 5xx (or is empty); a file that could not be read is permanent.
pub(crate) fn telegram_error(e: &RequestError) -> TelegramError {
    let method = String::new();
    match e {
        RequestError::Api(api) => {
            let description = match api {
                teloxide::ApiError::Unknown(text) => text.clone(),
                known => known.to_string(),
            };
            TelegramError::Api {
                method,
                code: code_of_description(&description).unwrap_or(400),
                description,
            }
        }
        RequestError::MigrateToChatId(_) => TelegramError::Api {
            method,
            code: 400,
            description: e.to_string(),
        },
        RequestError::RetryAfter(s) => TelegramError::RetryAfter {
            method,
            retry_after: u64::from(s.seconds()),
        },
        RequestError::Network(n) if n.is_timeout() => TelegramError::Timeout { method },
        RequestError::Network(_) => TelegramError::Network {
            method,
            message: e.to_string(),
        },
        RequestError::InvalidJson { raw, .. } => match error_page_status(raw) {
            Some(code) => TelegramError::Api {
                method,
                code,
                description: format!("an error page instead of the Bot API's answer ({code})"),
            },
            None => TelegramError::InvalidResponse {
                method,
                message: e.to_string(),
            },
        },
        RequestError::Io(_) => TelegramError::InvalidResponse {
            method,
            message: e.to_string(),
        },
    }
}

/// A failure of telbot's client as Telegram's envelope would carry it: `error_code`, a
/// `description` that starts the way Telegram's do (teloxide keeps only the description, and
/// [`telegram_error`] reads the status back from its prefix), and `retry_after`. Both ways
/// telbot hands a failure to teloxide (the gateway's answer, `SendIgnoringResult`'s error) use
/// it, so the class survives the trip.
pub(crate) fn wire_failure(e: &TelegramError) -> (u16, String, Option<u64>) {
    match e {
        TelegramError::Api {
            code, description, ..
        } => {
            let description = if code_of_description(description).is_some() {
                description.clone()
            } else {
                // An intermediary's page ("HTTP 502: <html>…"): its status leads.
                let reason = http::StatusCode::from_u16(*code)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("Bad Request");
                format!("{reason}: {description}")
            };
            (*code, description, None)
        }
        TelegramError::RetryAfter { retry_after, .. } => (
            429,
            format!("Too Many Requests: retry after {retry_after}"),
            Some(*retry_after),
        ),
        TelegramError::Network { message, .. } => (502, format!("Bad Gateway: {message}"), None),
        TelegramError::Timeout { .. } => (
            504,
            "Gateway Timeout: the Bot API did not answer in time".into(),
            None,
        ),
        TelegramError::InvalidResponse { message, .. } => (
            400,
            format!("Bad Request: an invalid response from the Bot API: {message}"),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use teloxide::ApiError;
    use teloxide::types::Seconds;

    use super::*;

    type Boxed = Box<dyn std::error::Error + Send + Sync>;

    fn invalid_json(raw: &str) -> RequestError {
        let source = serde_json::from_str::<serde_json::Value>("<")
            .err()
            .unwrap_or_else(|| unreachable!());
        RequestError::InvalidJson {
            source: Arc::new(source),
            raw: raw.into(),
        }
    }

    fn transient<E: Debug + 'static>(e: E) -> bool {
        describe(&e).1
    }

    #[test]
    fn teloxide_errors_are_classified_by_what_happened() {
        let five = || RequestError::Api(ApiError::Unknown("Internal Server Error: restart".into()));
        assert!(transient(five()));
        assert!(transient(RequestError::RetryAfter(Seconds::from_seconds(
            3
        ))));
        assert!(transient(invalid_json(
            "<html><title>502 Bad Gateway</title></html>"
        )));
        assert!(transient(invalid_json("")));
        assert!(!transient(invalid_json("{\"ok\":true,\"result\":{}}")));
        assert!(!transient(RequestError::Api(ApiError::BotBlocked)));
        assert!(!transient(RequestError::Api(ApiError::ChatNotFound)));
        assert!(!transient(RequestError::Io(Arc::new(
            std::io::Error::other("no file")
        ))));
        // The same errors boxed, and inside anyhow, keep their class.
        assert!(transient(Boxed::from(five())));
        assert!(transient(
            anyhow::Error::from(five()).context("sending the answer")
        ));
        assert!(!transient(Boxed::from(RequestError::Api(
            ApiError::BotBlocked
        ))));
    }

    #[test]
    fn a_failure_keeps_its_class_on_the_wire() {
        let m = || "sendMessage".to_string();
        let cases = [
            TelegramError::Api {
                method: m(),
                code: 502,
                description: "HTTP 502: <html>".into(),
            },
            TelegramError::Api {
                method: m(),
                code: 500,
                description: "Internal Server Error".into(),
            },
            TelegramError::Api {
                method: m(),
                code: 403,
                description: "Forbidden: bot was blocked by the user".into(),
            },
            TelegramError::RetryAfter {
                method: m(),
                retry_after: 2,
            },
            TelegramError::Network {
                method: m(),
                message: "reset".into(),
            },
            TelegramError::Timeout { method: m() },
            TelegramError::InvalidResponse {
                method: m(),
                message: "x".into(),
            },
        ];
        for e in cases {
            let (code, description, _) = wire_failure(&e);
            let back = TelegramError::Api {
                method: m(),
                code: code_of_description(&description).unwrap_or(400),
                description,
            };
            assert_eq!(back.is_transient(), e.is_transient(), "{e}");
            assert_eq!(code_of_description(&wire_failure(&e).1), Some(code), "{e}");
        }
    }

    #[test]
    fn telbot_errors_and_other_types() {
        let api = |code| TelegramError::Api {
            method: "sendMessage".into(),
            code,
            description: "x".into(),
        };
        assert!(transient(Boxed::from(api(502))));
        assert!(transient(api(500)));
        assert!(!transient(Boxed::from(api(403))));
        assert!(!transient(Boxed::from("a handler's own error")));
        let (text, t) = describe(&"plain".to_string());
        assert_eq!(
            (text.as_str(), t),
            ("\"plain\"", false),
            "Debug of an unknown type"
        );
        let (text, _) = describe(&Boxed::from("it broke"));
        assert_eq!(text, "it broke");
    }
}
