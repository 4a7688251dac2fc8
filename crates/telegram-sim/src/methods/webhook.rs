//! setWebhook, deleteWebhook and getWebhookInfo (reference §2).
//!
//! A certificate counts only when uploaded as a file (multipart, or `attach://<part>`); a
//! string is ignored, as Telegram does. Not simulated: the certificate's contents, delivery
//! to a fixed `ip_address` (it is checked, kept and shown, but the sim delivers to the URL's
//! loopback host), the 409 "terminated by other setWebhook" race (setWebhook answers
//! synchronously here).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::api::{ApiError, ApiOk, ApiResult};
use crate::params::Params;
use crate::queue::{UPDATE_TYPES, is_allowed};
use crate::state::{Shared, State, Wake, Webhook};
use crate::webhook_url;

const SET_WEBHOOK_CONFLICT: &str = "Conflict: terminated by setWebhook request";

/// getWebhookInfo's result; optional keys are left out exactly as Telegram does.
#[derive(Debug, Serialize)]
pub(crate) struct WebhookInfo {
    url: String,
    has_custom_certificate: bool,
    pending_update_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_updates: Option<Vec<String>>,
}

/// Build getWebhookInfo from the state (expired updates are collected first).
pub(crate) fn webhook_info(st: &mut State) -> WebhookInfo {
    st.gc();
    let wh = st.webhook.as_ref();
    WebhookInfo {
        url: wh.map(|w| w.url.clone()).unwrap_or_default(),
        has_custom_certificate: wh.is_some_and(|w| w.has_custom_certificate),
        pending_update_count: st.queue.len(),
        last_error_date: st.last_error.as_ref().map(|e| e.0),
        last_error_message: st.last_error.as_ref().map(|e| e.1.clone()),
        max_connections: wh.map(|w| w.max_connections),
        ip_address: wh.map(|w| w.ip_address.clone().unwrap_or_else(|| "127.0.0.1".into())),
        allowed_updates: st.allowed_updates.clone(),
    }
}

/// getWebhookInfo as a JSON value (for [`crate::Sim::webhook_info`]).
pub(crate) fn webhook_info_value(st: &mut State) -> Value {
    serde_json::to_value(webhook_info(st)).unwrap_or(Value::Null)
}

pub(super) fn get_webhook_info(shared: &Arc<Shared>) -> ApiOk {
    let info = webhook_info(&mut shared.lock());
    ApiOk::json(&info)
}

/// `allowed_updates`: `None` = invalid (keep the previous setting),
/// `Some(None)` = the default set, `Some(Some(list))` = canonical order.
pub(crate) fn parse_allowed(v: &Value) -> Option<Option<Vec<String>>> {
    let arr = v.as_array()?;
    let names: Vec<String> = UPDATE_TYPES
        .iter()
        .filter(|t| arr.iter().any(|x| x.as_str() == Some(**t)))
        .map(|t| (*t).to_owned())
        .collect();
    let is_default = names.is_empty()
        || (names.len() == UPDATE_TYPES.iter().filter(|t| is_allowed(t, None)).count()
            && names.iter().all(|n| is_allowed(n, None)));
    Some(if is_default { None } else { Some(names) })
}

/// setWebhook (and deleteWebhook, which is setWebhook with an empty url).
pub(super) fn set_webhook(shared: &Arc<Shared>, p: &Params, is_delete: bool) -> ApiResult {
    let url_raw = if is_delete {
        String::new()
    } else {
        p.str("url").unwrap_or_default()
    };
    let drop_pending = p.bool("drop_pending_updates");
    let max_connections = p
        .i64("max_connections")
        .map(|n| n.clamp(1, 100))
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(40);
    let secret = p.str("secret_token").filter(|s| !s.is_empty());
    let cert_size = if url_raw.is_empty() {
        None
    } else {
        p.file_size("certificate")
    };
    if let Some(n) = cert_size.filter(|n| *n > 3 << 20) {
        return Err(ApiError::bad_request(&format!(
            "certificate size is too big ({n} bytes)"
        )));
    }
    let has_cert = cert_size.is_some();
    let ip_address = p.str("ip_address").filter(|s| !s.is_empty());
    let allowed = p.json("allowed_updates").and_then(|v| parse_allowed(&v));

    let mut st = shared.lock();
    let now = Instant::now();
    if !url_raw.is_empty() && shared.config.set_webhook_rate_limit {
        if st.next_set_webhook_at.is_some_and(|t| now < t) {
            return Err(ApiError::too_many(1));
        }
        st.next_set_webhook_at = Some(now + Duration::from_secs(1));
    }

    let unchanged = match &st.webhook {
        None => url_raw.is_empty() && !drop_pending,
        Some(w) => {
            w.url == url_raw
                && !drop_pending
                && !has_cert
                && !w.has_custom_certificate
                && w.max_connections == max_connections
                && w.secret == secret
                && w.ip_address == ip_address
        }
    };
    if unchanged {
        if let Some(a) = allowed {
            st.allowed_updates = a;
        }
        return Ok(ApiOk::yes_with(if url_raw.is_empty() {
            "Webhook is already deleted"
        } else {
            "Webhook is already set"
        }));
    }

    if !url_raw.is_empty() {
        st.wake_long_poll(Wake::Aborted(SET_WEBHOOK_CONFLICT));
    }
    let had_webhook = st.webhook.take().is_some();
    st.last_error = None;
    st.new_delivery_epoch();
    if drop_pending {
        st.queue.clear();
    }
    shared.delivery_wake.notify_one();
    if url_raw.is_empty() {
        return Ok(ApiOk::yes_with(if had_webhook {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }));
    }
    let parsed = webhook_url::parse(&url_raw)?;
    if let Some(s) = &secret {
        webhook_url::check_secret(s)?;
    }
    if let Some(ip) = &ip_address {
        webhook_url::check_ip_address(ip, shared.config.allow_http_loopback)?;
    }
    if let Some(a) = allowed {
        st.allowed_updates = a;
    }
    webhook_url::verify(&parsed, shared.config.allow_http_loopback)?;
    st.webhook = Some(Webhook {
        url: url_raw,
        parsed,
        secret,
        max_connections,
        has_custom_certificate: has_cert,
        ip_address,
    });
    Ok(ApiOk::yes_with("Webhook was set"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn allowed_updates_parsing() {
        assert_eq!(parse_allowed(&json!("x")), None);
        assert_eq!(parse_allowed(&json!([])), Some(None));
        assert_eq!(parse_allowed(&json!(["bogus"])), Some(None));
        assert_eq!(
            parse_allowed(&json!(["callback_query", "message", "bogus"])),
            Some(Some(vec![
                "message".to_owned(),
                "callback_query".to_owned()
            ]))
        );
    }
}
