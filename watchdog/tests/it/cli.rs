//! Every exit code of the `watchdog` binary, produced by running it against telegram-sim and
//! a stand-in bot.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::{HealthMode, World};
use telegram_sim::{Upd, WebhookFault};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(env: &HashMap<String, String>, args: &[&str]) -> Out {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .args(args)
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("watchdog hung")
        .unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    for secret in [
        common::SECRET,
        common::RENDER_KEY,
        env.get("TELEGRAM_BOT_TOKEN")
            .map(String::as_str)
            .unwrap_or("none-set"),
    ] {
        assert!(
            !o.stdout.contains(secret) && !o.stderr.contains(secret),
            "a secret leaked:\n{}\n{}",
            o.stdout,
            o.stderr
        );
    }
    o
}

fn no_restart(w: &World) -> HashMap<String, String> {
    let mut e = w.env.clone();
    e.remove("RENDER_API_KEY");
    e.remove("RENDER_SERVICE_ID");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_0_when_healthy_and_prints_one_json_document() {
    let w = World::start().await;
    let o = run(&w.env, &["check", "--json"]).await;
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let doc: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("one JSON document");
    assert_eq!(doc["level"], "ok");
    assert_eq!(doc["exit_code"], 0);
    assert!(doc["findings"].as_array().is_some_and(|f| f.len() > 5));
    assert!(doc["actions"].as_array().is_some_and(Vec::is_empty));
    assert!(doc["alerts"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_1_after_repairing_a_wrong_url() {
    let w = World::start().await;
    w.sim
        .set_webhook_url_behind_back("http://127.0.0.1:9/other");
    let o = run(&w.env, &["check"]).await;
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("set-webhook"), "{}", o.stdout);
}

/// A dry run (issue 16, part 2): the same wrong URL is found and judged critical, the repair
/// it would make is reported as `dry-run`, and Telegram is not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_dry_run_reports_the_repair_and_touches_nothing() {
    let w = World::start().await;
    w.sim
        .set_webhook_url_behind_back("http://127.0.0.1:9/other");
    let sets = w.calls_to("setWebhook");
    let o = run(&w.env, &["check", "--dry-run", "--json"]).await;
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let doc: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("one JSON document");
    assert_eq!(doc["actions"][0]["kind"], "set-webhook", "{doc:#}");
    assert_eq!(doc["actions"][0]["result"], "dry-run", "{doc:#}");
    assert_eq!(w.calls_to("setWebhook"), sets, "nothing set at Telegram");
    assert_eq!(w.sim.webhook_info()["url"], "http://127.0.0.1:9/other");
    // The same through the config key, and a later real run is not held back by a cooldown.
    let mut dry = w.env.clone();
    dry.insert("TELBOT__WATCHDOG__ACT".into(), "false".into());
    let o = run(&dry, &["check"]).await;
    assert!(o.stdout.contains("dry-run"), "{}", o.stdout);
    assert_eq!(w.calls_to("setWebhook"), sets);
    let o = run(&w.env, &["check"]).await;
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(
        w.calls_to("setWebhook"),
        sets + 1,
        "repaired once the dry run is off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_2_when_the_bot_is_down_and_cannot_be_restarted() {
    let w = World::start().await;
    w.bot.set_health(HealthMode::Down);
    let o = run(&no_restart(&w), &["check"]).await;
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("bot-down") && o.stdout.contains("not-configured"),
        "{}",
        o.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_exits_0_1_2() {
    let w = World::start().await;
    assert_eq!(run(&w.env, &["preflight"]).await.code, 0);
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..6 {
        w.sim.inject(Upd::text(1, format!("{i}")));
    }
    let o = run(&w.env, &["preflight"]).await;
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stdout.contains("not safe"), "{}", o.stdout);
    let mut unreachable = w.env.clone();
    unreachable.insert("TELEGRAM_API_URL".into(), "http://127.0.0.1:9".into());
    let o = run(&unreachable, &["preflight"]).await;
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let mut refused = w.env.clone();
    refused.insert("TELEGRAM_BOT_TOKEN".into(), "999:refused-token".into());
    assert_eq!(run(&refused, &["preflight"]).await.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_exits_0_when_healthy_and_2_after_the_timeout() {
    let w = World::start().await;
    assert_eq!(run(&w.env, &["verify", "--timeout", "10"]).await.code, 0);
    let mut gone = w.env.clone();
    gone.insert("BOT_URL".into(), "http://127.0.0.1:9".into());
    let started = std::time::Instant::now();
    let o = run(&gone, &["verify", "--timeout", "1s"]).await;
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_exits_0_and_reports_counts() {
    let w = World::start().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..4 {
        w.sim.inject(Upd::text(2, format!("{i}")));
    }
    let o = run(&w.env, &["recover"]).await;
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("\"replayed\":4") && o.stdout.contains("\"dropped\":0"),
        "{}",
        o.stdout
    );
    let mut unreachable_bot = w.env.clone();
    w.sim.inject(Upd::text(2, "x"));
    unreachable_bot.insert("BOT_URL".into(), "http://127.0.0.1:9".into());
    assert_eq!(run(&unreachable_bot, &["recover"]).await.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_64_and_help_reads_like_a_runbook() {
    let env = HashMap::new();
    assert_eq!(run(&env, &["frobnicate"]).await.code, 64);
    assert_eq!(run(&env, &["check", "--bogus"]).await.code, 64);
    assert_eq!(run(&env, &["verify", "--timeout", "soon"]).await.code, 64);
    for cmd in ["run", "check", "preflight", "verify", "recover"] {
        let o = run(&env, &[cmd, "--help"]).await;
        assert_eq!(o.code, 0);
        assert!(o.stdout.contains("Exit:"), "{cmd} --help:\n{}", o.stdout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_exit_78_with_one_line_per_bad_key() {
    let w = World::start().await;
    let mut e = w.env.clone();
    e.remove("TELEGRAM_BOT_TOKEN");
    let o = run(&e, &["check"]).await;
    assert_eq!(o.code, 78);
    assert!(o.stderr.contains("TELEGRAM_BOT_TOKEN"), "{}", o.stderr);
    let mut e = w.env.clone();
    e.insert(
        "TELBOT__WATCHDOG__SCHEDULE__LIVENESS".into(),
        "*/5 * * * *".into(),
    );
    e.insert("TELBOT__WATCHDOG__RECOVERY__PENDING".into(), "maybe".into());
    let o = run(&e, &["check"]).await;
    assert_eq!(o.code, 78);
    let lines: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("config:"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", o.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("watchdog.schedule.liveness"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("watchdog.recovery.pending"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_store_exits_69() {
    let w = World::start().await;
    let mut e = w.env.clone();
    e.insert(
        "DATABASE_URL".into(),
        "sqlite:///proc/no/such/dir/telbot.db?mode=rwc".into(),
    );
    assert_eq!(run(&e, &["check"]).await.code, 69);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_checks_on_schedule_and_exits_0_on_sigterm() {
    let w = World::start().await;
    let mut e = w.env.clone();
    e.insert(
        "TELBOT__WATCHDOG__SCHEDULE__LIVENESS".into(),
        "* * * * * *".into(),
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .arg("run")
        .env_clear()
        .envs(&e)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let before = w.calls_to("getWebhookInfo");
    w.wait("three scheduled runs", |s| {
        s.calls_to("getWebhookInfo").len() >= before + 3
    })
    .await;
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

/// `watchdog config export` (issue 27 part 7): the effective configuration as TOML, every
/// secret left out and named by its variable (the `run` helper fails on any secret in the
/// output), loadable again with --config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_export_prints_the_configuration_without_its_secrets() {
    let w = World::start().await;
    let mut env = no_restart(&w);
    env.insert("TELBOT__WATCHDOG__MAX_PENDING".into(), "9".into());
    let o = run(&env, &["config", "export"]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    for part in [
        "TELEGRAM_BOT_TOKEN",
        "(telegram.token)",
        "WEBHOOK_SECRET",
        "[watchdog]",
        "max_pending = \"9\"",
    ] {
        assert!(o.stdout.contains(part), "{part} missing in\n{}", o.stdout);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.toml");
    std::fs::write(&file, &o.stdout).unwrap();
    let again = run(
        &env,
        &["--config", file.to_str().unwrap(), "config", "export"],
    )
    .await;
    assert_eq!(again.code, 0, "the backup loads again: {}", again.stderr);
    let mut bad = env.clone();
    bad.insert("TELBOT__WATCHDOG__MAX_PENDNG".into(), "1".into());
    assert_eq!(run(&bad, &["config", "export"]).await.code, 78);
}
