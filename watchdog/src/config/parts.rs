//! The watchdog's config, one part per function: its schedules, its recovery, the webhook it
//! keeps, how it restarts the bot. Each records every problem in `errs` (`None` when a value
//! it needs is wrong); [`super::build::build`] puts the parts together.

use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::webhook::WebhookConfig;
use telbot_shared::config::{ConfigError, non_empty_secret, parse_http_url, parse_public_url};
use url::Url;

use super::build::keep;
use super::raw::{RecoverySection, ScheduleSection, WebhookSection};
use super::*;
use crate::schedule::Trigger;

/// `[watchdog.schedule]`: every trigger a 6-field cron; the optional ones empty for off.
pub(super) fn schedules(sc: &ScheduleSection, errs: &mut Vec<ConfigError>) -> Option<Schedules> {
    let liveness = keep(
        errs,
        Trigger::cron(&sc.liveness, "watchdog.schedule.liveness"),
    );
    let performance = keep(
        errs,
        Trigger::cron(&sc.performance, "watchdog.schedule.performance"),
    );
    let integration = keep(
        errs,
        Trigger::cron(&sc.integration, "watchdog.schedule.integration"),
    );
    let drill = if sc.drill.trim().is_empty() {
        Some(None)
    } else {
        keep(errs, Trigger::cron(&sc.drill, "watchdog.schedule.drill")).map(Some)
    };
    let digest = if sc.digest.trim().is_empty() {
        Some(None)
    } else {
        keep(errs, Trigger::cron(&sc.digest, "watchdog.schedule.digest")).map(Some)
    };
    let optional = |raw: &str, key: &str, errs: &mut Vec<ConfigError>| {
        if raw.trim().is_empty() {
            Some(None)
        } else {
            keep(errs, Trigger::cron(raw, key)).map(Some)
        }
    };
    let weekly = optional(&sc.weekly, "watchdog.schedule.weekly", errs);
    let backup = optional(&sc.backup, "watchdog.schedule.backup", errs);
    Some(Schedules {
        liveness: liveness?,
        performance: performance?,
        integration: integration?,
        drill: drill?,
        digest: digest?,
        weekly: weekly?,
        backup: backup?,
    })
}

/// `[watchdog.recovery]`.
pub(super) fn recovery(
    rc: &RecoverySection,
    errs: &mut Vec<ConfigError>,
) -> Option<RecoveryConfig> {
    for (v, key) in [
        (rc.max_batches, "watchdog.recovery.max_batches"),
        (rc.replay_attempts, "watchdog.recovery.replay_attempts"),
        (
            rc.replay_concurrency as u32,
            "watchdog.recovery.replay_concurrency",
        ),
    ] {
        if v == 0 {
            keep(
                errs,
                Err::<(), ConfigError>(ConfigError::invalid(key, "must be at least 1")),
            );
        }
    }
    let mode = match rc.pending.to_ascii_lowercase().as_str() {
        "lossless" => Some(PendingMode::Lossless),
        "drop" => Some(PendingMode::Drop),
        other => keep(
            errs,
            Err(ConfigError::invalid(
                "watchdog.recovery.pending",
                format!("must be \"lossless\" or \"drop\", got {other:?}"),
            )),
        ),
    };
    Some(RecoveryConfig {
        mode: mode?,
        max_batches: rc.max_batches,
        replay_attempts: rc.replay_attempts,
        replay_concurrency: rc.replay_concurrency,
        max_duration: rc.max_duration,
    })
}

/// The webhook as it should be registered: `[webhook]`'s shared keys, the URL the bot is
/// replayed to, and the backup URLs for a failover.
pub(super) fn webhook_target(
    public: &Url,
    bot_url: &Url,
    hook: WebhookConfig,
    wh: &WebhookSection,
    errs: &mut Vec<ConfigError>,
) -> WebhookTarget {
    let path = hook.path.clone();
    let expected_url = format!("{}{}", public.as_str().trim_end_matches('/'), path);
    let mut backups = Vec::new();
    for (i, raw) in wh.backup_urls.iter().enumerate() {
        let key = format!("webhook.backup_urls[{i}]");
        let Some(url) = keep(errs, parse_public_url(raw, &key)) else {
            continue;
        };
        let base = url.as_str().trim_end_matches('/').to_string();
        let backup = Backup {
            webhook_url: format!("{base}{path}"),
            health_url: format!("{base}/health"),
            base,
        };
        if backup.webhook_url == expected_url || backups.contains(&backup) {
            keep(
                errs,
                Err::<(), ConfigError>(ConfigError::invalid(
                    &key,
                    "is the primary (webhook.public_url) or another backup again",
                )),
            );
            continue;
        }
        backups.push(backup);
    }
    if !backups.is_empty() && wh.failback_after.is_zero() {
        keep(
            errs,
            Err::<(), ConfigError>(ConfigError::invalid(
                "webhook.failback_after",
                "must be more than 0 s when webhook.backup_urls is set",
            )),
        );
    }
    WebhookTarget {
        expected_url,
        replay_url: format!("{}{}", bot_url.as_str().trim_end_matches('/'), path),
        secret: hook.secret,
        certificate: hook.certificate,
        ip_address: hook.ip_address,
        max_connections: hook.max_connections,
        allowed_updates: hook.allowed_updates,
        backups,
        failback_after: wh.failback_after,
    }
}

pub(super) fn restart_method(
    api_url: &str,
    key: Option<SecretString>,
    service_id: &str,
    hook: Option<SecretString>,
    command: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<Option<RestartMethod>> {
    let key = non_empty_secret(key);
    let service_id = service_id.trim();
    match (key, service_id.is_empty()) {
        (Some(api_key), false) => {
            let api_url = match parse_http_url(api_url, "watchdog.restart.render_api_url") {
                Ok(u) => u,
                Err(e) => {
                    errs.push(e);
                    return None;
                }
            };
            return Some(Some(RestartMethod::Render {
                api_url,
                api_key,
                service_id: service_id.to_string(),
            }));
        }
        (Some(_), true) => {
            errs.push(ConfigError::invalid(
                "watchdog.restart.render_service_id",
                "is required when RENDER_API_KEY is set",
            ));
            return None;
        }
        (None, false) => {
            errs.push(ConfigError::invalid(
                "watchdog.restart.render_api_key",
                "is required when RENDER_SERVICE_ID is set",
            ));
            return None;
        }
        (None, true) => {}
    }
    if let Some(hook) = non_empty_secret(hook) {
        if parse_http_url(hook.expose_secret(), "watchdog.restart.deploy_hook_url").is_err() {
            // The URL holds a key: name the key, not the value.
            errs.push(ConfigError::invalid(
                "watchdog.restart.deploy_hook_url",
                "is not an http(s) URL",
            ));
            return None;
        }
        return Some(Some(RestartMethod::DeployHook(hook)));
    }
    if !command.trim().is_empty() {
        return Some(Some(RestartMethod::Command(command.trim().to_string())));
    }
    Some(None)
}
