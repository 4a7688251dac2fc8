//! Sending one update: a faked outcome when a [`WebhookFault`] is set,
//! otherwise a real POST (loopback hosts only; the sim never reaches
//! outside hosts and reports `Connection refused` for them), error text
//! mapping, and executing a method the webhook returns in its 2xx body.

use std::error::Error as _;
use std::sync::Arc;

use bytes::Bytes;
use http::header;

use super::{Attempt, Outcome, complete};
use crate::faults::{WebhookFault, reason_phrase, wrong_response};
use crate::methods;
use crate::params::Params;
use crate::server::record_call;
use crate::state::Shared;
use crate::webhook_url::is_loopback;

/// A 2xx answer's body, kept to run a returned method.
type Reply = Option<(Option<String>, Bytes)>;

/// Send one attempt, record the outcome, wake the planner.
pub(super) async fn run(shared: Arc<Shared>, a: Attempt) {
    let (outcome, reply) = tokio::select! {
        r = perform(&shared, &a) => r,
        () = shared.shutdown.cancelled() => return,
    };
    complete(&shared, &a, &outcome);
    shared.delivery_wake.notify_one();
    if let Some((ct, body)) = reply {
        run_reply_method(&shared, ct.as_deref(), body).await;
    }
}

fn failed(status: Option<u16>, error: &str) -> Outcome {
    Outcome::Failed {
        status,
        error: error.to_owned(),
        retry_after: None,
        record: true,
    }
}

async fn perform(shared: &Shared, a: &Attempt) -> (Outcome, Reply) {
    match a.fault {
        Some(WebhookFault::Status(code)) if (200..300).contains(&code) => {
            return (Outcome::Acked { status: code }, None);
        }
        Some(WebhookFault::Status(code)) => {
            let err = wrong_response(code, reason_phrase(code));
            return (failed(Some(code), &err), None);
        }
        Some(WebhookFault::Redirect) => {
            return (failed(Some(302), &wrong_response(302, "Found")), None);
        }
        Some(WebhookFault::Refuse) => return (failed(None, "Connection refused"), None),
        Some(WebhookFault::Hang) => {
            tokio::time::sleep(shared.config.scaled(60.0)).await;
            return (failed(None, "Read timeout expired"), None);
        }
        None => {}
    }
    if !is_loopback(&a.parsed) {
        return (failed(None, "Connection refused"), None);
    }
    let mut url = a.parsed.clone();
    let user = url.username().to_owned();
    let pass = url.password().map(str::to_owned);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut req = shared
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(a.body.clone());
    if let Some(s) = &a.secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    if !user.is_empty() {
        req = req.basic_auth(user, pass);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let code = status.as_u16();
            if status.is_success() {
                let ct = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = resp.bytes().await.unwrap_or_default();
                let reply = (!body.is_empty()).then_some((ct, body));
                return (Outcome::Acked { status: code }, reply);
            }
            let reason = resp
                .extensions()
                .get::<hyper::ext::ReasonPhrase>()
                .and_then(|r| std::str::from_utf8(r.as_bytes()).ok())
                .map(str::to_owned)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let outcome = Outcome::Failed {
                status: Some(code),
                error: wrong_response(code, &reason),
                retry_after,
                record: true,
            };
            (outcome, None)
        }
        Err(e) => {
            let (error, record) = describe(&e);
            let outcome = Outcome::Failed {
                status: None,
                error,
                retry_after: None,
                record,
            };
            (outcome, None)
        }
    }
}

/// OpenSSL 3's text as the real server reports a bad certificate.
const SSL_VERIFY_FAILED: &str =
    "SSL error {error:0A000086:SSL routines::certificate verify failed}";
/// What the real server reports when https meets a plain-http port.
const SSL_WRONG_VERSION: &str = "SSL error {error:0A00010B:SSL routines::wrong version number}";

/// Telegram's text for a transport error, and whether it becomes
/// `last_error_message` (a connection closed without an answer does not).
fn describe(e: &reqwest::Error) -> (String, bool) {
    if e.is_timeout() {
        return ("Read timeout expired".to_owned(), true);
    }
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("certificate") {
            return (SSL_VERIFY_FAILED.to_owned(), true);
        }
        if text.contains("corrupt message") || text.contains("invalidcontenttype") {
            return (SSL_WRONG_VERSION.to_owned(), true);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let text = match io.kind() {
                K::ConnectionRefused => Some("Connection refused"),
                K::ConnectionReset => Some("Connection reset by peer"),
                K::TimedOut => Some("Connection timed out"),
                K::HostUnreachable => Some("No route to host"),
                K::NetworkUnreachable => Some("Network is unreachable"),
                _ => None,
            };
            if let Some(t) = text {
                return (t.to_owned(), true);
            }
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            return ("Webhook connection closed".to_owned(), false);
        }
        src = s.source();
    }
    if e.is_connect() {
        ("Can't connect to the webhook".to_owned(), true)
    } else {
        ("Webhook connection closed".to_owned(), false)
    }
}

/// Run `{"method":…}` from a webhook's 2xx answer; the result is discarded.
async fn run_reply_method(shared: &Arc<Shared>, ct: Option<&str>, body: Bytes) {
    let Ok(params) = Params::parse(None, ct, body).await else {
        return;
    };
    let Some(name) = params.str("method") else {
        return;
    };
    let lower = name.to_ascii_lowercase();
    if ["deletewebhook", "setwebhook", "close", "logout"].contains(&lower.as_str())
        || lower.starts_with("get")
    {
        return;
    }
    let Some(m) = methods::canonical(&name) else {
        return;
    };
    record_call(shared, m, &params);
    let _ = methods::dispatch(shared, m, &params).await;
}
