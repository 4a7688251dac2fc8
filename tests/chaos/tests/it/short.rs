//! The chaos table's short variant: one test per row (durations a tenth of the full ones, a
//! smaller load), asserting the row's pass criteria. They run one at a time (nextest test group
//! `chaos`, see .config/nextest.toml): they are timing-sensitive.

use telbot_chaos::{Variant, rows, runner, table};

async fn row(name: &str) {
    let row = rows::by_name(name).unwrap();
    let r = runner::run_row(row, Variant::Short)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    println!(
        "{}",
        table::render(std::slice::from_ref(&r), Variant::Short)
    );
    assert!(
        r.passed(),
        "{name}: {}\n{}",
        r.failures.join("; "),
        r.logs.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_500() {
    row("api-500").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_429() {
    row("api-429").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_unreachable() {
    row("api-unreachable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_slow() {
    row("api-slow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_url_changed() {
    row("webhook-url-changed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deleted() {
    row("webhook-deleted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_errors() {
    row("delivery-errors").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9() {
    row("kill9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm() {
    row("sigterm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down() {
    row("postgres-down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full() {
    row("sqlite-full").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down() {
    row("smtp-down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wd_kill_deleting() {
    row("wd-kill-deleting").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wd_kill_draining() {
    row("wd-kill-draining").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wd_kill_draining_reply() {
    row("wd-kill-draining-reply").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_restart_draining() {
    row("bot-restart-draining").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wd_kill_setting() {
    row("wd-kill-setting").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_recovery() {
    row("concurrent-recovery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood() {
    row("flood").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_conflict() {
    row("token-conflict").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_blind() {
    row("watchdog-blind").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_down_failover() {
    row("front-down-failover").await;
}
