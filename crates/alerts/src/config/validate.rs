//! The checks of [`super::AlertsConfig::from_section`], one function per channel or group of
//! settings; each records every problem in `errs` and gives `None` when a value it returns
//! is wrong.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, non_empty_secret, parse_http_url};
use url::Url;

use super::{AlertsSection, MaintenanceWindow, checked_url, keep, key, parse_rfc3339, positive};
use crate::notify::email::{SmtpSettings, parse_mailbox};

/// The sender, the recipients and the escalation recipients, checked when e-mail is
/// configured (SMTP or Resend).
pub(super) fn email(
    s: &AlertsSection,
    errs: &mut Vec<ConfigError>,
) -> Option<(String, Vec<String>, Vec<String>)> {
    let email_to = s.email_to.items();
    let email_from = s.email_from.trim().to_string();
    let wants_email = non_empty_secret(s.smtp_url.clone()).is_some()
        || non_empty_secret(s.resend_api_key.clone()).is_some();
    let mailbox = |k: &str, v: &str, errs: &mut Vec<ConfigError>| {
        if let Err(p) = parse_mailbox(v) {
            errs.push(ConfigError::invalid(k, p));
        }
    };
    if wants_email {
        if email_from.is_empty() {
            errs.push(ConfigError::invalid(
                "alerts.email_from",
                "is required when e-mail alerts are configured",
            ));
        } else {
            mailbox("alerts.email_from", &email_from, errs);
        }
        if email_to.is_empty() {
            errs.push(ConfigError::invalid(
                "alerts.email_to",
                "needs at least one recipient when e-mail alerts are configured",
            ));
        }
        for to in &email_to {
            mailbox("alerts.email_to", to, errs);
        }
    }
    let escalation_email_to = s.escalation_email_to.items();
    if !escalation_email_to.is_empty() && !wants_email {
        errs.push(ConfigError::invalid(
            "alerts.escalation_email_to",
            "needs e-mail configured (alerts.smtp_url or alerts.resend_api_key)",
        ));
    }
    for to in &escalation_email_to {
        mailbox("alerts.escalation_email_to", to, errs);
    }
    Some((email_from, email_to, escalation_email_to))
}

/// The SMTP relay (`alerts.smtp_url` and friends); `Some(None)` when not configured.
pub(super) fn smtp(s: &AlertsSection, errs: &mut Vec<ConfigError>) -> Option<Option<SmtpSettings>> {
    let Some(url) = non_empty_secret(s.smtp_url.clone()) else {
        return Some(None);
    };
    let ca = match s.smtp_ca_file.trim() {
        "" => None,
        p => Some(PathBuf::from(p)),
    };
    keep(
        errs,
        SmtpSettings::parse(&url, ca, s.smtp_accept_invalid_certs, s.send_timeout),
    )
    .map(Some)
}

/// The alert bot: its token, chat and Bot API base.
pub(super) fn telegram(
    s: &AlertsSection,
    errs: &mut Vec<ConfigError>,
) -> Option<(Option<SecretString>, String, Url)> {
    let token = non_empty_secret(s.telegram_alert_token.clone());
    let chat = s.telegram_alert_chat_id.trim().to_string();
    if let Some(t) = &token {
        if !telbot_shared::config::looks_like_token(t.expose_secret()) {
            errs.push(ConfigError::invalid(
                "alerts.telegram_alert_token",
                "is not a bot token (expected <digits>:<secret>)",
            ));
        }
        if chat.is_empty() {
            errs.push(ConfigError::invalid(
                "alerts.telegram_alert_chat_id",
                "is required when telegram_alert_token is set",
            ));
        }
    }
    let api = keep(
        errs,
        parse_http_url(&s.telegram_api_url, &key("telegram_api_url")),
    )?;
    Some((token, chat, api))
}

/// The generic webhook: its URL (a secret) and template.
pub(super) fn webhook(
    s: &AlertsSection,
    errs: &mut Vec<ConfigError>,
) -> Option<(Option<SecretString>, String)> {
    let url = keep(
        errs,
        checked_url(non_empty_secret(s.webhook_url.clone()), "webhook_url"),
    );
    let template = s.webhook_template.trim().to_string();
    if !template.is_empty()
        && let Err(p) = crate::notify::webhook::check_template(&template)
    {
        errs.push(ConfigError::invalid(&key("webhook_template"), p));
    }
    Some((url?, template))
}

/// Timeouts, retry delays and thresholds.
pub(super) fn timings(s: &AlertsSection, errs: &mut Vec<ConfigError>) {
    for (d, k) in [
        (s.send_timeout, "send_timeout"),
        (s.repeat_interval, "repeat_interval"),
        (s.retry_base, "retry_base"),
        (s.heartbeat_timeout, "heartbeat_timeout"),
    ] {
        keep(errs, positive(d, k));
    }
    if s.retry_max < s.retry_base {
        errs.push(ConfigError::invalid(
            &key("retry_max"),
            "must not be shorter than alerts.retry_base",
        ));
    }
    for (v, k) in [
        (s.failure_threshold, "failure_threshold"),
        (s.success_threshold, "success_threshold"),
        (s.channel_failing_after, "channel_failing_after"),
    ] {
        if v == 0 {
            errs.push(ConfigError::invalid(&key(k), "must be at least 1"));
        }
    }
}

/// `[[alerts.maintenance]]` windows.
pub(super) fn maintenance(
    s: &AlertsSection,
    errs: &mut Vec<ConfigError>,
) -> Vec<MaintenanceWindow> {
    let mut out = Vec::new();
    for (i, m) in s.maintenance.iter().enumerate() {
        let start = keep(
            errs,
            parse_rfc3339(&m.start, &format!("alerts.maintenance[{i}].start")),
        );
        let end = keep(
            errs,
            parse_rfc3339(&m.end, &format!("alerts.maintenance[{i}].end")),
        );
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        if end <= start {
            errs.push(ConfigError::invalid(
                &format!("alerts.maintenance[{i}].end"),
                "must be after start",
            ));
            continue;
        }
        out.push(MaintenanceWindow {
            start,
            end,
            incidents: m.incidents.clone(),
            reason: m.reason.clone(),
        });
    }
    out
}
