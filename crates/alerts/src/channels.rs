//! The channels a validated alerts config enables, built once: the seam between the config
//! (which validates with the channels' own parsers) and the channels themselves.

use std::sync::Arc;

use crate::config::AlertsConfig;
use crate::error::AlertError;
use crate::notify::{Escalation, Notifier};

/// The HTTP client the webhook channels share: the send timeout, no redirects (a webhook
/// URL is a credential and is not handed to another host).
pub(crate) fn http_client(cfg: &AlertsConfig) -> Result<reqwest::Client, AlertError> {
    reqwest::Client::builder()
        .timeout(cfg.send_timeout)
        .connect_timeout(cfg.send_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("telbot-watchdog/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AlertError::Setup(format!("http client: {e}")))
}

/// Every channel the config enables, in a fixed order: email, resend, slack, discord,
/// pagerduty, telegram, webhook, sms, then the escalation channels (escalation-email or escalation-resend).
pub(crate) fn from_config(cfg: &AlertsConfig) -> Result<Vec<Arc<dyn Notifier>>, AlertError> {
    let client = http_client(cfg)?;
    let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
    if let Some(smtp) = &cfg.smtp {
        out.push(Arc::new(crate::notify::email::EmailNotifier::new(
            smtp,
            &cfg.email_from,
            &cfg.email_to,
        )?));
    }
    if let Some(r) = &cfg.resend {
        out.push(Arc::new(crate::notify::resend::ResendNotifier::new(
            client.clone(),
            &r.api_url,
            r.api_key.clone(),
            &cfg.email_from,
            &cfg.email_to,
        )));
    }
    if let Some(url) = &cfg.slack_webhook_url {
        out.push(Arc::new(crate::notify::slack::notifier(
            client.clone(),
            url.clone(),
        )));
    }
    if let Some(url) = &cfg.discord_webhook_url {
        out.push(Arc::new(crate::notify::discord::notifier(
            client.clone(),
            url.clone(),
        )));
    }
    if let Some(p) = &cfg.pagerduty {
        out.push(Arc::new(crate::notify::pagerduty::PagerDutyNotifier::new(
            client.clone(),
            p.url.clone(),
            p.routing_key.clone(),
            &cfg.bot_name,
        )));
    }
    if let Some(t) = &cfg.telegram {
        out.push(Arc::new(crate::notify::telegram::TelegramNotifier::new(
            client.clone(),
            &t.api_url,
            t.token.clone(),
            &t.chat_id,
        )));
    }
    if let Some(w) = &cfg.webhook {
        out.push(Arc::new(crate::notify::webhook::WebhookNotifier::new(
            client.clone(),
            w.url.clone(),
            &w.template,
            &cfg.bot_name,
        )));
    }
    if let Some(twilio) = &cfg.twilio {
        out.push(Arc::new(crate::notify::sms::SmsNotifier::new(
            client.clone(),
            twilio,
        )));
    }
    let to = &cfg.escalation_email_to;
    if !to.is_empty() {
        // The same relay (or Resend account), other recipients.
        let inner: Box<dyn Notifier> = match (&cfg.smtp, &cfg.resend) {
            (Some(smtp), _) => Box::new(crate::notify::email::EmailNotifier::new(
                smtp,
                &cfg.email_from,
                to,
            )?),
            (None, Some(r)) => Box::new(crate::notify::resend::ResendNotifier::new(
                client,
                &r.api_url,
                r.api_key.clone(),
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
