//! `watchdog run` serves its own Prometheus metrics, in a format promtool accepts.

use crate::common;

use std::time::Duration;

use common::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_metrics_that_promtool_accepts() {
    let w = World::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut e = w.env.clone();
    e.insert(
        "TELBOT__WATCHDOG__SCHEDULE__LIVENESS".into(),
        "* * * * * *".into(),
    );
    e.insert(
        "TELBOT__WATCHDOG__METRICS_LISTEN".into(),
        format!("127.0.0.1:{port}"),
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .arg("run")
        .env_clear()
        .envs(&e)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut body = String::new();
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(&url).await {
            body = r.text().await.unwrap_or_default();
            if body.contains("telbot_watchdog_runs_total")
                && body.contains("telbot_watchdog_webhook_url_ok{")
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    for name in [
        "telbot_watchdog_runs_total",
        "telbot_watchdog_checks_total",
        "telbot_watchdog_findings_total",
    ] {
        assert!(body.contains(name), "{name} missing:\n{body}");
    }
    assert!(body.contains("check=\"telegram\""), "{body}");
    // Telegram's view of the bot (issue 16, part 7), labelled with the bot's name.
    for series in [
        "telbot_watchdog_telegram_pending_updates{bot=\"telbot\"} 0",
        "telbot_watchdog_webhook_url_ok{bot=\"telbot\"} 1",
    ] {
        assert!(body.contains(series), "{series} missing:\n{body}");
    }
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is required (Debian package `prometheus`; .ci/run installs it)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejected the metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
