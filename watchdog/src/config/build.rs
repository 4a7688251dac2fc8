//! Validation: raw sections → the typed [`super::WatchdogConfig`] parts, every problem
//! recorded (not just the first).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::webhook::WebhookConfig;
use telbot_shared::config::{
    ConfigError, StoreConfig, TelegramConfig, non_empty_secret, parse_http_url, parse_public_url,
};

use super::raw::{LimitSection, LimitsSection, WatchdogSection, WebhookSection};
use super::*;
use crate::schedule::Trigger;

pub(crate) struct Partial(Box<dyn FnOnce(TelegramConfig, StoreConfig) -> WatchdogConfig>);

impl Partial {
    pub(crate) fn finish(self, t: TelegramConfig, s: StoreConfig) -> WatchdogConfig {
        (self.0)(t, s)
    }
}

pub(crate) fn build(
    wd: WatchdogSection,
    wh: WebhookSection,
    hook: WebhookConfig,
    limits: LimitsSection,
    errs: &mut Vec<ConfigError>,
) -> Option<Partial> {
    // PUBLIC_URL given but not valid: WebhookConfig named it; no second "is required".
    let hook_public_set = !wh.public_url.trim().is_empty();
    let public = match &hook.public_url {
        Some(u) => Some(u.clone()),
        // Checked (and its problem recorded) by WebhookConfig when set but wrong.
        None if !hook_public_set => None,
        None => keep(
            errs,
            Err(ConfigError::invalid(
                "webhook.public_url",
                "is required: the watchdog compares the webhook to PUBLIC_URL + webhook.path",
            )),
        ),
    };
    let bot_raw = if wd.bot_url.trim().is_empty() {
        public
            .as_ref()
            .map(|u| u.as_str().to_string())
            .unwrap_or_default()
    } else {
        wd.bot_url.clone()
    };
    let bot_url = if bot_raw.trim().is_empty() {
        if public.is_none() && hook_public_set {
            None
        } else {
            keep(
                errs,
                Err(ConfigError::invalid(
                    "watchdog.bot_url",
                    "is required (BOT_URL, or PUBLIC_URL as its default)",
                )),
            )
        }
    } else {
        keep(errs, parse_http_url(&bot_raw, "watchdog.bot_url"))
    };
    let positive = |d: Duration, key: &str| {
        if d.is_zero() {
            Err(ConfigError::invalid(key, "must be more than 0"))
        } else {
            Ok(d)
        }
    };
    keep(errs, positive(wd.check_timeout, "watchdog.check_timeout"));
    keep(errs, positive(wd.http_timeout, "watchdog.http_timeout"));
    keep(errs, positive(wd.conflict_quiet, "watchdog.conflict_quiet"));
    keep(
        errs,
        positive(wd.response_p95_warn, "watchdog.response_p95_warn"),
    );
    for (key, v) in [
        ("watchdog.handled_warn_percent", wd.handled_warn_percent),
        ("watchdog.rss_warn_percent", wd.rss_warn_percent),
    ] {
        if !(v > 0.0 && v <= 100.0) {
            errs.push(ConfigError::invalid(
                key,
                format!("must be a percentage above 0 and at most 100, not {v}"),
            ));
        }
    }
    // The canary waits inside the integration run, which must keep time to report: at most
    // half of check_timeout.
    let canary_deadline =
        (!wd.canary_deadline.is_zero()).then(|| wd.canary_deadline.min(wd.check_timeout / 2));
    let reference_url = if wd.reference_url.trim().is_empty() {
        None
    } else {
        keep(
            errs,
            parse_http_url(wd.reference_url.trim(), "watchdog.reference_url"),
        )
    };
    keep(
        errs,
        positive(wd.restart.timeout, "watchdog.restart.timeout"),
    );
    keep(
        errs,
        positive(wd.recovery.max_duration, "watchdog.recovery.max_duration"),
    );
    if !(0.0..=100.0).contains(&wd.success_rate_warn) {
        keep(
            errs,
            Err::<(), ConfigError>(ConfigError::invalid(
                "watchdog.success_rate_warn",
                "must be a percent, 0-100",
            )),
        );
    }
    if wd.bot.attempts == 0 {
        keep(
            errs,
            Err::<(), ConfigError>(ConfigError::invalid(
                "watchdog.bot.attempts",
                "must be at least 1",
            )),
        );
    }
    for (v, key) in [
        (wd.recovery.max_batches, "watchdog.recovery.max_batches"),
        (
            wd.recovery.replay_attempts,
            "watchdog.recovery.replay_attempts",
        ),
        (
            wd.recovery.replay_concurrency as u32,
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
    let mode = match wd.recovery.pending.to_ascii_lowercase().as_str() {
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
    let liveness = keep(
        errs,
        Trigger::cron(&wd.schedule.liveness, "watchdog.schedule.liveness"),
    );
    let performance = keep(
        errs,
        Trigger::cron(&wd.schedule.performance, "watchdog.schedule.performance"),
    );
    let integration = keep(
        errs,
        Trigger::cron(&wd.schedule.integration, "watchdog.schedule.integration"),
    );
    let drill = if wd.schedule.drill.trim().is_empty() {
        Some(None)
    } else {
        keep(
            errs,
            Trigger::cron(&wd.schedule.drill, "watchdog.schedule.drill"),
        )
        .map(Some)
    };
    let digest = if wd.schedule.digest.trim().is_empty() {
        Some(None)
    } else {
        keep(
            errs,
            Trigger::cron(&wd.schedule.digest, "watchdog.schedule.digest"),
        )
        .map(Some)
    };
    let optional = |raw: &str, key: &str, errs: &mut Vec<ConfigError>| {
        if raw.trim().is_empty() {
            Some(None)
        } else {
            keep(errs, Trigger::cron(raw, key)).map(Some)
        }
    };
    let weekly = optional(&wd.schedule.weekly, "watchdog.schedule.weekly", errs);
    let backup = optional(&wd.schedule.backup, "watchdog.schedule.backup", errs);
    let method = restart_method(
        wd.restart.render_api_url.as_str(),
        wd.restart.render_api_key,
        &wd.restart.render_service_id,
        wd.restart.deploy_hook_url,
        &wd.restart.command,
        errs,
    );
    let limit = |l: LimitSection| Limit {
        cooldown: l.cooldown,
        max_per_hour: l.max_per_hour,
    };
    let action_limits = ActionLimits {
        set_webhook: limit(wd.actions.set_webhook),
        recovery: limit(wd.actions.recovery),
        restart: limit(wd.actions.restart),
    };
    let rss_mb = if wd.rss_limit_mb == 0 {
        limits.rss_limit_mb
    } else {
        wd.rss_limit_mb
    };
    let (public, bot_url, mode, liveness, performance, integration, method) = (
        public?,
        bot_url?,
        mode?,
        liveness?,
        performance?,
        integration?,
        method?,
    );
    let drill = drill?;
    let digest = digest?;
    let weekly = weekly?;
    let backup = backup?;
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
    let webhook = WebhookTarget {
        expected_url,
        replay_url: format!("{}{}", bot_url.as_str().trim_end_matches('/'), path),
        secret: hook.secret,
        certificate: hook.certificate,
        ip_address: hook.ip_address,
        max_connections: hook.max_connections,
        allowed_updates: hook.allowed_updates,
        backups,
        failback_after: wh.failback_after,
    };
    let thresholds = Thresholds {
        max_pending: wd.max_pending,
        error_window: wd.error_window,
        response_time_warn: wd.response_time_warn,
        success_rate_warn: wd.success_rate_warn,
        success_window: wd.success_window,
        conflict_quiet: wd.conflict_quiet,
        response_p95_warn: wd.response_p95_warn,
        handled_warn_percent: wd.handled_warn_percent,
        rss_warn_percent: wd.rss_warn_percent,
        rss_limit_bytes: rss_mb.saturating_mul(1024 * 1024),
    };
    let recovery = RecoveryConfig {
        mode,
        max_batches: wd.recovery.max_batches,
        replay_attempts: wd.recovery.replay_attempts,
        replay_concurrency: wd.recovery.replay_concurrency,
        max_duration: wd.recovery.max_duration,
    };
    let (check_timeout, http_timeout, bot_attempts, bot_interval) = (
        wd.check_timeout,
        wd.http_timeout,
        wd.bot.attempts,
        wd.bot.interval,
    );
    let restart = RestartConfig {
        method,
        timeout: wd.restart.timeout,
    };
    let act = wd.act;
    let bot_url_is_public = bot_url.origin() == public.origin();
    Some(Partial(Box::new(move |telegram, store| WatchdogConfig {
        telegram,
        store,
        bot_url,
        bot_url_is_public,
        reference_url,
        canary_deadline,
        webhook,
        thresholds,
        check_timeout,
        http_timeout,
        schedules: Schedules {
            liveness,
            performance,
            integration,
            drill,
            digest,
            weekly,
            backup,
        },
        bot_attempts,
        bot_interval,
        recovery,
        limits: action_limits,
        restart,
        act,
        bot_name: String::new(),
        backup: String::new(),
        tls: TlsConfig::default(),
        deploy: DeployWatchConfig::default(),
    })))
}

/// Keeps a value, or records its error.
pub(crate) fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

fn restart_method(
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
