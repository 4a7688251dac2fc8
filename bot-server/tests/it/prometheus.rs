//! The Prometheus side: `promtool check metrics` accepts the bot's `/metrics` output and
//! `promtool check rules` accepts `deploy/prometheus/alerts.yml`; the rules and the Grafana
//! dashboard use only metric names that exist. Needs Debian's `prometheus` package for
//! promtool (`.ci/run` installs it); without it these tests fail and say so.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use telegram_sim::Upd;

fn promtool() -> String {
    let p = std::env::var("PROMTOOL").unwrap_or_else(|_| "/usr/bin/promtool".into());
    assert!(
        Path::new(&p).exists(),
        "{p} is missing: these tests need promtool from Debian's prometheus package \
         (apt-get install -y prometheus; .ci/run installs it) or PROMTOOL=/path"
    );
    p
}

fn deploy(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(rel)
}

/// Runs promtool with `input` on stdin; returns (success, stdout + stderr).
fn run(args: &[&str], input: Option<&str>) -> (bool, String) {
    let mut child = Command::new(promtool())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn scrape() -> String {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("METRICS_PUBLIC", "true")]).await;
    for chat in 1..=3 {
        sim.inject(Upd::command(chat, "/start"));
    }
    sim.inject(Upd::unknown_kind(9));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 3)
            .await
    );
    health_settled(&bot).await;
    let r = reqwest::get(bot.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = r.text().await.unwrap();
    bot.stop().await;
    body
}

#[tokio::test]
async fn promtool_accepts_the_metrics_output() {
    let body = scrape().await;
    let (ok, out) = run(&["check", "metrics"], Some(&body));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics:\n{out}\n--- output was:\n{body}"
    );
    for name in [
        "telbot_up",
        "telbot_updates_received_total",
        "telbot_updates_processed_total",
        "telbot_webhook_requests_total",
        "telbot_webhook_ack_seconds_bucket",
        "telbot_inbox_commit_seconds_bucket",
        "telbot_telegram_requests_total{",
        "telbot_telegram_request_duration_seconds_bucket",
        "telbot_inbox_depth",
        "telbot_pending_actions",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_start_time_seconds",
        "process_open_fds",
    ] {
        assert!(body.contains(name), "/metrics lacks {name}:\n{body}");
    }
    assert!(body.contains("# TYPE telbot_webhook_ack_seconds histogram"));
    // Each stored update went through a commit, and the 2 ms line is a bucket edge.
    let commits: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("telbot_inbox_commit_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no telbot_inbox_commit_seconds_count:\n{body}"));
    assert!(commits >= 1.0, "{commits} commits for 4 stored updates");
    assert!(body.contains("telbot_inbox_commit_seconds_bucket{le=\"0.002\"}"));
    // The process figures come from the monitor's background sample: real values, not zeros.
    for name in [
        "process_start_time_seconds",
        "process_resident_memory_bytes",
    ] {
        let v: f64 = body
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no value for {name}:\n{body}"));
        assert!(v > 0.0, "{name} is {v}");
    }
    names_in_deploy_files_exist(&body);
}

/// Metric names (`telbot_*`, `process_*`) mentioned in `text`.
fn names_in(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        if word(bytes[i]) && (i == 0 || !word(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && word(bytes[i]) {
                i += 1;
            }
            let w = &text[start..i];
            if w.starts_with("telbot_") || w.starts_with("process_") {
                out.insert(w.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every metric the alert rules and the Grafana dashboard use is one the bot exported in
/// `body`, one the bot describes but exports only after the first event, or one of the
/// watchdog's (checked against its source).
fn names_in_deploy_files_exist(body: &str) {
    let mut known: std::collections::BTreeSet<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    for h in known.clone() {
        if body.contains(&format!("# TYPE {h} histogram")) {
            for suffix in ["_bucket", "_sum", "_count"] {
                known.insert(format!("{h}{suffix}"));
            }
        }
    }
    // Exported once the first event happens.
    known.insert("telbot_ai_circuit_opened_total".into());
    let wd_src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../watchdog/src/metrics.rs");
    let wd = std::fs::read_to_string(&wd_src).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the watchdog's metric names live there)",
            wd_src.display()
        )
    });
    for name in [
        "telbot_watchdog_checks_total",
        "telbot_watchdog_findings_total",
        "telbot_watchdog_actions_total",
        "telbot_watchdog_alerts_total",
    ] {
        assert!(
            wd.contains(&format!("\"{name}\"")),
            "the watchdog does not export {name}"
        );
        known.insert(name.to_string());
    }
    for file in [
        "prometheus/alerts.yml",
        "prometheus/alerts_test.yml",
        "grafana/telbot.json",
    ] {
        let text = std::fs::read_to_string(deploy(file)).unwrap();
        let used = names_in(&text);
        assert!(used.len() >= 5, "{file} uses hardly any metrics: {used:?}");
        let unknown: Vec<_> = used.difference(&known).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics nobody exports: {unknown:?}"
        );
    }
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let rules = deploy("prometheus/alerts.yml");
    let (ok, out) = run(&["check", "rules", rules.to_str().unwrap()], None);
    assert!(ok, "promtool check rules:\n{out}");
    let config = deploy("prometheus/prometheus.yml");
    let (ok, out) = run(
        &["check", "config", "--syntax-only", config.to_str().unwrap()],
        None,
    );
    assert!(ok, "promtool check config:\n{out}");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana/telbot.json")).unwrap())
            .expect("the Grafana dashboard is JSON");
    assert_eq!(dash["uid"], "telbot");
    assert!(dash["panels"].as_array().unwrap().len() >= 10);
    let (ok, out) = run(
        &[
            "test",
            "rules",
            deploy("prometheus/alerts_test.yml").to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "promtool test rules:\n{out}");
}

/// The recorder keeps every histogram observation until something drains it; without a
/// Prometheus scraping `/metrics` (most deployments) nothing did, and the soak's RSS grew
/// about 1 MiB a minute. The upkeep drains it without a scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_observations_are_not_kept_when_nobody_scrapes() {
    let _handle = bot_server::testing::metrics_handle();
    let record = |n: usize| {
        for i in 0..n {
            metrics::histogram!("telbot_update_processing_seconds").record(i as f64 * 1e-6);
        }
    };
    let pause = telbot_shared::metrics_upkeep::UPKEEP_EVERY + Duration::from_millis(300);
    // Warm-up: the recorder's buffers and the allocator's first high-water mark.
    record(500_000);
    tokio::time::sleep(pause).await;
    let before = rss_kib();
    // 4 million observations, 32 MB as f64s, in eight batches a drain apart.
    for _ in 0..8 {
        record(500_000);
        tokio::time::sleep(pause).await;
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 12 * 1024,
        "RSS grew {grown} KiB over 4 million histogram observations with no scrape"
    );
}
