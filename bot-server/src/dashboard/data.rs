//! The dashboard's figures: one [`Snapshot`] built from the live state, the cached webhook
//! view, the history ring and the watchdog's tables. `GET /bot/dashboard/data` serves it as
//! JSON; the page is rendered from the same value. Display strings are made here once, so the
//! page and its script show the same text.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::Value;
use telbot_shared::health::Status;

use super::chart;
use super::format::{ago, mib, short, when};
use super::level::{Level, Signals, judge};
use super::snapshot::{Figures, Snapshot, WebhookView};
use super::watchdog;
use crate::recent::history::{self, Sample};
use crate::state::AppState;

/// How long the page waits for getWebhookInfo (through the `/webhook/health` cache).
const TELEGRAM_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Builds the snapshot now (raw text: [`super::clean::redact`] masks it before it is shown).
pub(crate) async fn collect(app: &AppState) -> Snapshot {
    let health = crate::health::snapshot(app).await;
    let exp = crate::health::expectation(app);
    // A hanging Bot API must not hang the page: after TELEGRAM_WAIT it counts as not answering.
    let wh = tokio::time::timeout(
        TELEGRAM_WAIT,
        app.webhook_health
            .get(&app.api, &exp, app.cfg.webhook.health_cache),
    )
    .await
    .map_or(Value::Null, |(v, _)| v);
    let now_f = history::now_unix();
    let now = now_f as i64;
    let webhook = webhook_view(&wh, now);
    let samples = app.history.samples();
    let u = &health.updates;
    let st = app.api.stats();
    let acks = app.acks.percentiles();
    let success_percent = window_success(&samples, u.processed, u.failed);
    let figures = Figures {
        webhook_requests_per_min: history::per_minute(
            &samples,
            now_f,
            app.acks.total(),
            app.started.elapsed().as_secs_f64(),
            |s| s.acks_total,
        ),
        ack_p50_ms: acks.map(|a| a.0),
        ack_p99_ms: acks.map(|a| a.1),
        success_percent,
        received: u.received,
        processed: u.processed,
        inbox_depth: u.inbox_depth,
        pending_actions: health.pending_actions,
        telegram_requests: st.requests.load(Ordering::Relaxed),
        telegram_latency_ms: st.last_latency_us.load(Ordering::Relaxed) as f64 / 1000.0,
        rss_bytes: health.process.rss_bytes,
        rss_limit_bytes: health.process.rss_limit_bytes,
        cpu_percent: health.process.cpu_percent,
        memory_percent: health.system.memory_percent,
        disk_percent: health.system.disk_percent,
        hour: health.hour.clone(),
        jobs: health.jobs.clone(),
    };
    let errors = BTreeMap::from([
        ("handler_failures", u.failed),
        ("parked", u.parked),
        ("unknown_kinds", u.unknown),
        ("duplicates", u.duplicates),
        ("telegram_errors", st.errors.load(Ordering::Relaxed)),
        (
            "telegram_rate_limited",
            st.rate_limited.load(Ordering::Relaxed),
        ),
    ]);
    let mut reasons: Vec<(Level, String)> = health
        .checks
        .iter()
        .filter(|(_, c)| c.status != Status::Ok)
        .map(|(name, c)| {
            let level = if c.status == Status::Down {
                Level::Critical
            } else {
                Level::Warning
            };
            (
                level,
                format!(
                    "{name}: {}",
                    c.detail.clone().unwrap_or_else(|| "not ok".into())
                ),
            )
        })
        .collect();
    let limits = &app.cfg.limits;
    reasons.extend(judge(&Signals {
        down: health.status == Status::Down,
        webhook_mode: exp.mode == crate::config::Mode::Webhook,
        telegram_answered: wh["webhook_info"].get("url").is_some(),
        problems: webhook.problems.clone(),
        stuck: webhook.pending.unwrap_or(0) > app.cfg.webhook.max_pending
            && webhook
                .last_error_ago_s
                .is_some_and(|a| a >= 0 && (a as u64) < app.cfg.webhook.error_window.as_secs()),
        success_percent,
        memory_percent: figures.memory_percent,
        memory_warn: limits.memory_warn_percent,
        memory_critical: limits.memory_critical_percent,
        rss_bytes: figures.rss_bytes,
        rss_limit_bytes: figures.rss_limit_bytes,
    }));
    reasons.extend(super::level::upkeep(&health));
    let level = reasons.iter().map(|r| r.0).max().unwrap_or(Level::Ok);
    let watchdog = watchdog::recent(app).await;
    let tables = BTreeMap::from([
        ("actions", watchdog::action_cells(&watchdog.actions, now)),
        ("alerts", watchdog::alert_cells(&watchdog.alerts, now)),
    ]);
    let mut s = Snapshot {
        generated_at: now,
        bot_name: app.cfg.bot.name.clone(),
        version: health.version,
        uptime_s: health.uptime_s,
        level,
        reasons: reasons.into_iter().map(|r| r.1).collect(),
        mode: health.mode,
        webhook,
        figures,
        errors,
        watchdog,
        charts: chart::charts(&samples, now_f),
        tables,
        display: BTreeMap::new(),
    };
    s.display = display(&s);
    s
}

fn webhook_view(v: &Value, now: i64) -> WebhookView {
    let info = &v["webhook_info"];
    let text = |x: &Value| x.as_str().unwrap_or_default().to_string();
    WebhookView {
        url: text(&info["url"]),
        expected_url: text(&v["expected_url"]),
        pending: info["pending_update_count"].as_u64(),
        last_error: info["last_error_message"].as_str().map(str::to_string),
        last_error_ago_s: info["last_error_date"].as_i64().map(|d| now - d),
        healthy: info["is_healthy"].as_bool().unwrap_or(false),
        problems: info["problems"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default(),
    }
}

/// Success rate over the kept samples (up to an hour), or since start without any.
fn window_success(samples: &[Sample], processed: u64, failed: u64) -> Option<f64> {
    match samples.first() {
        Some(first) => history::success_percent(
            processed.saturating_sub(first.processed),
            failed.saturating_sub(first.failed),
        )
        .or_else(|| history::success_percent(processed, failed)),
        None => history::success_percent(processed, failed),
    }
}

fn display(s: &Snapshot) -> BTreeMap<&'static str, String> {
    let f = &s.figures;
    let w = &s.webhook;
    let ms = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{} ms", short(v)));
    let pct = |v: f32| format!("{} %", short(f64::from(v)));
    let mut d = BTreeMap::from([
        (
            "level",
            match s.level {
                Level::Ok => "OK",
                Level::Warning => "WARNING",
                Level::Critical => "CRITICAL",
            }
            .to_string(),
        ),
        ("mode", s.mode.clone()),
        ("uptime", ago(s.uptime_s as i64)),
        ("updated", when(s.generated_at, s.generated_at)),
        (
            "webhook.url",
            if w.url.is_empty() {
                "(none set)".into()
            } else {
                w.url.clone()
            },
        ),
        ("webhook.expected", w.expected_url.clone()),
        (
            "webhook.pending",
            w.pending.map_or("unknown".into(), |p| p.to_string()),
        ),
        (
            "webhook.last_error",
            w.last_error.clone().unwrap_or_else(|| "none".into()),
        ),
        (
            "webhook.last_error_ago",
            w.last_error_ago_s
                .map_or("–".into(), |a| format!("{} ago", ago(a))),
        ),
        (
            "webhook.state",
            if w.healthy {
                "healthy".into()
            } else {
                "unhealthy".into()
            },
        ),
        ("rpm", short(f.webhook_requests_per_min)),
        ("ack_p50", ms(f.ack_p50_ms)),
        ("ack_p99", ms(f.ack_p99_ms)),
        (
            "success",
            f.success_percent
                .map_or("–".into(), |v| format!("{} %", short(v))),
        ),
        ("received", f.received.to_string()),
        ("processed", f.processed.to_string()),
        ("inbox_depth", f.inbox_depth.to_string()),
        ("pending_actions", f.pending_actions.to_string()),
        ("tg.requests", f.telegram_requests.to_string()),
        ("tg.latency", ms(Some(f.telegram_latency_ms))),
        (
            "rss",
            format!("{} of {}", mib(f.rss_bytes), mib(f.rss_limit_bytes)),
        ),
        ("cpu", pct(f.cpu_percent)),
        ("memory", pct(f.memory_percent)),
        ("disk", pct(f.disk_percent)),
        ("hour.p50", ms(f.hour.response_p50_ms.map(|v| v as f64))),
        ("hour.p95", ms(f.hour.response_p95_ms.map(|v| v as f64))),
        (
            "hour.handled",
            f.hour.handled_percent.map_or("–".into(), |v| {
                format!(
                    "{} % of {} ({} parked)",
                    short(v),
                    f.hour.finished,
                    f.hour.parked
                )
            }),
        ),
        (
            "watchdog.note",
            s.watchdog.error.clone().unwrap_or_default(),
        ),
        (
            "watchdog.deploy",
            watchdog::deploy_text(s.watchdog.deploy.as_ref(), s.generated_at),
        ),
    ]);
    for (k, v) in &s.errors {
        d.insert(error_key(k), v.to_string());
    }
    for (name, j) in &f.jobs {
        let Some(key) = job_key(name) else { continue };
        let last = j.last_run.map_or("not yet".to_string(), |t| {
            format!("{} ago", ago(s.generated_at - t))
        });
        let late = if j.late { "LATE · " } else { "" };
        d.insert(
            key,
            format!(
                "{late}last run {last}, removed {} (every {})",
                j.last_removed,
                ago(j.every_s as i64)
            ),
        );
    }
    d
}

/// The `data-k` key of a periodic job's row.
pub(crate) fn job_key(name: &str) -> Option<&'static str> {
    Some(match name {
        "inbox_prune" => "job.inbox_prune",
        "dialogue_sweep" => "job.dialogue_sweep",
        "store_ping" => "job.store_ping",
        _ => return None,
    })
}

/// The `data-k` key of an error count.
pub(crate) fn error_key(kind: &str) -> &'static str {
    match kind {
        "handler_failures" => "err.handler_failures",
        "parked" => "err.parked",
        "unknown_kinds" => "err.unknown_kinds",
        "duplicates" => "err.duplicates",
        "telegram_errors" => "err.telegram_errors",
        _ => "err.telegram_rate_limited",
    }
}
