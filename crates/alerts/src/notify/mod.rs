//! Channels: the [`Notifier`] trait and one module per provider. Every provider is reached
//! through an injected URL; every send is bounded by a timeout (the HTTP client's and the
//! pipeline's own around it).

pub mod discord;
pub mod email;
pub mod pagerduty;
pub mod resend;
pub mod slack;
pub mod telegram;
pub mod webhook;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::config::AlertsConfig;
use crate::error::AlertError;
pub use crate::render::Message;

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
pub struct Escalation {
    name: String,
    inner: Box<dyn Notifier>,
}

impl Escalation {
    /// Wraps `inner` as the escalation channel `escalation-<inner name>`.
    pub fn new(inner: Box<dyn Notifier>) -> Self {
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

/// The HTTP client the webhook channels share: the send timeout, no redirects (a webhook
/// URL is a credential and is not handed to another host).
pub fn http_client(cfg: &AlertsConfig) -> Result<reqwest::Client, AlertError> {
    reqwest::Client::builder()
        .timeout(cfg.send_timeout)
        .connect_timeout(cfg.send_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("telbot-watchdog/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AlertError::Setup(format!("http client: {e}")))
}

/// Every channel the config enables, in a fixed order: email, resend, slack, discord,
/// pagerduty, telegram, webhook, then the escalation channels (escalation-email or escalation-resend).
pub fn from_config(cfg: &AlertsConfig) -> Result<Vec<Arc<dyn Notifier>>, AlertError> {
    let client = http_client(cfg)?;
    let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
    if let Some(smtp) = &cfg.smtp {
        out.push(Arc::new(email::EmailNotifier::new(
            smtp,
            &cfg.email_from,
            &cfg.email_to,
        )?));
    }
    if let Some(key) = &cfg.resend_api_key {
        out.push(Arc::new(resend::ResendNotifier::new(
            client.clone(),
            &cfg.resend_api_url,
            key.clone(),
            &cfg.email_from,
            &cfg.email_to,
        )));
    }
    if let Some(url) = &cfg.slack_webhook_url {
        out.push(Arc::new(slack::SlackNotifier::new(
            client.clone(),
            url.clone(),
        )));
    }
    if let Some(url) = &cfg.discord_webhook_url {
        out.push(Arc::new(discord::DiscordNotifier::new(
            client.clone(),
            url.clone(),
        )));
    }
    if let Some(key) = &cfg.pagerduty_routing_key {
        out.push(Arc::new(pagerduty::PagerDutyNotifier::new(
            client.clone(),
            cfg.pagerduty_url.clone(),
            key.clone(),
            &cfg.bot_name,
        )));
    }
    if let Some(token) = &cfg.telegram_alert_token {
        out.push(Arc::new(telegram::TelegramNotifier::new(
            client.clone(),
            &cfg.telegram_api_url,
            token.clone(),
            &cfg.telegram_alert_chat_id,
        )));
    }
    if let Some(url) = &cfg.webhook_url {
        out.push(Arc::new(webhook::WebhookNotifier::new(
            client.clone(),
            url.clone(),
            &cfg.webhook_template,
            &cfg.bot_name,
        )));
    }
    let to = &cfg.escalation_email_to;
    if !to.is_empty() {
        // The same relay (or Resend account), other recipients.
        let inner: Box<dyn Notifier> = match (&cfg.smtp, &cfg.resend_api_key) {
            (Some(smtp), _) => Box::new(email::EmailNotifier::new(smtp, &cfg.email_from, to)?),
            (None, Some(key)) => Box::new(resend::ResendNotifier::new(
                client,
                &cfg.resend_api_url,
                key.clone(),
                &cfg.email_from,
                to,
            )),
            (None, None) => {
                return Err(AlertError::Setup(
                    "alerts.escalation_email_to needs alerts.smtp_url or alerts.resend_api_key"
                        .into(),
                ));
            }
        };
        out.push(Arc::new(Escalation::new(inner)));
    }
    Ok(out)
}

/// `base` + `/` + `path`, keeping any path prefix of `base`.
pub(crate) fn join_url(base: &url::Url, path: &str) -> url::Url {
    let mut u = base.clone();
    let joined = format!("{}/{}", u.path().trim_end_matches('/'), path);
    u.set_path(&joined);
    u
}

/// At most `max` characters, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
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
