//! The Prometheus side of Telegram's view (issue 16, part 7): `promtool check rules` and
//! `promtool test rules` accept `deploy/prometheus/watchdog.yml`, `prometheus.yml` loads it,
//! the Grafana dashboard `deploy/grafana/telbot-watchdog.json` is JSON, and every metric
//! name those files use is one `src/metrics.rs` exports. Needs promtool (Debian's prometheus
//! package; `.ci/run` installs it, `PROMTOOL` overrides the path).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn deploy(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(rel)
}

fn promtool(args: &[&str]) -> (bool, String) {
    let p = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let out = Command::new(&p).args(args).output().unwrap_or_else(|e| {
        panic!("{p}: {e} (these tests need promtool from Debian's prometheus package)")
    });
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `telbot_*` words in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("telbot_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn promtool_accepts_the_telegram_view_rules_and_they_fire_as_tested() {
    let rules = deploy("prometheus/watchdog.yml");
    let (ok, out) = promtool(&["check", "rules", rules.to_str().unwrap()]);
    assert!(ok, "promtool check rules:\n{out}");
    assert!(out.contains("4 rules found"), "{out}");
    let (ok, out) = promtool(&[
        "test",
        "rules",
        deploy("prometheus/watchdog_test.yml").to_str().unwrap(),
    ]);
    assert!(ok, "promtool test rules:\n{out}");
    let config = deploy("prometheus/prometheus.yml");
    let (ok, out) = promtool(&["check", "config", "--syntax-only", config.to_str().unwrap()]);
    assert!(ok, "promtool check config:\n{out}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("- watchdog.yml"),
        "prometheus.yml loads the rules"
    );
}

#[test]
fn the_dashboard_and_rules_use_only_metrics_the_watchdog_exports() {
    let src =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/metrics.rs"))
            .unwrap();
    let exported: BTreeSet<String> = names_in(&src)
        .into_iter()
        .filter(|n| src.contains(&format!("\"{n}\"")))
        .collect();
    for name in [
        "telbot_watchdog_telegram_pending_updates",
        "telbot_watchdog_telegram_last_error_age_seconds",
        "telbot_watchdog_webhook_url_ok",
        "telbot_watchdog_last_recovery",
        "telbot_watchdog_last_recovery_timestamp_seconds",
    ] {
        assert!(exported.contains(name), "{name} is not exported");
    }
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy("grafana/telbot-watchdog.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    assert_eq!(dash["uid"], "telbot-telegram");
    assert!(dash["panels"].as_array().unwrap().len() >= 6);
    for file in [
        "prometheus/watchdog.yml",
        "prometheus/watchdog_test.yml",
        "grafana/telbot-watchdog.json",
    ] {
        let used = names_in(&std::fs::read_to_string(deploy(file)).unwrap());
        assert!(used.len() >= 3, "{file}: {used:?}");
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics nobody exports: {unknown:?}"
        );
    }
}
