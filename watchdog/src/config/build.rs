//! Validation: raw sections → the typed [`super::WatchdogConfig`] parts, every problem
//! recorded (not just the first).

use std::time::Duration;

use telbot_shared::config::webhook::WebhookConfig;
use telbot_shared::config::{ConfigError, StoreConfig, TelegramConfig, parse_http_url};

use super::raw::{LimitSection, LimitsSection, WatchdogSection, WebhookSection};
use super::*;

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
    let (public, bot_url) = urls(&wd, &wh, &hook, errs);
    check_values(&wd, errs);
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
    let recovery = parts::recovery(&wd.recovery, errs);
    let schedules = parts::schedules(&wd.schedule, errs);
    let action_limits = action_limits(&wd);
    let thresholds = thresholds(&wd, &limits);
    let method = parts::restart_method(
        wd.restart.render_api_url.as_str(),
        wd.restart.render_api_key,
        &wd.restart.render_service_id,
        wd.restart.deploy_hook_url,
        &wd.restart.command,
        errs,
    );
    let (public, bot_url, recovery, schedules, method) =
        (public?, bot_url?, recovery?, schedules?, method?);
    let webhook = parts::webhook_target(&public, &bot_url, hook, &wh, errs);
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
        schedules,
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

/// `[watchdog.actions]`: each action's cooldown and hourly cap.
fn action_limits(wd: &WatchdogSection) -> ActionLimits {
    let limit = |l: &LimitSection| Limit {
        cooldown: l.cooldown,
        max_per_hour: l.max_per_hour,
    };
    ActionLimits {
        set_webhook: limit(&wd.actions.set_webhook),
        recovery: limit(&wd.actions.recovery),
        restart: limit(&wd.actions.restart),
    }
}

/// The checks' levels; the RSS limit is bot-server's `limits.rss_limit_mb` unless the
/// watchdog's own is set.
fn thresholds(wd: &WatchdogSection, limits: &LimitsSection) -> Thresholds {
    let rss_mb = if wd.rss_limit_mb == 0 {
        limits.rss_limit_mb
    } else {
        wd.rss_limit_mb
    };
    Thresholds {
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
    }
}

/// Keeps a value, or records its error.
pub(crate) fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

/// `PUBLIC_URL` (required) and `BOT_URL` (`PUBLIC_URL` unless set).
fn urls(
    wd: &WatchdogSection,
    wh: &WebhookSection,
    hook: &WebhookConfig,
    errs: &mut Vec<ConfigError>,
) -> (Option<Url>, Option<Url>) {
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
    (public, bot_url)
}

/// The `[watchdog]` values that are only checked, each problem recorded.
fn check_values(wd: &WatchdogSection, errs: &mut Vec<ConfigError>) {
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
}
