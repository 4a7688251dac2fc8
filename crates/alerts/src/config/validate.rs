//! The checks of [`super::AlertsConfig::from_section`], one function per channel or group of
//! settings; each records every problem in `errs` and gives `None` when a value it returns
//! is wrong.

use std::path::PathBuf;

use telbot_shared::config::{ConfigError, non_empty_secret};

use super::{AlertsSection, MaintenanceWindow, key, parse_rfc3339, positive};
use crate::checks::keep;
use crate::notify::email::{SmtpSettings, parse_mailbox};

/// The sender, the recipients and the escalation recipients, checked when e-mail is
/// configured (SMTP or Resend).
pub(super) fn email(
    s: &AlertsSection,
    errs: &mut Vec<ConfigError>,
) -> (String, Vec<String>, Vec<String>) {
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
    (email_from, email_to, escalation_email_to)
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
