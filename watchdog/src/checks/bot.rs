//! The bot check: `GET /health` up to `bot.attempts` times, `bot.interval` apart (liveness and
//! memory), and, on the performance schedule, the response time, the bot's store and other
//! dependencies, and the handler success rate over `success_window` (from counter samples
//! kept in the store).

use std::time::Duration;

use serde_json::json;
use telbot_shared::health::{Health, Status};
use tokio::time::Instant;

use crate::context::Ctx;
use crate::report::{Finding, Level, incident};
use crate::store::CounterSample;

const CHECK: &str = "bot";

/// What the liveness probe saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct BotFacts {
    /// The bot answered `/health` with 200 and a readable document.
    pub up: bool,
    /// The last document read (also from a 503).
    pub health: Option<Health>,
    /// Response time of the successful attempt.
    pub latency: Option<Duration>,
    /// Findings (`bot-down`, `bot-memory`).
    pub findings: Vec<Finding>,
    /// Some attempt got an HTTP answer (from the bot or a proxy in front of it). `false`
    /// after a down probe means the watchdog never heard back at all.
    pub answered: bool,
}

impl BotFacts {
    /// The probe did not finish within `limit`.
    pub(crate) fn timed_out(ctx: &Ctx, limit: Duration) -> Self {
        let reason = format!("the bot's /health did not answer within {limit:?}");
        BotFacts {
            findings: vec![
                Finding::new(CHECK, incident::BOT_DOWN, Level::Critical, reason)
                    .with_evidence(json!({ "url": ctx.bot_endpoint("/health") })),
            ],
            ..Default::default()
        }
    }

    /// The bot says its store is degraded or down (its 503s to Telegram are backpressure then).
    pub(crate) fn store_trouble(&self) -> bool {
        self.health
            .as_ref()
            .and_then(|h| h.checks.get("store"))
            .is_some_and(|c| c.status != Status::Ok)
    }

    /// The bot says it is polling (its fallback): the webhook is its own business then.
    pub(crate) fn polling(&self) -> bool {
        self.health
            .as_ref()
            .is_some_and(|h| h.mode.eq_ignore_ascii_case("polling"))
    }
}

enum Probe {
    Up(Health, Duration),
    /// No good answer: the document of a bad one, the error, and whether an HTTP answer came.
    Down(Option<Health>, String, bool),
}

async fn probe(ctx: &Ctx) -> Probe {
    let started = Instant::now();
    let sent = ctx
        .http
        .get(ctx.bot_endpoint("/health"))
        .timeout(ctx.cfg.http_timeout)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Probe::Down(None, describe(&e), false),
    };
    let status = resp.status();
    let body = match tokio::time::timeout(ctx.cfg.http_timeout, resp.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Probe::Down(None, describe(&e), true),
        Err(_) => return Probe::Down(None, "timed out reading /health".into(), true),
    };
    let took = started.elapsed();
    let health: Option<Health> = serde_json::from_slice(&body).ok();
    match health {
        Some(h) if status.is_success() && h.status != Status::Down => Probe::Up(h, took),
        Some(h) => Probe::Down(
            Some(h),
            format!("/health answered {} with status down", status.as_u16()),
            true,
        ),
        None => Probe::Down(
            None,
            format!(
                "/health answered {} without a health document",
                status.as_u16()
            ),
            true,
        ),
    }
}

/// A reqwest error without its URL (it may hold a key), causes included.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut msg = String::new();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        msg = c.to_string();
        cause = c.source();
    }
    if msg.is_empty() {
        "request failed".into()
    } else {
        msg
    }
}

/// Liveness and memory: `bot-down` after `attempts` failures in a row, `bot-memory` above the limit.
pub(crate) async fn liveness(ctx: &Ctx) -> BotFacts {
    let attempts = ctx.cfg.bot_attempts.max(1);
    let mut last_err = String::new();
    let mut last_health = None;
    let mut answered = false;
    for attempt in 1..=attempts {
        match probe(ctx).await {
            Probe::Up(h, took) => return judge_up(ctx, h, took, attempt),
            Probe::Down(h, err, got) => {
                tracing::debug!(attempt, error = %err, "bot /health failed");
                answered |= got;
                last_err = err;
                if h.is_some() {
                    last_health = h;
                }
            }
        }
        if attempt < attempts {
            tokio::time::sleep(ctx.cfg.bot_interval).await;
        }
    }
    // The bot answered, and says its store is down: the process is alive and a restart would
    // not help (a full disk, a stopped database). One incident, `bot-store`, not `bot-down`.
    if let Some(store) = last_health
        .as_ref()
        .and_then(|h| h.checks.get("store"))
        .filter(|c| c.status == Status::Down)
    {
        let reason = format!(
            "the bot is running but its store is down ({}); it answers 503 and Telegram keeps the updates",
            ctx.redact(&store.detail.clone().unwrap_or_default())
        );
        return BotFacts {
            up: false,
            health: last_health,
            latency: None,
            findings: vec![
                Finding::new(CHECK, incident::BOT_STORE, Level::Critical, reason),
                Finding::ok(CHECK, incident::BOT_DOWN, "the bot answers /health"),
            ],
            answered: true,
        };
    }
    let reason = format!("the bot failed /health {attempts} times in a row: {last_err}");
    let f = Finding::new(CHECK, incident::BOT_DOWN, Level::Critical, ctx.redact(&reason))
        .with_evidence(json!({ "attempts": attempts, "error": ctx.redact(&last_err), "url": ctx.bot_endpoint("/health") }));
    BotFacts {
        up: false,
        health: last_health,
        latency: None,
        findings: vec![f],
        answered,
    }
}

fn judge_up(ctx: &Ctx, h: Health, took: Duration, attempt: u32) -> BotFacts {
    let mut findings = vec![
        Finding::ok(
            CHECK,
            incident::BOT_DOWN,
            format!("the bot answers /health ({})", status_name(h.status)),
        )
        .with_evidence(json!({ "attempt": attempt, "latency_ms": took.as_millis() as u64 })),
    ];
    let limit = ctx.cfg.thresholds.rss_limit_bytes;
    let rss = h.process.rss_bytes;
    let ev = json!({ "rss_bytes": rss, "limit_bytes": limit });
    findings.push(if limit > 0 && rss > limit {
        Finding::new(
            CHECK,
            incident::BOT_MEMORY,
            Level::Critical,
            format!(
                "the bot uses {} MiB, above the {} MiB limit",
                rss >> 20,
                limit >> 20
            ),
        )
        .with_evidence(ev)
    } else {
        Finding::ok(
            CHECK,
            incident::BOT_MEMORY,
            format!("the bot uses {} MiB", rss >> 20),
        )
        .with_evidence(ev)
    });
    findings.push(parked(h.updates.parked));
    BotFacts {
        up: true,
        health: Some(h),
        latency: Some(took),
        findings,
        answered: true,
    }
}

/// `bot-parked`: parked updates wait for a person (they are never pruned silently).
pub(crate) fn parked(n: u64) -> Finding {
    if n == 0 {
        return Finding::ok(CHECK, incident::BOT_PARKED, "no parked updates");
    }
    Finding::new(
        CHECK,
        incident::BOT_PARKED,
        Level::Warning,
        format!(
            "{n} update(s) are parked (their handler failed for a permanent reason); replay them with `watchdog replay-parked` or discard them with `watchdog replay-parked --discard`"
        ),
    )
    .with_evidence(json!({ "parked": n }))
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Degraded => "degraded",
        Status::Down => "down",
    }
}

/// The performance findings from a liveness probe that succeeded. Only the leader (`keep`)
/// writes the counter samples back (a read-modify-write two watchdogs would race on).
pub(crate) async fn performance(ctx: &Ctx, facts: &BotFacts, keep: bool) -> Vec<Finding> {
    let (Some(h), Some(took)) = (&facts.health, facts.latency) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let warn = ctx.cfg.thresholds.response_time_warn;
    let ev =
        json!({ "latency_ms": took.as_millis() as u64, "threshold_ms": warn.as_millis() as u64 });
    out.push(if took > warn {
        Finding::new(
            CHECK,
            incident::BOT_SLOW,
            Level::Warning,
            format!(
                "/health took {} ms (threshold {} ms)",
                took.as_millis(),
                warn.as_millis()
            ),
        )
        .with_evidence(ev)
    } else {
        Finding::ok(
            CHECK,
            incident::BOT_SLOW,
            format!("/health took {} ms", took.as_millis()),
        )
        .with_evidence(ev)
    });
    out.push(match h.checks.get("store") {
        Some(c) if c.status == Status::Down => Finding::new(
            CHECK,
            incident::BOT_STORE,
            Level::Critical,
            format!(
                "the bot's store is down: {}",
                c.detail.clone().unwrap_or_default()
            ),
        ),
        Some(c) if c.status == Status::Degraded => Finding::new(
            CHECK,
            incident::BOT_STORE,
            Level::Warning,
            format!(
                "the bot's store is degraded: {}",
                c.detail.clone().unwrap_or_default()
            ),
        ),
        _ => Finding::ok(CHECK, incident::BOT_STORE, "the bot's store is ok"),
    });
    let bad: Vec<String> = h
        .checks
        .iter()
        .filter(|(name, c)| name.as_str() != "store" && c.status != Status::Ok)
        .map(|(name, c)| format!("{name} is {}", status_name(c.status)))
        .collect();
    out.push(if bad.is_empty() {
        Finding::ok(
            CHECK,
            incident::BOT_DEPENDENCY,
            "the bot's dependencies are ok",
        )
    } else {
        Finding::new(
            CHECK,
            incident::BOT_DEPENDENCY,
            Level::Warning,
            bad.join("; "),
        )
    });
    out.push(success_rate(ctx, h, keep).await);
    out.extend(super::upkeep::judge(ctx, h));
    let db_ok = ctx.store.db().ping(ctx.cfg.http_timeout).await;
    out.push(match db_ok {
        Ok(()) => Finding::ok(
            "watchdog",
            incident::WATCHDOG_STORE,
            "the watchdog's store answers",
        ),
        Err(e) => Finding::new(
            "watchdog",
            incident::WATCHDOG_STORE,
            Level::Warning,
            format!("the watchdog's store does not answer: {e}"),
        ),
    });
    out
}

async fn success_rate(ctx: &Ctx, h: &Health, keep: bool) -> Finding {
    let now = ctx.clock.now();
    let window = ctx.cfg.thresholds.success_window.as_secs() as i64;
    let mut samples = ctx.store.samples().await.unwrap_or_default();
    let cur = CounterSample {
        at: now,
        processed: h.updates.processed,
        failed: h.updates.failed,
    };
    // A restarted bot starts its counters again: forget older samples.
    if samples
        .last()
        .is_some_and(|s| s.processed > cur.processed || s.failed > cur.failed)
    {
        samples.clear();
    }
    samples.retain(|s| now - s.at <= window);
    let (level, reason, ev) =
        judge_success_rate(samples.first(), &cur, ctx.cfg.thresholds.success_rate_warn);
    samples.push(cur);
    if samples.len() > 64 {
        samples.drain(..samples.len() - 64);
    }
    if keep && let Err(e) = ctx.store.set_samples(&samples).await {
        tracing::warn!(error = %e, "cannot keep counter samples");
    }
    Finding::new(CHECK, incident::BOT_SUCCESS_RATE, level, reason).with_evidence(ev)
}

/// Success rate between two samples. Pure.
pub(crate) fn judge_success_rate(
    old: Option<&CounterSample>,
    cur: &CounterSample,
    warn_pct: f64,
) -> (Level, String, serde_json::Value) {
    let Some(old) = old else {
        return (
            Level::Ok,
            "no earlier sample yet to measure the success rate".into(),
            serde_json::Value::Null,
        );
    };
    let ok = cur.processed.saturating_sub(old.processed);
    let failed = cur.failed.saturating_sub(old.failed);
    let total = ok + failed;
    if total == 0 {
        return (
            Level::Ok,
            "no updates handled in the window".into(),
            json!({ "processed": 0, "failed": 0 }),
        );
    }
    let pct = ok as f64 * 100.0 / total as f64;
    let ev = json!({ "processed": ok, "failed": failed, "percent": pct, "since": old.at });
    if pct < warn_pct {
        (
            Level::Warning,
            format!(
                "handler success rate {pct:.1} % ({failed} failed of {total}) is below {warn_pct} %"
            ),
            ev,
        )
    } else {
        (Level::Ok, format!("handler success rate {pct:.1} %"), ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_updates_are_a_warning() {
        assert_eq!(parked(0).level, Level::Ok);
        let f = parked(3);
        assert_eq!(
            (f.level, f.incident),
            (Level::Warning, incident::BOT_PARKED)
        );
        assert!(f.reason.contains("3 update(s) are parked"), "{}", f.reason);
    }

    #[test]
    fn success_rate_table() {
        let s = |at, processed, failed| CounterSample {
            at,
            processed,
            failed,
        };
        let cases = [
            (None, s(10, 5, 5), Level::Ok),
            (Some(s(0, 100, 0)), s(10, 200, 0), Level::Ok),
            (Some(s(0, 100, 0)), s(10, 190, 10), Level::Warning),
            (Some(s(0, 100, 0)), s(10, 196, 4), Level::Ok),
            (Some(s(0, 100, 0)), s(10, 100, 0), Level::Ok),
        ];
        for (i, (old, cur, want)) in cases.iter().enumerate() {
            assert_eq!(
                judge_success_rate(old.as_ref(), cur, 95.0).0,
                *want,
                "case {i}"
            );
        }
    }
}
