//! Channels: the [`Notifier`] trait and one module per provider. Every provider is reached
//! through an injected URL; every send is bounded by a timeout (the HTTP client's and the
//! pipeline's own around it).

pub(crate) mod discord;
pub(crate) mod email;
pub(crate) mod json_post;
pub(crate) mod pagerduty;
pub(crate) mod resend;
pub(crate) mod slack;
pub(crate) mod sms;
pub(crate) mod telegram;
pub(crate) mod webhook;

use futures::future::BoxFuture;

use crate::error::AlertError;
pub(crate) use crate::render::{Message, truncate};

/// One way to reach people.
pub trait Notifier: Send + Sync {
    /// The channel name used in the outbox and in reports: `email`, `resend`, `slack`, ….
    fn name(&self) -> &str;
    /// Whether warnings go here (chat channels) or only critical and resolved (e-mail).
    fn takes_warnings(&self) -> bool;
    /// Delivers one message. Errors must not contain secrets (the caller redacts again).
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>>;
    /// Whether this channel only takes escalations (and the RESOLVED of an escalated
    /// incident), not every incident message.
    fn escalation_only(&self) -> bool {
        false
    }
}

/// An escalation channel (`alerts.escalation_*`): another channel under its own name
/// (`escalation-email`), taking only escalations.
pub(crate) struct Escalation {
    name: String,
    inner: Box<dyn Notifier>,
}

impl Escalation {
    /// Wraps `inner` as the escalation channel `escalation-<inner name>`.
    pub(crate) fn new(inner: Box<dyn Notifier>) -> Self {
        Escalation {
            name: format!("escalation-{}", inner.name()),
            inner,
        }
    }
}

impl Notifier for Escalation {
    fn name(&self) -> &str {
        &self.name
    }

    fn takes_warnings(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        self.inner.send(msg)
    }

    fn escalation_only(&self) -> bool {
        true
    }
}

/// `base` + `/` + `path`, keeping any path prefix of `base`.
pub(crate) fn join_url(base: &url::Url, path: &str) -> url::Url {
    let mut u = base.clone();
    let joined = format!("{}/{}", u.path().trim_end_matches('/'), path);
    u.set_path(&joined);
    u
}

/// Maps an HTTP answer to Ok (2xx) or a send error with the status and a short body. The
/// request URL is stripped from transport errors (webhook URLs are credentials).
pub(crate) async fn http_error(
    channel: &str,
    r: Result<reqwest::Response, reqwest::Error>,
) -> Result<(), AlertError> {
    let resp = r.map_err(|e| AlertError::send(channel, e.without_url().to_string()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    Err(AlertError::send(
        channel,
        format!("HTTP {}: {}", status.as_u16(), truncate(body.trim(), 200)),
    ))
}
